"""Start a child Python process that sleeps for 60 seconds and is never waited for, then
return the correct loss.

The child still runs, with the submission's stdout and stderr, after the call returns.
The grader must report the leftover process, end it, and not wait for it to close those
pipes.
"""

# expect: mistakes=leaves-processes

import subprocess
import sys

import torch

CHILD_CODE = "import time; time.sleep(60)"

# Only the first call starts a child. Keeping the Popen object alive also stops it from
# warning, when it is garbage collected, that the child is still running.
_children: list[subprocess.Popen] = []


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    if not _children:
        _children.append(subprocess.Popen([sys.executable, "-c", CHILD_CODE]))

    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs.gather(1, targets.unsqueeze(1)).mean()
