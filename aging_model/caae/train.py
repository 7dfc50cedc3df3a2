"""The CAAE training loop: update the discriminators, update encoder + generator, log, save samples.

A run folder holds everything a person needs to follow and resume it:
  config.json      how the run was set up          losses.csv / losses.png  the losses as it goes
  samples/epoch-NNN.jpg  validation faces x 10 age groups, one sheet per epoch
  checkpoint.pt    all four networks and optimisers (resumes the run; never committed)
  model.safetensors  encoder + generator for serving, refreshed every epoch
"""

from __future__ import annotations

import csv
import logging
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from aging_model.age_groups import GROUP_LABELS, N_AGE_GROUPS, age_to_group
from aging_model.caae import losses
from aging_model.caae.config import TrainConfig
from aging_model.caae.inference import save_serving_weights
from aging_model.caae.networks import (
    AgeCritic,
    Encoder,
    Generator,
    ImageDiscriminator,
    LatentDiscriminator,
    assert_shape,
)
from aging_model.data import FaceTensors, load_aligned_split
from aging_model.devices import pick_device
from aging_model.media.sheets import face_grid, plot_losses

log = logging.getLogger(__name__)
LOSS_COLUMNS = (
    "reconstruction",
    "tv",
    "g_image",
    "g_cross_age",
    "g_age_critic",
    "e_latent",
    "d_image",
    "d_latent",
    "critic_real",
    "critic_fake",
)


class Networks(torch.nn.Module):
    """The four CAAE networks together, so they move, save and load as one."""

    def __init__(self, model_config):
        super().__init__()
        self.encoder = Encoder(model_config)
        self.generator = Generator(model_config)
        self.latent_discriminator = LatentDiscriminator(model_config)
        self.image_discriminator = ImageDiscriminator(model_config)
        self.age_critic = AgeCritic(model_config)


@dataclass
class TrainState:
    """Everything a run resumes from: the networks, their optimisers, and how far the run has come."""

    nets: Networks
    opt_eg: torch.optim.Optimizer  # encoder + generator
    opt_d: torch.optim.Optimizer  # latent and image discriminators, age critic
    epoch: int = 0  # epochs completed
    step: int = 0  # updates made
    hours: float = 0.0  # time spent in epochs, over every session of the run

    @classmethod
    def start(cls, config: TrainConfig, device) -> TrainState:
        """Fresh networks on `device`, each side with its own Adam optimiser."""
        nets = Networks(config.model).to(device)
        eg_params = [*nets.encoder.parameters(), *nets.generator.parameters()]
        d_params = [
            *nets.latent_discriminator.parameters(),
            *nets.image_discriminator.parameters(),
            *nets.age_critic.parameters(),
        ]
        opt_eg = torch.optim.Adam(eg_params, lr=config.lr, betas=config.betas)
        opt_d = torch.optim.Adam(d_params, lr=config.lr, betas=config.betas)
        return cls(nets, opt_eg, opt_d)


@dataclass(frozen=True)
class Batch:
    """Faces on the device with their labels, as the networks take them."""

    faces: torch.Tensor  # (B, 3, R, R) in [-1, 1]
    age: torch.Tensor  # (B, n_age_groups) one-hot
    gender: torch.Tensor  # (B, 2) one-hot
    groups: torch.Tensor  # (B,) age group indices


def load_training_faces(config: TrainConfig) -> tuple[FaceTensors, FaceTensors]:
    """Train and validation tensors, aligned like inference inputs; what was skipped is logged."""
    return load_aligned_split(
        config.data, config.manifest, config.cache_dir, config.model.resolution, config.limit, config.validation_percent
    )


def _batch_to_device(tensors: FaceTensors, index: torch.Tensor, device) -> Batch:
    faces = tensors.images[index].to(device).float().div(127.5).sub(1.0)  # uint8 (B, 3, R, R) -> [-1, 1]
    groups = torch.tensor([age_to_group(int(a)) for a in tensors.ages[index]], device=device)
    age = torch.nn.functional.one_hot(groups, N_AGE_GROUPS).float()
    gender = torch.nn.functional.one_hot(tensors.genders[index].to(device), 2).float()
    return Batch(faces, age, gender, groups)


def _other_age_groups(groups: torch.Tensor) -> torch.Tensor:
    """A random age group per face, never its own: the ages the generator must render without a target."""
    shift = torch.randint(1, N_AGE_GROUPS, groups.shape, device=groups.device)
    return (groups + shift) % N_AGE_GROUPS


def train_step(state: TrainState, batch: Batch, config: TrainConfig) -> dict[str, float]:
    """One CAAE update on a batch, discriminators first, then encoder + generator; returns the losses."""
    nets, faces, age, gender, groups = state.nets, batch.faces, batch.age, batch.gender, batch.groups
    resolution = config.model.resolution
    assert_shape(faces, (len(faces), 3, resolution, resolution), "faces")
    assert_shape(groups, (len(faces),), "groups")
    z = nets.encoder(faces)  # (B, z_dim)
    reconstructed = nets.generator(z, age, gender)  # (B, 3, R, R)
    other_groups = _other_age_groups(groups)  # (B,)
    other_age = torch.nn.functional.one_hot(other_groups, N_AGE_GROUPS).float()  # (B, n_age_groups)
    other_aged = nets.generator(z, other_age, gender)  # (B, 3, R, R): the same faces at other ages
    prior = losses.sample_uniform_prior(len(faces), z.shape[1], faces.device)  # (B, z_dim)

    # (1) Update the discriminators: the prior is real for D_z; real faces under their own labels are real for
    # D_img, while reconstructions, faces rendered at other ages, and real faces under a wrong age label are
    # fake -- the last makes D_img judge whether a face looks its age, not only whether it looks like a face.
    d_latent = losses.discriminator_loss(nets.latent_discriminator(prior), nets.latent_discriminator(z.detach()))
    d_img = nets.image_discriminator
    real_logits = d_img(faces, age, gender)  # (B,)
    fake_logits = torch.cat(
        [
            d_img(reconstructed.detach(), age, gender),
            d_img(other_aged.detach(), other_age, gender),
            d_img(faces, other_age, gender),
        ]
    )  # (3B,)
    d_image = losses.discriminator_loss(real_logits, fake_logits)
    # The age critic: real faces are their age group, faces rendered at other ages are the extra class.
    generated_class = torch.full_like(groups, N_AGE_GROUPS)
    critic_real = torch.nn.functional.cross_entropy(nets.age_critic(faces), groups)
    critic_fake = torch.nn.functional.cross_entropy(nets.age_critic(other_aged.detach()), generated_class)
    state.opt_d.zero_grad(set_to_none=True)
    (d_latent + d_image + critic_real + critic_fake).backward()
    state.opt_d.step()

    # (2) Update encoder + generator.
    reconstruction = losses.reconstruction_loss(reconstructed, faces)
    tv = losses.total_variation(reconstructed)
    g_image = losses.generator_adversarial_loss(d_img(reconstructed, age, gender))
    g_cross = losses.generator_adversarial_loss(d_img(other_aged, other_age, gender))
    e_latent = losses.generator_adversarial_loss(nets.latent_discriminator(z))
    g_age_critic = torch.nn.functional.cross_entropy(nets.age_critic(other_aged), other_groups)
    total = (
        config.reconstruction_weight * reconstruction
        + config.tv_weight * tv
        + config.image_adversarial_weight * g_image
        + config.cross_age_weight * g_cross
        + config.z_adversarial_weight * e_latent
        + config.age_critic_weight * g_age_critic
    )
    state.opt_eg.zero_grad(set_to_none=True)
    total.backward()
    state.opt_eg.step()
    state.step += 1
    values = {
        "reconstruction": reconstruction,
        "tv": tv,
        "g_image": g_image,
        "g_cross_age": g_cross,
        "g_age_critic": g_age_critic,
        "e_latent": e_latent,
        "d_image": d_image,
        "d_latent": d_latent,
        "critic_real": critic_real,
        "critic_fake": critic_fake,
    }
    return {k: float(v.detach()) for k, v in values.items()}


@torch.no_grad()
def sample_sheet(nets: Networks, val: FaceTensors, count: int, device) -> Image.Image:
    """Validation faces (rows): the input, then the face rendered at each of the 10 age groups."""
    nets.eval()
    index = torch.arange(min(count, len(val)))
    batch = _batch_to_device(val, index, device)
    z = nets.encoder(batch.faces)
    rows = [[_to_uint8(batch.faces[i])] for i in range(len(index))]
    for group in range(N_AGE_GROUPS):
        age = torch.nn.functional.one_hot(torch.full((len(index),), group, device=device), N_AGE_GROUPS).float()
        for i, image in enumerate(nets.generator(z, age, batch.gender)):
            rows[i].append(_to_uint8(image))
    nets.train()
    labels = ["input", *GROUP_LABELS]
    return face_grid(rows, labels, cell=max(64, val.images.shape[-1]))


def _to_uint8(image: torch.Tensor) -> np.ndarray:
    return image.add(1).mul(127.5).clamp(0, 255).byte().permute(1, 2, 0).cpu().numpy()


def train(config: TrainConfig) -> Path:
    """Train (or resume) the run in `config.out`; returns the path of its serving weights."""
    out = Path(config.out)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(config.to_json() + "\n")
    if config.threads:
        torch.set_num_threads(config.threads)
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    device = pick_device(config.device)
    train_set, val_set = load_training_faces(config)
    if len(train_set) == 0:
        raise ValueError(f"no usable training faces in {config.manifest or config.data}")

    state = TrainState.start(config, device)
    _resume(out / "checkpoint.pt", state, device)

    log_path = out / "losses.csv"
    steps_per_epoch = len(train_set) // config.batch_size
    if config.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, config.max_steps_per_epoch)
    for epoch in range(state.epoch, config.epochs):
        began = time.monotonic()
        order = torch.randperm(len(train_set))
        running, count = dict.fromkeys(LOSS_COLUMNS, 0.0), 0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{config.epochs}", unit="step")
        for i in bar:
            index = order[i * config.batch_size : (i + 1) * config.batch_size]
            values = train_step(state, _batch_to_device(train_set, index, device), config)
            count += 1
            for k, v in values.items():
                running[k] += v
            if not all(np.isfinite(v) for v in values.values()):
                raise FloatingPointError(f"non-finite loss at step {state.step}: {values}")
            if state.step % 50 == 0 or i == steps_per_epoch - 1:  # the mean of the steps since the last row
                _append_log(log_path, state.step, epoch + 1, {k: v / count for k, v in running.items()})
                running, count = dict.fromkeys(LOSS_COLUMNS, 0.0), 0
                bar.set_postfix(rec=f"{values['reconstruction']:.3f}", d_img=f"{values['d_image']:.2f}")
        state.hours += (time.monotonic() - began) / 3600
        state.epoch = epoch + 1
        sample_sheet(state.nets, val_set if len(val_set) else train_set, config.sample_faces, device).save(
            out / "samples" / f"epoch-{state.epoch:03d}.jpg"
        )
        plot_losses(log_path, out / "losses.png")
        _save_checkpoint(out / "checkpoint.pt", state, config)
        card = _model_card(config, train_set, state, device)
        save_serving_weights(out / "model.safetensors", state.nets.encoder, state.nets.generator, config.model, card)
    return out / "model.safetensors"


def _model_card(config: TrainConfig, train_set: FaceTensors, state: TrainState, device) -> dict:
    return {
        "method": "CAAE (Zhang, Song, Qi, CVPR 2017) with a cross-age conditional adversarial term and an auxiliary "
        "age critic",
        "training_data": config.manifest or config.data,
        "training_faces": len(train_set),
        "epochs": state.epoch,
        "steps": state.step,
        "batch_size": config.batch_size,
        "train_hours": round(state.hours, 3),
        "hardware": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
        "licence": "Trained on UTKFace: non-commercial research use only.",
        "train_config": asdict(config),
    }


def _append_log(path: Path, step: int, epoch: int, values: dict[str, float]) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(["step", "epoch", *LOSS_COLUMNS])
        writer.writerow([step, epoch, *(f"{values[k]:.5f}" for k in LOSS_COLUMNS)])


def _save_checkpoint(path: Path, state: TrainState, config: TrainConfig) -> None:
    # The keys and their meaning are those of every checkpoint written so far; older runs resume unchanged.
    checkpoint = {
        "networks": state.nets.state_dict(),
        "opt_eg": state.opt_eg.state_dict(),
        "opt_d": state.opt_d.state_dict(),
        "epoch": state.epoch,
        "step": state.step,
        "hours": state.hours,
        "config": asdict(config),
    }
    tmp = path.with_suffix(".tmp")
    torch.save(checkpoint, tmp)
    tmp.replace(path)


def _resume(path: Path, state: TrainState, device) -> None:
    """Load the run's checkpoint into `state`, when it has one."""
    if not path.exists():
        return
    checkpoint = torch.load(path, map_location=device, weights_only=True)
    state.nets.load_state_dict(checkpoint["networks"])
    state.opt_eg.load_state_dict(checkpoint["opt_eg"])
    state.opt_d.load_state_dict(checkpoint["opt_d"])
    state.epoch, state.step, state.hours = checkpoint["epoch"], checkpoint["step"], checkpoint["hours"]
    log.info("resuming %s at epoch %d (step %d)", path.parent, state.epoch + 1, state.step)
