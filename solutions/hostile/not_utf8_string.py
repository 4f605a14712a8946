"""Hold a string literal saved in Latin-1, whose byte 0xE9 is not valid UTF-8, in a
file with no encoding declaration.

Python reads source as UTF-8 by default, so the file does not compile. The grader must
report a syntax error and must not fail while reading the file itself.
"""

# expect: status=syntax-error

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs.gather(1, targets.unsqueeze(1)).mean()


# The next string is "caf\u00e9" written in Latin-1, so its last byte is 0xE9 alone.
GREETING = "café"
