"""Leave out the colon after a def line, so the file does not compile.

The grader must report a syntax error with the line number instead of running anything.
"""

# expect: status=syntax-error

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs.gather(1, targets.unsqueeze(1)).mean()
