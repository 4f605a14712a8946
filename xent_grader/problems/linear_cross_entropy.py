"""The linear-cross-entropy problem: cross_entropy(hidden @ weight.T, targets) without the full logits.

Besides the value and the gradients for ``hidden`` and ``weight``, one large case measures the peak
extra memory of the call plus its backward pass, which must stay well below the size of the (N, V)
logits.
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F

from xent_grader.grading import evidence
from xent_grader.grading.cases import Case, CaseResult
from xent_grader.grading.compare import Tolerance, values_close
from xent_grader.grading.evidence import Diagnosis
from xent_grader.grading.results import CheckResult, Mistake
from xent_grader.problems.base import (
    CheckSpec,
    Expected,
    Problem,
    gradient_error,
    inputs_mutated,
    scalar_value,
    score_check,
)
from xent_grader.problems.cross_entropy import BUILTIN_LOSSES, STRICT_EXTRAS
from xent_grader.problems.linear_cross_entropy_cases import (
    expected_loss,
    gradient_limit,
    linear_cross_entropy_cases,
    logits_bytes,
    max_abs_logit,
    performance_case,
    value_tolerance_for,
)

MIB = 1024 * 1024

# The memory check passes when the peak extra resident memory of the call plus backward is below
# this fraction of the (N, V) logits' size. The peaks below were measured through grade_file on the
# 1024 x 16 x 65,536 float32 memory case (256 MiB of logits), over 3 to 7 runs with several seeds,
# with torch 2.13 and glibc on 2 CPU cores. The fraction of the logits' size is in brackets.
#   reference.py with vocabulary chunks of 1,024, 4,096 and 8,192 entries:
#       28 to 32, 49 to 52 and 67 MiB (0.11 to 0.26)
#   gallery/logaddexp_merge.py and gallery/batch_chunks.py: 98 and 108 MiB (0.38 and 0.42)
#   gallery/chunked_autograd.py, every chunk recorded by autograd: 352 to 496 MiB (1.4 to 1.9)
#   gallery/full_logits.py, the full logits: 768 MiB (3.0)
# The submission's process fixes glibc's mmap threshold at 1 MiB (see the harness). Without that,
# batch_chunks.py with blocks of 64 rows (16 MiB) measured 116 to 287 MiB instead of 52 MiB,
# because freed temporaries below the raised threshold stayed resident.
MEMORY_FRACTION = 0.5

CHECKS = (
    CheckSpec("parity", "Matches F.cross_entropy(hidden @ weight.T, targets) on random cases", 20, partial=True),
    CheckSpec("stability", "Finite and right for extreme logits", 10, partial=True),
    CheckSpec("gradient-hidden", "hidden.grad matches PyTorch after loss.backward()", 12, partial=True),
    CheckSpec("gradient-weight", "weight.grad matches PyTorch after loss.backward()", 12, partial=True),
    CheckSpec("memory", "Peak memory of the call plus backward stays below half the logits' size", 18, partial=False),
    CheckSpec("output", "Returns a 0-dim tensor of the hidden states' dtype and device", 8, partial=False),
    CheckSpec("inputs-untouched", "Leaves the inputs unchanged", 5, partial=False),
    CheckSpec("from-scratch", "Uses no built-in loss", 15, partial=False),
)

# Loose tolerance for "the output equals this wrong formula": the formulas differ from the truth by
# a factor of -1 or N, far beyond rounding.
HYPOTHESIS_TOLERANCE = Tolerance(rtol=1e-4, atol=1e-6)

VALUE_HYPOTHESES = {
    "missing-negation": (lambda case, truth: -truth, "exactly -1 x the expected value"),
    "sum-instead-of-mean": (
        lambda case, truth: truth * case.tensors["targets"].numel(),
        "N x the expected value, the sum of the row losses",
    ),
}

TITLES = {
    "materializes-logits": "The full (N, V) logits are in memory",
    "wrong-gradient": "A gradient is wrong",
    "missing-negation": "Missing minus sign",
    "sum-instead-of-mean": "Sum over the rows instead of the mean",
    "no-max-shift": "No max-shift before exp",
    "softmax-then-log": "Softmax then log instead of log-softmax",
    "wrong-value": "Values differ from F.cross_entropy(hidden @ weight.T, targets)",
}

HINTS = {
    "materializes-logits": "Each row needs only its target logit and its log-sum-exp. Write a "
    "torch.autograd.Function that accumulates the log-sum-exp over vocabulary chunks, saves only "
    "hidden, weight, targets and the (N,) log-sum-exp, and recomputes each chunk's logits in backward.",
    "wrong-gradient": "The gradient of the logits is (softmax - one_hot) * grad_output / N. Add each chunk's "
    "contribution to grad_hidden instead of overwriting it, and give each chunk of weight rows its own "
    "slice of grad_weight.",
    "missing-negation": "Cross-entropy is the negative log-likelihood: log-probabilities are at most 0, so the "
    "loss must be at least 0.",
    "sum-instead-of-mean": "F.cross_entropy's default reduction averages the row losses over N.",
    "no-max-shift": "exp overflows above about 88 in float32. Keep a running max per row across the chunks "
    "and exponentiate logits minus that max, rescaling the running sum whenever the max grows.",
    "softmax-then-log": "The log of a probability that underflowed to 0 is -inf. Use the target logit minus "
    "the log-sum-exp instead of the log of a softmax.",
    "wrong-value": "Compare your function with F.cross_entropy(hidden @ weight.T, targets) on a small case, "
    "one chunk at a time.",
}


class LinearCrossEntropyProblem(Problem):
    id = "linear-cross-entropy"
    title = "Memory-efficient linear layer plus cross-entropy"
    function_name = "linear_cross_entropy"
    parameters = ("hidden", "weight", "targets")
    checks = CHECKS
    banned_functions = BUILTIN_LOSSES
    strict_banned_functions = STRICT_EXTRAS

    def make_cases(self, seed: int, extra_cases: list[dict]) -> list[Case]:
        # NOTE: instructor cases (extra_cases) are ignored here: they are written for the logits layout.
        return linear_cross_entropy_cases(seed)

    def expected(self, case: Case) -> Expected:
        return expected_loss(case)

    performance_builtin = "xent_grader.sandbox.builtin_references.linear_cross_entropy"

    def performance_case(self, seed: int) -> Case:
        return performance_case(seed)

    def reference_timing(self, case: Case) -> float:
        """Return the median time of 5 F.cross_entropy(hidden @ weight.T, targets) calls without autograd, in s."""
        hidden, weight, targets = (case.tensors[name] for name in ("hidden", "weight", "targets"))
        timings = []
        with torch.no_grad():
            for _ in range(5):
                started = time.perf_counter()
                F.cross_entropy(hidden @ weight.T, targets)
                timings.append(time.perf_counter() - started)
        return statistics.median(timings)

    # Checks

    def value_ok(self, result: CaseResult, expected: dict[int, Expected]) -> bool:
        got = scalar_value(result)
        return got is not None and values_close(got, expected[result.case.id].value, value_tolerance_for(result.case))

    def gradient_ok(self, result: CaseResult, expected: dict[int, Expected], name: str) -> bool:
        error = gradient_error(result, expected[result.case.id], name)
        return error is not None and error <= gradient_limit(result.case)

    def score_checks(self, results, expected, context) -> list[CheckResult]:
        specs = {spec.id: spec for spec in CHECKS}
        returned = [r for r in results if r.returned]
        checks = []
        for check_id in ("parity", "stability"):
            cases = [r for r in results if r.case.check == check_id]
            passed = sum(self.value_ok(r, expected) for r in cases)
            checks.append(score_check(specs[check_id], passed, len(cases), f"{passed} of {len(cases)} cases match"))
        for name in ("hidden", "weight"):
            passed = sum(self.gradient_ok(r, expected, name) for r in results)
            message = f"{passed} of {len(results)} gradients of {name} match"
            checks.append(score_check(specs[f"gradient-{name}"], passed, len(results), message))
        checks.append(self._memory_check(specs["memory"], results, expected))
        checks.append(self._output_check(specs["output"], results, context))
        ran = [r for r in results if r.ran]
        untouched = sum(not inputs_mutated(r) for r in ran)
        message = f"{untouched} of {len(ran)} calls left the inputs unchanged"
        checks.append(score_check(specs["inputs-untouched"], untouched, len(ran), message, required=bool(returned)))
        uses = _uses_builtin(results, self.banned(context.strict), context)
        message = "a built-in loss was found" if uses else "no built-in loss found"
        checks.append(score_check(specs["from-scratch"], int(not uses), 1, message, required=bool(returned)))
        return checks

    def _memory_check(self, spec: CheckSpec, results, expected) -> CheckResult:
        measured = [r for r in results if r.case.measure_memory]
        passed, notes = 0, []
        for result in measured:
            limit = MEMORY_FRACTION * logits_bytes(result.case)
            if not self.value_ok(result, expected) or set(result.grads) != {"hidden", "weight"}:
                notes.append(f"{result.case.label}: not credited, because the value or a gradient is missing or wrong")
            elif result.peak_memory_bytes is None:
                # NOTE: the peak is read from /proc/PID/status, so it cannot be measured outside Linux.
                notes.append(f"{result.case.label}: the peak memory could not be measured on this machine")
            else:
                passed += result.peak_memory_bytes < limit
                notes.append(f"{result.case.label}: peak {_mib(result.peak_memory_bytes)}, limit {_mib(limit)}")
        return score_check(spec, passed, len(measured), "; ".join(notes) or "no memory case ran")

    def _output_check(self, spec: CheckSpec, results, context) -> CheckResult:
        returned = [r for r in results if r.returned]
        problems = []
        if any(r.kind != "tensor" for r in returned):
            problems.append("not a plain torch.Tensor")
        if any(r.shape not in (None, ()) for r in returned):
            problems.append("not 0-dim")
        if any(r.kind == "tensor" and r.dtype != _dtype_name(r.case) for r in returned):
            problems.append("dtype differs from the hidden states'")
        if any(r.kind == "tensor" and r.device not in (None, "cpu") for r in returned):
            problems.append("device differs from the hidden states'")
        if context.leftover_processes or any(r.threads_started for r in returned):
            problems.append("processes or threads left running")
        message = "; ".join(problems) if problems else "0-dim tensor of the right dtype and device"
        return score_check(spec, int(not problems), 1, message, required=bool(returned))

    # Diagnosis

    def diagnose(self, results, expected, context) -> list[Diagnosis]:
        value_diagnoses = self._value_diagnoses(results, expected)
        found = [
            *evidence.output_contract_diagnoses(
                results, "hidden", self.banned(context.strict), context.source_findings, context.leftover_processes
            ),
            *value_diagnoses,
            *self._stability_diagnoses(results, expected, bool(value_diagnoses)),
            self._gradient_diagnosis(results, expected),
            self._memory_diagnosis(results, expected),
        ]
        found = [d for d in found if d is not None]
        failures = [r for r in results if r.case.check != "memory" and r.returned and not self.value_ok(r, expected)]
        explained = {"missing-negation", "sum-instead-of-mean", "no-max-shift", "softmax-then-log", "not-scalar",
                     "not-a-tensor"}
        if failures and not any(d.mistake.id in explained for d in found):
            found.append(self._wrong_value(failures, expected))
        return found

    def _value_diagnoses(self, results, expected) -> list[Diagnosis]:
        comparable = [r for r in results if "moderate" in r.case.tags and scalar_value(r) is not None]
        found = []
        for mistake_id, (formula, observation) in VALUE_HYPOTHESES.items():
            predictions = [(r, formula(r.case, expected[r.case.id].value)) for r in comparable]
            followed = all(values_close(scalar_value(r), p, HYPOTHESIS_TOLERANCE) for r, p in predictions)
            if not predictions or not followed:
                continue
            distinguishing = sum(
                not values_close(p, expected[r.case.id].value, HYPOTHESIS_TOLERANCE) for r, p in predictions
            )
            if distinguishing >= 2:
                text = f"On all {len(comparable)} cases with moderate logits your loss was {observation}."
                found.append(Diagnosis(Mistake(mistake_id, TITLES[mistake_id], text, HINTS[mistake_id])))
        return found

    def _stability_diagnoses(self, results, expected, values_wrong: bool) -> list[Diagnosis]:
        found = []
        overflow = [
            r for r in results
            if r.case.tags & {"overflow", "underflow-all"} and "target-underflow" not in r.case.tags
        ]
        non_finite = [r for r in overflow if scalar_value(r) is not None and not torch.isfinite(scalar_value(r))]
        if non_finite:
            example = non_finite[0]
            text = (
                f"Your loss was {scalar_value(example).item()} for {example.case.label} with logits up to "
                f"{max_abs_logit(example.case):.0f}, where PyTorch gives "
                f"{expected[example.case.id].value.item():.6g} ({len(non_finite)} of {len(overflow)} such cases)."
            )
            found.append(Diagnosis(Mistake("no-max-shift", TITLES["no-max-shift"], text, HINTS["no-max-shift"])))
        underflow = [
            r for r in results if r.case.tags == frozenset({"target-underflow"}) and scalar_value(r) is not None
        ]
        low = [r for r in underflow if not self.value_ok(r, expected)]
        if low and not values_wrong:
            example = low[0]
            text = (
                f"Where the target's probability underflows ({example.case.label}), PyTorch gives "
                f"{expected[example.case.id].value.item():.6g} but your loss was {scalar_value(example).item():.6g}, "
                "while moderate logits give the expected values."
            )
            mistake = Mistake("softmax-then-log", TITLES["softmax-then-log"], text, HINTS["softmax-then-log"])
            found.append(Diagnosis(mistake))
        return found

    def _gradient_diagnosis(self, results, expected) -> Diagnosis | None:
        """Diagnose gradients that are wrong on cases whose value is right."""
        parts = []
        for name in ("hidden", "weight"):
            errors = [
                gradient_error(r, expected[r.case.id], name)
                for r in results
                if self.value_ok(r, expected) and gradient_error(r, expected[r.case.id], name) is not None
                and not self.gradient_ok(r, expected, name)
            ]
            if errors:
                parts.append(f"{name}.grad on {len(errors)} cases (largest relative error {max(errors):.2e})")
        if not parts:
            return None
        text = "Your loss values are right, but " + " and ".join(parts) + " differ from PyTorch's."
        return Diagnosis(Mistake("wrong-gradient", TITLES["wrong-gradient"], text, HINTS["wrong-gradient"]))

    def _memory_diagnosis(self, results, expected) -> Diagnosis | None:
        measured = [
            r for r in results
            if r.case.measure_memory and r.peak_memory_bytes is not None
            and r.peak_memory_bytes >= MEMORY_FRACTION * logits_bytes(r.case)
        ]
        if not measured:
            return None
        result = measured[0]
        size = logits_bytes(result.case)
        text = (
            f"For {result.case.label} the peak extra memory of your call plus backward was "
            f"{_mib(result.peak_memory_bytes)}, {result.peak_memory_bytes / size:.2f} x the {_mib(size)} of the "
            f"(N, V) logits; the limit is {MEMORY_FRACTION:g} x ({_mib(MEMORY_FRACTION * size)})."
        )
        mistake = Mistake("materializes-logits", TITLES["materializes-logits"], text, HINTS["materializes-logits"])
        return Diagnosis(mistake)

    def _wrong_value(self, failures: list[CaseResult], expected) -> Diagnosis:
        example = failures[0]
        got = scalar_value(example)
        shown = "a result with more than one number" if got is None else f"{got.item():.8g}"
        text = (
            f"{len(failures)} cases differ from PyTorch in a way that matches none of the known mistakes; for "
            f"example {example.case.label}: expected {expected[example.case.id].value.item():.8g}, got {shown}."
        )
        return Diagnosis(Mistake("wrong-value", TITLES["wrong-value"], text, HINTS["wrong-value"]))


def _dtype_name(case: Case) -> str:
    return str(case.tensors["hidden"].dtype).removeprefix("torch.")


def _mib(size: float) -> str:
    return f"{size / MIB:.0f} MiB"


def _uses_builtin(results: list[CaseResult], banned: frozenset[str], context) -> bool:
    return any(name in banned for r in results for name in r.functions) or bool(context.source_findings)
