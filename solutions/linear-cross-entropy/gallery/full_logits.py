"""Compute the full (N, V) logits with one matrix product and a stable log-sum-exp. The values
and gradients are right, but the logits and their gradient are as large as the problem forbids.
"""

# expect: mistakes=materializes-logits

import torch


def linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    logits = hidden @ weight.T
    row_max = logits.max(dim=1, keepdim=True).values.detach()
    log_sum_exp = (logits - row_max).exp().sum(dim=1).log() + row_max.squeeze(1)
    target_logits = logits.gather(1, targets.unsqueeze(1)).squeeze(1)
    return (log_sum_exp - target_logits).mean()
