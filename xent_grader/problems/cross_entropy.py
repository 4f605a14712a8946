"""The cross-entropy problem: mean cross-entropy from logits, checked against F.cross_entropy."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

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
    GradingContext,
    Problem,
    gradient_error,
    inputs_mutated,
    scalar_value,
    score_check,
    tolerance_for,
    value_matches,
)
from xent_grader.problems.cross_entropy_cases import cross_entropy_cases, literal_case, logits_cases, random_case

BUILTIN_LOSSES = frozenset(
    {"cross_entropy", "nll_loss", "nll_loss_nd", "nll_loss2d", "cross_entropy_loss", "nll_loss_forward",
     "CrossEntropyLoss", "NLLLoss"}
)
STRICT_EXTRAS = frozenset({"log_softmax", "logsumexp", "_log_softmax", "LogSoftmax", "logcumsumexp", "softmax"})

CHECKS = (
    CheckSpec("parity", "Matches F.cross_entropy on random cases", 25, partial=True),
    CheckSpec("stability", "Finite and right for extreme logits", 20, partial=True),
    CheckSpec("batch-mean", "Averages over the batch", 10, partial=True),
    CheckSpec("negation", "Has the right sign", 5, partial=False),
    CheckSpec("output", "Returns a 0-dim tensor of the logits' dtype and device", 10, partial=False),
    CheckSpec("gradient", "loss.backward() gives the right gradient", 10, partial=True),
    CheckSpec("inputs-untouched", "Leaves the inputs unchanged", 5, partial=False),
    CheckSpec("from-scratch", "Uses no built-in loss", 15, partial=False),
)

# Loose tolerance for "the output equals this wrong formula": the formulas differ from the truth by
# factors such as -1, N or 1/C, far beyond rounding.
HYPOTHESIS_TOLERANCE = Tolerance(rtol=1e-4, atol=1e-6)


def _log_probs(case: Case) -> torch.Tensor:
    return torch.log_softmax(case.tensors["logits"].double(), dim=1)


def _target_log_probs(case: Case, log_probs: torch.Tensor) -> torch.Tensor:
    targets = case.tensors["targets"]
    return log_probs[torch.arange(targets.numel()), targets]


# Each wrong formula a submission may have implemented, computed stably in float64.
VALUE_HYPOTHESES: dict[str, Callable[[Case, torch.Tensor], torch.Tensor]] = {
    "missing-negation": lambda case, truth: -truth,
    "sum-instead-of-mean": lambda case, truth: truth * case.tensors["targets"].numel(),
    "mean-over-classes": lambda case, truth: truth / case.tensors["logits"].shape[1],
    "wrong-softmax-dim": lambda case, truth: -_target_log_probs(
        case, torch.log_softmax(case.tensors["logits"].double(), dim=0)
    ).mean(),
    "wrong-target-indexing": lambda case, truth: -_log_probs(case)[:, case.tensors["targets"]].mean(),
    "ignores-targets": lambda case, truth: -_log_probs(case).mean(),
}

TITLES = {
    "missing-negation": "Missing minus sign",
    "sum-instead-of-mean": "Sum over the batch instead of the mean",
    "mean-over-classes": "Mean over all entries instead of over the batch",
    "wrong-softmax-dim": "Softmax over the wrong dimension",
    "wrong-target-indexing": "Wrong indexing of the target log-probabilities",
    "softmax-then-log": "Softmax then log instead of log-softmax",
    "no-max-shift": "No max-shift before exp",
    "wrong-value": "Values differ from F.cross_entropy",
}

HINTS = {
    "missing-negation": "Cross-entropy is the negative log-likelihood: log-probabilities are at most 0, so the loss "
    "must be at least 0.",
    "sum-instead-of-mean": "F.cross_entropy's default reduction averages the per-example losses over the batch.",
    "mean-over-classes": "Pick one log-probability per row (the target's), then average over the rows only; "
    "averaging the whole one-hot product also divides by the class count.",
    "wrong-softmax-dim": "The softmax normalises each row over its classes: reduce along dim=1 (or dim=-1), "
    "not along the batch.",
    "wrong-target-indexing": "Row i needs the log-probability at column targets[i]: index with a pair of index "
    "tensors (rows and targets) or use gather, not log_probs[:, targets].",
    "softmax-then-log": "Taking the log of a probability that underflowed to 0 gives -inf, and an epsilon or clamp "
    "only hides it. Compute log-probabilities directly in log space, without forming the probabilities.",
    "no-max-shift": "exp overflows above about 88 in float32. Subtract each row's max before exp: the log-sum-exp "
    "is unchanged and the largest term becomes exp(0) = 1.",
    "wrong-value": "Compare your function with F.cross_entropy on the counterexample below, step by step.",
}


class CrossEntropyProblem(Problem):
    id = "cross-entropy"
    title = "Cross-entropy loss from logits"
    function_name = "cross_entropy_loss"
    parameters = ("logits", "targets")
    checks = CHECKS
    banned_functions = BUILTIN_LOSSES
    strict_banned_functions = STRICT_EXTRAS

    def make_cases(self, seed: int, extra_cases: list[dict]) -> list[Case]:
        return cross_entropy_cases(seed, extra_cases)

    def expected(self, case: Case) -> Expected:
        logits = case.tensors["logits"].to(torch.float64, copy=True).requires_grad_(True)
        loss = F.cross_entropy(logits, case.tensors["targets"])
        (grad,) = torch.autograd.grad(loss, logits)
        return Expected(value=loss.detach(), grads={"logits": grad})

    def score_checks(self, results, expected, context) -> list[CheckResult]:
        return self._checks(results, expected, context)

    # Checks

    def _value_ok(self, result: CaseResult, expected: dict[int, Expected]) -> bool:
        return value_matches(result, expected[result.case.id], tolerance_for(result.case, "logits"))

    def _checks(self, results, expected, context) -> list[CheckResult]:
        by_check = {spec.id: [r for r in results if r.case.check == spec.id] for spec in CHECKS}
        returned = [r for r in results if r.returned]
        specs = {spec.id: spec for spec in CHECKS}
        checks = []
        for check_id in ("parity", "stability"):
            cases = by_check[check_id]
            passed = sum(self._value_ok(r, expected) for r in cases)
            checks.append(score_check(specs[check_id], passed, len(cases), f"{passed} of {len(cases)} cases match"))
        batch = by_check["batch-mean"]
        passed = sum(self._magnitude_ok(r, expected) for r in batch)
        checks.append(score_check(specs["batch-mean"], passed, len(batch), f"{passed} of {len(batch)} batch sizes match"))
        negation = by_check["negation"]
        passed = sum(self._sign_ok(r, expected) for r in negation)
        checks.append(score_check(specs["negation"], passed, len(negation), f"{passed} of {len(negation)} have the right sign"))
        checks.append(self._output_check(specs["output"], results, context))
        graded = [r for r in results if r.case.grad]
        passed = sum(self._gradient_ok(r, expected) for r in graded)
        checks.append(score_check(specs["gradient"], passed, len(graded), f"{passed} of {len(graded)} gradients match"))
        # These two checks reward a working implementation, so a body that returns a constant earns neither.
        earned = any(self._value_ok(r, expected) for r in results if r.case.check in ("parity", "stability"))
        ran = [r for r in results if r.ran]
        untouched = sum(not inputs_mutated(r) for r in ran)
        message = f"{untouched} of {len(ran)} calls left the inputs unchanged"
        checks.append(score_check(specs["inputs-untouched"], untouched, len(ran), message, required=earned))
        banned = self.banned(context.strict)
        uses = any(name in banned for r in results for name in r.functions) or bool(context.source_findings)
        message = "a built-in loss was found" if uses else "no built-in loss found"
        checks.append(score_check(specs["from-scratch"], int(not uses), 1, message, required=earned))
        return checks

    def _magnitude_ok(self, result: CaseResult, expected: dict[int, Expected]) -> bool:
        got = scalar_value(result)
        if got is None:
            return False
        return values_close(got.abs(), expected[result.case.id].value.abs(), tolerance_for(result.case, "logits"))

    def _sign_ok(self, result: CaseResult, expected: dict[int, Expected]) -> bool:
        got = scalar_value(result)
        return got is not None and bool(torch.isfinite(got)) and bool(torch.sign(got) == torch.sign(expected[result.case.id].value))

    def _gradient_ok(self, result: CaseResult, expected: dict[int, Expected]) -> bool:
        error = gradient_error(result, expected[result.case.id], "logits")
        return error is not None and error <= evidence.gradient_limit(result, "logits")

    def _output_check(self, spec: CheckSpec, results: list[CaseResult], context: GradingContext) -> CheckResult:
        returned = [r for r in results if r.returned]
        problems = []
        if any(r.kind != "tensor" for r in returned):
            problems.append("not a plain torch.Tensor")
        if any(r.shape not in (None, ()) for r in returned):
            problems.append("not 0-dim")
        if any(r.kind == "tensor" and r.dtype != str(r.case.tensors["logits"].dtype).removeprefix("torch.") for r in returned):
            problems.append("dtype differs from the logits'")
        if any(r.kind == "tensor" and r.device not in (None, "cpu") for r in returned):
            problems.append("device differs from the logits'")
        if context.leftover_processes or any(r.threads_started for r in returned):
            problems.append("processes or threads left running")
        message = "; ".join(problems) if problems else "0-dim tensor of the right dtype and device"
        return score_check(spec, int(not problems), 1, message, required=bool(returned))

    # Diagnosis

    def diagnose(self, results, expected, context) -> list[Diagnosis]:
        def value_ok(result: CaseResult) -> bool:
            return self._value_ok(result, expected)

        value_diagnoses = self._value_diagnoses(results, expected)
        formula = VALUE_HYPOTHESES.get(value_diagnoses[0].mistake.id, _truth) if value_diagnoses else _truth
        detectors = [
            *evidence.output_contract_diagnoses(
                results, "logits", self.banned(context.strict), context.source_findings, context.leftover_processes
            ),
            *value_diagnoses,
            *self._stability_diagnoses(results, expected, formula),
        ]
        found = [d for d in detectors if d is not None]
        moderate = [r for r in results if "moderate" in r.case.tags]
        gradient = evidence.wrong_gradient(moderate, expected, "logits", value_ok)
        if gradient and not any(d.mistake.id == "detached-graph" for d in found):
            found.append(gradient)
        found.append(evidence.not_vectorized(results, "logits"))
        found = [d for d in found if d is not None]
        value_failures = [r for r in results if r.case.check in ("parity", "stability") and r.returned and not value_ok(r)]
        explained = {"missing-negation", "sum-instead-of-mean", "mean-over-classes", "wrong-softmax-dim",
                     "wrong-target-indexing", "softmax-then-log", "no-max-shift", "not-scalar", "not-a-tensor"}
        if value_failures and not any(d.mistake.id in explained for d in found):
            found.append(self._wrong_value(value_failures, expected))
        return found

    def _value_diagnoses(self, results, expected) -> list[Diagnosis]:
        comparable = [r for r in results if "moderate" in r.case.tags and scalar_value(r) is not None]
        found = []
        for mistake_id, formula in VALUE_HYPOTHESES.items():
            differing = 0
            explained = True
            for result in comparable:
                truth = expected[result.case.id].value
                predicted = formula(result.case, truth)
                if not values_close(scalar_value(result), predicted, HYPOTHESIS_TOLERANCE):
                    explained = False
                    break
                differing += not values_close(predicted, truth, HYPOTHESIS_TOLERANCE)
            if explained and differing >= 2:
                found.append(self._hypothesis_diagnosis(mistake_id, comparable, expected, differing))
        return found

    def _hypothesis_diagnosis(self, mistake_id, comparable, expected, differing) -> Diagnosis:
        observations = {
            "missing-negation": "your loss was exactly -1 x the expected value",
            "sum-instead-of-mean": "your loss was batch_size x the expected value",
            "mean-over-classes": "your loss was the expected value divided by num_classes",
            "wrong-softmax-dim": "your loss equals a softmax taken over dim=0 (the batch) instead of the classes",
            "wrong-target-indexing": "your loss equals the mean of log_probs[:, targets], an N x N block",
            "ignores-targets": "your loss equals the mean of all log-probabilities, whatever the targets",
        }
        evidence_text = (
            f"On all {len(comparable)} cases with moderate logits {observations[mistake_id]} "
            f"({differing} of them tell this apart from the right answer)."
        )
        public_id = "wrong-target-indexing" if mistake_id == "ignores-targets" else mistake_id
        mistake = Mistake(public_id, TITLES[public_id], evidence_text, HINTS[public_id])
        failing = [r for r in comparable if not self._value_ok(r, expected)]
        return Diagnosis(mistake, failing, self._value_fails)

    def _value_fails(self, result: CaseResult, expected_case: Expected) -> bool:
        return not value_matches(result, expected_case, tolerance_for(result.case, "logits"))

    def _stability_diagnoses(self, results, expected, formula) -> list[Diagnosis]:
        """Diagnose the two classic stability mistakes on the cases built to tell them apart.

        ``formula`` is the value the moderate cases follow (the truth, or a diagnosed wrong formula),
        so that, say, a missing minus sign is not also reported as an underflow.
        """
        found = []
        extreme = [
            r for r in results
            if r.case.tags & {"overflow", "underflow-all"} and "target-underflow" not in r.case.tags
            and scalar_value(r) is not None
        ]
        non_finite = [r for r in extreme if not torch.isfinite(scalar_value(r))]
        if non_finite:
            example = non_finite[0]
            evidence_text = (
                f"Your loss was {scalar_value(example).item()} for {example.case.label}, where F.cross_entropy gives "
                f"{expected[example.case.id].value.item():.6g} ({len(non_finite)} of {len(extreme)} cases whose "
                "logits overflow or underflow exp were not finite)."
            )
            mistake = Mistake("no-max-shift", TITLES["no-max-shift"], evidence_text, HINTS["no-max-shift"])
            found.append(Diagnosis(mistake, non_finite, _non_finite, search_values=(100.0, -100.0, 1000.0, -1000.0)))
        moderate = [r for r in results if "moderate" in r.case.tags and scalar_value(r) is not None]
        followed = [
            r for r in moderate
            if values_close(scalar_value(r), formula(r.case, expected[r.case.id].value), HYPOTHESIS_TOLERANCE)
        ]
        if len(followed) < 0.9 * max(1, len(moderate)):
            return found
        underflow = [
            r for r in results
            if "target-underflow" in r.case.tags and not r.case.tags & {"overflow", "underflow-all"}
            and scalar_value(r) is not None
        ]
        tolerance = HYPOTHESIS_TOLERANCE
        low = [
            r for r in underflow
            if not values_close(scalar_value(r), formula(r.case, expected[r.case.id].value), tolerance)
        ]
        if low:
            example = low[0]
            got = scalar_value(example).item()
            how = "not finite" if not torch.isfinite(scalar_value(example)) else f"{got:.6g}"
            evidence_text = (
                f"Where the target's probability underflows ({example.case.label}) F.cross_entropy gives "
                f"{expected[example.case.id].value.item():.6g}, but your loss was {how} "
                f"({len(low)} of {len(underflow)} such cases), while moderate logits give the expected values."
            )
            mistake = Mistake("softmax-then-log", TITLES["softmax-then-log"], evidence_text, HINTS["softmax-then-log"])
            found.append(Diagnosis(mistake, low, self._value_fails, search_values=(-200.0, -800.0, -100.0, 50.0)))
        return found

    performance_builtin = "torch.nn.functional.cross_entropy"

    def advisory_cases(self, seed: int) -> list[Case]:
        rows, targets = [[1.0, 2.0, 3.0], [0.5, 0.0, -1.0]], [2, 0]
        return [
            literal_case(80_000, "half", rows, targets, torch.float16),
            literal_case(80_001, "half", rows, targets, torch.bfloat16),
            # exp(12) is 162754.8, above float16's largest value 65504.
            literal_case(80_002, "half", [[12.0, 0.0]], [1], torch.float16),
        ]

    def advisory_notes(self, results: list[CaseResult]) -> list[str]:
        """Compare half-precision results with float32 PyTorch on the upcast logits, within 2 ulps.

        PyTorch's own float16 mean can overflow, so half precision is reported, never scored.
        """
        matched, differed = [], []
        for result in results:
            logits = result.case.tensors["logits"]
            name = f"{str(logits.dtype).removeprefix('torch.')} {result.case.code['logits'].removeprefix('torch.tensor(')}"
            name = name.split(", dtype=")[0]
            expected = F.cross_entropy(logits.float(), result.case.tensors["targets"]).item()
            got = scalar_value(result)
            ulp = torch.finfo(logits.dtype).eps * max(1.0, abs(expected))
            if got is not None and abs(got.item() - expected) <= 2 * ulp:
                matched.append(name)
            else:
                shown = "no scalar" if got is None else f"{got.item():.6g}"
                differed.append(f"{name}: got {shown}, float32 PyTorch gives {expected:.6g}")
        parts = []
        if matched:
            parts.append("matches float32 PyTorch within 2 ulps for " + "; ".join(matched))
        if differed:
            parts.append("differs for " + "; ".join(differed))
        return ["Half precision (not scored): " + ", and ".join(parts) + "."] if parts else []

    def performance_case(self, seed: int) -> Case:
        case = random_case(90_000, "performance", (64, 32000, 1.0), torch.float32, seed)
        return dataclasses.replace(case, grad=("logits",), measure_memory=True, repeat=3)

    def counterexample_strategy(self, diagnosis: Diagnosis):
        dtype = diagnosis.failing[0].case.tensors["logits"].dtype
        return logits_cases(dtype, diagnosis.search_values)

    def _wrong_value(self, failures: list[CaseResult], expected) -> Diagnosis:
        example = failures[0]
        got = scalar_value(example)
        shown = "a non-scalar result" if got is None else f"{got.item():.8g}"
        evidence_text = (
            f"{len(failures)} cases differ from F.cross_entropy in a way that matches none of the known mistakes; "
            f"for example {example.case.label}: expected {expected[example.case.id].value.item():.8g}, got {shown}."
        )
        mistake = Mistake("wrong-value", TITLES["wrong-value"], evidence_text, HINTS["wrong-value"])
        return Diagnosis(mistake, failures, self._value_fails)


def _truth(case: Case, truth: torch.Tensor) -> torch.Tensor:
    return truth


def _non_finite(result: CaseResult, expected_case: Expected) -> bool:
    got = scalar_value(result)
    return got is not None and not bool(torch.isfinite(got))
