"""Shift and exponentiate the logits in place, which changes the caller's tensor."""

# expect: mistakes=mutates-inputs

import torch


def cross_entropy_grad(logits, targets):
    logits -= logits.max(dim=1, keepdim=True).values
    logits.exp_()
    probs = logits / logits.sum(dim=1, keepdim=True)
    probs[torch.arange(logits.shape[0]), targets] -= 1.0
    return probs / logits.shape[0]
