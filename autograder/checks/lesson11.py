"""Lesson 11 - GPT-2's published weights in the course's GPT.

The checks never download anything: `published_checkpoint` makes a small GPT-2-shaped state dict
from a seeded generator, laid out as GPT-2's model.safetensors stores it (Conv1D weights (in, out),
no `transformer.` prefix, causal-mask buffers `h.N.attn.bias`, no `lm_head` unless the config unties
it), or as `transformers`' GPT2LMHeadModel.state_dict() does (prefix, `lm_head.weight`, no buffers).
tests/test_gpt2_transformers.py proves the reference loads these exactly as `transformers` does.
"""

import inspect

import torch
from torch.nn import functional as F

from ..calls import passes_through
from ..compare import CheckFailed, check_unchanged
from ..misconceptions import Misconception, diagnosed
from ..tasks import task
from .kit import generator, randint

CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
# what GPTConfig fields a GPT-2 config.json must give (flash and any later field are the course's own)
CONFIG_FIELDS = ("block_size", "vocab_size", "n_layer", "n_head", "n_embd", "dropout", "bias", "tie_weights")


def hf_config(**changes) -> dict:
    """A config.json of a small GPT-2, with the keys the published files have."""
    config = {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
              "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
              "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 16, "n_embd": 24, "n_head": 3,
              "n_layer": 2, "n_positions": 16, "resid_pdrop": 0.1, "vocab_size": 37}
    config.update(changes)
    return config


def published_checkpoint(config: dict, seed: int, layout: str = "published") -> dict:
    """Random GPT-2 tensors for `config` (a config.json dict); layout "published" or "transformers".

    The scales are large enough that every part shows in the logits (the tanh GELU included), and
    small enough that attention scores and logits stay of order 1, so float32 rounding, which differs
    between CPUs, stays far below the compare's tolerances (tests/test_fixtures.py measures how far).
    """
    gen = generator(seed)
    C, V, P = config["n_embd"], config["vocab_size"], config["n_positions"]

    def w(*shape, std=0.3, mean=0.0):
        return torch.randn(*shape, generator=gen) * std + mean

    state = {"wte.weight": w(V, C, std=0.15), "wpe.weight": w(P, C, std=0.05)}
    for i in range(config["n_layer"]):
        p = f"h.{i}."
        state.update({
            p + "ln_1.weight": w(C, std=0.2, mean=1.0), p + "ln_1.bias": w(C, std=0.2),
            p + "attn.bias": torch.tril(torch.ones(P, P)).view(1, 1, P, P),
            p + "attn.c_attn.weight": w(C, 3 * C, std=0.15), p + "attn.c_attn.bias": w(3 * C, std=0.1),
            p + "attn.c_proj.weight": w(C, C), p + "attn.c_proj.bias": w(C, std=0.1),
            p + "ln_2.weight": w(C, std=0.2, mean=1.0), p + "ln_2.bias": w(C, std=0.2),
            p + "mlp.c_fc.weight": w(C, 4 * C), p + "mlp.c_fc.bias": w(4 * C, std=0.1),
            p + "mlp.c_proj.weight": w(4 * C, C, std=0.15), p + "mlp.c_proj.bias": w(C, std=0.1),
        })
    state.update({"ln_f.weight": w(C, std=0.2, mean=1.0), "ln_f.bias": w(C, std=0.2)})
    untied = not config.get("tie_word_embeddings", True)
    if untied:  # a head of its own, in either layout
        state["lm_head.weight"] = w(V, C, std=0.15)
    if layout == "transformers":
        state = {("" if k == "lm_head.weight" else "transformer.") + k: v for k, v in state.items()
                 if not k.endswith(".attn.bias")}
        if not untied:
            state["lm_head.weight"] = state["transformer.wte.weight"].clone()
    elif layout != "published":
        raise ValueError(f"unknown layout {layout!r}")
    return state


def course_config(GPTConfig, hf: dict):
    """The notebook's GPTConfig (lesson 07's, the model's one config) for a config.json, without using the
    student's config_from_hf."""
    return GPTConfig(block_size=hf["n_positions"], vocab_size=hf["vocab_size"], n_layer=hf["n_layer"],
                     n_head=hf["n_head"], n_embd=hf["n_embd"], dropout=0.0, bias=True, flash=False,
                     tie_weights=hf.get("tie_word_embeddings", True))


def outcome(fn, *args, names=()):
    """{"raises": "ValueError", "the message names ...": True} for a call that should refuse its input.

    The lesson asks for a ValueError (a subclass will do); "raises" holds the type raised, or "nothing".
    The student's function is called unwrapped: autograder.calls keeps only the first line of an error,
    and the judged message is the student's whole one.
    """
    try:
        inspect.unwrap(fn)(*args)
    except Exception as err:  # noqa: BLE001 - the type is judged: the lesson asks for ValueError
        if passes_through(err):  # run_exercise words these
            raise
        message = str(err)
        raised = "ValueError" if isinstance(err, ValueError) else type(err).__name__
        return {"raises": raised, **{f"the message names {n}": n in message for n in names}}
    return {"raises": "nothing", **{f"the message names {n}": False for n in names}}


# ---------------------------------------------------------------------------------------------
# 11.gpt2_config
# ---------------------------------------------------------------------------------------------

SIZES = {"gpt2": (12, 12, 768), "gpt2-medium": (24, 16, 1024), "gpt2-large": (36, 20, 1280),
         "gpt2-xl": (48, 25, 1600)}


@task("11.gpt2_config", points=2, target="config_from_hf",
      hint="block_size from n_positions (else n_ctx), sizes as given, bias=True, dropout=0.0, tie from tie_word_embeddings; ValueError naming an eps, activation or n_inner your GPT cannot do")
def config_cases(config_from_hf):
    cases = {}

    def fields(hf):
        try:
            config = config_from_hf(hf)
        except CheckFailed as err:
            if isinstance(err.__context__, KeyError):  # the error autograder.calls named
                raise CheckFailed(f"{err} -- a key config.json leaves out means its value in HF_DEFAULTS: "
                                  "read the keys from {**HF_DEFAULTS, **hf_config}") from None
            raise
        return {name: getattr(config, name, "missing") for name in CONFIG_FIELDS}

    for name, (n_layer, n_head, n_embd) in SIZES.items():
        cases[f"{name}'s config.json"] = fields(hf_config(n_ctx=1024, n_positions=1024, vocab_size=50257,
                                                          n_layer=n_layer, n_head=n_head, n_embd=n_embd))
    cases["a small config.json"] = fields(hf_config())
    cases["n_positions 24 with a stale n_ctx 16 (n_positions wins)"] = fields(hf_config(n_positions=24))
    cases["an empty config.json (every default)"] = fields({})
    old = hf_config(n_ctx=32)
    del old["n_positions"]
    cases["an old config.json with n_ctx but no n_positions"] = fields(old)
    cases["tie_word_embeddings=False, n_inner=4*n_embd"] = fields(hf_config(tie_word_embeddings=False, n_inner=96))
    cases["activation_function gelu_pytorch_tanh"] = fields(hf_config(activation_function="gelu_pytorch_tanh"))
    cases["layer_norm_epsilon=1e-6"] = outcome(config_from_hf, hf_config(layer_norm_epsilon=1e-6),
                                               names=("layer_norm_epsilon",))
    cases["activation_function relu"] = outcome(config_from_hf, hf_config(activation_function="relu"),
                                                names=("activation_function",))
    cases["activation_function gelu (the exact one)"] = outcome(config_from_hf, hf_config(activation_function="gelu"),
                                                                names=("activation_function",))
    cases["n_inner=64 (not 4*n_embd)"] = outcome(config_from_hf, hf_config(n_inner=64), names=("n_inner",))
    return cases


# ---------------------------------------------------------------------------------------------
# 11.convert
# ---------------------------------------------------------------------------------------------

@task("11.convert", points=3, target="convert_gpt2_state_dict",
      hint="a new dict: strip a leading 'transformer.', drop the .attn.bias/.attn.masked_bias buffers, transpose the four Conv1D weights (by name, square ones too)")
def convert_cases(convert_gpt2_state_dict):
    cases = {}
    published = published_checkpoint(hf_config(), seed=1)
    before = {k: v.clone() for k, v in published.items()}
    cases["the published layout (h.N..., mask buffers, no lm_head)"] = convert_gpt2_state_dict(published)
    check_unchanged("state", before, published)
    exported = published_checkpoint(hf_config(n_layer=1, n_embd=16, n_head=2, vocab_size=23), seed=2,
                                    layout="transformers")
    cases["a transformers export (transformer. prefix, lm_head.weight)"] = convert_gpt2_state_dict(exported)
    older = published_checkpoint(hf_config(n_layer=1), seed=3)
    older["h.0.attn.masked_bias"] = torch.tensor(-1e4)
    cases["an older export with h.0.attn.masked_bias"] = convert_gpt2_state_dict(older)
    return cases


# ---------------------------------------------------------------------------------------------
# 11.load
# ---------------------------------------------------------------------------------------------

def loaded(load_gpt2_weights, GPT, GPTConfig, hf, state, idx):
    model = GPT(course_config(GPTConfig, hf))
    returned = load_gpt2_weights(model, state)
    model.eval()
    with torch.no_grad():
        logits = model(idx)[0]
    return {"state after loading": {k: v.clone() for k, v in model.state_dict().items()},
            "logits": logits, "returns the model": returned is model,
            "lm_head.weight is still wte.weight": model.lm_head.weight is model.wte.weight}


@task("11.load", points=3, target="load_gpt2_weights",
      hint="convert, keep lm_head tied (wte.weight fills it; an untied head loads its own), ValueError naming the missing, unexpected or misshapen parameter, copy in place under no_grad, return the model")
def load_cases(load_gpt2_weights, GPT, GPTConfig):
    cases = {}
    hf = hf_config()
    idx = randint(2, 16, high=hf["vocab_size"], seed=10)
    cases["published layout"] = loaded(load_gpt2_weights, GPT, GPTConfig, hf, published_checkpoint(hf, seed=11), idx)
    small = hf_config(n_layer=1, n_embd=16, n_head=2, n_positions=8, vocab_size=23)
    cases["transformers export"] = loaded(load_gpt2_weights, GPT, GPTConfig, small,
                                          published_checkpoint(small, seed=12, layout="transformers"),
                                          randint(1, 5, high=23, seed=13))
    untied = hf_config(n_layer=1, n_embd=16, n_head=2, n_positions=8, vocab_size=23, tie_word_embeddings=False)
    cases["untied head (tie_word_embeddings=False): lm_head.weight loaded from the export"] = loaded(
        load_gpt2_weights, GPT, GPTConfig, untied, published_checkpoint(untied, seed=19, layout="transformers"),
        randint(2, 6, high=23, seed=13))

    def refusal(label, state, names, config=hf):
        model = GPT(course_config(GPTConfig, config))
        cases[label] = outcome(load_gpt2_weights, model, state, names=names)

    wrong = published_checkpoint(hf, seed=14)
    wrong["h.1.mlp.c_fc.weight"] = torch.zeros(24, 48)
    refusal("h.1.mlp.c_fc.weight of the wrong size", wrong, ("h.1.mlp.c_fc.weight",))
    refusal("a checkpoint with a longer context (n_positions 32)",
            published_checkpoint(hf_config(n_positions=32), seed=15), ("wpe.weight",))
    refusal("a checkpoint with another vocabulary (50)", published_checkpoint(hf_config(vocab_size=50), seed=16),
            ("wte.weight",))
    missing = published_checkpoint(hf, seed=17)
    del missing["h.0.ln_2.bias"]
    refusal("h.0.ln_2.bias missing", missing, ("h.0.ln_2.bias",))
    refusal("a checkpoint with a third layer", published_checkpoint(hf_config(n_layer=3), seed=18), ("h.2.",))
    headless = published_checkpoint(untied, seed=9)
    del headless["lm_head.weight"]
    refusal("an untied model, a checkpoint without lm_head.weight", headless, ("lm_head.weight",), config=untied)
    return cases


# ---------------------------------------------------------------------------------------------
# 11.from_checkpoint
# ---------------------------------------------------------------------------------------------

def run_model(model, *idxs):
    with torch.no_grad():
        return [model(idx)[0] for idx in idxs]


GELU_KINDS = "what each block's mlp.gelu computes (for the message, not graded)"


def gelu_kinds(model) -> list[str]:
    """What each block's mlp.gelu computes on a few numbers: "tanh GELU", "exact GELU", or something else."""
    x = torch.linspace(-4.0, 4.0, 17)
    kinds = []
    for block in getattr(model, "h", []):
        try:
            y = block.mlp.gelu(x)
            kind = ("tanh GELU" if torch.allclose(y, F.gelu(x, approximate="tanh"), atol=1e-6) else
                    "exact GELU" if torch.allclose(y, F.gelu(x), atol=1e-6) else "another function")
        except Exception:  # noqa: BLE001 - no mlp.gelu, or one that fails: only evidence for the message
            kind = "another function"
        kinds.append(kind)
    return kinds


def gelus_are(kind):
    return lambda actual, expected: kind in actual[GELU_KINDS]


FROM_CHECKPOINT_MISCONCEPTIONS = (
    Misconception("GPT-2 uses the tanh approximation of GELU (gelu_new), not the exact one: give every block's MLP "
                  "nn.GELU(approximate='tanh')", gelus_are("exact GELU")),
    Misconception("every block's mlp.gelu must be GPT-2's GELU, nn.GELU(approximate='tanh'); some compute another "
                  "function", gelus_are("another function")),
)
STALE_N_CTX = ("n_positions 12 with a stale n_ctx 8, untied head, gelu_pytorch_tanh (config_from_hf reads all three)")


@task("11.from_checkpoint", points=2, target="gpt2_from_checkpoint",
      compare=diagnosed(*FROM_CHECKPOINT_MISCONCEPTIONS, evidence=(GELU_KINDS,)),
      hint="GPT(config_from_hf(hf_config)), every block's mlp.gelu = nn.GELU(approximate='tanh'), load_gpt2_weights, eval()")
def from_checkpoint_cases(gpt2_from_checkpoint):
    cases = {}
    hf = hf_config()
    model = gpt2_from_checkpoint(hf, published_checkpoint(hf, seed=20))
    cases["in eval mode"] = not model.training
    cases[GELU_KINDS] = gelu_kinds(model)
    cases["logits of idx (2, 16) and (1, 1)"] = run_model(model, randint(2, 16, high=37, seed=21),
                                                          randint(1, 1, high=37, seed=22))
    other = hf_config(n_layer=3, n_embd=16, n_head=4, n_positions=12, n_ctx=12, vocab_size=29)
    model = gpt2_from_checkpoint(other, published_checkpoint(other, seed=23, layout="transformers"))
    cases["3 layers, transformers export: logits of idx (3, 12)"] = run_model(model, randint(3, 12, high=29, seed=24))
    stale = hf_config(n_layer=1, n_embd=16, n_head=2, n_positions=12, n_ctx=8, vocab_size=29,
                      tie_word_embeddings=False, activation_function="gelu_pytorch_tanh")
    try:
        model = gpt2_from_checkpoint(stale, published_checkpoint(stale, seed=25, layout="transformers"))
    except CheckFailed as err:  # autograder.calls named the call; say which case it was
        raise CheckFailed(f"{STALE_N_CTX}: {err}") from None
    cases[STALE_N_CTX + ": logits of idx (2, 12)"] = run_model(model, randint(2, 12, high=29, seed=26))
    return cases
