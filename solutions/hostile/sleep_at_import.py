"""Sleep for 60 seconds while the module is being imported, then define a correct
function.

The grader's time limit must cover loading as well as calls, so it must report a
timeout.
"""

# expect: status=timeout

import time

import torch

time.sleep(60)


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs.gather(1, targets.unsqueeze(1)).mean()
