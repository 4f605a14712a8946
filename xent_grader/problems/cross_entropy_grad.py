"""The cross-entropy-grad problem: the gradient of the mean cross-entropy w.r.t. the logits, by hand.

The expected value is the ``logits.grad`` that autograd computes for ``F.cross_entropy`` in float64,
``(softmax(logits) - one_hot(targets)) / batch_size``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from xent_grader.grading import evidence
from xent_grader.grading.cases import Case, CaseResult
from xent_grader.grading.evidence import Diagnosis
from xent_grader.grading.results import CheckResult, Mistake
from xent_grader.problems.base import (
    CheckSpec,
    Expected,
    Problem,
    score_check,
    tolerance_for,
    value_matches,
)
from xent_grader.problems.cross_entropy import BUILTIN_LOSSES
from xent_grader.problems.cross_entropy_grad_cases import (
    VALUE_HYPOTHESES,
    formula_fit,
    gradient_cases,
    gradient_logits_cases,
    has_logits_shape,
    performance_case,
)
from xent_grader.problems.label_smoothing import integrity_checks, output_check

STRICT_EXTRAS = frozenset({"softmax", "log_softmax", "_softmax", "_log_softmax", "Softmax", "LogSoftmax"})

# Names the run-time trace records when a call reaches autograd, checked with torch 2.13.
# ``loss.backward()`` and ``torch.autograd.backward`` record "backward". ``torch.autograd.grad``,
# ``torch.func.grad``, ``torch.func.vjp`` and ``torch.autograd.functional.jacobian`` record "grad".
# NOTE: calling a node of the graph directly, such as ``loss.grad_fn(...)``, records neither.
AUTOGRAD_CALLS = frozenset({"backward", "grad"})

CHECKS = (
    CheckSpec("parity", "Matches autograd's gradient on random cases", 25, partial=True),
    CheckSpec("stability", "Finite and right for extreme logits", 20, partial=True),
    CheckSpec("batch-mean", "Is the gradient of the mean over the batch", 10, partial=True),
    CheckSpec("output", "Returns a tensor of the logits' shape, dtype and device", 10, partial=False),
    CheckSpec("no-autograd", "Uses no autograd", 20, partial=False),
    CheckSpec("inputs-untouched", "Leaves the inputs unchanged", 5, partial=False),
    CheckSpec("from-scratch", "Uses no built-in loss", 10, partial=False),
)

TITLES = {
    "missing-batch-division": "Gradient of the sum instead of the mean",
    "wrong-sign": "Wrong sign",
    "missing-one-hot": "Missing the one-hot term",
    "wrong-softmax-dim": "Softmax over the wrong dimension",
    "wrong-target-indexing": "Wrong indexing of the target entries",
    "unstable-softmax": "No max-shift before exp",
    "uses-autograd": "The function uses autograd",
    "wrong-shape": "The result's shape differs from the logits'",
    "wrong-value": "Values differ from autograd's gradient",
}

HINTS = {
    "missing-batch-division": "The loss is a mean over the batch, so every row of its gradient carries a factor "
    "1 / batch_size.",
    "wrong-sign": "The loss is -z[y] + logsumexp(z) per row: the softmax term enters with a plus sign and the "
    "target term with a minus sign.",
    "missing-one-hot": "Differentiate both terms of -z[y] + logsumexp(z): the first contributes -1 at the target "
    "entry, so each row of the gradient sums to 0, not 1.",
    "wrong-softmax-dim": "The softmax normalises each row over its classes: reduce along dim=1 (or dim=-1), not "
    "along the batch.",
    "wrong-target-indexing": "Row i needs -1 at column targets[i] only: index with a pair of index tensors (rows "
    "and targets) or build a one-hot matrix, not probs[:, targets] or probs[targets].",
    "unstable-softmax": "exp overflows above about 88 in float32, and a row of very negative logits gives 0 / 0. "
    "Subtract each row's max before exp: softmax is unchanged and the largest term becomes exp(0) = 1.",
    "uses-autograd": "Derive the gradient of -z[y] + logsumexp(z) by hand and compute it with tensor operations: "
    ".backward(), torch.autograd.grad and torch.func are what the exercise replaces.",
    "wrong-shape": "Return one gradient entry per logit, a (batch_size, num_classes) tensor: not the loss, and "
    "not a reduced, flattened or transposed tensor.",
    "wrong-value": "Compare your function with the autograd gradient of F.cross_entropy on the counterexample "
    "below, entry by entry.",
}

# Mistake ids that account for wrong values, so no wrong-value is added beside them.
EXPLAINS_VALUES = frozenset(
    {public_id for public_id, _, _ in VALUE_HYPOTHESES.values()}
    | {"unstable-softmax", "wrong-shape", "not-a-tensor"}
)


class CrossEntropyGradProblem(Problem):
    id = "cross-entropy-grad"
    title = "Gradient of cross-entropy without autograd"
    function_name = "cross_entropy_grad"
    parameters = ("logits", "targets")
    checks = CHECKS
    banned_functions = BUILTIN_LOSSES
    strict_banned_functions = STRICT_EXTRAS
    # PyTorch's own way to this gradient: autograd through F.cross_entropy.
    performance_builtin = "xent_grader.sandbox.builtin_references.cross_entropy_grad"
    performance_label = "autograd through torch.nn.functional.cross_entropy"

    def make_cases(self, seed: int, extra_cases: list[dict]) -> list[Case]:
        return gradient_cases(seed, extra_cases)

    def expected(self, case: Case) -> Expected:
        logits = case.tensors["logits"].to(torch.float64, copy=True).requires_grad_(True)
        loss = F.cross_entropy(logits, case.tensors["targets"])
        (grad,) = torch.autograd.grad(loss, logits)
        return Expected(value=grad)

    def performance_case(self, seed: int) -> Case:
        return performance_case(90_000, seed)

    # Checks

    def _value_ok(self, result: CaseResult, expected: dict[int, Expected]) -> bool:
        return value_matches(result, expected[result.case.id], tolerance_for(result.case, "logits"))

    def _either_sign_ok(self, result: CaseResult, expected: dict[int, Expected]) -> bool:
        tolerance = tolerance_for(result.case, "logits")
        truth = expected[result.case.id]
        return value_matches(result, truth, tolerance) or value_matches(result, Expected(-truth.value), tolerance)

    def score_checks(self, results, expected, context) -> list[CheckResult]:
        specs = {spec.id: spec for spec in CHECKS}
        returned = any(r.returned for r in results)

        def count(check_id: str, passes, noun: str) -> CheckResult:
            cases = [r for r in results if r.case.check == check_id]
            passed = sum(bool(passes(r)) for r in cases)
            return score_check(specs[check_id], passed, len(cases), f"{passed} of {len(cases)} {noun}")

        checks = [
            count("parity", lambda r: self._value_ok(r, expected), "cases match"),
            count("stability", lambda r: self._value_ok(r, expected), "cases match"),
            count("batch-mean", lambda r: self._either_sign_ok(r, expected), "batch sizes match up to the sign"),
            output_check(specs["output"], results, context, _logits_shape),
        ]
        autograd = sorted(_autograd_calls(results))
        message = f"called {', '.join(autograd)}" if autograd else "no autograd call found"
        checks.append(score_check(specs["no-autograd"], int(not autograd), 1, message, required=returned))
        return checks + integrity_checks(specs, results, context, self.banned(context.strict))

    # Diagnosis

    def diagnose(self, results, expected, context) -> list[Diagnosis]:
        found = [
            evidence.raises_error(results),
            evidence.not_a_tensor(results),
            _wrong_shape(results),
            evidence.dtype_mismatch(results, "logits"),
            evidence.mutates_inputs(results),
            evidence.uses_builtin_loss(results, self.banned(context.strict), list(context.source_findings)),
            _uses_autograd(results),
            evidence.leaves_processes(results, context.leftover_processes),
            *self._value_diagnoses(results, expected),
            self._unstable_softmax(results, expected),
            evidence.not_vectorized(results, "logits"),
        ]
        found = [d for d in found if d is not None]
        failures = [
            r for r in results
            if r.case.check in ("parity", "stability") and r.returned and not self._value_ok(r, expected)
        ]
        if failures and not any(d.mistake.id in EXPLAINS_VALUES for d in found):
            found.append(self._wrong_value(failures, expected))
        return found

    def _value_diagnoses(self, results, expected) -> list[Diagnosis]:
        comparable = [r for r in results if "moderate" in r.case.tags and has_logits_shape(r)]
        found: list[Diagnosis] = []
        for mistake_id, formula, observation in VALUE_HYPOTHESES.values():
            if any(d.mistake.id == mistake_id for d in found):
                continue
            differing = formula_fit(formula, comparable, expected)
            if differing is None or len(differing) < 2:
                continue
            example = min(differing, key=_example_order)
            truth = expected[example.case.id].value
            row = _worst_row(example.value, truth)
            evidence_text = (
                f"On all {len(comparable)} cases with moderate logits your gradient equals {observation} "
                f"({len(differing)} of them tell this apart from the right answer). For example, for "
                f"{example.case.label}, row {row} of autograd's gradient is {_row(truth, row)}, that formula "
                f"gives {_row(formula(example.case, truth), row)} and yours was {_row(example.value, row)}."
            )
            mistake = Mistake(mistake_id, TITLES[mistake_id], evidence_text, HINTS[mistake_id])
            failing = [r for r in comparable if not self._value_ok(r, expected)]
            found.append(Diagnosis(mistake, failing, self._value_fails))
        return found

    def _value_fails(self, result: CaseResult, expected_case: Expected) -> bool:
        return not value_matches(result, expected_case, tolerance_for(result.case, "logits"))

    def _unstable_softmax(self, results, expected) -> Diagnosis | None:
        extreme = [r for r in results if r.case.tags & {"overflow", "underflow-all"} and has_logits_shape(r)]
        non_finite = [r for r in extreme if not torch.isfinite(r.value).all()]
        if not non_finite:
            return None
        example = non_finite[0]
        bad = int((~torch.isfinite(example.value)).sum())
        row = int((~torch.isfinite(example.value)).any(dim=1).nonzero()[0])
        evidence_text = (
            f"For {example.case.label}, {bad} of the {example.value.numel()} entries of your gradient were not "
            f"finite (row {row}: {_row(example.value, row)}, autograd: "
            f"{_row(expected[example.case.id].value, row)}); "
            f"{len(non_finite)} of {len(extreme)} cases whose logits overflow or underflow exp were not finite."
        )
        mistake = Mistake("unstable-softmax", TITLES["unstable-softmax"], evidence_text, HINTS["unstable-softmax"])
        return Diagnosis(mistake, non_finite, _non_finite, search_values=(100.0, -100.0, 1000.0, -1000.0))

    def _wrong_value(self, failures: list[CaseResult], expected) -> Diagnosis:
        example = min(failures, key=_example_order)
        truth = expected[example.case.id].value
        if has_logits_shape(example):
            row = _worst_row(example.value, truth)
            comparison = f"expected row {row} {_row(truth, row)}, got {_row(example.value, row)}"
        else:
            comparison = f"expected shape {tuple(truth.shape)}, got shape {example.shape}"
        evidence_text = (
            f"{len(failures)} cases differ from autograd's gradient in a way that matches none of the known "
            f"mistakes; for example {example.case.label}: {comparison}."
        )
        mistake = Mistake("wrong-value", TITLES["wrong-value"], evidence_text, HINTS["wrong-value"])
        return Diagnosis(mistake, failures, self._value_fails)

    def counterexample_strategy(self, diagnosis: Diagnosis):
        dtype = diagnosis.failing[0].case.tensors["logits"].dtype
        return gradient_logits_cases(dtype, diagnosis.search_values)


def _example_order(result: CaseResult) -> tuple[bool, int]:
    """Sort key that puts the smallest case with at least two classes first, the clearest example."""
    logits = result.case.tensors["logits"]
    return logits.shape[1] < 2, logits.numel()


def _worst_row(got: torch.Tensor, truth: torch.Tensor) -> int:
    """Return the index of the row where ``got`` differs most from ``truth`` (non-finite counts as most)."""
    difference = (got - truth).abs().nan_to_num(nan=float("inf"))
    return int(difference.amax(dim=1).argmax())


def _row(values: torch.Tensor, index: int, limit: int = 4) -> str:
    """Format row ``index`` of a gradient, at most ``limit`` entries, for an evidence sentence."""
    row = values[index]
    entries = ", ".join(f"{value:.4g}" for value in row[:limit].tolist())
    return f"[{entries}{', ...' if row.numel() > limit else ''}]"


def _autograd_calls(results: list[CaseResult]) -> set[str]:
    return {name for r in results for name in r.functions if name in AUTOGRAD_CALLS}


def _uses_autograd(results: list[CaseResult]) -> Diagnosis | None:
    names = _autograd_calls(results)
    if not names:
        return None
    failing = [r for r in results if AUTOGRAD_CALLS & set(r.functions)]
    ran = sum(r.ran for r in results)
    called = ", ".join(f"torch's {name}" for name in sorted(names))
    evidence_text = f"At run time your function called {called}, on {len(failing)} of {ran} calls."
    mistake = Mistake("uses-autograd", TITLES["uses-autograd"], evidence_text, HINTS["uses-autograd"])
    # No failing cases: the values may be right, so a counterexample would show nothing.
    return Diagnosis(mistake, [], None)


def _wrong_shape(results: list[CaseResult]) -> Diagnosis | None:
    def wrong(result: CaseResult, _=None) -> bool:
        logits_shape = tuple(result.case.tensors["logits"].shape)
        return result.returned and result.shape is not None and result.shape != logits_shape

    failing = [r for r in results if wrong(r)]
    if not failing:
        return None
    example = failing[0]
    logits_shape = tuple(example.case.tensors["logits"].shape)
    evidence_text = (
        f"On {len(failing)} cases the result had a shape other than the logits'; for example "
        f"{example.shape} for logits of shape {logits_shape}."
    )
    mistake = Mistake("wrong-shape", TITLES["wrong-shape"], evidence_text, HINTS["wrong-shape"])
    return Diagnosis(mistake, failing, wrong)


def _logits_shape(case: Case) -> tuple[int, ...]:
    return tuple(case.tensors["logits"].shape)


def _non_finite(result: CaseResult, expected_case: Expected) -> bool:
    return has_logits_shape(result) and not bool(torch.isfinite(result.value).all())
