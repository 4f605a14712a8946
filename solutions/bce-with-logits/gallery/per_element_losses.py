"""Return the per-element losses, a tensor of the logits' shape, without taking the mean."""

# expect: mistakes=not-scalar

import torch.nn.functional as F


def binary_cross_entropy_with_logits(logits, targets, pos_weight=None):
    weight = 1.0 if pos_weight is None else pos_weight
    return weight * targets * F.softplus(-logits) + (1 - targets) * F.softplus(logits)
