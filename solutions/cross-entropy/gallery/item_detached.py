"""Compute the right value, then return torch.tensor(loss.item()). That tensor has no autograd
history, and it has the default dtype (float32 unless changed) even for float64 logits.
"""

# expect: mistakes=detached-graph

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    log_probs = torch.log_softmax(logits, dim=1)
    loss = -log_probs.gather(1, targets.unsqueeze(1)).mean()
    return torch.tensor(loss.item())
