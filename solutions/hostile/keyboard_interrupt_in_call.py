"""Raise KeyboardInterrupt inside cross_entropy_loss, as if the user had pressed Ctrl-C.

The grader must report that the function raised and keep grading, because
KeyboardInterrupt is not an Exception subclass and escapes `except Exception`.
"""

# expect: mistakes=raises-error

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    raise KeyboardInterrupt
