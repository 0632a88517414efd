"""Lesson 13 - Muon: Newton-Schulz orthogonalisation, the Muon step, and the Muon/AdamW split."""

import inspect

import torch
from torch import nn
from torch.nn import functional as F

from ..compare import CheckFailed, check_unchanged
from ..misconceptions import Misconception, diagnosed, matches
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


def ns_inputs() -> dict:
    """{case label: (G, steps)}: the check's inputs, rebuilt by the misconception tests below."""
    return {
        "wide G (4, 9), steps=5": (randn(4, 9, seed=1, dtype=torch.float64), 5),
        "tall G (12, 5), steps=5 (transpose, then back)": (randn(12, 5, seed=2, dtype=torch.float64), 5),
        "square G (6, 6), steps=5": (randn(6, 6, seed=3, dtype=torch.float64), 5),
        "fast-decaying singular values (16, 8), steps=5": (low_rank_ish(16, 8, seed=4), 5),
        ONE_STEP: (randn(5, 7, seed=5, dtype=torch.float64), 1),
        NO_STEP: (randn(5, 7, seed=6, dtype=torch.float64) * 3.0, 0),
        "steps=3, tall (10, 3)": (randn(10, 3, seed=7, dtype=torch.float64), 3),
        "a large G (8, 4) * 1000 (the scaling makes size irrelevant)": (randn(8, 4, seed=8, dtype=torch.float64) * 1e3, 5),
        "a single row (1, 6)": (randn(1, 6, seed=9, dtype=torch.float64), 5),
        "non-contiguous G (7, 4).T": (randn(7, 4, seed=10, dtype=torch.float64).T, 5),
        "float32 G (8, 16)": (randn(8, 16, seed=11), 5),
    }


ONE_STEP, NO_STEP = "steps=1", "steps=0: only the normalisation"
# the notebook's NS_COEFFICIENTS (its set-up cell), for the misconception tests
A, B, C = 3.4445, -4.7750, 2.0315


def normalised_by(divisor):
    """Test: the steps=0 output is G / divisor(G) (what a mistaken normalisation gives)."""
    def shows(actual, expected):
        G, _ = ns_inputs()[NO_STEP]
        return matches(actual[NO_STEP], G / divisor(G))
    return shows


def step_coefficients(label: str, out: torch.Tensor) -> list[float]:
    """(a, b, c) such that out = aX + b(XX^T)X + c(XX^T)^2 X with X = G / |G|, fitted by least squares;
    [] when no such odd polynomial of degree 5 explains out (e.g. after more than one step)."""
    G, _ = ns_inputs()[label]
    if tuple(out.shape) != tuple(G.shape):
        return []
    X = G / G.norm()
    gram = X @ X.T
    basis = torch.stack([X, gram @ X, gram @ gram @ X]).reshape(3, -1).T
    y = out.double().reshape(-1)
    fit = torch.linalg.lstsq(basis, y[:, None]).solution[:, 0]
    if (basis @ fit - y).norm() > 1e-6 * max(y.norm().item(), 1e-12):
        return []
    return fit.tolist()


def one_step_is(label: str, a: float, b: float, c: float):
    """Test: the output of the case `label` is one step of X -> aX + bX^3 + cX^5."""
    def shows(actual, expected):
        fit = step_coefficients(label, actual[label])
        return bool(fit) and all(abs(f - w) < 1e-3 for f, w in zip(fit, (a, b, c)))
    return shows


NS_MISCONCEPTIONS = (
    Misconception("normalise X by its norm first: X = G / (G.norm() + eps); without it the singular values "
                  "are not in (0, 1] and the polynomial blows them up", normalised_by(lambda G: 1.0)),
    Misconception("normalise by the Frobenius norm G.norm() (the lesson's choice), not the spectral norm",
                  normalised_by(lambda G: torch.linalg.matrix_norm(G, ord=2))),
    Misconception("normalise by the Frobenius norm G.norm(): dividing by the largest entry leaves singular "
                  "values above 1, which the polynomial blows up", normalised_by(lambda G: G.abs().max())),
    Misconception("steps=0 must return the normalised G untouched: the loop runs one step too many "
                  "(for _ in range(steps))", one_step_is(NO_STEP, A, B, C)),
    Misconception("the coefficients of X^3 and X^5 look swapped: B = b*A + c*(A @ A) with a, b, c = "
                  "NS_COEFFICIENTS", one_step_is(ONE_STEP, A, C, B)),
    Misconception("that is the cubic iteration 1.5X - 0.5X^3; Muon's step is the quintic aX + bX^3 + cX^5 "
                  "with a, b, c = NS_COEFFICIENTS", one_step_is(ONE_STEP, 1.5, -0.5, 0.0)),
    Misconception("c multiplies A @ A (that gives the X^5 term), not A: B = b*A + c*(A @ A)",
                  one_step_is(ONE_STEP, A, B + C, 0.0)),
)


@task("13.newton_schulz", points=3, target="newton_schulz", compare=diagnosed(*NS_MISCONCEPTIONS),
      hint="X = G / (Frobenius norm + eps); transpose if tall; steps times: A = X X^T, B = bA + cA^2, X = aX + BX; transpose back")
def newton_schulz_cases(newton_schulz):
    inputs = ns_inputs()
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


def muon_setups() -> dict:
    """{case label: (param groups, gradients per parameter)}: fresh seeded parameters on every call."""
    return {
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


STEPS = 3
NS_STEPS = "ns_steps passed to newton_schulz"


# --- what a mistaken step gives: the hint's recipe with one thing changed, on the same seeded inputs ---

MUON_DEFAULTS = dict(lr=0.02, momentum=0.95)  # Muon.__init__'s defaults (the notebook's), what self.defaults holds


def mistaken_step(*, buffer="mu*buf + g", update="as the group says", scale="sqrt(max(1, rows/cols))",
                  decay="p *= 1 - lr*wd", orthogonalise=True, sign=-1.0, settings="group"):
    """Test: the student's parameters after each step are what a step with one mistake gives."""
    scales = {"sqrt(max(1, rows/cols))": lambda r, c: max(1.0, r / c) ** 0.5, "1": lambda r, c: 1.0,
              "sqrt(max(1, cols/rows))": lambda r, c: max(1.0, c / r) ** 0.5, "sqrt(rows/cols)": lambda r, c: (r / c) ** 0.5,
              "max(1, rows/cols)": lambda r, c: max(1.0, r / c)}

    def trace(groups, grads):
        params = [p.detach().clone() for group in groups for p in group["params"]]
        options = [group for group in groups for _ in group["params"]]
        buffers = [torch.zeros_like(p) for p in params]
        out = {}
        for i in range(STEPS):
            for j, (p, group) in enumerate(zip(params, options)):
                if grads[j] is None:
                    continue
                g = grads[j][i]
                lr, mu = (MUON_DEFAULTS["lr"], MUON_DEFAULTS["momentum"]) if settings == "defaults" else \
                         (group["lr"], group["momentum"])
                if buffer == "none":
                    buf = g
                else:
                    buf = mu * buffers[j] + {"mu*buf + g": g, "mu*buf + (1-mu)*g": (1 - mu) * g, "mu*buf + mu*g": mu * g}[buffer]
                buffers[j] = buf
                nesterov = {"as the group says": group["nesterov"], "always buf": False,
                            "always nesterov": True, "buf + mu*g": group["nesterov"]}[update]
                u = (buf + mu * g if update == "buf + mu*g" else g + mu * buf) if nesterov else buf
                direction = ExactOrthogonalise()(u) if orthogonalise else u
                wd = group["weight_decay"]
                p.mul_({"p *= 1 - lr*wd": 1 - lr * wd, "p *= 1 - wd": 1 - wd, "none": 1.0}[decay])
                p.add_(direction, alpha=sign * lr * scales[scale](*p.shape))
            out[f"parameters after step {i + 1}"] = [p.clone() for p in params]
        return out

    def shows(actual, expected):
        return all(matches(actual[label], trace(groups, grads)) for label, (groups, grads) in muon_setups().items())
    return shows


STEP_MISCONCEPTIONS = (
    Misconception("the update ignores earlier gradients: keep the momentum buffer in self.state[p] across steps "
                  "and update it, buf = momentum*buf + grad", mistaken_step(buffer="none")),
    Misconception("the momentum buffer should be mu*buf + g, not mu*buf + (1-mu)*g (an average of the gradients "
                  "shrinks grad's share in the Nesterov update grad + mu*buf)", mistaken_step(buffer="mu*buf + (1-mu)*g")),
    Misconception("the momentum buffer is mu*buf + g: the new gradient is added as it is, not scaled by momentum",
                  mistaken_step(buffer="mu*buf + mu*g")),
    Misconception("nesterov=True is ignored: with Nesterov the update is grad + momentum*buf, not buf",
                  mistaken_step(update="always buf")),
    Misconception("nesterov=False is ignored: without Nesterov the update is the buffer itself",
                  mistaken_step(update="always nesterov")),
    Misconception("Nesterov's update is grad + momentum*buf, not buf + momentum*grad", mistaken_step(update="buf + mu*g")),
    Misconception("read lr and momentum from each param group (group['lr']), not from self.defaults: groups have "
                  "their own settings", mistaken_step(settings="defaults")),
    Misconception("scale the orthogonalised update by sqrt(max(1, rows/cols)): a tall matrix takes a larger step",
                  mistaken_step(scale="1")),
    Misconception("the scale is sqrt(max(1, rows/cols)), rows over columns (p.size(0) / p.size(1)), not the inverse",
                  mistaken_step(scale="sqrt(max(1, cols/rows))")),
    Misconception("the scale is sqrt(max(1, rows/cols)): a wide matrix keeps scale 1, max(1, ...)",
                  mistaken_step(scale="sqrt(rows/cols)")),
    Misconception("the scale is the square root of max(1, rows/cols)", mistaken_step(scale="max(1, rows/cols)")),
    Misconception("decoupled weight decay multiplies p by 1 - lr*weight_decay (scaled by the learning rate)",
                  mistaken_step(decay="p *= 1 - wd")),
    Misconception("weight_decay is ignored: multiply p by 1 - lr*weight_decay before the update",
                  mistaken_step(decay="none")),
    Misconception("the update is not orthogonalised: pass it through newton_schulz(update, group['ns_steps'])",
                  mistaken_step(orthogonalise=False)),
    Misconception("the step goes uphill: subtract the update, p -= lr * scale * O", mistaken_step(sign=1.0)),
    Misconception("pass each group's ns_steps to newton_schulz (group['ns_steps']), not a fixed number",
                  lambda actual, expected: len(actual[NS_STEPS]) == 1),
)


# The first optimizer a process builds imports torch's compiler stack (~1.5 CPU seconds, more on a busy
# machine): hence a longer limit than the default 10 s for the two tasks that build one.
@task("13.muon_step", points=3, target="Muon.step", timeout=30, compare=diagnosed(*STEP_MISCONCEPTIONS),
      hint="per parameter with a grad: buf = momentum*buf + grad; nesterov: grad + momentum*buf; newton_schulz(.., ns_steps); decay; p -= lr*sqrt(max(1, rows/cols))*O")
def muon_step_cases(Muon):
    cases = {}
    stand_in = ExactOrthogonalise()
    for label, (groups, grads) in muon_setups().items():
        cases[label] = {f"parameters after step {i + 1}": ps
                        for i, ps in enumerate(run_muon(Muon, stand_in, groups, grads, steps=STEPS))}
    cases[NS_STEPS] = sorted(stand_in.steps)
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


def in_some_case(test):
    """Test: `test(outputs of one case)` holds for some case."""
    return lambda actual, expected: any(test(actual[label]) for label in expected)


def parameter_lists(case: dict, kind: str) -> list[list[str]]:
    return [group["parameters"] for group in case.get(kind, [])]


CONFIGURE_MISCONCEPTIONS = (
    Misconception("every parameter belongs to one optimizer: the block matrices go to Muon only, not to AdamW as well",
                  in_some_case(lambda case: {n for ps in parameter_lists(case, "Muon") for n in ps}
                               & {n for ps in parameter_lists(case, "AdamW") for n in ps})),
    Misconception("Muon takes only the 2-D matrices inside the blocks (model.h): the embeddings and lm_head go to AdamW",
                  in_some_case(lambda case: any(not n.startswith("h.") for ps in parameter_lists(case, "Muon") for n in ps))),
    Misconception("the tied wte/lm_head weight is listed twice: model.parameters() lists a shared tensor once "
                  "(a state_dict names it twice)",
                  in_some_case(lambda case: any(len(ps) != len(set(ps)) for kind in ("Muon", "AdamW")
                                                for ps in parameter_lists(case, kind)))),
    Misconception("AdamW needs two groups: weight_decay for the 2-D parameters, 0.0 for biases, LayerNorm weights "
                  "and other 1-D ones", in_some_case(lambda case: len(case["AdamW"]) == 1)),
    Misconception("Muon keeps its default weight_decay=0.0 here: weight_decay is AdamW's (the capstone gives Muon "
                  "its own decay)", in_some_case(lambda case: any(g.get("weight_decay") for g in case.get("Muon", [])))),
)


@task("13.configure_optimizer", points=2, target="configure_optimizer", timeout=30,
      compare=diagnosed(*CONFIGURE_MISCONCEPTIONS),
      hint="Muon(lr=muon_lr, momentum; no weight_decay) over the 2-D parameters in model.h; AdamW for the rest, weight_decay on >= 2-D only")
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
