"""Subtract the row max from the caller's logits in place under torch.no_grad(). The loss and
gradient are right, but the caller's logits tensor is changed.
"""

# expect: mistakes=mutates-inputs

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        logits -= logits.max(dim=1, keepdim=True).values

    log_sum_exp = logits.exp().sum(dim=1).log()
    target_logits = logits[torch.arange(logits.shape[0]), targets]
    return (log_sum_exp - target_logits).mean()
