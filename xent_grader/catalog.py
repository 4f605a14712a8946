"""Problem statements and bundled solutions, shipped as data files with the package.

A wheel carries them under ``xent_grader/data/``; a source checkout reads ``problems/`` and
``solutions/`` at the repository root.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

PACKAGE_ROOT = Path(__file__).resolve().parent
HINT_LEVELS = ("Concept", "Approach", "Key step")


def data_dir(name: str) -> Path:
    """Return the folder of bundled ``problems`` or ``solutions``, installed or in a checkout."""
    for candidate in (PACKAGE_ROOT / "data" / name, PACKAGE_ROOT.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the bundled {name} folder is missing; reinstall xent-grade")


@dataclass(frozen=True)
class Statement:
    id: str
    title: str
    difficulty: str
    tags: tuple[str, ...]
    function: str
    next: str
    summary: str
    sections: dict[str, str]  # level-2 heading -> Markdown body

    @property
    def starter_code(self) -> str:
        match = re.search(r"```python\n(.*?)```", self.sections.get("Signature", ""), re.DOTALL)
        return match.group(1) if match else ""

    @property
    def follow_ups(self) -> list[str]:
        """Return the follow-up questions, joining bullets that wrap onto indented lines."""
        questions: list[str] = []
        for line in self.sections.get("Follow-up questions", "").splitlines():
            if line.startswith("- "):
                questions.append(line[2:].strip())
            elif line.startswith("  ") and questions and line.strip():
                questions[-1] += " " + line.strip()
        return questions

    def hints(self) -> list[str]:
        body = self.sections.get("Hints", "")
        parts = re.split(r"^### (.+)$", body, flags=re.MULTILINE)
        found = {parts[i].strip(): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
        return [found[level] for level in HINT_LEVELS if level in found]

    def public_markdown(self) -> str:
        """Return the statement a candidate reads: every section but the hints."""
        parts = [f"# {self.title}"]
        for heading, body in self.sections.items():
            if heading != "Hints":
                parts.append(f"## {heading}\n\n{body.strip()}")
        return "\n\n".join(parts) + "\n"


def parse_statement(text: str) -> Statement:
    match = re.match(r"\+\+\+\n(.*?)\n\+\+\+\n(.*)", text, re.DOTALL)
    if match is None:
        raise ValueError("a problem statement must start with TOML front matter between +++ lines")
    meta = tomllib.loads(match.group(1))
    body = match.group(2)
    pieces = re.split(r"^## (.+)$", body, flags=re.MULTILINE)
    sections = {pieces[i].strip(): pieces[i + 1].strip("\n") for i in range(1, len(pieces) - 1, 2)}
    return Statement(
        id=meta["id"],
        title=meta["title"],
        difficulty=meta.get("difficulty", ""),
        tags=tuple(meta.get("tags", ())),
        function=meta.get("function", ""),
        next=meta.get("next", ""),
        summary=meta.get("summary", ""),
        sections=sections,
    )


FIRST_PROBLEM = "cross-entropy"


@cache
def statements() -> dict[str, Statement]:
    """Load all statements, in the order of the ``next`` chain from the first problem, then any others."""
    found = {}
    for path in sorted(data_dir("problems").glob("*.md")):
        statement = parse_statement(path.read_text(encoding="utf-8"))
        found[statement.id] = statement
    ordered = {}
    current = FIRST_PROBLEM
    while current in found and current not in ordered:
        ordered[current] = found[current]
        current = found[current].next
    ordered.update((key, value) for key, value in found.items() if key not in ordered)
    return ordered


def statement(problem_id: str) -> Statement | None:
    return statements().get(problem_id)


def reference_solution(problem_id: str) -> Path:
    return data_dir("solutions") / problem_id / "reference.py"


def example_solutions() -> Path:
    return data_dir("solutions")
