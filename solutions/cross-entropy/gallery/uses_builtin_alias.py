"""Compute log_softmax, then pass it to the built-in NLL loss, reached through a module alias and
getattr with a concatenated name.
"""

# expect: mistakes=uses-builtin-loss

import torch
import torch.nn.functional as functional_ops


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    log_probs = torch.log_softmax(logits, dim=1)
    reduce_loss = getattr(functional_ops, "nll" + "_loss")
    return reduce_loss(log_probs, targets)
