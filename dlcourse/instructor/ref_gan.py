"""Reference losses for the hidden tests of 07_gan (instructor only, never in the student bundle).

The stand-in players, the stand-in (least-squares) losses that the `train_step` test injects,
the spies and the recomputation of the expected steps hold no answer: they are public, in
`dlcourse.testkit.gan`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def discriminator_loss(real_logits, fake_logits):
    """Mean BCE of the real logits against 1 plus mean BCE of the fake logits against 0."""
    real_logits, fake_logits = real_logits.reshape(-1), fake_logits.reshape(-1)
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss(fake_logits):
    """Non-saturating generator loss: mean BCE of the fake logits against 1."""
    fake_logits = fake_logits.reshape(-1)
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
