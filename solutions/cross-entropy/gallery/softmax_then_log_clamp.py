"""Take softmax, clamp the probabilities at 1e-12 and then the log. The clamp caps each row's
loss near 27.6 and gives a zero gradient for clamped rows.
"""

# expect: mistakes=softmax-then-log

import torch
import torch.nn.functional as F


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    probs = F.softmax(logits, dim=1)
    log_probs = probs.clamp(min=1e-12).log()
    target_log_probs = log_probs.gather(1, targets[:, None]).squeeze(1)
    return -target_log_probs.mean()
