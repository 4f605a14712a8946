"""Tolerances and error measures for comparing a submission's numbers with PyTorch's.

Values are compared in float64 against a float64 reference. The tolerance depends on the dtype the
submission computed in and grows with the largest logit, because a stable float32 implementation
such as ``logsumexp(x) - x[t]`` loses about one float32 ulp of the largest logit in the subtraction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# Relative tolerance, absolute floor, and how many machine epsilons of the largest |logit| to allow.
VALUE_TOLERANCES = {
    torch.float64: (1e-7, 1e-9, 64),
    torch.float32: (1e-5, 1e-6, 16),
    torch.float16: (2e-3, 1e-3, 16),
    torch.bfloat16: (1.6e-2, 1e-2, 16),
}

# Gradient bands by relative error ||got - expected|| / max(||got||, ||expected||), after the bands
# CS231n's gradient-check notes give: above 1e-2 the gradient is probably wrong.
GRADIENT_PASS = {torch.float64: 1e-7, torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 1e-2}


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float

    def describe(self) -> str:
        return f"rtol={self.rtol:.1e}, atol={self.atol:.1e}"


def value_tolerance(dtype: torch.dtype, max_abs_input: float) -> Tolerance:
    rtol, floor, epsilons = VALUE_TOLERANCES.get(dtype, VALUE_TOLERANCES[torch.float32])
    eps = torch.finfo(dtype).eps if dtype.is_floating_point else torch.finfo(torch.float32).eps
    return Tolerance(rtol=rtol, atol=floor + epsilons * eps * max(1.0, max_abs_input))


def values_close(got: torch.Tensor, expected: torch.Tensor, tolerance: Tolerance) -> bool:
    """Return whether ``got`` matches ``expected`` in shape and value; nan matches only nan."""
    if got.shape != expected.shape:
        return False
    return bool(torch.isclose(got, expected, rtol=tolerance.rtol, atol=tolerance.atol, equal_nan=True).all())


def relative_error(got: torch.Tensor, expected: torch.Tensor, floor: float = 1e-6) -> float:
    """Return ||got - expected|| / max(||got||, ||expected||, floor), or inf when either is non-finite.

    The floor keeps an exactly zero gradient (one class) from turning rounding noise into error 1.
    """
    if not (torch.isfinite(got).all() and torch.isfinite(expected).all()):
        return float("inf")
    # Dividing by the largest magnitude first keeps the norms finite for huge finite inputs.
    largest = max(got.abs().max().item() if got.numel() else 0.0, expected.abs().max().item() if expected.numel() else 0.0)
    if largest == 0.0:
        return 0.0
    scaled_got, scaled_expected = got / largest, expected / largest
    difference = (scaled_got - scaled_expected).norm().item()
    return difference / max(scaled_got.norm().item(), scaled_expected.norm().item(), floor / largest)


def gradient_band(error: float) -> str:
    if error <= 1e-7:
        return "excellent (at most 1e-7)"
    if error <= 1e-4:
        return "acceptable in float32 (at most 1e-4)"
    if error <= 1e-2:
        return "suspicious (between 1e-4 and 1e-2)"
    return "wrong (above 1e-2)"


def max_abs(tensor: torch.Tensor) -> float:
    finite = tensor[torch.isfinite(tensor)] if tensor.is_floating_point() else tensor
    return float(finite.abs().max()) if finite.numel() else 0.0
