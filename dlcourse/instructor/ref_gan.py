"""Reference losses for the hidden tests of 07_gan (instructor only, never in the student bundle).

The stand-in players, the stand-in (least-squares) losses that the `train_step` test injects,
the spies and the recomputation of the expected steps hold no answer: they are public, in
`dlcourse.testkit.gan`.
"""

from __future__ import annotations

import math

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


# Answer keys of the concept questions (instructor-only: never in the release).
QUESTIONS = {
    "q_gan_task": {
        "answer": "b",
        "why": {
            "a": "The squared error to the nearest real drawing is smallest for a copy of a real drawing, so it "
                 "rewards copies, not new drawings. When the network is unsure it also rewards blur, as the "
                 "autoencoder's random codes showed. Only a judge that scores how real an image looks rewards "
                 "new drawings that viewers cannot tell from real ones: a GAN's discriminator.",
            "c": "A classifier's confidence rewards images that a classifier finds easy to label. Such images "
                 "can look nothing like real drawings (strong, strange patterns also make it confident). The goal "
                 "is images that cannot be told from real ones: a second network trained to tell real from fake "
                 "scores exactly that.",
            "d": "The squared error to the average drawing is smallest for that one average image. The network "
                 "would draw the same blurry blend for every noise vector. A second network that scores how real "
                 "an image looks (a GAN's discriminator) rewards varied, realistic drawings.",
        },
    },
    "q_tanh_output": {
        "answer": "a",
        "why": {
            "b": "Gradients flow through a sigmoid as they do through tanh; the generator still learns. The "
                 "problem is the range: a sigmoid gives (0, 1), but the real background pixels are -1 after "
                 "x / 127.5 - 1. No fake can reach them, and the discriminator can use that.",
            "c": "A sigmoid does not make pixels binary: it gives any value in (0, 1). The giveaway is the range. "
                 "No fake pixel can go below 0, but every real background pixel is -1.",
            "d": "A sigmoid returns 0.5 only for an input of 0; the generator can push its outputs anywhere in "
                 "(0, 1). The giveaway is that no fake pixel goes below 0, while the real background is -1.",
        },
    },
    "q_double_sigmoid": {
        "answer": "c",
        "why": {
            "a": "The loss applies its own sigmoid to what it receives. If that is already a probability p in "
                 "(0, 1), the loss sees sigmoid(p), which lies between sigmoid(0) = 0.5 and sigmoid(1) = 0.73.",
            "b": "sigmoid(-1) = 0.27 would need an input of -1, but the first sigmoid never returns a negative "
                 "number: its output lies in (0, 1), so the second one returns values in (0.5, 0.73). A fake "
                 "can never score below 0.5.",
            "d": "The upper end is sigmoid(1) = 0.73, not 1: the first sigmoid never returns more than 1.",
        },
    },
    "q_equilibrium_loss": {
        "value": 2 * math.log(2.0),
        "rtol": 0.01,
        "why": "At the equilibrium D says 0.5 to every image: BCE(0.5, 1) = -log 0.5 = log 2 for the real batch "
               "and BCE(0.5, 0) = log 2 for the fakes, and L_D is the sum of the two means: 2 log 2 = 1.386 "
               "(natural log). log 2 = 0.693 is one of the two terms, or the generator's loss.",
    },
    "q_mode_collapse": {
        "answer": "b",
        "why": {
            "a": "When the discriminator wins, its loss drops towards 0 and the generator's climbs; the losses "
                 "here look healthy. The sign is in what G draws: nearly all one digit. G found one kind of 1 that "
                 "fools D and maps almost every z to it (mode collapse).",
            "c": "The classifier was scored on the real test digits above, where it tells the ten digits "
                 "apart well. It sees one class because G draws one class (mode collapse).",
            "d": "MNIST is balanced: each digit is about a tenth of the training images. G drawing mostly 1s "
                 "is the generator's choice: 1s fool D, so G maps almost every z to a 1 (mode collapse).",
        },
    },
}
