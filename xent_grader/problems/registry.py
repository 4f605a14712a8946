"""The problems this grader knows, by id and by the function name a submission defines."""

from __future__ import annotations

import difflib
from functools import cache

from xent_grader.problems.base import Problem


class UnknownProblem(ValueError):
    """A problem id that no problem has."""


@cache
def all_problems() -> tuple[Problem, ...]:
    from xent_grader.problems.cross_entropy import CrossEntropyProblem

    return (CrossEntropyProblem(),)


def problem_ids() -> list[str]:
    return [problem.id for problem in all_problems()]


def problem_by_id(problem_id: str) -> Problem:
    for problem in all_problems():
        if problem.id == problem_id:
            return problem
    close = difflib.get_close_matches(problem_id, problem_ids(), n=1)
    suggestion = f" Did you mean {close[0]}?" if close else ""
    raise UnknownProblem(
        f"Unknown problem {problem_id!r}.{suggestion} Run `xent-grade problems` to list them: {', '.join(problem_ids())}."
    )


def problem_by_function(function_name: str) -> Problem | None:
    for problem in all_problems():
        if problem.function_name == function_name:
            return problem
    return None
