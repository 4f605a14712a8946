"""Normalize with log_softmax over dim=0, the batch, instead of over the classes."""

# expect: mistakes=wrong-softmax-dim

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    log_probs = torch.log_softmax(logits, dim=0)
    target_log_probs = log_probs.gather(1, targets.unsqueeze(1)).squeeze(1)
    return -target_log_probs.mean()
