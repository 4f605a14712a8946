"""Replace F.cross_entropy, torch.allclose, torch.isclose and torch.testing.assert_close
at import with versions that report a zero loss or a match, and return a loss of zero.

The grader must compute the expected loss and compare it in its own process, where these
replacements do not exist.
"""

# expect: mistakes=wrong-value

import torch
import torch.nn.functional as F


def _zero_loss(
    logits: torch.Tensor, targets: torch.Tensor, *args, **kwargs
) -> torch.Tensor:
    return logits.new_zeros(())


def _report_all_close(actual, expected, *args, **kwargs) -> bool:
    return True


def _report_elementwise_close(actual, expected, *args, **kwargs) -> torch.Tensor:
    actual_shape = torch.as_tensor(actual).shape
    expected_shape = torch.as_tensor(expected).shape
    shape = torch.broadcast_shapes(actual_shape, expected_shape)
    return torch.ones(shape, dtype=torch.bool)


def _accept_anything(actual, expected, *args, **kwargs) -> None:
    return None


F.cross_entropy = _zero_loss
torch.allclose = _report_all_close
torch.isclose = _report_elementwise_close
torch.testing.assert_close = _accept_anything


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return logits.new_zeros(())
