"""Reach F.cross_entropy through a name built at run time and call it with torch function modes
switched off, so the run-time trace never records it.

The values are right, but the source scan must still flag the trace being switched off.
"""

# expect: mistakes=uses-builtin-loss

import torch

_loss = getattr(torch.nn.functional, "cross" + "_entr" + "opy")


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    with torch._C.DisableTorchFunction():
        return _loss(logits, targets)
