"""Named training recipes, as data: `faceage train --preset NAME` starts from one (options override it).

Each preset holds TrainConfig fields in the shape of a run's config.json (`model` may name only some of its
fields); fields a preset leaves out keep TrainConfig's defaults. `faceage train --preset NAME --dry-run` prints
the whole config a preset gives.
"""

from __future__ import annotations

from dataclasses import dataclass

from aging_model.caae.config import TrainConfig


@dataclass(frozen=True)
class Preset:
    summary: str  # one line for `faceage train --list-presets`
    settings: dict

    def config(self) -> TrainConfig:
        return TrainConfig().updated(self.settings)


PRESETS: dict[str, Preset] = {
    # Every field that shaped the weights is spelled out, so that a change of TrainConfig's defaults cannot
    # change this recipe; a test holds it to the card inside the shipped weights.
    "shipped": Preset(
        summary="the shipped model (aging_model/weights/caae-default.safetensors): 64 px, width 32, batch 64, "
        "10 epochs on UTKFace; about 2 hours on a 2-core CPU",
        settings={
            "data": "../shared/datasets/utkface",
            "manifest": None,
            "out": "runs/shipped",
            "model": {"resolution": 64, "width": 32, "z_dim": 50},
            # The run was started for 40 epochs and stopped after epoch 10, whose weights were shipped.
            # Nothing in the loop depends on the planned length (the learning rate is constant), so 10 epochs
            # give the same model.
            "epochs": 10,
            "batch_size": 64,
            "lr": 2e-4,
            "betas": [0.5, 0.999],
            "reconstruction_weight": 1.0,
            "image_adversarial_weight": 0.01,
            "z_adversarial_weight": 0.01,
            "cross_age_weight": 0.01,
            "tv_weight": 1e-4,
            "age_critic_weight": 0.02,
            "validation_percent": 5,
            "max_steps_per_epoch": None,
            "limit": None,
            "seed": 0,
        },
    ),
    # Zhang, Song & Qi, CVPR 2017, and the authors' code (ZZUTK/Face-Aging-CAAE, whose batch, epochs and Adam
    # settings these are). Not expressible here: their 5x5 kernels, channels doubling up to 1024 (Faceage's stop
    # at 8x the first layer's), and an image discriminator that never sees the cross-age fakes this loop always
    # shows it. Their loss weights differ between the paper and versions of their code, so Faceage's
    # adversarial and total-variation weights are kept.
    "paper-128": Preset(
        summary="the CAAE paper's setup: 128 px, 64 channels in the first layer, z of 50, batch 100, Adam 2e-4 "
        "(0.5, 0.999), 50 epochs, without Faceage's age critic and cross-age term; a GPU recipe",
        settings={
            "out": "runs/paper-128",
            "model": {"resolution": 128, "width": 64, "z_dim": 50},
            "epochs": 50,
            "batch_size": 100,
            "lr": 2e-4,
            "betas": [0.5, 0.999],
            "cross_age_weight": 0.0,
            "age_critic_weight": 0.0,
        },
    ),
    "smoke": Preset(
        summary="a check of a setup: 5 steps at 32 px on the first 64 faces; well under a minute on a CPU",
        settings={
            "out": "runs/smoke",
            "model": {"resolution": 32, "width": 8},
            "epochs": 1,
            "batch_size": 8,
            "limit": 64,
            "max_steps_per_epoch": 5,
            "sample_faces": 4,
        },
    ),
}
