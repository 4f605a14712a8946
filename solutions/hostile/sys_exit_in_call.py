"""Call sys.exit(0) inside cross_entropy_loss, which raises SystemExit in the caller.

The grader must catch SystemExit like any other exception and report that the function
raised.
"""

# expect: mistakes=raises-error

import sys

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    sys.exit(0)
