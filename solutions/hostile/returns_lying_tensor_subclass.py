"""Return a torch.Tensor subclass whose data is zero but whose comparisons, subtraction,
item(), float() and repr() report the correct loss.

The grader must reject any type other than a plain torch.Tensor and read the raw
numbers, not call methods on the object it receives.
"""

# expect: mistakes=not-a-tensor

import torch

# Torch functions that compare two tensors: they report a match.
_COMPARISONS = {"allclose", "equal"}
_ELEMENTWISE_COMPARISONS = {"isclose", "eq", "__eq__"}
# Torch functions that take a difference: they report a difference of zero.
_DIFFERENCES = {"sub", "subtract", "__sub__", "__rsub__"}


class AlwaysRightTensor(torch.Tensor):
    """Tensor of zeros whose Python-level behavior reports `claimed_value` instead."""

    claimed_value: float = 0.0

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in _COMPARISONS:
            return True
        if name in _ELEMENTWISE_COMPARISONS:
            return torch.tensor(True)
        if name in _DIFFERENCES:
            return torch.zeros(())

        result = super().__torch_function__(func, types, args, kwargs or {})
        # New instances made by .double(), .to() and the like keep the claim.
        if isinstance(result, cls):
            for arg in args:
                if isinstance(arg, cls):
                    result.claimed_value = arg.claimed_value
                    break
        return result

    def __eq__(self, other):
        return True

    __hash__ = torch.Tensor.__hash__

    def __sub__(self, other):
        return torch.zeros(())

    def __rsub__(self, other):
        return torch.zeros(())

    def item(self):
        return self.claimed_value

    def tolist(self):
        return self.claimed_value

    def __float__(self):
        return self.claimed_value

    def __repr__(self):
        return f"tensor({self.claimed_value:.4f})"


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    loss = -log_probs.gather(1, targets.unsqueeze(1)).mean()

    result = torch.zeros_like(loss.detach()).as_subclass(AlwaysRightTensor)
    result.claimed_value = loss.item()
    return result
