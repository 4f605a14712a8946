"""Allocate up to 12 GiB of torch tensors in 1 GiB steps inside cross_entropy_loss,
writing every byte so the pages are really used.

The grader's memory limit must stop the allocation, and the grader must report
memory-limit. Torch 2.13 raises RuntimeError ("DefaultCPUAllocator: can't allocate
memory"), not MemoryError.
"""

# expect: status=memory-limit

import torch

STEP_BYTES = 1 << 30
MAX_STEPS = 12

# Only the first call allocates, so the process never allocates more than MAX_STEPS
# steps in total. The tensors are freed when that call returns or raises.
_allocation_done = False


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    global _allocation_done
    if not _allocation_done:
        _allocation_done = True
        blocks = []
        for _ in range(MAX_STEPS):
            block = torch.empty(STEP_BYTES, dtype=torch.uint8)
            block.fill_(1)
            blocks.append(block)
        blocks.clear()

    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs.gather(1, targets.unsqueeze(1)).mean()
