"""Spin the CPU for 60 seconds inside cross_entropy_loss, then return the correct loss.

The grader must stop the run at its time limit and report a timeout.
"""

# expect: status=timeout

import time

import torch

BUSY_SECONDS = 60.0
MAX_ITERATIONS = 10**12


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    # The iteration count is finite, and the deadline check ends the loop after
    # BUSY_SECONDS even if nothing stops the process from outside.
    deadline = time.monotonic() + BUSY_SECONDS
    for _ in range(MAX_ITERATIONS):
        if time.monotonic() >= deadline:
            break

    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs.gather(1, targets.unsqueeze(1)).mean()
