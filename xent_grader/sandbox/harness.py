"""The code that runs inside the submission's process.

The grader starts this process from a clean forkserver that preloaded torch and this module, so
the submission's process never contains an expected value. ``run_submission`` locks the process down,
loads the submission from source, then serves call requests from the grader, one frame each way.
Every frame it sends is untrusted data to the grader, which validates it and judges only the
numbers in it.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass

import numpy
import torch

from xent_grader.sandbox import builtin_references, codec  # noqa: F401 - preloaded for timing
from xent_grader.sandbox.limits import Limits, apply_resource_limits, scrubbed_environment
from xent_grader.sandbox.trace import CallTrace

PR_SET_CHILD_SUBREAPER = 36
MAX_MESSAGE_CHARS = 2000
# Exit codes of this process when the harness itself cannot go on; the grader maps them to statuses.
EXIT_OUT_OF_MEMORY = 86
EXIT_HARNESS_FAILED = 87


@dataclass(frozen=True)
class Job:
    """The work order of a submission's process: the source, its path, the function name and the limits."""

    source: str
    filename: str
    function_name: str
    workdir: str
    limits: Limits
    run_as: tuple[int, int] | None = None  # (uid, gid) to switch to before loading, when started as root


class Channel:
    """Blocking frame I/O over the two raw pipe descriptors the grader passed in."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.decoder = codec.FrameDecoder(max_tensor_bytes=1 << 34)

    def send(self, header: dict, tensors: dict | None = None) -> None:
        data = memoryview(codec.encode(header, tensors))
        while data:
            written = os.write(self.write_fd, data)
            data = data[written:]

    def receive(self) -> codec.Frame | None:
        while True:
            frames = self.decoder.feed(b"")
            if frames:
                return frames[0]
            chunk = os.read(self.read_fd, 1 << 20)
            if not chunk:
                return None
            frames = self.decoder.feed(chunk)
            if frames:
                # The grader sends one request and waits for its result, so at most one is queued.
                return frames[0]


M_MMAP_THRESHOLD = -3


def _fix_malloc_threshold() -> None:
    """Serve blocks of 1 MiB and more with mmap, so freed tensors leave the resident set at once.

    glibc raises its mmap threshold (up to 32 MiB) after a large block is freed, and later blocks
    below it then stay in the heap after free, which makes the grader's peak-memory reading depend on
    allocation history.
    """
    try:
        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, 1 << 20)
    except (OSError, AttributeError):
        pass


def _set_child_subreaper() -> bool:
    """Make orphaned descendants reparent to this process, so the grader can find and end them."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _close_other_fds(keep_fds: tuple[int, ...]) -> None:
    start = 3
    for fd in sorted(fd for fd in keep_fds if fd > 2):
        os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, 1 << 16)


def _isolate(job: Job, keep_fds: tuple[int, ...], output_fd: int) -> list[str]:
    """Lock the process down before any submission code runs; return the rlimits that failed."""
    os.setsid()
    _set_child_subreaper()
    _fix_malloc_threshold()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    _close_other_fds(keep_fds)
    sys.stdin = open(0, closefd=False)
    sys.stdout = open(1, "w", buffering=1, closefd=False, errors="backslashreplace")
    sys.stderr = open(2, "w", buffering=1, closefd=False, errors="backslashreplace")
    os.environ.clear()
    os.environ.update(scrubbed_environment(job.workdir))
    os.chdir(job.workdir)
    sys.path[:] = [entry for entry in sys.path if entry not in ("", ".", job.workdir)]
    sys.argv = [job.filename]
    torch.set_num_threads(1)
    failed = apply_resource_limits(job.limits)
    if job.run_as is not None:
        uid, gid = job.run_as
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    return failed


class _GraderImportBlocker:
    """Meta path finder that keeps the submission from importing grader modules not yet loaded."""

    def find_spec(self, name, path=None, target=None):
        if name == "xent_grader" or name.startswith("xent_grader."):
            raise ImportError(f"submissions may not import the grader module {name!r}")
        return None


def _error_details(error: BaseException, filename: str) -> dict:
    """Describe an exception by type, message and the submission's line, capped for transport."""
    line = None
    if isinstance(error, SyntaxError) and error.filename == filename:
        line = error.lineno
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
    try:
        message = str(error)
    except Exception:  # noqa: BLE001 - a hostile __str__ must not break the report
        message = "<the exception's message could not be printed>"
    return {
        "type": type(error).__name__[:200],
        "message": message[:MAX_MESSAGE_CHARS],
        "line": line,
        "memory": isinstance(error, MemoryError) or "can't allocate memory" in message,
        "not_implemented": isinstance(error, NotImplementedError),
    }


def _load(job: Job, channel: Channel):
    """Execute the submission's source as a module; return its function, or None after reporting."""
    module = type(sys)("submission")
    # A copy in the throwaway working directory: files the submission writes "next to itself" land there.
    copy = os.path.join(job.workdir, os.path.basename(job.filename))
    with contextlib.suppress(OSError):
        with open(copy, "w", encoding="utf-8") as file:
            file.write(job.source)
    module.__file__ = copy
    sys.modules["submission"] = module
    try:
        code = compile(job.source, job.filename, "exec")
        exec(code, module.__dict__)
    except BaseException as error:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are load errors too
        channel.send({"event": "load-error", "error": _error_details(error, job.filename)})
        return None
    function = module.__dict__.get(job.function_name)
    if not callable(function):
        names = [name for name, value in module.__dict__.items() if callable(value) and not name.startswith("__")]
        channel.send({"event": "missing-function", "defined": [str(name)[:100] for name in names[:50]]})
        return None
    channel.send({"event": "loaded"})
    return function


def _describe_output(output) -> tuple[dict, dict]:
    """Classify what the function returned and extract its numbers without trusting its methods."""
    kind_of = type(output)
    info = {"type": getattr(kind_of, "__qualname__", "?")[:200], "module": str(getattr(kind_of, "__module__", ""))[:100]}
    tensors = {}
    if isinstance(output, torch.Tensor):
        with torch._C.DisableTorchFunctionSubclass():
            plain = torch.Tensor.detach(output).as_subclass(torch.Tensor)
            info.update(
                kind="tensor" if kind_of is torch.Tensor else "tensor-subclass",
                dtype=str(plain.dtype).removeprefix("torch."),
                shape=list(plain.shape),
                device=str(plain.device),
                requires_grad=bool(torch.Tensor.requires_grad.__get__(output)),
                has_grad_fn=torch.Tensor.grad_fn.__get__(output) is not None,
            )
            if codec.dtype_name(plain.dtype) and plain.numel() <= 1 << 24:
                tensors["output"] = plain.cpu()
    elif kind_of in (float, int, bool):
        info.update(kind="number", value=float(output))
    elif kind_of is numpy.ndarray and output.dtype.kind in "fiub" and output.size <= 1 << 24:
        info.update(kind="ndarray", dtype=str(output.dtype), shape=list(output.shape))
        tensors["output"] = torch.from_numpy(numpy.array(output, dtype=numpy.float64))
    elif output is None:
        info.update(kind="none")
    elif kind_of in (list, tuple):
        info.update(kind="sequence", length=len(output))
    else:
        info.update(kind="object")
    return info, tensors


def _backward(output, inputs: dict[str, torch.Tensor], names: list[str]) -> tuple[dict, dict]:
    """Run backward from the output and collect the gradients of the named inputs."""
    if type(output) is not torch.Tensor or not output.requires_grad:
        return {"ran": False, "reason": "the output does not require grad"}, {}
    try:
        torch.Tensor.backward(output if output.dim() == 0 else output.sum())
    except BaseException as error:  # noqa: BLE001
        return {"ran": False, "reason": "backward raised", "error": _error_details(error, "")}, {}
    grads = {f"grad:{name}": inputs[name].grad for name in names if inputs[name].grad is not None}
    return {"ran": True}, grads


def _resolve_builtin(dotted_name: str):
    """Return the function the grader named, for timing PyTorch's own implementation beside the submission's."""
    module_name, _, attribute = dotted_name.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def _call(function, request: codec.Frame, job: Job, channel: Channel) -> None:
    header = request.header
    if isinstance(header.get("function"), str):
        function = _resolve_builtin(header["function"])
    inputs = {name: tensor.clone() for name, tensor in request.tensors.items()}
    grad_names = [name for name in header.get("grad", []) if name in inputs]
    for name in grad_names:
        inputs[name].requires_grad_(True)
    args = [inputs[arg["tensor"]] if "tensor" in arg else arg["value"] for arg in header.get("args", [])]
    kwargs = {key: inputs[arg["tensor"]] if "tensor" in arg else arg["value"] for key, arg in header.get("kwargs", {}).items()}
    if header.get("measure_memory"):
        channel.send({"event": "armed", "id": header["id"]})
        channel.receive()
    threads_before = threading.active_count()
    reply = {"event": "result", "id": header["id"]}
    tensors = {}
    trace = CallTrace()
    try:
        with trace:
            output = function(*args, **kwargs)
    except BaseException as error:  # noqa: BLE001 - every exception is a graded outcome
        reply["error"] = _error_details(error, job.filename)
        output = None
    reply["trace"] = trace.summary()
    if "error" not in reply and header.get("repeat"):
        reply["timings"] = _time_repeats(function, args, kwargs, int(header["repeat"]))
    if "error" not in reply:
        reply["output"], tensors = _describe_output(output)
        reply["backward"], grads = _backward(output, inputs, grad_names)
        tensors.update(grads)
    reply["threads_started"] = max(0, threading.active_count() - threads_before)
    if header.get("repeat"):
        # A timing run: the grader needs only the timings and its own memory reading.
        tensors = {}
    for name, tensor in inputs.items():
        if not header.get("repeat"):
            tensors[f"after:{name}"] = tensor.detach()
    channel.send(reply, tensors)


def _time_repeats(function, args, kwargs, repeat: int) -> list[float]:
    """Time further calls without autograd, for the advisory performance comparison."""
    timings = []
    with torch.no_grad():
        for _ in range(min(repeat, 50)):
            started = time.perf_counter()
            try:
                function(*args, **kwargs)
            except BaseException:  # noqa: BLE001 - the first call's outcome is what is graded
                break
            timings.append(time.perf_counter() - started)
    return timings


def run_submission(job: Job, requests, results, output) -> None:
    """Entry point of the submission's process; ``requests``, ``results``, ``output`` are pipe ends."""
    read_fd, write_fd = requests.fileno(), results.fileno()
    failed_limits = _isolate(job, (read_fd, write_fd), output.fileno())
    sys.meta_path.insert(0, _GraderImportBlocker())
    channel = Channel(read_fd, write_fd)
    code = 0
    try:
        channel.send({"event": "ready", "failed_limits": failed_limits})
        _serve(job, channel)
    except MemoryError:
        # The submission holds on to memory, so even the harness's own work fails.
        code = EXIT_OUT_OF_MEMORY
    except BaseException as error:  # noqa: BLE001 - report and exit instead of a traceback in the output
        code = EXIT_HARNESS_FAILED
        with contextlib.suppress(BaseException):
            os.write(2, f"\nthe grader's harness failed: {type(error).__name__}\n".encode())
    with contextlib.suppress(BaseException):
        sys.stdout.flush()
        sys.stderr.flush()
    # Skip interpreter shutdown: atexit handlers and threads of the submission must not run on.
    os._exit(code)


def _serve(job: Job, channel: Channel) -> None:
    function = _load(job, channel)
    while function is not None:
        request = channel.receive()
        if request is None or request.header.get("op") != "call":
            break
        _call(function, request, job, channel)
