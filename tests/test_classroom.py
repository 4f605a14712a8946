"""Classroom mode: a folder in one command, one row per file, the class summary, files written whole."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest
from conftest import SOLUTIONS

GALLERY = SOLUTIONS / "cross-entropy" / "gallery"
CLASS = {
    "alice.py": SOLUTIONS / "cross-entropy" / "reference.py",
    "bob.py": GALLERY / "sum_instead_of_mean.py",
    "carol.py": GALLERY / "sum_instead_of_mean.py",
    "dave.py": GALLERY / "missing_negation.py",
    "erin.py": SOLUTIONS / "hostile" / "syntax_error.py",
    "frank.py": SOLUTIONS / "hostile" / "sleep_at_import.py",
}


def grade_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "xent_grader", *arguments]


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    for name, source in CLASS.items():
        shutil.copy(source, folder / name)
    return folder


@pytest.fixture(scope="module")
def class_run(class_folder, tmp_path_factory):
    sheet = tmp_path_factory.mktemp("out") / "grades.csv"
    command = grade_command(str(class_folder), "--format", "json", "--seed", "11", "--timeout", "3", "--csv", str(sheet))
    completed = subprocess.run(command, capture_output=True, timeout=300, stdin=subprocess.DEVNULL)
    return completed, json.loads(completed.stdout), sheet


def rows_by_name(document: dict) -> dict[str, dict]:
    return {os.path.basename(row["path"]): row for row in document["submissions"]}


def test_class_exit_code_is_below_threshold(class_run):
    completed, _, _ = class_run
    assert completed.returncode == 1


def test_class_one_row_per_file(class_run):
    _, document, _ = class_run
    assert sorted(rows_by_name(document)) == sorted(CLASS)


@pytest.mark.parametrize(
    ("name", "status", "mistake"),
    [
        ("alice.py", "ok", None),
        ("bob.py", "ok", "sum-instead-of-mean"),
        ("dave.py", "ok", "missing-negation"),
        ("erin.py", "syntax-error", None),
        ("frank.py", "timeout", None),
    ],
)
def test_class_row_status(class_run, name, status, mistake):
    _, document, _ = class_run
    row = rows_by_name(document)[name]
    assert row["status"] == status
    if mistake is not None:
        assert mistake in [m["id"] for m in row["mistakes"]]


def test_class_summary_counts_mistakes(class_run):
    _, document, _ = class_run
    summary = document["summary"]
    assert summary["files"] == 6
    assert summary["full_marks"] == 1
    assert summary["mistakes"]["sum-instead-of-mean"] == 2
    assert summary["statuses"]["timeout"] == 1
    assert summary["seed"] == 11


def test_class_csv_has_every_file(class_run):
    _, document, sheet = class_run
    with open(sheet, newline="") as file:
        rows = list(csv.DictReader(file))
    assert sorted(os.path.basename(row["file"]) for row in rows) == sorted(CLASS)
    scores = {os.path.basename(row["file"]): float(row["score"]) for row in rows}
    assert scores["alice.py"] == rows_by_name(document)["alice.py"]["score"]


def test_class_text_report_has_histogram(class_folder):
    completed = subprocess.run(
        grade_command(str(class_folder), "--seed", "11", "--timeout", "3"),
        capture_output=True, timeout=300, stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "120"},
    )
    text = completed.stdout.decode()
    assert completed.returncode == 1
    assert "sum-instead-of-mean: 2 of 6" in text
    assert "frank.py" in text


def test_interrupt_keeps_graded_rows(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(SOLUTIONS / "cross-entropy" / "reference.py", folder / "a_first.py")
    for index in range(4):
        shutil.copy(SOLUTIONS / "hostile" / "sleep_at_import.py", folder / f"z_sleeper_{index}.py")
    sheet = tmp_path / "grades.csv"
    process = subprocess.Popen(
        grade_command(str(folder), "--jobs", "1", "--timeout", "30", "--csv", str(sheet), "--format", "json"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )
    for line in process.stderr:
        if b"a_first.py" in line:
            break
    process.send_signal(signal.SIGINT)
    stdout, _ = process.communicate(timeout=60)
    assert process.returncode == 130
    document = json.loads(stdout)
    assert [os.path.basename(row["path"]) for row in document["submissions"]] == ["a_first.py"]
    assert sheet.read_text().count("\n") == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".grades")] == []


def test_export_gradescope_bundle(tmp_path):
    completed = subprocess.run(grade_command("export", "gradescope", str(tmp_path / "bundle")), capture_output=True, timeout=60)
    assert completed.returncode == 0
    bundle = tmp_path / "bundle"
    assert os.access(bundle / "setup.sh", os.X_OK)
    assert os.access(bundle / "run_autograder", os.X_OK)
    script = (bundle / "run_autograder").read_text()
    assert "--run-as student" in script
    assert "/autograder/results/results.json" in script
    assert "torch" in (bundle / "setup.sh").read_text()
    assert (bundle / "xent_grader" / "data" / "problems" / "cross-entropy.md").is_file()


@pytest.mark.skipif(os.geteuid() != 0, reason="--run-as needs root")
def test_run_as_unprivileged_user(tmp_path):
    submission = tmp_path / "spy.py"
    grader_file = tmp_path / "results.json"
    grader_file.write_text("{}")
    submission.write_text(
        "import os, torch\n"
        f"TARGET = {str(grader_file)!r}\n"
        "def cross_entropy_loss(logits, targets):\n"
        "    with open(TARGET, 'w') as f:\n"
        "        f.write('forged')\n"
        "    return torch.zeros(())\n"
    )
    completed = subprocess.run(
        grade_command(str(submission), "--run-as", "nobody", "--format", "json", "--seed", "1"),
        capture_output=True, timeout=120,
    )
    row = json.loads(completed.stdout)
    assert grader_file.read_text() == "{}"
    assert "raises-error" in [m["id"] for m in row["mistakes"]]
    assert "PermissionError" in json.dumps(row["mistakes"])


def test_odd_entries_each_get_a_row(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    shutil.copy(SOLUTIONS / "cross-entropy" / "reference.py", folder / "a.py")
    os.mkfifo(folder / "pipe.py")
    os.symlink("/etc/passwd", folder / "passwd.py")
    (folder / "dir.py").mkdir()
    completed = subprocess.run(
        grade_command(str(folder), "--format", "json", "--seed", "2", "--no-performance"),
        capture_output=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    rows = rows_by_name(json.loads(completed.stdout))
    assert sorted(rows) == ["a.py", "dir.py", "passwd.py", "pipe.py"]
    assert rows["a.py"]["status"] == "ok"
    assert "symbolic link" in rows["passwd.py"]["status_message"]
    assert "not a regular file" in rows["pipe.py"]["status_message"]
    assert "root:" not in json.dumps(rows["passwd.py"])


@pytest.mark.parametrize(
    ("cases", "message"),
    [
        ([{"logits": [[float("nan"), 1.0]], "targets": [0]}], "finite"),
        ([{"logits": [[0.0, 1.0]], "targets": [5]}], "class index from 0 to 1"),
        ([{"logits": [[0.0, 1.0], [2.0]], "targets": [0, 0]}], "same length"),
        ([{"logits": [[0.0, 1.0]], "targets": [0], "check": "speed"}], "use one of"),
    ],
)
def test_invalid_cases_file_is_usage_error(tmp_path, cases, message):
    cases_file = tmp_path / "cases.json"
    cases_file.write_text(json.dumps(cases))
    completed = subprocess.run(
        grade_command(str(SOLUTIONS / "cross-entropy" / "reference.py"), "--cases", str(cases_file)),
        capture_output=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert completed.returncode == 2
    assert message in completed.stderr.decode()
