"""Compute a stable loss in NumPy and wrap the result in a new tensor, which has no autograd
history back to the logits.
"""

# expect: mistakes=detached-graph

import numpy as np
import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    x = logits.detach().cpu().numpy()
    y = targets.detach().cpu().numpy()

    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(len(y)), y].mean()

    return torch.tensor(loss, dtype=logits.dtype)
