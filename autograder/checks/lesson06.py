"""Lesson 06 - the attention trick: averaging the past by loops, by a matrix, by masked softmax."""

import contextlib
import inspect

import torch

from ..compare import CheckFailed
from ..tasks import task
from .kit import randn


def inputs() -> dict[str, torch.Tensor]:
    """Seeded (B, T, C) inputs, edge cases included."""
    return {
        "x (B=4, T=8, C=2)": randn(4, 8, 2, seed=1),
        "x (B=3, T=5, C=7)": randn(3, 5, 7, seed=2),
        "T=1": randn(2, 1, 3, seed=3),
        "batch of 1": randn(1, 6, 4, seed=4),
        "C=1, T=16": randn(2, 16, 1, seed=5),
        "non-contiguous x": randn(3, 4, 6, seed=6).transpose(1, 2),  # (3, 6, 4), not contiguous
        "float64 x": randn(2, 5, 3, seed=7, dtype=torch.float64),
    }


def average_cases(fn) -> dict:
    cases = {}
    for label, x in inputs().items():
        before = x.clone()
        out = fn(x)
        if not torch.equal(x, before):
            raise CheckFailed("your function changed x in place; build a new tensor instead")
        cases[label] = out
        cases[f"{label}: dtype"] = str(out.dtype) if isinstance(out, torch.Tensor) else type(out).__name__
    return cases


@task("06.average_loop", points=2, target="average_past_loop",
      hint="for every b and t: the mean over time of x[b] up to and including t; start from torch.zeros_like(x)")
def loop_cases(average_past_loop):
    return average_cases(average_past_loop)


@task("06.average_matmul", points=2, target="average_past_matmul",
      hint="wei = lower-triangular ones (T, T) divided by its row sums (keepdim=True); return wei @ x")
def matmul_cases(average_past_matmul):
    return average_cases(average_past_matmul)


@task("06.causal_mask", points=1, target="causal_mask",
      hint="a bool (T, T) tensor, True on and below the diagonal: torch.tril of ones")
def mask_cases(causal_mask):
    cases = {}
    for T in (1, 2, 5, 8, 13):
        cases[f"causal_mask({T})"] = causal_mask(T)
    return cases


@contextlib.contextmanager
def reference_mask(fn):
    """Let fn use a correct causal_mask while it runs: a wrong mask is task 06.causal_mask's fault."""
    names = getattr(inspect.unwrap(fn), "__globals__", {})  # the student's own function, not a wrapper
    saved = names.get("causal_mask", None)
    if "causal_mask" in names:
        names["causal_mask"] = lambda T: torch.tril(torch.ones(T, T, dtype=torch.bool))
    try:
        yield
    finally:
        if "causal_mask" in names:
            names["causal_mask"] = saved


@task("06.average_softmax", points=2, target="average_past_softmax",
      hint="scores = zeros (T, T) in x's dtype and device; masked_fill the future (above the diagonal) with -inf; softmax over dim=-1; @ x")
def softmax_cases(average_past_softmax):
    with reference_mask(average_past_softmax):
        return average_cases(average_past_softmax)
