"""Write a file of up to 512 MB into the working directory in 1 MB chunks inside
cross_entropy_loss, and delete it afterwards.

The grader's file-size limit must make a write fail with OSError (EFBIG), which the
grader reports as an error raised by the function.
"""

# expect: mistakes=raises-error

import pathlib

import torch

CHUNK = b"\x01" * 1_000_000  # 1 MB
MAX_CHUNKS = 512
FILE_NAME = "disk_fill.bin"

# Chunks written so far by this process, so it never writes more than MAX_CHUNKS.
_written_chunks = 0


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    global _written_chunks
    path = pathlib.Path.cwd() / FILE_NAME
    try:
        with path.open("wb") as file:
            while _written_chunks < MAX_CHUNKS:
                file.write(CHUNK)
                file.flush()
                _written_chunks += 1
    finally:
        path.unlink(missing_ok=True)

    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs.gather(1, targets.unsqueeze(1)).mean()
