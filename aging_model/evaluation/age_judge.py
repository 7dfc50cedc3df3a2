"""A second age reader, used only to judge aged faces: dlib's face-recognition descriptor and a small head.

The shipped estimator (`aging_model.estimator.age_gender`) reads the product's own 64 px chip framing with a small VGG
network, and the renderer is tuned against it, so it can be fooled by what the renderer does to that framing
(issue 17). This reader shares nothing with it but the training split: dlib's ResNet (29 layers, trained for
identity on millions of faces, never on ages) describes the face on dlib's own 150 px chip, which its own
landmarks place; a two-layer perceptron, trained here on the training split only, reads log-age from the 128
numbers. It is never used to make a face, so nothing is tuned against it.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from aging_model.age_groups import GROUP_LABELS, N_AGE_GROUPS, age_to_group
from aging_model.shipped import WEIGHTS_DIR
from aging_model.weights_io import load_weights, save_weights

log = logging.getLogger(__name__)

DEFAULT_AGE_JUDGE_PATH = WEIGHTS_DIR / "age-judge.safetensors"
DESCRIPTOR_DIM = 128
_METADATA_KEY = "faceage_age_judge"
# Real faces of these ages are read by the judge in its metrics: the targets the evaluation asks for.
PROBE_AGES = (3, 8, 13, 25, 45, 65, 75)


@dataclass(frozen=True)
class AgeJudgeConfig:
    hidden: int = 256
    epochs: int = 1500  # full-batch steps (about 3 minutes on 2 cores)
    lr: float = 2e-3
    weight_decay: float = 1e-2
    per_age_cap: int = 300  # training faces per year of age, so that UTKFace's many 26-year-olds do not dominate
    validation_percent: int = 5
    seed: int = 0


class AgeHead(nn.Module):
    """128 descriptor numbers -> log(1 + age)."""

    def __init__(self, hidden: int = AgeJudgeConfig.hidden):
        super().__init__()
        self.mean = nn.Parameter(torch.zeros(DESCRIPTOR_DIM), requires_grad=False)
        self.scale = nn.Parameter(torch.ones(DESCRIPTOR_DIM), requires_grad=False)
        self.net = nn.Sequential(nn.Linear(DESCRIPTOR_DIM, hidden), nn.GELU(), nn.Dropout(0.1), nn.Linear(hidden, 1))

    def forward(self, descriptors: torch.Tensor) -> torch.Tensor:
        return self.net((descriptors - self.mean) / self.scale).squeeze(1)


class AgeJudge:
    """Reads ages of chip-framed aligned faces with dlib's descriptor and the trained head."""

    def __init__(self, head: AgeHead, embedder=None, info: dict | None = None):
        self.head = head.eval()
        self._embedder = embedder
        self.info = info or {}  # how it was trained and what it measured (the weights' metadata)

    @classmethod
    def load(cls, path: Path = DEFAULT_AGE_JUDGE_PATH, embedder=None) -> AgeJudge:
        tensors, info = load_weights(path, _METADATA_KEY, "age judge")
        head = AgeHead(info["config"]["hidden"])
        head.load_state_dict(tensors)
        return cls(head, embedder, info)

    @property
    def embedder(self):
        if self._embedder is None:
            from aging_model.evaluation.identity import FaceEmbedder

            self._embedder = FaceEmbedder()
        return self._embedder

    def descriptors(self, crops: np.ndarray) -> np.ndarray:
        """(N, 128) dlib descriptors of chip-framed faces (N, S, S, 3) uint8: what `read_descriptors` reads."""
        return self.embedder.embed_aligned(crops)

    def read(self, crops: np.ndarray) -> np.ndarray:
        """(N,) ages in years of chip-framed aligned faces (N, S, S, 3) uint8, at any size S."""
        return self.read_descriptors(self.descriptors(crops))

    def read_descriptors(self, descriptors: np.ndarray) -> np.ndarray:
        if len(descriptors) == 0:
            return np.zeros(0)
        with torch.no_grad():
            log_age = self.head(torch.as_tensor(np.asarray(descriptors), dtype=torch.float32))
        return torch.expm1(log_age).clamp(min=0).numpy().astype(np.float64)


def fit_head(descriptors: np.ndarray, ages: np.ndarray, config: AgeJudgeConfig = AgeJudgeConfig()) -> AgeHead:
    """A head trained on (N, 128) descriptors and their ages: L1 on log(1 + age), full batch, AdamW."""
    torch.manual_seed(config.seed)
    x = torch.as_tensor(descriptors, dtype=torch.float32)
    y = torch.log1p(torch.as_tensor(ages, dtype=torch.float32))
    head = AgeHead(config.hidden)
    head.mean.copy_(x.mean(0))
    head.scale.copy_(x.std(0).clamp(min=1e-6))
    optimiser = torch.optim.AdamW(head.net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, config.epochs)
    head.train()
    for _ in range(config.epochs):
        loss = (head(x) - y).abs().mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
    return head.eval()


def reading_metrics(readings: np.ndarray, ages: np.ndarray) -> dict:
    """MAE overall and per age group, and how real faces of each PROBE_AGES read (within one year of it)."""
    ages = np.asarray(ages, dtype=np.float64)
    errors = np.abs(np.asarray(readings) - ages)
    groups = np.array([age_to_group(a) for a in ages])
    per_group = [
        {"group": GROUP_LABELS[g], "faces": int((groups == g).sum()), "mae": _mean(errors[groups == g])}
        for g in range(N_AGE_GROUPS)
    ]
    probes = []
    for age in PROBE_AGES:
        near = np.abs(ages - age) <= 1
        probes.append({"age": age, "faces": int(near.sum()), "mean_reading": _mean(np.asarray(readings)[near])})
    return {"faces": len(ages), "mae": _mean(errors), "per_group": per_group, "real_faces_read_as": probes}


def _mean(values: np.ndarray) -> float | None:
    return float(np.mean(values)) if len(values) else None


def training_sample(faces: list, per_age_cap: int, seed: int = 0) -> list:
    """At most `per_age_cap` faces per year of age, chosen at random (seeded), in the faces' own order."""
    rng = np.random.default_rng(seed)
    by_age: dict[int, list[int]] = {}
    for i, face in enumerate(faces):
        by_age.setdefault(face.age, []).append(i)
    chosen = [i for members in by_age.values() for i in rng.permutation(members)[:per_age_cap]]
    return [faces[i] for i in sorted(chosen)]


def chip_descriptors(faces: list, cache_path: Path, embedder, batch: int = 128) -> dict[str, np.ndarray]:
    """dlib descriptors of the dataset's own chips by file name, cached in `cache_path` (.npz) as they are made
    (a 2-core CPU takes about 0.1 s a face, so an interrupted run resumes)."""
    from aging_model.data import read_rgb

    cached: dict[str, np.ndarray] = {}
    if cache_path.exists():
        with np.load(cache_path) as stored:
            cached = dict(zip(stored["names"].tolist(), stored["descriptors"]))
    missing = [f for f in faces if f.path.name not in cached]
    for start in tqdm(range(0, len(missing), batch), desc="dlib descriptors", unit="batch", disable=not missing):
        members = missing[start : start + batch]
        images = [(f, read_rgb(f.path)) for f in members]
        readable = [(f, image) for f, image in images if image is not None]
        if readable:
            import cv2

            crops = np.stack([cv2.resize(image, (200, 200), interpolation=cv2.INTER_AREA) for _, image in readable])
            for (f, _), descriptor in zip(readable, embedder.embed_aligned(crops)):
                cached[f.path.name] = descriptor
        _save_descriptors(cache_path, cached)
    return {f.path.name: cached[f.path.name] for f in faces if f.path.name in cached}


def _save_descriptors(cache_path: Path, cached: dict[str, np.ndarray]) -> None:
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_path.with_suffix(".tmp.npz")
    np.savez(tmp, names=np.array(list(cached)), descriptors=np.stack(list(cached.values())).astype(np.float32))
    tmp.replace(cache_path)


def train_age_judge(
    data: Path,
    out: Path = DEFAULT_AGE_JUDGE_PATH,
    cache_dir: Path = Path(".cache"),
    config: AgeJudgeConfig = AgeJudgeConfig(),
    embedder=None,
) -> dict:
    """Train the judge's head on the training split of a UTKFace-style folder and measure it on the whole
    validation split (the faces every evaluation holds out); writes the weights and returns the metrics."""
    import hashlib

    from aging_model.data import index_folder, split_faces

    if embedder is None:
        from aging_model.evaluation.identity import FaceEmbedder

        embedder = FaceEmbedder()
    began = time.monotonic()
    train, val = split_faces(index_folder(Path(data)).faces, config.validation_percent)
    train = training_sample(train, config.per_age_cap, config.seed)
    if not train or not val:
        raise ValueError(f"{data} has too few labelled faces for a training and a validation split")
    key = hashlib.sha1(str(Path(data).resolve()).encode()).hexdigest()[:8]
    found = chip_descriptors(train + val, Path(cache_dir) / f"judge-descriptors-{key}.npz", embedder)
    train = [f for f in train if f.path.name in found]
    val = [f for f in val if f.path.name in found]
    head = fit_head(np.stack([found[f.path.name] for f in train]), np.array([f.age for f in train]), config)
    judge = AgeJudge(head, embedder)
    readings = judge.read_descriptors(np.stack([found[f.path.name] for f in val]))
    metrics = reading_metrics(readings, np.array([f.age for f in val]))
    info = {
        "config": asdict(config),
        "descriptor": "dlib_face_recognition_resnet_model_v1 on dlib's 150 px chip (5 landmarks, padding 0.25)",
        "training_data": str(data),
        "training_faces": len(train),
        "validation_faces": len(val),
        "validation": metrics,
        "train_minutes": round((time.monotonic() - began) / 60, 1),
        "licence": "Trained on UTKFace: non-commercial research use only.",
    }
    save_weights(Path(out), head.state_dict(), _METADATA_KEY, info)
    log.info("age judge: %s", json.dumps(metrics))
    return info
