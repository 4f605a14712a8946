"""Graded cases of the linear-cross-entropy problem, and PyTorch's expected values for them.

Each case carries code that rebuilds its tensors, printed as a counterexample.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from xent_grader.grading.cases import Case
from xent_grader.grading.compare import GRADIENT_PASS, Tolerance, value_tolerance
from xent_grader.problems.base import Expected
from xent_grader.problems.cross_entropy_full_cases import numerical_tags

# (N, D, V, logit scale) of the parity cases. V runs from 3 to 9,000, so a vocabulary split into
# chunks of 1,024, 4,096 or 8,192 entries crosses a chunk boundary, and V is not a multiple of them.
PARITY_SHAPES = (
    (1, 4, 3, 1.0),
    (4, 8, 10, 2.0),
    (16, 8, 100, 1.0),
    (8, 16, 1000, 3.0),
    (33, 8, 257, 1.0),
    (64, 32, 5000, 1.0),
)
WIDE_SHAPE = (32, 16, 9000, 1.0)

# hidden ~ N(0, 300^2) with D = 8 gives logits with a standard deviation of 300. The largest of the
# 4 x 50 logits are several hundred, far above float32's exp limit of 88.7.
LARGE_LOGIT_SHAPE = (4, 8, 50, 300.0)

# (hidden rows, weight rows, targets, dtype): logits near +-1000, and a target whose softmax
# probability underflows to 0 in the dtype (exp(-200) in float32, exp(-800) in float64). The large
# logits come from large hidden states, as in a model, so the gradients do not cancel.
STABILITY_LITERALS = (
    ([[1000.0, 1.0]], [[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]], [0], torch.float32),
    ([[-1000.0, 1.0]], [[1.0, 0.0], [1.0, -1.0], [1.0, -2.0]], [2], torch.float64),
    ([[200.0, 1.0]], [[0.0, 0.0], [-1.0, 0.0]], [1], torch.float32),
    ([[800.0, 1.0]], [[0.0, 0.0], [-1.0, 0.0]], [1], torch.float64),
)

# N, D, V of the case whose peak memory is measured: float32 logits of 1024 x 65,536 x 4 bytes
# = 256 MiB. D is small so that the gradients and the copies sent back to the grader (a few
# V x D tensors of 4 MiB) stay small next to the logits.
MEMORY_SHAPE = (1024, 16, 65536)
PERFORMANCE_SHAPE = (512, 64, 16384)


def logits_bytes(case: Case) -> int:
    """Size in bytes of the case's (N, V) logits in the dtype of ``hidden``."""
    hidden, weight = case.tensors["hidden"], case.tensors["weight"]
    return hidden.shape[0] * weight.shape[0] * hidden.element_size()


def logits64(case: Case) -> torch.Tensor:
    return case.tensors["hidden"].double() @ case.tensors["weight"].double().T


_max_logit_cache: dict[tuple[str, str], float] = {}


def max_abs_logit(case: Case, row_chunk: int = 256) -> float:
    """Return the largest |logit| of the case, computed in float64 a few rows at a time and cached.

    The cache key is the code that rebuilds hidden and weight, which fixes their values.
    """
    key = (case.code["hidden"], case.code["weight"])
    if key not in _max_logit_cache:
        if len(_max_logit_cache) > 1000:
            _max_logit_cache.clear()
        _max_logit_cache[key] = _chunked_max_abs(case.tensors["hidden"], case.tensors["weight"], row_chunk)
    return _max_logit_cache[key]


def _chunked_max_abs(hidden: torch.Tensor, weight: torch.Tensor, row_chunk: int) -> float:
    largest = 0.0
    weight64 = weight.double()
    for start in range(0, hidden.shape[0], row_chunk):
        logits = hidden[start:start + row_chunk].double() @ weight64.T
        largest = max(largest, logits.abs().max().item() if logits.numel() else 0.0)
    return largest


def logit_tags(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, largest: float) -> set[str]:
    """Name the numerical traps of the case's logits (see numerical_tags).

    When every logit is within +-M, no exp overflows, and no log-softmax is below -(2M + log V), so a
    case whose bound stays clear of the dtype's limits is moderate without computing its softmax.
    """
    info = torch.finfo(hidden.dtype)
    bound = 2 * largest + math.log(weight.shape[0])
    if largest < math.log(info.max) and bound < -math.log(info.tiny):
        return set()
    return numerical_tags(hidden.double() @ weight.double().T, targets, hidden.dtype)


def _dtype_code(dtype: torch.dtype) -> str:
    return "" if dtype == torch.float32 else f", dtype=torch.{str(dtype).removeprefix('torch.')}"


def random_case(case_id, check, shape, dtype, seed, measure_memory=False, repeat=0) -> Case:
    """Build hidden ~ N(0, scale^2) and weight ~ N(0, 1/D), so the logits have about that scale."""
    batch_size, dim, vocab_size, scale = shape
    weight_scale = math.sqrt(dim)
    code = {
        "hidden": f"torch.randn({batch_size}, {dim}, generator=torch.Generator().manual_seed({seed})"
        f"{_dtype_code(dtype)}) * {scale!r}",
        "weight": f"torch.randn({vocab_size}, {dim}, generator=torch.Generator().manual_seed({seed + 1})"
        f"{_dtype_code(dtype)}) / {weight_scale!r}",
        "targets": f"torch.randint(0, {vocab_size}, ({batch_size},), "
        f"generator=torch.Generator().manual_seed({seed + 2}))",
    }
    hidden = torch.randn(batch_size, dim, generator=torch.Generator().manual_seed(seed), dtype=dtype) * scale
    weight = torch.randn(vocab_size, dim, generator=torch.Generator().manual_seed(seed + 1), dtype=dtype)
    weight = weight / weight_scale
    targets = torch.randint(0, vocab_size, (batch_size,), generator=torch.Generator().manual_seed(seed + 2))
    return _case(case_id, check, (hidden, weight, targets), code, measure_memory, repeat)


def literal_case(case_id, check, hidden_rows, weight_rows, targets, dtype) -> Case:
    code = {
        "hidden": f"torch.tensor({hidden_rows}{_dtype_code(dtype)})",
        "weight": f"torch.tensor({weight_rows}{_dtype_code(dtype)})",
        "targets": f"torch.tensor({targets})",
    }
    tensors = (torch.tensor(hidden_rows, dtype=dtype), torch.tensor(weight_rows, dtype=dtype), torch.tensor(targets))
    return _case(case_id, check, tensors, code, False, 0)


def _case(case_id, check, tensors, code, measure_memory, repeat) -> Case:
    hidden, weight, targets = tensors
    (batch_size, dim), vocab_size = hidden.shape, weight.shape[0]
    dtype_name = str(hidden.dtype).removeprefix("torch.")
    largest = _chunked_max_abs(hidden, weight, 256)
    _max_logit_cache[(code["hidden"], code["weight"])] = largest
    return Case(
        id=case_id,
        check=check,
        label=f"N={batch_size}, D={dim}, V={vocab_size} {dtype_name} inputs",
        tensors={"hidden": hidden, "weight": weight, "targets": targets},
        args=("hidden", "weight", "targets"),
        grad=("hidden", "weight"),
        code=code,
        measure_memory=measure_memory,
        repeat=repeat,
        tags=frozenset(logit_tags(hidden, weight, targets, largest) or {"moderate"}),
    )


def linear_cross_entropy_cases(seed: int) -> list[Case]:
    """Build the seeded parity, stability and memory cases; the memory case comes last."""
    cases: list[Case] = []
    base = (seed % 1_000_000) * 1000

    def next_seed() -> int:
        return base + 3 * len(cases)

    for dtype in (torch.float32, torch.float64):
        for shape in PARITY_SHAPES:
            cases.append(random_case(len(cases), "parity", shape, dtype, next_seed()))
    cases.append(random_case(len(cases), "parity", WIDE_SHAPE, torch.float32, next_seed()))
    for hidden_rows, weight_rows, targets, dtype in STABILITY_LITERALS:
        cases.append(literal_case(len(cases), "stability", hidden_rows, weight_rows, targets, dtype))
    cases.append(random_case(len(cases), "stability", LARGE_LOGIT_SHAPE, torch.float32, next_seed()))
    memory_shape = (*MEMORY_SHAPE, 1.0)
    cases.append(random_case(len(cases), "memory", memory_shape, torch.float32, next_seed(), measure_memory=True))
    return cases


def performance_case(seed: int) -> Case:
    """Build one large float32 case for the advisory note: timed 5 more times, its peak memory read."""
    shape = (*PERFORMANCE_SHAPE, 1.0)
    seed = (seed % 1_000_000) * 1000 + 999
    return random_case(1_000_000, "performance", shape, torch.float32, seed, measure_memory=True, repeat=5)


def expected_loss(case: Case, row_chunk: int = 256) -> Expected:
    """Compute F.cross_entropy(hidden @ weight.T, targets) and its gradients in float64.

    The rows go ``row_chunk`` at a time, so the grader never keeps the full float64 logits: the
    mean over N is the sum of each chunk's summed losses divided by N, and so are the gradients.
    """
    hidden = case.tensors["hidden"].detach().to(torch.float64, copy=True).requires_grad_(True)
    weight = case.tensors["weight"].detach().to(torch.float64, copy=True).requires_grad_(True)
    targets = case.tensors["targets"]
    batch_size = hidden.shape[0]
    total = torch.zeros((), dtype=torch.float64)
    for start in range(0, batch_size, row_chunk):
        rows = slice(start, start + row_chunk)
        chunk_sum = F.cross_entropy(hidden[rows] @ weight.T, targets[rows], reduction="sum")
        chunk_sum.backward()
        total = total + chunk_sum.detach()
    grads = {"hidden": hidden.grad / batch_size, "weight": weight.grad / batch_size}
    return Expected(value=total / batch_size, grads=grads)


def value_tolerance_for(case: Case) -> Tolerance:
    """Tolerance that grows with the largest |logit|, where a float32 log-sum-exp loses precision."""
    return value_tolerance(case.tensors["hidden"].dtype, max_abs_logit(case))


def gradient_limit(case: Case) -> float:
    dtype = case.tensors["hidden"].dtype
    return max(GRADIENT_PASS.get(dtype, 1e-4), 64 * torch.finfo(dtype).eps * max_abs_logit(case))
