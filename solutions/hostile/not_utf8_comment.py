"""Hold a comment saved in Latin-1, whose byte 0xE9 is not valid UTF-8, in a file with
no encoding declaration. The code itself is correct.

`python file.py` rejects the file, but compile() on the raw bytes in CPython 3.11.7
skips the bytes of comments and accepts it. The grader must decode the source strictly
and report a syntax error.
"""

# expect: status=syntax-error

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs.gather(1, targets.unsqueeze(1)).mean()


# Café: this comment was saved in Latin-1, so the letter before the colon is the byte
# 0xE9.
