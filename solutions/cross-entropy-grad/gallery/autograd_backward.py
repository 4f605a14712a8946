"""Build the loss on a copy of the logits that requires grad, call backward() and return its grad.

The values are right, but the exercise is to derive the gradient without autograd.
"""

# expect: mistakes=uses-autograd

import torch


def cross_entropy_grad(logits, targets):
    with torch.enable_grad():
        leaf = logits.detach().clone().requires_grad_(True)
        log_probs = leaf - torch.logsumexp(leaf, dim=1, keepdim=True)
        loss = -log_probs.gather(1, targets.unsqueeze(1)).mean()
        loss.backward()
    return leaf.grad
