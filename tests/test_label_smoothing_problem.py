"""The label-smoothing problem: its cases, the wrong formulas it tests for, and its diagnosis."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from conftest import SOLUTIONS

from xent_grader.grading.cases import Case, CaseResult
from xent_grader.grading.compare import values_close
from xent_grader.grading.grade import GradeOptions, grade_file
from xent_grader.problems.base import GradingContext
from xent_grader.problems.cross_entropy import HYPOTHESIS_TOLERANCE
from xent_grader.problems.cross_entropy_cases import literal_case
from xent_grader.problems.label_smoothing import LabelSmoothingProblem, gradient_close, without_own_name
from xent_grader.problems.label_smoothing_cases import (
    VALUE_HYPOTHESES,
    logit_tags,
    over_other_classes,
    smoothed_logits_cases,
    smoothing_of,
    with_smoothing,
)
from xent_grader.problems.registry import problem_by_function

SEEDS = (20261204, 1, 987_654)
PROBLEM = LabelSmoothingProblem()
CONTEXT = GradingContext(source_findings=(), leftover_processes=0, strict=False)


def smoothed(rows, targets, eps, dtype=torch.float64) -> Case:
    return with_smoothing(literal_case(0, "parity", rows, targets, dtype), eps)


def result_with(case: Case, value: torch.Tensor, grad: torch.Tensor) -> CaseResult:
    """Build the result a submission returning ``value`` with gradient ``grad`` would produce."""
    return CaseResult(
        case=case,
        ran=True,
        kind="tensor",
        value=value.reshape(()),
        dtype=str(case.tensors["logits"].dtype).removeprefix("torch."),
        shape=(),
        device="cpu",
        requires_grad=True,
        has_grad_fn=True,
        backward_ran=True,
        grads={"logits": grad},
        inputs_after=dict(case.tensors),
    )


def test_worked_example_matches_arithmetic():
    case = smoothed([[2.0, 0.0, 0.0]], [0], 0.3)
    # log_softmax(x)[c] = x[c] - L with L = log(e^2 + 2). The loss mixes 0.7 * (L - 2) and
    # 0.3 * mean_c (L - x[c]) = 0.3 * (L - 2/3), which sums to L - 1.6.
    log_normalizer = math.log(math.e**2 + 2)
    assert PROBLEM.expected(case).value.item() == pytest.approx(log_normalizer - 1.6, abs=1e-12)
    assert round(log_normalizer - 1.6, 4) == 0.6395


def test_over_other_classes_on_worked_example():
    case = smoothed([[2.0, 0.0, 0.0]], [0], 0.3)
    # 0.7 * (L - 2) + 0.3 * mean of (L - 0) over the two other classes = L - 1.4.
    log_normalizer = math.log(math.e**2 + 2)
    truth = PROBLEM.expected(case).value
    assert over_other_classes(case, truth).item() == pytest.approx(log_normalizer - 1.4, abs=1e-12)


@pytest.mark.parametrize(
    "rows, targets, eps",
    [
        ([[3.0, 1.0, 4.0]], [0], 0.0),  # eps = 0
        ([[1.0, 1.0, 1.0]], [2], 0.3),  # a row of equal logits
        ([[3.0, 1.0, 5.0]], [0], 0.3),  # target logit 3 equals the mean of 1 and 5
        ([[2.0, 2.0]], [1], 1.0),
    ],
)
def test_over_other_classes_coincides(rows, targets, eps):
    case = smoothed(rows, targets, eps)
    truth = PROBLEM.expected(case).value
    assert values_close(over_other_classes(case, truth), truth, HYPOTHESIS_TOLERANCE)


def test_over_other_classes_undefined_for_one_class():
    case = smoothed([[0.7]], [0], 0.5)
    assert over_other_classes(case, PROBLEM.expected(case).value) is None


@pytest.mark.parametrize("seed", SEEDS)
def test_smoothing_cases_separate_smoothing_mistakes(seed):
    cases = [case for case in PROBLEM.make_cases(seed, []) if case.check == "smoothing"]
    assert len(cases) == 6
    for case in cases:
        truth = PROBLEM.expected(case).value
        assert smoothing_of(case) > 0
        for key in ("over-other-classes", "ignored"):
            predicted = VALUE_HYPOTHESES[key][1](case, truth)
            assert not values_close(predicted, truth, HYPOTHESIS_TOLERANCE), (key, case.label)


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


@pytest.mark.parametrize(
    "rows, targets, dtype, tags",
    [
        ([[1000.0, 1001.0, 1002.0]], [0], torch.float64, {"overflow"}),
        ([[1000.0, 1001.0, 1002.0]], [0], torch.float32, {"overflow"}),
        ([[-1000.0, -1001.0, -1002.0]], [1], torch.float64, {"underflow-all"}),
        ([[0.0, -200.0]], [0], torch.float32, {"class-underflow"}),
        ([[0.0, -200.0]], [1], torch.float32, {"class-underflow", "target-underflow"}),
        ([[0.0, -200.0]], [0], torch.float64, {"moderate"}),
        ([[0.0, -800.0]], [0], torch.float64, {"class-underflow"}),
        ([[0.5, -1.0, 2.0]], [2], torch.float32, {"moderate"}),
    ],
)
def test_logit_tags(rows, targets, dtype, tags):
    assert logit_tags(torch.tensor(rows, dtype=dtype), torch.tensor(targets)) == tags


def test_stability_cases_tell_mistakes_apart():
    cases = [case for case in PROBLEM.make_cases(20261204, []) if case.check == "stability"]
    overflow_only = [
        case for case in cases if case.tags & {"overflow", "underflow-all"} and "class-underflow" not in case.tags
    ]
    underflow_only = [
        case for case in cases if "class-underflow" in case.tags and not case.tags & {"overflow", "underflow-all"}
    ]
    assert len(overflow_only) >= 2
    assert len(underflow_only) >= 2


def test_graded_cases_pass_eps_by_keyword():
    cases = PROBLEM.make_cases(20261204, [])
    left_out = [case for case in cases if "label_smoothing" not in case.kwargs]
    assert all(len(case.args) == 2 for case in cases)
    assert [case.label.endswith("label_smoothing left out") for case in left_out] == [True, True]
    assert {smoothing_of(case) for case in cases} >= {0.0, 0.05, 0.1, 0.3, 0.5, 1.0}


def test_smoothing_of_reads_every_form():
    case = literal_case(0, "parity", [[1.0, 2.0]], [0], torch.float32)
    assert smoothing_of(case) == 0.0
    assert smoothing_of(with_smoothing(case, 0.25)) == 0.25
    assert smoothing_of(with_smoothing(case, 0.25, positional=True)) == 0.25


@settings(max_examples=20, database=None, deadline=None)
@given(smoothed_logits_cases(torch.float32, (100.0,)))
def test_counterexample_cases_pass_eps_positionally(case):
    assert case.kwargs == {}
    assert len(case.args) == 3
    assert case.label.endswith(f"label_smoothing={case.args[2]:g}")


def test_expected_gradient_is_zero_for_one_class():
    case = smoothed([[3.0]], [0], 0.4)
    expected = PROBLEM.expected(case)
    assert expected.value.item() == 0.0
    assert torch.equal(expected.grads["logits"], torch.zeros(1, 1, dtype=torch.float64))


def test_gradient_close_allows_rounding_near_zero():
    case = smoothed([[3.0]], [0], 0.4, dtype=torch.float32)
    expected = PROBLEM.expected(case)
    rounded = result_with(case, expected.value, torch.tensor([[1e-8]], dtype=torch.float64))
    wrong = result_with(case, expected.value, torch.tensor([[0.5]], dtype=torch.float64))
    assert gradient_close(rounded, expected, 1.0)
    assert not gradient_close(wrong, expected, 1.0)


def diagnosed_ids(values_of) -> list[str]:
    """Diagnose results whose values come from ``values_of(case, truth)``, with the true gradients."""
    cases = PROBLEM.make_cases(20261204, [])
    expected = {case.id: PROBLEM.expected(case) for case in cases}
    results = []
    for case in cases:
        truth = expected[case.id]
        value = values_of(case, truth.value)
        results.append(result_with(case, truth.value if value is None else value, truth.grads["logits"]))
    return [diagnosis.mistake.id for diagnosis in PROBLEM.diagnose(results, expected, CONTEXT)]


def test_truth_diagnoses_nothing():
    assert diagnosed_ids(lambda case, truth: truth) == []


@pytest.mark.parametrize("key", sorted(VALUE_HYPOTHESES))
def test_each_formula_is_diagnosed(key):
    mistake_id, formula, _ = VALUE_HYPOTHESES[key]
    assert mistake_id in diagnosed_ids(formula)


def test_softmax_then_log_is_diagnosed():
    def log_of_softmax(case: Case, truth: torch.Tensor) -> torch.Tensor:
        logits = case.tensors["logits"]
        log_probs = torch.log(torch.softmax(logits, dim=1)).double()
        target = log_probs[torch.arange(logits.shape[0]), case.tensors["targets"]]
        eps = smoothing_of(case)
        return -((1 - eps) * target + eps * log_probs.mean(dim=1)).mean()

    assert diagnosed_ids(log_of_softmax) == ["softmax-then-log"]


def test_performance_builtin_takes_case_arguments():
    case = PROBLEM.performance_case(20261204)
    assert case.measure_memory
    assert case.repeat == 3
    assert case.kwargs == {"label_smoothing": 0.1}
    assert PROBLEM.performance_builtin == "torch.nn.functional.cross_entropy"
    loss = F.cross_entropy(case.tensors["logits"].double(), case.tensors["targets"], **case.kwargs)
    assert loss.item() == pytest.approx(PROBLEM.expected(case).value.item(), rel=1e-12)


def test_performance_note_in_report():
    report = grade_file(SOLUTIONS / "label-smoothing" / "reference.py", GradeOptions(seed=3, performance=True))
    assert "torch.nn.functional.cross_entropy" in report.performance


def test_registry_tells_problems_apart():
    assert problem_by_function("cross_entropy_loss", ("logits", "targets", "label_smoothing")).id == "label-smoothing"
    assert problem_by_function("cross_entropy_loss", ("logits", "targets")).id == "cross-entropy"


def test_file_graded_without_problem_option(tmp_path: Path):
    path = tmp_path / "solution.py"
    path.write_text((SOLUTIONS / "label-smoothing" / "reference.py").read_text())
    report = grade_file(path, GradeOptions(seed=3))
    assert report.problem == "label-smoothing"
    assert report.full_marks


def test_expected_matches_pytorch_with_keyword():
    case = smoothed([[0.5, -1.0, 2.0], [1.0, 0.0, -3.0]], [2, 0], 0.2, dtype=torch.float32)
    logits = case.tensors["logits"].double()
    truth = F.cross_entropy(logits, case.tensors["targets"], label_smoothing=0.2)
    assert PROBLEM.expected(case).value.item() == truth.item()


def test_own_name_findings_dropped():
    findings = (
        "line 3: uses cross_entropy",
        "line 9: uses cross_entropy_loss",
        'line 4: names "nll_loss" in a string',
    )
    context = GradingContext(source_findings=findings, leftover_processes=0, strict=False)
    kept = without_own_name(context, "cross_entropy_loss").source_findings
    assert kept == ("line 3: uses cross_entropy", 'line 4: names "nll_loss" in a string')


def test_self_test_call_not_builtin(tmp_path: Path):
    path = tmp_path / "solution.py"
    reference = (SOLUTIONS / "label-smoothing" / "reference.py").read_text()
    self_test = (
        '\n\nif __name__ == "__main__":\n'
        "    print(cross_entropy_loss(torch.zeros(2, 3), torch.tensor([0, 1]), 0.1))\n"
    )
    path.write_text(reference + self_test)
    report = grade_file(path, GradeOptions(seed=3))
    assert report.full_marks
