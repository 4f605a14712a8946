"""Pick the target log-probabilities with advanced indexing, log_probs[arange(N), targets],
then take the negative mean.
"""

# expect: full-marks

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    batch_size = logits.shape[0]
    log_probs = torch.log_softmax(logits, dim=1)
    rows = torch.arange(batch_size, device=logits.device)
    return -log_probs[rows, targets].mean()
