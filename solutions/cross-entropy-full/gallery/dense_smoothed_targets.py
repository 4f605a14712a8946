"""Turn class-index targets into dense smoothed target distributions, (1 - eps) * one_hot + eps / C,
and compute every case as a weighted dot product with the log-probabilities.
"""

# expect: full-marks

import torch


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    batched = input if input.dim() > 1 else input.unsqueeze(0)
    classes = batched.shape[1]
    rows = batched.movedim(1, -1).reshape(-1, classes)
    log_probs = rows - torch.logsumexp(rows, dim=1, keepdim=True)
    class_weight = torch.ones(classes, dtype=input.dtype) if weight is None else weight
    eps = label_smoothing

    if target.is_floating_point():
        distribution = (target if input.dim() > 1 else target.unsqueeze(0)).movedim(1, -1).reshape(-1, classes)
        distribution = (1.0 - eps) * distribution + eps / classes
        counted_weight = torch.ones(rows.shape[0], dtype=input.dtype)
        denominator = counted_weight.sum()
    else:
        flat = target.reshape(-1)
        counted = (flat != ignore_index).to(input.dtype)
        one_hot = torch.zeros_like(rows).scatter(1, flat.clamp(0, classes - 1).unsqueeze(1), 1.0)
        distribution = ((1.0 - eps) * one_hot + eps / classes) * counted.unsqueeze(1)
        safe = torch.where(flat == ignore_index, 0, flat)
        denominator = (class_weight[safe] * counted).sum()

    losses = -(distribution * class_weight * log_probs).sum(dim=1)
    if reduction == "none":
        return losses.reshape(batched.shape[0], *batched.shape[2:]) if input.dim() > 1 else losses.reshape(())
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / denominator
