"""The graded cases of the label-smoothing problem, and the wrong formulas the diagnosis tests on them.

The cases are cross-entropy cases plus a label_smoothing value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import torch

from xent_grader.grading.cases import Case, CaseResult
from xent_grader.grading.compare import values_close
from xent_grader.grading.evidence import Diagnosis
from xent_grader.grading.results import Mistake
from xent_grader.problems.base import Expected, scalar_value
from xent_grader.problems.cross_entropy import HYPOTHESIS_TOLERANCE
from xent_grader.problems.cross_entropy_cases import (
    BATCH_SIZES,
    literal_case,
    logits_cases,
    random_case,
)

# (batch size, class count, scale, label_smoothing). None leaves the argument out, so the default of
# 0.0 applies. One class makes every loss 0 whatever eps is; eps = 1 leaves only the uniform term.
PARITY_SHAPES = (
    (1, 1, 1.0, 0.3),
    (1, 2, 1.0, 0.1),
    (1, 10, 3.0, 0.0),
    (4, 10, 1.0, 0.1),
    (10, 10, 2.0, 0.3),
    (16, 2, 1.0, 1.0),
    (3, 7, 4.0, 0.1),
    (7, 3, 1.0, 0.0),
    (32, 100, 1.0, 0.1),
    (2, 32000, 1.0, 0.1),
    (5, 4, 1.0, None),
)

# Values of eps > 0 on small random batches. Every one of these cases separates the right formula
# from spreading eps over the other num_classes - 1 classes (a unit test checks it on the seeds used).
SMOOTHING_VALUES = (0.05, 0.1, 0.3, 0.5, 1.0)

# (logits rows, targets, dtype, label_smoothing): logits near +1000 and -1000, and rows where a class
# other than the target underflows. That class's log-probability enters the loss only through eps.
# Then a target that underflows, and rows of very different scale in one batch.
STABILITY_CASES = (
    ([[1000.0, 1001.0, 1002.0]], [0], torch.float32, 0.1),
    ([[1000.0, 1001.0, 1002.0]], [2], torch.float64, 0.3),
    ([[-1000.0, -1001.0, -1002.0]], [1], torch.float32, 0.1),
    ([[-1000.0, -1001.0, -1002.0]], [0], torch.float64, 1.0),
    ([[0.0, -200.0]], [0], torch.float32, 0.1),
    ([[0.0, -200.0]], [1], torch.float32, 0.0),
    ([[0.0, 50.0, -50.0]], [1], torch.float32, 0.3),
    ([[0.0, -800.0]], [0], torch.float64, 0.1),
    ([[0.0, 200.0]], [0], torch.float32, 0.1),
    (
        [[0.5, -0.25, 1.0], [1000.0, 999.0, -1000.0], [-700.0, -702.0, -701.0]],
        [0, 1, 2],
        torch.float32,
        0.1,
    ),
)

# Values of eps a counterexample may use; Hypothesis shrinks toward the front of the list.
COUNTEREXAMPLE_SMOOTHING = (0.0, 0.5, 1.0, 0.1, 0.3)


def smoothing_of(case: Case) -> float:
    """Return the eps a case passes, by keyword or as the third positional argument."""
    if "label_smoothing" in case.kwargs:
        return float(case.kwargs["label_smoothing"])
    if len(case.args) > 2:
        return float(case.args[2])
    return 0.0


def logit_tags(logits: torch.Tensor, targets: torch.Tensor) -> frozenset[str]:
    """Name the numerical traps in these logits for their dtype, or return {"moderate"}.

    ``overflow``: exp of the largest logit is inf without a max shift. ``underflow-all``: a whole
    row's exp is 0 without a max shift. ``class-underflow``: the softmax probability of some class
    underflows, so log(softmax) is -inf there; with eps > 0 every class enters the loss.
    ``target-underflow``: that class is a target, so even eps = 0 reads the -inf.
    """
    info = torch.finfo(logits.dtype)
    log_max, log_tiny = math.log(info.max), math.log(info.tiny)
    wide = logits.double()
    if not wide.numel():
        return frozenset({"moderate"})
    tags = set()
    if wide.max().item() > log_max:
        tags.add("overflow")
    if (wide.max(dim=1).values < log_tiny).any():
        tags.add("underflow-all")
    log_probs = torch.log_softmax(wide, dim=1)
    if (log_probs < log_tiny).any():
        tags.add("class-underflow")
    if (log_probs[torch.arange(targets.numel()), targets] < log_tiny).any():
        tags.add("target-underflow")
    return frozenset(tags or {"moderate"})


def with_smoothing(case: Case, eps: float | None, positional: bool = False) -> Case:
    """Return ``case`` calling the function with label_smoothing=eps (left out when eps is None).

    Graded cases pass eps by keyword, as F.cross_entropy takes it. The pasteable counterexample code
    lists only positional arguments, so counterexample cases pass eps positionally to show it.
    """
    tags = logit_tags(case.tensors["logits"], case.tensors["targets"])
    if eps is None:
        return replace(case, label=f"{case.label}, label_smoothing left out", tags=tags)
    label = f"{case.label}, label_smoothing={eps:g}"
    if positional:
        return replace(case, args=(*case.args, eps), label=label, tags=tags)
    return replace(case, kwargs={"label_smoothing": eps}, label=label, tags=tags)


def label_smoothing_cases(seed: int, extra_cases: list[dict]) -> list[Case]:
    """Build the seeded case list: parity, smoothing, stability, batch-mean, then instructor cases."""
    cases: list[Case] = []
    base = (seed % 1_000_000) * 1000

    def add_random(check: str, shape: tuple[int, int, float], dtype: torch.dtype, eps) -> None:
        case = random_case(len(cases), check, shape, dtype, base + 2 * len(cases))
        cases.append(with_smoothing(case, eps))

    for dtype in (torch.float32, torch.float64):
        for batch_size, num_classes, scale, eps in PARITY_SHAPES:
            add_random("parity", (batch_size, num_classes, scale), dtype, eps)
    for index, eps in enumerate(SMOOTHING_VALUES):
        dtype = torch.float64 if index % 2 else torch.float32
        add_random("smoothing", (6, 5, 2.0), dtype, eps)
    # The worked example of the problem statement: PyTorch gives 0.6395 here.
    worked = literal_case(len(cases), "smoothing", [[2.0, 0.0, 0.0]], [0], torch.float32)
    cases.append(with_smoothing(worked, 0.3))
    for rows, targets, dtype, eps in STABILITY_CASES:
        cases.append(with_smoothing(literal_case(len(cases), "stability", rows, targets, dtype), eps))
    add_random("stability", (4, 10, 1000.0), torch.float32, 0.1)
    for dtype in (torch.float64, torch.float32):
        for batch_size in BATCH_SIZES:
            add_random("batch-mean", (batch_size, 5, 2.0), dtype, 0.1)
    for extra in extra_cases:
        cases.append(_instructor_case(len(cases), extra))
    return cases


def _instructor_case(case_id: int, spec: dict) -> Case:
    dtype = {"float32": torch.float32, "float64": torch.float64}[spec.get("dtype", "float32")]
    check = spec.get("check", "parity")
    case = literal_case(case_id, check, spec["logits"], spec["targets"], dtype, set(spec.get("tags", [])))
    smoothed = with_smoothing(case, spec.get("label_smoothing", 0.0))
    return replace(smoothed, tags=smoothed.tags | frozenset(spec.get("tags", [])))


def performance_case(case_id: int, seed: int) -> Case:
    """Build the large float32 case of the advisory performance note, timed with its memory measured."""
    case = random_case(case_id, "performance", (64, 32000, 1.0), torch.float32, seed)
    return replace(with_smoothing(case, 0.1), measure_memory=True, repeat=3)


def smoothed_logits_cases(dtype: torch.dtype, special_values: tuple[float, ...]):
    """Hypothesis strategy of small cases as cross-entropy builds them, each with an eps."""
    from hypothesis import strategies as st  # imported here: grading a correct file never needs it

    pairs = st.tuples(logits_cases(dtype, special_values), st.sampled_from(COUNTEREXAMPLE_SMOOTHING))
    return pairs.map(lambda pair: with_smoothing(pair[0], pair[1], positional=True))


# Wrong formulas

Formula = Callable[[Case, torch.Tensor], "torch.Tensor | None"]


def _log_probs(case: Case, dim: int = 1) -> torch.Tensor:
    return torch.log_softmax(case.tensors["logits"].double(), dim=dim)


def _target_log_probs(case: Case, log_probs: torch.Tensor) -> torch.Tensor:
    targets = case.tensors["targets"]
    return log_probs[torch.arange(targets.numel()), targets]


def smoothed_loss(case: Case, log_probs: torch.Tensor, target_log_probs: torch.Tensor) -> torch.Tensor:
    """Mix the mean of -target_log_probs and the mean of -log_probs with weights 1 - eps and eps."""
    eps = smoothing_of(case)
    return -((1 - eps) * target_log_probs.mean() + eps * log_probs.mean(dim=1).mean())


def over_other_classes(case: Case, truth: torch.Tensor) -> torch.Tensor | None:
    """Return the loss whose target gets 1 - eps and each other class eps / (num_classes - 1).

    It equals the truth when eps is 0, and when each row's target logit equals the mean of its
    other logits, as in a row of equal logits. With one class it is undefined, so it returns None.
    """
    log_probs = _log_probs(case)
    num_classes = log_probs.shape[1]
    if num_classes < 2:
        return None
    target = _target_log_probs(case, log_probs)
    others = (log_probs.sum(dim=1) - target) / (num_classes - 1)
    eps = smoothing_of(case)
    return -((1 - eps) * target + eps * others).mean()


def _ignores_smoothing(case: Case, truth: torch.Tensor) -> torch.Tensor:
    return -_target_log_probs(case, _log_probs(case)).mean()


def _wrong_softmax_dim(case: Case, truth: torch.Tensor) -> torch.Tensor:
    log_probs = _log_probs(case, dim=0)
    return smoothed_loss(case, log_probs, _target_log_probs(case, log_probs))


def _block_indexing(case: Case, truth: torch.Tensor) -> torch.Tensor:
    log_probs = _log_probs(case)
    return smoothed_loss(case, log_probs, log_probs[:, case.tensors["targets"]])


def _ignores_targets(case: Case, truth: torch.Tensor) -> torch.Tensor:
    log_probs = _log_probs(case)
    return smoothed_loss(case, log_probs, log_probs)


# Each wrong formula a submission may have implemented, computed stably in float64, with the
# mistake id it shows and what the submission's loss matched, in words.
VALUE_HYPOTHESES: dict[str, tuple[str, Formula, str]] = {
    "over-other-classes": (
        "smoothing-over-other-classes",
        over_other_classes,
        "the loss whose target keeps 1 - eps and whose other classes get eps / (num_classes - 1) each",
    ),
    "ignored": ("smoothing-ignored", _ignores_smoothing, "the plain cross-entropy, as if label_smoothing were 0"),
    "negation": ("missing-negation", lambda case, truth: -truth, "exactly -1 x the expected value"),
    "sum": (
        "sum-instead-of-mean",
        lambda case, truth: truth * case.tensors["targets"].numel(),
        "batch_size x the expected value",
    ),
    "classes": (
        "mean-over-classes",
        lambda case, truth: truth / case.tensors["logits"].shape[1],
        "the expected value divided by num_classes",
    ),
    "softmax-dim": ("wrong-softmax-dim", _wrong_softmax_dim, "the loss with the softmax taken over dim=0 (the batch)"),
    "block": ("wrong-target-indexing", _block_indexing, "the loss with log_probs[:, targets], an N x N block"),
    "all-classes": ("wrong-target-indexing", _ignores_targets, "the loss with every class treated as a target"),
}


def formula_fit(formula: Formula, results: list[CaseResult], expected) -> list[CaseResult] | None:
    """Return the cases where ``formula`` differs from the truth if every output follows it, else None.

    Cases where the formula is undefined (it returns None) are skipped.
    """
    differing = []
    for result in results:
        truth = expected[result.case.id].value
        predicted = formula(result.case, truth)
        if predicted is None:
            continue
        if not values_close(scalar_value(result), predicted, HYPOTHESIS_TOLERANCE):
            return None
        if not values_close(predicted, truth, HYPOTHESIS_TOLERANCE):
            differing.append(result)
    return differing


def formula_follows(formula: Formula, result: CaseResult, expected) -> bool:
    truth = expected[result.case.id].value
    predicted = formula(result.case, truth)
    return values_close(scalar_value(result), truth if predicted is None else predicted, HYPOTHESIS_TOLERANCE)


def fit_hypotheses(
    hypotheses: dict[str, tuple[str, Formula, str]],
    results: list[CaseResult],
    expected: dict[int, Expected],
    reference: str,
    case_fails,
    titles: dict[str, str],
    hints: dict[str, str],
) -> list[tuple[str, Diagnosis]]:
    """Test each wrong formula on the moderate cases; return (formula key, Diagnosis) for each that fits.

    A formula fits when every moderate single-number output follows it and at least 2 of those cases
    tell it apart from the truth. ``reference`` names PyTorch's function in the evidence sentence.
    """
    comparable = [r for r in results if "moderate" in r.case.tags and scalar_value(r) is not None]
    found: list[tuple[str, Diagnosis]] = []
    for key, (mistake_id, formula, observation) in hypotheses.items():
        differing = formula_fit(formula, comparable, expected)
        if differing is None or len(differing) < 2 or any(d.mistake.id == mistake_id for _, d in found):
            continue
        example = differing[0]
        truth = expected[example.case.id].value
        evidence_text = (
            f"On all {len(comparable)} cases with moderate logits your loss equals {observation} "
            f"({len(differing)} of them tell this apart from the right answer). For example, for "
            f"{example.case.label}, {reference} gives {truth.item():.6g}, that formula gives "
            f"{formula(example.case, truth).item():.6g} and your loss was {scalar_value(example).item():.6g}."
        )
        mistake = Mistake(mistake_id, titles[mistake_id], evidence_text, hints[mistake_id])
        failing = [r for r in comparable if case_fails(r, expected[r.case.id])]
        found.append((key, Diagnosis(mistake, failing, case_fails)))
    return found
