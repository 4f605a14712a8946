"""Accept label_smoothing but never use it, so every case with eps > 0 gets the plain loss."""

# expect: mistakes=smoothing-ignored

import torch


def cross_entropy_loss(logits, targets, label_smoothing=0.0):
    log_probs = torch.log_softmax(logits, dim=1)
    return -log_probs.gather(1, targets.unsqueeze(1)).mean()
