"""Grade many files at once: one row per file, whatever happens to it, in a pool of worker threads.

Each thread drives one submission's process at a time, so ``jobs`` submissions run in parallel. A
file that cannot be read gets a ``load-error`` row, and one that breaks the grader gets a
``crashed`` row, so no file is lost.
"""

from __future__ import annotations

import concurrent.futures
import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from xent_grader.grading.grade import GradeOptions, grade_file
from xent_grader.grading.source import SourceError, read_source
from xent_grader.grading.results import Report, display_path
from xent_grader.problems.registry import problem_by_id
from xent_grader.sandbox import runner

SKIPPED_NAMES = {"__init__.py", "conftest.py", "setup.py"}


def collect_files(paths: list[Path]) -> list[Path]:
    """Expand folders into their *.py entries (sorted, recursively); keep files as given, once each.

    Entries that are not regular files (symbolic links, named pipes, folders named x.py) are kept
    too, so that each gets a row saying why it was not graded.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            files.extend(sorted(p for p in path.rglob("*.py") if p.name not in SKIPPED_NAMES))
        else:
            files.append(path)
    unique = {}
    for file in files:
        unique.setdefault(file.resolve(), file)
    return list(unique.values())


def grade_files(
    files: list[Path],
    options: GradeOptions,
    jobs: int,
    on_done: Callable[[Report], None] | None = None,
) -> list[Report]:
    """Grade every file and return the reports in the order of ``files``.

    On KeyboardInterrupt the running submissions are ended, and BatchInterrupted is raised with the
    reports finished so far.
    """
    reports: dict[int, Report] = {}
    # Every file is read before any submission runs, so a submission cannot rewrite a classmate's.
    sources = {index: _read_early(file) for index, file in enumerate(files)}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {
            pool.submit(_grade_safely, file, options, sources[index]): index for index, file in enumerate(files)
        }
        try:
            for future in concurrent.futures.as_completed(futures):
                report = future.result()
                reports[futures[future]] = report
                if on_done is not None:
                    on_done(report)
        except KeyboardInterrupt:
            # A second Ctrl-C must not cut short the cleanup that keeps the graded rows.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            for future in futures:
                future.cancel()
            runner.end_all_submissions()
            raise BatchInterrupted([reports[i] for i in sorted(reports)]) from None
    return [reports[i] for i in sorted(reports)]


class BatchInterrupted(Exception):
    def __init__(self, reports: list[Report]) -> None:
        super().__init__(f"interrupted after {len(reports)} files")
        self.reports = reports


def _read_early(path: Path) -> str | SourceError | None:
    try:
        return read_source(path, allow_symlink=False)
    except SourceError as error:
        return error
    except OSError:
        return None  # grade_file reads it again and reports the error


def _grade_safely(path: Path, options: GradeOptions, source: str | SourceError | None = None) -> Report:
    if isinstance(source, SourceError):
        return _error_report(path, options, source.status, source.message)
    try:
        return grade_file(path, options, source)
    except OSError as error:
        return _error_report(path, options, "load-error", f"The file could not be read: {error.strerror or error}.")
    except Exception as error:  # noqa: BLE001 - one file's failure must not lose the other rows
        message = f"The grader failed on this file ({type(error).__name__}: {error}). Please report it; rerun with --debug."
        return _error_report(path, options, "crashed", message)


def _error_report(path: Path, options: GradeOptions, status: str, message: str) -> Report:
    problem = problem_by_id(options.problem or "cross-entropy")
    return Report(
        path=display_path(path),
        problem=problem.id,
        status=status,
        status_message=message,
        score=0.0,
        max_score=sum(spec.points for spec in problem.checks),
        seed=options.seed or 0,
    )


def summarize(reports: list[Report]) -> dict:
    """Class summary: counts by status, score statistics, and how many files showed each mistake."""
    mistakes = Counter(mistake.id for report in reports for mistake in {m.id: m for m in report.mistakes}.values())
    scores = [report.score for report in reports]
    return {
        "files": len(reports),
        "full_marks": sum(report.full_marks for report in reports),
        "mean_score": round(sum(scores) / len(scores), 1) if scores else 0.0,
        "statuses": dict(Counter(report.status for report in reports).most_common()),
        "mistakes": dict(mistakes.most_common()),
    }
