"""Get the softmax as exp(z - logsumexp(z)) and subtract 1 at the targets with scatter_add."""

# expect: full-marks

import torch


def cross_entropy_grad(logits, targets):
    probs = torch.exp(logits - torch.logsumexp(logits, dim=1, keepdim=True))
    minus_ones = torch.full((logits.shape[0], 1), -1.0, dtype=logits.dtype)
    grad = probs.scatter_add(1, targets.unsqueeze(1), minus_ones)
    return grad / logits.shape[0]
