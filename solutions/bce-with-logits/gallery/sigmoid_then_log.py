"""Take torch.sigmoid and then the log of s and of 1 - s.

In float32 sigmoid(20.) rounds to 1, so log(1 - s) is -inf, and a target of 1 there gives
0 * -inf = nan.
"""

# expect: mistakes=sigmoid-then-log

import torch


def binary_cross_entropy_with_logits(logits, targets, pos_weight=None):
    probs = torch.sigmoid(logits)
    weight = 1.0 if pos_weight is None else pos_weight
    losses = -(weight * targets * torch.log(probs) + (1 - targets) * torch.log(1 - probs))
    return losses.mean()
