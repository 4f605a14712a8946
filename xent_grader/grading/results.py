"""The grade of one submission as plain data; every output format renders these records."""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field

# Statuses of a run, in the order a report explains them.
STATUSES = (
    "ok",
    "syntax-error",
    "load-error",
    "missing-function",
    "not-attempted",
    "timeout",
    "crashed",
    "memory-limit",
    "output-limit",
)


CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def display_path(path) -> str:
    """Return a path as printable text: undecodable bytes and control characters become escapes."""
    text = os.fsencode(path).decode("utf-8", errors="backslashreplace")
    return without_control_characters(text)


def without_control_characters(text: str) -> str:
    """Replace control characters (terminal escape sequences among them) with visible escapes."""
    return CONTROL_CHARACTERS.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


@dataclass(frozen=True)
class CheckResult:
    id: str
    title: str
    passed: bool
    score: float
    max_score: float
    message: str


@dataclass(frozen=True)
class Counterexample:
    """The smallest failing input found, as code a candidate can paste into a Python prompt."""

    code: str
    expected: str
    got: str


@dataclass(frozen=True)
class Mistake:
    id: str
    title: str
    evidence: str
    hint: str
    counterexample: Counterexample | None = None
    scored: bool = True  # False for advisories such as not-vectorized


@dataclass(frozen=True)
class Report:
    path: str
    problem: str
    status: str
    status_message: str
    score: float
    max_score: float
    checks: tuple[CheckResult, ...] = ()
    mistakes: tuple[Mistake, ...] = ()
    output: str = ""
    output_truncated: bool = False
    seed: int = 0
    duration_seconds: float = 0.0
    protections: tuple[tuple[str, bool, str], ...] = ()
    performance: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def full_marks(self) -> bool:
        return self.status == "ok" and self.score >= self.max_score

    def to_dict(self) -> dict:
        data = asdict(self)
        data["protections"] = [
            {"name": name, "active": active, "detail": detail} for name, active, detail in self.protections
        ]
        return data
