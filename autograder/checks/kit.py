"""The small kit every check shares: seeded inputs, seeded parameters, and a few input facts.

Check files import from here and never from each other. Everything is seeded by an explicit number,
so an exercise gives the same inputs in the grader, in a notebook and in `make fixtures`.
"""

from __future__ import annotations

import contextlib
import random

import torch
from torch import nn

from ..calls import hint_for, passes_through
from ..compare import CheckFailed
from ..wording import describe_exception


def generator(seed: int) -> torch.Generator:
    """A fresh torch.Generator: the global random state is never touched by a check's inputs."""
    return torch.Generator().manual_seed(seed)


def randn(*shape: int, seed: int, dtype: torch.dtype = torch.float32, scale: float = 1.0,
          shift: float = 0.0) -> torch.Tensor:
    """Normal numbers * scale + shift, drawn and shifted in float64, rounded once to dtype.

    (Drawing in float64 makes a float32 and a float64 input of the same seed hold the same values, and
    keeps `shift=100` from costing the small part its precision.)
    """
    values = torch.randn(*shape, generator=generator(seed), dtype=torch.float64) * scale + shift
    return values.to(dtype)


def randint(*shape: int, high: int, seed: int) -> torch.Tensor:
    """int64 ids in [0, high): token ids, targets, prompts."""
    return torch.randint(high, shape, generator=generator(seed))


def set_params(module: nn.Module, seed: int, scale: float) -> nn.Module:
    """Fill every parameter, in name order, with normal(0, scale) numbers from one seeded generator.

    Parameters are set by name, so any correct implementation with the given __init__ computes the
    same outputs. Choose scale so that activations stay of order 1 (about 1/sqrt(fan-in)): float32
    rounding then stays far below the compare's tolerances on every CPU.
    """
    gen = generator(seed)
    with torch.no_grad():
        for _, p in sorted(module.named_parameters(), key=lambda item: item[0]):
            p.copy_(torch.randn(p.shape, generator=gen) * scale)
    return module


def seeded_params(shapes: dict[str, tuple[int, ...]], seed: int, scale: float) -> dict[str, torch.Tensor]:
    """The values set_params(module, seed, scale) gives a module whose parameters have these names and shapes
    (without building it): a misconception's test rebuilds what a mistaken forward computes from them."""
    gen = generator(seed)
    return {name: torch.randn(shapes[name], generator=gen) * scale for name in sorted(shapes)}


def random_strings(seed: int, n: int, alphabet: str, max_len: int = 60) -> list[str]:
    """n strings of 1..max_len characters drawn from alphabet."""
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, max_len))) for _ in range(n)]


def random_sentences(seed: int, n: int, words: list[str], glue: list[str], max_words: int = 12) -> list[str]:
    """n texts of 1..max_words words, each followed by a random piece of punctuation or whitespace."""
    rng = random.Random(seed)
    return ["".join(rng.choice(words) + rng.choice(glue) for _ in range(rng.randint(1, max_words)))
            for _ in range(n)]


def non_contiguous(x: torch.Tensor) -> torch.Tensor:
    """The same values as x, laid out in memory so that x.is_contiguous() is False."""
    out = x.transpose(-2, -1).contiguous().transpose(-2, -1)
    assert not out.is_contiguous()
    return out


def unchanged(x: torch.Tensor, before: torch.Tensor, name: str = "its input tensor") -> None:
    """Raise CheckFailed if the student's code changed x (whose copy is `before`) in place."""
    if not torch.equal(x, before):
        raise CheckFailed(f"your code changed {name} in place; work on new tensors instead")


def same_values(a: torch.Tensor, b: torch.Tensor) -> bool:
    """a and b agree up to float32 rounding, whatever the order of the sums that made them.

    For property cases ("the past does not change when the future does") that compare two outputs of
    the student's code: the tolerance is relative to the largest value, because a matmul of another
    shape may sum in another order, while a leak from the future changes values by order 1.
    """
    if a.shape != b.shape:
        return False
    scale = max(a.abs().nan_to_num(0.0).max().item(), b.abs().nan_to_num(0.0).max().item(), 1.0) if a.numel() else 1.0
    return bool(torch.allclose(a, b, rtol=1e-5, atol=1e-5 * scale))  # NaN is never close


@contextlib.contextmanager
def case(label: str):
    """For exercise code that uses the student's outputs (out @ w, out.sum().backward()): if that raises,
    fail naming the case, instead of with a bare error. (Calls of the student's target are named by
    autograder.calls already.)"""
    try:
        yield
    except Exception as err:  # noqa: BLE001 - a malformed output may break anything
        if passes_through(err):
            raise
        raise CheckFailed(f"{label}: {describe_exception(err)}{hint_for(err)}") from None


ATTEND_SHAPES = {"q, k, v (B=2, nh=3, T=8, hs=8)": (2, 3, 8, 8), "T=5 < block_size": (2, 3, 5, 8),
                 "T=1": (2, 3, 1, 8), "batch of 1, one head": (1, 1, 6, 8)}


def attend_shape_cases(attend, seed: int) -> dict:
    """attend(q, k, v) on the shapes every attention check tries, with dtypes; inputs must stay unchanged."""
    cases = {}
    for i, (label, shape) in enumerate(ATTEND_SHAPES.items()):
        q, k, v = (randn(*shape, seed=seed + 3 * i + j) for j in range(3))
        before = [t.clone() for t in (q, k, v)]
        out = attend(q, k, v)
        for t, t0 in zip((q, k, v), before):
            unchanged(t, t0)
        cases[label] = out
        cases[f"{label}: dtype"] = str(out.dtype)
    return cases
