"""The label-smoothing problem: mean cross-entropy against a smoothed target distribution.

The expected value is ``F.cross_entropy(logits, targets, label_smoothing=eps)``, whose target keeps
``1 - eps`` on the target class and spreads ``eps`` evenly over all ``num_classes`` classes.
"""

from __future__ import annotations

from collections.abc import Callable
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
    GradingContext,
    Problem,
    gradient_error,
    inputs_mutated,
    scalar_value,
    score_check,
    tolerance_for,
    value_matches,
)
from xent_grader.problems.cross_entropy import BUILTIN_LOSSES, STRICT_EXTRAS
from xent_grader.problems.cross_entropy import HINTS as CROSS_ENTROPY_HINTS
from xent_grader.problems.cross_entropy import TITLES as CROSS_ENTROPY_TITLES
from xent_grader.problems.label_smoothing_cases import (
    VALUE_HYPOTHESES,
    Formula,
    fit_hypotheses,
    formula_follows,
    label_smoothing_cases,
    performance_case,
    smoothed_logits_cases,
    smoothing_of,
)

CHECKS = (
    CheckSpec("parity", "Matches F.cross_entropy with label_smoothing on random cases", 20, partial=True),
    CheckSpec("smoothing", "label_smoothing > 0 changes the loss as the formula gives", 15, partial=True),
    CheckSpec("stability", "Finite and right for extreme logits", 15, partial=True),
    CheckSpec("batch-mean", "Averages over the batch", 10, partial=True),
    CheckSpec("output", "Returns a 0-dim tensor of the logits' dtype and device", 10, partial=False),
    CheckSpec("gradient", "loss.backward() gives the right gradient", 10, partial=True),
    CheckSpec("inputs-untouched", "Leaves the inputs unchanged", 5, partial=False),
    CheckSpec("from-scratch", "Uses no built-in loss", 15, partial=False),
)

TITLES = {
    **CROSS_ENTROPY_TITLES,
    "smoothing-over-other-classes": "Smoothing spread over the other classes only",
    "smoothing-ignored": "label_smoothing has no effect",
    "wrong-value": "Values differ from F.cross_entropy with label_smoothing",
}

HINTS = {
    **CROSS_ENTROPY_HINTS,
    "smoothing-over-other-classes": "PyTorch spreads eps over all num_classes classes, the target included, so "
    "the target gets 1 - eps + eps / num_classes. The smoothing term is the mean of -log_probs over the whole row.",
    "smoothing-ignored": "With eps > 0 the target distribution is a mixture: 1 - eps of the one-hot target and eps "
    "of the uniform distribution. Cross-entropy is linear in the target, so mix the two losses.",
    "softmax-then-log": "With eps > 0 every class's log-probability enters the loss, so one probability that "
    "underflows to 0 makes the loss inf, or nan where a weight of 0 multiplies it. Compute log-probabilities "
    "directly: x - logsumexp(x).",
    "wrong-gradient": "Some step hides part of the computation from autograd (a .detach(), .data, or a custom "
    "backward). The gradient of the mean loss w.r.t. the logits is (softmax - q) / batch_size, with q the smoothed "
    "target.",
    "wrong-value": "Compare your function with F.cross_entropy(logits, targets, label_smoothing=eps) on the "
    "counterexample below, term by term.",
}

# Mistake ids that account for wrong loss values, so no wrong-value is added beside them.
EXPLAINS_VALUES = frozenset(
    {public_id for public_id, _, _ in VALUE_HYPOTHESES.values()}
    | {"softmax-then-log", "no-max-shift", "not-scalar", "not-a-tensor"}
)


class LabelSmoothingProblem(Problem):
    id = "label-smoothing"
    title = "Cross-entropy with label smoothing"
    function_name = "cross_entropy_loss"
    parameters = ("logits", "targets", "label_smoothing")
    checks = CHECKS
    banned_functions = BUILTIN_LOSSES
    strict_banned_functions = STRICT_EXTRAS
    performance_builtin = "torch.nn.functional.cross_entropy"

    def make_cases(self, seed: int, extra_cases: list[dict]) -> list[Case]:
        return label_smoothing_cases(seed, extra_cases)

    def expected(self, case: Case) -> Expected:
        logits = case.tensors["logits"].to(torch.float64, copy=True).requires_grad_(True)
        loss = F.cross_entropy(logits, case.tensors["targets"], label_smoothing=smoothing_of(case))
        (grad,) = torch.autograd.grad(loss, logits)
        return Expected(value=loss.detach(), grads={"logits": grad})

    def performance_case(self, seed: int) -> Case:
        return performance_case(90_000, seed)

    # Checks

    def _value_ok(self, result: CaseResult, expected: dict[int, Expected]) -> bool:
        return value_matches(result, expected[result.case.id], tolerance_for(result.case, "logits"))

    def _magnitude_ok(self, result: CaseResult, expected: dict[int, Expected]) -> bool:
        got = scalar_value(result)
        if got is None:
            return False
        truth = expected[result.case.id].value
        return values_close(got.abs(), truth.abs(), tolerance_for(result.case, "logits"))

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
            count("smoothing", in_check("smoothing"), value_ok, "cases with eps > 0 match"),
            count("stability", in_check("stability"), value_ok, "cases match"),
            count("batch-mean", in_check("batch-mean"), lambda r: self._magnitude_ok(r, expected),
                  "batch sizes match"),
            output_check(specs["output"], results, context),
            count("gradient", [r for r in results if r.case.grad], lambda r: _gradient_ok(r, expected[r.case.id]),
                  "gradients match"),
        ]
        return checks + integrity_checks(specs, results, context, self.banned(context.strict))

    # Diagnosis

    def diagnose(self, results, expected, context) -> list[Diagnosis]:
        context = without_own_name(context, self.function_name)
        fitted = fit_hypotheses(
            VALUE_HYPOTHESES, results, expected, "F.cross_entropy", self._returned_value_fails, TITLES, HINTS
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
        value_checks = ("parity", "smoothing", "stability")
        failures = [
            r for r in results if r.case.check in value_checks and r.returned and not self._value_ok(r, expected)
        ]
        if failures and not any(d.mistake.id in EXPLAINS_VALUES for d in found):
            found.append(self._wrong_value(failures, expected))
        return found

    def _gradient_diagnoses(self, results, expected) -> list[Diagnosis]:
        """Flag wrong gradients where the value is right; a wrong formula explains its own gradient."""
        differing = [
            r for r in results
            if "moderate" in r.case.tags and r.grads and not _gradient_ok(r, expected[r.case.id])
        ]
        gradient = evidence.wrong_gradient(differing, expected, "logits", lambda r: self._value_ok(r, expected))
        if gradient is None:
            return []
        gradient.mistake = replace(gradient.mistake, hint=HINTS["wrong-gradient"])
        gradient.case_fails = _gradient_fails
        return [gradient]

    def _value_fails(self, result: CaseResult, expected_case: Expected) -> bool:
        return not value_matches(result, expected_case, tolerance_for(result.case, "logits"))

    def _returned_value_fails(self, result: CaseResult, expected_case: Expected) -> bool:
        """Return whether the call returned a value that differs. An exception is another mistake."""
        return result.returned and self._value_fails(result, expected_case)

    def _stability_diagnoses(self, results, expected, formula: Formula) -> list[Diagnosis]:
        """Diagnose no-max-shift and softmax-then-log on the cases built to tell them apart.

        ``formula`` is the value the moderate cases follow (the truth, or a diagnosed wrong formula),
        so that, say, spreading eps over the other classes is not also reported as an underflow.
        """
        found = []
        extreme = [
            r for r in results
            if r.case.tags & {"overflow", "underflow-all"} and "class-underflow" not in r.case.tags
            and scalar_value(r) is not None
        ]
        non_finite = [r for r in extreme if not torch.isfinite(scalar_value(r))]
        if non_finite:
            example = non_finite[0]
            evidence_text = (
                f"Your loss was {scalar_value(example).item()} for {example.case.label}, where F.cross_entropy "
                f"gives {expected[example.case.id].value.item():.6g} ({len(non_finite)} of {len(extreme)} cases "
                "whose logits overflow or underflow exp were not finite)."
            )
            mistake = Mistake("no-max-shift", TITLES["no-max-shift"], evidence_text, HINTS["no-max-shift"])
            found.append(Diagnosis(mistake, non_finite, _non_finite, search_values=(100.0, -100.0, 1000.0, -1000.0)))
        underflow = [
            r for r in results
            if "class-underflow" in r.case.tags and not r.case.tags & {"overflow", "underflow-all"}
            and scalar_value(r) is not None
        ]
        low = [r for r in underflow if not formula_follows(formula, r, expected)]
        if low:
            example = low[0]
            got = scalar_value(example)
            got_text = f"{got.item():.6g}" if torch.isfinite(got) else f"{got.item()} (not finite)"
            evidence_text = (
                f"Where a class's probability underflows ({example.case.label}) F.cross_entropy gives "
                f"{expected[example.case.id].value.item():.6g}, but your loss was {got_text} "
                f"({len(low)} of {len(underflow)} such cases), while moderate logits give the expected values."
            )
            mistake = Mistake("softmax-then-log", TITLES["softmax-then-log"], evidence_text, HINTS["softmax-then-log"])
            found.append(Diagnosis(mistake, low, self._value_fails, search_values=(-200.0, -800.0, -100.0, 50.0)))
        return found

    def _wrong_value(self, failures: list[CaseResult], expected) -> Diagnosis:
        example = failures[0]
        got = scalar_value(example)
        got_text = "a result that is not a single number" if got is None else f"{got.item():.8g}"
        evidence_text = (
            f"{len(failures)} cases differ from F.cross_entropy in a way that matches none of the known "
            f"mistakes; for example {example.case.label}: expected "
            f"{expected[example.case.id].value.item():.8g}, got {got_text}."
        )
        mistake = Mistake("wrong-value", TITLES["wrong-value"], evidence_text, HINTS["wrong-value"])
        return Diagnosis(mistake, failures, self._value_fails)

    def counterexample_strategy(self, diagnosis: Diagnosis):
        dtype = diagnosis.failing[0].case.tensors["logits"].dtype
        return smoothed_logits_cases(dtype, diagnosis.search_values)


def gradient_close(result: CaseResult, expected_case: Expected, entry_scale: float) -> bool:
    """Return whether the gradient w.r.t. the logits matches, by relative error or, near 0, absolutely.

    Where the expected gradient is exactly 0 (one class, say), any rounding is a relative error of 1.
    ``entry_scale`` is the largest size an entry of the gradient can have, so an absolute error of
    limit x entry_scale is the relative limit on that scale.
    """
    error = gradient_error(result, expected_case, "logits")
    if error is None:
        return False
    limit = evidence.gradient_limit(result, "logits")
    if error <= limit:
        return True
    difference = result.grads["logits"] - expected_case.grads["logits"]
    return bool(torch.isfinite(difference).all()) and difference.abs().max().item() <= limit * entry_scale


def _gradient_ok(result: CaseResult, expected_case: Expected) -> bool:
    # Entries of (softmax - q) / batch_size are at most 1 / batch_size in size.
    return gradient_close(result, expected_case, 1 / max(1, result.case.tensors["logits"].shape[0]))


def _gradient_fails(result: CaseResult, expected_case: Expected) -> bool:
    return "logits" in result.grads and not _gradient_ok(result, expected_case)


def output_check(
    spec: CheckSpec,
    results: list[CaseResult],
    context: GradingContext,
    shape_of: Callable[[Case], tuple[int, ...]] = lambda case: (),
) -> CheckResult:
    """Score a plain tensor of the shape ``shape_of(case)`` with the logits' dtype and device."""
    returned = [r for r in results if r.returned]
    problems = []
    if any(r.kind != "tensor" for r in returned):
        problems.append("not a plain torch.Tensor")
    misshapen = [r for r in returned if r.shape is not None and r.shape != shape_of(r.case)]
    if misshapen:
        problems.append(f"shape {misshapen[0].shape} where {shape_of(misshapen[0].case)} was expected")
    if any(r.kind == "tensor" and r.dtype != _dtype_name(r.case) for r in returned):
        problems.append("dtype differs from the logits'")
    if any(r.kind == "tensor" and r.device not in (None, "cpu") for r in returned):
        problems.append("device differs from the logits'")
    if context.leftover_processes or any(r.threads_started for r in returned):
        problems.append("processes or threads left running")
    message = "; ".join(problems) if problems else "tensor of the expected shape, dtype and device"
    return score_check(spec, int(not problems), 1, message, required=bool(returned))


def integrity_checks(specs: dict[str, CheckSpec], results, context: GradingContext, banned) -> list[CheckResult]:
    """Score the ``inputs-untouched`` and ``from-scratch`` checks; both need a call that returned."""
    returned = any(r.returned for r in results)
    ran = [r for r in results if r.ran]
    untouched = sum(not inputs_mutated(r) for r in ran)
    message = f"{untouched} of {len(ran)} calls left the inputs unchanged"
    checks = [score_check(specs["inputs-untouched"], untouched, len(ran), message, required=returned)]
    uses = any(name in banned for r in results for name in r.functions) or bool(context.source_findings)
    message = "a built-in loss was found" if uses else "no built-in loss found"
    checks.append(score_check(specs["from-scratch"], int(not uses), 1, message, required=returned))
    return checks


def without_own_name(context: GradingContext, function_name: str) -> GradingContext:
    """Drop the source findings of the submission's own function name, such as a self-test call.

    The required name is also the name of a banned PyTorch function (``torch._C._nn.cross_entropy_loss``,
    ``F.binary_cross_entropy_with_logits``), so calling one's own function looks like a built-in loss.
    NOTE: the run-time trace still records a call of PyTorch's function by that name, but only if it runs.
    """
    own = f": uses {function_name}"
    kept = tuple(finding for finding in context.source_findings if not finding.endswith(own))
    return replace(context, source_findings=kept)


def _dtype_name(case: Case) -> str:
    return str(case.tensors["logits"].dtype).removeprefix("torch.")


def _truth(case: Case, truth: torch.Tensor) -> torch.Tensor:
    return truth


def _non_finite(result: CaseResult, expected_case: Expected) -> bool:
    got = scalar_value(result)
    return got is not None and not bool(torch.isfinite(got))
