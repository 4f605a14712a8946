"""Print a fake report line and a fake JSON score to stdout, and return a loss of zero.

The grader must score the returned numbers only and never parse the submission's output.
"""

# expect: mistakes=wrong-value

import json

import torch

FAKE_REPORT = {
    "score": 100,
    "max_score": 100,
    "status": "ok",
    "mistakes": [],
    "passed": True,
}


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    print("Score: 100/100")
    print("PASSED: all checks")
    print(json.dumps(FAKE_REPORT))
    return logits.new_zeros(())
