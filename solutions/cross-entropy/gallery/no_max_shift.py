"""Compute log(sum(exp(logits))) without subtracting the row max first. exp() overflows to inf
for logits near 1000, and the sum underflows to 0 (log gives -inf) for logits near -1000.
"""

# expect: mistakes=no-max-shift

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    log_sum_exp = torch.log(torch.exp(logits).sum(dim=1))
    target_logits = logits.gather(1, targets.unsqueeze(1)).squeeze(1)
    return (log_sum_exp - target_logits).mean()
