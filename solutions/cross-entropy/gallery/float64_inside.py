"""Compute the stable loss in float64 and cast the result back to the logits' dtype.

The casts are differentiable, so the gradient still reaches the original logits.
"""

# expect: full-marks

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    wide_logits = logits.to(torch.float64)

    row_max = wide_logits.amax(dim=1, keepdim=True).detach()
    shifted = wide_logits - row_max
    log_probs = shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))

    loss = -log_probs.gather(1, targets.view(-1, 1)).mean()
    return loss.to(logits.dtype)
