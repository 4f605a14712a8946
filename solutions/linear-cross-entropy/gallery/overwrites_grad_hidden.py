"""Overwrite grad_hidden with each chunk's contribution in backward instead of adding to it, so
hidden.grad keeps only the last chunk's part once V spans more than one chunk.
"""

# expect: mistakes=wrong-gradient

import torch

# Each chunk of logits is N x CHUNK_SIZE; the full logits are N x V.
CHUNK_SIZE = 1024


def _chunk_bounds(vocab_size: int):
    for start in range(0, vocab_size, CHUNK_SIZE):
        yield start, min(start + CHUNK_SIZE, vocab_size)


class LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, targets):
        batch_size = hidden.shape[0]
        running_max = hidden.new_full((batch_size,), float("-inf"))
        running_sum = hidden.new_zeros(batch_size)

        for start, stop in _chunk_bounds(weight.shape[0]):
            logits = hidden @ weight[start:stop].T
            new_max = torch.maximum(running_max, logits.max(dim=1).values)
            # Rescale the sum so far to the new max before adding this chunk's terms.
            running_sum = running_sum * torch.exp(running_max - new_max)
            running_sum = running_sum + logits.sub_(new_max[:, None]).exp_().sum(dim=1)
            running_max = new_max

        # Each row's target logit is one dot product, so it needs no chunk of logits.
        target_logits = (hidden * weight[targets]).sum(dim=1)
        log_sum_exp = running_max + running_sum.log()
        ctx.save_for_backward(hidden, weight, targets, log_sum_exp)
        return (log_sum_exp - target_logits).mean()

    @staticmethod
    def backward(ctx, grad_output):
        hidden, weight, targets, log_sum_exp = ctx.saved_tensors
        batch_size = hidden.shape[0]
        scale = grad_output / batch_size
        grad_hidden = torch.zeros_like(hidden)
        grad_weight = torch.empty_like(weight)

        for start, stop in _chunk_bounds(weight.shape[0]):
            weight_chunk = weight[start:stop]
            # This chunk of the softmax, computed in place: exp(logits - log_sum_exp).
            grad_logits = (hidden @ weight_chunk.T).sub_(log_sum_exp[:, None]).exp_()
            rows = ((targets >= start) & (targets < stop)).nonzero().squeeze(1)
            grad_logits[rows, targets[rows] - start] -= 1.0
            grad_logits.mul_(scale)
            grad_hidden = grad_logits @ weight_chunk
            torch.mm(grad_logits.T, hidden, out=grad_weight[start:stop])

        return grad_hidden, grad_weight, None


def linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Return F.cross_entropy(hidden @ weight.T, targets) without building the (N, V) logits.

    The peak extra memory is a few N x CHUNK_SIZE chunks plus the gradients, whatever V is.
    """
    return LinearCrossEntropy.apply(hidden, weight, targets)
