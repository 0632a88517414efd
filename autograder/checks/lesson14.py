"""Lesson 14 (optional) - the transformer family: encoder attention, cross-attention, sinusoidal and rotary positions.

Each check first tests the properties that tell the usual mistakes apart, each a case whose label
names what must hold ("keys and values come from the context, not from x"), and only then compares
values with the reference, so a wrong answer fails with the misconception, not with "values differ".

Attention weights are read back through the values: in attend, v is the identity (T = hs), so the
output is the weights; in cross-attention (below) the value layer copies a one-hot of the position.

Cross-attention: x and the context have different lengths (T != S) in every guarded case, so the
head's query/key/value layers can tell which sequence they were handed and say so. The attention
weights themselves are read back through the values: the context carries a one-hot of its position
in its first S channels and the value layer copies those channels, so output[t, s] = weight[t, s].
Sub-modules that are not the task (the split and merge around attend) are lesson 07's reference code.
"""

import math

import torch
from torch.nn import functional as F

from ..compare import CheckFailed
from ..tasks import task
from .kit import attend_shape_cases, case, non_contiguous, randn, same_values, set_params, unchanged

N_EMBD, HEAD_SIZE = 16, 8

QUERY_FROM_X = "queries come from x (the sequence that reads), not from the context"
KV_FROM_CONTEXT = "keys and values come from the context (the sequence being read), not from x"


# ------------------------------------------------------------------------- encoder attention

# The settings EncoderSelfAttention is graded with; the config is the notebook's GPTConfig (lesson 07's).
ENC_SETTINGS = dict(n_embd=24, n_head=3, block_size=8, dropout=0.0, bias=True, flash=False)


def make_encoder(EncoderSelfAttention, GPTConfig, seed=120, **settings):
    return set_params(EncoderSelfAttention(GPTConfig(**{**ENC_SETTINGS, **settings})), seed, scale=0.2).eval()


def weights_read_back(attend, q, k):
    """The weights attend used, read back through v = identity (T = hs): output[..., t, s] = weight[t, s]."""
    T = q.size(-2)
    v = torch.eye(T).expand(*q.shape[:-2], T, T).clone()
    return attend(q, k, v)


def scale_diagnosis(used, scores, hs, n_embd, what):
    """Raise CheckFailed naming the scale when `used` matches softmax(scores / sqrt(n_embd)) or the unscaled one."""
    right = F.softmax(scores / math.sqrt(hs), dim=-1)
    if not same_values(used, right):
        if same_values(used, F.softmax(scores / math.sqrt(n_embd), dim=-1)):
            raise CheckFailed(f"{what}: the scores were divided by sqrt(n_embd) = sqrt({n_embd}); divide by "
                              f"sqrt(head_size) = sqrt({hs}), the length of the vectors q and k")
        if same_values(used, F.softmax(scores, dim=-1)):
            raise CheckFailed(f"{what}: the scores q @ k^T were not scaled: divide them by sqrt(head_size) = "
                              f"sqrt({hs}) before the softmax")
    return right


@task("14.encoder_attention", points=2, target="EncoderSelfAttention.attend",
      hint="as lesson 07's attend without the mask: softmax(q @ k^T / sqrt(hs)) over the last dim, self.attn_dropout, then @ v")
def encoder_attention_cases(EncoderSelfAttention, GPTConfig):
    torch.manual_seed(0)  # anything random in the student's code (stray dropout) repeats exactly
    cases = {}
    with torch.no_grad():
        enc = make_encoder(EncoderSelfAttention, GPTConfig, dropout=0.3)
        T, hs = 6, 8
        q, k = randn(2, 3, T, hs, seed=121), randn(2, 3, T, hs, seed=122)
        used = weights_read_back(enc.attend, q, k)
        with case("reading the attention weights back through v = identity"):
            if not isinstance(used, torch.Tensor) or tuple(used.shape) != (2, 3, T, T):
                shape = tuple(used.shape) if isinstance(used, torch.Tensor) else type(used).__name__
                raise CheckFailed(f"attend(q, k, v (2, 3, {T}, {T})) gave {shape}; expected (2, 3, {T}, {T}), the "
                                  "shape of v")
            cases["no causal mask: every position gives weight to every position, later ones included (an encoder "
                  "reads the whole input)"] = bool((used > 1e-6).all())
            sums = used.sum(-1)
            cases["each position's weights sum to 1 (softmax over the last axis, the keys')"] = bool(
                torch.allclose(sums, torch.ones_like(sums), atol=1e-4))
            right = scale_diagnosis(used, q @ k.transpose(-2, -1), hs, ENC_SETTINGS["n_embd"], "attend")
            cases[f"weights = softmax(q k^T / sqrt(hs)), hs = {hs}"] = bool(same_values(used, right))
        cases.update(attend_shape_cases(enc.attend, seed=123))
        q, k, v = (randn(2, 3, 8, 8, seed=140 + j) for j in range(3))
        cases["non-contiguous q, k, v"] = enc.attend(*(non_contiguous(t) for t in (q, k, v)))
        x = randn(2, 8, 24, seed=143)
        cases["the whole layer, forward(x) (B=2, T=8, C=24): lesson 07's split and merge around your attend"] = enc(x)
        dropped = make_encoder(EncoderSelfAttention, GPTConfig, dropout=1.0).train()
        cases["train mode, dropout=1.0: self.attn_dropout drops every weight, so the output is 0"] = dropped.attend(q, k, v)
        half = make_encoder(EncoderSelfAttention, GPTConfig, dropout=0.5).train()
        torch.manual_seed(1234)  # which weights dropout zeroes: only dropout on the weights gives these values
        cases["train mode, dropout=0.5, torch.manual_seed(1234): self.attn_dropout on the attention weights (before "
              "@ v, not on the output)"] = half.attend(q, k, v)
    return cases


# ----------------------------------------------------------------------------- cross-attention

def make_cross(CrossAttentionHead, dropout=0.0, seed=140):
    head = CrossAttentionHead(N_EMBD, HEAD_SIZE, dropout)
    return set_params(head, seed, scale=0.25).eval()


def guard_sources(head, T: int, S: int) -> None:
    """Make query/key/value fail naming the misconception when handed the wrong sequence (needs T != S)."""
    for name, wrong, why in (("query", S, QUERY_FROM_X), ("key", T, KV_FROM_CONTEXT), ("value", T, KV_FROM_CONTEXT)):
        linear = getattr(head, name, None)
        if not isinstance(linear, torch.nn.Linear):  # an __init__ the student rewrote: the values cases judge it
            continue
        forward = type(linear).forward.__get__(linear)

        def checked(inp, forward=forward, name=name, wrong=wrong, why=why):
            if isinstance(inp, torch.Tensor) and inp.dim() >= 2 and inp.shape[-2] == wrong:
                raise CheckFailed(f"self.{name} was given a sequence of {wrong} positions (x has {T}, the "
                                  f"context {S}): {why}")
            return forward(inp)

        linear.forward = checked


def cross(head, x, context):
    """head(x, context), guarded when the lengths differ, inputs checked for in-place changes."""
    T, S = x.size(-2), context.size(-2)
    if T != S:
        guard_sources(head, T, S)
    x0, c0 = x.clone(), context.clone()
    out = head(x, context)
    unchanged(x, x0, "x"), unchanged(context, c0, "the context")
    if T != S:
        for name in ("query", "key", "value"):
            getattr(head, name).__dict__.pop("forward", None)  # back to the class's forward
    return out


def probe(CrossAttentionHead, T=5, S=7, seed=150):
    """(the weights the head used (B, T, S), the unscaled scores q k^T it should have used): see the module docstring."""
    head = make_cross(CrossAttentionHead, seed=seed)
    with torch.no_grad():
        head.value.weight.zero_()
        head.value.weight[:S, :S] = torch.eye(S)
    x = randn(2, T, N_EMBD, seed=seed + 1)
    context = randn(2, S, N_EMBD, seed=seed + 2)
    context[..., :S] = torch.eye(S)
    out = cross(head, x, context)
    with case("reading the attention weights back through the values"):
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, T, HEAD_SIZE):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise CheckFailed(f"head(x (2, {T}, {N_EMBD}), context (2, {S}, {N_EMBD})) gave {shape}; expected "
                              f"(2, {T}, {HEAD_SIZE}): one row per position of x, the query side")
        used = out[..., :S]
        scores = head.query(x) @ head.key(context).transpose(-2, -1)
    return used, scores


@task("14.cross_attention", points=3, target="CrossAttentionHead.forward",
      hint="q = self.query(x); k, v = self.key(context), self.value(context); softmax(q @ k^T / sqrt(hs)) over the context, no mask; dropout; @ v")
def cross_attention_cases(CrossAttentionHead):
    torch.manual_seed(0)  # anything random in the student's code (stray dropout) repeats exactly
    cases = {}
    with torch.no_grad():
        used, scores = probe(CrossAttentionHead)
        right = F.softmax(scores / math.sqrt(HEAD_SIZE), dim=-1)
        with case("reading the attention weights back"):
            sums = used.sum(-1)
            cases["each query's weights over the 7 context positions sum to 1 (softmax over the last "
                  "axis, the context's)"] = bool(torch.allclose(sums, torch.ones_like(sums), atol=1e-4))
            cases["no causal mask: every query position gives weight to every context position (the "
                  "context is all there, nothing of it is a future)"] = bool((used > 1e-6).all())
            scale_diagnosis(used, scores, HEAD_SIZE, N_EMBD, "head(x, context)")
            cases[f"weights = softmax(q k^T / sqrt(head_size)), head_size = {HEAD_SIZE}"] = bool(same_values(used, right))
        head = make_cross(CrossAttentionHead, dropout=0.3)
        shapes = {"x (B=2, T=5, C=16), context (S=7)": (2, 5, 7), "x T=7, context S=3": (2, 7, 3),
                  "x T=1 (one query), context S=6": (3, 1, 6), "context S=1 (one position to read)": (2, 4, 1),
                  "batch of 1, T=3, S=8": (1, 3, 8), "T = S = 6": (2, 6, 6)}
        for i, (label, (B, T, S)) in enumerate(shapes.items()):
            out = cross(head, randn(B, T, N_EMBD, seed=160 + i), randn(B, S, N_EMBD, seed=170 + i))
            cases[label] = out
            cases[f"{label}: dtype"] = str(out.dtype)
        x, context = randn(2, 4, N_EMBD, seed=180), randn(2, 6, N_EMBD, seed=181)
        cases["non-contiguous x and context"] = cross(head, non_contiguous(x), non_contiguous(context))
        first = cross(head, x, context)
        x2 = x.clone()
        x2[:, 2] = randn(2, N_EMBD, seed=182)
        with case("changing x at position 2"):
            others = [0, 1, 3]
            cases["changing x at one position changes only that position's output (each query reads the "
                  "context on its own)"] = bool(same_values(first[:, others], cross(head, x2, context)[:, others]))
        dropped = make_cross(CrossAttentionHead, dropout=1.0).train()
        cases["train mode, dropout=1.0: self.dropout drops every attention weight, so the output is 0"] = cross(dropped, x, context)
        half = make_cross(CrossAttentionHead, dropout=0.5).train()
        torch.manual_seed(1234)  # which weights dropout zeroes: only dropout on the weights gives these values
        cases["train mode, dropout=0.5, torch.manual_seed(1234): self.dropout on the attention weights (before @ v, "
              "not on the output)"] = cross(half, x, context)
    return cases


# -------------------------------------------------------------------------------- sinusoidal

def angles(T: int, C: int) -> torch.Tensor:
    """(T, C/2) float64: position p, pair i -> p / 10000^(2i/C)."""
    p = torch.arange(T, dtype=torch.float64)[:, None]
    return p / 10000 ** (torch.arange(0, C, 2, dtype=torch.float64) / C)


def close(a, b, atol=1e-4) -> bool:
    a = torch.as_tensor(a, dtype=torch.float64)
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=0.0, atol=atol))


@task("14.sinusoidal", points=2, target="sinusoidal_positions",
      hint="angle[p, i] = p / 10000 ** (2i / C) for pair i; column 2i holds sin(angle), column 2i+1 cos(angle); float32 (T, C)")
def sinusoidal_cases(sinusoidal_positions):
    cases = {}
    T, C = 40, 16
    pe = sinusoidal_positions(T, C)
    with case(f"sinusoidal_positions({T}, {C})"):
        if tuple(pe.shape) != (T, C):
            raise CheckFailed(f"sinusoidal_positions({T}, {C}) has shape {tuple(pe.shape)}; expected ({T}, {C}): "
                              "one row per position, one column per channel")
        pe64 = pe.double()
        a = angles(T, C)
        cases["position 0 is [0, 1, 0, 1, ...]: sin in the even columns, cos in the odd ones (not swapped, "
              "not in two halves)"] = close(pe64[0], torch.tensor([0.0, 1.0] * (C // 2), dtype=torch.float64))
        cases["each pair (column 2i, column 2i+1) holds the sin and cos of one angle: sin^2 + cos^2 = 1"] = close(
            pe64[:, 0::2] ** 2 + pe64[:, 1::2] ** 2, torch.ones(T, C // 2, dtype=torch.float64))
        cases["columns 0 and 1 are sin(p) and cos(p): the first pair turns 1 radian per position"] = close(
            pe64[:, :2], torch.stack([a[:, 0].sin(), a[:, 0].cos()], -1))
        cases[f"the last pair (i = {C // 2 - 1}) turns 1 / 10000^(2i/C) = 1 / 10000^({C - 2}/{C}) radians per "
              "position (base 10000, exponent 2i/C with i the pair, not the column)"] = close(
            pe64[:, -2:], torch.stack([a[:, -1].sin(), a[:, -1].cos()], -1))
    for label, (T, C) in {"T=40, C=16": (40, 16), "T=1, C=4": (1, 4), "T=64, C=32": (64, 32),
                          "T=3, C=2 (one pair)": (3, 2), "T=10, C=6": (10, 6)}.items():
        out = sinusoidal_positions(T, C)
        cases[label] = out
        cases[f"{label}: dtype"] = str(out.dtype)
    return cases


# ------------------------------------------------------------------------------------- rotary

@task("14.rope", points=3, target="apply_rope",
      hint="pair (x[..., 2i], x[..., 2i+1]) at position t turns by t / 10000 ** (2i / hs): (a, b) -> (a cos - b sin, a sin + b cos)")
def rope_cases(apply_rope):
    cases = {}
    T, hs = 10, 8

    def run(x):
        x0 = x.clone()
        out = apply_rope(x)
        unchanged(x, x0, "x")
        return out

    x = randn(2, T, hs, seed=190)
    out = run(x)
    with case(f"apply_rope(x {tuple(x.shape)})"):
        if tuple(out.shape) != tuple(x.shape):
            raise CheckFailed(f"apply_rope(x {tuple(x.shape)}) has shape {tuple(out.shape)}: a rotation keeps the shape")
        o = out.double()
        cases["position 0 is not turned (its angle is 0: cos 1, sin 0 -- cos and sin not swapped, positions counted "
              "from 0)"] = close(o[:, 0], x[:, 0].double())
    only0 = torch.zeros(1, T, hs)
    only0[..., 0] = 1.0
    e = run(only0)
    t = torch.arange(T, dtype=torch.float64)
    with case("apply_rope(x with only channel 0 set)"):
        e = e.double()
        cases["x with only channel 0 set: the output lives in channels 0 and 1 only (the pairs are neighbouring "
              "channels (0, 1), (2, 3), ..., not channel i with channel i + hs/2)"] = close(e[..., 2:], torch.zeros(1, T, hs - 2, dtype=torch.float64))
        cases["(1, 0) in channels (0, 1) at position t becomes (cos t, sin t): the first pair turns +t radians "
              "(cos and sin not swapped, the sign of sin right)"] = close(e[0, :, :2], torch.stack([t.cos(), t.sin()], -1))
    with case(f"apply_rope(x {tuple(x.shape)})"):
        o = out.double()
        cases["a rotation: the length of every pair (x[2i], x[2i+1]) is kept"] = close(
            o[..., 0::2] ** 2 + o[..., 1::2] ** 2, x.double()[..., 0::2] ** 2 + x.double()[..., 1::2] ** 2)
    only_last = torch.zeros(1, T, hs)
    only_last[..., hs - 2] = 1.0
    f = run(only_last)
    with case("apply_rope(x with only channel hs-2 set)"):
        a = t / 10000 ** ((hs - 2) / hs)
        cases[f"the last pair (i = {hs // 2 - 1}) turns t / 10000^(2i/hs) = t / 10000^({hs - 2}/{hs}) radians (base "
              "10000, exponent 2i/hs with i the pair)"] = close(f.double()[0, :, hs - 2:], torch.stack([a.cos(), a.sin()], -1))
    q, k = randn(hs, seed=191), randn(hs, seed=192)
    rq, rk = run(q.expand(1, 12, hs).clone())[0].double(), run(k.expand(1, 12, hs).clone())[0].double()
    with case("scores of the rotated q and k"):
        score = lambda m, n: (rq[m] @ rk[n]).item()  # noqa: E731 - q at position m, k at position n
        cases["q at position 3 and k at 1 give the same score as q at 10 and k at 8: after rotation, q.k depends "
              "only on the offset m - n"] = math.isclose(score(3, 1), score(10, 8), abs_tol=1e-4)
        cases["q and k at the same position (0 and 0, 7 and 7) give the unrotated score q.k"] = (
            math.isclose(score(0, 0), (q.double() @ k.double()).item(), abs_tol=1e-4)
            and math.isclose(score(7, 7), (q.double() @ k.double()).item(), abs_tol=1e-4))
    inputs = {"x (B=2, T=10, hs=8)": x, "heads (B=2, nh=3, T=5, hs=4)": randn(2, 3, 5, 4, seed=193),
              "T=1": randn(3, 1, 8, seed=194), "hs=2 (one pair)": randn(2, 6, 2, seed=195),
              "hs=16, T=30": randn(1, 30, 16, seed=196)}
    for label, value in inputs.items():
        out = run(value)
        cases[label] = out
        cases[f"{label}: dtype"] = str(out.dtype)
    cases["non-contiguous x"] = run(non_contiguous(randn(2, 7, 8, seed=197)))
    x64 = randn(2, 5, 8, seed=198, dtype=torch.float64)
    out = run(x64)
    cases["float64 x: dtype"] = str(out.dtype)
    cases["float64 x"] = out
    return cases
