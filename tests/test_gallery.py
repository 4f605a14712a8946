"""Every reference and gallery solution gets the verdict its `# expect:` lines declare."""

from __future__ import annotations

import pytest
from conftest import SOLUTIONS
from expectations import read_expectation, unmet

from xent_grader.grading.grade import GradeOptions, grade_file

GALLERY = sorted(
    path for path in SOLUTIONS.glob("*/**/*.py") if path.parts[-2] != "hostile" and "hostile" not in path.parts
)


def test_gallery_is_not_empty():
    assert len(GALLERY) >= 20


@pytest.mark.parametrize("path", GALLERY, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_gallery_verdict(path):
    expectation = read_expectation(path)
    assert expectation.full_marks or expectation.status or expectation.mistakes or expectation.score is not None
    report = grade_file(path, GradeOptions(seed=20261204, performance=False))
    assert unmet(expectation, report) == []
