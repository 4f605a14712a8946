"""Compute the log-sum-exp on detached logits. The loss value is right, but the gradient misses
the softmax term and comes out as -one_hot / batch_size.
"""

# expect: mistakes=wrong-gradient

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    log_sum_exp = torch.logsumexp(logits.detach(), dim=1)
    target_logits = logits.gather(1, targets.unsqueeze(1)).squeeze(1)
    return (log_sum_exp - target_logits).mean()
