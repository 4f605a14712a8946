"""The cross-entropy-full problem: its cases, the wrong formulas it tests for, and its diagnosis."""

from __future__ import annotations

import ast
import math

import pytest
import torch
import torch.nn.functional as F

from xent_grader.grading.cases import Case, CaseResult
from xent_grader.grading.compare import values_close
from xent_grader.grading.source import find_banned_names
from xent_grader.problems.base import GradingContext
from xent_grader.problems.cross_entropy_full import CHECKS, VALUE_CHECKS, CrossEntropyFullProblem
from xent_grader.problems.cross_entropy_full_cases import (
    full_cases,
    literal_case,
    make_case,
    numerical_tags,
    performance_case,
)
from xent_grader.problems.cross_entropy_full_diagnosis import (
    HYPOTHESES,
    HYPOTHESIS_TOLERANCE,
    TRUTH,
    Variant,
    hypothesis_diagnoses,
    variant_loss,
)
from xent_grader.problems.registry import problem_by_function

SEEDS = (20261204, 1, 987_654)
PROBLEM = CrossEntropyFullProblem()
CONTEXT = GradingContext(source_findings=(), leftover_processes=0, strict=False)


@pytest.fixture(scope="module", params=SEEDS)
def graded(request):
    """Return the cases of one seed with PyTorch's expected value for each."""
    cases = full_cases(request.param)
    return cases, {case.id: PROBLEM.expected(case) for case in cases}


def case_with(logits, target, **kwargs) -> Case:
    """Build a float64 case from literals; ``weight`` may be given as a list."""
    tensors = {"logits": torch.tensor(logits, dtype=torch.float64), "target": torch.tensor(target)}
    if "weight" in kwargs:
        tensors["weight"] = torch.tensor(kwargs["weight"], dtype=torch.float64)
        kwargs["weight"] = "weight"
    code = {name: f"torch.tensor({tensor.tolist()})" for name, tensor in tensors.items()}
    return make_case(0, "parity", tensors, code, kwargs)


def result_with(case: Case, value: torch.Tensor, grads: dict | None = None) -> CaseResult:
    """Build the result a submission returning ``value`` with gradients ``grads`` would produce.

    Without ``grads`` the gradient is zero, which is what PyTorch gives where the mean is nan.
    """
    return CaseResult(
        case=case,
        ran=True,
        kind="tensor",
        value=value.double(),
        dtype=str(case.tensors["logits"].dtype).removeprefix("torch."),
        shape=tuple(value.shape),
        device="cpu",
        requires_grad=True,
        has_grad_fn=True,
        backward_ran=True,
        grads=dict(grads) if grads else {"logits": torch.zeros_like(case.tensors["logits"], dtype=torch.float64)},
        inputs_after=dict(case.tensors),
    )


# The problem's declaration


def test_checks_sum_to_100():
    assert sum(spec.points for spec in CHECKS) == 100


def test_case_count_is_modest():
    assert len(full_cases(SEEDS[0])) <= 60


def test_every_value_check_has_cases():
    checks = {case.check for case in full_cases(SEEDS[0])}
    for check_id in VALUE_CHECKS:
        assert check_id in checks


def test_source_scan_allows_own_function_name():
    # A submission may call its own cross_entropy, for example on an unbatched input.
    source = "def cross_entropy(input, target):\n    return cross_entropy(input.unsqueeze(0), target.unsqueeze(0))\n"

    assert find_banned_names(ast.parse(source), PROBLEM.banned(strict=False)) == []


def test_source_scan_flags_nll_loss():
    source = "import torch.nn.functional as F\ndef cross_entropy(input, target):\n    return F.nll_loss(input, target)\n"

    assert [finding.text for finding in find_banned_names(ast.parse(source), PROBLEM.banned(strict=False))] == [
        "uses nll_loss"
    ]


def test_trace_still_bans_torch_cross_entropy():
    assert "cross_entropy" in PROBLEM.traced_banned(strict=False)


def test_registry_finds_problem_by_signature():
    parameters = ("input", "target", "weight", "ignore_index", "reduction", "label_smoothing")
    assert problem_by_function("cross_entropy", parameters).id == "cross-entropy-full"


# PyTorch's own choices, which the expected values rely on


def test_pytorch_mean_over_all_ignored_is_nan():
    logits = torch.zeros(3, 4, dtype=torch.float64)
    target = torch.full((3,), -100)

    assert math.isnan(F.cross_entropy(logits, target).item())


def test_pytorch_sum_over_all_ignored_is_zero():
    logits = torch.zeros(3, 4, dtype=torch.float64)
    target = torch.full((3,), -100)

    assert F.cross_entropy(logits, target, reduction="sum").item() == 0.0


def test_pytorch_mean_over_empty_batch_is_nan():
    logits = torch.zeros(0, 4, dtype=torch.float64)

    assert math.isnan(F.cross_entropy(logits, torch.zeros(0, dtype=torch.int64)).item())


def test_pytorch_unbatched_none_is_0_dim():
    loss = F.cross_entropy(torch.zeros(5), torch.tensor(2), reduction="none")

    assert loss.shape == ()


def test_pytorch_probability_mean_ignores_weights():
    # Both rows have the uniform log-probability -log 2, so the weighted loss of a row is
    # w0 * 0.5 * log 2 + w1 * 0.5 * log 2 = 2 log 2 for weights (1, 3), and the mean divides by N = 2.
    logits = torch.zeros(2, 2, dtype=torch.float64)
    target = torch.full((2, 2), 0.5, dtype=torch.float64)
    weight = torch.tensor([1.0, 3.0], dtype=torch.float64)

    loss = F.cross_entropy(logits, target, weight=weight)

    assert loss.item() == pytest.approx(2 * math.log(2))


# The wrong formulas, on cases whose value can be worked out by hand


def test_truth_variant_matches_pytorch(graded):
    cases, expected = graded
    for case in cases:
        value = variant_loss(case, TRUTH)
        assert value.shape == expected[case.id].value.shape, case.label
        assert values_close(value, expected[case.id].value, HYPOTHESIS_TOLERANCE), case.label


def test_weighted_mean_by_count_value():
    # Uniform logits give log-probabilities of -log 2. Weights (1, 3) on targets 0 and 1 give a
    # weighted sum of 4 log 2: PyTorch divides by 1 + 3, the mistake by the count 2.
    case = case_with([[0.0, 0.0], [0.0, 0.0]], [0, 1], weight=[1.0, 3.0])

    assert PROBLEM.expected(case).value.item() == pytest.approx(math.log(2))
    assert variant_loss(case, Variant(denominator="counted")).item() == pytest.approx(2 * math.log(2))


def test_ignored_in_denominator_value():
    # Two of four targets count, each with loss log 2: PyTorch gives 2 log 2 / 2, the mistake 2 log 2 / 4.
    case = case_with([[0.0, 0.0]] * 4, [0, -100, 1, -100])

    assert PROBLEM.expected(case).value.item() == pytest.approx(math.log(2))
    assert variant_loss(case, Variant(denominator="all-weights")).item() == pytest.approx(math.log(2) / 2)


def test_smoothing_variants_values():
    # log_softmax([2, 0, 0]) = (2, 0, 0) - log(e^2 + 2): -0.2395 for the target and -2.2395 for the others.
    # All classes: q = (0.8, 0.1, 0.1). Other classes: q = (0.7, 0.15, 0.15). None: q = (1, 0, 0).
    log_partition = math.log(math.exp(2.0) + 2.0)
    target_term, other_term = log_partition - 2.0, log_partition
    case = case_with([[2.0, 0.0, 0.0]], [0], label_smoothing=0.3)

    assert PROBLEM.expected(case).value.item() == pytest.approx(0.8 * target_term + 0.2 * other_term)
    others = variant_loss(case, Variant(smoothing="other-classes")).item()
    assert others == pytest.approx(0.7 * target_term + 0.3 * other_term)
    assert variant_loss(case, Variant(smoothing="none")).item() == pytest.approx(target_term)


def test_class_axis_last_equals_flattened_last_axis():
    # The mistake flattens every axis but the last and pairs the rows with the flattened targets.
    logits = torch.randn(2, 3, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    target = torch.tensor([[0, 2, 1], [1, 1, 0]])
    case = make_case(0, "parity", {"logits": logits, "target": target}, {}, {})

    mistaken = F.cross_entropy(logits.reshape(-1, 3), target.reshape(-1))

    assert variant_loss(case, Variant(class_axis_last=True)).item() == pytest.approx(mistaken.item())
    assert abs(mistaken.item() - F.cross_entropy(logits, target).item()) > 1e-3


def test_class_axis_last_needs_square_layout():
    tensors = {"logits": torch.zeros(2, 3, 4), "target": torch.zeros(2, 4, dtype=torch.int64)}
    case = make_case(0, "parity", tensors, {}, {})

    assert variant_loss(case, Variant(class_axis_last=True)) is None


def test_every_hypothesis_has_telling_cases(graded):
    cases, expected = graded
    moderate = [case for case in cases if "moderate" in case.tags]
    for hypothesis in HYPOTHESES:
        distinguishing = 0
        for case in moderate:
            predicted = variant_loss(case, hypothesis.variant)
            if predicted is not None:
                differs = not values_close(predicted, expected[case.id].value, HYPOTHESIS_TOLERANCE)
                distinguishing += differs
        assert distinguishing >= 4, hypothesis.mistake_id


# Diagnosis from synthetic results


@pytest.mark.parametrize("hypothesis", HYPOTHESES, ids=lambda hypothesis: hypothesis.mistake_id)
def test_hypothesis_diagnosed_alone(graded, hypothesis):
    cases, expected = graded
    results = []
    for case in cases:
        predicted = variant_loss(case, hypothesis.variant)
        results.append(result_with(case, expected[case.id].value if predicted is None else predicted))

    found, _ = hypothesis_diagnoses(results, expected)

    assert [diagnosis.mistake.id for diagnosis in found] == [hypothesis.mistake_id]


def test_correct_results_diagnose_nothing(graded):
    cases, expected = graded
    results = [result_with(case, expected[case.id].value, expected[case.id].grads) for case in cases]

    assert PROBLEM.diagnose(results, expected, CONTEXT) == []


def test_zero_for_empty_mean_is_diagnosed(graded):
    cases, expected = graded
    results = []
    for case in cases:
        value = expected[case.id].value
        results.append(result_with(case, torch.nan_to_num(value, nan=0.0), expected[case.id].grads))

    found = [diagnosis.mistake.id for diagnosis in PROBLEM.diagnose(results, expected, CONTEXT)]

    assert found == ["empty-mean-not-nan"]


# Cases and tags


def test_case_code_rebuilds_tensors():
    for case in full_cases(SEEDS[0]) + [performance_case(SEEDS[0])]:
        for name, code in case.code.items():
            rebuilt = eval(code, {"torch": torch})  # noqa: S307 - the grader's own printed code
            assert rebuilt.dtype == case.tensors[name].dtype, case.label
            assert torch.equal(rebuilt, case.tensors[name]), case.label


def test_nothing_counted_cases_expect_nan_without_gradient(graded):
    cases, expected = graded
    empty = [case for case in cases if "nothing-counted" in case.tags]
    assert len(empty) == 4
    for case in empty:
        assert math.isnan(expected[case.id].value.item())
        assert expected[case.id].grads == {}


def test_square_cases_are_tagged():
    square = [case for case in full_cases(SEEDS[0]) if "square" in case.tags]
    assert len(square) == 4
    for case in square:
        logits = case.tensors["logits"]
        assert logits.shape[1] == logits.shape[-1]


def test_wrapping_ignore_index_case_exists():
    # With at least 100 classes, a raw index of -100 selects class C - 100 instead of raising.
    wrapping = [
        case for case in full_cases(SEEDS[0])
        if "ignored-out-of-range" in case.tags and case.tensors["logits"].shape[-1] >= 100
    ]
    assert len(wrapping) == 1


@pytest.mark.parametrize(
    ("rows", "targets", "dtype", "tags"),
    [
        ([[0.0, -200.0, 5.0]], [1], torch.float32, {"target-underflow"}),
        ([[0.0, -200.0, 5.0]], [1], torch.float64, set()),
        ([[0.0, -800.0]], [1], torch.float64, {"target-underflow"}),
        ([[800.0, 799.0]], [1], torch.float64, {"overflow"}),
        ([[800.0, 799.0]], [1], torch.float32, {"overflow"}),
        ([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1002.0]], [0, 2], torch.float32, {"overflow", "underflow-all"}),
        ([[1.0, 2.0]], [0], torch.float32, set()),
    ],
)
def test_numerical_tags(rows, targets, dtype, tags):
    # float32 limits: exp overflows above log(3.4e38) = 88.7 and underflows below log(1.2e-38) = -87.3.
    # float64 limits: 709.8 and -708.4.
    assert numerical_tags(torch.tensor(rows, dtype=torch.float64), torch.tensor(targets), dtype) == tags


def test_literal_case_is_tagged_like_its_rows():
    case = literal_case(0, "stability", [[0.0, -200.0, 5.0]], [1], torch.float32)

    assert "target-underflow" in case.tags
    assert "moderate" not in case.tags


def test_ignored_targets_do_not_count_for_underflow():
    # The ignored row's target would underflow, but it is ignored, so the case is moderate.
    case = case_with([[0.0, -800.0], [1.0, 2.0]], [-100, 0])

    assert "moderate" in case.tags


# The advisory performance case


def test_performance_case_is_timed_and_measured():
    case = performance_case(SEEDS[0])

    assert case.repeat == 5
    assert case.measure_memory
    assert case.grad == ("logits",)


def test_reference_timing_is_positive():
    case = performance_case(SEEDS[0])

    assert PROBLEM.reference_timing(case) > 0.0
