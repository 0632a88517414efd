"""Lesson 06 - the attention trick: averaging the past by loops, by a matrix, by masked softmax."""

import contextlib
import inspect

import torch

from ..compare import CheckFailed
from ..misconceptions import Misconception, diagnosed, matches
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


# --- what a mistaken average gives: out = W @ x for a (T, T) weight matrix W, on the check's own inputs ---

def ones(T: int) -> torch.Tensor:
    return torch.ones(T, T, dtype=torch.float64)


def rows(T: int) -> torch.Tensor:
    """(T, 1): the row index t, as a float."""
    return torch.arange(T, dtype=torch.float64)[:, None]


def cols(T: int) -> torch.Tensor:
    """(1, T): the column index s, as a float."""
    return torch.arange(T, dtype=torch.float64)[None, :]


WEIGHTS = {  # name: T -> (T, T) weights, float64 (0/0 gives the NaN rows a mistake gives)
    "sum of the past": lambda T: ones(T).tril(),
    "mean of the future": lambda T: ones(T).triu() / (T - rows(T)),
    "mean of the strict past": lambda T: ones(T).tril(-1) / rows(T),
    "divided by column sums": lambda T: ones(T).tril() / (T - cols(T)),
    "divided by s + 1": lambda T: ones(T).tril() / (cols(T) + 1),
    "the row average, transposed": lambda T: (ones(T).tril() / (rows(T) + 1)).T,
    "divided by T": lambda T: ones(T).tril() / T,
    "mean of all positions": lambda T: ones(T) / T,
    "mean of the strict future": lambda T: ones(T).triu(1) / (T - 1 - rows(T)),
}


def averaged_by(name: str):
    """Test: every output is WEIGHTS[name](T) @ x, for every input of the check."""
    def shows(actual, expected):
        return all(matches(actual[label], WEIGHTS[name](x.shape[1]) @ x.double()) for label, x in inputs().items())
    return shows


def mean_over_channels_too(actual, expected):
    def want(x):
        T = x.shape[1]
        return ((ones(T).tril() / (rows(T) + 1)) @ x.double()).mean(dim=-1, keepdim=True).expand(x.shape)
    return all(matches(actual[label], want(x)) for label, x in inputs().items())


def lost_dtype(actual, expected):
    return actual["float64 x: dtype"] == "torch.float32"


KEEP_DTYPE = Misconception("the average keeps x's dtype (float64 in, float64 out): make new tensors with "
                           "torch.zeros_like(x) or dtype=x.dtype, and do not convert the result", lost_dtype)


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


@task("06.average_loop", points=2, target="average_past_loop", compare=diagnosed(
      Misconception("the average at t includes x[b, t] itself: x[b, :t + 1].mean(dim=0), not x[b, :t] (empty at "
                    "t = 0, hence NaN)", averaged_by("mean of the strict past")),
      Misconception("average, not sum: x[b, :t + 1].mean(dim=0) (the sum divided by t + 1)",
                    averaged_by("sum of the past")),
      Misconception("average the past, x[b, :t + 1] (positions 0..t), not the future x[b, t:]",
                    averaged_by("mean of the future")),
      Misconception("average over time only, each channel on its own: x[b, :t + 1].mean(dim=0), not .mean() of "
                    "every number", mean_over_channels_too),
      KEEP_DTYPE),
      hint="for every b and t: the mean over time of x[b] up to and including t; start from torch.zeros_like(x)")
def loop_cases(average_past_loop):
    return average_cases(average_past_loop)


@task("06.average_matmul", points=2, target="average_past_matmul", compare=diagnosed(
      Misconception("divide each row of wei by its own sum, wei.sum(dim=1, keepdim=True), not by the column sums "
                    "(dim=0)", averaged_by("divided by column sums")),
      Misconception("wei.sum(dim=1) needs keepdim=True: the (T,) sums divide wei's columns, the (T, 1) sums its rows",
                    averaged_by("divided by s + 1")),
      Misconception("wei is lower-triangular (row t averages positions 0..t): wei @ x, not wei.T @ x, which averages "
                    "the future", averaged_by("the row average, transposed")),
      Misconception("divide row t by its own count t + 1 (the row sum), not by T", averaged_by("divided by T")),
      KEEP_DTYPE),
      hint="wei = lower-triangular ones (T, T) divided by its row sums (keepdim=True); return wei @ x")
def matmul_cases(average_past_matmul):
    return average_cases(average_past_matmul)


MASK_SIZES = (1, 2, 5, 8, 13)


def mask_is(make):
    """Test: causal_mask(T) equals make(T) for every T the check tries."""
    def shows(actual, expected):
        return all(matches(actual[f"causal_mask({T})"], make(T)) for T in MASK_SIZES)
    return shows


def lower(T: int, diagonal: int = 0) -> torch.Tensor:
    return torch.ones(T, T, dtype=torch.bool).tril(diagonal)


@task("06.causal_mask", points=1, target="causal_mask", compare=diagnosed(
      Misconception("the mask must be a bool tensor (True where a position may attend): torch.ones(T, T, "
                    "dtype=torch.bool).tril(), not float ones", mask_is(lambda T: lower(T).float())),
      Misconception("True on and below the diagonal (torch.tril, the past): yours is True above it, on the future",
                    mask_is(lambda T: torch.ones(T, T, dtype=torch.bool).triu())),
      Misconception("keep the diagonal: a position may attend to itself (torch.tril(..., diagonal=0), not -1)",
                    mask_is(lambda T: lower(T, -1))),
      Misconception("the mask is inverted: True marks the positions that may be attended (on and below the "
                    "diagonal), not the future", mask_is(lambda T: ~lower(T)))),
      hint="a bool (T, T) tensor, True on and below the diagonal: torch.tril of ones")
def mask_cases(causal_mask):
    cases = {}
    for T in MASK_SIZES:
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


@task("06.average_softmax", points=2, target="average_past_softmax", compare=diagnosed(
      Misconception("softmax over the last dim (dim=-1: each row's weights sum to 1), not dim=0 (the columns)",
                    averaged_by("divided by column sums")),
      Misconception("mask the future: -inf above the diagonal (where tril is 0), not below it",
                    averaged_by("mean of the future")),
      Misconception("fill the future with float('-inf'), not 0: softmax gives a score of 0 the weight e^0 = 1, so "
                    "the future still counts", averaged_by("mean of all positions")),
      Misconception("masked_fill sets the scores where the mask is True: fill the future (~causal_mask(T), or "
                    "tril == 0) with -inf, not the past", averaged_by("mean of the strict future")),
      KEEP_DTYPE),
      hint="scores = zeros (T, T) in x's dtype and device; masked_fill the future (above the diagonal) with -inf; softmax over dim=-1; @ x")
def softmax_cases(average_past_softmax):
    with reference_mask(average_past_softmax):
        return average_cases(average_past_softmax)
