"""Compute the gradient one row at a time in a Python loop. The values are right, but the number
of torch calls grows with the batch size.
"""

# expect: mistakes=not-vectorized
# expect: score=100

import torch


def cross_entropy_grad(logits, targets):
    batch_size = logits.shape[0]
    rows = []
    for i in range(batch_size):
        probs = torch.softmax(logits[i], dim=0)
        probs[targets[i]] -= 1.0
        rows.append(probs / batch_size)
    return torch.stack(rows)
