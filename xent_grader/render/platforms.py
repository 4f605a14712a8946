"""Reports in the formats other graders read: Gradescope, JUnit XML, PrairieLearn and a CSV grade sheet.

Gradescope's results.json follows its published autograder specification
(https://gradescope-autograders.readthedocs.io/en/latest/specs/): top-level ``score``,
``execution_time``, ``output`` and ``tests``, each test with ``name``, ``score``, ``max_score``,
``status`` ("passed" or "failed"), ``output`` and ``visibility``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from xent_grader.grading.results import Report

# Characters that make a spreadsheet treat a cell as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _summary_text(report: Report) -> str:
    lines = [f"{report.score:g}/{report.max_score:g} ({report.status}) for {Path(report.path).name}; seed {report.seed}."]
    if report.status_message:
        lines.append(report.status_message)
    return "\n".join(lines)


def _mistake_text(report: Report) -> str:
    parts = []
    for mistake in report.mistakes:
        parts.append(f"{mistake.id}: {mistake.evidence}\nHint: {mistake.hint}")
        if mistake.counterexample is not None:
            example = mistake.counterexample
            parts.append(f"{example.code}\n# expected {example.expected}, got {example.got}")
    return "\n\n".join(parts)


def gradescope_results(report: Report) -> dict:
    tests = [
        {
            "name": check.title,
            "number": str(index),
            "score": check.score,
            "max_score": check.max_score,
            "status": "passed" if check.passed else "failed",
            "output": check.message,
            "visibility": "visible",
        }
        for index, check in enumerate(report.checks, start=1)
    ]
    if not tests:
        tests.append(
            {
                "name": "Submission loads",
                "number": "1",
                "score": 0.0,
                "max_score": report.max_score,
                "status": "failed",
                "output": report.status_message,
                "visibility": "visible",
            }
        )
    return {
        "score": report.score,
        "execution_time": round(report.duration_seconds, 3),
        "output": _summary_text(report) + ("\n\n" + _mistake_text(report) if report.mistakes else ""),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def prairielearn_results(report: Report) -> dict:
    """PrairieLearn's external grader result: ``score`` from 0 to 1 plus per-check tests."""
    return {
        "gradable": report.status not in ("syntax-error", "missing-function"),
        "score": round(report.score / report.max_score, 4) if report.max_score else 0.0,
        "message": _summary_text(report),
        "output": report.output,
        "tests": [
            {
                "name": check.title,
                "points": check.score,
                "max_points": check.max_score,
                "message": check.message,
            }
            for check in report.checks
        ],
    }


def junit_xml(reports: list[Report]) -> str:
    suites = ElementTree.Element("testsuites", name="xent-grade")
    for report in reports:
        failures = sum(not check.passed for check in report.checks) + (report.status != "ok")
        cases = len(report.checks) + (report.status != "ok")
        suite = ElementTree.SubElement(
            suites,
            "testsuite",
            name=report.path,
            tests=str(max(1, cases)),
            failures=str(failures),
            time=f"{report.duration_seconds:.3f}",
        )
        properties = ElementTree.SubElement(suite, "properties")
        ElementTree.SubElement(properties, "property", name="seed", value=str(report.seed))
        ElementTree.SubElement(properties, "property", name="score", value=f"{report.score:g}/{report.max_score:g}")
        if report.status != "ok":
            case = ElementTree.SubElement(suite, "testcase", classname=report.problem, name="loads and runs")
            failure = ElementTree.SubElement(case, "failure", message=report.status, type=report.status)
            failure.text = report.status_message
        for check in report.checks:
            case = ElementTree.SubElement(suite, "testcase", classname=report.problem, name=check.title)
            if not check.passed:
                failure = ElementTree.SubElement(case, "failure", message=check.message, type=check.id)
                failure.text = _mistake_text(report)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True)


def _cell(value) -> str:
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def grade_sheet_csv(reports: list[Report]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["file", "problem", "status", "score", "max_score", "mistakes", "seed"])
    for report in reports:
        mistakes = ";".join(m.id for m in report.mistakes)
        row = [report.path, report.problem, report.status, f"{report.score:g}", f"{report.max_score:g}", mistakes, report.seed]
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue()


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, so no reader sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        # mkstemp creates the file as 0600; give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def gradescope_json(report: Report) -> str:
    return json.dumps(gradescope_results(report), indent=2)
