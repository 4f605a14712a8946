"""Build nn.CrossEntropyLoss from a module loaded with importlib.import_module("torch.nn") and
call it instead of implementing the loss.
"""

# expect: mistakes=uses-builtin-loss

import importlib

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    nn_module = importlib.import_module("torch.nn")
    loss_module = nn_module.CrossEntropyLoss()
    return loss_module(logits, targets)
