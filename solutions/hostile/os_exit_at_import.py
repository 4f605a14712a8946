"""Call os._exit(0) while the module is being imported, which ends the process at once.

The grader must report the run as crashed, because the process exited with status 0
before it returned any result.
"""

# expect: status=crashed

import os

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs.gather(1, targets.unsqueeze(1)).mean()


os._exit(0)
