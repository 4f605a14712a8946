"""PyTorch compositions the advisory performance note times beside a submission, in its process.

Preloaded with the harness, so the submission's process can call them by name without importing
anything new. They are never used to grade.
"""

import torch
import torch.nn.functional as F


def linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(hidden @ weight.T, targets)


def cross_entropy_grad(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Compute the gradient of F.cross_entropy's mean w.r.t. the logits with autograd."""
    with torch.enable_grad():
        leaf = logits.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(F.cross_entropy(leaf, targets), leaf)
    return grad
