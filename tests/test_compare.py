"""Tolerances and error measures that decide whether a submission's numbers match PyTorch's."""

from __future__ import annotations

import math

import pytest
import torch

from xent_grader.grading.compare import (
    Tolerance,
    gradient_band,
    max_abs,
    relative_error,
    value_tolerance,
    values_close,
)

NAN = float("nan")
INF = float("inf")


def vector(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


# value_tolerance: rtol, and atol = floor + k * eps * max|logit| (README, "Tolerances").

DOCUMENTED_TOLERANCES = [
    # dtype, rtol, atol floor, machine epsilons per unit of max|logit|
    (torch.float32, 1e-5, 1e-6, 16),
    (torch.float64, 1e-7, 1e-9, 64),
]


@pytest.mark.parametrize("dtype, rtol, floor, epsilons", DOCUMENTED_TOLERANCES)
@pytest.mark.parametrize("largest", [1.0, 10.0, 1000.0, 1e6])
def test_value_tolerance_follows_formula(dtype, rtol, floor, epsilons, largest):
    expected_atol = floor + epsilons * torch.finfo(dtype).eps * largest

    tolerance = value_tolerance(dtype, largest)

    assert tolerance.rtol == rtol
    assert tolerance.atol == pytest.approx(expected_atol, rel=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_value_tolerance_never_shrinks(dtype):
    largest_values = [0.0, 0.5, 1.0, 2.0, 100.0, 1000.0, 1e5]

    atols = [value_tolerance(dtype, largest).atol for largest in largest_values]

    assert atols == sorted(atols)
    assert atols[-1] > atols[0]


def test_value_tolerance_covers_float32_ulp_at_1000():
    # Logits in [512, 1024) are spaced 2**9 * eps apart in float32. A stable implementation loses
    # about one such ulp when it subtracts the target logit from the log-sum-exp.
    ulp_at_1000 = 2**9 * torch.finfo(torch.float32).eps

    tolerance = value_tolerance(torch.float32, 1000.0)

    assert tolerance.atol >= ulp_at_1000


def test_value_tolerance_float64_tighter_than_float32():
    assert value_tolerance(torch.float64, 1000.0).atol < value_tolerance(torch.float32, 1000.0).atol
    assert value_tolerance(torch.float64, 1000.0).rtol < value_tolerance(torch.float32, 1000.0).rtol


def test_tolerance_describe_names_both():
    text = Tolerance(rtol=1e-5, atol=2e-6).describe()

    assert "rtol=1.0e-05" in text
    assert "atol=2.0e-06" in text


# values_close

EXACT = Tolerance(rtol=0.0, atol=0.0)
LOOSE = Tolerance(rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "got_shape, expected_shape",
    [((1,), ()), ((), (1,)), ((1, 1), ()), ((3, 2), (4, 3, 2)), ((4, 3, 2), (3, 2)), ((2, 1), (2,)), ((0,), ())],
    ids=str,
)
def test_values_close_rejects_shape_mismatch(got_shape, expected_shape):
    # Equal values everywhere, so only the shapes can make the comparison fail.
    got = torch.zeros(got_shape, dtype=torch.float64)
    expected = torch.zeros(expected_shape, dtype=torch.float64)

    assert values_close(got, expected, LOOSE) is False


@pytest.mark.parametrize(
    "got, expected, close",
    [
        (vector(NAN), vector(NAN), True),
        (vector(NAN), vector(1.0), False),
        (vector(1.0), vector(NAN), False),
        (vector(1.0, NAN), vector(1.0, NAN), True),
        (vector(NAN, 1.0), vector(1.0, NAN), False),
        (vector(INF), vector(INF), True),
        (vector(-INF), vector(-INF), True),
        (vector(INF), vector(-INF), False),
        (vector(INF), vector(1e308), False),
        (vector(NAN), vector(INF), False),
    ],
    ids=[
        "nan-nan", "nan-number", "number-nan", "nan-in-vector", "nan-moved", "inf-inf", "minus-inf",
        "inf-minus-inf", "inf-finite", "nan-inf",
    ],
)
def test_values_close_special_values(got, expected, close):
    assert values_close(got, expected, LOOSE) is close


@pytest.mark.parametrize(
    "difference, close",
    [(0.0, True), (0.5e-3, True), (1e-3, True), (2e-3, False), (-2e-3, False)],
)
def test_values_close_at_atol_edge(difference, close):
    # With rtol 0 the test is |got - expected| <= atol. An expected value of 0 makes the difference
    # the same double as the atol at the edge, so the edge case is exact.
    tolerance = Tolerance(rtol=0.0, atol=1e-3)

    assert values_close(vector(difference), vector(0.0), tolerance) is close


@pytest.mark.parametrize("got, close", [(100.0, True), (101.0, True), (101.5, False), (98.5, False)])
def test_values_close_relative_to_expected(got, close):
    # rtol 0.01 of the expected 100 allows a difference of 1.
    tolerance = Tolerance(rtol=0.01, atol=0.0)

    assert values_close(vector(got), vector(100.0), tolerance) is close


def test_values_close_one_element_off():
    expected = vector(1.0, 2.0, 3.0)
    got = vector(1.0, 2.0, 3.1)

    assert values_close(got, expected, LOOSE) is False


def test_values_close_exact_tolerance():
    assert values_close(vector(0.25, -4.0), vector(0.25, -4.0), EXACT) is True


# relative_error = ||got - expected|| / max(||got||, ||expected||)

RELATIVE_ERRORS = [
    # got, expected, worked value
    ((3.0, 4.0), (3.0, 4.0), 0.0),  # no difference
    ((0.0, 0.0), (0.0, 0.0), 0.0),  # both zero: defined as 0
    ((3.0, 4.0), (0.0, 0.0), 1.0),  # ||(3, 4)|| = 5, max(5, 0) = 5
    ((0.0, 0.0), (3.0, 4.0), 1.0),  # the same, with got and expected swapped
    ((0.0, 3.0), (4.0, 3.0), 0.8),  # ||(-4, 0)|| = 4, max(3, 5) = 5
    ((2.0, 0.0), (1.0, 0.0), 0.5),  # ||(1, 0)|| = 1, max(2, 1) = 2
    ((1.0, 0.0), (0.0, 1.0), math.sqrt(2)),  # ||(1, -1)|| = sqrt(2), max(1, 1) = 1
    ((1.0, 2.0, 2.0), (-1.0, -2.0, -2.0), 2.0),  # ||2 * (1, 2, 2)|| = 6, max(3, 3) = 3
]


@pytest.mark.parametrize("got, expected, error", RELATIVE_ERRORS, ids=str)
def test_relative_error_worked_values(got, expected, error):
    assert relative_error(vector(*got), vector(*expected)) == pytest.approx(error, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(
    "got, expected",
    [((INF, 0.0), (1.0, 0.0)), ((NAN, 0.0), (1.0, 0.0)), ((1.0, 0.0), (1.0, -INF)), ((NAN,), (NAN,))],
    ids=["got-inf", "got-nan", "expected-inf", "both-nan"],
)
def test_relative_error_non_finite_is_inf(got, expected):
    assert relative_error(vector(*got), vector(*expected)) == INF


def test_relative_error_symmetric():
    first = vector(0.3, -1.2, 2.5)
    second = vector(0.1, -1.0, 2.9)

    assert relative_error(first, second) == pytest.approx(relative_error(second, first), rel=1e-15)


def test_relative_error_scale_free():
    got = vector(0.0, 3.0)
    expected = vector(4.0, 3.0)

    assert relative_error(got * 1e-6, expected * 1e-6) == pytest.approx(0.8, rel=1e-12)


def test_relative_error_huge_finite_vectors():
    # got = -expected, so ||got - expected|| / ||got|| = ||2 * got|| / ||got|| = 2 at any scale.
    got = vector(1e200, 1e200)

    assert relative_error(got, -got) == pytest.approx(2.0, rel=1e-12)


# gradient_band: at most 1e-7, at most 1e-4, at most 1e-2, above 1e-2


def just_above(value: float) -> float:
    return math.nextafter(value, INF)


@pytest.mark.parametrize(
    "error, first_word",
    [
        (0.0, "excellent"),
        (1e-7, "excellent"),
        (just_above(1e-7), "acceptable"),
        (1e-4, "acceptable"),
        (just_above(1e-4), "suspicious"),
        (1e-2, "suspicious"),
        (just_above(1e-2), "wrong"),
        (1.0, "wrong"),
        (INF, "wrong"),
    ],
    ids=["zero", "1e-7", "above-1e-7", "1e-4", "above-1e-4", "1e-2", "above-1e-2", "one", "inf"],
)
def test_gradient_band_edges(error, first_word):
    assert gradient_band(error).split()[0] == first_word


@pytest.mark.parametrize(
    "error, limit_named",
    [(1e-8, "1e-7"), (1e-5, "1e-4"), (1e-3, "1e-2"), (0.5, "1e-2")],
)
def test_gradient_band_names_limit(error, limit_named):
    assert limit_named in gradient_band(error)


# max_abs: the largest finite magnitude


@pytest.mark.parametrize(
    "values, largest",
    [
        (torch.tensor([1.0, -5.0, 2.0]), 5.0),
        (torch.tensor([1.0, -5.0, INF, NAN, -INF]), 5.0),
        (torch.tensor([INF, NAN]), 0.0),
        (torch.tensor([]), 0.0),
        (torch.tensor([3, -7]), 7.0),
    ],
    ids=["finite", "skips-non-finite", "only-non-finite", "empty", "integers"],
)
def test_max_abs_values(values, largest):
    assert max_abs(values) == largest
