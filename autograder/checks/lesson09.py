"""Lesson 09 - the GPT: initialisation, forward with optional loss, generate, parameter count."""

import math

import torch
from torch.nn import functional as F

from ..compare import CheckFailed, compare_outputs
from ..misconceptions import Misconception, diagnosed, matches
from ..tasks import task
from .kit import generator, randint, same_values, seeded_params, set_params

FIELDS = dict(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=16, dropout=0.0, bias=True, flash=False,
              tie_weights=True)


def gpt_config(GPTConfig, **changes):
    """A config of the notebook's GPTConfig (lesson 07's, the model's one config), small enough to build
    in milliseconds; a field not named here keeps its default."""
    return GPTConfig(**{**FIELDS, **changes})


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


def init_stats(select, test):
    """Test: test(stats, n_layer) holds for every parameter whose name `select` picks, in every config."""
    def shows(actual, expected):
        picked = [(stats, got["n_layer"]) for got in actual.values()
                  for name, stats in got["parameters"].items() if select(name)]
        return bool(picked) and all(test(stats, n_layer) for stats, n_layer in picked)
    return shows


def std_near(value):
    return lambda stats, n_layer: abs(stats["std"] / value(n_layer) - 1) <= 0.1


def c_proj(name):
    return name.endswith("c_proj.weight")


def positions(name):  # wpe: an Embedding that no Linear shares (a tied wte is lm_head's weight too)
    return name == "wpe.weight"


def linear_bias(name):
    return name.endswith("bias") and not name.split(".")[-2].startswith("ln_")


def nothing_set(actual, expected):
    """PyTorch's defaults: embeddings normal(0, 1), c_attn weights uniform (std 1/sqrt(3 * n_embd), not 0.02)."""
    return (init_stats(positions, std_near(lambda n: 1.0))(actual, expected)
            and not init_stats(lambda name: name.endswith("c_attn.weight"), std_near(lambda n: 0.02))(actual, expected))


def untied(actual, expected):
    return any(want["lm_head.weight is wte.weight"] and not actual[label]["lm_head.weight is wte.weight"]
               for label, want in expected.items())


INIT_MISCONCEPTIONS = (
    Misconception("re-initialise every Linear and Embedding weight, normal(0, 0.02) (c_proj: 0.02/sqrt(2*n_layer)), "
                  "and zero the biases: these are PyTorch's defaults", nothing_set),
    Misconception("initialise the embeddings too: nn.Embedding weights get normal(0, 0.02), not PyTorch's normal(0, 1)",
                  init_stats(positions, std_near(lambda n: 1.0))),
    Misconception("scale the residual projections: every c_proj.weight gets std 0.02/sqrt(2*n_layer), not 0.02",
                  init_stats(c_proj, std_near(lambda n: 0.02))),
    Misconception("the residual projections' std is 0.02/sqrt(2*n_layer): each layer adds to the residual stream "
                  "twice (attention and MLP), not 0.02/sqrt(n_layer)",
                  init_stats(c_proj, std_near(lambda n: 0.02 / math.sqrt(n)))),
    Misconception("zero every Linear bias (nn.init.zeros_): they are not left at PyTorch's default",
                  lambda actual, expected: not init_stats(linear_bias, lambda s, n: s["min"] == s["max"] == 0.0)(
                      actual, expected) and init_stats(linear_bias, lambda s, n: True)(actual, expected)),
    Misconception("initialise in place, nn.init.normal_(module.weight, ...): assigning a new Parameter unties "
                  "lm_head.weight from wte.weight", untied),
)


@task("09.init", points=2, target="GPT.init_weights", fixture=True,
      hint="normal(0, 0.02) for every Linear and Embedding weight, zero biases, c_proj weights std 0.02/sqrt(2*n_layer)",
      compare=diagnosed(*INIT_MISCONCEPTIONS, compare=lambda actual, expected: compare_init(actual, expected)))
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

def gpt_shapes(block_size, vocab_size, n_layer, n_embd, bias, tie_weights, **_) -> dict:
    """The names and shapes of a GPT's parameters, as named_parameters() lists them (a tied head once, as wte)."""
    V, C = vocab_size, n_embd
    shapes = {"wte.weight": (V, C), "wpe.weight": (block_size, C), "ln_f.weight": (C,)}
    for i in range(n_layer):
        p = f"h.{i}."
        shapes.update({p + "ln_1.weight": (C,), p + "ln_2.weight": (C,), p + "attn.c_attn.weight": (3 * C, C),
                       p + "attn.c_proj.weight": (C, C), p + "mlp.c_fc.weight": (4 * C, C),
                       p + "mlp.c_proj.weight": (C, 4 * C)})
        if bias:
            shapes.update({p + "ln_1.bias": (C,), p + "ln_2.bias": (C,), p + "attn.c_attn.bias": (3 * C,),
                           p + "attn.c_proj.bias": (C,), p + "mlp.c_fc.bias": (4 * C,), p + "mlp.c_proj.bias": (C,)})
    if bias:
        shapes["ln_f.bias"] = (C,)
    if not tie_weights:
        shapes["lm_head.weight"] = (V, C)
    return shapes


def gpt_logits(seed, idx, positions=True, final_norm=True, head="lm_head", **changes):
    """The logits of the reference GPT in eval mode (set_params(model, seed, 0.3)) with one thing changed."""
    config = {**FIELDS, **changes}
    C, nh = config["n_embd"], config["n_head"]
    W = seeded_params(gpt_shapes(**config), seed, 0.3)

    def linear(x, name):
        out = x @ W[f"{name}.weight"].T
        return out + W[f"{name}.bias"] if f"{name}.bias" in W else out

    def norm(x, name):
        return F.layer_norm(x, (C,), W[f"{name}.weight"], W.get(f"{name}.bias"), eps=1e-5)

    B, T = idx.shape
    x = W["wte.weight"][idx] + (W["wpe.weight"][:T] if positions else 0.0)
    for i in range(config["n_layer"]):
        q, k, v = (t.reshape(B, T, nh, C // nh).transpose(1, 2)
                   for t in linear(norm(x, f"h.{i}.ln_1"), f"h.{i}.attn.c_attn").split(C, dim=2))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(C // nh)
        scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
        y = (F.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, T, C)
        x = x + linear(y, f"h.{i}.attn.c_proj")
        x = x + linear(F.gelu(linear(norm(x, f"h.{i}.ln_2"), f"h.{i}.mlp.c_fc")), f"h.{i}.mlp.c_proj")
    x = norm(x, "ln_f") if final_norm else x
    return x @ W.get("lm_head.weight" if head == "lm_head" else "wte.weight", W["wte.weight"]).T


MAIN, UNTIED = "idx (2, 8) = block_size, with targets", "untied lm_head, bias=False: idx (2, 6), with targets"
TRAINING = "training mode, dropout=0.3 (seeded)"
EVAL_LOGITS = {  # case: (seed, idx, config changes)
    MAIN: (80, lambda: randint(2, 8, high=11, seed=81), {}),
    "T=1: idx (3, 1), no targets": (80, lambda: randint(3, 1, high=11, seed=83), {}),
    "batch of 1: idx (1, 5), with targets": (80, lambda: randint(1, 5, high=11, seed=84), {}),
    UNTIED: (90, lambda: randint(2, 6, high=11, seed=91), dict(bias=False, tie_weights=False, n_layer=1, n_embd=8)),
}


def logits_of(*labels, **mistake):
    """Test: the logits of these cases are the reference GPT's with `mistake`."""
    def shows(actual, expected):
        return all(matches(actual[label][0], gpt_logits(seed, idx(), **changes, **mistake))
                   for label, (seed, idx, changes) in EVAL_LOGITS.items() if label in labels)
    return shows


def main_loss_is(loss):
    """Test: the loss of the (2, 8) case is loss(the reference logits, the targets)."""
    def shows(actual, expected):
        return matches(actual[MAIN][1], loss(expected[MAIN][0], randint(2, 8, high=11, seed=82)))
    return shows


def only_training_differs(actual, expected):
    return matches({k: v for k, v in actual.items() if k != TRAINING}, {k: v for k, v in expected.items() if k != TRAINING})


FORWARD_MISCONCEPTIONS = (
    Misconception("add the position embeddings: x = self.wte(idx) + self.wpe(torch.arange(T)); without them a token "
                  "looks the same at every position", logits_of(*EVAL_LOGITS, positions=False)),
    Misconception("apply the final LayerNorm before the head: logits = self.lm_head(self.ln_f(x))",
                  logits_of(*EVAL_LOGITS, final_norm=False)),
    Misconception("with tie_weights=False the head has its own weight: logits = self.lm_head(x), not x @ "
                  "self.wte.weight.T", logits_of(UNTIED, head="wte")),
    Misconception("average the loss over the B*T positions (F.cross_entropy's default), not the sum",
                  main_loss_is(lambda logits, y: F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum"))),
    Misconception("F.cross_entropy takes the raw logits (it applies log_softmax itself): yours are softmaxed twice",
                  main_loss_is(lambda logits, y: F.cross_entropy(logits.softmax(-1).flatten(0, 1), y.flatten()))),
    Misconception("apply self.drop once, to the sum of the embeddings, before the blocks: only the training-mode "
                  "case differs", only_training_differs),
)


@task("09.forward", points=3, target="GPT.forward", compare=diagnosed(*FORWARD_MISCONCEPTIONS),
      hint="token + position embeddings, dropout, blocks, ln_f, lm_head; cross-entropy on the (B*T, V) view; ValueError if T > block_size")
def forward_cases(GPT, GPTConfig):
    cases = {}
    model = without_init(GPT)(gpt_config(GPTConfig))
    set_params(model, 80, scale=0.3)
    model.eval()
    with torch.no_grad():
        x, y = randint(2, 8, high=11, seed=81), randint(2, 8, high=11, seed=82)
        cases[MAIN] = model(x, y)
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
        cases[UNTIED] = untied(randint(2, 6, high=11, seed=91), randint(2, 6, high=11, seed=92))
    dropout = without_init(GPT)(gpt_config(GPTConfig, dropout=0.3))
    set_params(dropout, 93, scale=0.3)
    dropout.train()
    torch.manual_seed(94)
    with torch.no_grad():
        cases[TRAINING] = dropout(randint(2, 8, high=11, seed=95), randint(2, 8, high=11, seed=96))
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


def expected_frequencies(temperature, top_k, largest=True):
    """The probabilities of the next token after the temperature and top-k (largest=False: a mistaken top-k that
    keeps the k smallest logits)."""
    logits = PROBE_LOGITS / temperature
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.size(-1)), dim=-1, largest=largest).values[:, -1:]
        logits = logits.masked_fill(logits < kth if largest else logits > kth, float("-inf"))
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


def sampled_from(probabilities):
    """Test: every frequency case is within the compare's tolerance of probabilities(temperature, top_k)."""
    def shows(actual, expected):
        return all((actual[label].double() - probabilities(temperature, top_k)).abs().max().item() <= 0.035
                   for label, (temperature, top_k) in FREQUENCY_CASES.items())
    return shows


SEEDED = "prompt (2, 3), 6 new tokens, seeded generator"
SEEN = ("what the model saw (context cropped to block_size)", "what the model saw, block_size 2")
V = PROBE_LOGITS.shape[1]


def cropped_one_short(actual, expected):
    """Test: each context the model saw is the right one without its first token."""
    return all(len(actual[label]) == len(expected[label]) and all(
        matches(got, want[:, 1:] if want.shape[1] == block_size else want)
        for got, want in zip(actual[label], expected[label])) for label, block_size in zip(SEEN, (8, 2)))


def right_probabilities_wrong_sequence(actual, expected):
    """The frequencies are right, and every sequence (and context seen) has the right shape: only the seeded
    tokens differ."""
    def shapes(outputs):
        return {label: [list(t.shape) for t in value] if label in SEEN else list(value.shape)
                for label, value in outputs.items() if label in SEEN or isinstance(value, torch.Tensor)}

    return sampled_from(expected_frequencies)(actual, expected) and shapes(actual) == shapes(expected)


GENERATE_MISCONCEPTIONS = (
    Misconception("crop the context to its last block_size tokens, idx[:, -block_size:], not block_size - 1",
                  cropped_one_short),
    Misconception("sample from the last position's logits, logits[:, -1, :]: the earlier positions predict tokens "
                  "that are already in idx", lambda actual, expected: bool((actual[SEEDED][:, 3:] == GARBAGE_TOKEN).all())),
    Misconception("divide the logits by the temperature, not multiply: a temperature below 1 sharpens the "
                  "distribution", sampled_from(lambda t, k: expected_frequencies(1 / t, k))),
    Misconception("top_k keeps the k largest logits: yours keeps k + 1",
                  sampled_from(lambda t, k: expected_frequencies(t, None if k is None else k + 1))),
    Misconception("top_k keeps the k largest logits, not the k smallest",
                  sampled_from(lambda t, k: expected_frequencies(t, k, largest=False))),
    Misconception("top_k keeps min(top_k, V) tokens (V = logits.size(-1)): clamped to V - 1, the least likely token "
                  "can never be drawn", sampled_from(lambda t, k: expected_frequencies(t, None if k is None else min(k, V - 1)))),
    Misconception("sample the next token with torch.multinomial(probs, 1, generator=generator), not argmax",
                  sampled_from(lambda t, k: F.one_hot(PROBE_LOGITS.argmax(-1), V).double())),
    Misconception("the tokens follow the right probabilities but not the seeded sequence: draw with "
                  "torch.multinomial(probs, 1, generator=generator), one draw per step", right_probabilities_wrong_sequence),
)


@task("09.generate", points=3, target="GPT.generate", compare=diagnosed(*GENERATE_MISCONCEPTIONS, compare=compare_generate),
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
    _, out = run(SEEDED, prompt, 6, seed=7)
    cases["prompt left unchanged"] = torch.equal(prompt, randint(2, 3, high=11, seed=100))
    model, _ = run("prompt (1, 6), 10 new tokens, block_size 8", randint(1, 6, high=11, seed=101), 10, seed=8)
    cases[SEEN[0]] = model.seen
    run("T=1: prompt (1, 1), 4 new tokens", randint(1, 1, high=11, seed=102), 4, seed=9)
    run("prompt (3, 2), 0 new tokens", randint(3, 2, high=11, seed=103), 0, seed=10)
    run("greedy: top_k=1", randint(2, 2, high=11, seed=104), 5, seed=11, top_k=1)
    model, _ = run("prompt (1, 4), 3 new tokens, block_size 2", randint(1, 4, high=11, seed=105), 3, seed=12,
                   block_size=2)
    cases[SEEN[1]] = model.seen

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

GPT2_SMALL = dict(block_size=1024, vocab_size=50257, n_layer=12, n_head=12, n_embd=768)
NUM_PARAMS_CONFIGS = {"tiny, tied": {}, "tiny, untied": dict(tie_weights=False),
                      "bias=False, 3 layers": dict(bias=False, n_layer=3, n_embd=32, n_head=4, block_size=16),
                      "GPT-2 small": GPT2_SMALL}


def counted(count, non_embedding):
    """Test: in every config, num_params() (or num_params(non_embedding=False) if not non_embedding) gave
    count(the reference outputs, the config's label, its fields)."""
    def shows(actual, expected):
        call = "num_params()" if non_embedding else "num_params(non_embedding=False)"
        return all(actual[f"{label}: {call}"] == count(expected, label, {**FIELDS, **changes})
                   for label, changes in NUM_PARAMS_CONFIGS.items())
    return shows


def embeddings(config, *names):
    return sum(config[size] * config["n_embd"] for name, size in (("wte", "vocab_size"), ("wpe", "block_size"))
               if name in names)


NUM_PARAMS_MISCONCEPTIONS = (
    Misconception("num_params() leaves out the position embeddings (non_embedding=True by default): subtract "
                  "self.wpe.weight.numel()", counted(lambda e, label, c: e[f"{label}: num_params(non_embedding=False)"], True)),
    Misconception("count the tied weight once: sum over self.parameters(), which lists wte.weight (lm_head's weight "
                  "too) once, not over state_dict()", counted(lambda e, label, c: e[f"{label}: num_params(non_embedding=False)"]
                                                              + (embeddings(c, "wte") if c["tie_weights"] else 0), False)),
    Misconception("non_embedding leaves out only the position embeddings (wpe): the token embeddings count, they are "
                  "the head's weight too", counted(lambda e, label, c: e[f"{label}: num_params()"] - embeddings(c, "wte"), True)),
)


@task("09.num_params", points=1, target="GPT.num_params", compare=diagnosed(*NUM_PARAMS_MISCONCEPTIONS),
      hint="count every parameter once (a tied weight too); leave out the position embeddings when non_embedding")
def num_params_cases(GPT, GPTConfig):
    cases = {}
    for label, changes in NUM_PARAMS_CONFIGS.items():
        if label == "GPT-2 small":
            continue
        model = without_init(GPT)(gpt_config(GPTConfig, **changes))
        cases[f"{label}: num_params()"] = model.num_params()
        cases[f"{label}: num_params(non_embedding=False)"] = model.num_params(non_embedding=False)
    with torch.device("meta"):  # shapes only: no memory, no time
        gpt2 = without_init(GPT)(gpt_config(GPTConfig, **GPT2_SMALL))
    cases["GPT-2 small: num_params()"] = gpt2.num_params()
    cases["GPT-2 small: num_params(non_embedding=False)"] = gpt2.num_params(non_embedding=False)
    return cases
