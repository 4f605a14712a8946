"""Use F.logsigmoid for both log-probabilities, log(sigmoid(x)) and log(1 - sigmoid(x)) = logsigmoid(-x)."""

# expect: full-marks

import torch.nn.functional as F


def binary_cross_entropy_with_logits(logits, targets, pos_weight=None):
    weight = 1.0 if pos_weight is None else pos_weight
    losses = -(weight * targets * F.logsigmoid(logits) + (1 - targets) * F.logsigmoid(-logits))
    return losses.mean()
