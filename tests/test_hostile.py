"""The hostile gallery, graded in one command: one row per file, no false pass, nothing left running."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import psutil
import pytest
from conftest import SOLUTIONS
from expectations import read_expectation

HOSTILE = sorted((SOLUTIONS / "hostile").glob("*.py"))
TIMEOUT_SECONDS = "5"


def _leftover_processes(since: float) -> list[str]:
    """Processes started since ``since`` that belong to a submission: run in its temp dir or its sleep code."""
    found = []
    for process in psutil.process_iter(["pid", "create_time", "cmdline", "cwd"]):
        info = process.info
        if (info["create_time"] or 0) < since or info["pid"] == psutil.Process().pid:
            continue
        cmdline = " ".join(info["cmdline"] or [])
        if "xent-grade-" in (info["cwd"] or "") or "time.sleep(" in cmdline:
            found.append(f"{info['pid']} in {info['cwd']}: {cmdline[:120]}")
    return found


def _wait_for_leftovers_to_end(since: float, seconds: float = 5.0) -> list[str]:
    """A SIGKILLed process that was filling memory can take a moment to exit; allow it that long."""
    deadline = time.monotonic() + seconds
    leftovers = _leftover_processes(since)
    while leftovers and time.monotonic() < deadline:
        time.sleep(0.2)
        leftovers = _leftover_processes(since)
    return leftovers


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade a copy of the hostile gallery with the command line, once, and index the rows by file name."""
    folder = tmp_path_factory.mktemp("hostile")
    for path in HOSTILE:
        shutil.copy(path, folder / path.name)
    started = time.time()
    command = [sys.executable, "-m", "xent_grader", str(folder), "--format", "json", "--seed", "7",
               "--timeout", TIMEOUT_SECONDS, "--memory-limit", "1024", "--jobs", "2"]
    completed = subprocess.run(command, capture_output=True, timeout=600, stdin=subprocess.DEVNULL)
    return {
        "completed": completed,
        "document": json.loads(completed.stdout),
        "leftovers": _wait_for_leftovers_to_end(started),
        "folder": folder,
    }


def test_batch_exits_normally(graded):
    assert graded["completed"].returncode == 1, graded["completed"].stderr.decode()[-2000:]


def test_one_row_per_file(graded):
    names = sorted(row["path"].rsplit("/", 1)[-1] for row in graded["document"]["submissions"])
    assert names == sorted(path.name for path in HOSTILE)


def test_nothing_left_running(graded):
    assert graded["leftovers"] == []


def test_forged_files_do_not_count(graded):
    forged = graded["folder"] / "results.json"
    if forged.exists():
        assert json.loads(forged.read_text())["score"] == 100
    rows = {row["path"].rsplit("/", 1)[-1]: row for row in graded["document"]["submissions"]}
    writer = next(name for name in rows if "results" in name and "write" in name)
    assert rows[writer]["score"] < rows[writer]["max_score"]


@pytest.mark.parametrize("path", HOSTILE, ids=lambda path: path.stem)
def test_hostile_verdict(graded, path):
    expectation = read_expectation(path)
    rows = {row["path"].rsplit("/", 1)[-1]: row for row in graded["document"]["submissions"]}
    row = rows[path.name]
    ids = [mistake["id"] for mistake in row["mistakes"]]
    if expectation.full_marks:
        assert (row["status"], row["score"], ids) == ("ok", row["max_score"], [])
        return
    assert row["score"] < row["max_score"] or row["status"] != "ok"
    if expectation.status:
        assert row["status"] == expectation.status, row["status_message"]
    else:
        assert row["status"] == "ok", row["status_message"]
    for mistake in expectation.mistakes:
        assert mistake in ids


def test_oversized_file_is_rejected(tmp_path):
    big = tmp_path / "huge.py"
    big.write_text("import torch\n" + "# padding\n" * 200_000)
    completed = subprocess.run(
        [sys.executable, "-m", "xent_grader", str(big), "--format", "json"], capture_output=True, timeout=120
    )
    row = json.loads(completed.stdout)
    assert row["status"] == "load-error"
    assert "(1 MiB)" in row["status_message"]
