"""The Problem interface, and the comparison helpers the problems share."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from xent_grader.grading.cases import Case, CaseResult
from xent_grader.grading.compare import Tolerance, max_abs, relative_error, value_tolerance, values_close
from xent_grader.grading.results import CheckResult


@dataclass(frozen=True)
class Expected:
    """PyTorch's expected value and gradients for one case, computed in float64 in the grader's process."""

    value: torch.Tensor
    grads: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckSpec:
    id: str
    title: str
    points: float
    partial: bool  # True: points in proportion to the cases passed; False: all or nothing


@dataclass(frozen=True)
class GradingContext:
    """Facts about the run that are not per case."""

    source_findings: tuple[str, ...]  # banned names found in the source, as "line N: uses X"
    leftover_processes: int
    strict: bool


class Problem:
    """A graded exercise: its cases, PyTorch's expected values, its checks and its mistake diagnosis."""

    id: str = ""
    title: str = ""
    function_name: str = ""
    parameters: tuple[str, ...] = ()  # the function's parameter names, to tell problems with one name apart
    checks: tuple[CheckSpec, ...] = ()
    banned_functions: frozenset[str] = frozenset()
    strict_banned_functions: frozenset[str] = frozenset()

    def make_cases(self, seed: int, extra_cases: list[dict]) -> list[Case]:
        raise NotImplementedError

    def expected(self, case: Case) -> Expected:
        raise NotImplementedError

    def score_checks(
        self, results: list[CaseResult], expected: dict[int, Expected], context: GradingContext
    ) -> list[CheckResult]:
        raise NotImplementedError

    def diagnose(self, results: list[CaseResult], expected: dict[int, Expected], context: GradingContext) -> list:
        """Return the Diagnosis of each mistake the results show (see grading.evidence)."""
        raise NotImplementedError

    performance_builtin: str | None = None  # dotted name of PyTorch's own function, timed beside the submission
    performance_label: str | None = None  # how the report names that function; defaults to the dotted name

    def performance_case(self, seed: int) -> Case | None:
        """Return one large case, with ``measure_memory`` and ``repeat`` set, for the advisory note."""
        return None

    def advisory_cases(self, seed: int) -> list[Case]:
        """Return cases that are run and reported but never scored (for example half precision)."""
        return []

    def advisory_notes(self, results: list[CaseResult]) -> list[str]:
        """Describe the outcome of the advisory cases, one sentence each."""
        return []

    def counterexample_strategy(self, diagnosis):
        """Return a Hypothesis strategy of small Cases for a counterexample search, or None."""
        return None

    def banned(self, strict: bool) -> frozenset[str]:
        return self.banned_functions | (self.strict_banned_functions if strict else frozenset())


def tolerance_for(case: Case, tensor_name: str) -> Tolerance:
    tensor = case.tensors[tensor_name]
    return value_tolerance(tensor.dtype, max_abs(tensor.double()))


def scalar_value(result: CaseResult) -> torch.Tensor | None:
    """Return the output as a 0-dim float64 tensor when it contains exactly one number."""
    if not result.returned or result.value is None or result.value.numel() != 1:
        return None
    return result.value.reshape(())


def value_matches(result: CaseResult, expected: Expected, tolerance: Tolerance) -> bool:
    if result.value is None or not result.returned:
        return False
    got = result.value
    if expected.value.dim() == 0:
        got = scalar_value(result)
        if got is None:
            return False
    return values_close(got, expected.value, tolerance)


def gradient_error(result: CaseResult, expected: Expected, name: str) -> float | None:
    """Relative error of the gradient for input ``name``, or None when no gradient came back."""
    grad = result.grads.get(name)
    if grad is None or name not in expected.grads:
        return None
    return relative_error(grad, expected.grads[name])


def inputs_mutated(result: CaseResult) -> list[str]:
    """Names of inputs whose values after the call differ from what the grader sent."""
    changed = []
    for name, sent in result.case.tensors.items():
        after = result.inputs_after.get(name)
        if after is None or after.shape != sent.shape or after.dtype != sent.dtype:
            changed.append(name)
            continue
        same = (after == sent) | (torch.isnan(after) & torch.isnan(sent)) if sent.is_floating_point() else after == sent
        if not bool(same.all()):
            changed.append(name)
    return changed


def score_check(spec: CheckSpec, passed: int, total: int, message: str, required: bool = True) -> CheckResult:
    """Score a check from how many of its cases passed; a check with no evaluable case scores 0."""
    if not required:
        message = "not checked, because no case returned the right value"
    all_passed = total > 0 and passed == total and required
    if spec.partial and total > 0 and required:
        score = round(spec.points * passed / total, 1)
    else:
        score = spec.points if all_passed else 0.0
    return CheckResult(spec.id, spec.title, all_passed, score, spec.points, message)


def plural(count: int, noun: str) -> str:
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {noun}es" if noun.endswith(("s", "sh", "ch", "x")) else f"{count} {noun}s"
