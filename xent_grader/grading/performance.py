"""The advisory performance note: the submission's time and peak memory beside PyTorch's own function.

Both run the same large case in a second process of the submission, started beside the graded one,
so the measurement overlaps with grading and can never change the graded run's outcome. The two
calls share that process's allocator and threads.
The grader reads peak memory from /proc itself. The times are the median of the repeats, measured
inside that process, so a hostile submission could misreport its own time. That is one reason the
note is never scored.
"""

from __future__ import annotations

import dataclasses
import statistics
import time

from xent_grader.grading.cases import Case, CaseResult
from xent_grader.grading.counterexample import run_case
from xent_grader.grading.results import Mistake
from xent_grader.problems.base import Problem
from xent_grader.sandbox.harness import Job
from xent_grader.sandbox.runner import SubmissionProcess

FAR_SLOWER = 10.0  # times slower than PyTorch that marks a Python loop


@dataclasses.dataclass(frozen=True)
class Comparison:
    text: str
    slowdown: float | None
    call_count: int = 0  # torch calls the submission made on the large case


class PerformanceRun:
    """A second submission process that times the problem's large case while the graded one runs."""

    def __init__(self, problem: Problem, job: Job, seed: int) -> None:
        self.problem = problem
        self.case = problem.performance_case(seed) if problem.performance_builtin else None
        self.process = SubmissionProcess(job) if self.case is not None else None
        if self.process is not None:
            self.process.start()

    def collect(self, seconds: float) -> Comparison | None:
        """Wait at most ``seconds`` for the comparison; always end the process."""
        if self.process is None:
            return None
        try:
            stop_at = time.monotonic() + seconds
            if not _loaded(self.process, stop_at):
                return None
            return compare_with_pytorch(self.problem, self.case, self.process, stop_at, seconds)
        finally:
            self.process.finish()

    def cancel(self) -> None:
        if self.process is not None:
            self.process.finish()


def _loaded(process: SubmissionProcess, stop_at: float) -> bool:
    for expected_event in ("ready", "loaded"):
        frame = process.next_frame(stop_at)
        if frame is None or frame.header.get("event") != expected_event:
            return False
    return True


def compare_with_pytorch(
    problem: Problem, case: Case, process: SubmissionProcess, stop_at: float, seconds: float
) -> Comparison | None:
    """Time the submission and PyTorch's function on the problem's large case in ``process``."""
    builtin = run_case(process, dataclasses.replace(case, id=case.id + 1, builtin=problem.performance_builtin), stop_at)
    mine = run_case(process, case, stop_at)
    shape = " and ".join(f"{name} {tuple(tensor.shape)}" for name, tensor in case.tensors.items() if tensor.dim() > 1)
    if mine is not None and (mine.error is not None or not mine.returned):
        return None  # the graded report already describes the failure
    if mine is None or not mine.timings:
        return Comparison(f"At {shape} your function did not finish {case.repeat} timed calls within {seconds:g} s.", None)
    if builtin is None or not builtin.timings:
        return None
    mine_time, builtin_time = statistics.median(mine.timings), statistics.median(builtin.timings)
    slowdown = mine_time / builtin_time if builtin_time > 0 else None
    parts = [
        f"At {shape}: your function took {mine_time * 1000:.1f} ms (median of {len(mine.timings)}), "
        f"{problem.performance_label or problem.performance_builtin} {builtin_time * 1000:.1f} ms"
    ]
    memory = _memory_text(mine, builtin)
    if memory:
        parts.append(memory)
    return Comparison("; ".join(parts) + ".", slowdown, mine.call_count)


def _memory_text(mine: CaseResult, builtin: CaseResult) -> str:
    if mine.peak_memory_bytes is None or builtin.peak_memory_bytes is None:
        return ""
    mib = 1024 * 1024
    return (
        f"peak extra memory of the call and backward: yours {mine.peak_memory_bytes / mib:.0f} MiB, "
        f"PyTorch's {builtin.peak_memory_bytes / mib:.0f} MiB"
    )


def slowness_advisory(comparison: Comparison | None, fewest_calls: int) -> Mistake | None:
    """Flag a far slower submission whose torch calls also grow with the input (a Python loop).

    Time alone is noisy on a busy machine and a float64 implementation is legitimately slower, so
    the call count must confirm the loop.
    """
    if comparison is None or comparison.slowdown is None or comparison.slowdown < FAR_SLOWER:
        return None
    if comparison.call_count <= 2 * fewest_calls + 16:
        return None
    evidence = f"{comparison.text} That is {comparison.slowdown:.0f} times slower than PyTorch."
    hint = "Replace Python loops over rows or classes with whole-tensor operations (reductions along a dim, gather)."
    return Mistake("not-vectorized", "Far slower than PyTorch", evidence, hint, scored=False)
