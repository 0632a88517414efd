"""Lesson 07 - self-attention: weights, one head, multi-head, batched CausalSelfAttention.

Modules are built with fixed arguments (their __init__ is given) and every parameter is set by name
from a seeded generator, so any correct forward gives the reference outputs. Values are checked in
eval mode; dropout separately, in train mode with p=1.0 (everything dropped: the output is known) and
with p=0.5 after torch.manual_seed (where dropout sits decides which values survive).
Sub-modules whose code is another task (a head inside MultiHeadAttention, attend inside
CausalSelfAttention) run reference code, so each task is graded on its own.
"""

import math
import types

import torch
from torch.nn import functional as F

from ..compare import CheckFailed
from ..tasks import task
from .kit import attend_shape_cases, non_contiguous, randn, same_values, set_params, unchanged


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


# ---------------------------------------------------------------------------------- weights

@task("07.attention_weights", points=2, target="attention_weights",
      hint="scores q @ k^T (swap the last two dims of k) times 1/sqrt(hs); -inf above the diagonal; softmax over the last dim")
def weights_cases(attention_weights):
    torch.manual_seed(0)  # anything random in the student's code (stray dropout) repeats exactly
    cases = {}
    shapes = {"(B=2, T=6, hs=8)": (2, 6, 8), "(B=3, T=8, hs=16)": (3, 8, 16), "T=1": (2, 1, 4),
              "batch of 1": (1, 5, 4), "heads (B=2, nh=3, T=7, hs=4)": (2, 3, 7, 4)}
    for i, (label, shape) in enumerate(shapes.items()):
        q, k = randn(*shape, seed=10 + i), randn(*shape, seed=20 + i)
        q0, k0 = q.clone(), k.clone()
        out = attention_weights(q, k)
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


@task("07.head", points=3, target="Head.forward",
      hint="key, query, value of x; weights as in attention_weights (scale by the head size), mask with self.tril[:T, :T]; dropout on the weights; then @ v")
def head_cases(Head):
    torch.manual_seed(0)  # anything random in the student's code (stray dropout) repeats exactly
    head = make_head(Head)
    cases = {}
    inputs = {"x (B=4, T=8, C=16)": randn(4, 8, 16, seed=41), "T=5 < block_size": randn(2, 5, 16, seed=42),
              "T=1": randn(3, 1, 16, seed=43), "batch of 1": randn(1, 6, 16, seed=44)}
    with torch.no_grad():
        for label, x in inputs.items():
            x0 = x.clone()
            out = head(x)
            unchanged(x, x0)
            cases[label] = out
            cases[f"{label}: dtype"] = str(out.dtype)
        cases["non-contiguous x"] = head(non_contiguous(randn(2, 8, 16, seed=45)))
        x = randn(2, 8, 16, seed=46)
        cases["positions 0..3 unchanged when later tokens change"] = bool(
            same_values(head(x)[:, :4], head(future_changed(x, 3, 47))[:, :4]))
        dropped = make_head(Head, dropout=1.0).train()
        cases["train mode, dropout=1.0 (all weights dropped)"] = dropped(randn(2, 8, 16, seed=48))
        half = make_head(Head, dropout=0.5).train()
        torch.manual_seed(1234)  # which weights dropout zeroes: only dropout on the weights gives these values
        label = "train mode, dropout=0.5, torch.manual_seed(1234): dropout on the attention weights"
        cases[label] = half(randn(2, 8, 16, seed=49))
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


@task("07.multi_head", points=2, target="MultiHeadAttention.forward",
      hint="concatenate the heads' outputs along the channel dim (in order), then self.proj, then self.dropout")
def multi_head_cases(MultiHeadAttention):
    torch.manual_seed(0)  # anything random in the student's code (stray dropout) repeats exactly
    mha = make_mha(MultiHeadAttention, dropout=0.3)
    cases = {}
    inputs = {"x (B=3, T=8, C=16)": randn(3, 8, 16, seed=51), "T=1": randn(2, 1, 16, seed=52),
              "batch of 1, T=5": randn(1, 5, 16, seed=53)}
    with torch.no_grad():
        for label, x in inputs.items():
            out = mha(x)
            cases[label] = out
            cases[f"{label}: dtype"] = str(out.dtype)
        cases["non-contiguous x"] = mha(non_contiguous(randn(2, 8, 16, seed=54)))
        dropped = make_mha(MultiHeadAttention, dropout=1.0).train()
        cases["train mode, dropout=1.0 (output dropped)"] = dropped(randn(2, 8, 16, seed=55))
        half = make_mha(MultiHeadAttention, dropout=0.5).train()
        torch.manual_seed(1234)
        label = "train mode, dropout=0.5, torch.manual_seed(1234): dropout after the projection"
        cases[label] = half(randn(2, 8, 16, seed=56))
    return cases


# ----------------------------------------------------------------------- CausalSelfAttention

def make_csa(CausalSelfAttention, GPTConfig, seed=60, reference_attend=False, **settings):
    csa = CausalSelfAttention(GPTConfig(**{**CSA_SETTINGS, **settings}))
    if reference_attend:  # attend is task 07.attend: grade forward without it
        csa.attend = types.MethodType(ref_attend, csa)
    return set_params(csa, seed, scale=0.2).eval()


@task("07.attend", points=3, target="CausalSelfAttention.attend",
      hint="scaled scores q @ k^T / sqrt(hs), masked with self.mask[:, :, :T, :T], softmax over the last dim, self.attn_dropout, then @ v")
def attend_cases(CausalSelfAttention, GPTConfig):
    torch.manual_seed(0)  # anything random in the student's code (stray dropout) repeats exactly
    csa = make_csa(CausalSelfAttention, GPTConfig, dropout=0.3)
    cases = {}
    with torch.no_grad():
        cases.update(attend_shape_cases(csa.attend, seed=61))
        q, k, v = (randn(2, 3, 8, 8, seed=80 + j) for j in range(3))
        cases["non-contiguous q, k, v"] = csa.attend(*(non_contiguous(t) for t in (q, k, v)))
        cases["hs=32 (the scale matters more)"] = csa.attend(*(randn(1, 2, 6, 32, seed=84 + j) for j in range(3)))
        first = csa.attend(q, k, v)
        later = csa.attend(*(future_changed(t, 2, 90 + j) for j, t in enumerate((q, k, v))))
        cases["positions 0..2 unchanged when later ones change"] = bool(
            same_values(first[:, :, :3], later[:, :, :3]))
        dropped = make_csa(CausalSelfAttention, GPTConfig, dropout=1.0).train()
        cases["train mode, dropout=1.0 (all weights dropped)"] = dropped.attend(q, k, v)
        half = make_csa(CausalSelfAttention, GPTConfig, dropout=0.5).train()
        torch.manual_seed(1234)  # which weights dropout zeroes: only dropout on the weights gives these values
        label = "train mode, dropout=0.5, torch.manual_seed(1234): dropout on the attention weights"
        cases[label] = half.attend(q, k, v)
    return cases


@task("07.causal_self_attention", points=2, target="CausalSelfAttention.forward",
      hint="split c_attn(x) into q, k, v, cut each into heads with view + transpose(1, 2); afterwards undo that, then c_proj and resid_dropout")
def csa_cases(CausalSelfAttention, GPTConfig):
    torch.manual_seed(0)  # anything random in the student's code (stray dropout) repeats exactly
    cases = {}
    with torch.no_grad():
        flash = make_csa(CausalSelfAttention, GPTConfig, flash=True, dropout=0.3)
        inputs = {"x (B=2, T=8, C=24), 3 heads": randn(2, 8, 24, seed=101), "T=5 < block_size": randn(3, 5, 24, seed=102),
                  "T=1": randn(2, 1, 24, seed=103), "batch of 1": randn(1, 7, 24, seed=104)}
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
        cases["train mode, dropout=1.0 (output dropped)"] = dropped(x)
        half = make_csa(CausalSelfAttention, GPTConfig, reference_attend=True, dropout=0.5, seed=115).train()
        torch.manual_seed(1234)
        cases["train mode, dropout=0.5, torch.manual_seed(1234): resid_dropout after c_proj"] = half(x)
    return cases
