"""Parse the `# expect:` lines at the top of a gallery file and check a Report against them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

EXPECT_LINE = re.compile(rb"^# expect: (.+)$", re.MULTILINE)


@dataclass
class Expectation:
    full_marks: bool = False
    status: str | None = None
    mistakes: list[str] = field(default_factory=list)
    score: float | None = None


def read_expectation(path: Path) -> Expectation:
    expectation = Expectation()
    for match in EXPECT_LINE.finditer(path.read_bytes()[:4096]):
        text = match.group(1).decode("utf-8", errors="replace").strip()
        if text == "full-marks":
            expectation.full_marks = True
        elif text.startswith("status="):
            expectation.status = text.removeprefix("status=")
        elif text.startswith("mistakes="):
            expectation.mistakes += text.removeprefix("mistakes=").split(",")
        elif text.startswith("score="):
            expectation.score = float(text.removeprefix("score="))
        else:
            raise ValueError(f"{path}: unknown expectation {text!r}")
    return expectation


def unmet(expectation: Expectation, report) -> list[str]:
    """Return the ways the report misses the expectation, in words (empty when it meets it)."""
    problems = []
    ids = [mistake.id for mistake in report.mistakes]
    if expectation.full_marks:
        if report.status != "ok" or report.score != report.max_score:
            problems.append(f"expected full marks, got {report.status} {report.score}/{report.max_score}")
        if ids:
            problems.append(f"expected nothing flagged, got {ids}")
        return problems
    if expectation.score is not None and report.score != expectation.score:
        problems.append(f"expected score {expectation.score}, got {report.score}")
    elif expectation.score is None and report.full_marks:
        problems.append("expected less than full marks, got full marks")
    if expectation.status is not None and report.status != expectation.status:
        problems.append(f"expected status {expectation.status}, got {report.status}: {report.status_message}")
    if expectation.mistakes and expectation.status is None and report.status != "ok":
        problems.append(f"expected status ok, got {report.status}: {report.status_message}")
    missing = [mistake for mistake in expectation.mistakes if mistake not in ids]
    if missing:
        problems.append(f"expected mistakes {missing}, got {ids}")
    return problems
