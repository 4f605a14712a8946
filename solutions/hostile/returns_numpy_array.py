"""Return the correct loss as a 0-dim NumPy array of float64, which has no gradient.

The grader must report that the result is not a tensor even though the number is right.
"""

# expect: mistakes=not-a-tensor

import numpy as np
import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    loss = -log_probs.gather(1, targets.unsqueeze(1)).mean()
    # NumPy has no bfloat16, so convert to float64 before leaving torch.
    return loss.detach().to(torch.float64).numpy()
