"""Build the function's body as a string and run it with exec, so no name in the file shows what
it computes.

The source scan must flag exec: it runs code the grader cannot inspect.
"""

# expect: mistakes=uses-builtin-loss

import torch

_BODY = "import torch.nn.functional as F\ndef f(x, t):\n    return F.cross_entropy(x, t)\n"
_namespace: dict = {}
exec(_BODY, _namespace)


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    with torch._C.DisableTorchFunction():
        return _namespace["f"](logits, targets)
