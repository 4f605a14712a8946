"""Call F.cross_entropy with label_smoothing instead of implementing the loss."""

# expect: mistakes=uses-builtin-loss

import torch.nn.functional as F


def cross_entropy_loss(logits, targets, label_smoothing=0.0):
    return F.cross_entropy(logits, targets, label_smoothing=label_smoothing)
