"""Sum the per-row losses over the batch instead of averaging them, so the result is batch_size
times too large.
"""

# expect: mistakes=sum-instead-of-mean

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    log_probs = torch.log_softmax(logits, dim=1)
    target_log_probs = log_probs.gather(1, targets.unsqueeze(1)).squeeze(1)
    return -target_log_probs.sum()
