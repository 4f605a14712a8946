"""Compute the loss correctly, but set PyTorch's random seed, default dtype (to float64) and
number of CPU threads at import time.

The loss is built only from operations on the logits, so it keeps the logits' dtype even
though new floating-point tensors now default to float64.
"""

# expect: full-marks

import torch

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    log_probs = torch.log_softmax(logits, dim=1)
    rows = torch.arange(logits.shape[0], device=logits.device)
    return -log_probs[rows, targets].mean()
