"""Call sys.exit(0) while the module is being imported, after a correct function is
defined.

The grader must report a load error and must not score the half-imported module, because
exit status 0 is not a result.
"""

# expect: status=load-error

import sys

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs.gather(1, targets.unsqueeze(1)).mean()


sys.exit(0)
