"""An age and gender estimator for aligned faces: the independent judge of the aging model, and more.

It sees the same aligned crops as the CAAE (the chip framing, 64 px) and predicts
- age as the expected value of a softmax over whole years 0-100 (DEX, Rothe et al. 2015), trained against a
  Gaussian around the label so that neighbouring years share the blame, plus a small L1 term on the
  expected value itself;
- gender as the probability of "female" (UTKFace's label 1).

Uses: `--gender auto` picks the generator's gender condition from the photo, the face's current age is
the baseline of the aging change and is marked on the strip, `faceage evaluate` measures the age of the
generated faces and (on the penultimate features) their realism, and curation flags label outliers.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from aging_model.shipped import WEIGHTS_DIR
from aging_model.weights_io import load_weights, save_weights

log = logging.getLogger(__name__)

DEFAULT_ESTIMATOR_PATH = WEIGHTS_DIR / "age-gender.safetensors"
MAX_AGE = 100  # older labels count as 100: the softmax has one bin per year 0..100
AGES = torch.arange(MAX_AGE + 1, dtype=torch.float32)
_METADATA_KEY = "faceage_estimator"


@dataclass(frozen=True)
class EstimatorConfig:
    resolution: int = 64
    width: int = 16  # 32 measured 4x slower to train on the CPU for little gain at 64 px
    feature_dim: int = 256


@dataclass
class EstimatorTrainConfig:
    data: str = "../shared/datasets/utkface"
    manifest: str | None = None
    out: str = "runs/estimator"
    cache_dir: str = ".cache"
    model: EstimatorConfig = EstimatorConfig()
    epochs: int = 10
    batch_size: int = 128
    lr: float = 2e-3
    label_sigma: float = 2.5  # years: the width of the soft age target
    l1_weight: float = 0.05
    gender_weight: float = 1.0
    validation_percent: int = 5
    limit: int | None = None
    seed: int = 0
    device: str = "auto"


class AgeGenderNet(nn.Module):
    """Four VGG-style stages (two 3x3 convolutions, then 2x2 pooling), global average pooling, two heads."""

    def __init__(self, config: EstimatorConfig = EstimatorConfig()):
        super().__init__()
        layers, channels_in = [], 3
        size = config.resolution
        level = 0
        while size > 4:
            channels_out = min(config.width * 2**level, config.feature_dim)
            layers += [
                nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(channels_out),
                nn.ReLU(inplace=True),
                nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(channels_out),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            channels_in, size, level = channels_out, size // 2, level + 1
        self.body = nn.Sequential(*layers)
        self.to_features = nn.Sequential(nn.Linear(channels_in, config.feature_dim), nn.ReLU(inplace=True))
        self.dropout = nn.Dropout(0.2)
        self.age_head = nn.Linear(config.feature_dim, MAX_AGE + 1)
        self.gender_head = nn.Linear(config.feature_dim, 1)

    def features(self, faces: torch.Tensor) -> torch.Tensor:
        """Penultimate features (N, feature_dim): the space realism is measured in."""
        return self.to_features(self.body(faces).mean(dim=(2, 3)))

    def forward(self, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.dropout(self.features(faces))
        return self.age_head(features), self.gender_head(features).squeeze(1)


def expected_age(age_logits: torch.Tensor) -> torch.Tensor:
    return (age_logits.softmax(dim=1) * AGES.to(age_logits.device)).sum(dim=1)


def estimator_loss(net: AgeGenderNet, faces, ages, genders, config: EstimatorTrainConfig) -> tuple[torch.Tensor, dict]:
    age_logits, gender_logit = net(faces)
    target = ages.float().clamp(max=MAX_AGE)
    soft = torch.exp(-0.5 * ((AGES.to(faces.device)[None, :] - target[:, None]) / config.label_sigma) ** 2)
    soft = soft / soft.sum(dim=1, keepdim=True)
    age_ce = -(soft * age_logits.log_softmax(dim=1)).sum(dim=1).mean()
    age_l1 = (expected_age(age_logits) - target).abs().mean()
    gender_bce = F.binary_cross_entropy_with_logits(gender_logit, genders.float())
    total = age_ce + config.l1_weight * age_l1 + config.gender_weight * gender_bce
    parts = {"age_ce": age_ce, "age_l1": age_l1, "gender_bce": gender_bce}
    return total, {k: float(v.detach()) for k, v in parts.items()}


@dataclass(frozen=True)
class Estimate:
    ages: np.ndarray  # (N,) years
    female_probability: np.ndarray  # (N,)


class AgeGenderEstimator:
    """Loaded estimator weights, ready to judge aligned faces of any size (they are resized to its input)."""

    def __init__(self, net: AgeGenderNet, config: EstimatorConfig, card: dict, device: torch.device):
        self.net, self.config, self.card, self.device = net.eval(), config, card, device

    @classmethod
    def load(cls, path: Path = DEFAULT_ESTIMATOR_PATH, device: str = "auto") -> AgeGenderEstimator:
        from aging_model.devices import pick_device

        tensors, info = load_weights(path, _METADATA_KEY, "age and gender estimator")
        config = EstimatorConfig(**info["model"])
        net = AgeGenderNet(config)
        net.load_state_dict(tensors)
        target = pick_device(device)
        return cls(net.to(target), config, info.get("card", {}), target)

    def _prepare(self, crops: np.ndarray) -> torch.Tensor:
        faces = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device).permute(0, 3, 1, 2).float()
        if faces.shape[-1] != self.config.resolution:
            faces = F.interpolate(
                faces,
                size=self.config.resolution,
                mode="area" if faces.shape[-1] > self.config.resolution else "bilinear",
            )
        return faces.div(127.5).sub(1.0)

    @torch.inference_mode()
    def estimate(self, crops: np.ndarray, batch_size: int = 256) -> Estimate:
        """Age and gender of (N, R, R, 3) uint8 aligned faces; the mirrored face is averaged in."""
        ages, female = [], []
        for start in range(0, len(crops), batch_size):
            faces = self._prepare(crops[start : start + batch_size])
            logits = [self.net(f) for f in (faces, faces.flip(3))]
            ages.append(torch.stack([expected_age(a) for a, _ in logits]).mean(0).cpu())
            female.append(torch.stack([torch.sigmoid(g) for _, g in logits]).mean(0).cpu())
        if not ages:
            return Estimate(np.zeros(0, np.float32), np.zeros(0, np.float32))
        return Estimate(torch.cat(ages).numpy(), torch.cat(female).numpy())

    @torch.inference_mode()
    def features(self, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """(N, feature_dim) penultimate features, for Fréchet distances between sets of faces."""
        chunks = [
            self.net.features(self._prepare(crops[s : s + batch_size])).cpu() for s in range(0, len(crops), batch_size)
        ]
        return torch.cat(chunks).numpy() if chunks else np.zeros((0, self.config.feature_dim), np.float32)


def save_estimator(path: Path, net: AgeGenderNet, config: EstimatorConfig, card: dict) -> None:
    """Weights with the config and how the estimator was trained (and measured) in their metadata."""
    save_weights(path, net.state_dict(), _METADATA_KEY, {"model": asdict(config), "card": card})


def _augment(faces: torch.Tensor) -> torch.Tensor:
    """Mirror half the batch, shift by up to 3 px, jitter brightness and contrast: cheap and label-safe."""
    n = len(faces)
    flip = torch.rand(n, device=faces.device) < 0.5
    faces = torch.where(flip[:, None, None, None], faces.flip(3), faces)
    padded = F.pad(faces, (3, 3, 3, 3), mode="replicate")
    dx, dy = np.random.randint(0, 7, size=2)
    faces = padded[:, :, dy : dy + faces.shape[2], dx : dx + faces.shape[3]]
    gain = torch.empty(n, 1, 1, 1, device=faces.device).uniform_(0.8, 1.2)
    bias = torch.empty(n, 1, 1, 1, device=faces.device).uniform_(-0.1, 0.1)
    return (faces * gain + bias).clamp(-1, 1)


@torch.no_grad()
def _validate(net: AgeGenderNet, val, device, batch_size: int = 256) -> dict[str, float]:
    net.eval()
    errors, correct = [], []
    for start in range(0, len(val), batch_size):
        faces = val.images[start : start + batch_size].to(device).float().div(127.5).sub(1.0)
        age_logits, gender_logit = net(faces)
        errors.append(
            (expected_age(age_logits).cpu() - val.ages[start : start + batch_size].float().clamp(max=MAX_AGE)).abs()
        )
        correct.append(((gender_logit.cpu() > 0).long() == val.genders[start : start + batch_size]).float())
    net.train()
    return {"val_age_mae": float(torch.cat(errors).mean()), "val_gender_accuracy": float(torch.cat(correct).mean())}


def train_estimator(config: EstimatorTrainConfig) -> tuple[Path, dict]:
    """Train on the fixed training split, measure on the validation split; returns (weights, metrics)."""
    from aging_model.data import load_aligned_split
    from aging_model.devices import pick_device
    from aging_model.media.sheets import plot_losses

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    device = pick_device(config.device)
    train_set, val_set = load_aligned_split(
        config.data, config.manifest, config.cache_dir, config.model.resolution, config.limit, config.validation_percent
    )
    if len(train_set) == 0:
        raise ValueError(f"no usable training faces in {config.manifest or config.data}")
    history_path = out / "history.csv"
    history_path.unlink(missing_ok=True)
    began = time.monotonic()
    net, metrics = fit_estimator(
        train_set, val_set, config, device, on_epoch=lambda row: _append_row(history_path, row)
    )
    plot_losses(history_path, out / "history.png")
    card = {
        "training_data": config.manifest or config.data,
        "training_faces": len(train_set),
        "validation_faces": len(val_set),
        "epochs": config.epochs,
        "train_hours": round((time.monotonic() - began) / 3600, 3),
        "hardware": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
        "metrics": metrics,
        "licence": "Trained on UTKFace: non-commercial research use only.",
    }
    weights = out / "estimator.safetensors"
    save_estimator(weights, net, config.model, card)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return weights, metrics


def fit_estimator(
    train_set, val_set, config: EstimatorTrainConfig, device: torch.device, on_epoch=None, desc: str = "estimator"
) -> tuple[AgeGenderNet, dict]:
    """Train a fresh estimator on `train_set` (aligned FaceTensors); returns it with its last validation metrics.

    `on_epoch(row)` receives each epoch's mean losses, and validation metrics when there is a `val_set`.
    """
    net = AgeGenderNet(config.model).to(device)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=1e-4)
    steps_per_epoch = max(1, len(train_set) // config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, config.lr, total_steps=config.epochs * steps_per_epoch)
    metrics: dict = {}
    for epoch in range(config.epochs):
        order = torch.randperm(len(train_set))
        sums = {"age_ce": 0.0, "age_l1": 0.0, "gender_bce": 0.0}
        for i in tqdm(range(steps_per_epoch), desc=f"{desc} epoch {epoch + 1}/{config.epochs}", unit="step"):
            index = order[i * config.batch_size : (i + 1) * config.batch_size]
            faces = _augment(train_set.images[index].to(device).float().div(127.5).sub(1.0))
            loss, parts = estimator_loss(
                net, faces, train_set.ages[index].to(device), train_set.genders[index].to(device), config
            )
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            for k, v in parts.items():
                sums[k] += v
        metrics = _validate(net, val_set, device) if val_set is not None and len(val_set) else {}
        row = {
            "step": (epoch + 1) * steps_per_epoch,
            "epoch": epoch + 1,
            **{k: v / steps_per_epoch for k, v in sums.items()},
            **metrics,
        }
        if on_epoch is not None:
            on_epoch(row)
        log.info("%s epoch %d: %s", desc, epoch + 1, row)
    return net.eval(), metrics


def _append_row(path: Path, row: dict) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow({k: f"{v:.5f}" if isinstance(v, float) else v for k, v in row.items()})
