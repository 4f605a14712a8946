"""Reach the built-in loss through importlib.import_module and names assembled at run
time, so neither the module nor the function is spelled anywhere in this file.

A scan of the source finds nothing, so the grader must detect the call while the
function runs and report the built-in loss.
"""

# expect: mistakes=uses-builtin-loss

import importlib

import torch

# The built-in loss's module and function names, reversed so no text search finds them.
MODULE_NAME = "lanoitcnuf.nn.hcrot"[::-1]
FUNCTION_NAME = "yportne_ssorc"[::-1]


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    module = importlib.import_module(MODULE_NAME)
    loss_function = getattr(module, FUNCTION_NAME)
    return loss_function(logits, targets)
