"""Configuration as data: the model's shape (saved beside its weights) and a training run's settings."""

from __future__ import annotations

import difflib
import json
import types
import typing
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from aging_model.age_groups import N_AGE_GROUPS


@dataclass(frozen=True)
class ModelConfig:
    """The shape of a CAAE; everything needed to rebuild its networks from weights."""

    resolution: int = 64  # square face crops, a power of two from 32 up
    width: int = 32  # channels of the first encoder layer; deeper layers double it, capped at 8x
    z_dim: int = 50  # latent size; the paper's value
    n_age_groups: int = N_AGE_GROUPS
    n_genders: int = 2

    def __post_init__(self):
        if self.resolution < 32 or self.resolution & (self.resolution - 1):
            raise ValueError(f"resolution must be a power of two >= 32, got {self.resolution}")

    @property
    def condition_dim(self) -> int:
        return self.n_age_groups + self.n_genders


@dataclass
class TrainConfig:
    """One training run; saved as JSON in the run folder and in every checkpoint."""

    data: str = "../shared/datasets/utkface"
    manifest: str | None = None
    out: str = "runs/default"
    cache_dir: str = ".cache"  # chip landmarks and aligned tensors, reused across runs
    model: ModelConfig = field(default_factory=ModelConfig)
    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    # Loss weights. Reconstruction dominates (identity); the adversarial terms sharpen and pull the latent
    # towards the uniform prior; the cross-age term judges faces rendered at other ages than the input's.
    reconstruction_weight: float = 1.0
    image_adversarial_weight: float = 0.01
    z_adversarial_weight: float = 0.01
    cross_age_weight: float = 0.01
    tv_weight: float = 1e-4
    age_critic_weight: float = 0.02  # 0 trains the paper's CAAE without the auxiliary age critic
    validation_percent: int = 5
    max_steps_per_epoch: int | None = None  # for smoke tests
    limit: int | None = None  # use only the first N faces (smoke tests, quick trials)
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    sample_faces: int = 8

    def __post_init__(self):
        # The data gives every face one of the ten age groups and one of two genders; a model conditioned on
        # other counts could not be fed.
        if (self.model.n_age_groups, self.model.n_genders) != (N_AGE_GROUPS, 2):
            raise ValueError(f"model.n_age_groups must be {N_AGE_GROUPS} and model.n_genders 2 to train on this data")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def updated(self, settings: dict) -> TrainConfig:
        """A copy with `settings` applied: TrainConfig fields in the shape of a run's config.json, where `model`
        may name only some of its fields. ValueError names a field that is unknown or of the wrong type."""
        settings = dict(settings)
        model_settings = settings.pop("model", {})
        if not isinstance(model_settings, dict):
            raise ValueError(f"model must be an object of model fields, got {json.dumps(model_settings)}")
        model = replace(self.model, **_checked_fields(ModelConfig, model_settings, prefix="model."))
        return replace(self, model=model, **_checked_fields(TrainConfig, settings))

    @classmethod
    def from_dict(cls, raw: dict) -> TrainConfig:
        return cls().updated(raw)

    @classmethod
    def load(cls, path: Path, base: TrainConfig | None = None) -> TrainConfig:
        """The fields set in the JSON file at `path` over `base` (the defaults when None).

        FileNotFoundError or ValueError, naming the file, for a user to read.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        try:
            settings = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(settings, dict):
                raise ValueError("expected a JSON object of TrainConfig fields")
            return (base or cls()).updated(settings)
        except ValueError as error:  # bad JSON and bad UTF-8 too
            raise ValueError(f"{path}: {error}") from None


def _checked_fields(config_class, settings: dict, prefix: str = "") -> dict:
    """`settings` checked against the fields of `config_class` and converted to their types (JSON lists to
    tuples, integers to floats); ValueError for an unknown field or a value of the wrong type."""
    hints = typing.get_type_hints(config_class)
    known = [f.name for f in fields(config_class)]
    checked = {}
    for name, value in settings.items():
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            suggestion = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            raise ValueError(f"unknown field '{prefix}{name}'{suggestion}")
        checked[name] = _as_type(value, hints[name], prefix + name)
    return checked


def _as_type(value, expected, name: str):
    """`value` as the annotation `expected`: int, float, str, a tuple of those, or one of them or None."""
    if typing.get_origin(expected) in (types.UnionType, typing.Union):
        if value is None:
            return None
        [expected] = [kind for kind in typing.get_args(expected) if kind is not type(None)]
    if typing.get_origin(expected) is tuple:
        kinds = typing.get_args(expected)
        if not isinstance(value, list | tuple) or len(value) != len(kinds):
            raise _wrong_type(name, f"a list of {len(kinds)} numbers", value)
        return tuple(_as_type(item, kind, f"{name}[{i}]") for i, (item, kind) in enumerate(zip(value, kinds)))
    # JSON has one kind of number, so 1 is a fine learning rate; but true is no count.
    accepted = int | float if expected is float else expected
    if isinstance(value, bool) or not isinstance(value, accepted):
        raise _wrong_type(name, {int: "an integer", float: "a number", str: "a string"}[expected], value)
    return float(value) if expected is float else value


def _wrong_type(name: str, expected: str, value) -> ValueError:
    return ValueError(f"{name} must be {expected}, got {json.dumps(value, default=repr)}")
