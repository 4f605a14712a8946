"""The graded cases of the bce-with-logits problem, and the wrong formulas the diagnosis tests on them."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import torch
import torch.nn.functional as F

from xent_grader.grading.cases import Case
from xent_grader.problems.cross_entropy_cases import SIMPLE_VALUES

DTYPE_NAMES = {torch.float32: "float32", torch.float64: "float64"}

# (logits shape, scale, targets): 0/1 ("hard") or uniform in [0, 1] ("soft") targets, for 1-D,
# 2-D and 3-D logits. The scales keep |logits| well below 16, where float32 sigmoid is still below 1,
# and bce_tags marks any case that goes past it.
PARITY_SHAPES = (
    ((8,), 2.0, "hard"),
    ((1,), 1.0, "soft"),
    ((4, 3), 2.0, "hard"),
    ((16, 5), 3.0, "soft"),
    ((2, 3, 4), 2.0, "hard"),
    ((32, 100), 2.0, "hard"),
    ((6, 6), 1.0, "soft"),
)

# (logits shape, dtype, targets) with a pos_weight of one weight per last-axis entry. The square
# shapes tell a pos_weight broadcast along the last axis from one broadcast along the rows.
POS_WEIGHT_SHAPES = (
    ((4, 4), torch.float32, "hard"),
    ((6, 6), torch.float64, "soft"),
    ((8, 3), torch.float32, "hard"),
    ((2, 5, 5), torch.float64, "hard"),
    ((16, 3), torch.float64, "soft"),
)

# Element counts from 1 to 33, to tell the mean from the sum.
MEAN_SHAPES = ((1,), (2,), (3, 1), (8, 4), (33,))

# (logits, targets, dtype, pos_weight): float32 sigmoid rounds to 1 above about 16.6 and exp
# overflows above about 88.7 (float64: 36.7 and 709.8). Soft targets and pos_weight at the extremes too.
STABILITY_CASES = (
    ([20.0, -20.0], [0.0, 1.0], torch.float32, None),
    ([50.0, -50.0, 17.0, -17.0], [0.0, 1.0, 1.0, 0.0], torch.float32, None),
    ([30.0, -30.0], [0.25, 0.75], torch.float32, None),
    ([1000.0, -1000.0], [0.0, 1.0], torch.float32, None),
    ([1000.0, -1000.0], [1.0, 0.0], torch.float32, None),
    ([100.0, -100.0, 100.0, -100.0], [0.0, 1.0, 1.0, 0.0], torch.float32, None),
    ([40.0, -40.0], [0.0, 1.0], torch.float64, None),
    ([[800.0, -800.0], [40.0, -40.0]], [[0.0, 1.0], [1.0, 0.0]], torch.float64, None),
    (
        [[1000.0, -1000.0, 0.5], [-3.0, 100.0, -100.0]],
        [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]],
        torch.float32,
        [2.0, 0.5, 3.0],
    ),
)

# NOTE: autograd through clamp(min=0), relu and abs takes a one-sided derivative at exactly 0, so
# max(x, 0) + log1p(exp(-|x|)) gets a wrong gradient there while its value is right. This case
# keeps exact zeros because a zero-initialized output layer gives exactly these logits, and the
# problem statement requires PyTorch's gradient everywhere. Only this case has zeros, so such a
# solution loses one case of the gradient check.
ZERO_LOGITS_CASE = ([[0.0, 1.5, -2.0], [0.0, 0.0, 3.0]], [[1.0, 0.0, 1.0], [0.0, 0.5, 1.0]], torch.float32, None)

COUNTEREXAMPLE_TARGETS = (0.0, 1.0, 0.5)
COUNTEREXAMPLE_POS_WEIGHTS = (2.0, 0.5, 3.0)


def bce_tags(logits: torch.Tensor) -> frozenset[str]:
    """Name the numerical traps in these logits for their dtype.

    ``overflow``: exp(|x|) is inf for some element. ``saturates``: sigmoid(x) rounds to exactly 0 or
    1 for some element, so log(sigmoid) or log(1 - sigmoid) is -inf. ``moderate``: neither.
    ``zero-logit``: some element is exactly 0, where clamp- or abs-based code gets a wrong gradient.
    """
    tags = set()
    if logits.numel() and logits.double().abs().max().item() > math.log(torch.finfo(logits.dtype).max):
        tags.add("overflow")
    probs = torch.sigmoid(logits)
    if ((probs == 0) | (probs == 1)).any():
        tags.add("saturates")
    if not tags:
        tags.add("moderate")
    if (logits == 0).any():
        tags.add("zero-logit")
    return frozenset(tags)


def pos_weight_of(case: Case) -> torch.Tensor | None:
    return case.tensors.get("pos_weight")


def make_case(case_id: int, check: str, label: str, tensors: dict, code: dict) -> Case:
    """Build a Case that passes pos_weight positionally when there is one, so the pasteable code shows it."""
    names = ("logits", "targets", "pos_weight") if "pos_weight" in tensors else ("logits", "targets")
    return Case(
        id=case_id,
        check=check,
        label=label,
        tensors=tensors,
        args=names,
        grad=("logits",),
        code=code,
        tags=bce_tags(tensors["logits"]),
    )


def _dtype_code(dtype: torch.dtype) -> str:
    return "" if dtype == torch.float32 else f", dtype=torch.{DTYPE_NAMES[dtype]}"


def random_case(case_id: int, check: str, spec: tuple, dtype: torch.dtype, seed: int, pos_weight: bool) -> Case:
    """Build a seeded case from (shape, scale, "hard" or "soft"), with code that rebuilds each tensor."""
    shape, scale, target_kind = spec
    sizes = ", ".join(str(size) for size in shape)

    def generator(offset: int) -> torch.Generator:
        return torch.Generator().manual_seed(seed + offset)

    def generator_code(offset: int) -> str:
        return f"generator=torch.Generator().manual_seed({seed + offset})"

    tensors = {"logits": torch.randn(*shape, generator=generator(0), dtype=dtype) * scale}
    code = {"logits": f"torch.randn({sizes}, {generator_code(0)}{_dtype_code(dtype)}) * {scale:g}"}
    if target_kind == "hard":
        tensors["targets"] = torch.randint(0, 2, shape, generator=generator(1)).to(dtype)
        code["targets"] = f"torch.randint(0, 2, {shape}, {generator_code(1)}).to(torch.{DTYPE_NAMES[dtype]})"
    else:
        tensors["targets"] = torch.rand(*shape, generator=generator(1), dtype=dtype)
        code["targets"] = f"torch.rand({sizes}, {generator_code(1)}{_dtype_code(dtype)})"
    label = f"{' x '.join(str(size) for size in shape)} {DTYPE_NAMES[dtype]} logits, {target_kind} targets"
    if pos_weight:
        classes = shape[-1]
        tensors["pos_weight"] = torch.rand(classes, generator=generator(2), dtype=dtype) * 3.75 + 0.25
        code["pos_weight"] = f"torch.rand({classes}, {generator_code(2)}{_dtype_code(dtype)}) * 3.75 + 0.25"
        label += f", pos_weight of shape ({classes},)"
    return make_case(case_id, check, label, tensors, code)


def literal_case(case_id: int, check: str, logits, targets, dtype: torch.dtype, pos_weight=None) -> Case:
    tensors = {"logits": torch.tensor(logits, dtype=dtype), "targets": torch.tensor(targets, dtype=dtype)}
    code = {
        "logits": f"torch.tensor({logits}{_dtype_code(dtype)})",
        "targets": f"torch.tensor({targets}{_dtype_code(dtype)})",
    }
    label = f"logits {logits} ({DTYPE_NAMES[dtype]}), targets {targets}"
    if pos_weight is not None:
        tensors["pos_weight"] = torch.tensor(pos_weight, dtype=dtype)
        code["pos_weight"] = f"torch.tensor({pos_weight}{_dtype_code(dtype)})"
        label += f", pos_weight {pos_weight}"
    return make_case(case_id, check, label, tensors, code)


def bce_cases(seed: int, extra_cases: list[dict]) -> list[Case]:
    """Build the seeded case list: parity, pos-weight, mean, stability, then any instructor cases."""
    cases: list[Case] = []
    base = (seed % 1_000_000) * 1000

    def add_random(check: str, spec: tuple, dtype: torch.dtype, pos_weight: bool = False) -> None:
        cases.append(random_case(len(cases), check, spec, dtype, base + 3 * len(cases), pos_weight))

    for dtype in (torch.float32, torch.float64):
        for spec in PARITY_SHAPES:
            add_random("parity", spec, dtype)
    cases.append(literal_case(len(cases), "parity", *ZERO_LOGITS_CASE))
    for shape, dtype, target_kind in POS_WEIGHT_SHAPES:
        add_random("pos-weight", (shape, 2.0, target_kind), dtype, pos_weight=True)
    for dtype in (torch.float64, torch.float32):
        for shape in MEAN_SHAPES:
            add_random("mean", (shape, 2.0, "soft"), dtype)
    for logits, targets, dtype, pos_weight in STABILITY_CASES:
        cases.append(literal_case(len(cases), "stability", logits, targets, dtype, pos_weight))
    add_random("stability", ((4, 10), 1000.0, "hard"), torch.float32)
    for extra in extra_cases:
        dtype = {"float32": torch.float32, "float64": torch.float64}[extra.get("dtype", "float32")]
        case = literal_case(
            len(cases), extra.get("check", "parity"), extra["logits"], extra["targets"], dtype, extra.get("pos_weight")
        )
        cases.append(replace(case, tags=case.tags | frozenset(extra.get("tags", []))))
    return cases


def performance_case(case_id: int, seed: int) -> Case:
    """Build the large float32 case of the advisory performance note, timed with its memory measured.

    pos_weight goes by keyword here: the third positional parameter of PyTorch's function, timed on
    the same arguments, is ``weight``.
    """
    spec = ((4096, 1024), 2.0, "hard")
    case = random_case(case_id, "performance", spec, torch.float32, seed, pos_weight=True)
    keyword = {"pos_weight": "pos_weight"}
    return replace(case, args=("logits", "targets"), kwargs=keyword, measure_memory=True, repeat=3)


def small_cases(dtype: torch.dtype, special_values: tuple[float, ...], with_pos_weight: bool):
    """Hypothesis strategy of small cases: 1 to 3 rows of 1 to 3 logits, simple values first."""
    from hypothesis import strategies as st  # imported here: grading a correct file never needs it

    values = st.sampled_from(SIMPLE_VALUES + special_values)
    targets = st.sampled_from(COUNTEREXAMPLE_TARGETS)

    @st.composite
    def build(draw):
        rows, columns = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        logits = [[draw(values) for _ in range(columns)] for _ in range(rows)]
        target_rows = [[draw(targets) for _ in range(columns)] for _ in range(rows)]
        pos_weight = None
        if with_pos_weight:
            pos_weight = [draw(st.sampled_from(COUNTEREXAMPLE_POS_WEIGHTS)) for _ in range(columns)]
        return literal_case(10_000, "counterexample", logits, target_rows, dtype, pos_weight)

    return build()


# Wrong formulas

Formula = Callable[[Case, torch.Tensor], "torch.Tensor | None"]


def weighted_loss(case: Case, positive_weight=1.0, negative_weight=1.0) -> torch.Tensor:
    """Return mean(positive_weight * y * softplus(-x) + negative_weight * (1 - y) * softplus(x)) in float64."""
    x, y = case.tensors["logits"].double(), case.tensors["targets"].double()
    return (positive_weight * y * F.softplus(-x) + negative_weight * (1 - y) * F.softplus(x)).mean()


def _weight(case: Case) -> torch.Tensor | float:
    pos_weight = pos_weight_of(case)
    return 1.0 if pos_weight is None else pos_weight.double()


def _weight_on_rows(case: Case, truth: torch.Tensor) -> torch.Tensor | None:
    """Return the loss with pos_weight broadcast along the second-to-last axis; None where that raises."""
    pos_weight, logits = pos_weight_of(case), case.tensors["logits"]
    if pos_weight is None:
        return truth
    if logits.dim() < 2 or logits.shape[-2] != pos_weight.numel():
        return None
    return weighted_loss(case, positive_weight=pos_weight.double().unsqueeze(1))


# Each wrong formula a submission may have implemented, with the mistake id it shows and what the
# submission's loss matched, in words. Without pos_weight the pos_weight variants equal the truth.
VALUE_HYPOTHESES: dict[str, tuple[str, Formula, str]] = {
    "negation": ("missing-negation", lambda case, truth: -truth, "exactly -1 x the expected value"),
    "sum": (
        "sum-instead-of-mean",
        lambda case, truth: truth * case.tensors["logits"].numel(),
        "the number of elements x the expected value",
    ),
    "both-terms": (
        "pos-weight-misapplied",
        lambda case, truth: weighted_loss(case, _weight(case), _weight(case)),
        "the loss with pos_weight multiplying both terms",
    ),
    "negative-term": (
        "pos-weight-misapplied",
        lambda case, truth: weighted_loss(case, 1.0, _weight(case)),
        "the loss with pos_weight multiplying the negative term",
    ),
    "ignored": (
        "pos-weight-misapplied",
        lambda case, truth: weighted_loss(case),
        "the loss without pos_weight",
    ),
    "rows": (
        "pos-weight-misapplied",
        _weight_on_rows,
        "the loss with pos_weight broadcast along the rows (pos_weight[:, None]) instead of the last axis",
    ),
}
