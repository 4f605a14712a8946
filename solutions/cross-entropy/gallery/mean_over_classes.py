"""Multiply the log-probabilities by a one-hot mask and call .mean() on the whole matrix, which
divides by batch_size * num_classes instead of batch_size.
"""

# expect: mistakes=mean-over-classes

import torch
import torch.nn.functional as F


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    log_probs = F.log_softmax(logits, dim=1)
    one_hot = F.one_hot(targets, num_classes=logits.shape[1]).to(log_probs.dtype)
    return -(one_hot * log_probs).mean()
