"""Compute log(sum(exp(logits))) without the max shift, which overflows near logits of 1000."""

# expect: mistakes=no-max-shift

import torch


def cross_entropy_loss(logits, targets, label_smoothing=0.0):
    log_probs = logits - torch.log(torch.exp(logits).sum(dim=1, keepdim=True))
    nll = -log_probs.gather(1, targets.unsqueeze(1)).squeeze(1)
    smooth = -log_probs.mean(dim=1)
    return ((1 - label_smoothing) * nll + label_smoothing * smooth).mean()
