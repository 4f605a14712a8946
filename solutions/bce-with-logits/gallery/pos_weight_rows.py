"""Broadcast pos_weight along the rows with pos_weight[:, None] instead of along the last axis.

It raises when the logits are not square in their last two axes, and is wrong when they are.
"""

# expect: mistakes=pos-weight-misapplied

import torch.nn.functional as F


def binary_cross_entropy_with_logits(logits, targets, pos_weight=None):
    positive = targets * F.softplus(-logits)
    if pos_weight is not None:
        positive = pos_weight[:, None] * positive
    return (positive + (1 - targets) * F.softplus(logits)).mean()
