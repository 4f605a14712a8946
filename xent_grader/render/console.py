"""The human-readable report: the verdict first, then checks, mistakes, output and what to do next.

Everything that came from the submission (its printed output, exception messages) is rendered as
plain Text, never as Rich markup.
"""

from __future__ import annotations

from rich.console import Console, Group
from rich.padding import Padding
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from xent_grader import catalog
from xent_grader.grading.results import Mistake, Report, without_control_characters

SHOWN_OUTPUT_LINES = 40
STATUS_WORDS = {
    "ok": "graded",
    "syntax-error": "syntax error",
    "load-error": "failed to load",
    "missing-function": "function not found",
    "not-attempted": "not attempted",
    "timeout": "timed out",
    "crashed": "crashed",
    "memory-limit": "memory limit exceeded",
    "output-limit": "output limit exceeded",
}


def verdict_line(report: Report) -> Text:
    if report.full_marks:
        style, word = "bold green", "PASS"
    elif report.status == "ok":
        style, word = "bold yellow", "PARTIAL" if report.score > 0 else "FAIL"
    else:
        style, word = "bold red", STATUS_WORDS.get(report.status, report.status).upper()
    line = Text()
    line.append(f"{word} {report.score:g}/{report.max_score:g}", style=style)
    line.append(f"  {report.path}  ({report.problem})")
    return line


def render_report(report: Report, console: Console, show_protections: bool = False) -> None:
    console.print(verdict_line(report))
    if report.status_message:
        style = "red" if report.status != "ok" else None
        console.print(Text(without_control_characters(report.status_message)), style=style)
    if report.checks:
        console.print(_checks_table(report))
    scored = [m for m in report.mistakes if m.scored]
    advisories = [m for m in report.mistakes if not m.scored]
    for mistake in scored:
        console.print(_mistake_block(mistake))
    for mistake in advisories:
        console.print(_mistake_block(mistake, advisory=True))
    for note in report.notes:
        console.print(Text(note, style="dim"))
    if report.performance:
        console.print(Text("Performance (advisory, not scored): ", style="bold") + Text(report.performance))
    if report.output:
        console.print(_output_block(report))
    if report.full_marks:
        _render_follow_ups(report, console)
    console.print(Text(f"seed {report.seed} (rerun with --seed {report.seed}) · {report.duration_seconds:.2f} s", style="dim"))
    if show_protections:
        console.print(protections_table(report))
    elif report.protections:
        console.print(Text(protections_summary(report), style="dim"))


def _checks_table(report: Report) -> Table:
    table = Table(title=None, show_edge=False, pad_edge=False, expand=False)
    table.add_column("check")
    table.add_column("result")
    table.add_column("points", justify="right")
    table.add_column("details")
    for check in report.checks:
        result = Text("passed", style="green") if check.passed else Text("failed", style="red")
        table.add_row(check.title, result, f"{check.score:g}/{check.max_score:g}", Text(check.message))
    return table


def _mistake_block(mistake: Mistake, advisory: bool = False) -> Padding:
    heading = Text()
    heading.append("advisory " if advisory else "mistake ", style="bold yellow" if advisory else "bold red")
    heading.append(mistake.id, style="bold")
    heading.append(f": {mistake.title}")
    parts = [heading, Text(without_control_characters(mistake.evidence))]
    if mistake.counterexample is not None:
        example = mistake.counterexample
        parts.append(Text("Smallest failing input found:", style="bold"))
        parts.append(Padding(Syntax(example.code, "python", theme="ansi_dark", background_color="default"), (0, 0, 0, 2)))
        parts.append(Text(f"  expected {example.expected}\n  got      {example.got}"))
    parts.append(Text("Hint: ", style="bold") + Text(mistake.hint))
    return Padding(Group(*parts), (1, 0, 0, 0))


def _output_block(report: Report) -> Group:
    lines = report.output.splitlines()
    shown = "\n".join(lines[:SHOWN_OUTPUT_LINES])
    more = len(lines) > SHOWN_OUTPUT_LINES or report.output_truncated
    title = Text("\nYour file printed:", style="bold")
    body = Padding(Text(without_control_characters(shown)), (0, 0, 0, 2))
    note = Text("  (output cut off here)", style="dim") if more else Text("")
    return Group(title, body, note)


def _render_follow_ups(report: Report, console: Console) -> None:
    statement = catalog.statement(report.problem)
    if statement is None:
        return
    if statement.follow_ups:
        console.print(Text("\nFull marks. An interviewer would ask next:", style="bold green"))
        for question in statement.follow_ups:
            console.print(Text(f"  - {question}"))
    if statement.next:
        console.print(Text(f"Next problem: xent-grade show {statement.next}   (or: xent-grade init {statement.next} FILE)"))


def protections_summary(report: Report) -> str:
    active = [name for name, on, _ in report.protections if on]
    inactive = [detail for _, on, detail in report.protections if not on]
    line = f"{len(active)} of {len(report.protections)} protections active"
    if inactive:
        line += f"; {'; '.join(inactive)}"
    return line + " (--protections lists them)"


def protections_table(report: Report) -> Table:
    table = Table(title="Protections on this machine", show_edge=False)
    table.add_column("protection")
    table.add_column("active")
    table.add_column("details")
    for name, active, detail in report.protections:
        table.add_row(name, "yes" if active else "no", detail)
    return table
