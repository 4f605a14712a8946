"""PyTorch compositions the advisory performance note times beside a submission, in its process.

Preloaded with the harness, so the submission's process can call them by name without importing
anything new. They are never used to grade.
"""

import torch
import torch.nn.functional as F


def linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(hidden @ weight.T, targets)
