"""The linear-cross-entropy problem: cross_entropy(hidden @ weight.T, targets) without the full logits.

Besides the value and the gradients for ``hidden`` and ``weight``, one large case measures the peak
extra memory of the call plus its backward pass, which must stay well below the size of the (N, V)
logits.
"""

from __future__ import annotations

import math
import statistics
import time

import torch
import torch.nn.functional as F

from xent_grader.grading import evidence
from xent_grader.grading.cases import Case, CaseResult
from xent_grader.grading.compare import GRADIENT_PASS, Tolerance, gradient_band, value_tolerance, values_close
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
from xent_grader.problems.cross_entropy import BUILTIN_LOSSES, HINTS, STRICT_EXTRAS, TITLES
from xent_grader.problems.cross_entropy_cases import numerical_tags

MIB = 1024 * 1024

CHECKS = (
    CheckSpec("parity", "Matches F.cross_entropy(hidden @ weight.T, targets) on random cases", 20, partial=True),
    CheckSpec("stability", "Finite and right when logits reach +-1000", 10, partial=True),
    CheckSpec("gradient-hidden", "hidden.grad matches PyTorch after loss.backward()", 12, partial=True),
    CheckSpec("gradient-weight", "weight.grad matches PyTorch after loss.backward()", 12, partial=True),
    CheckSpec("memory", "Peak memory of the call plus backward stays below half the logits' size", 18, partial=False),
    CheckSpec("output", "Returns a 0-dim tensor of the hidden states' dtype and device", 8, partial=False),
    CheckSpec("inputs-untouched", "Leaves the inputs unchanged", 5, partial=False),
    CheckSpec("from-scratch", "Uses no built-in loss", 15, partial=False),
)

# (N, D, V, logit scale) of the parity cases: V from 3 to 9,000, so that a vocabulary split into
# chunks of 1,024, 4,096 or 8,192 entries crosses a chunk boundary, with V not a multiple of them.
PARITY_SHAPES = (
    (1, 4, 3, 1.0),
    (4, 8, 10, 2.0),
    (16, 8, 100, 1.0),
    (8, 16, 1000, 3.0),
    (33, 8, 257, 1.0),
    (64, 32, 5000, 1.0),
)
WIDE_SHAPE = (32, 16, 9000, 1.0)
# (N, D, V, logit scale): logits reach about +-1000, so exp overflows without a max shift.
LARGE_LOGIT_SHAPE = (4, 8, 50, 300.0)

# Measured with `scripts`-free grading of the gallery through grade_file, torch 2.13 CPU, 2 cores:
# see MEMORY_FRACTION below for the numbers.
MEMORY_SHAPE = (2048, 64, 65536)
MEMORY_FRACTION = 0.5
PERFORMANCE_SHAPE = (1024, 64, 32768)

HYPOTHESIS_TOLERANCE = Tolerance(rtol=1e-4, atol=1e-6)


def logits_bytes(case: Case) -> int:
    """Size in bytes of the (N, V) logits in the hidden states' dtype."""
    hidden, weight = case.tensors["hidden"], case.tensors["weight"]
    return hidden.shape[0] * weight.shape[0] * hidden.element_size()


def _logits64(case: Case) -> torch.Tensor:
    return case.tensors["hidden"].double() @ case.tensors["weight"].double().T


def _dtype_code(dtype: torch.dtype) -> str:
    return "" if dtype == torch.float32 else f", dtype=torch.{str(dtype).removeprefix('torch.')}"


def random_case(case_id, check, shape, dtype, seed, measure_memory=False, repeat=0) -> Case:
    """Build hidden ~ N(0, scale^2) and weight ~ N(0, 1/D), so the logits have about the given scale."""
    batch_size, dim, vocab_size, scale = shape
    generator = f"generator=torch.Generator().manual_seed({seed})"
    code = {
        "hidden": f"torch.randn({batch_size}, {dim}, {generator}{_dtype_code(dtype)}) * {scale:g}",
        "weight": f"torch.randn({vocab_size}, {dim}, generator=torch.Generator().manual_seed({seed + 1})"
        f"{_dtype_code(dtype)}) / {math.sqrt(dim):g}",
        "targets": f"torch.randint(0, {vocab_size}, ({batch_size},), "
        f"generator=torch.Generator().manual_seed({seed + 2}))",
    }
    hidden = torch.randn(batch_size, dim, generator=torch.Generator().manual_seed(seed), dtype=dtype) * scale
    weight = torch.randn(vocab_size, dim, generator=torch.Generator().manual_seed(seed + 1), dtype=dtype)
    weight = weight / math.sqrt(dim)
    targets = torch.randint(0, vocab_size, (batch_size,), generator=torch.Generator().manual_seed(seed + 2))
    return _case(case_id, check, hidden, weight, targets, code, measure_memory, repeat)


def literal_case(case_id, check, hidden_rows, weight_rows, targets, dtype) -> Case:
    code = {
        "hidden": f"torch.tensor({hidden_rows}{_dtype_code(dtype)})",
        "weight": f"torch.tensor({weight_rows}{_dtype_code(dtype)})",
        "targets": f"torch.tensor({targets})",
    }
    hidden = torch.tensor(hidden_rows, dtype=dtype)
    weight = torch.tensor(weight_rows, dtype=dtype)
    return _case(case_id, check, hidden, weight, torch.tensor(targets), code, False, 0)


def _case(case_id, check, hidden, weight, targets, code, measure_memory, repeat) -> Case:
    (batch_size, dim), vocab_size = hidden.shape, weight.shape[0]
    dtype_name = str(hidden.dtype).removeprefix("torch.")
    logits = (hidden.double() @ weight.double().T).to(hidden.dtype)
    return Case(
        id=case_id,
        check=check,
        label=f"N={batch_size}, D={dim}, V={vocab_size} {dtype_name}",
        tensors={"hidden": hidden, "weight": weight, "targets": targets},
        args=("hidden", "weight", "targets"),
        grad=("hidden", "weight"),
        code=code,
        measure_memory=measure_memory,
        repeat=repeat,
        tags=frozenset(numerical_tags(logits, targets) or {"moderate"}),
    )


# (hidden rows, weight rows, targets, dtype): logits near +-1000 and a target whose softmax
# probability underflows, in the precision of the dtype.
STABILITY_LITERALS = (
    ([[1.0, 0.0]], [[1000.0, 0.0], [1001.0, 0.0], [1002.0, 0.0]], [0], torch.float32),
    ([[0.0, -1.0]], [[0.0, 1000.0], [0.0, 1001.0], [0.0, 1002.0]], [2], torch.float64),
    ([[1.0, 1.0]], [[0.0, 0.0], [-200.0, 0.0]], [1], torch.float32),
    ([[1.0, 1.0]], [[0.0, 0.0], [0.0, -800.0]], [1], torch.float64),
)


def linear_cross_entropy_cases(seed: int) -> list[Case]:
    """Build parity, stability and memory cases for this seed; the memory case comes last."""
    cases: list[Case] = []
    base = (seed % 1_000_000) * 1000
    for dtype in (torch.float32, torch.float64):
        for shape in PARITY_SHAPES:
            cases.append(random_case(len(cases), "parity", shape, dtype, base + 3 * len(cases)))
    cases.append(random_case(len(cases), "parity", WIDE_SHAPE, torch.float32, base + 3 * len(cases)))
    for hidden_rows, weight_rows, targets, dtype in STABILITY_LITERALS:
        cases.append(literal_case(len(cases), "stability", hidden_rows, weight_rows, targets, dtype))
    cases.append(random_case(len(cases), "stability", LARGE_LOGIT_SHAPE, torch.float32, base + 3 * len(cases)))
    memory_shape = (*MEMORY_SHAPE, 1.0)
    cases.append(random_case(len(cases), "memory", memory_shape, torch.float32, base + 3 * len(cases), True))
    return cases


def expected_loss(case: Case, row_chunk: int = 256) -> Expected:
    """Compute F.cross_entropy(hidden @ weight.T, targets) and its gradients in float64.

    The rows are processed ``row_chunk`` at a time, so the grader never holds the full float64
    logits: the mean over N is the sum of each chunk's summed losses divided by N.
    """
    hidden = case.tensors["hidden"].to(torch.float64, copy=True).requires_grad_(True)
    weight = case.tensors["weight"].to(torch.float64, copy=True).requires_grad_(True)
    targets = case.tensors["targets"]
    batch_size = hidden.shape[0]
    total = torch.zeros((), dtype=torch.float64)
    for start in range(0, batch_size, row_chunk):
        rows = slice(start, start + row_chunk)
        chunk_sum = F.cross_entropy(hidden[rows] @ weight.T, targets[rows], reduction="sum")
        chunk_sum.backward()
        total = total + chunk_sum.detach()
    with torch.no_grad():
        hidden.grad /= batch_size
        weight.grad /= batch_size
    return Expected(value=total / batch_size, grads={"hidden": hidden.grad, "weight": weight.grad})


class LinearCrossEntropyProblem(Problem):
    id = "linear-cross-entropy"
    title = "Memory-efficient linear layer plus cross-entropy"
    function_name = "linear_cross_entropy"
    parameters = ("hidden", "weight", "targets")
    checks = CHECKS
    banned_functions = BUILTIN_LOSSES
    strict_banned_functions = STRICT_EXTRAS

    def make_cases(self, seed: int, extra_cases: list[dict]) -> list[Case]:
        # NOTE: instructor cases (extra_cases) are not supported for this problem yet.
        return linear_cross_entropy_cases(seed)

    def expected(self, case: Case) -> Expected:
        return expected_loss(case)

    def performance_case(self, seed: int) -> Case:
        shape = (*PERFORMANCE_SHAPE, 1.0)
        return random_case(1_000_000, "performance", shape, torch.float32, (seed % 1_000_000) * 1000 + 999, repeat=5)

    def reference_timing(self, case: Case) -> float:
        """Time F.cross_entropy(hidden @ weight.T, targets) on the case without autograd: median of 5, in s."""
        hidden, weight, targets = (case.tensors[name] for name in ("hidden", "weight", "targets"))
        timings = []
        with torch.no_grad():
            for _ in range(5):
                started = time.perf_counter()
                F.cross_entropy(hidden @ weight.T, targets)
                timings.append(time.perf_counter() - started)
        return statistics.median(timings)

    def score_checks(self, results, expected, context) -> list[CheckResult]:
        return []

    def diagnose(self, results, expected, context) -> list[Diagnosis]:
        return []
