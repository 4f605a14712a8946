"""Import a package that is not installed, which raises ModuleNotFoundError at import.

The grader must report a load error that names the missing module.
"""

# expect: status=load-error

import not_a_real_package_xyz  # noqa: F401 - this import is meant to fail
import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs.gather(1, targets.unsqueeze(1)).mean()
