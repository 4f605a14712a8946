"""Reports for other graders: Gradescope, JUnit XML, PrairieLearn, the CSV grade sheet, atomic writes.

The Gradescope checks follow its published autograder specification
(https://gradescope-autograders.readthedocs.io/en/latest/specs/). At the top level, ``score`` and
``execution_time`` are numbers, ``output`` is a string and ``tests`` is a list. Each test has a
``name`` (string), ``score`` and ``max_score`` (numbers), a ``status`` ("passed" or "failed"), an
``output`` (string) and a ``visibility`` ("hidden", "after_due_date", "after_published" or "visible").
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from dataclasses import replace

import pytest
from conftest import SOLUTIONS

from xent_grader.grading.grade import GradeOptions, grade_file
from xent_grader.render import platforms

REFERENCE = SOLUTIONS / "cross-entropy" / "reference.py"
WRONG = SOLUTIONS / "cross-entropy" / "gallery" / "missing_negation.py"
SEED = 11
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
CLI_TIMEOUT_SECONDS = 120


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@pytest.fixture(scope="module")
def cli_gradescope(tmp_path_factory):
    """Start `--format gradescope -o FILE` on the wrong file, so it runs while the tests grade in-process."""
    folder = tmp_path_factory.mktemp("gradescope")
    results = folder / "results" / "results.json"
    command = [
        sys.executable, "-m", "xent_grader", str(WRONG), "--format", "gradescope", "-o", str(results),
        "--seed", str(SEED),
    ]
    environment = {**os.environ, "NO_COLOR": "1", "XDG_STATE_HOME": str(folder / "state")}
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    yield process, results
    if process.poll() is None:
        process.kill()
        process.communicate()


@pytest.fixture(scope="module")
def reports(cli_gradescope, tmp_path_factory):
    """Real reports: full marks, a diagnosed mistake, and a file that does not parse."""
    broken = tmp_path_factory.mktemp("broken") / "broken.py"
    broken.write_text("def cross_entropy_loss(logits, targets)\n    return 0\n", encoding="utf-8")
    options = GradeOptions(seed=SEED)
    return {
        "correct": grade_file(REFERENCE, options),
        "wrong": grade_file(WRONG, options),
        "syntax-error": grade_file(broken, options),
    }


@pytest.fixture(scope="module")
def cli_results(cli_gradescope):
    process, results = cli_gradescope
    stdout, stderr = process.communicate(timeout=CLI_TIMEOUT_SECONDS)
    return process.returncode, stdout, stderr, results


def test_reports_are_what_they_seem(reports):
    assert reports["correct"].full_marks
    assert reports["wrong"].status == "ok"
    assert 0 < reports["wrong"].score < reports["wrong"].max_score
    assert reports["syntax-error"].status == "syntax-error"


# Gradescope


def assert_gradescope_fields(results: dict) -> None:
    assert is_number(results["score"])
    assert is_number(results["execution_time"])
    assert isinstance(results["output"], str)
    assert isinstance(results["tests"], list)
    assert results.get("visibility", "visible") in VISIBILITIES
    assert results.get("stdout_visibility", "visible") in VISIBILITIES
    for test in results["tests"]:
        assert isinstance(test["name"], str), test
        assert is_number(test["score"]), test
        assert is_number(test["max_score"]), test
        assert test["status"] in ("passed", "failed"), test
        assert isinstance(test["output"], str), test
        assert test["visibility"] in VISIBILITIES, test


@pytest.mark.parametrize("kind", ["correct", "wrong", "syntax-error"])
def test_gradescope_fields(reports, kind):
    results = json.loads(platforms.gradescope_json(reports[kind]))

    assert_gradescope_fields(results)


@pytest.mark.parametrize("kind", ["correct", "wrong", "syntax-error"])
def test_gradescope_scores_sum(reports, kind):
    results = platforms.gradescope_results(reports[kind])

    assert sum(test["score"] for test in results["tests"]) == pytest.approx(results["score"], abs=1e-9)
    assert results["score"] == reports[kind].score


@pytest.mark.parametrize("kind", ["correct", "wrong"])
def test_gradescope_one_test_per_check(reports, kind):
    report = reports[kind]

    tests = platforms.gradescope_results(report)["tests"]

    assert [test["name"] for test in tests] == [check.title for check in report.checks]
    assert sum(test["max_score"] for test in tests) == report.max_score


def test_gradescope_failed_checks_failed(reports):
    report = reports["wrong"]

    tests = platforms.gradescope_results(report)["tests"]

    assert [test["status"] == "passed" for test in tests] == [check.passed for check in report.checks]
    assert any(test["status"] == "failed" for test in tests)


def test_gradescope_output_names_mistake(reports):
    results = platforms.gradescope_results(reports["wrong"])

    assert "missing-negation" in results["output"]


def test_gradescope_syntax_error_one_failed_test(reports):
    report = reports["syntax-error"]

    tests = platforms.gradescope_results(report)["tests"]

    assert len(tests) == 1
    assert tests[0]["status"] == "failed"
    assert tests[0]["max_score"] == report.max_score
    assert "line 1" in tests[0]["output"]


def test_gradescope_cli_exit_code(cli_results):
    returncode, _, stderr, _ = cli_results

    assert returncode == 1, stderr


def test_gradescope_cli_stdout_empty(cli_results):
    _, stdout, _, _ = cli_results

    assert stdout == ""


def test_gradescope_cli_file_fields(cli_results):
    _, _, stderr, results_path = cli_results
    assert results_path.is_file(), stderr

    results = json.loads(results_path.read_text(encoding="utf-8"))

    assert_gradescope_fields(results)
    assert sum(test["score"] for test in results["tests"]) == pytest.approx(results["score"], abs=1e-9)


def test_gradescope_cli_matches_api(cli_results, reports):
    _, _, _, results_path = cli_results
    from_cli = json.loads(results_path.read_text(encoding="utf-8"))

    from_api = platforms.gradescope_results(reports["wrong"])

    assert from_cli["score"] == from_api["score"]
    assert [test["score"] for test in from_cli["tests"]] == [test["score"] for test in from_api["tests"]]


def test_gradescope_cli_no_temporary_files(cli_results):
    _, _, _, results_path = cli_results

    assert sorted(path.name for path in results_path.parent.iterdir()) == ["results.json"]


# JUnit XML


def parse_junit(reports_list) -> ElementTree.Element:
    return ElementTree.fromstring(platforms.junit_xml(reports_list))


def test_junit_one_suite_per_report(reports):
    root = parse_junit(list(reports.values()))

    assert root.tag == "testsuites"
    assert [suite.get("name") for suite in root.findall("testsuite")] == [r.path for r in reports.values()]


@pytest.mark.parametrize("kind", ["correct", "wrong"])
def test_junit_one_testcase_per_check(reports, kind):
    report = reports[kind]

    suite = parse_junit([report]).find("testsuite")

    assert [case.get("name") for case in suite.findall("testcase")] == [check.title for check in report.checks]


@pytest.mark.parametrize("kind", ["correct", "wrong"])
def test_junit_failures_on_failed_checks(reports, kind):
    report = reports[kind]

    suite = parse_junit([report]).find("testsuite")
    failed = [case.get("name") for case in suite.findall("testcase") if case.find("failure") is not None]

    assert failed == [check.title for check in report.checks if not check.passed]
    assert suite.get("failures") == str(len(failed))


def test_junit_failure_names_mistake(reports):
    suite = parse_junit([reports["wrong"]]).find("testsuite")

    failures = [case.find("failure") for case in suite.findall("testcase")]
    texts = [failure.text or "" for failure in failures if failure is not None]

    assert texts
    assert all("missing-negation" in text for text in texts)


def test_junit_syntax_error_fails(reports):
    suite = parse_junit([reports["syntax-error"]]).find("testsuite")

    cases = suite.findall("testcase")

    assert len(cases) == 1
    assert cases[0].find("failure").get("type") == "syntax-error"
    assert suite.get("tests") == "1"
    assert suite.get("failures") == "1"


@pytest.mark.parametrize("kind", ["correct", "wrong", "syntax-error"])
def test_junit_tests_count_matches(reports, kind):
    suite = parse_junit([reports[kind]]).find("testsuite")

    assert suite.get("tests") == str(len(suite.findall("testcase")))


@pytest.mark.parametrize("status", ["not-attempted", "timeout"])
def test_junit_tests_count_with_checks_and_bad_status(reports, status):
    report = replace(reports["wrong"], status=status, status_message="stopped early")

    suite = parse_junit([report]).find("testsuite")

    assert suite.get("tests") == str(len(suite.findall("testcase")))


# PrairieLearn


@pytest.mark.parametrize("kind", ["correct", "wrong", "syntax-error"])
def test_prairielearn_score_range(reports, kind):
    score = platforms.prairielearn_results(reports[kind])["score"]

    assert 0.0 <= score <= 1.0


@pytest.mark.parametrize("kind", ["correct", "wrong", "syntax-error"])
def test_prairielearn_score_fraction(reports, kind):
    report = reports[kind]

    score = platforms.prairielearn_results(report)["score"]

    # Rounded to 4 decimals by design, so within half a unit of the 4th decimal.
    assert score == pytest.approx(report.score / report.max_score, abs=5e-5)


def test_prairielearn_full_marks_is_one(reports):
    assert platforms.prairielearn_results(reports["correct"])["score"] == 1.0


def test_prairielearn_json_serializable(reports):
    text = json.dumps(platforms.prairielearn_results(reports["wrong"]))

    assert json.loads(text)["tests"][0]["max_points"] == reports["wrong"].checks[0].max_score


def test_prairielearn_syntax_error_not_gradable(reports):
    assert platforms.prairielearn_results(reports["syntax-error"])["gradable"] is False


# CSV grade sheet

FORMULA_PATHS = ['=HYPERLINK("http://example.invalid")', "+1.py", "-2.py", "@SUM(A1).py", "\tTAB.py"]
PLAIN_PATHS = ["plain.py", 'a,b "quoted".py', "line\nbreak.py"]


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.mark.parametrize("path", FORMULA_PATHS, ids=["equals", "plus", "minus", "at", "tab"])
def test_csv_escapes_formula_cell(reports, path):
    report = replace(reports["wrong"], path=path)

    rows = read_csv(platforms.grade_sheet_csv([report]))

    assert rows[1][0] == "'" + path


@pytest.mark.parametrize("path", PLAIN_PATHS, ids=["plain", "comma-quote", "newline"])
def test_csv_keeps_plain_cell(reports, path):
    report = replace(reports["wrong"], path=path)

    rows = read_csv(platforms.grade_sheet_csv([report]))

    assert rows[1][0] == path


def test_csv_one_row_per_report(reports):
    many = [replace(reports["wrong"], path=path) for path in FORMULA_PATHS + PLAIN_PATHS]

    rows = read_csv(platforms.grade_sheet_csv(many))

    assert rows[0] == ["file", "problem", "status", "score", "max_score", "mistakes", "seed"]
    assert len(rows) == 1 + len(many)


def test_csv_row_values(reports):
    report = reports["wrong"]

    row = read_csv(platforms.grade_sheet_csv([report]))[1]

    assert row[1:5] == [report.problem, report.status, f"{report.score:g}", f"{report.max_score:g}"]
    assert row[5].split(";") == [mistake.id for mistake in report.mistakes]
    assert row[6] == str(SEED)


# write_atomically


def test_write_atomically_writes_text(tmp_path):
    target = tmp_path / "results.json"

    platforms.write_atomically(target, "new content\n")

    assert target.read_text(encoding="utf-8") == "new content\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["results.json"]


def test_write_atomically_creates_folders(tmp_path):
    target = tmp_path / "results" / "deep" / "results.json"

    platforms.write_atomically(target, "{}")

    assert target.read_text(encoding="utf-8") == "{}"


def test_write_atomically_replaces_old(tmp_path):
    target = tmp_path / "grades.csv"
    target.write_text("old\n", encoding="utf-8")

    platforms.write_atomically(target, "new\n")

    assert target.read_text(encoding="utf-8") == "new\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["grades.csv"]


class HalfWriter:
    """A file that writes half of the text, then raises ``error`` (a full disk, or Ctrl-C)."""

    def __init__(self, file, error: BaseException) -> None:
        self.file = file
        self.error = error

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> bool:
        self.file.close()
        return False

    def write(self, text: str) -> int:
        self.file.write(text[: len(text) // 2])
        self.file.flush()
        raise self.error


def fail_writes_halfway(monkeypatch, error: BaseException) -> None:
    real_fdopen = os.fdopen

    def fdopen(fd, *args, **kwargs):
        return HalfWriter(real_fdopen(fd, *args, **kwargs), error)

    monkeypatch.setattr(os, "fdopen", fdopen)


WRITE_ERRORS = [OSError(28, "No space left on device"), KeyboardInterrupt()]


@pytest.mark.parametrize("error", WRITE_ERRORS, ids=["disk-full", "interrupt"])
def test_write_atomically_failed_write_keeps_old(tmp_path, monkeypatch, error):
    target = tmp_path / "results.json"
    target.write_text('{"score": 10}\n', encoding="utf-8")
    fail_writes_halfway(monkeypatch, error)

    with pytest.raises(type(error)):
        platforms.write_atomically(target, '{"score": 100, "tests": []}\n')
    monkeypatch.undo()

    assert target.read_text(encoding="utf-8") == '{"score": 10}\n'
    assert sorted(path.name for path in tmp_path.iterdir()) == ["results.json"]


def test_write_atomically_failed_rename_keeps_old(tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    target.write_text("old\n", encoding="utf-8")

    def failing_replace(source, destination):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "replace", failing_replace)

    with pytest.raises(OSError):
        platforms.write_atomically(target, "new\n")
    monkeypatch.undo()

    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["results.json"]


def test_write_atomically_failed_first_write_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    fail_writes_halfway(monkeypatch, OSError(28, "No space left on device"))

    with pytest.raises(OSError):
        platforms.write_atomically(target, "x" * 10_000)
    monkeypatch.undo()

    assert list(tmp_path.iterdir()) == []
