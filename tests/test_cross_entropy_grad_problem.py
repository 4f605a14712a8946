"""The cross-entropy-grad problem: its cases, the autograd trace, the wrong formulas and the diagnosis."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
import torch.nn.functional as F
from conftest import SOLUTIONS

from xent_grader.grading.cases import Case, CaseResult
from xent_grader.grading.compare import values_close
from xent_grader.grading.grade import GradeOptions, grade_file
from xent_grader.problems.base import GradingContext
from xent_grader.problems.cross_entropy import HYPOTHESIS_TOLERANCE
from xent_grader.problems.cross_entropy_cases import literal_case
from xent_grader.problems.cross_entropy_grad import AUTOGRAD_CALLS, CrossEntropyGradProblem
from xent_grader.problems.cross_entropy_grad_cases import VALUE_HYPOTHESES, without_backward
from xent_grader.problems.registry import problem_by_function
from xent_grader.sandbox.trace import CallTrace

SEEDS = (20261204, 1, 987_654)
PROBLEM = CrossEntropyGradProblem()
CONTEXT = GradingContext(source_findings=(), leftover_processes=0, strict=False)


def literal(rows, targets, dtype=torch.float64) -> Case:
    return without_backward(literal_case(0, "parity", rows, targets, dtype))


def result_with(case: Case, value: torch.Tensor, functions=()) -> CaseResult:
    """Build the result a submission returning ``value`` and calling ``functions`` would produce."""
    return CaseResult(
        case=case,
        ran=True,
        kind="tensor",
        value=value,
        dtype=str(case.tensors["logits"].dtype).removeprefix("torch."),
        shape=tuple(value.shape),
        device="cpu",
        inputs_after=dict(case.tensors),
        functions=Counter(functions),
    )


def test_expected_of_equal_logits():
    # softmax of [0, 0] is [0.5, 0.5], and minus the one-hot of target 0 gives [-0.5, 0.5] for one row.
    expected = PROBLEM.expected(literal([[0.0, 0.0]], [0])).value
    assert torch.equal(expected, torch.tensor([[-0.5, 0.5]], dtype=torch.float64))


def test_expected_divides_by_batch_size():
    # Two rows of [0, 0, 0]: softmax 1/3 each, minus 1 at the target, divided by 2.
    expected = PROBLEM.expected(literal([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]], [2, 0])).value
    third = 1.0 / 3.0
    assert torch.allclose(
        expected,
        torch.tensor([[third / 2, third / 2, (third - 1) / 2], [(third - 1) / 2, third / 2, third / 2]],
                     dtype=torch.float64),
        rtol=0,
        atol=1e-15,
    )


def test_expected_rows_sum_to_zero():
    for case in PROBLEM.make_cases(20261204, []):
        row_sums = PROBLEM.expected(case).value.sum(dim=1)
        assert torch.allclose(row_sums, torch.zeros_like(row_sums), atol=1e-12), case.label


def test_cases_request_no_backward():
    cases = PROBLEM.make_cases(20261204, [])
    assert all(case.grad == () for case in cases)
    assert {case.check for case in cases} == {"parity", "stability", "batch-mean"}


def test_float64_overflow_is_tagged():
    assert "overflow" in literal([[1000.0, 1001.0, 1002.0]], [0]).tags
    assert "underflow-all" in literal([[-1000.0, -1001.0, -1002.0]], [0]).tags


def autograd_by_backward(logits, targets):
    leaf = logits.detach().clone().requires_grad_(True)
    F.cross_entropy(leaf, targets).backward()
    return leaf.grad


def autograd_by_grad(logits, targets):
    leaf = logits.detach().requires_grad_(True)
    return torch.autograd.grad(F.cross_entropy(leaf, targets), leaf)[0]


def autograd_by_engine(logits, targets):
    leaf = logits.detach().requires_grad_(True)
    torch.autograd.backward(F.cross_entropy(leaf, targets))
    return leaf.grad


def autograd_by_func_grad(logits, targets):
    return torch.func.grad(lambda x: F.cross_entropy(x, targets))(logits)


def autograd_by_func_vjp(logits, targets):
    _, pullback = torch.func.vjp(lambda x: F.cross_entropy(x, targets), logits)
    return pullback(torch.tensor(1.0))[0]


def autograd_by_jacobian(logits, targets):
    return torch.autograd.functional.jacobian(lambda x: F.cross_entropy(x, targets), logits)


def by_hand(logits, targets):
    probs = torch.softmax(logits, dim=1)
    return (probs - F.one_hot(targets, logits.shape[1]).to(logits.dtype)) / logits.shape[0]


@pytest.mark.parametrize(
    "function",
    [autograd_by_backward, autograd_by_grad, autograd_by_engine, autograd_by_func_grad, autograd_by_func_vjp,
     autograd_by_jacobian],
)
def test_trace_records_autograd(function):
    logits, targets = torch.randn(3, 4, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 3, 1])
    trace = CallTrace()
    with trace:
        gradient = function(logits, targets)
    assert AUTOGRAD_CALLS & set(trace.calls)
    assert torch.allclose(gradient, by_hand(logits, targets), atol=1e-6)


def test_trace_of_hand_gradient_has_no_autograd():
    trace = CallTrace()
    with trace:
        by_hand(torch.randn(3, 4), torch.tensor([0, 3, 1]))
    assert not AUTOGRAD_CALLS & set(trace.calls)


def test_batch_division_coincides_for_one_row():
    case = literal([[0.3, -1.0, 2.0]], [1])
    truth = PROBLEM.expected(case).value
    predicted = VALUE_HYPOTHESES["no-division"][1](case, truth)
    assert values_close(predicted, truth, HYPOTHESIS_TOLERANCE)


def test_column_indexing_matches_in_place():
    case = literal([[0.3, -1.0, 2.0], [1.0, 0.0, -0.5], [2.0, 2.0, 1.0]], [1, 1, 0])
    probs = torch.softmax(case.tensors["logits"], dim=1)
    probs[:, case.tensors["targets"]] -= 1.0
    predicted = VALUE_HYPOTHESES["columns"][1](case, PROBLEM.expected(case).value)
    assert torch.allclose(predicted, probs / 3, atol=1e-15)


def test_row_indexing_undefined_for_large_target():
    case = literal([[0.3, -1.0, 2.0]], [2])
    assert VALUE_HYPOTHESES["rows"][1](case, PROBLEM.expected(case).value) is None


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("key", sorted(VALUE_HYPOTHESES))
def test_each_formula_differs_on_moderate_cases(seed, key):
    formula = VALUE_HYPOTHESES[key][1]
    differing = 0
    for case in PROBLEM.make_cases(seed, []):
        if "moderate" not in case.tags:
            continue
        truth = PROBLEM.expected(case).value
        predicted = formula(case, truth)
        differing += predicted is not None and not values_close(predicted, truth, HYPOTHESIS_TOLERANCE)
    assert differing >= 2


def diagnosed_ids(values_of, functions=()) -> list[str]:
    """Diagnose results whose values come from ``values_of(case, truth)``."""
    cases = PROBLEM.make_cases(20261204, [])
    expected = {case.id: PROBLEM.expected(case) for case in cases}
    results = []
    for case in cases:
        truth = expected[case.id].value
        value = values_of(case, truth)
        results.append(result_with(case, truth if value is None else value, functions))
    return [diagnosis.mistake.id for diagnosis in PROBLEM.diagnose(results, expected, CONTEXT)]


def test_truth_diagnoses_nothing():
    assert diagnosed_ids(lambda case, truth: truth) == []


@pytest.mark.parametrize("key", sorted(VALUE_HYPOTHESES))
def test_each_formula_is_diagnosed(key):
    mistake_id, formula, _ = VALUE_HYPOTHESES[key]
    assert mistake_id in diagnosed_ids(formula)


def test_unstable_softmax_is_diagnosed():
    def naive(case: Case, truth: torch.Tensor) -> torch.Tensor:
        logits, targets = case.tensors["logits"], case.tensors["targets"]
        exp_logits = torch.exp(logits)
        probs = exp_logits / exp_logits.sum(dim=1, keepdim=True)
        one_hot = F.one_hot(targets, logits.shape[1]).to(logits.dtype)
        return ((probs - one_hot) / logits.shape[0]).double()

    assert diagnosed_ids(naive) == ["unstable-softmax"]


def test_autograd_calls_are_diagnosed():
    assert diagnosed_ids(lambda case, truth: truth, functions=("detach", "backward")) == ["uses-autograd"]
    assert diagnosed_ids(lambda case, truth: truth, functions=("grad",)) == ["uses-autograd"]


def test_wrong_shape_is_diagnosed():
    assert "wrong-shape" in diagnosed_ids(lambda case, truth: truth.sum())


def test_no_autograd_check_fails_backward():
    cases = PROBLEM.make_cases(20261204, [])
    expected = {case.id: PROBLEM.expected(case) for case in cases}
    results = [result_with(case, expected[case.id].value, ("backward",)) for case in cases]
    checks = {check.id: check for check in PROBLEM.score_checks(results, expected, CONTEXT)}
    assert checks["no-autograd"].score == 0
    assert sum(check.score for check in checks.values()) == 80


def test_check_points_sum_to_100():
    assert sum(spec.points for spec in PROBLEM.checks) == 100


def test_performance_case_is_large():
    case = PROBLEM.performance_case(20261204)
    assert case.measure_memory
    assert case.repeat == 3
    assert case.grad == ()
    assert tuple(case.tensors["logits"].shape) == (64, 32000)


def test_performance_note_in_report():
    report = grade_file(SOLUTIONS / "cross-entropy-grad" / "reference.py", GradeOptions(seed=3, performance=True))
    assert "torch.nn.functional.cross_entropy" in report.performance


def test_registry_finds_problem():
    assert problem_by_function("cross_entropy_grad", ("logits", "targets")).id == "cross-entropy-grad"
