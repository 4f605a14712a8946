"""The graded cases of the cross-entropy problem, each with code that rebuilds it."""

from __future__ import annotations

import math

import torch

from xent_grader.grading.cases import Case

# Values a counterexample is built from, simplest first; Hypothesis shrinks toward the front.
SIMPLE_VALUES = (0.0, 1.0, -1.0, 2.0, -2.0, 3.0)

# (batch size, class count, scale): batch sizes 1, small, equal to and different from the class count;
# class counts 1, 2, 10, 32,000.
PARITY_SHAPES = (
    (1, 1, 1.0),
    (1, 2, 1.0),
    (1, 10, 3.0),
    (4, 10, 1.0),
    (10, 10, 2.0),
    (16, 2, 1.0),
    (3, 7, 4.0),
    (7, 3, 1.0),
    (32, 100, 1.0),
    (2, 32000, 1.0),
)
BATCH_SIZES = (1, 2, 3, 8, 33)

# (logits rows, targets, dtype): logits near +1000 and -1000, a wide spread inside a row, rows of
# very different scale in one batch.
STABILITY_CASES = (
    ([[1000.0, 1001.0, 1002.0]], [0], torch.float32),
    ([[1000.0, 1001.0, 1002.0]], [2], torch.float64),
    ([[-1000.0, -1001.0, -1002.0]], [1], torch.float32),
    ([[-1000.0, -1001.0, -1002.0]], [0], torch.float64),
    ([[0.0, -200.0]], [1], torch.float32),
    ([[0.0, 50.0, -50.0]], [2], torch.float32),
    ([[0.0, -800.0]], [1], torch.float64),
    ([[0.0, 200.0]], [0], torch.float32),
    (
        [[0.5, -0.25, 1.0], [1000.0, 999.0, -1000.0], [-700.0, -702.0, -701.0]],
        [0, 1, 2],
        torch.float32,
    ),
)


def numerical_tags(logits: torch.Tensor, targets: torch.Tensor) -> set[str]:
    """Name the numerical traps in these logits for their dtype.

    ``overflow``: exp of the largest logit is inf without a max-shift. ``underflow-all``: a whole
    row's exp is 0 without a max-shift. ``target-underflow``: the target's softmax probability
    underflows to 0, so log(softmax) is -inf.
    """
    info = torch.finfo(logits.dtype)
    wide = logits.double()
    log_max, log_tiny = math.log(info.max), math.log(info.tiny)
    tags = set()
    if wide.numel() and wide.max().item() > log_max:
        tags.add("overflow")
    if wide.numel() and (wide.max(dim=1).values < log_tiny).any():
        tags.add("underflow-all")
    if wide.numel():
        target_log_probs = torch.log_softmax(wide, dim=1)[torch.arange(targets.numel()), targets]
        if (target_log_probs < log_tiny).any():
            tags.add("target-underflow")
    return tags


def _dtype_code(dtype: torch.dtype) -> str:
    return "" if dtype == torch.float32 else f", dtype=torch.{str(dtype).removeprefix('torch.')}"


def random_case(case_id: int, check: str, shape: tuple[int, int, float], dtype: torch.dtype, seed: int) -> Case:
    batch_size, num_classes, scale = shape
    logits_code = (
        f"torch.randn({batch_size}, {num_classes}, generator=torch.Generator().manual_seed({seed})"
        f"{_dtype_code(dtype)}) * {scale:g}"
    )
    targets_code = (
        f"torch.randint(0, {num_classes}, ({batch_size},), generator=torch.Generator().manual_seed({seed + 1}))"
    )
    logits = torch.randn(batch_size, num_classes, generator=torch.Generator().manual_seed(seed), dtype=dtype) * scale
    targets = torch.randint(0, num_classes, (batch_size,), generator=torch.Generator().manual_seed(seed + 1))
    label = f"{batch_size} x {num_classes} {str(dtype).removeprefix('torch.')} logits"
    return Case(
        id=case_id,
        check=check,
        label=label,
        tensors={"logits": logits, "targets": targets},
        args=("logits", "targets"),
        grad=("logits",),
        code={"logits": logits_code, "targets": targets_code},
        tags=frozenset(numerical_tags(logits, targets) or {"moderate"}),
    )


def literal_case(case_id: int, check: str, rows, targets, dtype: torch.dtype, tags=frozenset()) -> Case:
    logits = torch.tensor(rows, dtype=dtype)
    target_tensor = torch.tensor(targets, dtype=torch.int64)
    label = f"logits {rows} ({str(dtype).removeprefix('torch.')}), targets {targets}"
    half = dtype in (torch.float16, torch.bfloat16)
    return Case(
        id=case_id,
        check=check,
        label=label,
        tensors={"logits": logits, "targets": target_tensor},
        args=("logits", "targets"),
        grad=("logits",),
        code={"logits": f"torch.tensor({rows}{_dtype_code(dtype)})", "targets": f"torch.tensor({targets})"},
        tags=frozenset(set(tags) | ({"half"} if half else numerical_tags(logits, target_tensor) or {"moderate"})),
    )


def cross_entropy_cases(seed: int, extra_cases: list[dict]) -> list[Case]:
    """Build the seeded case list: parity, stability, batch-mean, negation, then any instructor cases."""
    cases: list[Case] = []
    base = seed * 1000  # each case uses seeds base + 2 * index and base + 2 * index + 1

    def next_id() -> int:
        return len(cases)

    for dtype in (torch.float32, torch.float64):
        for shape in PARITY_SHAPES:
            cases.append(random_case(next_id(), "parity", shape, dtype, base + 2 * next_id()))
    for rows, targets, dtype in STABILITY_CASES:
        cases.append(literal_case(next_id(), "stability", rows, targets, dtype))
    cases.append(random_case(next_id(), "stability", (4, 10, 1000.0), torch.float32, base + 2 * next_id()))
    for dtype in (torch.float64, torch.float32):
        for batch_size in BATCH_SIZES:
            cases.append(random_case(next_id(), "batch-mean", (batch_size, 5, 2.0), dtype, base + 2 * next_id()))
    cases.append(literal_case(next_id(), "negation", [[1.0, 2.0, 3.0]], [0], torch.float64))
    cases.append(random_case(next_id(), "negation", (1, 10, 1.0), torch.float32, base + 2 * next_id()))
    for extra in extra_cases:
        cases.append(_instructor_case(next_id(), extra))
    return cases


def _instructor_case(case_id: int, spec: dict) -> Case:
    dtype = {"float32": torch.float32, "float64": torch.float64}[spec.get("dtype", "float32")]
    check = spec.get("check", "parity")
    return literal_case(case_id, check, spec["logits"], spec["targets"], dtype, set(spec.get("tags", [])))


def logits_cases(dtype: torch.dtype, special_values: tuple[float, ...]):
    """Hypothesis strategy of small cases: 1 to 4 rows of 1 to 5 classes, simple values first."""
    from hypothesis import strategies as st  # imported here: grading a correct file never needs it

    values = st.sampled_from(SIMPLE_VALUES + special_values)

    @st.composite
    def build(draw):
        classes = draw(st.integers(1, 5))
        row = st.tuples(st.lists(values, min_size=classes, max_size=classes), st.integers(0, classes - 1))
        rows = draw(st.lists(row, min_size=1, max_size=4))
        logits = [list(values_of_row) for values_of_row, _ in rows]
        targets = [target for _, target in rows]
        return literal_case(10_000, "counterexample", logits, targets, dtype)

    return build()
