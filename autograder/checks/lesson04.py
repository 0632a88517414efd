"""Lesson 04 - embeddings: lookup as row indexing, one-hot @ W, position ids, token + position."""

import torch
from torch import nn

from ..calls import hint_for
from ..compare import CheckFailed
from ..misconceptions import Misconception, as_if, diagnosed, matches
from ..tasks import task
from .kit import case, generator, randint

# --- what the plausible mistakes give: the Misconceptions below test the student's outputs against the
# exercise run here, in the grader's process, with the mistake in place of the student's code



def reraised(err: CheckFailed, why: str, *words: str, kind=Exception):
    """`err` (a call of the student's code that raised, named by autograder.calls) saying what caused it here
    instead of the general hint, when the student's error was a `kind` whose message holds every one of `words`."""
    cause = err.__context__
    if isinstance(cause, kind) and all(w in str(cause) for w in words):
        text, general = str(err), hint_for(cause)
        return CheckFailed(f"{text.removesuffix(general) if general else text} -- {why}")
    return err


def lookup_called(embedding_lookup):
    """embedding_lookup, with the usual causes of its errors added to the message."""
    def call(weight, ids):
        V, C = weight.shape
        try:
            return embedding_lookup(weight, ids)
        except CheckFailed as err:
            err = reraised(err, "the ids pick rows of weight, weight[ids]: this indexed its C columns",
                           f"with size {C}", kind=IndexError) if V != C else err
            err = reraised(err, "ids may have any shape: weight[ids] picks a row for each id and keeps that shape",
                           "supposed to be a vector", kind=IndexError)
            err = reraised(err, "what multiplies weight must have V = weight.shape[0] columns: a one-hot needs "
                                "F.one_hot(ids, num_classes=weight.shape[0]) (without num_classes, its width is the "
                                "largest id + 1)",
                           "shapes cannot be multiplied", f"and {V}x{C})", kind=RuntimeError)
            raise err from None
    return call


def reshaped_to_match(got, want) -> bool:
    """The expected values, in another shape (a tensor case), or the expected value (any other case)."""
    if isinstance(want, torch.Tensor):
        return got.numel() == want.numel() and matches(got.reshape(want.shape), want)
    return got == want


@task("04.lookup", points=2, target="embedding_lookup", compare=diagnosed(
      Misconception("keep the shape of ids: weight[ids] is (*ids.shape, C), one row per id, not (number of ids, C)",
                    lambda actual, expected: all(reshaped_to_match(actual[label], want)
                                                 for label, want in expected.items())),
      Misconception("row i of weight is the vector of id i: weight[ids], not weight[ids - 1]",
                    as_if(lambda: lookup_cases(lambda weight, ids: weight[ids - 1])))),
      hint="index the (V, C) table with the tensor of ids: that picks one row per id and keeps the shape of ids")
def lookup_cases(embedding_lookup):
    embedding_lookup = lookup_called(embedding_lookup)
    cases = {}
    weight = torch.randn(10, 4, generator=generator(0))
    for shape in [(3,), (2, 5), (1, 1), (1, 7), (4, 1), (2, 3, 4), ()]:
        ids = randint(*shape, high=10, seed=len(shape) * 10 + sum(shape))
        cases[f"ids of shape {shape}, weight (10, 4)"] = embedding_lookup(weight, ids)
    cases["ids [2, 3, 5] (the lesson's example)"] = embedding_lookup(weight, torch.tensor([2, 3, 5]))
    cases["ids [9, 9, 0] (repeated ids, first and last row)"] = embedding_lookup(weight, torch.tensor([9, 9, 0]))
    ids = randint(5, 3, high=10, seed=7).t()
    cases["non-contiguous ids (a transposed (5, 3) tensor)"] = embedding_lookup(weight, ids)
    wide = torch.randn(65, 32, generator=generator(1))
    cases["weight (65, 32), ids (4, 8)"] = embedding_lookup(wide, randint(4, 8, high=65, seed=8))
    doubles = torch.randn(7, 3, dtype=torch.float64, generator=generator(2))
    out = embedding_lookup(doubles, randint(2, 4, high=7, seed=9))
    cases["float64 weight (7, 3), ids (2, 4)"] = out
    cases["float64 weight: dtype of the result"] = str(getattr(out, "dtype", type(out).__name__))
    return cases


def narrower(got, want) -> bool:
    """The expected one-hot vectors cut to the width of the largest id + 1 (a tensor case), or the expected value."""
    if isinstance(want, torch.Tensor):
        return got.shape[:-1] == want.shape[:-1] and matches(got, want[..., :got.shape[-1]])
    return got == want


DOUBLES = "one_hot([[1, 0, 2]], 4, torch.float64): dtype"


@task("04.one_hot", points=1, target="one_hot", compare=diagnosed(
      Misconception("pass num_classes=vocab_size to F.one_hot: without it the width is the largest id + 1",
                    lambda actual, expected: all(narrower(actual[label], want) for label, want in expected.items())),
      Misconception("convert to the dtype asked for, .to(dtype): float32 is only its default",
                    lambda actual, expected: actual[DOUBLES] == "torch.float32")),
      hint="F.one_hot needs num_classes and returns int64: convert to dtype")
def one_hot_cases(one_hot):
    cases = {}
    cases["one_hot([2, 3, 5], 6)"] = one_hot(torch.tensor([2, 3, 5]), 6)
    cases["one_hot([0, 1], 5) (the largest ids are not present)"] = one_hot(torch.tensor([0, 1]), 5)
    for shape, vocab in [((2, 4), 9), ((1, 1), 3), ((3, 2, 2), 4)]:
        cases[f"one_hot(ids of shape {shape}, {vocab})"] = one_hot(randint(*shape, high=vocab, seed=vocab), vocab)
    ids = randint(4, 3, high=6, seed=11).t()
    cases["one_hot(non-contiguous (3, 4) ids, 6)"] = one_hot(ids, 6)
    out = one_hot(torch.tensor([1, 0, 2]), 3)
    cases["one_hot([1, 0, 2], 3): dtype (default float32)"] = str(getattr(out, "dtype", type(out).__name__))
    out = one_hot(torch.tensor([[1, 0, 2]]), 4, torch.float64)
    cases["one_hot([[1, 0, 2]], 4, torch.float64)"] = out
    cases[DOUBLES] = str(getattr(out, "dtype", type(out).__name__))
    weight = torch.randn(6, 3, generator=generator(12))
    ids = randint(2, 5, high=6, seed=13)
    label = "one_hot(ids, 6) @ weight (must equal the lookup)"
    hot = one_hot(ids, 6)
    try:
        with case(label):
            cases[label] = hot @ weight
    except CheckFailed as err:
        if isinstance(hot, torch.Tensor) and not hot.is_floating_point():
            raise CheckFailed(f"{label}: one_hot returned {hot.dtype}, which cannot multiply a float weight: "
                              "F.one_hot gives int64, convert it to dtype, .to(dtype)") from None
        if isinstance(hot, torch.Tensor) and tuple(hot.shape) != (*ids.shape, 6):
            raise CheckFailed(f"{label}: one_hot(ids of shape {tuple(ids.shape)}, 6) should have shape "
                              f"{(*ids.shape, 6)}, one row of 6 per id along the last dimension, got "
                              f"{tuple(hot.shape)}") from None
        raise err from None
    return cases


ON_META = "position_ids(ids on device 'meta'): device"


def only_the_device_differs(actual, expected):
    return actual[ON_META] == "cpu" and all(matches(actual[label], want) for label, want in expected.items()
                                            if label != ON_META)


POSITION_MISCONCEPTIONS = (
    Misconception("the positions are 0 .. T-1, torch.arange(T), whatever the tokens are: not the token ids",
                  as_if(lambda: position_ids_cases(lambda idx: idx))),
    Misconception("T is idx.shape[1], the length of each row: len(idx) is B, the number of rows",
                  as_if(lambda: position_ids_cases(lambda idx: torch.arange(len(idx))))),
    Misconception("return the T positions once, shape (T,): broadcasting adds them to every row of the batch",
                  as_if(lambda: position_ids_cases(
                      lambda idx: torch.arange(idx.shape[1], device=idx.device).expand(idx.shape)))),
    Misconception("positions count from 0: torch.arange(T) is 0 .. T-1",
                  as_if(lambda: position_ids_cases(lambda idx: torch.arange(1, idx.shape[1] + 1, device=idx.device)))),
    Misconception("positions are int64 ids, what an nn.Embedding looks up: keep torch.arange's integer dtype",
                  as_if(lambda: position_ids_cases(
                      lambda idx: torch.arange(idx.shape[1], dtype=torch.float32, device=idx.device)))),
    Misconception("create the positions on idx's device: torch.arange(T, device=idx.device)", only_the_device_differs),
)


@task("04.position_ids", points=1, target="position_ids", compare=diagnosed(*POSITION_MISCONCEPTIONS),
      hint="the positions 0 .. T-1 of a (B, T) batch, as an int64 tensor created on idx.device")
def position_ids_cases(position_ids):
    cases = {}
    for shape in [(2, 5), (4, 3), (1, 1), (1, 8), (6, 1), (3, 3)]:
        cases[f"position_ids(ids of shape {shape})"] = position_ids(randint(*shape, high=50, seed=sum(shape)))
    cases["position_ids(non-contiguous (2, 6) ids)"] = position_ids(randint(6, 2, high=50, seed=1).t())
    out = position_ids(torch.zeros(2, 4, dtype=torch.long, device="meta"))
    cases["position_ids(ids on device 'meta'): device"] = str(getattr(out, "device", type(out).__name__))
    cases["position_ids(ids on device 'meta'): shape"] = list(getattr(out, "shape", []))
    return cases


def embedding_pair(vocab: int, block_size: int, channels: int, seed: int, dtype=torch.float32):
    """wte and wpe with weights set from a seeded generator, so any correct code gives the same output."""
    wte, wpe = nn.Embedding(vocab, channels), nn.Embedding(block_size, channels)
    g = generator(seed)
    with torch.no_grad():
        wte.weight.copy_(torch.randn(vocab, channels, generator=g))
        wpe.weight.copy_(torch.randn(block_size, channels, generator=g))
    return wte.to(dtype), wpe.to(dtype)


def positions(idx):
    return torch.arange(idx.shape[1])


INPUT_MISCONCEPTIONS = (
    Misconception("add the position embeddings, wte(idx) + wpe(torch.arange(T)): without them the model cannot tell "
                  "where a token is", as_if(lambda: input_embeddings_cases(lambda idx, wte, wpe: wte(idx)))),
    Misconception("add the position embeddings to the token embeddings, wte(idx) + wpe(pos): concatenating them "
                  "doubles the channels", as_if(lambda: input_embeddings_cases(lambda idx, wte, wpe: torch.cat(
                      [wte(idx), wpe(positions(idx)).expand(idx.shape[0], -1, -1)], -1)))),
    Misconception("the positions run along T, torch.arange(T), the same for every row: not one per row of the "
                  "batch (arange(B))", as_if(lambda: input_embeddings_cases(
                      lambda idx, wte, wpe: wte(idx) + wpe(torch.arange(idx.shape[0]))[:, None, :]))),
    Misconception("add the token and position embeddings (+), do not multiply them",
                  as_if(lambda: input_embeddings_cases(lambda idx, wte, wpe: wte(idx) * wpe(positions(idx))))),
    Misconception("position t's embedding is wpe's row t: positions 0 .. T-1 in order, torch.arange(T), not reversed",
                  as_if(lambda: input_embeddings_cases(
                      lambda idx, wte, wpe: wte(idx) + wpe(positions(idx).flip(0))))),
)


def embeddings_called(input_embeddings):
    """input_embeddings, with the usual causes of its errors added to the message."""
    def call(idx, wte, wpe):
        try:
            return input_embeddings(idx, wte, wpe)
        except CheckFailed as err:
            err = reraised(err, "wpe has block_size rows, one per position: look up the positions torch.arange(T) "
                                "in it, not the token ids", "index out of range", kind=IndexError)
            if idx.shape[1] != wpe.num_embeddings:
                err = reraised(err, "wpe.weight holds all block_size positions: take those of the T positions "
                                    "present, wpe(torch.arange(T))", "must match the size",
                               f"({wpe.num_embeddings})", kind=RuntimeError)
            raise err from None
    return call


@task("04.input_embeddings", points=2, target="input_embeddings", compare=diagnosed(*INPUT_MISCONCEPTIONS),
      hint="token embeddings wte(idx), (B, T, C), plus the position embeddings of positions 0..T-1, (T, C)")
def input_embeddings_cases(input_embeddings):
    input_embeddings = embeddings_called(input_embeddings)
    cases = {}
    # (B, T, vocab, block_size, C): vocab > block_size, so using token values as positions is caught
    for B, T, vocab, block, C in [(2, 5, 20, 8, 4), (1, 1, 20, 8, 4), (1, 8, 20, 8, 4), (4, 1, 20, 8, 4),
                                  (3, 8, 65, 8, 16), (2, 3, 5, 6, 3)]:
        wte, wpe = embedding_pair(vocab, block, C, seed=B * 100 + T)
        idx = randint(B, T, high=vocab, seed=B + T)
        cases[f"B={B}, T={T}, vocab={vocab}, block_size={block}, C={C}"] = input_embeddings(idx, wte, wpe)
    wte, wpe = embedding_pair(20, 8, 4, seed=5)
    idx = randint(6, 3, high=20, seed=5).t()
    cases["non-contiguous idx (transposed (6, 3) -> (3, 6))"] = input_embeddings(idx, wte, wpe)
    wte, wpe = embedding_pair(20, 8, 4, seed=6, dtype=torch.float64)
    cases["float64 tables, B=2, T=4"] = input_embeddings(randint(2, 4, high=20, seed=6), wte, wpe)
    # Gradients must reach both tables (the modules are called, not their weights copied).
    wte, wpe = embedding_pair(12, 6, 3, seed=7)
    out = input_embeddings(randint(3, 4, high=12, seed=7), wte, wpe)
    with case("gradients of wte.weight and wpe.weight after out.sum().backward()"):
        out.sum().backward()
    cases["gradient of wte.weight after out.sum().backward()"] = wte.weight.grad
    cases["gradient of wpe.weight after out.sum().backward()"] = wpe.weight.grad
    return cases
