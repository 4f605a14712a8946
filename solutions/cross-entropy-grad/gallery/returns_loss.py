"""Return the loss instead of its gradient: a 0-dim tensor where a (batch_size, num_classes) one
is expected.
"""

# expect: mistakes=wrong-shape

import torch


def cross_entropy_grad(logits, targets):
    log_probs = torch.log_softmax(logits, dim=1)
    return -log_probs[torch.arange(logits.shape[0]), targets].mean()
