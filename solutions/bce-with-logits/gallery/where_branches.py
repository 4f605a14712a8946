"""Pick a stable softplus branch per element with torch.where. The values are right, but both
branches are differentiated, and exp(1000.) = inf in the unused one makes the gradient nan.
"""

# expect: mistakes=wrong-gradient

import torch


def softplus(values):
    large = values + torch.log1p(torch.exp(-values))
    small = torch.log1p(torch.exp(values))
    return torch.where(values > 0, large, small)


def binary_cross_entropy_with_logits(logits, targets, pos_weight=None):
    weight = 1.0 if pos_weight is None else pos_weight
    return (weight * targets * softplus(-logits) + (1 - targets) * softplus(logits)).mean()
