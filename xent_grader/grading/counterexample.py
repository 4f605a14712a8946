"""The smallest failing input for a diagnosed mistake, searched with Hypothesis in the live process.

The problem supplies a Hypothesis strategy of small inputs. For cross-entropy these have few rows
and classes, small integers first, then the special values the mistake needs. The submission's
process evaluates each input, and Hypothesis shrinks the first failure to the simplest one that
still fails. When the process is gone or the budget runs out, the smallest failing graded case is
used instead.
"""

from __future__ import annotations

import os
import tempfile
import time

import torch


from xent_grader.grading.cases import Case, CaseResult, parse_result
from xent_grader.grading.evidence import Diagnosis
from xent_grader.grading.results import Counterexample
from xent_grader.problems.base import Expected, Problem, scalar_value
from xent_grader.sandbox.runner import SubmissionProcess

MAX_EXAMPLES = 150


class _BudgetSpent(Exception):
    pass


def search(
    diagnosis: Diagnosis,
    problem: Problem,
    process: SubmissionProcess,
    seconds: float,
) -> tuple[Case, CaseResult] | None:
    """Find a small failing case by running candidates in ``process``; None if none fails in time."""
    if diagnosis.case_fails is None or not diagnosis.failing or process.failure is not None:
        return None
    strategy = problem.counterexample_strategy(diagnosis)
    if strategy is None:
        return None
    # Hypothesis keeps a folder of its own; keep it out of the user's working directory.
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "xent-grade-hypothesis"))
    # Imported here because grading a correct file never searches, and the import takes 0.1 s.
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample, Unsatisfiable

    search_settings = settings(
        max_examples=MAX_EXAMPLES,
        database=None,
        derandomize=True,
        deadline=None,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
    )
    stop_at = time.monotonic() + seconds
    seen: dict[int, CaseResult] = {}

    def fails(case: Case) -> bool:
        if time.monotonic() > stop_at or process.failure is not None:
            raise _BudgetSpent
        result = run_case(process, case)
        if result is None:
            raise _BudgetSpent
        failed = diagnosis.case_fails(result, problem.expected(case))
        if failed:
            seen[id(case)] = result
        return failed

    try:
        case = find(strategy, fails, settings=search_settings)
    except (_BudgetSpent, NoSuchExample, Unsatisfiable):
        return None
    result = run_case(process, case)
    return (case, result) if result is not None else None


def run_case(process: SubmissionProcess, case: Case, soft_deadline: float | None = None) -> CaseResult | None:
    """Run one case in the submission's process; None once the process has failed or given up."""
    if not process.send(case.request(), dict(case.tensors)):
        return None
    frame = process.next_frame(soft_deadline)
    baseline = None
    if frame is not None and frame.header.get("event") == "armed" and case.measure_memory:
        baseline = process.reset_peak_memory()
        process.send({"op": "go"})
        frame = process.next_frame(soft_deadline)
    if frame is None or frame.header.get("event") != "result" or frame.header.get("id") != case.id:
        return None
    result = parse_result(case, frame)
    if baseline is not None:
        peak = process.peak_memory_bytes()
        result.peak_memory_bytes = None if peak is None else max(0, peak - baseline)
    return result


def smallest_failing(diagnosis: Diagnosis) -> CaseResult | None:
    if not diagnosis.failing:
        return None
    return min(diagnosis.failing, key=lambda r: sum(t.numel() for t in r.case.tensors.values()))


def format_counterexample(
    case: Case, result: CaseResult, expected: Expected, function_name: str, mistake_id: str = ""
) -> Counterexample:
    lines = ["import torch"]
    for name in [*case.args, *case.kwargs.values()]:
        if isinstance(name, str) and name in case.code:
            # The grader calls with requires_grad=True on these inputs, which changes what in-place code does.
            suffix = ".requires_grad_()" if name in case.grad else ""
            code = f"({case.code[name]}){suffix}" if suffix and " " in case.code[name] else case.code[name] + suffix
            lines.append(f"{name} = {code}")

    def argument(value) -> str:
        return value if isinstance(value, str) and value in case.tensors else repr(value)

    arguments = [argument(value) for value in case.args]
    arguments += [f"{key}={argument(value)}" for key, value in case.kwargs.items()]
    lines.append(f"result = {function_name}({', '.join(arguments)})")
    wrong_grad = _wrong_gradient_input(mistake_id, result, expected)
    if wrong_grad is not None:
        # For a gradient mistake the value matches, so show the gradient that differs.
        lines += ["result.backward()", f"{wrong_grad}.grad"]
        return Counterexample(
            code="\n".join(lines),
            expected=str(expected.grads[wrong_grad].to(case.tensors[wrong_grad].dtype)),
            got=str(result.grads[wrong_grad].to(case.tensors[wrong_grad].dtype)),
        )
    return Counterexample(code="\n".join(lines), expected=_expected_text(expected), got=_got_text(result))


def _wrong_gradient_input(mistake_id: str, result: CaseResult, expected: Expected) -> str | None:
    """Name the input whose gradient differs, for a gradient mistake whose gradients came back."""
    if mistake_id != "wrong-gradient":
        return None
    for name in result.case.grad:
        if name in result.grads and name in expected.grads:
            if not torch.allclose(result.grads[name], expected.grads[name], rtol=1e-4, atol=1e-6, equal_nan=True):
                return name
    return None


def _expected_text(expected: Expected) -> str:
    value = expected.value
    return repr(value.item()) if value.numel() == 1 else str(value)


def _got_text(result: CaseResult) -> str:
    if result.error is not None:
        return f"raised {result.error.type}: {result.error.message[:200]}"
    value = scalar_value(result)
    if result.kind != "tensor":
        described = result.type_name or result.kind
        shown = f" {value.item()!r}" if value is not None else ""
        return f"{described}{shown}"
    if value is None:
        if result.value is not None and result.value.numel() <= 16:
            return str(result.value.to(torch.float32))
        return f"a tensor of shape {result.shape}"
    extras = []
    if result.shape != ():
        extras.append(f"shape {result.shape}")
    first_input = next((result.case.tensors[a] for a in result.case.args if isinstance(a, str) and a in result.case.tensors), None)
    if result.dtype and first_input is not None and result.dtype != str(first_input.dtype).removeprefix("torch."):
        extras.append(f"dtype {result.dtype}")
    if result.case.grad and not result.requires_grad:
        extras.append("requires_grad=False")
    return repr(value.item()) + (f" ({', '.join(extras)})" if extras else "")
