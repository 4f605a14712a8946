"""Start a daemon the classic way: a child in a new session (setsid) forks a grandchild
that sleeps for 60 seconds, and the child exits at once. Then return the correct loss.

The grandchild is in another session, outside the submission's process group, and its
parent has exited, so without a child subreaper it reparents to init. The grader must
still find it, report it and end it.
"""

# expect: mistakes=leaves-processes

import subprocess
import sys

import torch

# The child forks, and only the grandchild sleeps, so the child exits immediately.
DAEMON_CODE = """
import os
import time

if os.fork() == 0:
    time.sleep(60)
os._exit(0)
"""

# Only the first call starts the daemon.
_daemon_started = False


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    global _daemon_started
    if not _daemon_started:
        _daemon_started = True
        child = subprocess.Popen(
            [sys.executable, "-c", DAEMON_CODE],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        child.wait(timeout=30)

    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs.gather(1, targets.unsqueeze(1)).mean()
