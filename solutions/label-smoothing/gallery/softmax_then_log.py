"""Take torch.softmax, then torch.log, then mix in the smoothing term.

The smoothing term reads every class, so one probability that underflows to 0 gives an
infinite loss, for example logits [[0., -200.]] with target 0 in float32.
"""

# expect: mistakes=softmax-then-log

import torch


def cross_entropy_loss(logits, targets, label_smoothing=0.0):
    log_probs = torch.log(torch.softmax(logits, dim=1))
    nll = -log_probs.gather(1, targets.unsqueeze(1)).squeeze(1)
    smooth = -log_probs.mean(dim=1)
    return ((1 - label_smoothing) * nll + label_smoothing * smooth).mean()
