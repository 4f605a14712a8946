"""Allocate up to 12 GiB of Python bytes objects in 1 GiB steps inside
cross_entropy_loss.

Python raises MemoryError here, where torch raises RuntimeError, and the grader must
report memory-limit for both.
"""

# expect: status=memory-limit

import torch

STEP_BYTES = 1 << 30
MAX_STEPS = 12

# Only the first call allocates, so the process never allocates more than MAX_STEPS
# steps in total. The objects are freed when that call returns or raises.
_allocation_done = False


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    global _allocation_done
    if not _allocation_done:
        _allocation_done = True
        blocks = []
        for _ in range(MAX_STEPS):
            # A repeated nonzero byte writes every page, which bytes(n) may not do.
            blocks.append(b"\x01" * STEP_BYTES)
        blocks.clear()

    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs.gather(1, targets.unsqueeze(1)).mean()
