"""Give the target class exactly 1 - eps and spread eps over the other num_classes - 1 classes.

PyTorch spreads eps over all classes, the target included. With one class the division by
num_classes - 1 also raises ZeroDivisionError.
"""

# expect: mistakes=smoothing-over-other-classes

import torch


def cross_entropy_loss(logits, targets, label_smoothing=0.0):
    num_classes = logits.shape[1]
    log_probs = torch.log_softmax(logits, dim=1)
    one_hot = torch.nn.functional.one_hot(targets, num_classes).to(logits.dtype)
    q = (1 - label_smoothing) * one_hot + label_smoothing / (num_classes - 1) * (1 - one_hot)
    return -(q * log_probs).sum(dim=1).mean()
