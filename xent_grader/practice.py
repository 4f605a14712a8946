"""Practice helpers: starter files, hints one level at a time, and grading again on save."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from xent_grader import catalog


class PracticeError(Exception):
    """A practice command that cannot go on, with a message saying what to do."""


def state_file() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "xent-grade" / "hints.json"


def _load_levels() -> dict[str, int]:
    try:
        data = json.loads(state_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {key: value for key, value in data.items() if isinstance(key, str) and type(value) is int}


def next_hint(problem_id: str, level: int | None) -> tuple[int, int, str]:
    """Return (level, number of levels, text): the requested level, else the one after the last shown."""
    statement = catalog.statement(problem_id)
    hints = statement.hints() if statement else []
    if not hints:
        raise PracticeError(f"The problem {problem_id!r} has no hints.")
    levels = _load_levels()
    chosen = level if level is not None else min(levels.get(problem_id, 0) + 1, len(hints))
    if not 1 <= chosen <= len(hints):
        raise PracticeError(f"Hint level {chosen} does not exist: {problem_id} has levels 1 to {len(hints)}.")
    levels[problem_id] = max(levels.get(problem_id, 0), chosen)
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(levels), encoding="utf-8")
    return chosen, len(hints), hints[chosen - 1]


def write_starter(problem_id: str, destination: Path, overwrite: bool) -> None:
    statement = catalog.statement(problem_id)
    if statement is None or not statement.starter_code:
        raise PracticeError(f"The problem {problem_id!r} has no starter code.")
    if destination.exists() and not overwrite:
        raise PracticeError(f"{destination} already exists. Choose another name, or pass --force to overwrite it.")
    if not destination.parent.is_dir():
        raise PracticeError(f"the folder {destination.parent} does not exist. Create it first, or choose another path.")
    header = f'# {statement.title}: run `xent-grade {destination.name}` to grade this file.\n'
    destination.write_text(header + statement.starter_code, encoding="utf-8")


def watch(path: Path, grade_once: Callable[[], None], poll_seconds: float = 0.5, rounds: int | None = None) -> None:
    """Grade now, then again each time the file's modification time changes (until Ctrl-C)."""
    last = None
    graded = 0
    while rounds is None or graded < rounds:
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if stamp is not None and stamp != last:
            last = stamp
            grade_once()
            graded += 1
            continue
        time.sleep(poll_seconds)
