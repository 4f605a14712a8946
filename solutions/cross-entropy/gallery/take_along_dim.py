"""Compute log-softmax with an explicit max shift, then read the target entries with
torch.take_along_dim.
"""

# expect: full-marks

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    shifted = logits - logits.amax(dim=-1, keepdim=True).detach()
    log_probs = shifted - shifted.exp().sum(dim=-1, keepdim=True).log()
    picked = torch.take_along_dim(log_probs, targets[:, None], dim=-1)
    return -picked.squeeze(-1).mean()
