"""The graded cases of the cross-entropy-grad problem, and the wrong formulas the diagnosis tests on them.

The cases are the cross-entropy inputs. The submission returns a gradient, so no case requests
gradients of its output from the harness.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch
import torch.nn.functional as F

from xent_grader.grading.cases import Case, CaseResult
from xent_grader.grading.compare import values_close
from xent_grader.problems.cross_entropy import HYPOTHESIS_TOLERANCE
from xent_grader.problems.cross_entropy_cases import (
    BATCH_SIZES,
    PARITY_SHAPES,
    STABILITY_CASES,
    literal_case,
    logits_cases,
    random_case,
)
from xent_grader.problems.label_smoothing_cases import logit_tags


def without_backward(case: Case) -> Case:
    """Return ``case`` with no gradient request, tagged by ``logit_tags``."""
    return replace(case, grad=(), tags=logit_tags(case.tensors["logits"], case.tensors["targets"]))


def gradient_cases(seed: int, extra_cases: list[dict]) -> list[Case]:
    """Build the seeded case list: parity, stability, batch-mean, then any instructor cases."""
    cases: list[Case] = []
    base = (seed % 1_000_000) * 1000

    def add_random(check: str, shape: tuple[int, int, float], dtype: torch.dtype) -> None:
        cases.append(without_backward(random_case(len(cases), check, shape, dtype, base + 2 * len(cases))))

    for dtype in (torch.float32, torch.float64):
        for shape in PARITY_SHAPES:
            add_random("parity", shape, dtype)
    for rows, targets, dtype in STABILITY_CASES:
        cases.append(without_backward(literal_case(len(cases), "stability", rows, targets, dtype)))
    add_random("stability", (4, 10, 1000.0), torch.float32)
    for dtype in (torch.float64, torch.float32):
        for batch_size in BATCH_SIZES:
            add_random("batch-mean", (batch_size, 5, 2.0), dtype)
    for extra in extra_cases:
        cases.append(_instructor_case(len(cases), extra))
    return cases


def _instructor_case(case_id: int, spec: dict) -> Case:
    dtype = {"float32": torch.float32, "float64": torch.float64}[spec.get("dtype", "float32")]
    check = spec.get("check", "parity")
    case = literal_case(case_id, check, spec["logits"], spec["targets"], dtype)
    plain = without_backward(case)
    return replace(plain, tags=plain.tags | frozenset(spec.get("tags", [])))


def performance_case(case_id: int, seed: int) -> Case:
    """Build the large float32 case of the advisory performance note, timed with its memory measured."""
    case = random_case(case_id, "performance", (64, 32000, 1.0), torch.float32, seed)
    return replace(without_backward(case), measure_memory=True, repeat=3)


def gradient_logits_cases(dtype: torch.dtype, special_values: tuple[float, ...]):
    """Hypothesis strategy of small cases as cross-entropy builds them, with no backward pass."""
    return logits_cases(dtype, special_values).map(without_backward)


# Wrong formulas

Formula = Callable[[Case, torch.Tensor], "torch.Tensor | None"]


def _softmax(case: Case, dim: int = 1) -> torch.Tensor:
    return torch.softmax(case.tensors["logits"].double(), dim=dim)


def _one_hot(case: Case) -> torch.Tensor:
    logits = case.tensors["logits"]
    return F.one_hot(case.tensors["targets"], logits.shape[1]).double()


def _batch_size(case: Case) -> int:
    return case.tensors["logits"].shape[0]


def _column_indexing(case: Case, truth: torch.Tensor) -> torch.Tensor:
    """Subtract 1 from every column some target names, as ``probs[:, targets] -= 1`` does."""
    mask = torch.zeros_like(truth)
    mask[:, case.tensors["targets"]] = 1.0
    return (_softmax(case) - mask) / _batch_size(case)


def _row_indexing(case: Case, truth: torch.Tensor) -> torch.Tensor | None:
    """Subtract 1 from every row some target names, as ``probs[targets] -= 1`` does.

    Return None where that indexing raises, because a target is at least batch_size.
    """
    targets = case.tensors["targets"]
    if targets.numel() and targets.max().item() >= _batch_size(case):
        return None
    mask = torch.zeros_like(truth)
    mask[targets] = 1.0
    return (_softmax(case) - mask) / _batch_size(case)


# Each wrong formula a submission may have implemented, computed stably in float64, with the
# mistake id it shows and what the submission's gradient matched, in words.
VALUE_HYPOTHESES: dict[str, tuple[str, Formula, str]] = {
    "no-division": (
        "missing-batch-division",
        lambda case, truth: truth * _batch_size(case),
        "batch_size x autograd's gradient, the gradient of the summed loss",
    ),
    "sign": ("wrong-sign", lambda case, truth: -truth, "exactly -1 x autograd's gradient"),
    "softmax-mean": (
        "missing-one-hot",
        lambda case, truth: _softmax(case) / _batch_size(case),
        "softmax(logits) / batch_size, without the one-hot term",
    ),
    "softmax": ("missing-one-hot", lambda case, truth: _softmax(case), "softmax(logits), without the one-hot term"),
    "softmax-dim": (
        "wrong-softmax-dim",
        lambda case, truth: (_softmax(case, dim=0) - _one_hot(case)) / _batch_size(case),
        "the gradient with the softmax taken over dim=0 (the batch)",
    ),
    "columns": ("wrong-target-indexing", _column_indexing, "softmax minus 1 in every column a target names"),
    "rows": ("wrong-target-indexing", _row_indexing, "softmax minus 1 in every row whose index is a target"),
}


def formula_fit(formula: Formula, results: list[CaseResult], expected) -> list[CaseResult] | None:
    """Return the cases where ``formula`` differs from the truth if every output follows it, else None.

    Cases where the formula is undefined (it returns None) are skipped.
    """
    differing = []
    for result in results:
        truth = expected[result.case.id].value
        predicted = formula(result.case, truth)
        if predicted is None:
            continue
        if not values_close(result.value, predicted, HYPOTHESIS_TOLERANCE):
            return None
        if not values_close(predicted, truth, HYPOTHESIS_TOLERANCE):
            differing.append(result)
    return differing


def has_logits_shape(result: CaseResult) -> bool:
    return result.returned and result.value is not None and result.value.shape == result.case.tensors["logits"].shape
