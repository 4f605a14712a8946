"""The ``xent-grade`` command line: a thin layer over grading, batch and practice functions.

``xent-grade FILE ...`` is short for ``xent-grade grade FILE ...``. Only the grade command imports
torch, and it starts the forkserver first so that the two torch imports overlap.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.syntax import Syntax

from xent_grader import catalog, practice

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="Grade from-scratch cross-entropy implementations against PyTorch. Example: xent-grade my_solution.py",
)
export_app = typer.Typer(help="Write files for other grading platforms.", no_args_is_help=True)
app.add_typer(export_app, name="export")

out = Console(highlight=False)
# soft_wrap keeps long paths in messages whole, so they can be copied or searched.
err = Console(stderr=True, highlight=False, soft_wrap=True)
from xent_grader.entry import COMMANDS  # noqa: E402 - kept beside the other module constants


class OutputFormat(str, Enum):
    text = "text"
    json = "json"
    gradescope = "gradescope"
    junit = "junit"
    prairielearn = "prairielearn"


def fail_usage(message: str) -> None:
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(2)


@app.command()
def grade(
    paths: list[Path] = typer.Argument(..., help="Submission files, or folders of .py files, to grade."),
    problem: str | None = typer.Option(None, help="Problem id; by default chosen from the function the file defines."),
    function: str | None = typer.Option(None, help="Grade the function with this name instead of the problem's."),
    output_format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="Report format on stdout."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report to this file instead of stdout."),
    csv_path: Path | None = typer.Option(None, "--csv", help="Also write a CSV grade sheet to this file."),
    jobs: int = typer.Option(0, help="Submissions graded in parallel; 0 means the number of CPU cores."),
    seed: int | None = typer.Option(None, help="Seed of the random cases; by default a new one each run."),
    cases: Path | None = typer.Option(None, help="JSON file of extra cases an instructor adds (see the README)."),
    strict: bool = typer.Option(False, help="Also forbid log_softmax and logsumexp."),
    timeout: float = typer.Option(20.0, help="Wall-clock seconds one submission may run."),
    memory_limit: int = typer.Option(4096, help="MiB of memory one submission may allocate."),
    fail_under: float | None = typer.Option(None, help="Exit with 1 when a score is below this; default: full marks."),
    watch: bool = typer.Option(False, help="Grade again each time the file is saved (one file only)."),
    protections: bool = typer.Option(False, help="List the protections active on this machine after the report."),
    run_as: str | None = typer.Option(None, help="When run as root, run submissions as this unprivileged user."),
    performance: bool | None = typer.Option(
        None, help="Time the submission beside PyTorch's own function (advisory); default: on for one file only."
    ),
    debug: bool = typer.Option(False, help="Show full tracebacks of grader errors."),
) -> None:
    """Grade submissions. Example: xent-grade my_solution.py --format json"""
    from xent_grader.sandbox.forkserver import start_forkserver

    start_forkserver()
    from xent_grader.grade_command import GradeRequest, run_grade

    request = GradeRequest(
        paths=paths, problem=problem, function=function, output_format=output_format.value, output=output,
        csv_path=csv_path, jobs=jobs, seed=seed, cases=cases, strict=strict, timeout=timeout,
        memory_limit=memory_limit, fail_under=fail_under, watch=watch, protections=protections, debug=debug,
        run_as=run_as, performance=performance,
    )
    raise typer.Exit(run_grade(request, out, err))


@app.command("problems")
def list_problems() -> None:
    """List the problems, one line each: id, difficulty, title and tags."""
    rows = list(catalog.statements().values())
    width = max(len(statement.id) for statement in rows)
    for statement in rows:
        tags = ", ".join(statement.tags)
        line = f"{statement.id:<{width}}  {statement.difficulty:<6}  {statement.title}  [{tags}]"
        out.print(line, markup=False, highlight=False, soft_wrap=True)


def _statement_or_exit(problem_id: str) -> catalog.Statement:
    statement = catalog.statement(problem_id)
    if statement is None:
        import difflib

        close = difflib.get_close_matches(problem_id, list(catalog.statements()), n=1)
        hint = f" Did you mean {close[0]}?" if close else ""
        fail_usage(f"unknown problem {problem_id!r}.{hint} Run `xent-grade problems` to list them.")
    return statement


@app.command()
def show(problem_id: str = typer.Argument(..., metavar="PROBLEM")) -> None:
    """Show a problem's statement. Example: xent-grade show cross-entropy"""
    out.print(Markdown(_statement_or_exit(problem_id).public_markdown()))


@app.command()
def init(
    problem_id: str = typer.Argument(..., metavar="PROBLEM"),
    file: Path = typer.Argument(..., help="Starter file to write."),
    force: bool = typer.Option(False, help="Overwrite the file if it exists."),
) -> None:
    """Write a starter file for a problem. Example: xent-grade init cross-entropy my_solution.py"""
    _statement_or_exit(problem_id)
    try:
        practice.write_starter(problem_id, file, force)
    except practice.PracticeError as error:
        fail_usage(str(error))
    err.print(f"Wrote {file}. Fill in the function, then run: xent-grade {file}", markup=False)


@app.command()
def hint(
    problem_id: str = typer.Argument(..., metavar="PROBLEM"),
    level: int | None = typer.Option(None, help="Hint level to show (1: concept, 2: approach, 3: key step)."),
) -> None:
    """Show the next hint for a problem, one level at a time; never the full code."""
    _statement_or_exit(problem_id)
    try:
        shown, total, text = practice.next_hint(problem_id, level)
    except practice.PracticeError as error:
        fail_usage(str(error))
    out.print(f"Hint {shown} of {total} ({catalog.HINT_LEVELS[shown - 1]})", style="bold", markup=False)
    out.print(Markdown(text))
    if shown < total:
        err.print(f"Run the same command again for hint {shown + 1}.", markup=False)


@app.command()
def solution(problem_id: str = typer.Argument(..., metavar="PROBLEM")) -> None:
    """Show the reference solution of a problem (only when you ask for it)."""
    _statement_or_exit(problem_id)
    path = catalog.reference_solution(problem_id)
    if not path.is_file():
        fail_usage(f"no reference solution is bundled for {problem_id}.")
    code = path.read_text(encoding="utf-8")
    if out.is_terminal:
        out.print(Syntax(code, "python", theme="ansi_dark", background_color="default"))
    else:
        # Piped or redirected: the exact file, with no wrapping, so it can be saved and run.
        sys.stdout.write(code)


@export_app.command("gradescope")
def export_gradescope(
    destination: Path = typer.Argument(..., help="Folder to write the autograder bundle into."),
    problem: str = typer.Option("cross-entropy", help="Problem the bundle grades."),
    fail_under: float | None = typer.Option(None, help="Passed on to the grader; only the score matters there."),
) -> None:
    """Write a Gradescope autograder bundle (setup.sh, run_autograder) into a folder."""
    from xent_grader.export import write_gradescope_bundle

    _statement_or_exit(problem)
    files = write_gradescope_bundle(destination, problem)
    for path in files:
        err.print(f"wrote {path}", markup=False)
    err.print(f"Zip the files in {destination} (not the folder itself) and upload the zip to Gradescope.", markup=False)


def main(argv: list[str] | None = None) -> None:
    argv = command_arguments(sys.argv[1:] if argv is None else argv)
    app(args=argv, prog_name="xent-grade")


def command_arguments(argv: list[str]) -> list[str]:
    """Make ``xent-grade FILE ...`` mean ``xent-grade grade FILE ...``."""
    if argv and argv[0] not in COMMANDS and argv[0] not in ("--help", "-h"):
        return ["grade", *argv]
    return argv
