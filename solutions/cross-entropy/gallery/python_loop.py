"""Compute each row's stable loss in a Python loop over the batch. The values and gradients are
right, but the loop makes it slow for large batches.
"""

# expect: mistakes=not-vectorized
# expect: score=100

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    batch_size = logits.shape[0]
    total = logits.new_zeros(())

    for i in range(batch_size):
        shifted = logits[i] - logits[i].max().detach()
        row_loss = torch.log(torch.exp(shifted).sum()) - shifted[targets[i]]
        total = total + row_loss

    # NOTE: an empty batch gives 0 / 0 = nan, as F.cross_entropy does, but that nan has
    # no autograd history because the loop never touched the logits.
    return total / batch_size
