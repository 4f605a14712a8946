"""Multiply both the positive and the negative term by pos_weight instead of the positive term only."""

# expect: mistakes=pos-weight-misapplied

import torch.nn.functional as F


def binary_cross_entropy_with_logits(logits, targets, pos_weight=None):
    losses = targets * F.softplus(-logits) + (1 - targets) * F.softplus(logits)
    if pos_weight is not None:
        losses = pos_weight * losses
    return losses.mean()
