"""Import the grader's own package, look for a reference loss function in it and call
that, or call F.cross_entropy when none is found.

The grader must keep its reference out of the submission's process, and must report the
use of a built-in loss however the submission reached it.
"""

# expect: mistakes=uses-builtin-loss

import importlib
import sys

import torch
import torch.nn.functional as F

# Places where a grader might keep its reference. Failed imports are skipped.
GUESSED_MODULES = (
    "xent_grader",
    "xent_grader.reference",
    "xent_grader.problems",
    "xent_grader.problems.cross_entropy",
    "xent_grader.checks",
)


def _find_reference_functions() -> list:
    for name in GUESSED_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - any failure just means this guess was wrong
            continue

    functions = []
    for module_name, module in list(sys.modules.items()):
        if module is None or not module_name.startswith("xent_grader"):
            continue
        for attribute_name, value in list(vars(module).items()):
            if "reference" in attribute_name.lower() and callable(value):
                functions.append(value)
    return functions


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    for function in _find_reference_functions():
        try:
            result = function(logits, targets)
        except Exception:  # noqa: BLE001 - skip a function with another signature
            continue
        if isinstance(result, torch.Tensor) and result.dim() == 0:
            return result.to(logits.dtype)

    return F.cross_entropy(logits, targets)
