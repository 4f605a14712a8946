"""Compute each row's loss as torch.logsumexp of the logits minus the target logit, then average.

torch.logsumexp shifts by the row max internally, so the result is stable for large logits.
"""

# expect: full-marks

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    log_normalizer = torch.logsumexp(logits, dim=1)
    target_logits = logits.gather(1, targets.unsqueeze(1)).squeeze(1)

    # NOTE: both terms are about as large as the logits, so in float32 the difference keeps
    # only the logits' absolute precision. For [[1000., 1001., 1002.]] the loss is 1.3e-5 away
    # from F.cross_entropy, which is less than one float32 ulp of 1000 (6.1e-5) but right at
    # the edge of torch.testing.assert_close's float32 tolerance (1e-5 + 1.3e-6 * |expected|).
    return (log_normalizer - target_logits).mean()
