"""Average the target log-probabilities but never negate them, so the result is the negative of
the loss.
"""

# expect: mistakes=missing-negation

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    log_probs = torch.log_softmax(logits, dim=1)
    target_log_probs = log_probs.gather(1, targets.unsqueeze(1)).squeeze(1)
    return target_log_probs.mean()
