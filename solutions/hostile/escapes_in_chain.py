"""Start a chain of daemons (a child and a grandchild, each in its own session) at import, then exit
hard in the call while they hold the result pipe.

The grader must see the exit at once (crashed, not a timeout) and end both daemons.
"""

# expect: status=crashed

import os
import time

import torch


def _linger() -> None:
    os.setsid()
    for _ in range(60):
        time.sleep(1)
    os._exit(0)


# Only the submission's process forks: each daemon runs _linger and never returns here.
if os.fork() == 0:
    if os.fork() == 0:
        _linger()
    _linger()


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    os._exit(0)
