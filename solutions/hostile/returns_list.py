"""Return the correct loss inside a one-element Python list.

The grader must report that the result is not a tensor.
"""

# expect: mistakes=not-a-tensor

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> list[float]:
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return [(-log_probs.gather(1, targets.unsqueeze(1)).mean()).item()]
