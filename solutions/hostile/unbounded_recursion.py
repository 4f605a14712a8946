"""Recurse without a base case inside cross_entropy_loss until Python raises
RecursionError.

The grader must report that the function raised, because the interpreter's recursion
limit (1000 frames by default) turns the runaway recursion into an exception.
"""

# expect: mistakes=raises-error

import torch


def _log_sum_exp(row: torch.Tensor) -> torch.Tensor:
    # The missing base case means every call recurses again.
    return _log_sum_exp(row)


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    log_probs = logits - _log_sum_exp(logits)
    return -log_probs.gather(1, targets.unsqueeze(1)).mean()
