"""Compute softplus as log1p(exp(t)) directly: exact for moderate logits, but exp(100.) overflows
float32, so the loss is inf at x = 100 or -100.
"""

# expect: mistakes=unstable-softplus

import torch


def binary_cross_entropy_with_logits(logits, targets, pos_weight=None):
    weight = 1.0 if pos_weight is None else pos_weight
    positive = weight * targets * torch.log1p(torch.exp(-logits))
    negative = (1 - targets) * torch.log1p(torch.exp(logits))
    return (positive + negative).mean()
