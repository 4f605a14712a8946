"""The registered problems, looked up by id or by the function a submission defines."""

from __future__ import annotations

import difflib
import importlib
from functools import cache

from xent_grader.problems.base import Problem

# "module:class" of each problem, in the order `xent-grade problems` lists them.
PROBLEM_CLASSES = (
    "xent_grader.problems.cross_entropy:CrossEntropyProblem",
    "xent_grader.problems.label_smoothing:LabelSmoothingProblem",
    "xent_grader.problems.cross_entropy_grad:CrossEntropyGradProblem",
    "xent_grader.problems.cross_entropy_full:CrossEntropyFullProblem",
    "xent_grader.problems.bce_with_logits:BceWithLogitsProblem",
    "xent_grader.problems.linear_cross_entropy:LinearCrossEntropyProblem",
)


class UnknownProblem(ValueError):
    """A problem id that no problem has."""


@cache
def all_problems() -> tuple[Problem, ...]:
    problems = []
    for entry in PROBLEM_CLASSES:
        module_name, class_name = entry.split(":")
        problems.append(getattr(importlib.import_module(module_name), class_name)())
    return tuple(problems)


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


def problem_by_function(function_name: str, parameters: tuple[str, ...] = ()) -> Problem | None:
    """Pick the problem whose function has this name; among several, the one whose parameters fit best."""
    matches = [problem for problem in all_problems() if problem.function_name == function_name]
    if not matches:
        return None

    def fit(problem: Problem) -> tuple[int, int]:
        shared = len(set(problem.parameters) & set(parameters))
        return shared, -abs(len(problem.parameters) - len(parameters))

    return max(matches, key=fit)
