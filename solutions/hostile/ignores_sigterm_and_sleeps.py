"""Ignore SIGTERM and SIGINT at import, then sleep for 60 seconds inside
cross_entropy_loss.

The grader must follow SIGTERM with SIGKILL, which cannot be ignored, and report a
timeout.
"""

# expect: status=timeout

import signal
import time

import torch

signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    time.sleep(60)

    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs.gather(1, targets.unsqueeze(1)).mean()
