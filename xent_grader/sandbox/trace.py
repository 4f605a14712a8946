"""Run-time trace of the torch functions a submission's call reaches.

Runs in the submission's process. A TorchFunctionMode records every public torch function and Tensor
method the submission calls, however it was reached: an alias, ``getattr`` with a built string,
``importlib``, ``nn.CrossEntropyLoss``, ``torch._C._nn`` bindings and ``torch.ops.aten`` operators
(checked with torch 2.13). Calls made inside a torch function are not counted, so the counts are
the submission's own calls. The trace is evidence, not a boundary: code in the same process can
switch the mode off. A TorchDispatchMode would also see aten operators, but entering the first one
imports about 800 modules (0.9 s), so it is not used.
"""

from __future__ import annotations

from collections import Counter

from torch.overrides import TorchFunctionMode


def _function_name(func) -> str:
    name = getattr(func, "__name__", None)
    return name if isinstance(name, str) else type(func).__name__


class CallTrace(TorchFunctionMode):
    """Counts the torch functions called while the submission's function runs."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.calls[_function_name(func)] += 1
        return func(*args, **(kwargs or {}))

    def summary(self) -> dict:
        return {"functions": dict(self.calls.most_common(64)), "call_count": sum(self.calls.values())}
