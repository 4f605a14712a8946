"""Allocate up to 12 GiB of torch tensors in 1 GiB steps inside cross_entropy_loss,
writing every byte, and keep them referenced after the call fails or returns.

Because the memory stays in use, later work in the same process (copying the next
inputs, sending a result) fails too. The grader must still report memory-limit, not a
crash.
"""

# expect: status=memory-limit

import torch

STEP_BYTES = 1 << 30
MAX_STEPS = 12

# Tensors stay referenced here, so the process never holds more than MAX_STEPS steps.
_held_tensors: list[torch.Tensor] = []


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    while len(_held_tensors) < MAX_STEPS:
        block = torch.empty(STEP_BYTES, dtype=torch.uint8)
        block.fill_(1)
        _held_tensors.append(block)

    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs.gather(1, targets.unsqueeze(1)).mean()
