"""Return 0 for a mean over no counted target, where F.cross_entropy returns nan (0 / 0).
"""

# expect: mistakes=empty-mean-not-nan

import torch


def _log_softmax_rows(rows: torch.Tensor) -> torch.Tensor:
    """Return the stable log-softmax of each row of (positions, C) logits."""
    shifted = rows - rows.max(dim=1, keepdim=True).values.detach()
    return shifted - shifted.exp().sum(dim=1, keepdim=True).log()


def cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    unbatched = input.dim() == 1
    batched = input.unsqueeze(0) if unbatched else input
    classes = batched.shape[1]
    element_shape = (batched.shape[0], *batched.shape[2:])

    # Move the class axis last and flatten every other axis: one row per element.
    log_probs = _log_softmax_rows(batched.movedim(1, -1).reshape(-1, classes))
    class_weight = torch.ones(classes, dtype=log_probs.dtype) if weight is None else weight.to(log_probs.dtype)
    eps = label_smoothing

    if target.is_floating_point():
        probabilities = (target.unsqueeze(0) if unbatched else target).movedim(1, -1).reshape(-1, classes)
        smoothed = (1.0 - eps) * probabilities + eps / classes
        losses = -(class_weight * smoothed * log_probs).sum(dim=1)
        denominator = torch.tensor(float(losses.numel()), dtype=losses.dtype)
    else:
        flat_target = target.reshape(-1)
        counted = flat_target != ignore_index
        # An ignored target may be outside [0, C), so it is replaced before indexing.
        safe_target = torch.where(counted, flat_target, torch.zeros_like(flat_target))
        target_log_probs = log_probs.gather(1, safe_target.unsqueeze(1)).squeeze(1)
        target_weight = class_weight[safe_target] * counted
        smoothing_term = (class_weight * log_probs).sum(dim=1) * counted
        losses = -(1.0 - eps) * target_weight * target_log_probs - eps / classes * smoothing_term
        denominator = target_weight.sum()

    if reduction == "none":
        return losses.reshape(()) if unbatched else losses.reshape(element_shape)
    if reduction == "sum":
        return losses.sum()
    if denominator == 0:
        return losses.sum() * 0.0
    return losses.sum() / denominator
