"""Compute the chunked loss under torch.no_grad() without a custom autograd Function, so the
result has no grad_fn and loss.backward() cannot reach hidden or weight.
"""

# expect: mistakes=detached-graph

import torch

CHUNK_SIZE = 4096


def linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        log_sum_exp = hidden.new_full((hidden.shape[0],), float("-inf"))
        for start in range(0, weight.shape[0], CHUNK_SIZE):
            chunk = torch.logsumexp(hidden @ weight[start:start + CHUNK_SIZE].T, dim=1)
            log_sum_exp = torch.logaddexp(log_sum_exp, chunk)
        target_logits = (hidden * weight[targets]).sum(dim=1)
        return (log_sum_exp - target_logits).mean()
