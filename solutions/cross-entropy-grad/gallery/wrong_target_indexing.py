"""Subtract 1 with probs[:, targets], which changes every column some target names in every row."""

# expect: mistakes=wrong-target-indexing

import torch


def cross_entropy_grad(logits, targets):
    probs = torch.softmax(logits, dim=1)
    probs[:, targets] -= 1.0
    return probs / logits.shape[0]
