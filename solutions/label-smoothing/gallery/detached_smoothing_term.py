"""Compute the smoothing term from detached log-probabilities.

The value is right, but autograd misses the uniform part of the target, so the gradient is wrong
whenever eps > 0.
"""

# expect: mistakes=wrong-gradient

import torch


def cross_entropy_loss(logits, targets, label_smoothing=0.0):
    log_probs = torch.log_softmax(logits, dim=1)
    nll = -log_probs.gather(1, targets.unsqueeze(1)).squeeze(1)
    smooth = -log_probs.detach().mean(dim=1)
    return ((1 - label_smoothing) * nll + label_smoothing * smooth).mean()
