"""The four CAAE networks (Zhang, Song, Qi, CVPR 2017), sized by `ModelConfig`.

- Encoder: face -> latent z in [-1, 1]^z_dim (tanh), which should carry who the person is.
- Generator: z + age group + gender -> face. The condition enters at the input, as in the paper, and is also
  tiled onto every upsampling stage so that it cannot be drowned out by z.
- LatentDiscriminator: z -> real/fake, "real" being samples of the uniform prior; makes z fill its space
  smoothly, so that interpolating and re-conditioning stay on the face manifold.
- ImageDiscriminator: face + condition -> real/fake; the condition is tiled onto the first feature map.
- AgeCritic (beyond the paper): face -> 10 age group logits + 1 "generated" logit. It learns the age of real
  faces and to tell generated ones apart, and the generator is asked to render faces it takes for real faces
  of the target group: the auxiliary classifier of AC-GAN (Odena et al. 2017) with the extra "fake" class of
  Salimans et al. 2016, so the generator cannot win by painting patterns that merely excite the classifier.

Shapes: B faces of R x R pixels, as (B, 3, R, R) in [-1, 1]; z is (B, z_dim); the condition is an age
(B, n_age_groups) and a gender (B, n_genders), one-hot or soft weights. Every image network passes through a
4 x 4 feature map, halving or doubling the size at each of its log2(R / 4) stride-2 stages.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from aging_model.caae.config import ModelConfig


def assert_shape(tensor: torch.Tensor, expected: Sequence[int | None], name: str) -> None:
    """Raise AssertionError, naming `name`, unless `tensor` has the `expected` shape (None matches any size).

    Called where tensors enter a network or are joined, so that a wrong shape is reported where it was made,
    not as a failed matrix product layers later; a few integer comparisons, nothing next to one convolution.
    """
    if tensor.ndim != len(expected) or any(want not in (None, size) for size, want in zip(tensor.shape, expected)):
        wanted = ", ".join("*" if want is None else str(want) for want in expected)
        raise AssertionError(f"{name} should have shape ({wanted}), got {tuple(tensor.shape)}")


def _channels(config: ModelConfig, level: int) -> int:
    return config.width * min(2**level, 8)


def _levels(config: ModelConfig) -> int:
    """Number of stride-2 stages between the image and a 4x4 feature map."""
    return int(math.log2(config.resolution // 4))


def condition_maps(condition: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """A (N, C) condition tiled to (N, C, height, width) feature maps."""
    return condition[:, :, None, None].expand(-1, -1, height, width)


def _downsampling_stack(config: ModelConfig) -> tuple[nn.Sequential, int]:
    """Stride-2 convolutions from the image down to 4x4; returns the stack and its flattened output size."""
    layers, channels_in = [], 3
    for level in range(_levels(config)):
        channels_out = _channels(config, level)
        layers += [nn.Conv2d(channels_in, channels_out, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        channels_in = channels_out
    return nn.Sequential(*layers), channels_in * 16


class Encoder(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.features, flat = _downsampling_stack(config)
        self.to_z = nn.Linear(flat, config.z_dim)

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        # (B, 3, R, R) -> (B, C, 4, 4) -> (B, 16 C) -> (B, z_dim)
        return torch.tanh(self.to_z(self.features(faces).flatten(1)))


class _UpBlock(nn.Module):
    def __init__(self, channels_in: int, condition_dim: int, channels_out: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(channels_in + condition_dim, channels_out, 4, 2, 1)
        self.norm = nn.BatchNorm2d(channels_out)

    def forward(self, features: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        # (B, C_in, S, S) and a condition (B, K) -> (B, C_in + K, S, S) -> (B, C_out, 2S, 2S)
        features = torch.cat([features, condition_maps(condition, *features.shape[2:])], dim=1)
        return torch.relu(self.norm(self.up(features)))


class Generator(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        levels = _levels(config)
        self.start_channels = _channels(config, levels)
        # The paper duplicates the one-hot labels so they weigh about as much as z at the input.
        self.age_repeat = max(1, config.z_dim // config.n_age_groups)
        self.gender_repeat = max(1, config.z_dim // config.n_genders)
        input_dim = config.z_dim + config.n_age_groups * self.age_repeat + config.n_genders * self.gender_repeat
        self.from_z = nn.Sequential(nn.Linear(input_dim, self.start_channels * 16), nn.ReLU(inplace=True))
        self.blocks = nn.ModuleList()
        channels_in = self.start_channels
        for level in reversed(range(levels)):
            channels_out = _channels(config, level) if level > 0 else config.width
            self.blocks.append(_UpBlock(channels_in, config.condition_dim, channels_out))
            channels_in = channels_out
        self.to_rgb = nn.Conv2d(channels_in, 3, 3, 1, 1)
        self.config = config

    def forward(self, z: torch.Tensor, age: torch.Tensor, gender: torch.Tensor) -> torch.Tensor:
        """Faces (B, 3, R, R) from z (B, z_dim), `age` (B, n_age_groups) and `gender` (B, n_genders), the last
        two one-hot or soft weights."""
        batch = len(z)
        assert_shape(z, (batch, self.config.z_dim), "z")
        assert_shape(age, (batch, self.config.n_age_groups), "age")
        assert_shape(gender, (batch, self.config.n_genders), "gender")
        condition = torch.cat([age, gender], dim=1)  # (B, K), K = n_age_groups + n_genders
        inputs = torch.cat([z, age.repeat(1, self.age_repeat), gender.repeat(1, self.gender_repeat)], dim=1)
        # (B, z_dim + n_age_groups * age_repeat + n_genders * gender_repeat) -> (B, start_channels, 4, 4)
        features = self.from_z(inputs).view(-1, self.start_channels, 4, 4)
        for block in self.blocks:
            features = block(features, condition)  # (B, C, S, S) -> (B, C', 2S, 2S), up to (B, width, R, R)
        return torch.tanh(self.to_rgb(features))  # (B, width, R, R) -> (B, 3, R, R)


class LatentDiscriminator(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        sizes = [config.z_dim, 64, 32, 16]
        layers = []
        for size_in, size_out in itertools.pairwise(sizes):
            layers += [nn.Linear(size_in, size_out), nn.LeakyReLU(0.2, inplace=True)]
        self.net = nn.Sequential(*layers, nn.Linear(sizes[-1], 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).squeeze(1)  # (B, z_dim) -> (B,)


class ImageDiscriminator(nn.Module):
    """Realism of a face under its condition; its penultimate features are exposed for feature matching."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        levels = _levels(config)
        self.first = spectral_norm(nn.Conv2d(3, config.width, 4, 2, 1))
        layers, channels_in = [], config.width + config.condition_dim
        for level in range(1, levels):
            channels_out = _channels(config, level)
            layers += [spectral_norm(nn.Conv2d(channels_in, channels_out, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
            channels_in = channels_out
        self.rest = nn.Sequential(*layers)
        self.head = nn.Sequential(spectral_norm(nn.Linear(channels_in * 16, 256)), nn.LeakyReLU(0.2, inplace=True))
        self.score = spectral_norm(nn.Linear(256, 1))
        self.config = config

    def forward(self, faces: torch.Tensor, age: torch.Tensor, gender: torch.Tensor) -> torch.Tensor:
        return self.score(self.features(faces, age, gender)).squeeze(1)  # (B, 256) -> (B,)

    def features(self, faces: torch.Tensor, age: torch.Tensor, gender: torch.Tensor) -> torch.Tensor:
        """(B, 256) features of faces (B, 3, R, R) under an age (B, n_age_groups) and a gender (B, n_genders)."""
        batch, resolution = len(faces), self.config.resolution
        assert_shape(faces, (batch, 3, resolution, resolution), "faces")
        assert_shape(age, (batch, self.config.n_age_groups), "age")
        assert_shape(gender, (batch, self.config.n_genders), "gender")
        condition = torch.cat([age, gender], dim=1)  # (B, K), K = n_age_groups + n_genders
        x = nn.functional.leaky_relu(self.first(faces), 0.2)  # (B, width, R/2, R/2)
        x = torch.cat([x, condition_maps(condition, *x.shape[2:])], dim=1)  # (B, width + K, R/2, R/2)
        return self.head(self.rest(x).flatten(1))  # (B, C, 4, 4) -> (B, 16 C) -> (B, 256)


class AgeCritic(nn.Module):
    """Age group logits, plus one for "generated", from a face; it sees no condition, only the face."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.features, flat = _downsampling_stack(config)
        self.logits = nn.Linear(flat, config.n_age_groups + 1)

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        return self.logits(self.features(faces).flatten(1))  # (B, 3, R, R) -> (B, C, 4, 4) -> (B, n_age_groups + 1)
