"""Configuration as data: the model's shape (saved beside its weights) and a training run's settings."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
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

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, raw: dict) -> TrainConfig:
        raw = dict(raw)
        raw["model"] = ModelConfig(**raw.get("model", {}))
        raw["betas"] = tuple(raw.get("betas", (0.5, 0.999)))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))
