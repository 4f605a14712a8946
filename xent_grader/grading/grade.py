"""Grade one submission file: read it, run it in its own process, compare, diagnose, report."""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from xent_grader.grading import counterexample, performance
from xent_grader.grading.cases import Case, CaseResult, parse_result, result_from_failure
from xent_grader.grading.evidence import Diagnosis
from xent_grader.grading.results import Mistake, Report, display_path
from xent_grader.grading.source import (
    SourceError,
    defined_functions,
    find_banned_names,
    find_trace_evasion,
    parse_source,
    read_source,
)
from xent_grader.problems.base import Expected, GradingContext, Problem
from xent_grader.problems.registry import all_problems, problem_by_function, problem_by_id
from xent_grader.sandbox.harness import Job
from xent_grader.sandbox.limits import Limits, describe_protections
from xent_grader.sandbox.runner import SubmissionProcess

COUNTEREXAMPLE_SECONDS = 4.0
PERFORMANCE_SECONDS = 8.0


@dataclass(frozen=True)
class GradeOptions:
    problem: str | None = None
    function: str | None = None
    seed: int | None = None
    strict: bool = False
    limits: Limits = field(default_factory=Limits)
    extra_cases: tuple[dict, ...] = ()
    counterexamples: bool = True
    run_as: tuple[int, int] | None = None  # (uid, gid) the submission's process switches to
    performance: bool = True  # run the advisory comparison with PyTorch's own function


def new_seed() -> int:
    return secrets.randbelow(1_000_000)


def grade_file(path: Path, options: GradeOptions, source: str | None = None) -> Report:
    """Grade ``path``; every outcome, including a broken file, becomes a Report.

    ``source`` is the file's text when the caller read it already (a batch reads every file before
    any submission runs, so no submission can change another one's file).
    """
    started = time.monotonic()
    seed = options.seed if options.seed is not None else new_seed()
    try:
        source = read_source(path) if source is None else source
        tree = parse_source(source, str(path))
        problem = _choose_problem(options, defined_functions(tree))
    except SourceError as error:
        problem_id = options.problem or "cross-entropy"
        return _early_report(path, problem_id, error.status, error.message, seed, options, started)
    function_name = options.function or problem.function_name
    banned = problem.banned(options.strict)
    found = [*find_banned_names(tree, banned), *find_trace_evasion(tree)]
    findings = tuple(f"line {f.line}: {f.text}" for f in sorted(found, key=lambda f: f.line))
    grading = _Grading(path, problem, function_name, options, seed, findings)
    report = grading.run(source)
    return _with_duration(report, started)


def _choose_problem(options: GradeOptions, functions: dict[str, tuple[str, ...]]) -> Problem:
    if options.problem:
        return problem_by_id(options.problem)
    if options.function:
        return problem_by_function(options.function, functions.get(options.function, ())) or problem_by_id("cross-entropy")
    for name, parameters in functions.items():
        problem = problem_by_function(name, parameters)
        if problem is not None:
            return problem
    known = [p.function_name for p in all_problems()]
    close = sorted({match for name in functions for match in difflib.get_close_matches(name, known, n=1, cutoff=0.6)})
    suggestion = f" Did you mean {' or '.join(close)}?" if close else ""
    expected = problem_by_id("cross-entropy").function_name
    defined = ", ".join(list(functions)[:8])
    if not defined:
        raise SourceError(
            "missing-function",
            f"The file defines no functions; define {expected}(...), or pass --function NAME.{suggestion}",
        )
    raise SourceError(
        "missing-function",
        f"The file defines {defined}, and none of them is a function this grader knows (such as {expected}).{suggestion} "
        "Rename the function, or pass --function NAME.",
    )


def _early_report(path, problem_id, status, message, seed, options, started) -> Report:
    problem = problem_by_id(problem_id)
    return _with_duration(
        Report(
            path=display_path(path),
            problem=problem.id,
            status=status,
            status_message=message,
            score=0.0,
            max_score=sum(spec.points for spec in problem.checks),
            seed=seed,
            protections=_protections(options),
        ),
        started,
    )


def _with_duration(report: Report, started: float) -> Report:
    from dataclasses import replace

    return replace(report, duration_seconds=round(time.monotonic() - started, 3))


def _protections(options: GradeOptions) -> tuple[tuple[str, bool, str], ...]:
    user = None
    if options.run_as is not None:
        import pwd

        user = pwd.getpwuid(options.run_as[0]).pw_name
    return tuple((p.name, p.active, p.detail) for p in describe_protections(options.limits, user))


class _Grading:
    """One submission's grading, from starting its process to the finished Report."""

    def __init__(self, path, problem: Problem, function_name, options, seed, findings) -> None:
        self.path = path
        self.problem = problem
        self.function_name = function_name
        self.options = options
        self.seed = seed
        self.findings = findings
        self.expected: dict[int, Expected] = {}
        self.performance_text = ""
        self.extra_workdirs: list[str] = []
        self.notes: tuple[str, ...] = ()

    def run(self, source: str) -> Report:
        workdir = tempfile.mkdtemp(prefix="xent-grade-")
        if self.options.run_as is not None:
            os.chown(workdir, *self.options.run_as)
        job = Job(source, str(self.path), self.function_name, workdir, self.options.limits, self.options.run_as)
        process = SubmissionProcess(job)
        measurement = None
        try:
            process.start()
            if self.options.performance:
                measurement = performance.PerformanceRun(self.problem, self._second_job(job), self.seed)
            # Computed while the submission's process loads its file, once per problem and seed.
            cases, self.expected = _cases_and_expected(self.problem, self.seed, self.options.extra_cases)
            load_status, load_message = self._wait_for_load(process)
            if load_status != "ok":
                end = process.finish()
                return self._report(load_status, load_message, [], [], end)
            results = self._run_cases(process, cases)
            advisory = self._run_cases(process, self.problem.advisory_cases(self.seed)) if process.failure is None else []
            self.notes = tuple(self.problem.advisory_notes([r for r in advisory if r.ran]))
            leftovers = process.count_leftover_processes() if process.failure is None else 0
            context = GradingContext(self.findings, leftovers, self.options.strict)
            diagnoses = self.problem.diagnose(results, self.expected, context)
            checks = self.problem.score_checks(results, self.expected, context)
            mistakes = self._with_counterexamples(diagnoses, process)
            comparison = None
            if measurement is not None and process.failure is None:
                comparison = measurement.collect(PERFORMANCE_SECONDS)
                fewest_calls = min((r.call_count for r in results if r.returned), default=0)
                slow = performance.slowness_advisory(comparison, fewest_calls)
                if slow is not None and not any(m.id == slow.id for m in mistakes):
                    mistakes.append(slow)
            self.performance_text = comparison.text if comparison else ""
            end = process.finish()
            status, message = self._run_status(results, end)
            if status == "not-attempted":
                checks, mistakes = [], []
            return self._report(status, message, checks, mistakes, end)
        finally:
            if measurement is not None:
                measurement.cancel()
            for folder in [workdir, *self.extra_workdirs]:
                shutil.rmtree(folder, ignore_errors=True)

    def _second_job(self, job: Job) -> Job:
        workdir = tempfile.mkdtemp(prefix="xent-grade-")
        if self.options.run_as is not None:
            os.chown(workdir, *self.options.run_as)
        self.extra_workdirs.append(workdir)
        return dataclasses.replace(job, workdir=workdir)

    def _wait_for_load(self, process: SubmissionProcess) -> tuple[str, str]:
        ready = process.next_frame()
        if ready is not None and ready.header.get("event") == "ready":
            process.failed_limits = [str(name)[:40] for name in ready.header.get("failed_limits", [])][:8]
            frame = process.next_frame()
        else:
            frame = ready
        if frame is None:
            failure = process.failure
            return failure.status, f"Your file {failure.reason} while it was being loaded."
        event = frame.header.get("event")
        if event == "loaded":
            return "ok", ""
        if event == "missing-function":
            return "missing-function", self._missing_function_message(frame.header.get("defined"))
        if event == "load-error":
            return _load_error_message(frame.header.get("error"))
        return "crashed", "The submission's process sent an unexpected message while loading."

    def _missing_function_message(self, defined) -> str:
        names = [name for name in defined if isinstance(name, str)] if isinstance(defined, list) else []
        close = difflib.get_close_matches(self.function_name, names, n=3, cutoff=0.5)
        suggestion = f" Did you mean {', '.join(close)}?" if close else ""
        listed = ", ".join(names[:10]) or "none"
        return (
            f"The file defines no function named {self.function_name} (callables found: {listed}).{suggestion} "
            f"Rename your function to {self.function_name}, or pass --function NAME."
        )

    def _run_cases(self, process: SubmissionProcess, cases: list[Case]) -> list[CaseResult]:
        results = []
        for case in cases:
            result = counterexample.run_case(process, case)
            results.append(result if result is not None else result_from_failure(case))
        return results

    def _with_counterexamples(self, diagnoses: list[Diagnosis], process: SubmissionProcess) -> list[Mistake]:
        from dataclasses import replace

        mistakes = []
        deadline = time.monotonic() + COUNTEREXAMPLE_SECONDS
        for diagnosis in diagnoses:
            found = None
            remaining = deadline - time.monotonic()
            if self.options.counterexamples and remaining > 0:
                found = counterexample.search(diagnosis, self.problem, process, remaining)
            if found is None:
                smallest = counterexample.smallest_failing(diagnosis)
                found = (smallest.case, smallest) if smallest is not None else None
            if found is None:
                mistakes.append(diagnosis.mistake)
                continue
            case, result = found
            expected = self.expected.get(case.id) if case.id in self.expected and case.check != "counterexample" else None
            example = counterexample.format_counterexample(
                case, result, expected or self.problem.expected(case), self.function_name, diagnosis.mistake.id
            )
            mistakes.append(replace(diagnosis.mistake, counterexample=example))
        return mistakes

    def _run_status(self, results: list[CaseResult], end) -> tuple[str, str]:
        if end.failure is not None:
            done = sum(r.ran for r in results)
            return end.failure.status, f"Your submission {end.failure.reason} (after {done} of {len(results)} cases)."
        returned_or_errors = [r for r in results if r.ran]
        if returned_or_errors and all(r.error and r.error.not_implemented for r in returned_or_errors):
            return "not-attempted", f"{self.function_name} still raises NotImplementedError: write your solution in it."
        memory = [r for r in results if r.error and r.error.memory]
        if memory:
            limit = self.options.limits.memory_mb
            return "memory-limit", (
                f"Your function ran out of memory on {len(memory)} cases (limit {limit} MiB; "
                f"{memory[0].error.type}: {memory[0].error.message[:200]}). Avoid very large intermediate tensors."
            )
        return "ok", ""

    def _report(self, status, message, checks, mistakes, end) -> Report:
        score = round(sum(check.score for check in checks), 1) if status in ("ok", "timeout", "crashed", "memory-limit", "output-limit") else 0.0
        return Report(
            path=display_path(self.path),
            problem=self.problem.id,
            status=status,
            status_message=message,
            score=score,
            max_score=sum(spec.points for spec in self.problem.checks),
            checks=tuple(checks),
            mistakes=tuple(mistakes),
            output=end.output,
            output_truncated=end.output_bytes > len(end.output.encode()),
            seed=self.seed,
            protections=_protections(self.options),
            performance=self.performance_text,
            notes=self.notes,
        )


_case_cache: dict[tuple, tuple[list[Case], dict[int, Expected]]] = {}
_case_cache_lock = threading.Lock()


def _cases_and_expected(problem: Problem, seed: int, extra_cases: tuple[dict, ...]):
    """Return the cases and PyTorch's expected values, shared by every file graded with the same seed."""
    key = (problem.id, seed, json.dumps(extra_cases, sort_keys=True))
    with _case_cache_lock:
        if key not in _case_cache:
            cases = problem.make_cases(seed, list(extra_cases))
            _case_cache.clear()
            _case_cache[key] = (cases, {case.id: problem.expected(case) for case in cases})
        return _case_cache[key]


def _load_error_message(error) -> tuple[str, str]:
    error = error if isinstance(error, dict) else {}
    kind = str(error.get("type", "Exception"))[:200]
    text = str(error.get("message", ""))[:500]
    line = error.get("line") if type(error.get("line")) is int else None
    where = f" at line {line}" if line else ""
    if error.get("memory") is True:
        return "memory-limit", f"Your file ran out of memory while loading{where} ({kind}: {text})."
    if error.get("not_implemented") is True:
        return "not-attempted", "The file raises NotImplementedError while loading: write your solution first."
    advice = "Fix the error and run the grader again."
    if kind == "ModuleNotFoundError":
        advice = "Install that package, or remove the import: the grader provides torch and numpy."
    elif kind in ("SystemExit", "KeyboardInterrupt"):
        advice = "Do not exit or interrupt the program in your file; only define the function."
    elif kind == "EOFError":
        advice = "Standard input is closed during grading: do not call input()."
    return "load-error", f"Loading your file raised {kind}{where}: {text}. {advice}"
