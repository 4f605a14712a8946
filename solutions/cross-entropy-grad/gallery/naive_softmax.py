"""Compute the softmax as exp(z) / sum(exp(z)) without the max shift.

exp overflows to inf near logits of 1000 (inf / inf is nan), and a row near -1000 gives 0 / 0.
"""

# expect: mistakes=unstable-softmax

import torch
import torch.nn.functional as F


def cross_entropy_grad(logits, targets):
    exp_logits = torch.exp(logits)
    probs = exp_logits / exp_logits.sum(dim=1, keepdim=True)
    one_hot = F.one_hot(targets, logits.shape[1]).to(logits.dtype)
    return (probs - one_hot) / logits.shape[0]
