"""Lesson 09 - the GPT: initialisation, forward with optional loss, generate, parameter count."""

import math

import torch

from ..compare import CheckFailed, compare_outputs
from ..tasks import task
from .kit import generator, randint, same_values, set_params


def gpt_config(GPTConfig, **changes):
    """A config of the notebook's GPTConfig (lesson 07's, the model's one config), small enough to build
    in milliseconds; a field not named here keeps its default."""
    fields = dict(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=16, dropout=0.0, bias=True,
                  flash=False, tie_weights=True)
    fields.update(changes)
    return GPTConfig(**fields)


def without_init(GPT):
    """The student's GPT with init_weights skipped, so other tasks do not depend on that one."""

    class NoInit(GPT):
        def init_weights(self):
            pass

    return NoInit


# ---------------------------------------------------------------------------------------------
# 09.init: a property check (any order of drawing random numbers is fine), judged by the rules
# ---------------------------------------------------------------------------------------------

INIT_CONFIGS = {
    "tied, bias=True, n_layer=4": dict(block_size=32, vocab_size=65, n_layer=4, n_head=4, n_embd=64),
    "untied, bias=False, n_layer=3": dict(block_size=32, vocab_size=65, n_layer=3, n_head=4, n_embd=64,
                                          bias=False, tie_weights=False),
}


def expected_init(name: str, n_layer: int):
    """(kind, value) the rules of the lesson give for a parameter."""
    if name.split(".")[-2].startswith("ln_"):
        return ("constant", 1.0 if name.endswith("weight") else 0.0)
    if name.endswith("bias"):
        return ("constant", 0.0)
    if name.endswith("c_proj.weight"):
        return ("normal", 0.02 / math.sqrt(2 * n_layer))
    return ("normal", 0.02)


@task("09.init", points=2, target="GPT.init_weights", fixture=True,
      hint="normal(0, 0.02) for every Linear and Embedding weight, zero biases, c_proj weights std 0.02/sqrt(2*n_layer)",
      compare=lambda actual, expected: compare_init(actual, expected))
def init_cases(GPT, GPTConfig):
    cases = {}
    for label, fields in INIT_CONFIGS.items():
        torch.manual_seed(0)
        model = GPT(gpt_config(GPTConfig, **fields))
        stats = {}
        for name, p in model.named_parameters():
            p = p.detach().double()
            stats[name] = {"mean": p.mean().item(), "std": p.std().item(), "numel": p.numel(),
                           "min": p.min().item(), "max": p.max().item()}
        cases[label] = {"n_layer": fields["n_layer"], "parameters": stats,
                        "lm_head.weight is wte.weight": model.lm_head.weight is model.wte.weight}
    return cases


def compare_init(actual, expected):
    if not isinstance(actual, dict) or set(actual) != set(expected):
        compare_outputs(actual, expected)  # names the missing case
    for label, want in expected.items():
        got = actual[label]
        if not isinstance(got, dict) or not isinstance(got.get("parameters"), dict):
            raise CheckFailed(f"{label}: unexpected output")
        if got.get("lm_head.weight is wte.weight") != want["lm_head.weight is wte.weight"]:
            raise CheckFailed(f"{label}: lm_head.weight and wte.weight must "
                              f"{'stay' if want['lm_head.weight is wte.weight'] else 'not be'} the same tensor")
        names, want_names = list(got["parameters"]), list(want["parameters"])
        if names != want_names:
            raise CheckFailed(f"{label}: parameters {names} differ from the expected {want_names}")
        for name, s in got["parameters"].items():
            kind, value = expected_init(name, want["n_layer"])
            if not all(math.isfinite(s[key]) for key in ("mean", "std", "min", "max")):  # NaN fails every test below
                raise CheckFailed(f"{label}: {name} holds NaN or infinite values at initialisation")
            if kind == "constant":
                if s["min"] != value or s["max"] != value:
                    raise CheckFailed(f"{label}: {name} should be all {value:g} at initialisation, "
                                      f"found values from {s['min']:.3g} to {s['max']:.3g}")
                continue
            # seeded, so this is deterministic; the tolerances are > 5 standard errors wide
            if abs(s["std"] / value - 1) > 0.1:
                raise CheckFailed(f"{label}: {name} should have std {value:.4g}, found {s['std']:.4g}")
            if abs(s["mean"]) > 5 * value / math.sqrt(s["numel"]):
                raise CheckFailed(f"{label}: {name} should have mean 0, found {s['mean']:.3g}")
            if max(-s["min"], s["max"]) > 7 * value:
                raise CheckFailed(f"{label}: {name} has values as large as {max(-s['min'], s['max']):.3g}: "
                                  f"not normal(0, {value:.4g})")


# ---------------------------------------------------------------------------------------------
# 09.forward
# ---------------------------------------------------------------------------------------------

@task("09.forward", points=3, target="GPT.forward",
      hint="token + position embeddings, dropout, blocks, ln_f, lm_head; cross-entropy on the (B*T, V) view; ValueError if T > block_size")
def forward_cases(GPT, GPTConfig):
    cases = {}
    model = without_init(GPT)(gpt_config(GPTConfig))
    set_params(model, 80, scale=0.3)
    model.eval()
    with torch.no_grad():
        x, y = randint(2, 8, high=11, seed=81), randint(2, 8, high=11, seed=82)
        cases["idx (2, 8) = block_size, with targets"] = model(x, y)
        logits, loss = model(randint(3, 1, high=11, seed=83))
        cases["T=1: idx (3, 1), no targets"] = [logits, loss]
        cases["batch of 1: idx (1, 5), with targets"] = model(randint(1, 5, high=11, seed=84),
                                                               randint(1, 5, high=11, seed=85))
        cases["non-contiguous idx (6, 2).t(), with targets"] = model(randint(6, 2, high=11, seed=86).t(),
                                                                      randint(2, 6, high=11, seed=87))
        cases["the first 4 positions of idx (2, 8) = the whole forward of idx[:, :4]"] = \
            same_values(model(x)[0][:, :4], model(x[:, :4])[0])
    try:
        model(randint(1, 9, high=11, seed=88))
        outcome = "no error"
    except NotImplementedError:
        raise
    except Exception as err:  # noqa: BLE001 - fixed phrases only: the exception is the student's
        # calls.py has worded it "GPT.forward(idx=...) raised ValueError: ...": the type is the first word
        # after " raised " (the message, the student's text, comes after it)
        raised = str(err).partition(" raised ")[2]
        if "index out of range" in raised:
            outcome = "IndexError from wpe (no check of T)"
        elif raised.startswith("ValueError"):  # what the lesson asks for: a caller can catch it by name
            outcome = "a ValueError: T > block_size"
        else:
            outcome = "an exception other than ValueError (an assert?)"
    cases["forward(idx (1, 9)) with block_size 8"] = outcome

    untied = without_init(GPT)(gpt_config(GPTConfig, bias=False, tie_weights=False, n_layer=1, n_embd=8, n_head=2))
    set_params(untied, 90, scale=0.3)
    untied.eval()
    with torch.no_grad():
        cases["untied lm_head, bias=False: idx (2, 6), with targets"] = untied(randint(2, 6, high=11, seed=91),
                                                                              randint(2, 6, high=11, seed=92))
    dropout = without_init(GPT)(gpt_config(GPTConfig, dropout=0.3))
    set_params(dropout, 93, scale=0.3)
    dropout.train()
    torch.manual_seed(94)
    with torch.no_grad():
        cases["training mode, dropout=0.3 (seeded)"] = dropout(randint(2, 8, high=11, seed=95),
                                                               randint(2, 8, high=11, seed=96))
    return cases


# ---------------------------------------------------------------------------------------------
# 09.generate: a stand-in forward with known next-token logits
# ---------------------------------------------------------------------------------------------

# next-token logits of even (row 0) and odd (row 1) batch rows; no ties, so top-k is well defined
PROBE_LOGITS = torch.tensor([
    [2.0, 1.5, 1.1, 0.7, 0.3, 0.0, -0.4, -0.9, -1.5, -2.2, 0.9],
    [-1.0, 0.2, -0.5, 1.6, -2.0, 1.2, 0.5, -0.2, 1.9, 0.0, -1.3],
])
GARBAGE_TOKEN = 4  # what every position but the last predicts: sampling from the wrong position shows


def probe(GPT, GPTConfig, block_size=8):
    class Probe(without_init(GPT)):
        def forward(self, idx, targets=None):
            B, T = idx.shape
            if T > self.config.block_size:
                raise ValueError(f"sequence of length {T} is longer than block_size {self.config.block_size}")
            self.seen.append(idx.clone())
            logits = torch.zeros(B, T, PROBE_LOGITS.shape[1])
            logits[:, :, GARBAGE_TOKEN] = 30.0
            logits[:, -1] = PROBE_LOGITS[torch.arange(B) % 2]
            return logits, None

    model = Probe(gpt_config(GPTConfig, block_size=block_size, n_layer=1, n_embd=8, n_head=2))
    model.seen = []
    return model.eval()


FREQUENCY_CASES = {  # label: (temperature, top_k)
    "frequencies, temperature=1.0": (1.0, None),
    "frequencies, temperature=0.5": (0.5, None),
    "frequencies, temperature=2.0": (2.0, None),
    "frequencies, top_k=3": (1.0, 3),
    "frequencies, top_k=5, temperature=0.7": (0.7, 5),
    "frequencies, top_k=11 (the whole vocabulary)": (1.0, 11),
    # more than there are tokens: every token stays possible (flattened by the temperature, so a
    # token left out would show)
    "frequencies, top_k=50 (more than the 11 tokens), temperature=5.0": (5.0, 50),
}


def expected_frequencies(temperature, top_k):
    logits = PROBE_LOGITS / temperature
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.size(-1)), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.softmax(logits.double(), dim=-1)


def compare_generate(actual, expected):
    exact = {k: v for k, v in expected.items() if not k.startswith("frequencies")}
    compare_outputs({k: v for k, v in actual.items() if k in exact} if isinstance(actual, dict) else actual, exact)
    for label, (temperature, top_k) in FREQUENCY_CASES.items():
        got = actual.get(label)
        if not isinstance(got, torch.Tensor) or got.shape != PROBE_LOGITS.shape:
            raise CheckFailed(f"{label}: no frequencies")
        want = expected_frequencies(temperature, top_k)
        worst = (got.double() - want).abs().max().item()
        if worst > 0.035:  # 5000 samples per row: > 5 standard errors
            row, token = divmod(int((got.double() - want).abs().argmax()), want.shape[1])
            raise CheckFailed(f"{label}: token {token} was sampled with frequency {got[row, token]:.3f}, "
                              f"expected probability {want[row, token]:.3f}")


@task("09.generate", points=3, target="GPT.generate", compare=compare_generate,
      hint="each step: crop to block_size, last position's logits / temperature, optional top-k (at most V of them), softmax, multinomial with generator, append")
def generate_cases(GPT, GPTConfig):
    cases = {}

    def run(label, prompt, n, seed=None, **kw):
        model = probe(GPT, GPTConfig, kw.pop("block_size", 8))
        gen = generator(seed) if seed is not None else None
        torch.manual_seed(12345)  # the global generator differs from `gen`: using the wrong one shows
        out = model.generate(prompt, n, generator=gen, **kw)
        cases[label] = out
        return model, out

    prompt = randint(2, 3, high=11, seed=100)
    _, out = run("prompt (2, 3), 6 new tokens, seeded generator", prompt, 6, seed=7)
    cases["prompt left unchanged"] = torch.equal(prompt, randint(2, 3, high=11, seed=100))
    model, _ = run("prompt (1, 6), 10 new tokens, block_size 8", randint(1, 6, high=11, seed=101), 10, seed=8)
    cases["what the model saw (context cropped to block_size)"] = model.seen
    run("T=1: prompt (1, 1), 4 new tokens", randint(1, 1, high=11, seed=102), 4, seed=9)
    run("prompt (3, 2), 0 new tokens", randint(3, 2, high=11, seed=103), 0, seed=10)
    run("greedy: top_k=1", randint(2, 2, high=11, seed=104), 5, seed=11, top_k=1)
    model, _ = run("prompt (1, 4), 3 new tokens, block_size 2", randint(1, 4, high=11, seed=105), 3, seed=12,
                   block_size=2)
    cases["what the model saw, block_size 2"] = model.seen

    # many samples from fixed distributions: judged against the probabilities, not one sequence
    for i, (label, (temperature, top_k)) in enumerate(FREQUENCY_CASES.items()):
        model = probe(GPT, GPTConfig)
        gen = generator(200 + i)
        out = model.generate(torch.zeros(2000, 3, dtype=torch.long), 5, temperature=temperature, top_k=top_k,
                             generator=gen)
        new = out[:, 3:]
        counts = torch.stack([torch.bincount(new[r::2].reshape(-1), minlength=PROBE_LOGITS.shape[1])
                              for r in range(2)]).double()
        cases[label] = counts / counts.sum(dim=1, keepdim=True)
    return cases


# ---------------------------------------------------------------------------------------------
# 09.num_params
# ---------------------------------------------------------------------------------------------

@task("09.num_params", points=1, target="GPT.num_params",
      hint="count every parameter once (a tied weight too); leave out the position embeddings when non_embedding")
def num_params_cases(GPT, GPTConfig):
    cases = {}
    configs = {
        "tiny, tied": gpt_config(GPTConfig),
        "tiny, untied": gpt_config(GPTConfig, tie_weights=False),
        "bias=False, 3 layers": gpt_config(GPTConfig, bias=False, n_layer=3, n_embd=32, n_head=4, block_size=16),
    }
    for label, config in configs.items():
        model = without_init(GPT)(config)
        cases[f"{label}: num_params()"] = model.num_params()
        cases[f"{label}: num_params(non_embedding=False)"] = model.num_params(non_embedding=False)
    with torch.device("meta"):  # shapes only: no memory, no time
        gpt2 = without_init(GPT)(gpt_config(GPTConfig, block_size=1024, vocab_size=50257, n_layer=12, n_head=12,
                                            n_embd=768))
    cases["GPT-2 small: num_params()"] = gpt2.num_params()
    cases["GPT-2 small: num_params(non_embedding=False)"] = gpt2.num_params(non_embedding=False)
    return cases
