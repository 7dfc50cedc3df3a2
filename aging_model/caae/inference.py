"""Serving: load encoder + generator weights (safetensors, no pickle) and render faces at any ages."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from aging_model.age_groups import age_condition
from aging_model.caae.config import ModelConfig
from aging_model.caae.networks import Encoder, Generator
from aging_model.devices import pick_device
from aging_model.shipped import WEIGHTS_DIR
from aging_model.weights_io import load_weights, save_weights

DEFAULT_MODEL_PATH = WEIGHTS_DIR / "caae-default.safetensors"
GENDERS = ("male", "female")
_METADATA_KEY = "faceage"


def save_serving_weights(path: Path, encoder: Encoder, generator: Generator, config: ModelConfig, card: dict) -> None:
    """Encoder and generator weights in one file; the model config and `card` (how it was trained) go in
    its metadata and in a JSON file beside it."""
    tensors = {f"encoder.{k}": v for k, v in encoder.state_dict().items()}
    tensors |= {f"generator.{k}": v for k, v in generator.state_dict().items()}
    save_weights(path, tensors, _METADATA_KEY, {"model": asdict(config), "card": card})


class AgingModel:
    """An encoder + generator pair ready to age aligned face crops."""

    def __init__(self, encoder: Encoder, generator: Generator, config: ModelConfig, card: dict, device):
        self.encoder, self.generator = encoder.eval(), generator.eval()
        self.config, self.card, self.device = config, card, device

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL_PATH, device: str = "auto") -> AgingModel:
        """Load serving weights; raises FileNotFoundError or ValueError with a message for the user."""
        tensors, info = load_weights(path, _METADATA_KEY, "model")
        config = ModelConfig(**info["model"])
        encoder, generator = Encoder(config), Generator(config)
        encoder.load_state_dict({k[8:]: v for k, v in tensors.items() if k.startswith("encoder.")})
        generator.load_state_dict({k[10:]: v for k, v in tensors.items() if k.startswith("generator.")})
        target = pick_device(device)
        return cls(encoder.to(target), generator.to(target), config, info.get("card", {}), target)

    @property
    def resolution(self) -> int:
        return self.config.resolution

    @torch.inference_mode()
    def age_faces(self, crops: np.ndarray, ages, genders: list[float]) -> np.ndarray:
        """Render each crop at every age: encode once, decode all (face, age) pairs in one batch.

        crops: (N, R, R, 3) uint8 aligned faces; ages: one list of ages for every face, or one list per face
        (all of the same length); genders: per face, the weight of "female" in the gender condition (0 male,
        1 female, 0.5 when unknown). Returns (N, n_ages, R, R, 3) uint8.
        """
        per_face_ages = _ages_per_face(ages, len(crops))
        n_faces, n_ages = per_face_ages.shape
        faces = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device)
        faces = faces.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
        z = self.encoder(faces)
        conditions = np.stack([age_condition(a) for a in per_face_ages.reshape(-1)])
        ages_all = torch.from_numpy(conditions).to(self.device)
        female = torch.tensor(genders, dtype=torch.float32, device=self.device)[:, None]
        gender_cond = torch.cat([1 - female, female], dim=1)
        z_all = z.repeat_interleave(n_ages, dim=0)
        genders_all = gender_cond.repeat_interleave(n_ages, dim=0)
        images = self.generator(z_all, ages_all, genders_all)
        images = images.add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)
        images = images.permute(0, 2, 3, 1).cpu().numpy()
        return images.reshape(n_faces, n_ages, *images.shape[1:])


def _ages_per_face(ages, n_faces: int) -> np.ndarray:
    """(n_faces, n_ages) from one shared list of ages or one list per face."""
    table = np.asarray(ages, dtype=np.float64)
    if table.ndim == 1:
        return np.broadcast_to(table, (n_faces, len(table)))
    if table.ndim != 2 or len(table) != n_faces:
        raise ValueError("ages must be one list for all faces or one equally long list per face")
    return table
