"""The CAAE losses: L1 reconstruction, total variation, and non-saturating adversarial terms (logits in)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def reconstruction_loss(generated: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean absolute pixel difference: keeps the person (identity) through encode -> decode."""
    return F.l1_loss(generated, real)


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels: discourages ghosting and speckle."""
    dy = (images[:, :, 1:, :] - images[:, :, :-1, :]).abs().mean()
    dx = (images[:, :, :, 1:] - images[:, :, :, :-1]).abs().mean()
    return dx + dy


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy: real -> 1, fake -> 0."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def generator_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: push the discriminator to call fakes real."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def sample_uniform_prior(batch: int, z_dim: int, device) -> torch.Tensor:
    """The prior the latent discriminator treats as real: uniform on [-1, 1]^z_dim."""
    return torch.rand(batch, z_dim, device=device) * 2 - 1
