"""Diagnosis for the cross-entropy-full problem: known wrong formulas and the detectors that find them.

Each hypothesis is a ``Variant`` of the loss. Its distinguishing cases are the cases with moderate
logits where it differs from PyTorch. A submission has the mistake when its output equals the
variant's on at least half of its distinguishing cases.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from xent_grader.grading.cases import Case, CaseResult
from xent_grader.grading.compare import Tolerance, values_close
from xent_grader.grading.evidence import Diagnosis
from xent_grader.grading.results import Mistake
from xent_grader.problems.base import Expected, tolerance_for, value_matches
from xent_grader.problems.cross_entropy_full_cases import class_rows


@dataclass(frozen=True)
class Variant:
    """One way to compute the loss: the defaults are F.cross_entropy's rules, the rest known mistakes."""

    # Denominator of a class-index mean: "counted-weights" (the sum of w[y] over the counted
    # targets), "counted" (their number) or "all-weights" (w[y] of every target). "all-weights"
    # reads an ignored target as class 0, and without weights it is the number of targets.
    denominator: str = "counted-weights"
    smoothing: str = "all-classes"  # eps spread over "all-classes", the "other-classes", or "none"
    class_axis_last: bool = False
    negated: bool = True
    mean_is_sum: bool = False


TRUTH = Variant()


def variant_loss(case: Case, variant: Variant = TRUTH) -> torch.Tensor | None:
    """Compute the case's loss in float64 by the rules of ``variant``, or return None where it cannot run."""
    logits = case.tensors["logits"].double()
    target = case.tensors["target"]
    target = target.double() if target.is_floating_point() else target
    output_shape = () if logits.dim() == 1 else (logits.shape[0], *logits.shape[2:])
    if variant.class_axis_last:
        if logits.dim() < 3 or logits.shape[1] != logits.shape[-1]:
            return None
        logits = logits.movedim(-1, 1)
        target = target.movedim(-1, 1) if target.is_floating_point() else target.reshape(-1)
    rows = class_rows(logits)
    log_probs = torch.log_softmax(rows, dim=1)
    if "weight" in case.kwargs:
        weight = case.tensors["weight"].double()
    else:
        weight = torch.ones(rows.shape[1], dtype=torch.float64)
    smoothing = 0.0 if variant.smoothing == "none" else float(case.kwargs.get("label_smoothing", 0.0))
    if target.is_floating_point():
        losses = _probability_losses(log_probs, class_rows(target), weight, smoothing, variant)
        denominator = torch.tensor(float(rows.shape[0]), dtype=torch.float64)
    else:
        ignore_index = int(case.kwargs.get("ignore_index", -100))
        losses, denominator = _index_losses(log_probs, target.reshape(-1), weight, ignore_index, smoothing, variant)
    losses = losses if variant.negated else -losses
    reduction = case.kwargs.get("reduction", "mean")
    if reduction == "none":
        return losses.reshape(output_shape)
    if reduction == "sum" or variant.mean_is_sum:
        return losses.sum()
    return losses.sum() / denominator


def _smoothing_share(variant: Variant, classes: int, smoothing: float) -> float:
    if variant.smoothing == "other-classes":
        return smoothing / (classes - 1) if classes > 1 else 0.0
    return smoothing / classes


def _index_losses(log_probs, target, weight, ignore_index, smoothing, variant):
    counted = target != ignore_index
    safe_target = torch.where(counted, target, 0)
    picked = log_probs.gather(1, safe_target.unsqueeze(1)).squeeze(1)
    target_weight = weight[safe_target]
    spread = (weight * log_probs).sum(dim=1)
    if variant.smoothing == "other-classes":
        spread = spread - target_weight * picked
    share = _smoothing_share(variant, log_probs.shape[1], smoothing)
    losses = -((1.0 - smoothing) * target_weight * picked + share * spread)
    losses = torch.where(counted, losses, 0.0)
    denominators = {
        "counted-weights": (target_weight * counted).sum(),
        "counted": counted.sum().double(),
        "all-weights": target_weight.sum(),
    }
    return losses, denominators[variant.denominator]


def _probability_losses(log_probs, target, weight, smoothing, variant):
    share = _smoothing_share(variant, log_probs.shape[1], smoothing)
    if variant.smoothing == "other-classes":
        smoothed = (1.0 - smoothing) * target + share * (1.0 - target)
    else:
        smoothed = (1.0 - smoothing) * target + share
    return -(weight * smoothed * log_probs).sum(dim=1)


# Loose tolerance for "the output equals this formula": the wrong formulas differ from the truth by
# factors such as -1, the batch size or the weights' mean, far beyond rounding.
HYPOTHESIS_TOLERANCE = Tolerance(rtol=1e-4, atol=1e-6)


def output_close(result: CaseResult, predicted: torch.Tensor) -> bool:
    """Return whether the output equals ``predicted`` loosely (a 0-dim prediction accepts one number)."""
    if not result.returned or result.value is None:
        return False
    got = result.value
    if predicted.dim() == 0 and got.numel() == 1:
        got = got.reshape(())
    return values_close(got, predicted, HYPOTHESIS_TOLERANCE)


@dataclass(frozen=True)
class Hypothesis:
    mistake_id: str
    variant: Variant
    description: str  # completes "your result equals ..."


HYPOTHESES = (
    Hypothesis("weighted-mean-by-count", Variant(denominator="counted"),
               "the weighted sum divided by the number of counted targets"),
    Hypothesis("ignored-in-denominator", Variant(denominator="all-weights"),
               "a mean whose denominator also counts the ignored targets"),
    Hypothesis("class-axis-last", Variant(class_axis_last=True), "the loss with the last axis as the class axis"),
    Hypothesis("smoothing-over-other-classes", Variant(smoothing="other-classes"),
               "label smoothing spread over the C - 1 other classes only"),
    Hypothesis("smoothing-ignored", Variant(smoothing="none"), "the loss without label smoothing"),
    Hypothesis("sum-instead-of-mean", Variant(mean_is_sum=True), 'the sum where the reduction is "mean"'),
    Hypothesis("missing-negation", Variant(negated=False), "-1 x PyTorch's loss"),
)

TITLES = {
    "weighted-mean-by-count": "Weighted mean divided by the count",
    "ignored-in-denominator": "Ignored targets counted in the mean",
    "class-axis-last": "Last axis taken as the class axis",
    "empty-mean-not-nan": "A mean over no counted target is not nan",
    "smoothing-over-other-classes": "Smoothing spread over the other classes only",
    "smoothing-ignored": "label_smoothing has no effect",
    "sum-instead-of-mean": "Sum instead of the mean",
    "missing-negation": "Missing minus sign",
    "wrong-target-indexing": "Ignored targets used as indices",
    "not-scalar": "The result is not 0-dim",
    "no-max-shift": "No max-shift before exp",
    "softmax-then-log": "Softmax then log instead of log-softmax",
    "wrong-value": "Values differ from F.cross_entropy",
}

HINTS = {
    "weighted-mean-by-count": "With class weights, the mean divides the weighted sum by the sum of the weights "
    "of the counted targets, w[y], so that scaling all weights leaves the loss unchanged.",
    "ignored-in-denominator": "An ignored target adds nothing to the sum and nothing to the denominator: divide "
    "by the count, or the weights, of the targets that are not ignored.",
    "class-axis-last": "F.cross_entropy's class axis is dim 1 (dim 0 for an unbatched input), also for inputs of "
    "shape (N, C, d1, ...). Move it last with movedim(1, -1) before flattening.",
    "empty-mean-not-nan": "When no target is counted the mean is 0 / 0, and PyTorch returns nan. Divide without "
    "guarding the denominator.",
    "smoothing-over-other-classes": "PyTorch spreads eps uniformly over all C classes, the target class included, "
    "so the target's share is 1 - eps + eps / C.",
    "smoothing-ignored": "With label_smoothing = eps, each element's loss also contains eps / C times the "
    "weighted sum of its negative log-probabilities over all classes.",
    "sum-instead-of-mean": 'reduction="mean" divides the sum by the counted weights (class indices) or by the '
    'number of elements (probabilities); only "sum" returns the sum.',
    "missing-negation": "Cross-entropy is the negative log-likelihood: log-probabilities are at most 0, so the "
    "loss must be at least 0.",
    "wrong-target-indexing": "A target equal to ignore_index (such as -100) is not a class: replace it with a valid "
    "index before indexing or gathering, then zero its loss with a mask.",
    "not-scalar": 'Return a 0-dim tensor for reduction="mean" and "sum", and for an unbatched input (C,) with any '
    "reduction; do not reshape it to (1,).",
    "no-max-shift": "exp overflows above about 88 in float32 and 709 in float64. Subtract each row's max over the "
    "class axis before exp; the log-sum-exp is unchanged.",
    "softmax-then-log": "The log of a probability that underflowed to 0 is -inf, and an epsilon only hides it. "
    "Compute log-probabilities directly: x - logsumexp(x).",
    "wrong-value": "Compare your function with F.cross_entropy on the case named above, one option at a time.",
}
# The ids whose evidence explains wrong values, so "wrong-value" is not added on top of them.
VALUE_MISTAKES = frozenset(TITLES) - {"wrong-value"}


def mistake(mistake_id: str, text: str) -> Mistake:
    return Mistake(mistake_id, TITLES[mistake_id], text, HINTS[mistake_id])


def shown(values: torch.Tensor | None) -> str:
    if values is None:
        return "nothing"
    if values.numel() == 1:
        return f"{values.item():.6g}"
    first = ", ".join(f"{value:.4g}" for value in values.reshape(-1)[:3].tolist())
    return f"a tensor of shape {tuple(values.shape)} starting [{first}, ...]"


def hypothesis_diagnoses(results, expected) -> tuple[list[Diagnosis], list[Variant]]:
    """Find the wrong formulas the outputs follow, and return their diagnoses and their variants."""
    comparable = [r for r in results if "moderate" in r.case.tags and r.returned and r.value is not None]
    found, variants = [], []
    for hypothesis in HYPOTHESES:
        distinguishing, matched = [], []
        for result in comparable:
            predicted = variant_loss(result.case, hypothesis.variant)
            if predicted is None or values_close(predicted, expected[result.case.id].value, HYPOTHESIS_TOLERANCE):
                continue
            distinguishing.append(result)
            if output_close(result, predicted):
                matched.append(result)
        if matched and 2 * len(matched) >= len(distinguishing):
            example = matched[0]
            text = (
                f"On {len(matched)} of the {len(distinguishing)} cases that tell it apart from PyTorch, your "
                f"result equals {hypothesis.description}. For example, for {example.case.label} PyTorch gives "
                f"{shown(expected[example.case.id].value)} and your function returned {shown(example.value)}."
            )
            found.append(Diagnosis(mistake(hypothesis.mistake_id, text), matched, value_fails))
            variants.append(hypothesis.variant)
    return found, variants


def explained_by(result: CaseResult, variants: list[Variant]) -> bool:
    """Return whether the output equals one of the diagnosed wrong formulas on this case."""
    predictions = (variant_loss(result.case, variant) for variant in variants)
    return any(p is not None and output_close(result, p) for p in predictions)


def empty_mean_diagnosis(results, expected, variants: list[Variant]) -> Diagnosis | None:
    empty = [r for r in results if "nothing-counted" in r.case.tags and r.returned and r.value is not None]
    failing = [
        r for r in empty
        if bool(torch.isnan(expected[r.case.id].value).all()) and r.value.numel() == 1
        and bool(torch.isfinite(r.value).all()) and not explained_by(r, variants)
    ]
    if not failing:
        return None
    example = failing[0]
    text = (
        f"A mean over no counted target is 0 / 0, and PyTorch returns nan, but for {example.case.label} your "
        f"function returned {shown(example.value)} ({len(failing)} of {len(empty)} such cases)."
    )
    return Diagnosis(mistake("empty-mean-not-nan", text), failing, value_fails)


def target_indexing_diagnosis(results) -> Diagnosis | None:
    """Diagnose exceptions raised only where a target equals an ignore_index outside [0, C)."""
    raised = [r for r in results if r.error is not None and not r.error.memory]
    if not raised or any("ignored-out-of-range" not in r.case.tags for r in raised):
        return None
    example = raised[0]
    total = sum("ignored-out-of-range" in r.case.tags for r in results)
    text = (
        f"Your function raised an exception on {len(raised)} of the {total} cases whose targets contain an "
        f"ignore_index outside [0, C), and on no other case. For example, for {example.case.label}: "
        f"{example.error.type}: {example.error.message[:200]}"
    )
    return Diagnosis(mistake("wrong-target-indexing", text), raised, lambda r, _: r.error is not None)


def not_scalar_diagnosis(results, expected) -> Diagnosis | None:
    def wrong_shape(result: CaseResult, expected_case: Expected) -> bool:
        return result.returned and result.shape is not None and expected_case.value.dim() == 0 and result.shape != ()

    failing = [r for r in results if wrong_shape(r, expected[r.case.id])]
    if not failing:
        return None
    example = failing[0]
    text = f"For {example.case.label} your result had shape {example.shape} instead of () ({len(failing)} cases)."
    return Diagnosis(mistake("not-scalar", text), failing, wrong_shape)


def stability_diagnoses(results, expected, variants: list[Variant]) -> list[Diagnosis]:
    """Diagnose the two stability mistakes on the cases built to tell them apart from each other."""
    found = []
    overflow = [
        r for r in results
        if r.case.tags & {"overflow", "underflow-all"} and "target-underflow" not in r.case.tags
        and r.returned and r.value is not None
    ]
    non_finite = [
        r for r in overflow
        if not bool(torch.isfinite(r.value).all()) and bool(torch.isfinite(expected[r.case.id].value).all())
    ]
    if non_finite:
        example = non_finite[0]
        text = (
            f"Your result was {shown(example.value)} for {example.case.label}, whose logits reach "
            f"{example.case.tensors['logits'].abs().max().item():g}, where PyTorch gives "
            f"{shown(expected[example.case.id].value)} ({len(non_finite)} of {len(overflow)} such cases)."
        )
        found.append(Diagnosis(mistake("no-max-shift", text), non_finite, value_fails))
    underflow = [
        r for r in results
        if r.case.tags & {"target-underflow", "overflow", "underflow-all"} == {"target-underflow"}
        and r.returned and r.value is not None
    ]
    low = [r for r in underflow if value_fails(r, expected[r.case.id]) and not explained_by(r, variants)]
    if low:
        example = low[0]
        text = (
            f"Where the target's probability underflows ({example.case.label}) PyTorch gives "
            f"{shown(expected[example.case.id].value)}, but your result was {shown(example.value)} "
            f"({len(low)} of {len(underflow)} such cases)."
        )
        found.append(Diagnosis(mistake("softmax-then-log", text), low, value_fails))
    return found


def wrong_value_diagnosis(failures: list[CaseResult], expected) -> Diagnosis:
    example = failures[0]
    text = (
        f"{len(failures)} cases differ from F.cross_entropy in a way that matches none of the known mistakes. "
        f"For example, for {example.case.label} PyTorch gives {shown(expected[example.case.id].value)} and your "
        f"function returned {shown(example.value)}."
    )
    return Diagnosis(mistake("wrong-value", text), failures, value_fails)


def value_fails(result: CaseResult, expected_case: Expected) -> bool:
    return not value_matches(result, expected_case, tolerance_for(result.case, "logits"))
