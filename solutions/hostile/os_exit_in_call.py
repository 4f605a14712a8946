"""Call os._exit(0) inside cross_entropy_loss, which ends the process without raising.

The grader must report the run as crashed, because no result arrives although the exit
status is 0.
"""

# expect: status=crashed

import os

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    os._exit(0)
