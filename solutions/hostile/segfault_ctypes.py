"""Read memory at address 0 through ctypes inside cross_entropy_loss, which raises
SIGSEGV.

The grader must report the run as crashed by a signal and keep grading other files.
"""

# expect: status=crashed

import ctypes

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    # string_at(0) calls strlen() on a null pointer, so the kernel sends SIGSEGV.
    ctypes.string_at(0)

    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs.gather(1, targets.unsqueeze(1)).mean()
