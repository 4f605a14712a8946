"""Move the inputs to the GPU with .cuda() inside cross_entropy_loss, on a machine
without CUDA.

The grader must report the error that .cuda() raises (an AssertionError on the CPU-only
torch 2.13 build) as an error raised by the function.
"""

# expect: mistakes=raises-error

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    logits = logits.cuda()
    targets = targets.cuda()

    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs.gather(1, targets.unsqueeze(1)).mean().cpu()
