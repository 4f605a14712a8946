"""Compute a stable loss in NumPy and wrap the result in a new tensor, which has no autograd
history back to the logits.
"""

# expect: mistakes=detached-graph

import numpy as np
import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    scores = logits.detach().cpu().numpy()
    labels = targets.detach().cpu().numpy()

    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(len(labels)), labels].mean()

    return torch.tensor(loss, dtype=logits.dtype)
