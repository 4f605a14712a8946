"""Graded cases and what the submission returned for each, validated on the grader's side."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import torch

from xent_grader.sandbox import codec


@dataclass(frozen=True)
class Case:
    """One call of the submission's function with inputs the grader made.

    ``code`` maps each tensor name to a Python expression that rebuilds the same tensor, so a failing
    case can be printed for the candidate to paste into a Python prompt.
    """

    id: int
    check: str
    label: str
    tensors: dict[str, torch.Tensor]
    args: tuple[str | float | int | None, ...]
    kwargs: dict[str, object] = field(default_factory=dict)
    grad: tuple[str, ...] = ()
    code: dict[str, str] = field(default_factory=dict)
    measure_memory: bool = False
    repeat: int = 0  # further calls, without autograd, to time for the advisory performance note
    builtin: str | None = None  # dotted name of a PyTorch function to call instead of the submission's
    tags: frozenset[str] = frozenset()

    def request(self) -> dict:
        def encode_argument(value):
            return {"tensor": value} if isinstance(value, str) and value in self.tensors else {"value": value}

        return {
            "op": "call",
            "id": self.id,
            "args": [encode_argument(value) for value in self.args],
            "kwargs": {key: encode_argument(value) for key, value in self.kwargs.items()},
            "grad": list(self.grad),
            "measure_memory": self.measure_memory,
            "repeat": self.repeat,
            "function": self.builtin,
        }


@dataclass(frozen=True)
class CallError:
    type: str
    message: str
    line: int | None
    memory: bool
    not_implemented: bool


@dataclass
class CaseResult:
    """The outcome of one call, rebuilt by the grader from raw data; nothing here is the submission's object."""

    case: Case
    ran: bool = False
    error: CallError | None = None
    kind: str = "missing"  # tensor | tensor-subclass | number | ndarray | none | sequence | object | missing
    type_name: str = ""
    value: torch.Tensor | None = None  # float64 copy of the output's numbers
    dtype: str | None = None
    shape: tuple[int, ...] | None = None
    device: str | None = None
    requires_grad: bool = False
    has_grad_fn: bool = False
    backward_ran: bool = False
    backward_error: str | None = None
    grads: dict[str, torch.Tensor] = field(default_factory=dict)
    inputs_after: dict[str, torch.Tensor] = field(default_factory=dict)
    functions: Counter = field(default_factory=Counter)
    call_count: int = 0
    threads_started: int = 0
    peak_memory_bytes: int | None = None
    timings: list[float] = field(default_factory=list)

    @property
    def returned(self) -> bool:
        return self.ran and self.error is None


def _text(value, limit: int = 2000) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _int_or_none(value) -> int | None:
    return value if type(value) is int else None


def parse_result(case: Case, frame: codec.Frame) -> CaseResult:
    """Build a CaseResult from an untrusted result frame, checking each field's type."""
    header = frame.header
    result = CaseResult(case=case, ran=True)
    error = header.get("error")
    if isinstance(error, dict):
        result.error = CallError(
            type=_text(error.get("type"), 200) or "Exception",
            message=_text(error.get("message")),
            line=_int_or_none(error.get("line")),
            memory=error.get("memory") is True,
            not_implemented=error.get("not_implemented") is True,
        )
    trace = header.get("trace") if isinstance(header.get("trace"), dict) else {}
    functions = trace.get("functions") if isinstance(trace.get("functions"), dict) else {}
    result.functions = Counter({_text(k, 200): v for k, v in functions.items() if type(v) is int})
    result.call_count = trace.get("call_count") if type(trace.get("call_count")) is int else 0
    result.threads_started = header.get("threads_started") if type(header.get("threads_started")) is int else 0
    timings = header.get("timings")
    if isinstance(timings, list):
        result.timings = [t for t in timings[:50] if type(t) is float and t >= 0.0]
    for name in case.tensors:
        after = frame.tensors.get(f"after:{name}")
        if after is not None:
            result.inputs_after[name] = after
    if result.error is None:
        _parse_output(result, header.get("output"), frame.tensors)
        _parse_backward(result, header.get("backward"), frame.tensors)
    return result


def _parse_output(result: CaseResult, output, tensors: dict[str, torch.Tensor]) -> None:
    if not isinstance(output, dict):
        return
    kind = output.get("kind")
    kinds = ("tensor", "tensor-subclass", "number", "ndarray", "none", "sequence", "object")
    result.kind = kind if kind in kinds else "object"
    result.type_name = _text(output.get("type"), 200)
    module = _text(output.get("module"), 100)
    if module and module not in ("builtins", "torch"):
        result.type_name = f"{module}.{result.type_name}"
    if result.kind == "number" and type(output.get("value")) is float:
        result.value = torch.tensor(output["value"], dtype=torch.float64)
        result.shape = ()
    elif "output" in tensors and result.kind in ("tensor", "tensor-subclass", "ndarray"):
        values = tensors["output"]
        result.value = None if values.is_complex() else values.to(torch.float64)
        result.shape = tuple(values.shape)
    if result.kind in ("tensor", "tensor-subclass", "ndarray"):
        result.dtype = _text(output.get("dtype"), 50) or None
        shape = output.get("shape")
        if isinstance(shape, list) and all(type(size) is int for size in shape):
            result.shape = tuple(shape)
    if result.kind in ("tensor", "tensor-subclass"):
        result.device = _text(output.get("device"), 50) or None
        result.requires_grad = output.get("requires_grad") is True
        result.has_grad_fn = output.get("has_grad_fn") is True


def _parse_backward(result: CaseResult, backward, tensors: dict[str, torch.Tensor]) -> None:
    if not isinstance(backward, dict):
        return
    result.backward_ran = backward.get("ran") is True
    error = backward.get("error")
    if isinstance(error, dict):
        result.backward_error = f"{_text(error.get('type'), 200)}: {_text(error.get('message'), 500)}"
    for name in result.case.grad:
        grad = tensors.get(f"grad:{name}")
        if grad is not None and grad.shape == result.case.tensors[name].shape:
            result.grads[name] = grad.to(torch.float64)


def result_from_failure(case: Case) -> CaseResult:
    """Return the result of a case that never ran because the process stopped first."""
    return CaseResult(case=case, ran=False)
