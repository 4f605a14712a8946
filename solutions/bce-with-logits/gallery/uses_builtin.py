"""Call F.binary_cross_entropy_with_logits instead of implementing the loss."""

# expect: mistakes=uses-builtin-loss

import torch.nn.functional as F


def binary_cross_entropy_with_logits(logits, targets, pos_weight=None):
    return F.binary_cross_entropy_with_logits(logits, targets, pos_weight=pos_weight)
