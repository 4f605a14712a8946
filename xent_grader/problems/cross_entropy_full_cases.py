"""The graded cases of the cross-entropy-full problem, each with code that rebuilds it.

Every case is built from a CaseSpec: the input layout, the target kind, the reduction and the
options of F.cross_entropy (weight, ignore_index, label_smoothing). Only options that differ from
F.cross_entropy's defaults are passed, as keyword arguments.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch

from xent_grader.grading.cases import Case

F32, F64 = torch.float32, torch.float64


@dataclass(frozen=True)
class CaseSpec:
    check: str
    shape: tuple[int, ...]  # the input's shape: (C,), (N, C) or (N, C, d1, ...)
    target: str = "index"  # "index" (class indices) or "probs" (class probabilities)
    reduction: str = "mean"
    dtype: torch.dtype = F32
    weighted: bool = False
    ignored: str = "none"  # which class-index targets equal ignore_index: "none", "some" (every third) or "all"
    ignore_index: int = -100
    smoothing: float = 0.0
    scale: float = 1.0


# Fewer than 60 small cases. "square" layouts have as many classes as their last axis, so a submission
# that takes the last axis as the class axis runs on them and can be recognized by its values.
SPECS = (
    CaseSpec("parity", (5,)),
    CaseSpec("parity", (5,), target="probs", reduction="none", dtype=F64),
    CaseSpec("parity", (7,), reduction="sum", dtype=F64),
    CaseSpec("parity", (4, 5)),
    CaseSpec("parity", (4, 5), dtype=F64),
    CaseSpec("parity", (6, 3), reduction="sum"),
    CaseSpec("parity", (6, 3), reduction="none", dtype=F64),
    CaseSpec("parity", (4, 5), target="probs"),
    CaseSpec("parity", (3, 6), target="probs", reduction="sum", dtype=F64),
    CaseSpec("parity", (5, 4), target="probs", reduction="none"),
    CaseSpec("parity", (2, 4, 3)),
    CaseSpec("parity", (2, 4, 3), reduction="none", dtype=F64),
    CaseSpec("parity", (3, 3, 2), target="probs", dtype=F64),
    CaseSpec("parity", (2, 4, 3), target="probs", reduction="none"),
    CaseSpec("parity", (2, 4, 4), reduction="none"),
    CaseSpec("parity", (3, 5, 5), dtype=F64),
    CaseSpec("parity", (2, 3, 3), target="probs"),
    CaseSpec("parity", (2, 3, 2, 3)),
    CaseSpec("parity", (2, 3, 2, 4), reduction="none", dtype=F64),
    CaseSpec("parity", (2, 3, 2, 4), target="probs", reduction="sum"),
    CaseSpec("parity", (3, 1), dtype=F64),
    CaseSpec("parity", (8, 200)),
    CaseSpec("weights", (4, 5), dtype=F64, weighted=True),
    CaseSpec("weights", (6, 5), weighted=True),
    CaseSpec("weights", (4, 5), reduction="sum", weighted=True),
    CaseSpec("weights", (4, 5), reduction="none", dtype=F64, weighted=True),
    CaseSpec("weights", (2, 4, 3), dtype=F64, weighted=True),
    CaseSpec("weights", (4, 5), target="probs", dtype=F64, weighted=True),
    CaseSpec("weights", (5,), weighted=True),
    CaseSpec("ignore-index", (6, 5), dtype=F64, ignored="some"),
    CaseSpec("ignore-index", (6, 5), weighted=True, ignored="some"),
    CaseSpec("ignore-index", (6, 5), reduction="none", dtype=F64, ignored="some"),
    CaseSpec("ignore-index", (6, 5), reduction="sum", ignored="some"),
    CaseSpec("ignore-index", (2, 4, 3), ignored="some"),
    CaseSpec("ignore-index", (4, 5), ignored="all"),
    CaseSpec("ignore-index", (4, 5), dtype=F64, weighted=True, ignored="all"),
    CaseSpec("ignore-index", (4, 5), reduction="sum", dtype=F64, ignored="all"),
    CaseSpec("ignore-index", (4, 5), reduction="none", ignored="all"),
    CaseSpec("ignore-index", (6, 5), dtype=F64, ignored="some", ignore_index=1),
    CaseSpec("ignore-index", (8, 150), ignored="some"),
    CaseSpec("ignore-index", (0, 4)),
    CaseSpec("label-smoothing", (6, 5), smoothing=0.1),
    CaseSpec("label-smoothing", (6, 5), dtype=F64, weighted=True, smoothing=0.2),
    CaseSpec("label-smoothing", (6, 5), dtype=F64, weighted=True, ignored="some", smoothing=0.3),
    CaseSpec("label-smoothing", (6, 5), reduction="none", ignored="some", smoothing=0.25),
    CaseSpec("label-smoothing", (4, 5), target="probs", dtype=F64, weighted=True, smoothing=0.2),
    CaseSpec("label-smoothing", (2, 4, 3), reduction="sum", smoothing=0.1),
    CaseSpec("label-smoothing", (4, 5), dtype=F64, smoothing=1.0),
    CaseSpec("label-smoothing", (4, 5), dtype=F64, ignored="all", smoothing=0.2),
    CaseSpec("stability", (4, 5), scale=1000.0),
    CaseSpec("stability", (2, 4, 3), reduction="none", scale=1000.0),
    CaseSpec("stability", (3, 5), target="probs", scale=1000.0),
    CaseSpec("stability", (4, 5), weighted=True, smoothing=0.1, scale=500.0),
)

# (logits rows, class-index targets, dtype) of literal stability cases with default options. The
# first two have a target whose softmax probability underflows to 0 in the dtype: exp(-200) in
# float32 and exp(-800) in float64. The third has rows near +1000 and -1000 in one batch, and the
# last has logits whose exp overflows float64.
STABILITY_LITERALS = (
    ([[0.0, -200.0, 5.0]], [1], F32),
    ([[0.0, -800.0]], [1], F64),
    ([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1002.0]], [0, 2], F32),
    ([[800.0, 799.0]], [1], F64),
)

PERFORMANCE_SPEC = CaseSpec("performance", (64, 1000, 16))


def class_rows(logits: torch.Tensor) -> torch.Tensor:
    """Return the logits as (positions, C) rows, the class axis last."""
    if logits.dim() == 1:
        return logits.unsqueeze(0)
    return logits.movedim(1, -1).reshape(-1, logits.shape[1])


def numerical_tags(rows: torch.Tensor, targets: torch.Tensor, dtype: torch.dtype) -> set[str]:
    """Name the numerical traps of (positions, C) logits ``rows`` for ``dtype``.

    ``targets`` is the (positions,) class index of each counted row, or (positions, C) probabilities.
    ``overflow``: exp of the largest logit is inf without a max shift. ``underflow-all``: a whole
    row's exp is 0 without a max shift. ``target-underflow``: a target class's softmax probability
    underflows to 0, so log(softmax) is -inf.
    """
    if rows.numel() == 0:
        return set()
    info = torch.finfo(dtype)
    log_max, log_tiny = math.log(info.max), math.log(info.tiny)
    wide = rows.double()
    tags = set()
    if wide.max().item() > log_max:
        tags.add("overflow")
    if (wide.max(dim=1).values < log_tiny).any():
        tags.add("underflow-all")
    log_probs = torch.log_softmax(wide, dim=1)
    if targets.is_floating_point():
        target_log_probs = log_probs[targets > 0]
    else:
        target_log_probs = log_probs[torch.arange(targets.numel()), targets]
    if (target_log_probs < log_tiny).any():
        tags.add("target-underflow")
    return tags


def _dtype_code(dtype: torch.dtype) -> str:
    return "" if dtype == F32 else f", dtype=torch.{str(dtype).removeprefix('torch.')}"


def _generator(seed: int) -> str:
    return f"generator=torch.Generator().manual_seed({seed})"


def _random_target(spec: CaseSpec, seed: int) -> tuple[torch.Tensor, str]:
    """Build the target tensor of a spec and the code that rebuilds it."""
    classes = spec.shape[0] if len(spec.shape) == 1 else spec.shape[1]
    generator = torch.Generator().manual_seed
    if spec.target == "probs":
        class_dim = 0 if len(spec.shape) == 1 else 1
        scores = torch.randn(spec.shape, generator=generator(seed), dtype=spec.dtype)
        code = f"torch.randn({spec.shape}, {_generator(seed)}{_dtype_code(spec.dtype)})"
        return torch.softmax(scores, dim=class_dim), f"torch.softmax({code}, dim={class_dim})"
    shape = () if len(spec.shape) == 1 else (spec.shape[0], *spec.shape[2:])
    if spec.ignored == "all":
        return torch.full(shape, spec.ignore_index), f"torch.full({shape}, {spec.ignore_index})"
    target = torch.randint(0, classes, shape, generator=generator(seed))
    code = f"torch.randint(0, {classes}, {shape}, {_generator(seed)})"
    if spec.ignored == "some":
        count = math.prod(shape)
        target = target.masked_fill(torch.arange(count).reshape(shape) % 3 == 1, spec.ignore_index)
        code += f".masked_fill(torch.arange({count}).reshape({shape}) % 3 == 1, {spec.ignore_index})"
    return target, code


def spec_case(case_id: int, spec: CaseSpec, seed: int) -> Case:
    """Build the case a spec describes; its ``code`` rebuilds the same tensors."""
    generator = torch.Generator().manual_seed
    logits = torch.randn(spec.shape, generator=generator(seed), dtype=spec.dtype) * spec.scale
    target, target_code = _random_target(spec, seed + 1)
    tensors = {"logits": logits, "target": target}
    code = {
        "logits": f"torch.randn({spec.shape}, {_generator(seed)}{_dtype_code(spec.dtype)}) * {spec.scale:g}",
        "target": target_code,
    }
    kwargs: dict[str, object] = {}
    if spec.weighted:
        classes = spec.shape[0] if len(spec.shape) == 1 else spec.shape[1]
        tensors["weight"] = torch.rand(classes, generator=generator(seed + 3), dtype=spec.dtype) + 0.5
        code["weight"] = f"torch.rand({classes}, {_generator(seed + 3)}{_dtype_code(spec.dtype)}) + 0.5"
        kwargs["weight"] = "weight"
    if spec.ignore_index != -100:
        kwargs["ignore_index"] = spec.ignore_index
    if spec.reduction != "mean":
        kwargs["reduction"] = spec.reduction
    if spec.smoothing:
        kwargs["label_smoothing"] = spec.smoothing
    return make_case(case_id, spec.check, tensors, code, kwargs)


def literal_case(case_id: int, check: str, rows, targets, dtype: torch.dtype) -> Case:
    code = {"logits": f"torch.tensor({rows}{_dtype_code(dtype)})", "target": f"torch.tensor({targets})"}
    tensors = {"logits": torch.tensor(rows, dtype=dtype), "target": torch.tensor(targets)}
    return make_case(case_id, check, tensors, code, {})


def make_case(case_id: int, check: str, tensors: dict, code: dict, kwargs: dict) -> Case:
    logits, target = tensors["logits"], tensors["target"]
    return Case(
        id=case_id,
        check=check,
        label=describe(logits, target, kwargs),
        tensors=tensors,
        args=("logits", "target"),
        kwargs=kwargs,
        grad=("logits",),
        code=code,
        tags=frozenset(structure_tags(logits, target, kwargs) | (_traps(logits, target, kwargs) or {"moderate"})),
    )


def describe(logits: torch.Tensor, target: torch.Tensor, kwargs: dict) -> str:
    """Describe a case in words: dtype, shape, target kind, ignored targets and options."""
    kind = "probability" if target.is_floating_point() else "class-index"
    dtype = str(logits.dtype).removeprefix("torch.")
    ignored = ""
    if not target.is_floating_point() and target.numel():
        count = int((target == kwargs.get("ignore_index", -100)).sum())
        if count == target.numel():
            ignored = " (every target ignored)"
        elif count:
            ignored = f" ({count} of {target.numel()} ignored)"
    weighted = ", class weights" if "weight" in kwargs else ""
    options = "".join(f", {key}={value!r}" for key, value in kwargs.items() if key != "weight")
    return f"{dtype} input of shape {tuple(logits.shape)} with {kind} targets{ignored}{weighted}{options}"


def counted_mask(target: torch.Tensor, ignore_index: int) -> torch.Tensor:
    """Return which class-index targets count: those not equal to ignore_index."""
    return (target != ignore_index).reshape(-1)


def structure_tags(logits: torch.Tensor, target: torch.Tensor, kwargs: dict) -> set[str]:
    """Tag what a case exercises: "square" layouts, "ignored" targets, and "nothing-counted" means."""
    tags = set()
    if logits.dim() >= 3 and logits.shape[1] == logits.shape[-1]:
        tags.add("square")
    if not target.is_floating_point():
        counted = counted_mask(target, kwargs.get("ignore_index", -100))
        classes = logits.shape[0] if logits.dim() == 1 else logits.shape[1]
        if not bool(counted.all()):
            tags.add("ignored")
            if not 0 <= kwargs.get("ignore_index", -100) < classes:
                tags.add("ignored-out-of-range")
        if not bool(counted.any()) and kwargs.get("reduction", "mean") == "mean":
            tags.add("nothing-counted")
    elif target.numel() == 0 and kwargs.get("reduction", "mean") == "mean":
        tags.add("nothing-counted")
    return tags


def _traps(logits: torch.Tensor, target: torch.Tensor, kwargs: dict) -> set[str]:
    rows = class_rows(logits)
    smoothing = kwargs.get("label_smoothing", 0.0)
    if target.is_floating_point():
        # Label smoothing gives every class a positive target probability.
        return numerical_tags(rows, class_rows(target) + smoothing, logits.dtype)
    counted = counted_mask(target, kwargs.get("ignore_index", -100))
    if smoothing:
        return numerical_tags(rows[counted], torch.ones_like(rows[counted]), logits.dtype)
    return numerical_tags(rows[counted], target.reshape(-1)[counted], logits.dtype)


def full_cases(seed: int) -> list[Case]:
    """Build the seeded case list: the specs in order, then the literal stability cases."""
    cases: list[Case] = []
    base = (seed % 1_000_000) * 1000
    for spec in SPECS:
        cases.append(spec_case(len(cases), spec, base + 4 * len(cases)))
    for rows, targets, dtype in STABILITY_LITERALS:
        cases.append(literal_case(len(cases), "stability", rows, targets, dtype))
    return cases


def performance_case(seed: int) -> Case:
    """Build one large float32 case for the advisory note: timed 5 more times, its peak memory read."""
    case = spec_case(1_000_000, PERFORMANCE_SPEC, (seed % 1_000_000) * 1000 + 999)
    return dataclasses.replace(case, measure_memory=True, repeat=5)
