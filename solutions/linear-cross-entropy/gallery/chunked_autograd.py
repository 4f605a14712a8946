"""Split the vocabulary into chunks but let autograd record every chunk. Autograd saves each
chunk's logits and exponentials for backward, so the peak memory is as large as the full logits.
"""

# expect: mistakes=materializes-logits

import torch

CHUNK_SIZE = 4096


def linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    chunk_log_sum_exps = []
    for start in range(0, weight.shape[0], CHUNK_SIZE):
        logits = hidden @ weight[start:start + CHUNK_SIZE].T
        chunk_log_sum_exps.append(torch.logsumexp(logits, dim=1))
    log_sum_exp = torch.logsumexp(torch.stack(chunk_log_sum_exps, dim=1), dim=1)
    target_logits = (hidden * weight[targets]).sum(dim=1)
    return (log_sum_exp - target_logits).mean()
