"""Codes: a face of the generator's latent space written as 50 hex characters, and codes drawn from its prior.

The encoder ends in tanh, so every latent z lies in [-1, 1]^50, and the CAAE's latent discriminator pulls
encoded faces towards the uniform prior U(-1, 1)^50. A code cuts [-1, 1] into 16 equal bins per dimension
and writes each bin's index as one hex digit; reading a code gives back each bin's centre (-15/16 ... 15/16).

Why 4 bits in hex: a code is short enough for a URL or to be read out (50 characters, digits everyone knows),
and its rounding is small next to what the 64 px generator shows: over 500 encoded training faces it moves a
pixel by 2.3 levels of 255 on average (4.2 for the worst face). 5 bits would halve that, but need base32's
less familiar alphabet; 8 bits (0.14 levels) would double the length. A uniform draw, quantized, draws every
digit equally often, so codes sampled from the prior cover all 16^50 codes evenly.

Pure NumPy: the web layer parses and validates codes without loading PyTorch.
"""

from __future__ import annotations

import numpy as np

LATENT_DIM = 50  # ModelConfig.z_dim of the shipped model; a code has one digit per dimension
LEVELS = 16  # one hex digit per dimension
CODE_LENGTH = LATENT_DIM
_HEX_DIGITS = frozenset("0123456789abcdef")


def code_from_latent(latent: np.ndarray) -> str:
    """The code of a latent (50,) in [-1, 1]; values outside are clipped to the end bins."""
    latent = np.asarray(latent, dtype=np.float64)
    if latent.shape != (LATENT_DIM,):
        raise ValueError(f"a latent has {LATENT_DIM} values, not shape {latent.shape}")
    if not np.isfinite(latent).all():
        raise ValueError("a latent must be finite")
    bins = np.clip(np.floor((latent + 1.0) * (LEVELS / 2)), 0, LEVELS - 1).astype(int)
    return "".join(f"{b:x}" for b in bins)


def latent_from_code(code: str) -> np.ndarray:
    """The latent (50,) float32 a code stands for; ValueError, with a message for the user, when it is not one.

    Upper-case digits are accepted (a code read out or typed); anything but 50 hex digits is refused.
    """
    if not isinstance(code, str):
        raise ValueError("a code is text: 50 hex digits (0-9, a-f)")
    normalised = code.strip().lower()
    if len(normalised) != CODE_LENGTH:
        raise ValueError(f"a code has {CODE_LENGTH} hex digits (0-9, a-f); this one has {len(normalised)}")
    strangers = sorted(set(normalised) - _HEX_DIGITS)
    if strangers:
        shown = "".join(strangers[:5])
        raise ValueError(f"a code has only hex digits (0-9, a-f); this one also has {shown!r}")
    bins = np.array([int(digit, 16) for digit in normalised])
    return (-1.0 + (2 * bins + 1) / LEVELS).astype(np.float32)


def quantize(latent: np.ndarray) -> np.ndarray:
    """The latent its code stands for: what a face becomes when it is written down as a code."""
    return latent_from_code(code_from_latent(latent))


def sample_codes(count: int, seed: int) -> list[str]:
    """`count` codes drawn from the prior U(-1, 1)^50; the same seed gives the same codes on every machine."""
    if count < 0:
        raise ValueError("count must not be negative")
    latents = np.random.default_rng(seed).uniform(-1.0, 1.0, size=(count, LATENT_DIM))
    return [code_from_latent(latent) for latent in latents]
