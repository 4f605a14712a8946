"""What a submission's process can see and do: environment, descriptors, imports, folders, output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CORRECT_BODY = '''
def cross_entropy_loss(logits, targets):
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -log_probs.gather(1, targets[:, None]).mean()
'''

PROBE = '''
import os, sys, torch
REPORTED = False
def report():
    global REPORTED
    if REPORTED:
        return
    REPORTED = True
    print("ENV", sorted(os.environ))
    print("PROCENV", open("/proc/self/environ", "rb").read().decode(errors="replace"))
    print("FDS", sorted(int(fd) for fd in os.listdir("/proc/self/fd")))
    print("CWD", os.getcwd())
    print("PATH0", [entry for entry in sys.path if "probe_folder" in entry])
    print("STDIN", repr(sys.stdin.read()))
    print("FILE", __file__)
''' + CORRECT_BODY.replace("def cross_entropy_loss(logits, targets):", "def cross_entropy_loss(logits, targets):\n    report()")


def grade_json(path, *extra: str, env: dict | None = None, cwd=None) -> dict:
    command = [sys.executable, "-m", "xent_grader", str(path), "--format", "json", "--seed", "3", "--no-performance", *extra]
    completed = subprocess.run(command, capture_output=True, timeout=180, stdin=subprocess.DEVNULL, env=env, cwd=cwd)
    assert completed.returncode in (0, 1), completed.stderr.decode()[-2000:]
    return json.loads(completed.stdout)


@pytest.fixture(scope="module")
def probe_row(tmp_path_factory):
    folder = tmp_path_factory.mktemp("probe_folder")
    (folder / "torch.py").write_text("raise SystemExit('the shadowing torch.py was imported')\n")
    (folder / "sitecustomize.py").write_text("raise SystemExit('sitecustomize.py was imported')\n")
    submission = folder / "probe.py"
    submission.write_text(PROBE)
    env = {**os.environ, "XENT_TEST_SECRET": "hunter2"}
    # Run from the submission's folder, so a careless sys.path would pick up its torch.py.
    return grade_json(submission, env=env, cwd=folder), folder


def printed(row: dict, key: str) -> str:
    for line in row["output"].splitlines():
        if line.startswith(key + " "):
            return line[len(key) + 1 :]
    raise AssertionError(f"{key} not printed; output was {row['output'][:500]!r}")


def test_probe_still_gets_full_marks(probe_row):
    row, _ = probe_row
    assert row["status"] == "ok"
    assert row["score"] == row["max_score"]


def test_environment_is_scrubbed(probe_row):
    row, _ = probe_row
    assert "XENT_TEST_SECRET" not in printed(row, "ENV")
    assert "hunter2" not in printed(row, "PROCENV")


def test_only_standard_streams_and_result_pipes(probe_row):
    row, _ = probe_row
    descriptors = json.loads(printed(row, "FDS"))
    # 0-2 are the standard streams, two are the request and result pipes, and one is the
    # listing of /proc/self/fd itself while os.listdir reads it.
    assert len(descriptors) <= 6


def test_runs_in_throwaway_folder(probe_row):
    row, folder = probe_row
    cwd = printed(row, "CWD")
    assert "xent-grade-" in cwd
    assert not os.path.exists(cwd)
    assert str(folder) not in printed(row, "FILE")


def test_submission_folder_not_importable(probe_row):
    row, _ = probe_row
    assert printed(row, "PATH0") == "[]"


def test_stdin_is_empty(probe_row):
    row, _ = probe_row
    assert printed(row, "STDIN") == "''"


def test_output_cap_keeps_json_clean(tmp_path):
    submission = tmp_path / "chatty.py"
    submission.write_text("import torch\nprint('x' * 100_000)\n" + CORRECT_BODY)
    row = grade_json(submission)
    assert row["status"] == "ok"
    assert row["output_truncated"] is True
    assert len(row["output"]) <= 16 * 1024


def test_timeout_status_names_the_limit(tmp_path):
    submission = tmp_path / "slow.py"
    submission.write_text("import time, torch\n" + CORRECT_BODY.replace("):\n", "):\n    time.sleep(30)\n", 1))
    row = grade_json(submission, "--timeout", "2")
    assert row["status"] == "timeout"
    assert "2 s" in row["status_message"]
    assert row["score"] < row["max_score"]


def test_load_error_names_line_and_module(tmp_path):
    submission = tmp_path / "needs_package.py"
    submission.write_text("import torch\n\nimport not_a_package_xyz\n" + CORRECT_BODY)
    row = grade_json(submission)
    assert row["status"] == "load-error"
    assert "line 3" in row["status_message"]
    assert "not_a_package_xyz" in row["status_message"]


def test_missing_function_suggests_name(tmp_path):
    submission = tmp_path / "typo.py"
    submission.write_text("import torch\n" + CORRECT_BODY.replace("cross_entropy_loss", "cross_entropy_los"))
    row = grade_json(submission, "--problem", "cross-entropy")
    assert row["status"] == "missing-function"
    assert "cross_entropy_los" in row["status_message"]
    assert "--function" in row["status_message"]


def test_function_option_grades_other_name(tmp_path):
    submission = tmp_path / "renamed.py"
    submission.write_text("import torch\n" + CORRECT_BODY.replace("cross_entropy_loss", "my_loss"))
    row = grade_json(submission, "--function", "my_loss", "--problem", "cross-entropy")
    assert row["status"] == "ok"
    assert row["score"] == row["max_score"]
