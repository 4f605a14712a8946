"""Start a non-daemon thread that sleeps for 60 seconds, then return the correct loss.

The thread is still running after the call returns and would keep a normal interpreter
exit waiting, so the grader must report it and must not wait for it.
"""

# expect: mistakes=leaves-processes

import threading
import time

import torch

THREAD_SECONDS = 60

# Only the first call starts a thread.
_threads: list[threading.Thread] = []


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    if not _threads:
        thread = threading.Thread(
            target=time.sleep, args=(THREAD_SECONDS,), daemon=False
        )
        thread.start()
        _threads.append(thread)

    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs.gather(1, targets.unsqueeze(1)).mean()
