"""Lesson 08 - the transformer block: LayerNorm from scratch, the MLP, a pre-norm block with residuals."""

import torch
from torch import nn

from ..tasks import task
from .kit import randn, set_params


def block_config(GPTConfig, **changes):
    """A small config of the notebook's GPTConfig (lesson 07's, the model's one config): the fields a
    block reads are set here, any other field keeps its default."""
    return GPTConfig(**{**dict(n_embd=16, n_head=4, block_size=8, dropout=0.0, bias=True, flash=False), **changes})


@task("08.layernorm", points=3, target="LayerNorm.forward",
      hint="over the last dim: subtract the mean, divide by sqrt(biased variance + eps), then scale by weight and add bias")
def layernorm_cases(LayerNorm):
    inputs = {
        "x (2, 5, 8)": (8, randn(2, 5, 8, seed=1), True),
        "x (2, 5, 8), bias=False": (8, randn(2, 5, 8, seed=2), False),
        "T=1: x (3, 1, 32)": (32, randn(3, 1, 32, seed=3), True),
        "batch of 1: x (1, 4, 6)": (6, randn(1, 4, 6, seed=4), True),
        "2-D x (7, 12)": (12, randn(7, 12, seed=5), True),
        "large mean: x (2, 3, 16) * 3 + 100": (16, randn(2, 3, 16, seed=6, scale=3.0, shift=100.0), True),
        "tiny variance: x (2, 3, 16) * 0.001 (eps matters)": (16, randn(2, 3, 16, seed=7, scale=1e-3), True),
        "non-contiguous x (4, 3, 10).transpose(0, 1)": (10, randn(4, 3, 10, seed=8).transpose(0, 1), True),
        "float64 x (2, 4, 8)": (8, randn(2, 4, 8, seed=9, dtype=torch.float64), True),
    }
    originals = [x.clone() for _, x, _ in inputs.values()]
    cases = {}
    for i, (label, (ndim, x, bias)) in enumerate(inputs.items()):
        ln = LayerNorm(ndim, bias=bias).to(x.dtype)
        set_params(ln, 10 + i, scale=0.5)
        ln.eval()
        with torch.no_grad():
            cases[label] = ln(x)
    cases["inputs left unchanged"] = all(torch.equal(x, x0) for (_, x, _), x0 in zip(inputs.values(), originals))

    # the learned scale and shift start at 1 and 0: a fresh LayerNorm is a pure normalisation
    fresh = LayerNorm(8, bias=True)
    cases["fresh LayerNorm(8): weight, bias"] = [fresh.weight.detach().clone(), fresh.bias.detach().clone()]
    with torch.no_grad():
        cases["fresh LayerNorm(8) on x (2, 5, 8)"] = fresh(randn(2, 5, 8, seed=20))
    # gradients flow to the input and to both parameters
    ln = LayerNorm(8, bias=True)
    set_params(ln, 21, scale=0.5)
    x = randn(3, 4, 8, seed=22).requires_grad_(True)
    (ln(x) * randn(3, 4, 8, seed=23)).sum().backward()
    cases["gradient w.r.t. x"] = x.grad
    cases["gradient w.r.t. weight"] = ln.weight.grad
    cases["gradient w.r.t. bias"] = ln.bias.grad
    return cases


@task("08.mlp", points=2, target="MLP.forward",
      hint="c_fc, then self.gelu, then c_proj, then self.dropout")
def mlp_cases(MLP, GPTConfig):
    cases = {}
    shapes = {"x (2, 5, 16)": (2, 5, 16), "T=1: x (3, 1, 16)": (3, 1, 16), "batch of 1: x (1, 6, 16)": (1, 6, 16)}
    for i, (label, shape) in enumerate(shapes.items()):
        mlp = MLP(block_config(GPTConfig, n_embd=16))
        set_params(mlp, 30 + i, scale=0.25)
        mlp.eval()
        with torch.no_grad():
            cases[label] = mlp(randn(*shape, seed=40 + i))
    mlp = MLP(block_config(GPTConfig, n_embd=8, bias=False))
    set_params(mlp, 35, scale=0.25)
    mlp.eval()
    with torch.no_grad():
        cases["bias=False, non-contiguous x (5, 2, 8).transpose(0, 1)"] = mlp(randn(5, 2, 8, seed=45).transpose(0, 1))
    # dropout: in training mode with p=0.5 exactly the last step's outputs are dropped (and the rest
    # scaled by 2); the seed fixes which ones, so a dropout in another place gives other values
    mlp = MLP(block_config(GPTConfig, n_embd=16, dropout=0.5))
    set_params(mlp, 36, scale=0.25)
    mlp.train()
    x = randn(2, 4, 16, seed=46)
    torch.manual_seed(1234)
    with torch.no_grad():
        cases["training mode, dropout=0.5 (seeded)"] = mlp(x)
    mlp.eval()
    with torch.no_grad():
        cases["eval mode, dropout=0.5 (dropout off)"] = mlp(x)
    return cases


class AttentionStandIn(nn.Module):
    """Mixes positions causally (a running mean) then projects: enough to tell where attn is called."""

    def __init__(self, n_embd):
        super().__init__()
        self.proj = nn.Linear(n_embd, n_embd)

    def forward(self, x):
        T = x.shape[1]
        weights = torch.tril(torch.ones(T, T, dtype=x.dtype))
        weights = weights / weights.sum(dim=1, keepdim=True)
        return self.proj(weights @ x)


class MLPStandIn(nn.Module):
    def __init__(self, n_embd):
        super().__init__()
        self.fc = nn.Linear(n_embd, n_embd)

    def forward(self, x):
        return torch.tanh(self.fc(x)) * 2.0


@task("08.block", points=3, target="Block.forward",
      hint="pre-norm: add attn of ln_1(x) to x, then add mlp of ln_2(x) to the result")
def block_cases(Block, GPTConfig):
    cases = {}

    def standin_block(n_embd, seed):
        block = Block(block_config(GPTConfig, n_embd=n_embd))
        # the wiring is the task: lesson 07's attention and this lesson's MLP and LayerNorm are
        # replaced by simple, different modules with seeded weights
        block.ln_1, block.ln_2 = nn.LayerNorm(n_embd), nn.LayerNorm(n_embd)
        block.attn, block.mlp = AttentionStandIn(n_embd), MLPStandIn(n_embd)
        set_params(block, seed, scale=0.25)
        return block.eval()

    inputs = {
        "x (2, 5, 16)": (16, randn(2, 5, 16, seed=50)),
        "T=1: x (3, 1, 16)": (16, randn(3, 1, 16, seed=51)),
        "batch of 1: x (1, 7, 16)": (16, randn(1, 7, 16, seed=52)),
        "non-contiguous x (6, 2, 8).transpose(0, 1)": (8, randn(6, 2, 8, seed=53).transpose(0, 1)),
        "large residual: x (2, 4, 16) * 10": (16, randn(2, 4, 16, seed=54, scale=10.0)),
    }
    for i, (label, (n_embd, x)) in enumerate(inputs.items()):
        block = standin_block(n_embd, 60 + i)
        with torch.no_grad():
            cases[f"stand-in sub-modules, {label}"] = block(x)

    # with lesson 07's real attention (the reference's, as for every earlier lesson). LayerNorm and MLP
    # are this lesson's other tasks: torch's LayerNorm and the stand-in MLP take their place here too,
    # so a slip in either costs its own task, not this one as well
    block = Block(block_config(GPTConfig, n_embd=16, n_head=4, block_size=8))
    block.ln_1, block.ln_2, block.mlp = nn.LayerNorm(16), nn.LayerNorm(16), MLPStandIn(16)
    set_params(block, 70, scale=0.2)
    block.eval()
    with torch.no_grad():
        cases["lesson 07's attention, x (2, 8, 16)"] = block(randn(2, 8, 16, seed=71))
        cases["lesson 07's attention, T=1: x (1, 1, 16)"] = block(randn(1, 1, 16, seed=72))
    return cases
