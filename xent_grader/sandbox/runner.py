"""The grader's side of a submission's process: start it, exchange frames, end it and its descendants."""

from __future__ import annotations

import collections
import contextlib
import os
import selectors
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

import psutil

from xent_grader.sandbox import codec
from xent_grader.sandbox.harness import EXIT_HARNESS_FAILED, EXIT_OUT_OF_MEMORY, Job, run_submission
from xent_grader.sandbox.forkserver import context as _context
from xent_grader.sandbox.forkserver import main_module_not_rerun as _main_module_not_rerun
from xent_grader.sandbox.forkserver import start_forkserver  # noqa: F401 - part of this module's API

MAX_RESULT_TENSOR_BYTES = 256 << 20  # per result frame; the largest legitimate one is a few MiB
DISPLAYED_OUTPUT_BYTES = 16 * 1024

_active_pids: set[int] = set()
_active_lock = threading.Lock()
_running: set[SubmissionProcess] = set()


@dataclass
class RunFailure:
    """The reason a submission's process stopped before it returned all results: a status and a sentence."""

    status: str  # timeout | crashed | memory-limit | output-limit
    reason: str


@dataclass
class RunEnd:
    failure: RunFailure | None
    exit_code: int | None
    output: str
    output_bytes: int
    leftover_processes: int
    failed_limits: list[str] = field(default_factory=list)


class SubmissionProcess:
    """One submission's process, driven by request and result frames until ``finish``."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.deadline = float("inf")
        self.failure: RunFailure | None = None
        self.frames: collections.deque[codec.Frame] = collections.deque()
        self.decoder = codec.FrameDecoder(MAX_RESULT_TENSOR_BYTES)
        self.output = bytearray()
        self.output_bytes = 0
        self.failed_limits: list[str] = []
        self.selector = selectors.DefaultSelector()
        self.process = None
        self.killed_by_grader = False
        self.abandoned = False

    def start(self) -> None:
        request_reader, self.request_writer = _context.Pipe(duplex=False)
        self.result_reader, result_writer = _context.Pipe(duplex=False)
        self.output_reader, output_writer = _context.Pipe(duplex=False)
        self.process = _context.Process(
            target=run_submission,
            args=(self.job, request_reader, result_writer, output_writer),
            daemon=True,
            name="xent-grade-submission",
        )
        with _active_lock, _main_module_not_rerun():
            self.process.start()
            _active_pids.add(self.process.pid)
            _running.add(self)
        for end in (request_reader, result_writer, output_writer):
            end.close()
        self.deadline = time.monotonic() + self.job.limits.timeout
        for reader in (self.result_reader, self.output_reader):
            os.set_blocking(reader.fileno(), False)
            self.selector.register(reader.fileno(), selectors.EVENT_READ, reader)
        # The sentinel becomes readable when the process exits, even if descendants still hold its pipes.
        self.selector.register(self.process.sentinel, selectors.EVENT_READ, None)

    @property
    def pid(self) -> int:
        return self.process.pid

    def next_frame(self, soft_deadline: float | None = None) -> codec.Frame | None:
        """Wait for the next frame; return None once the run has failed (see ``failure``).

        Past ``soft_deadline`` (used for advisory measurements) the wait gives up without failing
        the run; the process is then abandoned mid-call and only ``finish`` is valid.
        """
        while not self.frames and self.failure is None and not self.abandoned:
            now = time.monotonic()
            if soft_deadline is not None and now >= soft_deadline:
                self.abandoned = True
                break
            if now >= self.deadline:
                self._fail("timeout", f"did not finish within {self.job.limits.timeout:g} s")
                break
            remaining = min(self.deadline, soft_deadline or self.deadline) - now
            for key, _ in self.selector.select(remaining):
                self._read(key.data)
        return self.frames.popleft() if self.frames else None

    def send(self, header: dict, tensors: dict | None = None) -> bool:
        if self.failure is not None or self.abandoned:
            return False
        try:
            _write_all(self.request_writer.fileno(), codec.encode(header, tensors), self.deadline)
            return True
        except (BrokenPipeError, TimeoutError, OSError):
            self._read_until_exit()
            if self.failure is None:
                self._fail_from_exit()
            return False

    def _read(self, reader) -> None:
        if reader is None:
            self._on_exit()
            return
        try:
            data = os.read(reader.fileno(), 1 << 20)
        except BlockingIOError:
            return
        if reader is self.output_reader:
            self._capture_output(data)
            return
        if not data:
            self._read_until_exit()
            if not self.frames and self.failure is None:
                self._fail_from_exit()
            return
        try:
            self.frames.extend(self.decoder.feed(data))
        except codec.ProtocolError as error:
            self._fail("crashed", f"sent a malformed result frame ({error})")

    def _on_exit(self) -> None:
        """Handle the process's exit: keep the frames already sent, then fail if none is pending."""
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(self.process.sentinel)
        while True:
            try:
                data = os.read(self.result_reader.fileno(), 1 << 20)
            except BlockingIOError:
                break
            if not data:
                break
            try:
                self.frames.extend(self.decoder.feed(data))
            except codec.ProtocolError as error:
                self._fail("crashed", f"sent a malformed result frame ({error})")
                return
        self._read_until_exit()
        if not self.frames and self.failure is None:
            self._fail_from_exit()

    def _capture_output(self, data: bytes) -> None:
        if not data:
            self.selector.unregister(self.output_reader.fileno())
            return
        self.output_bytes += len(data)
        room = DISPLAYED_OUTPUT_BYTES - len(self.output)
        if room > 0:
            self.output += data[:room]
        if self.output_bytes > self.job.limits.output_bytes:
            limit_kib = self.job.limits.output_bytes // 1024
            self._fail("output-limit", f"printed more than {limit_kib} KiB to stdout and stderr")

    def _read_until_exit(self) -> None:
        """Collect the exit code once the result channel closed; the process is ending."""
        self.process.join(timeout=2.0)

    def _fail_from_exit(self) -> None:
        code = self.process.exitcode
        if code is None:
            self._fail("crashed", "closed its result channel without exiting")
        elif code == EXIT_OUT_OF_MEMORY:
            self._fail("memory-limit", f"ran out of memory (limit {self.job.limits.memory_mb} MiB)")
        elif code == EXIT_HARNESS_FAILED:
            self._fail("crashed", "broke the grader's harness in its process (see what it printed)")
        elif code < 0 and -code == signal.SIGKILL and not self.killed_by_grader:
            self._fail("memory-limit", "was killed by SIGKILL, most likely by the kernel's out-of-memory killer")
        elif code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            self._fail("crashed", f"was killed by signal {name}")
        else:
            self._fail("crashed", f"exited with code {code} before returning all results")

    def stop(self, status: str, reason: str) -> None:
        self._fail(status, reason)
        self._end_tree()

    def _fail(self, status: str, reason: str) -> None:
        if self.failure is None:
            self.failure = RunFailure(status, reason)
        if status in ("timeout", "output-limit", "crashed"):
            self._end_tree()

    def reset_peak_memory(self) -> int | None:
        """Reset the process's peak resident set size (VmHWM) and return its current one, in bytes.

        The grader reads /proc itself, so the submission cannot report its own memory use. Linux
        resets VmHWM to VmRSS when "5" is written to /proc/PID/clear_refs.
        """
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as clear_refs:
                clear_refs.write("5")
        except OSError:
            return None
        return _status_bytes(self.pid, "VmRSS")

    def peak_memory_bytes(self) -> int | None:
        return _status_bytes(self.pid, "VmHWM")

    def count_leftover_processes(self) -> int:
        """Count live processes the submission started (orphans reparent to it, a subreaper)."""
        return len(_live_descendants(self.pid))

    def finish(self) -> RunEnd:
        """Ask the process to exit, end every descendant, and return what happened; safe to call twice."""
        if getattr(self, "_end", None) is not None:
            return self._end
        leftovers = 0
        if self.failure is None and not self.abandoned:
            leftovers = self.count_leftover_processes()
            self.send({"op": "exit"})
            self.process.join(timeout=1.0)
        self._end_tree()
        for reader in (self.result_reader, self.output_reader):
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(reader.fileno())
            reader.close()
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(self.process.sentinel)
        self.request_writer.close()
        self.selector.close()
        self._end = RunEnd(
            failure=self.failure,
            exit_code=self.process.exitcode,
            output=self.output.decode("utf-8", errors="replace"),
            output_bytes=self.output_bytes,
            leftover_processes=leftovers,
            failed_limits=self.failed_limits,
        )
        return self._end

    def _end_tree(self) -> None:
        """SIGTERM the process and everything it started, then SIGKILL whatever is left after a grace."""
        if self.process is None or getattr(self, "_tree_ended", False):
            return
        self._tree_ended = True
        self.killed_by_grader = True
        alive = _tree_pids(self.pid)
        if alive:
            _signal_all(alive, signal.SIGTERM)
            time.sleep(self.job.limits.grace_seconds)
        for _ in range(20):
            pids = _tree_pids(self.pid)
            if not pids:
                break
            _signal_all(pids, signal.SIGKILL)
            time.sleep(0.01)
        self.process.join(timeout=2.0)
        with _active_lock:
            _active_pids.discard(self.pid)
            _running.discard(self)
            _end_forkserver_orphans()


def _status_bytes(pid: int, field_name: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def end_all_submissions() -> None:
    """End every running submission's process tree, for example after Ctrl-C."""
    with _active_lock:
        running = list(_running)
    for process in running:
        process.stop("interrupted", "was stopped because grading was interrupted")


def _write_all(fd: int, data: bytes, deadline: float) -> None:
    view = memoryview(data)
    os.set_blocking(fd, False)
    while view:
        try:
            written = os.write(fd, view)
            view = view[written:]
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise TimeoutError from None
            selectors_wait = selectors.DefaultSelector()
            selectors_wait.register(fd, selectors.EVENT_WRITE)
            selectors_wait.select(0.05)
            selectors_wait.close()


def _live_descendants(pid: int) -> list[psutil.Process]:
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []
    live = []
    for child in children:
        with contextlib.suppress(psutil.Error):
            if child.status() != psutil.STATUS_ZOMBIE:
                live.append(child)
    return live


def _session_members(session_id: int) -> list[int]:
    """Return the pids whose session id is ``session_id`` (they escaped the tree but not the session)."""
    members = []
    if not sys.platform.startswith("linux"):
        return members
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session_id:
            members.append(int(entry))
    return members


def _tree_pids(pid: int) -> set[int]:
    pids = {child.pid for child in _live_descendants(pid)}
    pids.update(_session_members(pid))
    if psutil.pid_exists(pid):
        with contextlib.suppress(psutil.Error):
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                pids.add(pid)
    pids.discard(os.getpid())
    return pids


def _signal_all(pids: set[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def _forkserver_pid() -> int | None:
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            if "multiprocessing.forkserver" in " ".join(child.cmdline()):
                return child.pid
    return None


def _end_forkserver_orphans() -> None:
    """Kill every descendant of the forkserver outside a running submission's tree: escaped processes.

    Orphans reparent to the forkserver (a subreaper) one generation at a time, so the sweep repeats
    until a pass finds nothing.
    """
    server = _forkserver_pid()
    if server is None:
        return
    for _ in range(20):
        protected = set(_active_pids)
        for pid in _active_pids:
            protected.update(child.pid for child in _live_descendants(pid))
        try:
            strays = [p.pid for p in psutil.Process(server).children(recursive=True) if p.pid not in protected]
        except psutil.Error:
            return
        live = [pid for pid in strays if _is_alive(pid)]
        if not live:
            return
        _signal_all(set(live), signal.SIGKILL)
        time.sleep(0.01)


def _is_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
