"""Compute the correct loss but return None, as when the return statement is forgotten.

The grader must report that the result is not a tensor.
"""

# expect: mistakes=not-a-tensor

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    target_log_probs = log_probs.gather(1, targets.unsqueeze(1))
    loss = -target_log_probs.mean()  # noqa: F841 - computed but not returned
