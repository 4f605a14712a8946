"""Read a line from stdin with input() while the module is being imported.

The grader must give the submission a closed stdin, so input() raises EOFError at once
and the grader reports a load error instead of waiting.
"""

# expect: status=load-error

import select
import sys

import torch

STDIN_WAIT_SECONDS = 60


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs.gather(1, targets.unsqueeze(1)).mean()


# An open terminal or pipe would make input() block forever, so wait for data or end of
# file for at most STDIN_WAIT_SECONDS first. /dev/null, and a pipe whose writer has
# closed, are ready at once.
if sys.stdin is not None:
    ready, _, _ = select.select([sys.stdin], [], [], STDIN_WAIT_SECONDS)
    if not ready:
        raise TimeoutError(
            f"timed out after {STDIN_WAIT_SECONDS} s waiting for a line on stdin"
        )

line = input()
