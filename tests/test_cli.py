"""The real `python -m xent_grader` command line, run in subprocesses with stdin closed.

Every command of the module runs once, concurrently, in the `runs` fixture, so the file costs a few
grading runs of wall time instead of one per test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import SOLUTIONS

from xent_grader import catalog

REFERENCE = SOLUTIONS / "cross-entropy" / "reference.py"
WRONG = SOLUTIONS / "cross-entropy" / "gallery" / "missing_negation.py"
SEED = "5"
COMMAND_TIMEOUT_SECONDS = 180
ANSI_ESCAPE = "\x1b["

PRINTS_SOURCE = '''
import sys

import torch

print("hello from import")
print('{"score": 100, "status": "ok"}')
print("to stderr at import", file=sys.stderr)


def cross_entropy_loss(logits, targets):
    print("called with", tuple(logits.shape))
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -log_probs[torch.arange(targets.numel()), targets].mean()
'''
SYNTAX_ERROR_SOURCE = "import torch\n\ndef cross_entropy_loss(logits, targets)\n    return logits.sum()\n"
NEAR_NAME_SOURCE = "import torch\n\n\ndef cross_entropy_los(logits, targets):\n    return logits.sum()\n"

JSON_KEY_TYPES = {
    "path": str,
    "problem": str,
    "status": str,
    "score": (int, float),
    "max_score": (int, float),
    "checks": list,
    "mistakes": list,
    "output": str,
    "seed": int,
}
CHECK_KEY_TYPES = {
    "id": str,
    "title": str,
    "passed": bool,
    "score": (int, float),
    "max_score": (int, float),
    "message": str,
}
MISTAKE_KEY_TYPES = {
    "id": str,
    "title": str,
    "evidence": str,
    "hint": str,
    "counterexample": (dict, type(None)),
}
COUNTEREXAMPLE_KEY_TYPES = {"code": str, "expected": str, "got": str}


def environment(state: Path, no_color: bool = True) -> dict[str, str]:
    """Plain environment of a pipe: no forced colors or width, practice state in ``state``."""
    dropped = ("NO_COLOR", "FORCE_COLOR", "COLUMNS")
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    env["XDG_STATE_HOME"] = str(state)
    env["TERM"] = "xterm-256color"
    if no_color:
        env["NO_COLOR"] = "1"
    return env


def run_cli(arguments: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "xent_grader", *arguments],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=COMMAND_TIMEOUT_SECONDS,
    )


def words(text: str) -> str:
    """Join the lines Rich wrapped at 80 columns, so a sentence can be searched whole."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def starter(folder):
    path = folder / "starter.py"
    result = run_cli(["init", "cross-entropy", str(path)], environment(folder / "state"), folder)
    return result, path


@pytest.fixture(scope="module")
def runs(folder, starter):
    """Run every command once, four at a time, and index the results by name."""
    prints = folder / "prints.py"
    prints.write_text(PRINTS_SOURCE, encoding="utf-8")
    syntax_error = folder / "syntax_error.py"
    syntax_error.write_text(SYNTAX_ERROR_SOURCE, encoding="utf-8")
    near_name = folder / "near_name.py"
    near_name.write_text(NEAR_NAME_SOURCE, encoding="utf-8")
    _, starter_path = starter
    json_seeded = ["--format", "json", "--seed", SEED]

    commands = {
        "reference": ([str(REFERENCE), "--seed", SEED], True),
        "wrong-text": ([str(WRONG), "--seed", SEED], False),
        "wrong-json": ([str(WRONG), *json_seeded], True),
        "wrong-fail-under": ([str(WRONG), *json_seeded, "--fail-under", "40"], True),
        "missing-path": (["missing_solution.py"], True),
        "problem-nope": ([str(REFERENCE), "--problem", "nope"], True),
        "problem-near": ([str(REFERENCE), "--problem", "cross-entropi"], True),
        "prints": ([str(prints), *json_seeded], True),
        "syntax-error": ([str(syntax_error), *json_seeded], True),
        "near-name": ([str(near_name), *json_seeded], True),
        "starter": ([str(starter_path), *json_seeded], True),
        "problems": (["problems"], True),
        "show": (["show", "cross-entropy"], True),
        "solution": (["solution", "cross-entropy"], True),
    }
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            name: pool.submit(run_cli, arguments, environment(folder / "state", no_color), folder)
            for name, (arguments, no_color) in commands.items()
        }
        return {name: future.result() for name, future in futures.items()}


def report_of(result: subprocess.CompletedProcess) -> dict:
    return json.loads(result.stdout)


# Grading a file


def test_reference_exit_code(runs):
    assert runs["reference"].returncode == 0, runs["reference"].stderr


def test_reference_verdict_first_line(runs):
    first_line = runs["reference"].stdout.splitlines()[0]

    assert first_line.startswith("PASS")
    assert "100/100" in first_line


def test_reference_progress_on_stderr(runs):
    assert f"(seed {SEED})" in words(runs["reference"].stderr)
    assert "grading" not in runs["reference"].stdout.splitlines()[0]


def test_mistake_exit_code(runs):
    assert runs["wrong-text"].returncode == 1, runs["wrong-text"].stderr


def test_mistake_named(runs):
    assert "missing-negation" in runs["wrong-text"].stdout


def test_mistake_score_below_max(runs):
    assert runs["wrong-json"].returncode == 1, runs["wrong-json"].stderr
    report = report_of(runs["wrong-json"])

    # The threshold of the next test is meaningful only between this score and full marks.
    assert 40 <= report["score"] < report["max_score"]


def test_fail_under_below_score_passes(runs):
    assert runs["wrong-fail-under"].returncode == 0, runs["wrong-fail-under"].stderr


@pytest.mark.parametrize("name", ["reference", "wrong-text"], ids=["no-color-set", "piped-only"])
def test_output_has_no_ansi(runs, name):
    assert ANSI_ESCAPE not in runs[name].stdout
    assert ANSI_ESCAPE not in runs[name].stderr


# JSON output


def test_json_exit_code(runs):
    assert runs["wrong-json"].returncode == 1, runs["wrong-json"].stderr


def test_json_only_on_stdout(runs):
    stdout = runs["wrong-json"].stdout

    report = json.loads(stdout)

    assert isinstance(report, dict)
    assert stdout.lstrip().startswith("{")
    assert stdout.rstrip().endswith("}")


@pytest.mark.parametrize("key", sorted(JSON_KEY_TYPES))
def test_json_key_types(runs, key):
    report = report_of(runs["wrong-json"])

    assert isinstance(report[key], JSON_KEY_TYPES[key])
    assert type(report[key]) is not bool


def test_json_check_fields(runs):
    checks = report_of(runs["wrong-json"])["checks"]

    assert checks
    for check in checks:
        for key, kind in CHECK_KEY_TYPES.items():
            assert isinstance(check[key], kind), (key, check)


def test_json_mistake_fields(runs):
    mistakes = report_of(runs["wrong-json"])["mistakes"]

    assert mistakes
    for mistake in mistakes:
        for key, kind in MISTAKE_KEY_TYPES.items():
            assert isinstance(mistake[key], kind), (key, mistake)


def test_json_counterexample_fields(runs):
    mistakes = report_of(runs["wrong-json"])["mistakes"]
    examples = [mistake["counterexample"] for mistake in mistakes if mistake["counterexample"] is not None]

    assert examples
    for example in examples:
        for key, kind in COUNTEREXAMPLE_KEY_TYPES.items():
            assert isinstance(example[key], kind), (key, example)


def test_json_values(runs):
    report = report_of(runs["wrong-json"])

    assert report["path"] == str(WRONG)
    assert report["problem"] == "cross-entropy"
    assert report["status"] == "ok"
    assert report["seed"] == int(SEED)
    assert report["score"] == pytest.approx(sum(check["score"] for check in report["checks"]), abs=0.05)


def test_same_seed_same_grade(runs):
    # --fail-under only changes the exit code, so the second run grades exactly like the first.
    first = report_of(runs["wrong-json"])
    second = report_of(runs["wrong-fail-under"])

    assert first["score"] == second["score"]
    assert first["checks"] == second["checks"]
    assert [m["id"] for m in first["mistakes"]] == [m["id"] for m in second["mistakes"]]


# Files that print, do not parse, or miss the function


def test_printing_file_exit_code(runs):
    assert runs["prints"].returncode == 0, runs["prints"].stderr


def test_printing_file_json_intact(runs):
    report = report_of(runs["prints"])

    assert report["score"] == report["max_score"]


PRINTED_LINES = ["hello from import", '{"score": 100, "status": "ok"}', "to stderr at import", "called with"]


@pytest.mark.parametrize("printed", PRINTED_LINES)
def test_printing_file_output_key(runs, printed):
    assert printed in report_of(runs["prints"])["output"]


@pytest.mark.parametrize("printed", ["hello from import", '{"score": 100, "status": "ok"}'])
def test_printing_file_stdout_not_leaked(runs, printed):
    # Inside the JSON the printed text is one escaped string, never a line of its own.
    assert printed not in runs["prints"].stdout.splitlines()


def test_printing_file_stderr_not_leaked(runs):
    assert "to stderr at import" not in runs["prints"].stderr


def test_syntax_error_status(runs):
    assert runs["syntax-error"].returncode == 1, runs["syntax-error"].stderr
    report = report_of(runs["syntax-error"])

    assert report["status"] == "syntax-error"
    assert report["score"] == 0


def test_syntax_error_line(runs):
    assert "line 3" in report_of(runs["syntax-error"])["status_message"]


def test_near_name_status(runs):
    assert runs["near-name"].returncode == 1, runs["near-name"].stderr

    assert report_of(runs["near-name"])["status"] == "missing-function"


def test_near_name_did_you_mean(runs):
    assert "Did you mean cross_entropy_loss?" in report_of(runs["near-name"])["status_message"]


def test_starter_written(starter):
    result, path = starter

    assert result.returncode == 0, result.stderr
    assert "def cross_entropy_loss(" in path.read_text(encoding="utf-8")


def test_starter_not_attempted(runs):
    assert runs["starter"].returncode == 1, runs["starter"].stderr

    assert report_of(runs["starter"])["status"] == "not-attempted"


def test_init_existing_file_rejected(folder, starter):
    _, path = starter

    result = run_cli(["init", "cross-entropy", str(path)], environment(folder / "state"), folder)

    assert result.returncode == 2
    assert "--force" in words(result.stderr)


# Usage errors


def test_missing_path_exit_code(runs):
    assert runs["missing-path"].returncode == 2


def test_missing_path_named(runs):
    message = words(runs["missing-path"].stderr)

    assert "missing_solution.py" in message
    assert "not found" in message


def test_long_path_in_error_whole(tmp_path):
    # `init` rejects an existing file with the same error console that `grade` uses, without
    # loading torch.
    long_path = tmp_path / ("a_folder_name_long_enough_to_pass_eighty_columns_" * 2) / "solution.py"
    long_path.parent.mkdir()
    long_path.write_text("x = 1\n", encoding="utf-8")

    result = run_cli(["init", "cross-entropy", str(long_path)], environment(tmp_path / "state"), tmp_path)

    assert result.returncode == 2
    assert str(long_path) in result.stderr


def test_init_missing_folder_usage_error(tmp_path):
    path = tmp_path / "no" / "such" / "folder" / "solution.py"

    result = run_cli(["init", "cross-entropy", str(path)], environment(tmp_path / "state"), tmp_path)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_unknown_problem_exit_code(runs):
    assert runs["problem-nope"].returncode == 2


def test_unknown_problem_named(runs):
    message = words(runs["problem-nope"].stderr)

    assert "'nope'" in message
    assert "xent-grade problems" in message


def test_near_problem_did_you_mean(runs):
    assert runs["problem-near"].returncode == 2

    assert "Did you mean cross-entropy?" in words(runs["problem-near"].stderr)


# Practice commands


@pytest.mark.parametrize("name", ["problems", "show", "solution"])
def test_practice_command_exit_code(runs, name):
    assert runs[name].returncode == 0, runs[name].stderr


def test_problems_lists_graded_problem(runs):
    assert "cross-entropy" in runs["problems"].stdout


def test_problems_lists_whole_ids(runs):
    # Piped output is 80 columns wide, and an id cut short to fit could not be passed back.
    listed = {line.split()[0] for line in runs["problems"].stdout.splitlines() if line.split()}

    missing = [problem_id for problem_id in catalog.statements() if problem_id not in listed]

    assert missing == []


def test_show_prints_statement(runs):
    assert "Cross-entropy loss from logits" in runs["show"].stdout


def test_show_hides_hints(runs):
    first_hint = words(catalog.statement("cross-entropy").hints()[0])

    assert first_hint[:60] not in words(runs["show"].stdout)


def test_solution_prints_code(runs):
    assert "def cross_entropy_loss(" in runs["solution"].stdout


@pytest.mark.parametrize("name", ["problems", "show", "solution"])
def test_practice_command_no_ansi(runs, name):
    assert ANSI_ESCAPE not in runs[name].stdout


def test_hint_levels_advance(tmp_path):
    env = environment(tmp_path / "state")

    results = [run_cli(["hint", "cross-entropy"], env, tmp_path) for _ in range(4)]

    assert [result.returncode for result in results] == [0, 0, 0, 0]
    assert [result.stdout.splitlines()[0] for result in results] == [
        "Hint 1 of 3 (Concept)",
        "Hint 2 of 3 (Approach)",
        "Hint 3 of 3 (Key step)",
        "Hint 3 of 3 (Key step)",
    ]


def test_hint_level_out_of_range(tmp_path):
    result = run_cli(["hint", "cross-entropy", "--level", "4"], environment(tmp_path / "state"), tmp_path)

    assert result.returncode == 2
    assert "levels 1 to 3" in words(result.stderr)
