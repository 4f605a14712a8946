"""The bce-with-logits problem: mean binary cross-entropy of raw scores, with an optional pos_weight.

The expected value is ``F.binary_cross_entropy_with_logits(logits, targets, pos_weight=pos_weight)``.
"""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F

from xent_grader.grading import evidence
from xent_grader.grading.cases import Case, CaseResult
from xent_grader.grading.compare import values_close
from xent_grader.grading.evidence import Diagnosis
from xent_grader.grading.results import CheckResult, Mistake
from xent_grader.problems.base import (
    CheckSpec,
    Expected,
    Problem,
    scalar_value,
    score_check,
    tolerance_for,
    value_matches,
)
from xent_grader.problems.bce_with_logits_cases import (
    VALUE_HYPOTHESES,
    bce_cases,
    performance_case,
    pos_weight_of,
    small_cases,
)
from xent_grader.problems.label_smoothing import gradient_close, integrity_checks, output_check, without_own_name
from xent_grader.problems.label_smoothing_cases import Formula, fit_hypotheses, formula_follows

BUILTIN_LOSSES = frozenset(
    {"binary_cross_entropy_with_logits", "binary_cross_entropy", "BCEWithLogitsLoss", "BCELoss"}
)
# F.logsigmoid is traced as log_sigmoid, the name of the function it binds.
STRICT_EXTRAS = frozenset({"logsigmoid", "log_sigmoid", "softplus", "LogSigmoid", "Softplus"})

CHECKS = (
    CheckSpec("parity", "Matches F.binary_cross_entropy_with_logits on random cases", 20, partial=True),
    CheckSpec("stability", "Finite and right for logits of any size", 20, partial=True),
    CheckSpec("pos-weight", "pos_weight scales the positive term along the last axis", 10, partial=True),
    CheckSpec("mean", "Averages over all elements", 10, partial=True),
    CheckSpec("output", "Returns a 0-dim tensor of the logits' dtype and device", 10, partial=False),
    CheckSpec("gradient", "loss.backward() gives the right gradient", 10, partial=True),
    CheckSpec("inputs-untouched", "Leaves the inputs unchanged", 5, partial=False),
    CheckSpec("from-scratch", "Uses no built-in loss", 15, partial=False),
)

TITLES = {
    "missing-negation": "Missing minus sign",
    "sum-instead-of-mean": "Sum over the elements instead of the mean",
    "pos-weight-misapplied": "pos_weight applied to the wrong term or axis",
    "sigmoid-then-log": "Sigmoid then log instead of softplus",
    "unstable-softplus": "Softplus computed as log(1 + exp(x))",
    "wrong-value": "Values differ from F.binary_cross_entropy_with_logits",
}

HINTS = {
    "missing-negation": "Log-probabilities are at most 0, so the loss, their negated weighted mean, is at least 0.",
    "sum-instead-of-mean": "The default reduction averages the per-element losses over every element.",
    "pos-weight-misapplied": "pos_weight multiplies only the positive term, y * log(sigmoid(x)), and its entries "
    "line up with the last axis of the logits, one weight per class.",
    "sigmoid-then-log": "Once sigmoid(x) rounds to exactly 0 or 1, its log is -inf, and an epsilon or clamp only "
    "hides it. Write both log-probabilities as softplus terms: log(sigmoid(x)) = -softplus(-x) and "
    "log(1 - sigmoid(x)) = -softplus(x).",
    "unstable-softplus": "exp(x) overflows above about 88 in float32, so log(1 + exp(x)) is inf for x = 100. "
    "Rewrite softplus so that exp only sees -|x|, which is never positive, and use log1p for the small term.",
    "wrong-value": "Compare your function with F.binary_cross_entropy_with_logits on the counterexample below, "
    "element by element (reduction='none').",
}

GRADIENT_HINTS = {
    "zero": "Autograd differentiates clamp(min=0), relu and abs at exactly 0 with a one-sided slope, so "
    "max(x, 0) + log1p(exp(-|x|)) gets a wrong gradient at x = 0, where softplus' slope is 0.5. Use an "
    "expression whose autograd gradient is right there: torch.maximum splits a tie evenly, and F.softplus is exact.",
    "non-finite": "torch.where differentiates both branches, and an inf in the branch it does not pick still "
    "makes the gradient nan (0 x inf). Compute every branch so that no exp can overflow.",
    "other": "Some step hides part of the computation from autograd (a .detach(), .data, or a custom backward). "
    "The gradient of the mean loss w.r.t. each logit is ((pos_weight * y + 1 - y) * sigmoid(x) - pos_weight * y) "
    "divided by the number of elements.",
}

# Mistake ids that account for wrong loss values, so no wrong-value is added beside them.
EXPLAINS_VALUES = frozenset(
    {public_id for public_id, _, _ in VALUE_HYPOTHESES.values()}
    | {"sigmoid-then-log", "unstable-softplus", "not-scalar", "not-a-tensor"}
)


class BceWithLogitsProblem(Problem):
    id = "bce-with-logits"
    title = "Binary cross-entropy from logits"
    function_name = "binary_cross_entropy_with_logits"
    parameters = ("logits", "targets", "pos_weight")
    checks = CHECKS
    banned_functions = BUILTIN_LOSSES
    strict_banned_functions = STRICT_EXTRAS
    performance_builtin = "torch.nn.functional.binary_cross_entropy_with_logits"

    def make_cases(self, seed: int, extra_cases: list[dict]) -> list[Case]:
        return bce_cases(seed, extra_cases)

    def expected(self, case: Case) -> Expected:
        logits = case.tensors["logits"].to(torch.float64, copy=True).requires_grad_(True)
        pos_weight = pos_weight_of(case)
        loss = F.binary_cross_entropy_with_logits(
            logits, case.tensors["targets"].double(), pos_weight=None if pos_weight is None else pos_weight.double()
        )
        (grad,) = torch.autograd.grad(loss, logits)
        return Expected(value=loss.detach(), grads={"logits": grad})

    def performance_case(self, seed: int) -> Case:
        return performance_case(90_000, seed)

    # Checks

    def _value_ok(self, result: CaseResult, expected: dict[int, Expected]) -> bool:
        return value_matches(result, expected[result.case.id], tolerance_for(result.case, "logits"))

    def _magnitude_ok(self, result: CaseResult, expected: dict[int, Expected]) -> bool:
        got = scalar_value(result)
        truth = expected[result.case.id].value
        return got is not None and values_close(got.abs(), truth.abs(), tolerance_for(result.case, "logits"))

    def score_checks(self, results, expected, context) -> list[CheckResult]:
        context = without_own_name(context, self.function_name)
        specs = {spec.id: spec for spec in CHECKS}

        def count(check_id: str, cases: list[CaseResult], passes, noun: str) -> CheckResult:
            passed = sum(bool(passes(r)) for r in cases)
            return score_check(specs[check_id], passed, len(cases), f"{passed} of {len(cases)} {noun}")

        def in_check(check_id: str) -> list[CaseResult]:
            return [r for r in results if r.case.check == check_id]

        def value_ok(result: CaseResult) -> bool:
            return self._value_ok(result, expected)

        checks = [
            count("parity", in_check("parity"), value_ok, "cases match"),
            count("stability", in_check("stability"), value_ok, "cases match"),
            count("pos-weight", in_check("pos-weight"), value_ok, "cases with pos_weight match"),
            count("mean", in_check("mean"), lambda r: self._magnitude_ok(r, expected), "element counts match"),
            output_check(specs["output"], results, context),
            count("gradient", [r for r in results if r.case.grad], lambda r: gradient_ok(r, expected[r.case.id]),
                  "gradients match"),
        ]
        return checks + integrity_checks(specs, results, context, self.banned(context.strict))

    # Diagnosis

    def diagnose(self, results, expected, context) -> list[Diagnosis]:
        context = without_own_name(context, self.function_name)
        fitted = fit_hypotheses(
            VALUE_HYPOTHESES, results, expected, "PyTorch", self._returned_value_fails, TITLES, HINTS
        )
        formula = VALUE_HYPOTHESES[fitted[0][0]][1] if fitted else _truth
        found = [
            *evidence.output_contract_diagnoses(
                results, "logits", self.banned(context.strict), context.source_findings, context.leftover_processes
            ),
            *(diagnosis for _, diagnosis in fitted),
            *self._stability_diagnoses(results, expected, formula),
        ]
        found = [d for d in found if d is not None]
        if not fitted and not any(d.mistake.id == "detached-graph" for d in found):
            found += self._gradient_diagnoses(results, expected)
        advisory = evidence.not_vectorized(results, "logits")
        if advisory is not None:
            found.append(advisory)
        value_checks = ("parity", "stability", "pos-weight")
        failures = [
            r for r in results if r.case.check in value_checks and r.returned and not self._value_ok(r, expected)
        ]
        if failures and not any(d.mistake.id in EXPLAINS_VALUES for d in found):
            found.append(self._wrong_value(failures, expected))
        return found

    def _value_fails(self, result: CaseResult, expected_case: Expected) -> bool:
        return not value_matches(result, expected_case, tolerance_for(result.case, "logits"))

    def _returned_value_fails(self, result: CaseResult, expected_case: Expected) -> bool:
        """Return whether the call returned a value that differs. An exception is another mistake."""
        return result.returned and self._value_fails(result, expected_case)

    def _stability_diagnoses(self, results, expected, formula: Formula) -> list[Diagnosis]:
        """Diagnose sigmoid-then-log and unstable-softplus on the cases built to tell them apart.

        sigmoid(x) rounds to 0 or 1 long before exp(|x|) overflows, so only sigmoid-then-log fails
        where the logits saturate without overflowing. ``formula`` is the value the moderate cases
        follow, so that a wrong pos_weight is not also reported as a stability mistake.
        """
        saturating = [
            r for r in results
            if "saturates" in r.case.tags and "overflow" not in r.case.tags and scalar_value(r) is not None
        ]
        off = [r for r in saturating if not formula_follows(formula, r, expected)]
        if off:
            example = off[0]
            evidence_text = (
                f"Where sigmoid(x) rounds to exactly 0 or 1 ({example.case.label}) PyTorch gives "
                f"{expected[example.case.id].value.item():.6g}, but your loss was {_got_text(example)} ({len(off)} "
                f"of {len(saturating)} such cases), while moderate logits give the expected values."
            )
            mistake = Mistake("sigmoid-then-log", TITLES["sigmoid-then-log"], evidence_text, HINTS["sigmoid-then-log"])
            return [Diagnosis(mistake, off, self._value_fails, search_values=(20.0, -20.0, 50.0, -50.0))]
        overflowing = [r for r in results if "overflow" in r.case.tags and scalar_value(r) is not None]
        non_finite = [r for r in overflowing if not torch.isfinite(scalar_value(r))]
        if not non_finite:
            return []
        example = non_finite[0]
        evidence_text = (
            f"Your loss was {_got_text(example)} for {example.case.label}, where PyTorch gives "
            f"{expected[example.case.id].value.item():.6g} ({len(non_finite)} of {len(overflowing)} cases where "
            "exp(|x|) overflows were not finite), while logits where only sigmoid saturates give the expected values."
        )
        mistake = Mistake("unstable-softplus", TITLES["unstable-softplus"], evidence_text, HINTS["unstable-softplus"])
        return [Diagnosis(mistake, non_finite, _non_finite, search_values=(100.0, -100.0, 1000.0, -1000.0))]

    def _gradient_diagnoses(self, results, expected) -> list[Diagnosis]:
        """Flag wrong gradients where the value is right, naming the cause the failing cases share."""
        differing = [r for r in results if r.grads and not gradient_ok(r, expected[r.case.id])]
        gradient = evidence.wrong_gradient(differing, expected, "logits", lambda r: self._value_ok(r, expected))
        if gradient is None:
            return []
        non_finite = [r for r in gradient.failing if not torch.isfinite(r.grads["logits"]).all()]
        if all("zero-logit" in r.case.tags for r in gradient.failing):
            cause, note = "zero", " Every one of them has a logit of exactly 0."
        elif non_finite:
            cause, note = "non-finite", f" On {len(non_finite)} of them the gradient was not finite."
        else:
            cause, note = "other", ""
        gradient.mistake = replace(
            gradient.mistake, evidence=gradient.mistake.evidence + note, hint=GRADIENT_HINTS[cause]
        )
        gradient.case_fails = _gradient_fails
        return [gradient]

    def _wrong_value(self, failures: list[CaseResult], expected) -> Diagnosis:
        example = failures[0]
        evidence_text = (
            f"{len(failures)} cases differ from PyTorch in a way that matches none of the known mistakes; for "
            f"example {example.case.label}: expected {expected[example.case.id].value.item():.8g}, "
            f"got {_got_text(example)}."
        )
        mistake = Mistake("wrong-value", TITLES["wrong-value"], evidence_text, HINTS["wrong-value"])
        return Diagnosis(mistake, failures, self._value_fails)

    def counterexample_strategy(self, diagnosis: Diagnosis):
        dtype = diagnosis.failing[0].case.tensors["logits"].dtype
        with_pos_weight = diagnosis.mistake.id == "pos-weight-misapplied"
        return small_cases(dtype, diagnosis.search_values, with_pos_weight)


def gradient_ok(result: CaseResult, expected_case: Expected) -> bool:
    # Each entry of the gradient is at most max(pos_weight, 1) / numel in size.
    pos_weight = pos_weight_of(result.case)
    largest_weight = 1.0 if pos_weight is None else max(1.0, pos_weight.abs().max().item())
    return gradient_close(result, expected_case, largest_weight / max(1, result.case.tensors["logits"].numel()))


def _gradient_fails(result: CaseResult, expected_case: Expected) -> bool:
    return "logits" in result.grads and not gradient_ok(result, expected_case)


def _got_text(result: CaseResult) -> str:
    got = scalar_value(result)
    if got is None:
        return "a result that is not a single number"
    return f"{got.item():.6g}" if torch.isfinite(got) else f"{got.item()} (not finite)"


def _truth(case: Case, truth: torch.Tensor) -> torch.Tensor:
    return truth


def _non_finite(result: CaseResult, expected_case: Expected) -> bool:
    got = scalar_value(result)
    return got is not None and not bool(torch.isfinite(got))
