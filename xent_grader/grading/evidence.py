"""Mistakes any problem can show, diagnosed from what the submission returned over many cases.

Each detector looks at every case result and returns a Diagnosis: the mistake with the evidence in
words, the failing cases, and a per-case predicate that a counterexample search can reuse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from xent_grader.grading.cases import CaseResult
from xent_grader.grading.compare import GRADIENT_PASS, gradient_band, max_abs
from xent_grader.grading.results import Mistake
from xent_grader.problems.base import Expected, gradient_error, inputs_mutated, plural, scalar_value

CaseFails = Callable[[CaseResult, Expected], bool]


@dataclass
class Diagnosis:
    mistake: Mistake
    failing: list[CaseResult] = field(default_factory=list)
    case_fails: CaseFails | None = None
    search_values: tuple[float, ...] = ()  # special values a counterexample search should try


def describe_type(result: CaseResult) -> str:
    if result.kind == "tensor-subclass":
        return f"a {result.type_name} (a torch.Tensor subclass)"
    if result.kind == "number":
        return f"a Python {result.type_name}"
    if result.kind == "ndarray":
        return "a NumPy array"
    return "None" if result.kind == "none" else f"a {result.type_name or result.kind}"


def raises_error(results: list[CaseResult]) -> Diagnosis | None:
    failing = [r for r in results if r.error and not r.error.memory and not r.error.not_implemented]
    if not failing:
        return None
    first = failing[0].error
    where = f" at line {first.line}" if first.line else ""
    ran = sum(r.ran for r in results)
    kinds = sorted({r.error.type for r in failing})
    evidence = (
        f"Your function raised an exception on {len(failing)} of {ran} cases ({', '.join(kinds)}). "
        f"For example, on {failing[0].case.label}: {first.type}{where}: {first.message[:300]}"
    )
    hint = "Make the function handle every valid input: check the shapes and dtypes named in the question."
    if "in-place operation" in first.message:
        hint = (
            "The logits arrive with requires_grad=True, and changing a leaf in place (x -= ..., x.sub_(...)) "
            "is an error: compute new tensors instead of modifying the inputs."
        )
    if "CUDA" in first.message or "cuda" in first.message:
        hint = "Keep tensors on the device they arrive on: the grader runs on the CPU, so do not call .cuda()."
    mistake = Mistake("raises-error", "The function raised an exception", evidence, hint)
    return Diagnosis(mistake, failing, lambda result, expected: result.error is not None)


def not_a_tensor(results: list[CaseResult]) -> Diagnosis | None:
    failing = [r for r in results if r.returned and r.kind != "tensor"]
    if not failing:
        return None
    evidence = f"On {len(failing)} cases your function returned {describe_type(failing[0])}, not a torch.Tensor."
    hint = "Return the torch.Tensor your computation produced, as it is: no .item(), .tolist(), .numpy() or wrapper."
    mistake = Mistake("not-a-tensor", "The result is not a plain torch.Tensor", evidence, hint)
    return Diagnosis(mistake, failing, lambda result, expected: result.returned and result.kind != "tensor")


def not_scalar(results: list[CaseResult], expected_shape: tuple[int, ...] = ()) -> Diagnosis | None:
    failing = [r for r in results if r.returned and r.shape is not None and r.shape != expected_shape]
    if not failing:
        return None
    example = failing[0]
    logits_shape = tuple(next(iter(example.case.tensors.values())).shape)
    evidence = (
        f"On {len(failing)} cases the result had shape {example.shape} instead of {expected_shape}; "
        f"for example for inputs of shape {logits_shape}."
    )
    hint = "Reduce the per-example losses to a single 0-dim tensor, and do not reshape it to (1,)."
    mistake = Mistake("not-scalar", "The result is not a 0-dim tensor", evidence, hint)
    return Diagnosis(mistake, failing, lambda result, _: result.returned and result.shape not in (None, expected_shape))


def dtype_mismatch(results: list[CaseResult], input_name: str) -> Diagnosis | None:
    def wrong_dtype(result: CaseResult, _=None) -> bool:
        wanted = str(result.case.tensors[input_name].dtype).removeprefix("torch.")
        return result.returned and result.kind == "tensor" and result.dtype is not None and result.dtype != wanted

    failing = [r for r in results if wrong_dtype(r)]
    if not failing:
        return None
    example = failing[0]
    wanted = str(example.case.tensors[input_name].dtype).removeprefix("torch.")
    evidence = f"For {wanted} {input_name} your result was {example.dtype} (on {len(failing)} cases)."
    hint = f"Return the result in the dtype of the {input_name}; if you compute in another dtype, cast back at the end."
    mistake = Mistake("dtype-mismatch", "The result's dtype differs from the input's", evidence, hint)
    return Diagnosis(mistake, failing, wrong_dtype)


def detached_graph(results: list[CaseResult], input_name: str = "logits") -> Diagnosis | None:
    def detached(result: CaseResult, _=None) -> bool:
        if not result.returned or not result.case.grad:
            return False
        if result.kind in ("number", "ndarray"):
            return True
        if result.kind != "tensor":
            return False
        no_graph = not result.requires_grad or not result.has_grad_fn
        return no_graph or (result.backward_ran and not result.grads)

    failing = [r for r in results if detached(r)]
    if not failing:
        return None
    example = failing[0]
    if example.kind == "tensor" and example.requires_grad:
        what = f"backward() ran but no gradient reached the {input_name}, so the result was computed from a copy"
    else:
        what = f"the result was not connected to the autograd graph of the {input_name} (requires_grad was False)"
    evidence = f"On {len(failing)} cases where the {input_name} required grad, {what}."
    hint = (
        f"Keep every step in torch operations on the {input_name}: .item(), .numpy(), torch.tensor(value), "
        f".detach() and .data all cut the graph, so loss.backward() cannot reach the {input_name}."
    )
    mistake = Mistake("detached-graph", "The result is cut off from the autograd graph", evidence, hint)
    return Diagnosis(mistake, failing, detached)


DEFAULT_GRADIENT_HINT = (
    "Some step hides part of the computation from autograd (a .detach(), .data, or a custom backward). "
    "The gradient of the mean loss w.r.t. the {name} is (softmax - one_hot) / batch_size."
)


def wrong_gradient(
    results: list[CaseResult],
    expected: dict[int, Expected],
    name: str,
    value_ok: Callable[[CaseResult], bool],
    hint: str = DEFAULT_GRADIENT_HINT,
) -> Diagnosis | None:
    """Flag gradients that are wrong although the forward value is right."""
    failing, errors = [], []
    for result in results:
        error = gradient_error(result, expected[result.case.id], name) if result.case.grad else None
        limit = gradient_limit(result, name)
        if error is not None and error > limit and value_ok(result):
            failing.append(result)
            errors.append(error)
    if not failing:
        return None
    worst = max(errors)
    evidence = (
        f"Your loss values are right, but on {plural(len(failing), 'case')} the gradient w.r.t. the {name} is off: "
        f"the largest relative error is {worst:.2e}, which is {gradient_band(worst)}."
    )
    mistake = Mistake("wrong-gradient", "The gradient is wrong", evidence, hint.format(name=name))

    def gradient_fails(result: CaseResult, expected_case: Expected) -> bool:
        error = gradient_error(result, expected_case, name)
        return error is not None and error > gradient_limit(result, name)

    return Diagnosis(mistake, failing, gradient_fails)


def gradient_limit(result: CaseResult, name: str) -> float:
    tensor = result.case.tensors[name]
    base = GRADIENT_PASS.get(tensor.dtype, 1e-4)
    # A float32 softmax near logits of 1000 carries an error of about eps * |logit|.
    eps = torch.finfo(tensor.dtype).eps if tensor.is_floating_point() else 0.0
    return max(base, 64 * eps * max_abs(tensor.double()))


def mutates_inputs(results: list[CaseResult]) -> Diagnosis | None:
    failing = [r for r in results if r.ran and inputs_mutated(r)]
    if not failing:
        return None
    names = sorted({name for r in failing for name in inputs_mutated(r)})
    evidence = f"After {len(failing)} calls, the caller's {' and '.join(names)} had changed."
    hint = (
        "Do not modify the inputs in place (sub_, div_, x -= ..., x[...] = ..., .data): "
        "use out-of-place operations that create new tensors."
    )
    mistake = Mistake("mutates-inputs", "The function changes its inputs in place", evidence, hint)
    return Diagnosis(mistake, failing, lambda result, _: result.ran and bool(inputs_mutated(result)))


def uses_builtin_loss(results: list[CaseResult], banned: frozenset[str], source_findings) -> Diagnosis | None:
    traced = sorted({name for r in results for name in r.functions if name in banned})
    if not traced and not source_findings:
        return None
    parts = []
    if traced:
        parts.append("at run time your function called " + ", ".join(traced))
    if source_findings:
        parts.append("the source " + "; ".join(source_findings[:5]))
    evidence = "Found a built-in loss, or code that can hide one: " + ", and ".join(parts) + "."
    hint = (
        "Compute the loss yourself from the logits: the exercise is to implement it, so the built-in losses "
        "are not allowed (and neither is importing the grader)."
    )
    mistake = Mistake("uses-builtin-loss", "The function uses a built-in loss", evidence, hint)
    failing = [r for r in results if any(name in banned for name in r.functions)]
    return Diagnosis(mistake, failing, None)


def leaves_processes(results: list[CaseResult], leftover_processes: int) -> Diagnosis | None:
    threads = max((r.threads_started for r in results), default=0)
    if leftover_processes <= 0 and threads <= 0:
        return None
    parts = []
    if leftover_processes:
        parts.append(f"{plural(leftover_processes, 'process')} it started")
    if threads:
        parts.append(f"{plural(threads, 'thread')}")
    verb = "was" if leftover_processes + threads == 1 else "were"
    evidence = f"After your function returned, {' and '.join(parts)} {verb} still running, and the grader ended them."
    hint = "A loss function should compute and return: do not start processes or threads that outlive the call."
    mistake = Mistake("leaves-processes", "The function leaves processes or threads running", evidence, hint)
    return Diagnosis(mistake, [], None)


def not_vectorized(results: list[CaseResult], input_name: str) -> Diagnosis | None:
    """Flag, as an advisory, a number of torch calls that grows with the input: a Python loop.

    Vectorized code makes the same few calls whatever the shape, so the fewest and the largest call
    counts over all cases differ by a handful. A loop over rows or classes multiplies them.
    """
    measured = [r for r in results if r.returned and r.call_count]
    if len(measured) < 2:
        return None
    fewest = min(measured, key=lambda r: r.call_count)
    most = max(measured, key=lambda r: r.call_count)
    if most.call_count <= 2 * fewest.call_count + 16:
        return None
    small_shape = tuple(fewest.case.tensors[input_name].shape)
    large_shape = tuple(most.case.tensors[input_name].shape)
    evidence_text = (
        f"Your function made {fewest.call_count} torch calls for {input_name} of shape {small_shape} and "
        f"{most.call_count} for shape {large_shape}: the work grows in Python, not in tensor operations."
    )
    hint = "Replace the Python loop over rows or classes with whole-tensor operations (reductions along a dim, gather)."
    mistake = Mistake("not-vectorized", "A Python loop over rows or classes", evidence_text, hint, scored=False)
    return Diagnosis(mistake, [], None)


def output_contract_diagnoses(
    results: list[CaseResult], input_name: str, banned: frozenset[str], source_findings, leftover_processes: int
) -> list[Diagnosis | None]:
    """Run the detectors every scalar-loss problem shares: errors, output type, shape, dtype, graph, inputs,
    built-in losses and leftover processes."""
    return [
        raises_error(results),
        not_a_tensor(results),
        not_scalar(results),
        dtype_mismatch(results, input_name),
        detached_graph(results, input_name),
        mutates_inputs(results),
        uses_builtin_loss(results, banned, list(source_findings)),
        leaves_processes(results, leftover_processes),
    ]
