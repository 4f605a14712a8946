"""Compute the loss correctly for two or more classes but raise ValueError when num_classes is
1, where the loss is defined and equals 0.
"""

# expect: mistakes=raises-error

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    num_classes = logits.shape[1]
    if num_classes < 2:
        raise ValueError(f"cross-entropy needs at least 2 classes, got num_classes={num_classes}")

    log_probs = torch.log_softmax(logits, dim=1)
    return -log_probs.gather(1, targets.unsqueeze(1)).mean()
