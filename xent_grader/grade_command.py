"""The grade command: check the request, grade one file or many, render, write files, pick the exit code."""

from __future__ import annotations

import json
import math
import os
import traceback
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from xent_grader import batch, practice
from xent_grader.grading.grade import GradeOptions, grade_file, new_seed
from xent_grader.grading.results import Report, display_path
from xent_grader.problems.registry import UnknownProblem, problem_by_id
from xent_grader.render import json_report, platforms
from xent_grader.render.console import render_report, verdict_line
from xent_grader.sandbox.limits import Limits

EXIT_PASSED, EXIT_BELOW, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


@dataclass
class GradeRequest:
    paths: list[Path]
    problem: str | None
    function: str | None
    output_format: str
    output: Path | None
    csv_path: Path | None
    jobs: int
    seed: int | None
    cases: Path | None
    strict: bool
    timeout: float
    memory_limit: int
    fail_under: float | None
    watch: bool
    protections: bool
    debug: bool
    run_as: str | None = None
    performance: bool | None = None


class UsageError(Exception):
    pass


def run_grade(request: GradeRequest, out: Console, err: Console) -> int:
    try:
        options, files = _prepare(request)
    except UsageError as error:
        err.print(Text(f"error: {error}"))
        return EXIT_USAGE
    try:
        if request.watch:
            return _watch(files, options, request, out, err)
        if len(files) == 1 and not request.paths[0].is_dir():
            return _grade_one(files[0], options, request, out, err)
        return _grade_many(files, options, request, out, err)
    except KeyboardInterrupt:
        batch.runner.end_all_submissions()
        err.print(Text("interrupted before any file was graded.", style="yellow"))
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - the one boundary that turns grader faults into a message
        if request.debug:
            traceback.print_exc()
        err.print(Text(f"error: the grader failed ({type(error).__name__}: {error}). Rerun with --debug for details."))
        return EXIT_USAGE


def _prepare(request: GradeRequest) -> tuple[GradeOptions, list[Path]]:
    missing = [str(path) for path in request.paths if not path.exists()]
    if missing:
        raise UsageError(f"file not found: {', '.join(missing)}. Check the path, or run `xent-grade --help`.")
    if request.problem is not None:
        try:
            problem_by_id(request.problem)
        except UnknownProblem as error:
            raise UsageError(str(error)) from None
    if not (0 < request.timeout < 3600) or request.memory_limit <= 0:
        raise UsageError(
            f"--timeout ({request.timeout}) must be between 0 and 3600 seconds and --memory-limit "
            f"({request.memory_limit}) positive."
        )
    if request.seed is not None and not 0 <= request.seed < 2**32:
        raise UsageError(f"--seed {request.seed} is out of range; use a number from 0 to {2**32 - 1}.")
    if request.fail_under is not None and not 0 <= request.fail_under <= 100:
        raise UsageError(f"--fail-under {request.fail_under} is out of range; use a score from 0 to 100.")
    if request.watch and (len(request.paths) != 1 or request.paths[0].is_dir()):
        raise UsageError("--watch takes exactly one file.")
    for option, target in (("--output", request.output), ("--csv", request.csv_path)):
        if target is not None and (target.is_dir() or (target.parent.exists() and not target.parent.is_dir())):
            raise UsageError(f"{option} {target}: the path is a folder or lies inside a file; give a file path.")
    if request.output_format == "gradescope" and len(request.paths) > 1:
        raise UsageError("--format gradescope writes one results.json for one submission; pass a single file.")
    files = batch.collect_files(request.paths)
    if not files:
        raise UsageError(f"no .py files found in {', '.join(map(str, request.paths))}.")
    options = GradeOptions(
        problem=request.problem,
        function=request.function,
        seed=request.seed if request.seed is not None else new_seed(),
        strict=request.strict,
        limits=Limits(timeout=request.timeout, memory_mb=request.memory_limit),
        extra_cases=_read_cases(request.cases, request.problem),
        run_as=_resolve_user(request.run_as),
        performance=request.performance if request.performance is not None else len(files) == 1,
    )
    return options, files


def _resolve_user(name: str | None) -> tuple[int, int] | None:
    if name is None:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise UsageError(f"--run-as: no user named {name!r}. Create it first (useradd {name}).") from None
    if os.geteuid() != 0:
        raise UsageError("--run-as needs the grader to run as root, so that it can switch users.")
    if entry.pw_uid == 0:
        raise UsageError("--run-as must name an unprivileged user, not root.")
    return entry.pw_uid, entry.pw_gid


def _read_cases(path: Path | None, problem_id: str | None) -> tuple[dict, ...]:
    if path is None:
        return ()
    check_ids = [spec.id for spec in problem_by_id(problem_id or "cross-entropy").checks]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read the cases file {path}: {error}.") from None
    if not isinstance(data, list) or not all(isinstance(case, dict) and {"logits", "targets"} <= case.keys() for case in data):
        raise UsageError(f"{path} must hold a JSON list of objects with \"logits\" and \"targets\" (see the README).")
    for index, case in enumerate(data):
        problem = _invalid_case(case)
        if problem:
            raise UsageError(f"{path}: case {index} is invalid: {problem}.")
        if case.get("dtype", "float32") not in ("float32", "float64"):
            raise UsageError(f"{path}: case {index} has dtype {case.get('dtype')!r}; use \"float32\" or \"float64\".")
        if case.get("check", "parity") not in check_ids:
            raise UsageError(f"{path}: case {index} has check {case.get('check')!r}; use one of {', '.join(check_ids)}.")
    return tuple(data)


def _invalid_case(case: dict) -> str:
    """Describe what is wrong with an instructor's (N, C) case, or return "" when it is valid."""
    logits, targets = case["logits"], case["targets"]
    if not isinstance(logits, list) or not logits or not all(isinstance(row, list) and row for row in logits):
        return "logits must be a non-empty list of non-empty rows"
    width = len(logits[0])
    if any(len(row) != width for row in logits):
        return "every row of logits must have the same length"
    numbers = [value for row in logits for value in row]
    if not all(type(value) in (int, float) and math.isfinite(value) for value in numbers):
        return "logits must be finite numbers (no NaN or Infinity)"
    if not isinstance(targets, list) or len(targets) != len(logits):
        return f"targets must be a list with one class index per row ({len(logits)})"
    if not all(type(target) is int and 0 <= target < width for target in targets):
        return f"every target must be an integer class index from 0 to {width - 1}"
    if case.get("dtype") == "float32" or "dtype" not in case:
        if any(abs(value) > 3.0e38 for value in numbers):
            return "a logit is too large for float32"
    return ""


def _threshold(request: GradeRequest, report: Report) -> float:
    return report.max_score if request.fail_under is None else request.fail_under


def _exit_code(request: GradeRequest, reports: list[Report]) -> int:
    below = [r for r in reports if r.score < _threshold(request, r) or (request.fail_under is None and not r.full_marks)]
    return EXIT_BELOW if below else EXIT_PASSED


def _emit(text: str, request: GradeRequest, out: Console) -> None:
    if request.output is not None:
        platforms.write_atomically(request.output, text if text.endswith("\n") else text + "\n")
    else:
        out.file.write(text if text.endswith("\n") else text + "\n")
        out.file.flush()


def _grade_one(path: Path, options: GradeOptions, request: GradeRequest, out: Console, err: Console) -> int:
    err.print(Text(f"grading {path} (seed {options.seed}) ...", style="dim"))
    report = grade_file(path, options)
    _render_single(report, request, out)
    if request.csv_path is not None:
        platforms.write_atomically(request.csv_path, platforms.grade_sheet_csv([report]))
    return _exit_code(request, [report])


def _render_single(report: Report, request: GradeRequest, out: Console) -> None:
    kind = request.output_format
    if kind == "json":
        _emit(json_report.single_report_json(report), request, out)
    elif kind == "gradescope":
        _emit(platforms.gradescope_json(report), request, out)
    elif kind == "junit":
        _emit(platforms.junit_xml([report]), request, out)
    elif kind == "prairielearn":
        _emit(json.dumps(platforms.prairielearn_results(report), indent=2), request, out)
    elif request.output is not None:
        with open(request.output, "w", encoding="utf-8") as file:
            render_report(report, Console(file=file, width=100, no_color=True), request.protections)
    else:
        render_report(report, out, request.protections)


def _grade_many(files: list[Path], options: GradeOptions, request: GradeRequest, out: Console, err: Console) -> int:
    jobs = request.jobs or os.cpu_count() or 1
    columns = (TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.description}"))
    interrupted = False
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("", total=len(files))

        def advance(report: Report) -> None:
            progress.update(task, advance=1, description=Path(report.path).name)
            if not err.is_terminal:
                # No progress bar is drawn off a terminal, so logs get one line per file instead.
                done = int(progress.tasks[0].completed)
                line = f"graded {done}/{len(files)} {report.path}: {report.score:g}/{report.max_score:g} {report.status}"
                err.print(Text(line))

        try:
            reports = batch.grade_files(files, options, jobs, on_done=advance)
        except batch.BatchInterrupted as stop:
            reports, interrupted = stop.reports, True
    if interrupted:
        err.print(Text(f"interrupted: keeping the {len(reports)} of {len(files)} files graded so far.", style="yellow"))
    _render_batch(reports, options, request, out)
    if request.csv_path is not None:
        platforms.write_atomically(request.csv_path, platforms.grade_sheet_csv(reports))
    return EXIT_INTERRUPTED if interrupted else _exit_code(request, reports)


def _render_batch(reports: list[Report], options: GradeOptions, request: GradeRequest, out: Console) -> None:
    summary = batch.summarize(reports)
    summary["seed"] = options.seed
    if request.output_format in ("json", "prairielearn"):
        _emit(json_report.batch_json(reports, summary), request, out)
        return
    if request.output_format == "junit":
        _emit(platforms.junit_xml(reports), request, out)
        return
    console = out if request.output is None else Console(file=open(request.output, "w", encoding="utf-8"), width=120)
    table = Table(show_edge=False)
    table.add_column("file", no_wrap=True, overflow="fold")
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("mistakes")
    root = os.path.commonpath([os.path.abspath(report.path) for report in reports]) if reports else ""
    if reports and os.path.isfile(root):
        root = os.path.dirname(root)
    for report in reports:
        shown = os.path.relpath(os.path.abspath(report.path), root) if root else report.path
        mistakes = ", ".join(m.id for m in report.mistakes)
        table.add_row(Text(display_path(shown)), f"{report.score:g}/{report.max_score:g}", report.status, mistakes)
    if root:
        console.print(Text(f"files under {root}", style="dim"))
    console.print(table)
    console.print(Text(f"\n{summary['full_marks']} of {summary['files']} files got full marks; mean score {summary['mean_score']}.", style="bold"))
    if summary["mistakes"]:
        console.print(Text("Mistakes across the class:", style="bold"))
        for mistake_id, count in summary["mistakes"].items():
            console.print(Text(f"  {mistake_id}: {count} of {summary['files']}"))
    console.print(Text(f"seed {options.seed} (rerun with --seed {options.seed})", style="dim"))


def _watch(files: list[Path], options: GradeOptions, request: GradeRequest, out: Console, err: Console) -> int:
    if len(files) != 1:
        raise UsageError("--watch takes exactly one file.")

    def grade_once() -> None:
        report = grade_file(files[0], options)
        out.rule()
        render_report(report, out, request.protections)
        err.print(Text("watching for changes (Ctrl-C to stop) ...", style="dim"))

    try:
        practice.watch(files[0], grade_once)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return EXIT_PASSED


__all__ = ["GradeRequest", "run_grade", "verdict_line"]
