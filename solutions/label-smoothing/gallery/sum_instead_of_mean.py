"""Sum the smoothed per-row losses over the batch instead of averaging them."""

# expect: mistakes=sum-instead-of-mean

import torch


def cross_entropy_loss(logits, targets, label_smoothing=0.0):
    log_probs = torch.log_softmax(logits, dim=1)
    nll = -log_probs.gather(1, targets.unsqueeze(1)).squeeze(1)
    smooth = -log_probs.mean(dim=1)
    return ((1 - label_smoothing) * nll + label_smoothing * smooth).sum()
