"""Select each row's target log-probability with a boolean mask built by comparing
arange(num_classes) to the targets, then take the negative mean.
"""

# expect: full-marks

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    num_classes = logits.shape[1]
    log_probs = torch.log_softmax(logits, dim=-1)

    class_ids = torch.arange(num_classes, device=logits.device)
    is_target = class_ids[None, :] == targets[:, None]

    # Each row has exactly one True entry, so boolean indexing returns one value per row
    # in batch order.
    target_log_probs = log_probs[is_target]
    return -target_log_probs.mean()
