"""Lesson 13 - Muon: Newton-Schulz orthogonalisation, the Muon step, and the Muon/AdamW split."""

import inspect

import torch
from torch import nn
from torch.nn import functional as F

from ..compare import CheckFailed, check_unchanged
from ..tasks import task
from .kit import case, randn, set_params


# ---------------------------------------------------------------------------------------------
# 13.newton_schulz
# ---------------------------------------------------------------------------------------------

def low_rank_ish(m, n, seed, dtype=torch.float64):
    """A matrix whose singular values fall off fast, like a real gradient's."""
    k = min(m, n)
    u = torch.linalg.qr(randn(m, k, seed=seed, dtype=torch.float64))[0]
    v = torch.linalg.qr(randn(n, k, seed=seed + 1, dtype=torch.float64))[0]
    s = torch.logspace(0, -3, k, dtype=torch.float64)  # 1 ... 0.001
    return ((u * s) @ v.T * 7.0).to(dtype)


@task("13.newton_schulz", points=3, target="newton_schulz",
      hint="X = G / (Frobenius norm + eps); transpose if tall; steps times: A = X X^T, B = bA + cA^2, X = aX + BX; transpose back")
def newton_schulz_cases(newton_schulz):
    inputs = {
        "wide G (4, 9), steps=5": (randn(4, 9, seed=1, dtype=torch.float64), 5),
        "tall G (12, 5), steps=5 (transpose, then back)": (randn(12, 5, seed=2, dtype=torch.float64), 5),
        "square G (6, 6), steps=5": (randn(6, 6, seed=3, dtype=torch.float64), 5),
        "fast-decaying singular values (16, 8), steps=5": (low_rank_ish(16, 8, seed=4), 5),
        "steps=1": (randn(5, 7, seed=5, dtype=torch.float64), 1),
        "steps=0: only the normalisation": (randn(5, 7, seed=6, dtype=torch.float64) * 3.0, 0),
        "steps=3, tall (10, 3)": (randn(10, 3, seed=7, dtype=torch.float64), 3),
        "a large G (8, 4) * 1000 (the scaling makes size irrelevant)": (randn(8, 4, seed=8, dtype=torch.float64) * 1e3, 5),
        "a single row (1, 6)": (randn(1, 6, seed=9, dtype=torch.float64), 5),
        "non-contiguous G (7, 4).T": (randn(7, 4, seed=10, dtype=torch.float64).T, 5),
        "float32 G (8, 16)": (randn(8, 16, seed=11), 5),
    }
    originals = [g.clone() for g, _ in inputs.values()]
    cases = {}
    for label, (G, steps) in inputs.items():
        out = newton_schulz(G, steps)
        cases[label] = out
        if isinstance(out, torch.Tensor):
            cases[label + ": dtype"] = str(out.dtype)
    for (label, (G, _)), G0 in zip(inputs.items(), originals):
        check_unchanged(f"G ({label})", G0, G)
    zero = newton_schulz(torch.zeros(4, 6, dtype=torch.float64), 5)
    cases["all-zero G (4, 6): zeros, not NaN (eps)"] = zero
    return cases


# ---------------------------------------------------------------------------------------------
# 13.muon_step: the step alone, with an exact orthogonalisation in place of newton_schulz
# ---------------------------------------------------------------------------------------------

class ExactOrthogonalise:
    """Stands in for the student's newton_schulz while the step is checked: U V^T from the SVD
    (exact, so the step is judged on its own), and a record of the steps it was asked for."""

    def __init__(self):
        self.steps = set()

    def __call__(self, G, steps=5, *args, **kwargs):
        self.steps.add(int(steps))
        u, _, vh = torch.linalg.svd(G.detach().double(), full_matrices=False)  # a stack works too
        return (u @ vh).to(G.dtype)


def run_muon(Muon, stand_in, groups, grads, steps):
    """Build Muon over `groups` (seeded parameters + options) and feed it `steps` seeded gradients, with
    the stand-in as the step's newton_schulz (put back afterwards: a check cell runs in the kernel)."""
    params = [p for group in groups for p in group["params"]]
    opt = Muon(groups)
    namespace = inspect.unwrap(type(opt).step).__globals__  # the notebook's names, as the step sees them
    missing = object()
    original = namespace.get("newton_schulz", missing)
    namespace["newton_schulz"] = stand_in
    trace = []
    try:
        for i in range(steps):
            for j, p in enumerate(params):
                p.grad = None if grads[j] is None else grads[j][i].clone()
            if opt.step() is not None:
                raise CheckFailed("step() should return None (there is no closure to call)")
            trace.append([p.detach().clone() for p in params])
    finally:
        if original is missing:
            namespace.pop("newton_schulz", None)
        else:
            namespace["newton_schulz"] = original
    return trace


def param(*shape, seed):
    return nn.Parameter(randn(*shape, seed=seed) * 0.5)


def grads_for(*shape, seed, steps=3):
    return [randn(*shape, seed=seed + 100 * i) for i in range(steps)]


# The first optimizer a process builds imports torch's compiler stack (~1.5 CPU seconds, more on a busy
# machine): hence a longer limit than the default 10 s for the two tasks that build one.
@task("13.muon_step", points=3, target="Muon.step", timeout=30,
      hint="per parameter with a grad: buf = momentum*buf + grad; nesterov: grad + momentum*buf; newton_schulz(.., ns_steps); decay; p -= lr*sqrt(max(1, rows/cols))*O")
def muon_step_cases(Muon):
    cases = {}
    stand_in = ExactOrthogonalise()
    setups = {
        "one wide matrix (4, 8), lr=0.1, momentum=0.9, nesterov": (
            [dict(params=[param(4, 8, seed=1)], lr=0.1, momentum=0.9, nesterov=True, ns_steps=5, weight_decay=0.0)],
            [grads_for(4, 8, seed=2)]),
        "one tall matrix (8, 2), lr=0.1: update scaled by sqrt(8 / 2)": (
            [dict(params=[param(8, 2, seed=3)], lr=0.1, momentum=0.9, nesterov=True, ns_steps=5, weight_decay=0.0)],
            [grads_for(8, 2, seed=4)]),
        "square (5, 5), nesterov=False (plain momentum)": (
            [dict(params=[param(5, 5, seed=5)], lr=0.05, momentum=0.8, nesterov=False, ns_steps=5,
                  weight_decay=0.0)],
            [grads_for(5, 5, seed=6)]),
        "momentum=0: the orthogonalised gradient itself": (
            [dict(params=[param(3, 6, seed=7)], lr=0.2, momentum=0.0, nesterov=True, ns_steps=5, weight_decay=0.0)],
            [grads_for(3, 6, seed=8)]),
        "weight_decay=0.5, lr=0.1 (decoupled: p *= 1 - lr * weight_decay)": (
            [dict(params=[param(6, 3, seed=9)], lr=0.1, momentum=0.9, nesterov=True, ns_steps=5, weight_decay=0.5)],
            [grads_for(6, 3, seed=10)]),
        "two groups with their own lr, momentum, nesterov; a parameter without a grad": (
            [dict(params=[param(4, 4, seed=11), param(2, 3, seed=12)], lr=0.1, momentum=0.95, nesterov=True,
                  ns_steps=3, weight_decay=0.0),
             dict(params=[param(6, 2, seed=13)], lr=0.02, momentum=0.5, nesterov=False, ns_steps=5,
                  weight_decay=0.1)],
            [grads_for(4, 4, seed=14), None, grads_for(6, 2, seed=15)]),
    }
    for label, (groups, grads) in setups.items():
        cases[label] = {f"parameters after step {i + 1}": ps
                        for i, ps in enumerate(run_muon(Muon, stand_in, groups, grads, steps=3))}
    cases["ns_steps passed to newton_schulz"] = sorted(stand_in.steps)
    return cases


# ---------------------------------------------------------------------------------------------
# 13.configure_optimizer
# ---------------------------------------------------------------------------------------------

class TinyBlock(nn.Module):
    def __init__(self, n_embd):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)  # a bias: 1-D, for AdamW
        self.c_proj = nn.Linear(n_embd, n_embd, bias=False)
        self.ln_2 = nn.LayerNorm(n_embd, bias=False)
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=False)
        self.gain = nn.Parameter(torch.tensor(1.0))  # a 0-D scalar inside a block

    def forward(self, x):
        x = x + self.c_proj(self.c_attn(self.ln_1(x))[..., : x.size(-1)])
        return x + self.gain * self.c_fc(self.ln_2(x))[..., : x.size(-1)]


class TinyGPT(nn.Module):
    """GPT's parameter names and kinds: wte, wpe, blocks in h, ln_f, a tied or untied lm_head."""

    def __init__(self, vocab=11, n_embd=8, block_size=6, n_layer=2, tie=True):
        super().__init__()
        self.wte = nn.Embedding(vocab, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.h = nn.ModuleList([TinyBlock(n_embd) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab, bias=False)
        if tie:
            self.lm_head.weight = self.wte.weight

    def forward(self, idx, targets=None):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        return logits, None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def describe(optimizers, model, Muon) -> dict:
    names = {id(p): name for name, p in model.named_parameters()}
    if not isinstance(optimizers, (list, tuple)):
        raise CheckFailed(f"expected a list [muon, adamw], got {type(optimizers).__name__}")
    kinds = ["Muon" if isinstance(o, Muon) else "AdamW" if isinstance(o, torch.optim.AdamW)
             else type(o).__name__ for o in optimizers]
    out = {"the optimizers, in order": kinds}
    for kind, opt in zip(kinds, optimizers):
        groups = []
        for group in getattr(opt, "param_groups", []):
            info = {"parameters": sorted(names.get(id(p), "a tensor that is not a parameter of the model")
                                         for p in group["params"]),
                    "lr": group.get("lr"), "weight_decay": group.get("weight_decay")}
            if kind == "Muon":
                info["momentum"] = group.get("momentum")
                info["nesterov"] = group.get("nesterov")
            else:
                info["betas"] = tuple(group.get("betas", ()))
            groups.append(info)
        out[kind] = sorted(groups, key=lambda g: g["parameters"])
    return out


@task("13.configure_optimizer", points=2, target="configure_optimizer", timeout=30,
      hint="Muon(lr=muon_lr, momentum) over the 2-D parameters in model.h; AdamW for the rest, weight_decay on >= 2-D only")
def configure_cases(configure_optimizer, Muon):
    cases = {}
    setups = {
        "tied head, lr=3e-3, weight_decay=0.1, betas=(0.9, 0.99), muon_lr=0.02, momentum=0.95": (
            dict(tie=True), (3e-3, 0.1, (0.9, 0.99), 0.02, 0.95)),
        "untied head, lr=1e-3, weight_decay=0.5, betas=(0.8, 0.95), muon_lr=0.05, momentum=0.9": (
            dict(tie=False, n_layer=1), (1e-3, 0.5, (0.8, 0.95), 0.05, 0.9)),
    }
    for label, (shape, (lr, wd, betas, muon_lr, momentum)) in setups.items():
        model = TinyGPT(**shape)
        set_params(model, 0, scale=0.5)  # the values do not matter here: which optimizer gets which tensor does
        optimizers = configure_optimizer(model, lr, wd, betas, muon_lr=muon_lr, momentum=momentum)
        with case(label):
            cases[label] = describe(optimizers, model, Muon)
    return cases
