"""Lesson 07 - self-attention: weights, one head, multi-head, batched CausalSelfAttention.

Modules are built with fixed arguments (their __init__ is given) and every parameter is set by name
from a seeded generator, so any correct forward gives the reference outputs. Values are checked in
eval mode; dropout separately, in train mode with p=1.0 (everything dropped: the output is known) and
with p=0.5 after torch.manual_seed (where dropout sits decides which values survive).
Sub-modules whose code is another task (a head inside MultiHeadAttention, attend inside
CausalSelfAttention) run reference code, so each task is graded on its own.
"""

import contextlib
import math
import re
import types

import torch
from torch import nn
from torch.nn import functional as F

from ..compare import CheckFailed
from ..misconceptions import Misconception, diagnosed, matches
from ..tasks import task
from .kit import (ATTEND_SHAPES, attend_shape_cases, non_contiguous, randn, same_values, seeded_params, set_params,
                  unchanged)


# The settings CausalSelfAttention is graded with. The config itself is the notebook's GPTConfig
# (the model's one config, lesson 07): a field added there takes its default here.
CSA_SETTINGS = dict(n_embd=24, n_head=3, block_size=8, dropout=0.0, bias=True, flash=False)


def future_changed(x: torch.Tensor, t: int, seed: int) -> torch.Tensor:
    """x with every position after t (dimension -2) replaced by other random values."""
    x2 = x.clone()
    x2[..., t + 1:, :] = randn(*x2[..., t + 1:, :].shape, seed=seed)
    return x2


def ref_weights(q, k):
    T = q.size(-2)
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.size(-1))
    scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    return F.softmax(scores, dim=-1)


def ref_head_forward(self, x):
    """A correct Head.forward, used where a head is a part of another task."""
    return self.dropout(ref_weights(self.query(x), self.key(x))) @ self.value(x)


def ref_attend(self, q, k, v):
    """A correct CausalSelfAttention.attend, used to grade forward on its own."""
    return self.attn_dropout(ref_weights(q, k)) @ v


# --- for the diagnoses: what a mistaken attention gives, rebuilt in the grader from the check's seeded inputs ---

KEPT = {  # which scores each position keeps: T -> (T, T) bool
    "the past": lambda T: torch.ones(T, T, dtype=torch.bool).tril(),
    "the future": lambda T: torch.ones(T, T, dtype=torch.bool).triu(),
    "the strict past": lambda T: torch.ones(T, T, dtype=torch.bool).tril(-1),
    "everything": lambda T: torch.ones(T, T, dtype=torch.bool),
}


def weights_with(q, k, scale=lambda hs: hs ** -0.5, keep="the past", dim=-1, zero_after_softmax=False, swap=False):
    """Attention weights with (at most) one thing changed: the scale (a function of hs), the kept positions,
    the softmax's dim, the future zeroed after the softmax, k @ q^T for q @ k^T."""
    T = q.size(-2)
    scores = (k @ q.transpose(-2, -1) if swap else q @ k.transpose(-2, -1)) * scale(q.size(-1))
    kept = KEPT[keep](T)
    if zero_after_softmax:
        return F.softmax(scores, dim=dim).masked_fill(~kept, 0.0)
    return F.softmax(scores.masked_fill(~kept, float("-inf")), dim=dim)


def attention(q, k, v, dropout=None, draws=(), **mistake):
    """weights @ v; dropout: where the (one) dropout falls, "weights", "values", "output" or "scores"; draws: the
    dropout draws in the order they fall, (shape, p) each, made right after torch.manual_seed of the case."""
    masks = iter(draws)
    if dropout == "scores":  # masked with -1e9 (as -inf would give NaN), dropped, then softmax
        T = q.size(-2)
        scores = (q @ k.transpose(-2, -1)) * q.size(-1) ** -0.5
        return F.softmax(scores.masked_fill(~KEPT["the past"](T), -1e9) * next(masks), dim=-1) @ v
    w = weights_with(q, k, **mistake)
    if dropout == "weights":
        w = w * next(masks)
    if dropout == "values":
        v = v * next(masks)
    out = w @ v
    return out * next(masks) if dropout == "output" else out


def dropout_draws(seed, *shapes_and_p, before=lambda: None):
    """The masks (scaled by 1 / (1 - p)) that F.dropout draws for these (shape, p), one after the other, right after
    torch.manual_seed(seed) and `before` (what the check does in between); the grader's random state is kept."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        before()
        return [F.dropout(torch.ones(shape), p, training=True) for shape, p in shapes_and_p]


def linear(x, W, name):
    out = x @ W[f"{name}.weight"].T
    return out + W[f"{name}.bias"] if f"{name}.bias" in W else out


SHAPE_MISMATCH = re.compile(r"must match the size of tensor|size mismatch|Sizes of tensors must match|"
                            r"cannot be broadcast|shapes cannot be multiplied|Expected size")


def shape_error(err: CheckFailed) -> bool:
    """Whether the student's call (named by autograder.calls) failed on torch's shape mismatch."""
    return isinstance(err.__context__, RuntimeError) and bool(SHAPE_MISMATCH.search(str(err.__context__)))


@contextlib.contextmanager
def mask_cut_to(T: int, block_size: int, mask: str, earlier: tuple[int, ...] = ()):
    """The first call on T < block_size fails on a shape mismatch (after calls on the lengths `earlier`, none
    shorter than block_size, worked): say why."""
    try:
        yield
    except CheckFailed as err:
        if T < block_size and all(t >= block_size for t in earlier) and shape_error(err):
            raise CheckFailed(f"cut the mask to the input's length, {mask}: this T={T} is shorter than block_size "
                              f"{block_size} ({err})") from None
        raise


# ---------------------------------------------------------------------------------- weights

WEIGHT_SHAPES = {"(B=2, T=6, hs=8)": (2, 6, 8), "(B=3, T=8, hs=16)": (3, 8, 16), "T=1": (2, 1, 4),
                 "batch of 1": (1, 5, 4), "heads (B=2, nh=3, T=7, hs=4)": (2, 3, 7, 4)}


def weights_are(**mistake):
    """Test: attention_weights gave weights_with(q, k, **mistake) on every shape the check tries."""
    def shows(actual, expected):
        return all(matches(actual[label], weights_with(randn(*shape, seed=10 + i), randn(*shape, seed=20 + i), **mistake))
                   for i, (label, shape) in enumerate(WEIGHT_SHAPES.items()))
    return shows


WEIGHTS_MISCONCEPTIONS = (
    Misconception("scale the scores by 1/sqrt(hs), hs = q.size(-1): unscaled they grow with the head size and the "
                  "softmax turns nearly one-hot", weights_are(scale=lambda hs: 1.0)),
    Misconception("scale the scores by 1/sqrt(hs), not 1/hs", weights_are(scale=lambda hs: 1.0 / hs)),
    Misconception("mask the future: -inf above the diagonal (where tril is 0), not below it",
                  weights_are(keep="the future")),
    Misconception("softmax over the last dim (each query's weights over the keys sum to 1), not dim=-2",
                  weights_are(dim=-2)),
    Misconception("mask before the softmax (-inf, then softmax): zeroing the future afterwards leaves rows that do "
                  "not sum to 1", weights_are(zero_after_softmax=True)),
    Misconception("keep the diagonal: a position attends to itself too, so only the scores above the diagonal get "
                  "-inf (tril(ones) == 0)", weights_are(keep="the strict past")),
)


@task("07.attention_weights", points=2, target="attention_weights", compare=diagnosed(*WEIGHTS_MISCONCEPTIONS),
      hint="scores q @ k^T (swap the last two dims of k) times 1/sqrt(hs); -inf above the diagonal; softmax over the last dim")
def weights_cases(attention_weights):
    torch.manual_seed(0)  # anything random in the student's code (stray dropout) repeats exactly
    cases = {}
    for i, (label, shape) in enumerate(WEIGHT_SHAPES.items()):
        q, k = randn(*shape, seed=10 + i), randn(*shape, seed=20 + i)
        q0, k0 = q.clone(), k.clone()
        try:
            out = attention_weights(q, k)
        except CheckFailed as err:
            if len(shape) == 4 and shape_error(err):  # the (B, T, hs) shapes before it worked
                raise CheckFailed("q and k may have a heads dimension, (B, nh, T, hs): transpose k's last two dims, "
                                  f"k.transpose(-2, -1), and count every dim from the end ({err})") from None
            raise
        unchanged(q, q0), unchanged(k, k0)
        cases[label] = out
        cases[f"{label}: dtype"] = str(out.dtype)
    q, k = randn(2, 6, 8, seed=30), randn(2, 6, 8, seed=31)
    cases["non-contiguous q and k"] = attention_weights(non_contiguous(q), non_contiguous(k))
    # unscaled scores of this size would make a nearly one-hot softmax: the scale must show
    q, k = 3 * randn(1, 4, 64, seed=32), randn(1, 4, 64, seed=33)
    cases["hs=64"] = attention_weights(q, k)
    t = 2
    q, k = randn(2, 7, 8, seed=34), randn(2, 7, 8, seed=35)
    first = attention_weights(q, k)
    later = attention_weights(future_changed(q, t, 36), future_changed(k, t, 37))
    cases[f"rows 0..{t} unchanged when positions after {t} change"] = bool(
        same_values(first[:, :t + 1], later[:, :t + 1]))
    cases["weights above the diagonal are exactly 0"] = bool((first.triu(1) == 0).all())
    return cases


# ------------------------------------------------------------------------------------- Head

def make_head(Head, dropout=0.2, seed=40, n_embd=16, head_size=8, block_size=8):
    return set_params(Head(n_embd, head_size, block_size, dropout), seed, scale=0.2).eval()


HEAD_INPUTS = {"x (B=4, T=8, C=16)": ((4, 8, 16), 41), "T=5 < block_size": ((2, 5, 16), 42), "T=1": ((3, 1, 16), 43),
               "batch of 1": ((1, 6, 16), 44)}
ALL_DROPPED, HALF_DROPPED = ("train mode, dropout=1.0 (all weights dropped)",
                           "train mode, dropout=0.5, torch.manual_seed(1234): dropout on the attention weights")


def head_out(W, x, prefix="", **mistake):
    """Head.forward (every make_head has seed 40's weights) with one thing changed (attention's options)."""
    q, k, v = (x @ W[f"{prefix}{name}.weight"].T for name in ("query", "key", "value"))
    return attention(q, k, v, **mistake)


def head_gives(label=None, **mistake):
    """Test: the head's output in case `label` (every eval-mode case if None) is what `mistake` gives."""
    inputs = {**HEAD_INPUTS, ALL_DROPPED: ((2, 8, 16), 48), HALF_DROPPED: ((2, 8, 16), 49)}

    def shows(actual, expected):
        W = seeded_params({f"{name}.weight": (8, 16) for name in ("key", "query", "value")}, 40, 0.2)
        draws = dropout_draws(1234, ((2, 8, 8), 0.5)) if label == HALF_DROPPED else ()
        return all(matches(actual[case], head_out(W, randn(*inputs[case][0], seed=inputs[case][1]), draws=draws,
                                                  **mistake))
                   for case in ([label] if label else HEAD_INPUTS))
    return shows


HEAD_MISCONCEPTIONS = (
    Misconception("scale the scores by 1/sqrt(head_size), the size of q and k (k.size(-1)), not 1/sqrt(C) of the "
                  "input", head_gives(scale=lambda hs: 16 ** -0.5)),
    Misconception("the scores are q @ k^T (row t: query t against every key), not k @ q^T", head_gives(swap=True)),
    Misconception("softmax over the last dim (over the keys), not dim=1 (over the queries)", head_gives(dim=-2)),
    Misconception("mask the future: fill the scores where self.tril[:T, :T] == 0 with -inf before the softmax",
                  head_gives(keep="everything")),
    Misconception("apply self.dropout to the attention weights (in train mode with dropout=1.0 every weight is "
                  "dropped: the output is 0)", head_gives(ALL_DROPPED)),
    Misconception("dropout goes on the attention weights, self.dropout(wei) @ v, not on the output",
                  head_gives(HALF_DROPPED, dropout="output")),
    Misconception("dropout goes on the attention weights, self.dropout(wei) @ v, not on the values",
                  head_gives(HALF_DROPPED, dropout="values")),
)


@task("07.head", points=3, target="Head.forward", compare=diagnosed(*HEAD_MISCONCEPTIONS),
      hint="key, query, value of x; weights as in attention_weights (scale by the head size), mask with self.tril[:T, :T]; dropout on the weights; then @ v")
def head_cases(Head):
    torch.manual_seed(0)  # anything random in the student's code (stray dropout) repeats exactly
    head = make_head(Head)
    cases = {}
    inputs = {label: randn(*shape, seed=seed) for label, (shape, seed) in HEAD_INPUTS.items()}
    lengths = []  # of the calls that worked
    with torch.no_grad():
        for label, x in inputs.items():
            x0 = x.clone()
            with mask_cut_to(x.shape[1], 8, "self.tril[:T, :T]", earlier=tuple(lengths)):
                out = head(x)
            lengths.append(x.shape[1])
            unchanged(x, x0)
            cases[label] = out
            cases[f"{label}: dtype"] = str(out.dtype)
        cases["non-contiguous x"] = head(non_contiguous(randn(2, 8, 16, seed=45)))
        x = randn(2, 8, 16, seed=46)
        cases["positions 0..3 unchanged when later tokens change"] = bool(
            same_values(head(x)[:, :4], head(future_changed(x, 3, 47))[:, :4]))
        dropped = make_head(Head, dropout=1.0).train()
        cases[ALL_DROPPED] = dropped(randn(2, 8, 16, seed=48))
        half = make_head(Head, dropout=0.5).train()
        torch.manual_seed(1234)  # which weights dropout zeroes: only dropout on the weights gives these values
        cases[HALF_DROPPED] = half(randn(2, 8, 16, seed=49))
    return cases


# ------------------------------------------------------------------------------ multi-head

def make_mha(MultiHeadAttention, dropout=0.0, seed=50):
    mha = MultiHeadAttention(16, 4, 8, dropout)
    for head in mha.heads:  # the heads are task 07.head: run reference code in them
        head.forward = types.MethodType(ref_head_forward, head)
    expect_channels(mha.proj, "self.proj", "the 4 heads' outputs, (B, T, 4) each, concatenated along the last "
                                           "dimension: torch.cat(outputs, dim=-1)")
    return set_params(mha, seed, scale=0.2).eval()


def expect_channels(linear: torch.nn.Linear, name: str, what: str) -> None:
    """Make `linear` fail clearly, instead of with torch's matmul message, when fed the wrong last dimension."""
    forward = linear.forward

    def checked(x):
        if isinstance(x, torch.Tensor) and x.dim() >= 1 and x.shape[-1] != linear.in_features:
            raise CheckFailed(f"{name} was given a tensor of shape {tuple(x.shape)}; it takes "
                              f"(..., {linear.in_features}): {what}")
        return forward(x)

    linear.forward = checked


MHA_INPUTS = {"x (B=3, T=8, C=16)": ((3, 8, 16), 51), "T=1": ((2, 1, 16), 52), "batch of 1, T=5": ((1, 5, 16), 53)}
MHA_DROPPED = "train mode, dropout=1.0 (output dropped)"
MHA_HALF = "train mode, dropout=0.5, torch.manual_seed(1234): dropout after the projection"


def mha_out(W, x, order=(0, 1, 2, 3), interleave=False, proj=True, dropout="after proj", draws=()):
    """MultiHeadAttention.forward with one thing changed; draws: the dropout masks in the order they fall, the 4
    heads' attention weights' first, then the one `dropout` places ("after proj", "before proj", or None)."""
    masks = list(draws)
    outs = [head_out(W, x, prefix=f"heads.{h}.", dropout="weights", draws=[masks.pop(0)]) if masks else
            head_out(W, x, prefix=f"heads.{h}.") for h in order]
    out = torch.stack(outs, dim=-1).flatten(-2) if interleave else torch.cat(outs, dim=-1)
    if dropout == "before proj" and masks:
        out = out * masks.pop(0)
    out = linear(out, W, "proj") if proj else out
    return out * masks.pop(0) if dropout == "after proj" and masks else out


def mha_gives(label=None, draws=lambda: (), **mistake):
    """Test: the output in case `label` (every eval-mode case if None) is what `mistake` gives."""
    inputs = {**MHA_INPUTS, MHA_HALF: ((2, 8, 16), 56)}

    def shows(actual, expected):
        shapes = {f"heads.{h}.{n}.weight": (4, 16) for h in range(4) for n in ("key", "query", "value")}
        W = seeded_params({**shapes, "proj.weight": (16, 16), "proj.bias": (16,)}, 50, 0.2)
        return all(matches(actual[case], mha_out(W, randn(*inputs[case][0], seed=inputs[case][1]), draws=draws(),
                                                 **mistake))
                   for case in ([label] if label else MHA_INPUTS))
    return shows


def head_draws(*more):
    """The masks of MHA_HALF: each of the 4 heads' attention weights, then `more`."""
    return lambda: dropout_draws(1234, *[((2, 8, 8), 0.5)] * 4, *((shape, 0.5) for shape in more))


MHA_MISCONCEPTIONS = (
    Misconception("project the concatenated heads with self.proj, then self.dropout", mha_gives(proj=False)),
    Misconception("concatenate the heads in order, self.heads[0] first", mha_gives(order=(3, 2, 1, 0))),
    Misconception("concatenate with torch.cat(outputs, dim=-1), each head's channels side by side: stacking and "
                  "flattening interleaves them", mha_gives(interleave=True)),
    Misconception("apply self.dropout to the projection's output, self.dropout(self.proj(out))",
                  mha_gives(MHA_HALF, head_draws(), dropout=None)),
    Misconception("the dropout comes after the projection, self.dropout(self.proj(out)), not before it",
                  mha_gives(MHA_HALF, head_draws((2, 8, 16)), dropout="before proj")),
)


@task("07.multi_head", points=2, target="MultiHeadAttention.forward", compare=diagnosed(*MHA_MISCONCEPTIONS),
      hint="concatenate the heads' outputs along the channel dim (in order), then self.proj, then self.dropout")
def multi_head_cases(MultiHeadAttention):
    torch.manual_seed(0)  # anything random in the student's code (stray dropout) repeats exactly
    mha = make_mha(MultiHeadAttention, dropout=0.3)
    cases = {}
    inputs = {label: randn(*shape, seed=seed) for label, (shape, seed) in MHA_INPUTS.items()}
    with torch.no_grad():
        for label, x in inputs.items():
            out = mha(x)
            cases[label] = out
            cases[f"{label}: dtype"] = str(out.dtype)
        cases["non-contiguous x"] = mha(non_contiguous(randn(2, 8, 16, seed=54)))
        dropped = make_mha(MultiHeadAttention, dropout=1.0).train()
        cases[MHA_DROPPED] = dropped(randn(2, 8, 16, seed=55))
        half = make_mha(MultiHeadAttention, dropout=0.5).train()
        torch.manual_seed(1234)
        cases[MHA_HALF] = half(randn(2, 8, 16, seed=56))
    return cases


# ----------------------------------------------------------------------- CausalSelfAttention

def make_csa(CausalSelfAttention, GPTConfig, seed=60, reference_attend=False, **settings):
    csa = CausalSelfAttention(GPTConfig(**{**CSA_SETTINGS, **settings}))
    if reference_attend:  # attend is task 07.attend: grade forward without it
        csa.attend = types.MethodType(ref_attend, csa)
    return set_params(csa, seed, scale=0.2).eval()


def attend_inputs() -> dict:
    """{case label: (q, k, v)}, the check's inputs of the cases the diagnoses look at."""
    inputs = {label: tuple(randn(*shape, seed=61 + 3 * i + j) for j in range(3))
              for i, (label, shape) in enumerate(ATTEND_SHAPES.items())}
    inputs[ALL_DROPPED] = inputs[HALF_DROPPED] = tuple(randn(2, 3, 8, 8, seed=80 + j) for j in range(3))
    return inputs


def attend_gives(label=None, draws=lambda: (), **mistake):
    """Test: attend's output in case `label` (every shape case if None) is what `mistake` gives."""
    def shows(actual, expected):
        inputs = attend_inputs()
        return all(matches(actual[case], attention(*inputs[case], draws=draws(), **mistake))
                   for case in ([label] if label else ATTEND_SHAPES))
    return shows


def eval_mode_draws():
    """The dropout mask (p=0.3) a dropout that ignores eval mode draws in the check's first call: after
    torch.manual_seed(0) and the initialisation of make_csa's two Linear layers."""
    return dropout_draws(0, ((2, 3, 8, 8), 0.3), before=lambda: (nn.Linear(24, 72), nn.Linear(24, 24)))


ATTEND_MISCONCEPTIONS = (
    Misconception("scale the scores by 1/sqrt(hs), hs = k.size(-1): unscaled they grow with the head size and the "
                  "softmax turns nearly one-hot", attend_gives(scale=lambda hs: 1.0)),
    Misconception("scale by 1/sqrt(hs), the head size (k.size(-1)), not 1/sqrt(n_embd)",
                  attend_gives(scale=lambda hs: 24 ** -0.5)),
    Misconception("mask the future: the scores where self.mask[:, :, :T, :T] is False (above the diagonal) get "
                  "-inf, not the past", attend_gives(keep="the future")),
    Misconception("softmax over the last dim (over the keys), not dim=-2 (over the queries)", attend_gives(dim=-2)),
    Misconception("dropout only while training: use self.attn_dropout, which eval mode turns off (F.dropout needs "
                  "training=self.training)", attend_gives(next(iter(ATTEND_SHAPES)), eval_mode_draws, dropout="weights")),
    Misconception("apply self.attn_dropout to the attention weights after the softmax (in train mode with "
                  "dropout=1.0 every weight is dropped: the output is 0)", attend_gives(ALL_DROPPED)),
    Misconception("dropout goes on the attention weights after the softmax, not on the scores before it: a dropped "
                  "score is 0, not -inf, so the future gets weight again",
                  attend_gives(ALL_DROPPED, lambda: dropout_draws(0, ((2, 3, 8, 8), 1.0)), dropout="scores")),
    Misconception("dropout goes on the attention weights, self.attn_dropout(att) @ v, not on the output",
                  attend_gives(HALF_DROPPED, lambda: dropout_draws(1234, ((2, 3, 8, 8), 0.5)), dropout="output")),
    Misconception("dropout goes on the attention weights, self.attn_dropout(att) @ v, not on the values",
                  attend_gives(HALF_DROPPED, lambda: dropout_draws(1234, ((2, 3, 8, 8), 0.5)), dropout="values")),
)


def recording(attend, lengths: list):
    """attend, noting the length T of each call's q (for mask_cut_to)."""
    def call(q, k, v):
        lengths.append(q.size(-2))
        return attend(q, k, v)
    return call


@task("07.attend", points=3, target="CausalSelfAttention.attend", compare=diagnosed(*ATTEND_MISCONCEPTIONS),
      hint="scaled scores q @ k^T / sqrt(hs), masked with self.mask[:, :, :T, :T], softmax over the last dim, self.attn_dropout, then @ v")
def attend_cases(CausalSelfAttention, GPTConfig):
    torch.manual_seed(0)  # anything random in the student's code (stray dropout) repeats exactly
    csa = make_csa(CausalSelfAttention, GPTConfig, dropout=0.3)
    cases = {}
    with torch.no_grad():
        lengths = []  # of every call, the last one the call that failed
        try:
            cases.update(attend_shape_cases(recording(csa.attend, lengths), seed=61))
        except CheckFailed:
            if not lengths:
                raise
            with mask_cut_to(lengths[-1], 8, "self.mask[:, :, :T, :T]", earlier=tuple(lengths[:-1])):
                raise
        q, k, v = (randn(2, 3, 8, 8, seed=80 + j) for j in range(3))
        cases["non-contiguous q, k, v"] = csa.attend(*(non_contiguous(t) for t in (q, k, v)))
        cases["hs=32 (the scale matters more)"] = csa.attend(*(randn(1, 2, 6, 32, seed=84 + j) for j in range(3)))
        first = csa.attend(q, k, v)
        later = csa.attend(*(future_changed(t, 2, 90 + j) for j, t in enumerate((q, k, v))))
        cases["positions 0..2 unchanged when later ones change"] = bool(
            same_values(first[:, :, :3], later[:, :, :3]))
        dropped = make_csa(CausalSelfAttention, GPTConfig, dropout=1.0).train()
        cases[ALL_DROPPED] = dropped.attend(q, k, v)
        half = make_csa(CausalSelfAttention, GPTConfig, dropout=0.5).train()
        torch.manual_seed(1234)  # which weights dropout zeroes: only dropout on the weights gives these values
        cases[HALF_DROPPED] = half.attend(q, k, v)
    return cases


CSA_INPUTS = {"x (B=2, T=8, C=24), 3 heads": ((2, 8, 24), 101), "T=5 < block_size": ((3, 5, 24), 102),
              "T=1": ((2, 1, 24), 103), "batch of 1": ((1, 7, 24), 104)}
CSA_DROPPED = "train mode, dropout=1.0 (output dropped)"
CSA_HALF = "train mode, dropout=0.5, torch.manual_seed(1234): resid_dropout after c_proj"


def csa_out(W, x, n_head=3, swap_qk=False, strided=False, reshaped=False, merge_transposed=True, proj=True,
            dropout="resid", draws=()):
    """CausalSelfAttention.forward with one thing changed; draws: the dropout masks, in the order they fall (the
    attention weights' first, then the one `dropout` places: "resid" after c_proj, "before proj", or None)."""
    B, T, C = x.shape
    hs = C // n_head
    q, k, v = linear(x, W, "c_attn").split(C, dim=2)
    if swap_qk:
        q, k = k, q
    heads = [t.reshape(B, T, hs, n_head).permute(0, 3, 1, 2) if strided else t.reshape(B, n_head, T, hs) if reshaped
             else t.reshape(B, T, n_head, hs).transpose(1, 2) for t in (q, k, v)]
    masks = list(draws)
    w = weights_with(*heads[:2])
    y = (w * masks.pop(0) if masks else w) @ heads[2]
    y = (y.permute(0, 2, 3, 1) if strided else y.transpose(1, 2) if merge_transposed else y).reshape(B, T, C)
    if dropout == "before proj" and masks:
        y = y * masks.pop(0)
    out = linear(y, W, "c_proj") if proj else y
    return out * masks.pop(0) if dropout == "resid" and masks else out


def csa_gives(label=None, draws=lambda: (), **mistake):
    """Test: forward's output in case `label` (every eval-mode case if None) is what `mistake` gives."""
    def shows(actual, expected):
        shapes = {"c_attn.weight": (72, 24), "c_attn.bias": (72,), "c_proj.weight": (24, 24), "c_proj.bias": (24,)}
        if label is None:
            W = seeded_params(shapes, 60, 0.2)
            return all(matches(actual[case], csa_out(W, randn(*shape, seed=seed), **mistake))
                       for case, (shape, seed) in CSA_INPUTS.items())
        W = seeded_params(shapes, 115, 0.2)
        return matches(actual[label], csa_out(W, randn(2, 8, 24, seed=112), draws=draws(), **mistake))
    return shows


def half_draws(*shapes):
    return lambda: dropout_draws(1234, *((shape, 0.5) for shape in shapes))


CSA_MISCONCEPTIONS = (
    Misconception("c_attn's output splits as q, k, v, in that order: q, k, v = self.c_attn(x).split(self.n_embd, "
                  "dim=2)", csa_gives(swap_qk=True)),
    Misconception("head h takes the channels h*hs to (h+1)*hs: view(B, T, n_head, hs).transpose(1, 2), not "
                  "view(B, T, hs, n_head)", csa_gives(strided=True)),
    Misconception("cut into heads with view(B, T, n_head, hs), then transpose(1, 2): a reshape straight to (B, n_head, "
                  "T, hs) mixes positions and heads", csa_gives(reshaped=True)),
    Misconception("transpose y back to (B, T, n_head, hs) before the reshape to (B, T, C): a reshape of (B, n_head, "
                  "T, hs) alone mixes positions and heads", csa_gives(merge_transposed=False)),
    Misconception("project the merged heads with self.c_proj, then self.resid_dropout", csa_gives(proj=False)),
    Misconception("apply self.resid_dropout to c_proj's output", csa_gives(CSA_HALF, half_draws((2, 3, 8, 8)),
                                                                           dropout=None)),
    Misconception("resid_dropout comes after c_proj, self.resid_dropout(self.c_proj(y)), not before it",
                  csa_gives(CSA_HALF, half_draws((2, 3, 8, 8), (2, 8, 24)), dropout="before proj")),
)


@task("07.causal_self_attention", points=2, target="CausalSelfAttention.forward", compare=diagnosed(*CSA_MISCONCEPTIONS),
      hint="split c_attn(x) into q, k, v, cut each into heads with view + transpose(1, 2); afterwards undo that, then c_proj and resid_dropout")
def csa_cases(CausalSelfAttention, GPTConfig):
    torch.manual_seed(0)  # anything random in the student's code (stray dropout) repeats exactly
    cases = {}
    with torch.no_grad():
        flash = make_csa(CausalSelfAttention, GPTConfig, flash=True, dropout=0.3)
        inputs = {label: randn(*shape, seed=seed) for label, (shape, seed) in CSA_INPUTS.items()}
        for label, x in inputs.items():
            x0 = x.clone()
            out = flash(x)
            unchanged(x, x0)
            cases[label] = out
            cases[f"{label}: dtype"] = str(out.dtype)
        cases["non-contiguous x"] = flash(non_contiguous(randn(2, 8, 24, seed=105)))
        for n_head in (1, 6):
            model = make_csa(CausalSelfAttention, GPTConfig, flash=True, n_head=n_head, seed=106 + n_head)
            cases[f"{n_head} head(s) of size {24 // n_head}"] = model(randn(2, 8, 24, seed=108))
        no_bias = make_csa(CausalSelfAttention, GPTConfig, flash=True, bias=False, seed=109)
        cases["bias=False"] = no_bias(randn(2, 6, 24, seed=110))
        manual = make_csa(CausalSelfAttention, GPTConfig, reference_attend=True, seed=111)
        x = randn(2, 8, 24, seed=112)
        cases["flash=False (with a reference attend)"] = manual(x)
        cases["positions 0..4 unchanged when later tokens change"] = bool(
            same_values(manual(x)[:, :5], manual(future_changed(x, 4, 113))[:, :5]))
        dropped = make_csa(CausalSelfAttention, GPTConfig, reference_attend=True, dropout=1.0, seed=114).train()
        cases[CSA_DROPPED] = dropped(x)
        half = make_csa(CausalSelfAttention, GPTConfig, reference_attend=True, dropout=0.5, seed=115).train()
        torch.manual_seed(1234)
        cases[CSA_HALF] = half(x)
    return cases
