"""Lesson 08 - the transformer block: LayerNorm from scratch, the MLP, a pre-norm block with residuals."""

import torch
from torch import nn
from torch.nn import functional as F

from ..misconceptions import Misconception, diagnosed, matches
from ..tasks import task
from .kit import randn, seeded_params, set_params


def block_config(GPTConfig, **changes):
    """A small config of the notebook's GPTConfig (lesson 07's, the model's one config): the fields a
    block reads are set here, any other field keeps its default."""
    return GPTConfig(**{**dict(n_embd=16, n_head=4, block_size=8, dropout=0.0, bias=True, flash=False), **changes})


def layernorm_inputs() -> dict:
    """{case label: (ndim, x, bias)}: the LayerNorm cases (the i-th has set_params seed 10 + i)."""
    return {
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


def normalised(x, weight, bias, unbiased=False, eps=1e-5, eps_outside=False, dim=-1, scale=True, shift=True):
    """LayerNorm's forward with (at most) one thing changed, in x's dtype (as a student's code rounds)."""
    mean, var = x.mean(dim, keepdim=True), x.var(dim, keepdim=True, unbiased=unbiased)
    y = (x - mean) / (var.sqrt() + eps if eps_outside else (var + eps).sqrt())
    y = y * weight.to(x.dtype) if scale else y
    return y + bias.to(x.dtype) if shift and bias is not None else y


def layernorm_gives(skip=(), **mistake):
    """Test: every LayerNorm case's output (but those whose label starts with one in `skip`) is what `mistake`
    gives."""
    def shows(actual, expected):
        for i, (label, (ndim, x, bias)) in enumerate(layernorm_inputs().items()):
            if label.startswith(skip):
                continue
            W = seeded_params({"weight": (ndim,), **({"bias": (ndim,)} if bias else {})}, 10 + i, 0.5)
            if not matches(actual[label], normalised(x, W["weight"], W.get("bias"), **mistake)):
                return False
        return True
    return shows


def another_eps(actual, expected):
    return any(layernorm_gives(eps=eps)(actual, expected) for eps in (0.0, 1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-3))


LAYERNORM_MISCONCEPTIONS = (
    Misconception("use the biased variance, the mean of (x - mean)^2 (x.var(-1, unbiased=False)): torch's default "
                  "x.var divides by n - 1", layernorm_gives(unbiased=True)),
    Misconception("eps goes inside the square root: (x - mean) / sqrt(var + eps), not / (std + eps)",
                  layernorm_gives(eps_outside=True)),
    Misconception("use self.eps (1e-5), not an eps of your own", another_eps),
    Misconception("normalise over the last dim, each position's own features: mean and variance over dim=-1, not "
                  "dim=0",
                  layernorm_gives(dim=0, skip=("large mean",))),  # over 2 rows of mean 100, float32 rounding shows
    Misconception("after normalising, scale by self.weight and add self.bias (the learned gain and shift)",
                  layernorm_gives(scale=False, shift=False)),
    Misconception("add self.bias (when there is one) after scaling by self.weight", layernorm_gives(shift=False)),
)


@task("08.layernorm", points=3, target="LayerNorm.forward", compare=diagnosed(*LAYERNORM_MISCONCEPTIONS),
      hint="over the last dim: subtract the mean, divide by sqrt(biased variance + eps), then scale by weight and add bias")
def layernorm_cases(LayerNorm):
    inputs = layernorm_inputs()
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


MLP_SHAPES = {"x (2, 5, 16)": (2, 5, 16), "T=1: x (3, 1, 16)": (3, 1, 16), "batch of 1: x (1, 6, 16)": (1, 6, 16)}
MLP_TRAIN, MLP_EVAL = "training mode, dropout=0.5 (seeded)", "eval mode, dropout=0.5 (dropout off)"
ACTIVATIONS = {"gelu": F.gelu, "relu": F.relu, "none": lambda h: h, "tanh": lambda h: F.gelu(h, approximate="tanh")}


def mlp_out(x, seed, n_embd=16, bias=True, activation="gelu", hidden_dropout=False):
    """MLP.forward with set_params seed `seed` and one thing changed; hidden_dropout: the training-mode case with
    the dropout on the hidden layer (drawn right after torch.manual_seed(1234)) instead of the output."""
    names = {"c_fc.weight": (4 * n_embd, n_embd), "c_proj.weight": (n_embd, 4 * n_embd)}
    if bias:
        names.update({"c_fc.bias": (4 * n_embd,), "c_proj.bias": (n_embd,)})
    W = seeded_params(names, seed, 0.25)
    h = ACTIVATIONS[activation](x @ W["c_fc.weight"].T + W.get("c_fc.bias", 0.0))
    if hidden_dropout:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(1234)
            h = F.dropout(h, 0.5, training=True)
    return h @ W["c_proj.weight"].T + W.get("c_proj.bias", 0.0)


def mlp_activation(activation):
    """Test: every eval-mode case is what an MLP with this activation gives."""
    def shows(actual, expected):
        return (all(matches(actual[label], mlp_out(randn(*shape, seed=40 + i), 30 + i, activation=activation))
                    for i, (label, shape) in enumerate(MLP_SHAPES.items()))
                and matches(actual[MLP_EVAL], mlp_out(randn(2, 4, 16, seed=46), 36, activation=activation)))
    return shows


MLP_MISCONCEPTIONS = (
    Misconception("the MLP's non-linearity is self.gelu (GELU), not ReLU", mlp_activation("relu")),
    Misconception("apply self.gelu between c_fc and c_proj: without a non-linearity the two Linear layers are one "
                  "linear map", mlp_activation("none")),
    Misconception("use self.gelu, the exact GELU (nn.GELU()), not the tanh approximation", mlp_activation("tanh")),
    Misconception("apply self.dropout to c_proj's output (eval mode turns it off, training mode on)",
                  lambda actual, expected: matches(actual[MLP_TRAIN], expected[MLP_EVAL])),
    Misconception("the dropout comes last, on c_proj's output, not on the hidden layer after the GELU",
                  lambda actual, expected: matches(actual[MLP_TRAIN],
                                                   mlp_out(randn(2, 4, 16, seed=46), 36, hidden_dropout=True))),
)


@task("08.mlp", points=2, target="MLP.forward", compare=diagnosed(*MLP_MISCONCEPTIONS),
      hint="c_fc, then self.gelu, then c_proj, then self.dropout")
def mlp_cases(MLP, GPTConfig):
    cases = {}
    for i, (label, shape) in enumerate(MLP_SHAPES.items()):
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
        cases[MLP_TRAIN] = mlp(x)
    mlp.eval()
    with torch.no_grad():
        cases[MLP_EVAL] = mlp(x)
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


def block_inputs() -> dict:
    """{label: (n_embd, x)}: the stand-in cases (the i-th block has set_params seed 60 + i)."""
    return {
        "x (2, 5, 16)": (16, randn(2, 5, 16, seed=50)),
        "T=1: x (3, 1, 16)": (16, randn(3, 1, 16, seed=51)),
        "batch of 1: x (1, 7, 16)": (16, randn(1, 7, 16, seed=52)),
        "non-contiguous x (6, 2, 8).transpose(0, 1)": (8, randn(6, 2, 8, seed=53).transpose(0, 1)),
        "large residual: x (2, 4, 16) * 10": (16, randn(2, 4, 16, seed=54, scale=10.0)),
    }


WIRINGS = {  # name: (x, ln_1, attn, ln_2, mlp) -> a mistaken block's output
    "post-norm": lambda x, ln_1, attn, ln_2, mlp: ln_2(ln_1(x + attn(x)) + mlp(ln_1(x + attn(x)))),
    "no residual": lambda x, ln_1, attn, ln_2, mlp: mlp(ln_2(attn(ln_1(x)))),
    "one residual": lambda x, ln_1, attn, ln_2, mlp: mlp(ln_2(x + attn(ln_1(x)))),
    "normed residual": lambda x, ln_1, attn, ln_2, mlp: ln_2(ln_1(x) + attn(ln_1(x))) + mlp(ln_2(ln_1(x) + attn(ln_1(x)))),
    "mlp first": lambda x, ln_1, attn, ln_2, mlp: (x + mlp(ln_2(x))) + attn(ln_1(x + mlp(ln_2(x)))),
    "ln_1 twice": lambda x, ln_1, attn, ln_2, mlp: (x + attn(ln_1(x))) + mlp(ln_1(x + attn(ln_1(x)))),
    "parallel": lambda x, ln_1, attn, ln_2, mlp: x + attn(ln_1(x)) + mlp(ln_2(x)),
}


def standin_block(wiring, n, x, seed):
    """What a block of the stand-in sub-modules (set_params seed `seed`) wired as WIRINGS[wiring] gives for x."""
    W = seeded_params({**{f"{m}.{p}": (n,) for m in ("ln_1", "ln_2") for p in ("weight", "bias")},
                       "attn.proj.weight": (n, n), "attn.proj.bias": (n,), "mlp.fc.weight": (n, n),
                       "mlp.fc.bias": (n,)}, seed, 0.25)

    def norm(which):
        return lambda h: F.layer_norm(h, (n,), W[f"{which}.weight"], W[f"{which}.bias"])

    def attn(h):  # AttentionStandIn
        T = h.shape[1]
        weights = torch.tril(torch.ones(T, T))
        return (weights / weights.sum(dim=1, keepdim=True)) @ h @ W["attn.proj.weight"].T + W["attn.proj.bias"]

    def mlp(h):  # MLPStandIn
        return torch.tanh(h @ W["mlp.fc.weight"].T + W["mlp.fc.bias"]) * 2.0

    return WIRINGS[wiring](x, norm("ln_1"), attn, norm("ln_2"), mlp)


def wired(wiring):
    """Test: every stand-in case is what the block wired as WIRINGS[wiring] gives."""
    def shows(actual, expected):
        return all(matches(actual[f"stand-in sub-modules, {label}"], standin_block(wiring, n, x, 60 + i))
                   for i, (label, (n, x)) in enumerate(block_inputs().items()))
    return shows


BLOCK_MISCONCEPTIONS = (
    Misconception("that is post-norm (a LayerNorm after each addition): the block is pre-norm, x = x + "
                  "self.attn(self.ln_1(x)), then x = x + self.mlp(self.ln_2(x))", wired("post-norm")),
    Misconception("add each sub-layer's output to x, the residual stream: x = x + self.attn(self.ln_1(x)), not "
                  "x = self.attn(...)", wired("no residual")),
    Misconception("the MLP needs its residual too: x = x + self.mlp(self.ln_2(x))", wired("one residual")),
    Misconception("the residual stream carries x itself, not ln_1(x): normalise only what goes into attn and mlp, "
                  "x = x + self.attn(self.ln_1(x))", wired("normed residual")),
    Misconception("attention comes first, then the MLP", wired("mlp first")),
    Misconception("the MLP's input is normalised by ln_2, not ln_1: each sub-layer has its own LayerNorm",
                  wired("ln_1 twice")),
    Misconception("one after the other: the MLP sees x after the attention's output was added, x = x + "
                  "self.attn(self.ln_1(x)), then x = x + self.mlp(self.ln_2(x))", wired("parallel")),
)


@task("08.block", points=3, target="Block.forward", compare=diagnosed(*BLOCK_MISCONCEPTIONS),
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

    inputs = block_inputs()
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
