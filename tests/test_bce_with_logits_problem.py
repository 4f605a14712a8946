"""The bce-with-logits problem: its cases and tags, the wrong formulas it tests for, and its diagnosis."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from conftest import SOLUTIONS

from xent_grader.grading.cases import Case, CaseResult
from xent_grader.grading.compare import values_close
from xent_grader.grading.grade import GradeOptions, grade_file
from xent_grader.problems.base import GradingContext
from xent_grader.problems.bce_with_logits import BceWithLogitsProblem, gradient_ok
from xent_grader.problems.bce_with_logits_cases import VALUE_HYPOTHESES, bce_tags, literal_case, pos_weight_of
from xent_grader.problems.cross_entropy import HYPOTHESIS_TOLERANCE
from xent_grader.problems.registry import problem_by_function

SEEDS = (20261204, 1, 987_654)
PROBLEM = BceWithLogitsProblem()
CONTEXT = GradingContext(source_findings=(), leftover_processes=0, strict=False)


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


def test_expected_at_saturation():
    # softplus(20) = 20 + log1p(exp(-20)) for x = 20, y = 0, and the same for x = -20, y = 1.
    case = literal_case(0, "stability", [20.0, -20.0], [0.0, 1.0], torch.float32)
    assert PROBLEM.expected(case).value.item() == pytest.approx(20 + math.log1p(math.exp(-20)), abs=1e-12)


def test_expected_with_pos_weight():
    # Logits 0: softplus(0) = log 2 for both terms. Weights 3 and 1 on the positive terms, and one
    # negative term: (3 log 2 + 1 * 0.5 log 2 + 0.5 log 2) / 2 = 2 log 2.
    case = literal_case(0, "pos-weight", [[0.0, 0.0]], [[1.0, 0.5]], torch.float64, [3.0, 1.0])
    assert PROBLEM.expected(case).value.item() == pytest.approx(2 * math.log(2), abs=1e-12)


@pytest.mark.parametrize(
    "logits, dtype, tags",
    [
        ([16.0, -16.0], torch.float32, {"moderate"}),
        ([17.0], torch.float32, {"saturates"}),
        ([-104.0], torch.float32, {"saturates", "overflow"}),
        ([100.0], torch.float32, {"saturates", "overflow"}),
        ([36.0], torch.float64, {"moderate"}),
        ([40.0], torch.float64, {"saturates"}),
        ([800.0], torch.float64, {"saturates", "overflow"}),
        ([0.0, 1.5], torch.float32, {"moderate", "zero-logit"}),
    ],
)
def test_bce_tags(logits, dtype, tags):
    assert bce_tags(torch.tensor(logits, dtype=dtype)) == tags


def test_sigmoid_rounds_where_tagged():
    assert torch.sigmoid(torch.tensor(17.0)).item() == 1.0
    assert torch.sigmoid(torch.tensor(16.0)).item() < 1.0


def sigmoid_then_log(case: Case) -> torch.Tensor:
    x, y = case.tensors["logits"], case.tensors["targets"]
    probs = torch.sigmoid(x)
    return -(y * torch.log(probs) + (1 - y) * torch.log(1 - probs)).mean().double()


def log1p_exp(case: Case) -> torch.Tensor:
    x, y = case.tensors["logits"], case.tensors["targets"]
    return (y * torch.log1p(torch.exp(-x)) + (1 - y) * torch.log1p(torch.exp(x))).mean().double()


def test_stability_cases_separate_unstable_formulas():
    cases = [c for c in PROBLEM.make_cases(20261204, []) if c.check == "stability" and pos_weight_of(c) is None]
    saturating = [case for case in cases if "saturates" in case.tags and "overflow" not in case.tags]
    overflowing = [case for case in cases if "overflow" in case.tags]
    assert len(saturating) >= 2
    assert len(overflowing) >= 2
    for case in saturating:
        truth = PROBLEM.expected(case).value
        assert not values_close(sigmoid_then_log(case), truth, HYPOTHESIS_TOLERANCE), case.label
        assert values_close(log1p_exp(case), truth, HYPOTHESIS_TOLERANCE), case.label
    for case in overflowing:
        assert not torch.isfinite(log1p_exp(case)), case.label


def test_zero_logits_case_separates_clamp_gradient():
    case = next(c for c in PROBLEM.make_cases(20261204, []) if "zero-logit" in c.tags)
    x = case.tensors["logits"].double().requires_grad_(True)
    y = case.tensors["targets"].double()
    loss = (x.clamp(min=0) - x * y + torch.log1p(torch.exp(-x.abs()))).mean()
    (clamp_grad,) = torch.autograd.grad(loss, x)
    expected = PROBLEM.expected(case)
    assert torch.allclose(loss.detach(), expected.value, atol=1e-12)
    # At x = 0 the true slope is (sigmoid(0) - y) / numel = (0.5 - y) / 6, but clamp and abs give (1 - y) / 6.
    zeros = case.tensors["logits"] == 0
    assert torch.allclose(expected.grads["logits"][zeros], (0.5 - y[zeros]) / 6, atol=1e-12)
    assert torch.allclose(clamp_grad[zeros], (1 - y[zeros]) / 6, atol=1e-12)
    assert not gradient_ok(result_with(case, loss.detach(), clamp_grad), expected)


def test_gradient_zero_when_confident_and_right():
    case = literal_case(0, "stability", [1000.0, -1000.0], [1.0, 0.0], torch.float32)
    expected = PROBLEM.expected(case)
    assert torch.equal(expected.grads["logits"], torch.zeros(2, dtype=torch.float64))
    rounded = result_with(case, expected.value, torch.tensor([1e-9, 0.0], dtype=torch.float64))
    assert gradient_ok(rounded, expected)


@pytest.mark.parametrize("seed", SEEDS)
def test_case_code_rebuilds_tensors(seed):
    for case in PROBLEM.make_cases(seed, []):
        for name, tensor in case.tensors.items():
            # The code strings are what a candidate pastes into a Python prompt, so run them as such.
            rebuilt = eval(case.code[name], {"torch": torch})  # noqa: S307 - code built by the grader
            assert rebuilt.dtype == tensor.dtype, (case.label, name)
            assert torch.equal(rebuilt, tensor), (case.label, name)


def test_pos_weight_is_a_positional_argument():
    for case in PROBLEM.make_cases(20261204, []):
        names = ("logits", "targets", "pos_weight") if pos_weight_of(case) is not None else ("logits", "targets")
        assert case.args == names
        assert case.kwargs == {}


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


def test_pos_weight_variants_without_pos_weight():
    case = literal_case(0, "parity", [[0.5, -1.0], [2.0, 0.25]], [[1.0, 0.0], [0.5, 1.0]], torch.float64)
    truth = PROBLEM.expected(case).value
    for key in ("both-terms", "negative-term", "ignored", "rows"):
        assert values_close(VALUE_HYPOTHESES[key][1](case, truth), truth, HYPOTHESIS_TOLERANCE), key


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


def test_stability_mistakes_are_diagnosed():
    def weighted(unstable):
        def formula(case: Case, truth: torch.Tensor) -> torch.Tensor:
            return truth if pos_weight_of(case) is not None else unstable(case)

        return formula

    assert diagnosed_ids(weighted(sigmoid_then_log)) == ["sigmoid-then-log"]
    assert diagnosed_ids(weighted(log1p_exp)) == ["unstable-softplus"]


def test_check_points_sum_to_100():
    assert sum(spec.points for spec in PROBLEM.checks) == 100


def test_performance_pos_weight_by_keyword():
    # The third positional parameter of F.binary_cross_entropy_with_logits is weight, not pos_weight.
    case = PROBLEM.performance_case(20261204)
    assert case.measure_memory
    assert case.repeat == 3
    assert case.args == ("logits", "targets")
    assert case.kwargs == {"pos_weight": "pos_weight"}
    tensors = {name: tensor.double() for name, tensor in case.tensors.items()}
    loss = F.binary_cross_entropy_with_logits(tensors["logits"], tensors["targets"], pos_weight=tensors["pos_weight"])
    assert loss.item() == pytest.approx(PROBLEM.expected(case).value.item(), rel=1e-12)


def test_performance_note_in_report():
    report = grade_file(SOLUTIONS / "bce-with-logits" / "reference.py", GradeOptions(seed=3, performance=True))
    assert "torch.nn.functional.binary_cross_entropy_with_logits" in report.performance


def test_registry_finds_problem():
    problem = problem_by_function("binary_cross_entropy_with_logits", ("logits", "targets", "pos_weight"))
    assert problem.id == "bce-with-logits"


def test_expected_matches_functional_without_pos_weight():
    case = literal_case(0, "parity", [[0.5, -1.0], [2.0, 0.25]], [[1.0, 0.0], [0.5, 1.0]], torch.float32)
    logits, targets = case.tensors["logits"].double(), case.tensors["targets"].double()
    softplus_form = (targets * F.softplus(-logits) + (1 - targets) * F.softplus(logits)).mean()
    assert PROBLEM.expected(case).value.item() == pytest.approx(softplus_form.item(), abs=1e-15)


def test_self_test_call_not_builtin(tmp_path):
    path = tmp_path / "solution.py"
    reference = (SOLUTIONS / "bce-with-logits" / "reference.py").read_text()
    self_test = (
        '\n\nif __name__ == "__main__":\n'
        "    print(binary_cross_entropy_with_logits(torch.zeros(2), torch.ones(2)))\n"
    )
    path.write_text(reference + self_test)
    report = grade_file(path, GradeOptions(seed=3))
    assert report.full_marks
