"""Write softmax by hand as exp(x) / exp(x).sum() without a max shift, then take the log. Large
logits give inf / inf = nan, and small target probabilities give log(0) = -inf.
"""

# expect: mistakes=no-max-shift,softmax-then-log

import torch


def cross_entropy_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    exps = torch.exp(logits)
    probs = exps / exps.sum(dim=1, keepdim=True)
    rows = torch.arange(len(targets))
    return -torch.log(probs[rows, targets]).mean()
