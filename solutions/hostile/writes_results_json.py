"""Write a Gradescope-style results.json with a score of 100 into the working directory
and next to this file, and return a loss of zero.

The grader must ignore files the submission writes, and write its own results only after
the submission's process and all its descendants have ended.
"""

# expect: mistakes=wrong-value

import json
import pathlib

import torch

FAKE_RESULTS = {"score": 100, "output": "All tests passed.", "tests": []}


def _write_fake_results() -> None:
    destinations = (
        pathlib.Path.cwd() / "results.json",
        pathlib.Path(__file__).with_name("results.json"),
    )
    for path in destinations:
        # A read-only directory must not turn the wrong value into a raised error.
        try:
            path.write_text(json.dumps(FAKE_RESULTS))
        except OSError:
            pass


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    _write_fake_results()
    return logits.new_zeros(())
