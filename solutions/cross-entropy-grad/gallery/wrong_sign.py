"""Return (one_hot - softmax) / batch_size, the negative of the gradient."""

# expect: mistakes=wrong-sign

import torch
import torch.nn.functional as F


def cross_entropy_grad(logits, targets):
    one_hot = F.one_hot(targets, logits.shape[1]).to(logits.dtype)
    return (one_hot - torch.softmax(logits, dim=1)) / logits.shape[0]
