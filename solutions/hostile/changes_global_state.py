"""Change torch's global state inside cross_entropy_loss (default dtype float64, random
seed 123, one intra-op thread) and otherwise compute the correct loss in the logits'
dtype.

The grader must compute its expected values with explicit dtypes and its own generator,
in its own process, so these changes cost nothing.
"""

# expect: full-marks

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(123)
    torch.set_num_threads(1)

    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    loss = -log_probs.gather(1, targets.unsqueeze(1)).mean()
    # The default dtype affects only tensors built from Python numbers, so the loss
    # already has the logits' dtype and this cast only guards it.
    return loss.to(logits.dtype)
