"""The cross-entropy-full problem: the whole contract of F.cross_entropy, checked against PyTorch.

Layouts (C,), (N, C) and (N, C, d1, ...); class-index and probability targets; the three reductions;
class weights, ignore_index and label smoothing. Mistakes are diagnosed by computing known wrong
formulas (``Variant``) on every case and finding the ones the submission's values follow.
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F

from xent_grader.grading import evidence
from xent_grader.grading.cases import Case, CaseResult
from xent_grader.grading.evidence import Diagnosis
from xent_grader.grading.results import CheckResult
from xent_grader.problems.base import (
    CheckSpec,
    Expected,
    Problem,
    gradient_error,
    inputs_mutated,
    score_check,
    tolerance_for,
    value_matches,
)
from xent_grader.problems import cross_entropy_full_diagnosis as diagnosis
from xent_grader.problems.cross_entropy import BUILTIN_LOSSES, STRICT_EXTRAS
from xent_grader.problems.cross_entropy_full_cases import full_cases, literal_case, performance_case

CHECKS = (
    CheckSpec("parity", "Matches F.cross_entropy for every layout, target kind and reduction", 20, partial=True),
    CheckSpec("weights", "Class weights, including the weighted mean's denominator", 10, partial=True),
    CheckSpec("ignore-index", "ignore_index, including means over no counted target", 12, partial=True),
    CheckSpec("label-smoothing", "Label smoothing with weights, ignored targets and probabilities", 10, partial=True),
    CheckSpec("stability", "Finite and right for extreme logits", 8, partial=True),
    CheckSpec("output", "Returns a tensor of PyTorch's shape, with the input's dtype and device", 10, partial=False),
    CheckSpec("gradient", "loss.backward() gives the right gradient where the loss is finite", 10, partial=True),
    CheckSpec("inputs-untouched", "Leaves the inputs unchanged", 5, partial=False),
    CheckSpec("from-scratch", "Uses no built-in loss", 15, partial=False),
)
VALUE_CHECKS = ("parity", "weights", "ignore-index", "label-smoothing", "stability")


def call_options(case: Case) -> dict:
    """Return the case's keyword arguments with tensor names replaced by the tensors."""
    return {key: case.tensors[value] if value in case.tensors else value for key, value in case.kwargs.items()}


class CrossEntropyFullProblem(Problem):
    id = "cross-entropy-full"
    title = "The full contract of F.cross_entropy"
    function_name = "cross_entropy"
    parameters = ("input", "target", "weight", "ignore_index", "reduction", "label_smoothing")
    checks = CHECKS
    # The submission's own function is named cross_entropy, so the source scan must not flag that
    # name. The run-time trace still catches torch's cross_entropy (see traced_banned).
    banned_functions = BUILTIN_LOSSES - {"cross_entropy"}
    strict_banned_functions = STRICT_EXTRAS

    def make_cases(self, seed: int, extra_cases: list[dict]) -> list[Case]:
        """Build the seeded cases, then the instructor's (N, C) cases, called with default options."""
        cases = full_cases(seed)
        dtypes = {"float32": torch.float32, "float64": torch.float64}
        for extra in extra_cases:
            check = extra.get("check", "parity")
            check = check if check in VALUE_CHECKS else "parity"
            dtype = dtypes[extra.get("dtype", "float32")]
            cases.append(literal_case(len(cases), check, extra["logits"], extra["targets"], dtype))
        return cases

    def expected(self, case: Case) -> Expected:
        """Run F.cross_entropy in float64. The gradient is kept only where the loss is finite."""
        logits = case.tensors["logits"].detach().to(torch.float64, copy=True).requires_grad_(True)
        target = case.tensors["target"]
        target = target.double() if target.is_floating_point() else target
        options = call_options(case)
        if "weight" in options:
            options["weight"] = options["weight"].double()
        loss = F.cross_entropy(logits, target, **options)
        if not bool(torch.isfinite(loss).all()):
            return Expected(value=loss.detach())
        (grad,) = torch.autograd.grad(loss.sum(), logits)
        return Expected(value=loss.detach(), grads={"logits": grad})

    performance_builtin = "torch.nn.functional.cross_entropy"

    def performance_case(self, seed: int) -> Case:
        return performance_case(seed)

    def reference_timing(self, case: Case) -> float:
        """Return the median time of 5 F.cross_entropy calls on the case without autograd, in seconds."""
        timings = []
        with torch.no_grad():
            for _ in range(5):
                started = time.perf_counter()
                F.cross_entropy(case.tensors["logits"], case.tensors["target"], **call_options(case))
                timings.append(time.perf_counter() - started)
        return statistics.median(timings)

    def traced_banned(self, strict: bool) -> frozenset[str]:
        """Return the torch function names the submission's call may not reach at run time."""
        return self.banned(strict) | BUILTIN_LOSSES

    # Checks

    def value_ok(self, result: CaseResult, expected: dict[int, Expected]) -> bool:
        return value_matches(result, expected[result.case.id], tolerance_for(result.case, "logits"))

    def gradient_ok(self, result: CaseResult, expected: dict[int, Expected]) -> bool:
        expected_grad = expected[result.case.id].grads["logits"]
        grad = result.grads.get("logits")
        if grad is not None and not expected_grad.any():
            # A relative error is undefined against a zero gradient (one class, or nothing counted),
            # so rounding-sized values pass.
            return bool((grad.abs() <= 64 * torch.finfo(result.case.tensors["logits"].dtype).eps).all())
        error = gradient_error(result, expected[result.case.id], "logits")
        return error is not None and error <= evidence.gradient_limit(result, "logits")

    def score_checks(self, results, expected, context) -> list[CheckResult]:
        specs = {spec.id: spec for spec in CHECKS}
        returned = [r for r in results if r.returned]
        checks = []
        for check_id in VALUE_CHECKS:
            cases = [r for r in results if r.case.check == check_id]
            passed = sum(self.value_ok(r, expected) for r in cases)
            checks.append(score_check(specs[check_id], passed, len(cases), f"{passed} of {len(cases)} cases match"))
        checks.append(self._output_check(specs["output"], results, expected, context))
        graded = [r for r in results if "logits" in expected[r.case.id].grads]
        passed = sum(self.gradient_ok(r, expected) for r in graded)
        checks.append(score_check(specs["gradient"], passed, len(graded), f"{passed} of {len(graded)} gradients match"))
        ran = [r for r in results if r.ran]
        untouched = sum(not inputs_mutated(r) for r in ran)
        message = f"{untouched} of {len(ran)} calls left the inputs unchanged"
        checks.append(score_check(specs["inputs-untouched"], untouched, len(ran), message, required=bool(returned)))
        banned = self.traced_banned(context.strict)
        uses = any(name in banned for r in results for name in r.functions) or bool(context.source_findings)
        message = "a built-in loss was found" if uses else "no built-in loss found"
        checks.append(score_check(specs["from-scratch"], int(not uses), 1, message, required=bool(returned)))
        return checks

    def _output_check(self, spec: CheckSpec, results, expected, context) -> CheckResult:
        returned = [r for r in results if r.returned]
        problems = []
        if any(r.kind != "tensor" for r in returned):
            problems.append("not a plain torch.Tensor")
        wrong_shape = [r for r in returned if r.shape != tuple(expected[r.case.id].value.shape)]
        if wrong_shape:
            example = wrong_shape[0]
            problems.append(
                f"shape {example.shape} instead of {tuple(expected[example.case.id].value.shape)} for "
                f"{example.case.label} ({len(wrong_shape)} cases)"
            )
        if any(r.kind == "tensor" and r.dtype != _dtype_name(r.case) for r in returned):
            problems.append("dtype differs from the input's")
        if any(r.kind == "tensor" and r.device not in (None, "cpu") for r in returned):
            problems.append("device differs from the input's")
        if context.leftover_processes or any(r.threads_started for r in returned):
            problems.append("processes or threads left running")
        message = "; ".join(problems) if problems else "PyTorch's shape, dtype and device for every case"
        return score_check(spec, int(not problems), 1, message, required=bool(returned))

    # Diagnosis

    def diagnose(self, results, expected, context) -> list[Diagnosis]:
        def value_ok(result: CaseResult) -> bool:
            return self.value_ok(result, expected)

        hypotheses, variants = diagnosis.hypothesis_diagnoses(results, expected)
        indexing = diagnosis.target_indexing_diagnosis(results)
        raised = evidence.raises_error(results)
        if indexing is not None:
            raised = None  # wrong-target-indexing explains every exception
        found = [
            raised,
            evidence.not_a_tensor(results),
            diagnosis.not_scalar_diagnosis(results, expected),
            evidence.dtype_mismatch(results, "logits"),
            evidence.detached_graph(results),
            evidence.mutates_inputs(results),
            evidence.uses_builtin_loss(results, self.traced_banned(context.strict), list(context.source_findings)),
            evidence.leaves_processes(results, context.leftover_processes),
            indexing,
            *hypotheses,
            diagnosis.empty_mean_diagnosis(results, expected, variants),
            *diagnosis.stability_diagnoses(results, expected, variants),
        ]
        found = [d for d in found if d is not None]
        # Zero gradients are left to the gradient check, because their relative error is 1 for any
        # rounding-sized value.
        moderate = [
            r for r in results
            if "moderate" in r.case.tags and "logits" in expected[r.case.id].grads
            and expected[r.case.id].grads["logits"].any()
        ]
        gradient = evidence.wrong_gradient(moderate, expected, "logits", value_ok)
        if gradient and not any(d.mistake.id == "detached-graph" for d in found):
            found.append(gradient)
        failures = [r for r in results if r.case.check in VALUE_CHECKS and r.returned and not value_ok(r)]
        explained = diagnosis.VALUE_MISTAKES | {"not-a-tensor"}
        if failures and not any(d.mistake.id in explained for d in found):
            found.append(diagnosis.wrong_value_diagnosis(failures, expected))
        # Options change how many torch calls a vectorized solution makes, so only the calls with
        # default options are compared.
        found.append(evidence.not_vectorized([r for r in results if not r.case.kwargs], "logits"))
        return [_printable(d) for d in found if d is not None]


def _dtype_name(case: Case) -> str:
    return str(case.tensors["logits"].dtype).removeprefix("torch.")


def _printable(found: Diagnosis) -> Diagnosis:
    """Keep the failing cases a counterexample can be printed from, preferring ones that count a target."""
    failing = list(found.failing)
    typical = [r for r in failing if "nothing-counted" not in r.case.tags]
    return Diagnosis(found.mistake, typical or failing, found.case_fails, found.search_values)
