"""Raise a custom BaseException subclass while the module is being imported.

The grader must report a load error, because an exception outside the Exception
hierarchy escapes `except Exception` and could otherwise end the grader's own process.
"""

# expect: status=load-error

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs.gather(1, targets.unsqueeze(1)).mean()


class SubmissionAbort(BaseException):
    """Exception that derives from BaseException directly, like SystemExit."""


raise SubmissionAbort("raised while the submission was being imported")
