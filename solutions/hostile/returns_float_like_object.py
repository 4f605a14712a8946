"""Return an object that converts to the correct loss with float() and claims to equal
anything, but is not a tensor.

The grader must check the type of the result, not its float() value or its == operator,
and report that it is not a tensor.
"""

# expect: mistakes=not-a-tensor

import torch


class FloatLike:
    """Number stand-in that reports the stored loss through float() and ==."""

    def __init__(self, value: float) -> None:
        self._value = value

    def __float__(self) -> float:
        return self._value

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return f"tensor({self._value:.4f})"


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> FloatLike:
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    loss = -log_probs.gather(1, targets.unsqueeze(1)).mean()
    return FloatLike(loss.item())
