"""Clamp the sigmoid into [1e-7, 1 - 1e-7] before the log: finite, but wrong wherever the clamp
binds, for example 15.9 instead of 20 for x = 20, y = 0 in float32.
"""

# expect: mistakes=sigmoid-then-log

import torch


def binary_cross_entropy_with_logits(logits, targets, pos_weight=None):
    probs = torch.sigmoid(logits).clamp(1e-7, 1 - 1e-7)
    weight = 1.0 if pos_weight is None else pos_weight
    losses = -(weight * targets * torch.log(probs) + (1 - targets) * torch.log(1 - probs))
    return losses.mean()
