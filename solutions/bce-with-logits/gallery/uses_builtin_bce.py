"""Call nn.BCELoss on the sigmoid, a forbidden built-in that is also unstable."""

# expect: mistakes=uses-builtin-loss

import torch


def binary_cross_entropy_with_logits(logits, targets, pos_weight=None):
    return torch.nn.BCELoss(weight=None)(torch.sigmoid(logits), targets)
