"""The linear-cross-entropy problem: its cases, PyTorch's expected values, and the memory diagnosis."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from xent_grader.grading.cases import Case, CaseResult
from xent_grader.grading.compare import values_close
from xent_grader.problems.base import GradingContext
from xent_grader.problems.cross_entropy_full_cases import numerical_tags
from xent_grader.problems.linear_cross_entropy import (
    CHECKS,
    HYPOTHESIS_TOLERANCE,
    MEMORY_FRACTION,
    VALUE_HYPOTHESES,
    LinearCrossEntropyProblem,
)
from xent_grader.problems.linear_cross_entropy_cases import (
    MEMORY_SHAPE,
    expected_loss,
    linear_cross_entropy_cases,
    literal_case,
    logits64,
    logits_bytes,
    max_abs_logit,
    performance_case,
    random_case,
)
from xent_grader.problems.registry import problem_by_function

SEED = 20261204
PROBLEM = LinearCrossEntropyProblem()
CONTEXT = GradingContext(source_findings=(), leftover_processes=0, strict=False)
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def cases():
    return linear_cross_entropy_cases(SEED)


@pytest.fixture(scope="module")
def small_cases(cases):
    return [case for case in cases if not case.measure_memory]


@pytest.fixture(scope="module")
def expected(small_cases):
    return {case.id: PROBLEM.expected(case) for case in small_cases}


def result_with(case: Case, value: torch.Tensor, grads: dict, peak: int | None = None) -> CaseResult:
    """Build the result a submission returning ``value`` with gradients ``grads`` would produce."""
    return CaseResult(
        case=case,
        ran=True,
        kind="tensor",
        value=value.reshape(()).double(),
        dtype=str(case.tensors["hidden"].dtype).removeprefix("torch."),
        shape=(),
        device="cpu",
        requires_grad=True,
        has_grad_fn=True,
        backward_ran=True,
        grads=dict(grads),
        inputs_after=dict(case.tensors),
        peak_memory_bytes=peak,
    )


# The problem's declaration


def test_checks_sum_to_100():
    assert sum(spec.points for spec in CHECKS) == 100


def test_registry_finds_problem():
    assert problem_by_function("linear_cross_entropy", ("hidden", "weight", "targets")).id == "linear-cross-entropy"


def test_one_memory_case_last(cases):
    measured = [case for case in cases if case.measure_memory]
    assert len(measured) == 1
    assert cases[-1].measure_memory


def test_memory_case_logits_are_256_mib(cases):
    # 1024 rows x 65,536 classes x 4 bytes of float32 = 2**10 * 2**16 * 2**2 bytes = 2**28 bytes.
    memory_case = cases[-1]
    assert (memory_case.tensors["hidden"].shape[0], memory_case.tensors["weight"].shape[0]) == MEMORY_SHAPE[::2]
    assert logits_bytes(memory_case) == 256 * MIB


def test_memory_limit_is_128_mib(cases):
    assert MEMORY_FRACTION * logits_bytes(cases[-1]) == 128 * MIB


# PyTorch's expected values


def test_expected_loss_matches_full_logits(small_cases):
    for case in small_cases:
        hidden = case.tensors["hidden"].detach().to(torch.float64, copy=True).requires_grad_(True)
        weight = case.tensors["weight"].detach().to(torch.float64, copy=True).requires_grad_(True)
        loss = F.cross_entropy(hidden @ weight.T, case.tensors["targets"])
        loss.backward()

        chunked = expected_loss(case, row_chunk=5)

        assert chunked.value.item() == pytest.approx(loss.item(), rel=1e-12), case.label
        assert torch.allclose(chunked.grads["hidden"], hidden.grad, rtol=1e-10, atol=1e-14), case.label
        assert torch.allclose(chunked.grads["weight"], weight.grad, rtol=1e-10, atol=1e-14), case.label


def test_overflow_literal_value():
    # hidden [1000, 1] times weight rows (1, 0), (1, 1), (1, 2) gives logits 1000, 1001, 1002, and the
    # loss of target 0 is 2 + log(1 + e**-1 + e**-2) = 2.4076059644...
    case = literal_case(0, "stability", [[1000.0, 1.0]], [[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]], [0], torch.float32)

    worked = 2.0 + math.log(1.0 + math.exp(-1.0) + math.exp(-2.0))

    assert expected_loss(case).value.item() == pytest.approx(worked, rel=1e-12)


# Cases and tags


def test_case_code_rebuilds_tensors(cases):
    for case in cases + [performance_case(SEED)]:
        for name, code in case.code.items():
            rebuilt = eval(code, {"torch": torch})  # noqa: S307 - the grader's own printed code
            assert rebuilt.dtype == case.tensors[name].dtype, case.label
            assert torch.equal(rebuilt, case.tensors[name]), case.label


def test_tags_agree_with_full_computation(small_cases):
    for case in small_cases:
        logits = logits64(case)
        tags = numerical_tags(logits, case.tensors["targets"], case.tensors["hidden"].dtype)
        assert case.tags == frozenset(tags or {"moderate"}), case.label


def test_stability_cases_tags(cases):
    stability = [case.tags for case in cases if case.check == "stability"]
    assert stability == [
        frozenset({"overflow"}),
        frozenset({"underflow-all"}),
        frozenset({"target-underflow"}),
        frozenset({"target-underflow"}),
        frozenset({"overflow", "target-underflow"}),
    ]


def test_max_abs_logit_matches_full_logits(small_cases):
    for case in small_cases:
        assert max_abs_logit(case) == logits64(case).abs().max().item(), case.label


def test_parity_cases_cross_8192_chunks(cases):
    widest = max(case.tensors["weight"].shape[0] for case in cases if case.check == "parity")
    assert widest > 8192


# Diagnosis from synthetic results


def test_sum_instead_of_mean_differs_on_batches(small_cases, expected):
    moderate = [case for case in small_cases if "moderate" in case.tags]
    formula = VALUE_HYPOTHESES["sum-instead-of-mean"][0]
    distinguishing = sum(
        not values_close(formula(case, expected[case.id].value), expected[case.id].value, HYPOTHESIS_TOLERANCE)
        for case in moderate
    )
    # Every moderate case except the two with N = 1.
    assert distinguishing == len(moderate) - 2


def test_correct_results_diagnose_nothing(small_cases, expected):
    results = [result_with(case, expected[case.id].value, expected[case.id].grads) for case in small_cases]

    assert PROBLEM.diagnose(results, expected, CONTEXT) == []


def test_wrong_hidden_gradient_is_diagnosed(small_cases, expected):
    results = []
    for case in small_cases:
        grads = dict(expected[case.id].grads)
        grads["hidden"] = 2 * grads["hidden"]
        results.append(result_with(case, expected[case.id].value, grads))

    found = PROBLEM.diagnose(results, expected, CONTEXT)

    assert [diagnosis.mistake.id for diagnosis in found] == ["wrong-gradient"]
    assert "hidden.grad" in found[0].mistake.evidence
    assert "weight.grad" not in found[0].mistake.evidence


@pytest.mark.parametrize(("fraction", "flagged"), [(0.3, False), (0.49, False), (0.5, True), (3.0, True)])
def test_memory_threshold(fraction, flagged):
    # A small stand-in for the memory case: N=64, V=1000, so the logits take 64 * 1000 * 4 = 256,000 bytes.
    case = random_case(0, "memory", (64, 8, 1000, 1.0), torch.float32, 7, measure_memory=True)
    expected = {case.id: expected_loss(case)}
    peak = int(fraction * 256_000)
    result = result_with(case, expected[case.id].value, expected[case.id].grads, peak=peak)

    found = [diagnosis.mistake.id for diagnosis in PROBLEM.diagnose([result], expected, CONTEXT)]
    memory = next(check for check in PROBLEM.score_checks([result], expected, CONTEXT) if check.id == "memory")

    assert ("materializes-logits" in found) == flagged
    assert memory.passed == (not flagged)


def test_memory_not_credited_without_gradients():
    case = random_case(0, "memory", (64, 8, 1000, 1.0), torch.float32, 7, measure_memory=True)
    expected = {case.id: expected_loss(case)}
    result = result_with(case, expected[case.id].value, {}, peak=1000)

    memory = next(check for check in PROBLEM.score_checks([result], expected, CONTEXT) if check.id == "memory")

    assert not memory.passed
    assert "not credited" in memory.message


# The advisory performance case


def test_performance_case_is_timed_and_measured():
    case = performance_case(SEED)

    assert case.repeat == 5
    assert case.measure_memory
    assert case.grad == ("hidden", "weight")


def test_reference_timing_is_positive():
    assert PROBLEM.reference_timing(performance_case(SEED)) > 0.0
