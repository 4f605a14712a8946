"""The numbers the cross-entropy diagnosis relies on, checked against PyTorch and worked arithmetic."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from xent_grader.grading.compare import values_close
from xent_grader.problems.cross_entropy import HYPOTHESIS_TOLERANCE, VALUE_HYPOTHESES
from xent_grader.problems.cross_entropy_cases import cross_entropy_cases, literal_case, numerical_tags

SEED = 20260101


@pytest.fixture(scope="module")
def cases():
    return cross_entropy_cases(SEED, [])


# The traps themselves, in PyTorch


def test_target_underflow_loss_is_200():
    # log_softmax(x)[1] = -200 - log(1 + exp(-200)), and exp(-200) ~ 1e-87 vanishes in float32.
    logits = torch.tensor([[0.0, -200.0]])

    loss = F.cross_entropy(logits, torch.tensor([1]))

    assert loss.item() == 200.0


def test_target_underflow_log_softmax_is_minus_inf():
    # softmax(x)[1] = exp(-200) / (1 + exp(-200)) underflows to 0 in float32, and log(0) = -inf.
    logits = torch.tensor([[0.0, -200.0]])

    log_of_softmax = torch.log(torch.softmax(logits, dim=1))[0, 1]

    assert log_of_softmax.item() == -math.inf


def test_overflow_loss_is_finite():
    # loss = logsumexp(x) - x[0] = 1002 + log(1 + e**-1 + e**-2) - 1000 = 2.4076059644...
    worked = 2.0 + math.log(1.0 + math.exp(-1.0) + math.exp(-2.0))
    logits = torch.tensor([[1000.0, 1001.0, 1002.0]])

    loss = F.cross_entropy(logits, torch.tensor([0]))

    assert loss.item() == pytest.approx(worked, abs=1e-6)


def test_overflow_exp_is_inf():
    # float32 tops out near 3.4e38 = exp(88.7), so exp(1000) overflows.
    assert torch.exp(torch.tensor(1000.0)).item() == math.inf


def test_overflow_naive_formula_is_inf():
    # log(sum(exp(x))) - x[0] without a max shift: log(inf) - 1000 = inf.
    logits = torch.tensor([[1000.0, 1001.0, 1002.0]])

    naive = torch.log(torch.exp(logits).sum(dim=1)) - logits[:, 0]

    assert naive.item() == math.inf


# float64 exp overflows above about 709.78 and underflows to 0 below about -745.1.


def test_float64_exp_overflows_at_1002():
    assert torch.exp(torch.tensor(1002.0, dtype=torch.float64)).item() == math.inf


def test_float64_exp_underflows_at_minus_1000():
    logits = torch.tensor([[-1000.0, -1001.0, -1002.0]], dtype=torch.float64)

    assert torch.exp(logits).sum().item() == 0.0


def test_float64_target_underflow_at_minus_800():
    logits = torch.tensor([[0.0, -800.0]], dtype=torch.float64)

    assert torch.log(torch.softmax(logits, dim=1))[0, 1].item() == -math.inf


# numerical_tags: overflow, underflow-all and target-underflow, as its docstring defines them

FLOAT32_TAGS = [
    ([[0.0, -200.0]], [1], {"target-underflow"}),
    ([[1000.0, 1001.0, 1002.0]], [0], {"overflow"}),
    ([[-1000.0, -1001.0, -1002.0]], [1], {"underflow-all"}),
    ([[0.0, 200.0]], [0], {"overflow", "target-underflow"}),
    ([[0.5, -0.25, 1.0], [2.0, -3.0, 0.0]], [0, 2], set()),
]


@pytest.mark.parametrize("rows, targets, tags", FLOAT32_TAGS, ids=str)
def test_numerical_tags_float32(rows, targets, tags):
    assert numerical_tags(torch.tensor(rows), torch.tensor(targets)) == tags


@pytest.mark.parametrize(
    "rows, targets, tags",
    [
        ([[1000.0, 1001.0, 1002.0]], [2], {"overflow"}),
        ([[-1000.0, -1001.0, -1002.0]], [0], {"underflow-all"}),
        ([[0.0, -800.0]], [1], {"target-underflow"}),
    ],
    ids=["overflow", "underflow-all", "target-underflow"],
)
def test_numerical_tags_float64(rows, targets, tags):
    assert numerical_tags(torch.tensor(rows, dtype=torch.float64), torch.tensor(targets)) == tags


def test_stability_cases_not_moderate(cases):
    moderate = [case.label for case in cases if case.check == "stability" and "moderate" in case.tags]

    assert moderate == []


# VALUE_HYPOTHESES: each wrong formula against a direct implementation of the same mistake

EXAMPLE_ROWS = [[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0]]
EXAMPLE_TARGETS = [0, 2]


def log_probs_of(logits: torch.Tensor, dim: int) -> torch.Tensor:
    return logits - torch.log(torch.exp(logits).sum(dim=dim, keepdim=True))


def missing_negation(logits, targets):
    rows = torch.arange(targets.numel())
    return log_probs_of(logits, 1)[rows, targets].mean()


def sum_instead_of_mean(logits, targets):
    rows = torch.arange(targets.numel())
    return -log_probs_of(logits, 1)[rows, targets].sum()


def mean_over_classes(logits, targets):
    one_hot = F.one_hot(targets, logits.shape[1]).to(logits.dtype)
    return -(one_hot * log_probs_of(logits, 1)).mean()


def wrong_softmax_dim(logits, targets):
    rows = torch.arange(targets.numel())
    return -log_probs_of(logits, 0)[rows, targets].mean()


def wrong_target_indexing(logits, targets):
    return -log_probs_of(logits, 1)[:, targets].mean()


def ignores_targets(logits, targets):
    return -log_probs_of(logits, 1).mean()


MISTAKEN_IMPLEMENTATIONS = {
    "missing-negation": missing_negation,
    "sum-instead-of-mean": sum_instead_of_mean,
    "mean-over-classes": mean_over_classes,
    "wrong-softmax-dim": wrong_softmax_dim,
    "wrong-target-indexing": wrong_target_indexing,
    "ignores-targets": ignores_targets,
}


@pytest.fixture(scope="module")
def example():
    case = literal_case(0, "parity", EXAMPLE_ROWS, EXAMPLE_TARGETS, torch.float64)
    truth = F.cross_entropy(case.tensors["logits"], case.tensors["targets"])
    return case, truth


def test_hypotheses_all_covered():
    assert set(VALUE_HYPOTHESES) == set(MISTAKEN_IMPLEMENTATIONS)


@pytest.mark.parametrize("mistake", sorted(MISTAKEN_IMPLEMENTATIONS))
def test_hypothesis_matches_mistake(example, mistake):
    case, truth = example
    direct = MISTAKEN_IMPLEMENTATIONS[mistake](case.tensors["logits"], case.tensors["targets"])

    predicted = VALUE_HYPOTHESES[mistake](case, truth)

    assert predicted.shape == ()
    assert torch.allclose(predicted, direct, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mistake", sorted(MISTAKEN_IMPLEMENTATIONS))
def test_hypothesis_differs_from_truth(example, mistake):
    case, truth = example

    predicted = VALUE_HYPOTHESES[mistake](case, truth)

    assert not values_close(predicted, truth, HYPOTHESIS_TOLERANCE)


def test_hypothesis_leaves_case_unchanged(example):
    case, truth = example

    for formula in VALUE_HYPOTHESES.values():
        formula(case, truth)

    assert case.tensors["logits"].tolist() == EXAMPLE_ROWS
    assert case.tensors["targets"].tolist() == EXAMPLE_TARGETS


# The seeded case list


def parity_shapes(cases) -> set[tuple[int, int]]:
    return {tuple(case.tensors["logits"].shape) for case in cases if case.check == "parity"}


def test_parity_has_twenty_cases(cases):
    assert sum(case.check == "parity" for case in cases) == 20


def test_parity_batch_size_one(cases):
    assert any(batch == 1 for batch, _ in parity_shapes(cases))


def test_parity_batch_equals_classes(cases):
    assert any(batch == classes > 1 for batch, classes in parity_shapes(cases))


def test_parity_batch_differs_from_classes(cases):
    assert any(batch != classes and batch > 1 for batch, classes in parity_shapes(cases))


@pytest.mark.parametrize("classes", [1, 2, 10, 100, 32000])
def test_parity_class_count(cases, classes):
    assert classes in {count for _, count in parity_shapes(cases)}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_parity_dtype(cases, dtype):
    assert any(case.tensors["logits"].dtype == dtype for case in cases if case.check == "parity")


@pytest.mark.parametrize("batch", [1, 2, 3, 8, 33])
def test_batch_mean_sizes(cases, batch):
    sizes = {case.tensors["logits"].shape[0] for case in cases if case.check == "batch-mean"}

    assert batch in sizes


@pytest.mark.parametrize(
    "rows, dtype",
    [
        ([[1000.0, 1001.0, 1002.0]], torch.float32),
        ([[-1000.0, -1001.0, -1002.0]], torch.float32),
        ([[0.0, -200.0]], torch.float32),
        ([[0.0, 200.0]], torch.float32),
        ([[0.0, -800.0]], torch.float64),
    ],
    ids=str,
)
def test_stability_literal_present(cases, rows, dtype):
    expected = torch.tensor(rows, dtype=dtype)
    stability = [case.tensors["logits"] for case in cases if case.check == "stability"]

    assert any(logits.dtype == dtype and torch.equal(logits, expected) for logits in stability)


def test_targets_in_range(cases):
    for case in cases:
        targets = case.tensors["targets"]
        assert targets.dtype == torch.int64, case.label
        assert targets.shape == case.tensors["logits"].shape[:1], case.label
        assert targets.min() >= 0, case.label
        assert targets.max() < case.tensors["logits"].shape[1], case.label


def test_case_ids_unique(cases):
    assert [case.id for case in cases] == list(range(len(cases)))


def assert_same_cases(first, second) -> None:
    assert len(first) == len(second)
    for case, twin in zip(first, second):
        assert (case.id, case.check, case.label) == (twin.id, twin.check, twin.label)
        assert case.code == twin.code, case.label
        assert case.tags == twin.tags, case.label
        for name in case.tensors:
            assert torch.equal(case.tensors[name], twin.tensors[name]), f"{case.label}: {name}"


def any_tensor_differs(first, second) -> bool:
    return any(
        not torch.equal(case.tensors[name], twin.tensors[name])
        for case, twin in zip(first, second)
        for name in case.tensors
        if case.tensors[name].shape == twin.tensors[name].shape
    )


def test_same_seed_same_cases(cases):
    assert_same_cases(cases, cross_entropy_cases(SEED, []))


def test_other_seed_other_cases(cases):
    assert any_tensor_differs(cases, cross_entropy_cases(SEED + 1, []))


def test_seed_past_million_other_cases():
    assert any_tensor_differs(cross_entropy_cases(0, []), cross_entropy_cases(1_000_000, []))


def test_case_code_rebuilds_tensors(cases):
    for case in cases:
        for name, tensor in case.tensors.items():
            rebuilt = eval(case.code[name], {"torch": torch})  # noqa: S307 - the code under test is eval'd by design
            assert rebuilt.dtype == tensor.dtype, f"{case.label}: {name}"
            assert torch.equal(rebuilt, tensor), f"{case.label}: {name}"


def test_instructor_case_appended():
    extra = {"logits": [[0.0, 1.0]], "targets": [1], "dtype": "float64", "check": "stability"}

    cases = cross_entropy_cases(SEED, [extra])

    assert cases[-1].check == "stability"
    assert cases[-1].tensors["logits"].dtype == torch.float64
    assert cases[-1].tensors["logits"].tolist() == [[0.0, 1.0]]
