"""Write the stable softplus with clamp(min=0): the values are right everywhere, but autograd gives
clamp a slope of 1 and abs a slope of 0 at exactly x = 0, so the gradient there is wrong.
"""

# expect: mistakes=wrong-gradient

import torch


def binary_cross_entropy_with_logits(logits, targets, pos_weight=None):
    weight = 1.0 if pos_weight is None else pos_weight
    stable_tail = torch.log1p(torch.exp(-logits.abs()))
    softplus_positive = logits.clamp(min=0) + stable_tail
    softplus_negative = (-logits).clamp(min=0) + stable_tail
    return (weight * targets * softplus_negative + (1 - targets) * softplus_positive).mean()
