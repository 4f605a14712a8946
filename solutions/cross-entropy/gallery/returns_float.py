"""Compute the right value but return it as a Python float via .item(), so the caller gets no
tensor and no gradient.
"""

# expect: mistakes=not-a-tensor,detached-graph

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    log_probs = torch.log_softmax(logits, dim=1)
    loss = -log_probs.gather(1, targets.unsqueeze(1)).mean()
    return loss.item()
