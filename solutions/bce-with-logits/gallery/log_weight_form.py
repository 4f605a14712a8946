"""Rewrite the loss as (1 - y) * x + (1 + (w - 1) * y) * softplus(-x), with softplus(-x) computed
as max(-x, 0) + log1p(exp(-|x|)) and the max taken with torch.maximum.
"""

# expect: full-marks

import torch


def binary_cross_entropy_with_logits(logits, targets, pos_weight=None):
    if pos_weight is None:
        log_weight = torch.ones_like(targets)
    else:
        log_weight = 1 + (pos_weight - 1) * targets
    negative_logits = -logits
    softplus_negative = torch.maximum(negative_logits, torch.zeros_like(logits)) + torch.log1p(
        torch.exp(-logits.abs())
    )
    return ((1 - targets) * logits + log_weight * softplus_negative).mean()
