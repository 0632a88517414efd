"""Lesson 04 - embeddings: lookup as row indexing, one-hot @ W, position ids, token + position."""

import torch
from torch import nn

from ..tasks import task
from .kit import case, generator, randint


@task("04.lookup", points=2, target="embedding_lookup",
      hint="index the (V, C) table with the tensor of ids: that picks one row per id and keeps the shape of ids")
def lookup_cases(embedding_lookup):
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


@task("04.one_hot", points=1, target="one_hot",
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
    cases["one_hot([[1, 0, 2]], 4, torch.float64): dtype"] = str(getattr(out, "dtype", type(out).__name__))
    weight = torch.randn(6, 3, generator=generator(12))
    ids = randint(2, 5, high=6, seed=13)
    label = "one_hot(ids, 6) @ weight (must equal the lookup)"
    with case(label):
        cases[label] = one_hot(ids, 6) @ weight
    return cases


@task("04.position_ids", points=1, target="position_ids",
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


@task("04.input_embeddings", points=2, target="input_embeddings",
      hint="token embeddings wte(idx), (B, T, C), plus the position embeddings of positions 0..T-1, (T, C)")
def input_embeddings_cases(input_embeddings):
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
