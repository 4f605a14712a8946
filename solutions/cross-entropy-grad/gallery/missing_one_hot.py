"""Return softmax / batch_size, forgetting the derivative of the target logit, so rows sum to 1/N."""

# expect: mistakes=missing-one-hot

import torch


def cross_entropy_grad(logits, targets):
    return torch.softmax(logits, dim=1) / logits.shape[0]
