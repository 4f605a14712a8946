"""Call the ATen operator behind F.cross_entropy directly, through torch.ops.aten, which
skips the Python function that a grader might patch or watch.

The grader must still report the built-in loss.
"""

# expect: mistakes=uses-builtin-loss

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    # Its defaults match F.cross_entropy: no weights, mean reduction, ignore_index -100.
    return torch.ops.aten.cross_entropy_loss(logits, targets)
