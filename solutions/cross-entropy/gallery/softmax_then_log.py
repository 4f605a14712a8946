"""Take torch.softmax and then torch.log. Softmax is shift-stable, but a target probability
that underflows to 0 makes the log -inf and the loss inf, for example logits [[0., -200.]]
with target 1 in float32.
"""

# expect: mistakes=softmax-then-log

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    probs = torch.softmax(logits, dim=1)
    log_probs = torch.log(probs)
    rows = torch.arange(logits.shape[0])
    return -log_probs[rows, targets].mean()
