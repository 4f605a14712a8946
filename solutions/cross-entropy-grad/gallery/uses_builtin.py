"""Differentiate F.cross_entropy with torch.autograd.grad: both the built-in loss and autograd."""

# expect: mistakes=uses-builtin-loss,uses-autograd

import torch
import torch.nn.functional as F


def cross_entropy_grad(logits, targets):
    leaf = logits.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = F.cross_entropy(leaf, targets)
    return torch.autograd.grad(loss, leaf)[0]
