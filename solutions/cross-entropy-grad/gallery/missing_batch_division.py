"""Return softmax - one_hot without dividing by the batch size: the gradient of the summed loss."""

# expect: mistakes=missing-batch-division

import torch
import torch.nn.functional as F


def cross_entropy_grad(logits, targets):
    one_hot = F.one_hot(targets, logits.shape[1]).to(logits.dtype)
    return torch.softmax(logits, dim=1) - one_hot
