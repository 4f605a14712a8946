"""Print 300 MB to stdout and stderr inside cross_entropy_loss, then return the correct
loss.

The grader must cap the captured output, stop the run and report output-limit.
"""

# expect: status=output-limit

import sys

import torch

CHUNK = "x" * 999_999 + "\n"  # 1 MB
MAX_CHUNKS = 300

# Chunks printed so far by this process, so it never prints more than MAX_CHUNKS.
_printed_chunks = 0


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    global _printed_chunks
    while _printed_chunks < MAX_CHUNKS:
        stream = sys.stdout if _printed_chunks % 2 == 0 else sys.stderr
        stream.write(CHUNK)
        stream.flush()
        _printed_chunks += 1

    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs.gather(1, targets.unsqueeze(1)).mean()
