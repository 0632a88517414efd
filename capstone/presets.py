"""Every training configuration in one place: named presets, each a complete TrainConfig.

Pick one with `make train PRESET=name` (or `python -m capstone.train --preset name`) and change
single fields on the command line: `make train ARGS="--max-iters 500 --lr 3e-3"`.

The model fields are lesson 09's GPTConfig; the optimisation fields feed lesson 10's lr_at,
configure_optimizer and train_step. Nothing here is secret sauce: every choice is explained in
docs/capstone.md ("Why these settings").
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass, fields, replace

from .errors import CapstoneError


@dataclass(frozen=True)
class TrainConfig:
    description: str = ""
    # --- model: lesson 09's GPTConfig (vocab_size comes from the tokenizer) ---
    n_layer: int = 3
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 64
    dropout: float = 0.0
    bias: bool = False  # no biases in Linear/LayerNorm: slightly faster, no worse (nanoGPT's choice too)
    flash: bool = True  # torch's fused scaled_dot_product_attention, proven equal to the lesson's masked attention
    tie_weights: bool = True  # lm_head shares wte's weights: fewer parameters, learns faster
    # --- data ---
    tokenizer: str = "char"  # "char" (lesson 01) or "gpt2" (tiktoken BPE, lesson 02)
    batch_size: int = 32  # sequences per step (per process under torchrun)
    # --- optimisation: lesson 10 ---
    max_iters: int = 600  # steps to train; the cosine schedule ends here
    time_budget: float = 0.0  # seconds of training; if > 0 it replaces max_iters (schedule follows the clock)
    clock: str = "wall"  # what time_budget counts: "wall" seconds, or "cpu" seconds per thread (fair on a busy machine)
    lr: float = 6e-3  # peak learning rate after warmup
    min_lr: float = 6e-4  # where the cosine ends (lr / 10, as in nanoGPT and Chinchilla)
    warmup_iters: int = 50
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99  # small models see few tokens per step, so a shorter second-moment memory helps
    grad_clip: float = 1.0
    # --- optimizer: lesson 10's AdamW, or lesson 13's Muon for the block matrices + AdamW for the rest ---
    optimizer: str = "adamw"  # "adamw" (lesson 10) or "muon" (lesson 13; falls back to FALLBACK[preset] until it passes)
    muon_lr: float = 0.03  # Muon's peak learning rate (lr stays AdamW's, for embeddings and norms)
    momentum: float = 0.95  # Muon's Nesterov momentum
    muon_weight_decay: float = 0.0  # decoupled weight decay of the Muon matrices (Muon's own weight_decay)
    ns_steps: int = 5  # Newton-Schulz iterations per orthogonalisation
    precision: str = "auto"  # the training step's matrix products: "float32", "bfloat16", or "auto" (measured)
    ns_precision: str = "auto"  # Newton-Schulz's matrix products: "float32", "bfloat16", or "auto" (the faster, measured)
    # --- evaluation, logging, output ---
    eval_interval: int = 100  # steps between train/val estimates
    eval_iters: int = 20  # batches per estimate during training (cheap)
    final_eval_iters: int = 200  # batches for the final, reported val loss
    sample_tokens: int = 500  # tokens of text generated at the end
    seed: int = 1337
    threads: int = 0  # torch CPU threads; 0 = torch's default (all cores)


PRESETS: dict[str, TrainConfig] = {
    # Seconds: the test suite and a first smoke test of your lessons.
    "test": TrainConfig(
        description="tiny model for the test suite: a few seconds, learns almost nothing",
        n_layer=1, n_head=2, n_embd=16, block_size=16, batch_size=4, max_iters=20, warmup_iters=5,
        lr=1e-2, min_lr=1e-3, eval_interval=10, eval_iters=2, final_eval_iters=4, sample_tokens=60, threads=1),
    # About half a minute on a 2-core laptop CPU: val loss below 1.90.
    "cpu-small": TrainConfig(
        description="~30 s on 2 quiet CPU cores: val loss < 1.90 after ~20 s, ~1.78 at the end (2 layers x 128)",
        n_layer=2, n_head=4, n_embd=128, block_size=64, batch_size=16, max_iters=1500, warmup_iters=50,
        lr=6e-3, min_lr=6e-4, eval_interval=100),
    # Lesson 13: a narrower cpu-small with Muon for the block matrices. Muon halves the steps to val 1.90,
    # but its Newton-Schulz costs ~40% more per step at width 128 in float32 (CPUs without bfloat16
    # units); at width 96 a step costs what cpu-small's does at 128 minus a third (docs/speedrun.md).
    "cpu-fast": TrainConfig(
        description="your Muon (lesson 13) on a narrower cpu-small (2 x 96): val < 1.90 in ~450 steps, "
                    "~12 s on 2 quiet CPU cores",
        n_layer=2, n_head=4, n_embd=96, block_size=64, batch_size=16, max_iters=500, warmup_iters=50,
        lr=6e-3, min_lr=6e-4, optimizer="muon", muon_lr=0.03, momentum=0.9, eval_interval=100),
    # Fifteen minutes of CPU for the best val loss we found in that time (Muon: lesson 13). Muon's weight decay
    # is what keeps its last third from overfitting (val 1.505 -> 1.477 on 2 AMD cores), and a cosine that ends
    # at zero (min_lr=0: Muon's rate and its decay follow lr) takes it to 1.442 (docs/speedrun.md).
    "cpu-best": TrainConfig(
        description="15 min of training by the clock with your Muon (lesson 13): val ~1.44, reads like a play "
                    "(4 layers x 192, block 256)",
        n_layer=4, n_head=6, n_embd=192, block_size=256, batch_size=8, time_budget=900.0, max_iters=0,
        warmup_iters=100, lr=4e-3, min_lr=0.0, optimizer="muon", muon_lr=0.03, muon_weight_decay=0.1,
        eval_interval=500, sample_tokens=1000),
    # The same 15 minutes with lesson 10's AdamW: what cpu-best trains until lesson 13 passes.
    "cpu-best-adamw": TrainConfig(
        description="15 min of training by the clock with AdamW: val loss < 1.7 on 2 quiet CPU cores, reads like "
                    "a play (4 layers x 192, block 128)",
        n_layer=4, n_head=6, n_embd=192, block_size=128, batch_size=16, time_budget=900.0, max_iters=0,
        warmup_iters=100, lr=4e-3, min_lr=4e-4, eval_interval=500, sample_tokens=1000),
    # nanoGPT's shakespeare-char configuration, for a GPU.
    "gpu": TrainConfig(
        description="nanoGPT's shakespeare-char model (6 x 384, block 256): minutes on a GPU, val ~1.47",
        n_layer=6, n_head=6, n_embd=384, block_size=256, batch_size=64, dropout=0.2, max_iters=5000,
        warmup_iters=100, lr=1e-3, min_lr=1e-4, eval_interval=250, eval_iters=200, sample_tokens=1000),
    # The benchmark's baseline: the nanoGPT README's CPU run, in this course's code.
    "baseline": TrainConfig(
        description="nanoGPT README CPU run (4 x 128, block 64, batch 12, 2000 iters, lr 1e-3): "
                    "~1 min on 2 quiet CPU cores",
        n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=12, max_iters=2000, warmup_iters=100,
        lr=1e-3, min_lr=1e-4, eval_interval=100),
}

DEFAULT_PRESET = "cpu-small"
# A Muon preset trains this AdamW preset instead while lesson 13 does not pass (capstone/optim.py).
FALLBACK = {"cpu-fast": "cpu-small", "cpu-best": "cpu-best-adamw"}


def get_preset(name: str) -> TrainConfig:
    if name not in PRESETS:
        raise CapstoneError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[name]


def with_overrides(config: TrainConfig, **changes) -> TrainConfig:
    """The config with the given fields changed (None means: keep the preset's value)."""
    return replace(config, **{k: v for k, v in changes.items() if v is not None})


def describe_presets() -> str:
    return "\n".join(f"  {name:14s} {cfg.description}" for name, cfg in PRESETS.items())


def field_names() -> list[str]:
    return [f.name for f in fields(TrainConfig) if f.name != "description"]


# --- checking settings before anything is built -------------------------------------------------

def parse_bool(text: str) -> bool:
    """A true/false command-line value; anything else is refused (argparse then names the flag)."""
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


# What each setting must be, by name: TrainConfig's fields, and those of make finetune's Settings
# (capstone/finetune.py), which shares the names it has in common. A bad value would otherwise end in a
# traceback from deep inside torch, or worse, train silently (dropout 1 zeroes every activation).
RULES = {
    "n_layer": (lambda v: v >= 1, "at least 1"),
    "n_head": (lambda v: v >= 1, "at least 1"),
    "n_embd": (lambda v: v >= 1, "at least 1"),
    "block_size": (lambda v: v >= 1, "at least 1 (tokens of context)"),
    "dropout": (lambda v: 0 <= v < 1, "from 0 up to (not including) 1"),
    "tokenizer": (lambda v: v in ("char", "gpt2"), "char or gpt2"),
    "batch_size": (lambda v: v >= 1, "at least 1"),
    "max_iters": (lambda v: v >= 0, "0 or more (0: train by --time-budget)"),
    "steps": (lambda v: v >= 1, "at least 1"),
    "time_budget": (lambda v: v >= 0, "0 or more seconds (0: train by --max-iters)"),
    "clock": (lambda v: v in ("wall", "cpu"), "wall or cpu"),
    "lr": (lambda v: v > 0, "more than 0"),
    "min_lr": (lambda v: v >= 0, "0 or more"),
    "warmup_iters": (lambda v: v >= 0, "0 or more"),
    "warmup": (lambda v: v >= 0, "0 or more"),
    "weight_decay": (lambda v: v >= 0, "0 or more"),
    "beta1": (lambda v: 0 <= v < 1, "from 0 up to (not including) 1"),
    "beta2": (lambda v: 0 <= v < 1, "from 0 up to (not including) 1"),
    "grad_clip": (lambda v: v >= 0, "0 or more (0: no clipping)"),
    "optimizer": (lambda v: v in ("adamw", "muon"), "adamw or muon"),
    "muon_lr": (lambda v: v > 0, "more than 0"),
    "momentum": (lambda v: 0 <= v < 1, "from 0 up to (not including) 1"),
    "muon_weight_decay": (lambda v: v >= 0, "0 or more"),
    "ns_steps": (lambda v: v >= 1, "at least 1"),
    "precision": (lambda v: v in ("auto", "float32", "bfloat16"), "auto, float32 or bfloat16"),
    "ns_precision": (lambda v: v in ("auto", "float32", "bfloat16"), "auto, float32 or bfloat16"),
    "eval_interval": (lambda v: v >= 0, "0 or more (0: no estimates during training)"),
    "eval_iters": (lambda v: v >= 1, "at least 1 (batches per estimate)"),
    "final_eval_iters": (lambda v: v >= 1, "at least 1 (batches of the final estimate)"),
    "sample_tokens": (lambda v: v >= 0, "0 or more"),
    "threads": (lambda v: v >= 0, "0 or more (0: all cores)"),
}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def check(settings) -> None:
    """Raise CapstoneError, in one line naming the flag, for the first setting that cannot work.

    Called by make train (and the benchmark) with a TrainConfig, and by make finetune with its Settings,
    before any lesson is graded or any model is built."""
    for name, (ok, must) in RULES.items():
        value = getattr(settings, name, None)
        if value is None or (name == "eval_iters" and getattr(settings, "eval_interval", 1) == 0):
            continue  # not a setting of this kind of run, or one it does not use
        try:
            good = ok(value) and not (isinstance(value, float) and math.isnan(value))
        except TypeError:
            good = False
        if not good:
            raise CapstoneError(f"{flag(name)} {value}: must be {must}")
    if hasattr(settings, "n_head") and settings.n_embd % settings.n_head:
        near = settings.n_embd - settings.n_embd % settings.n_head or settings.n_head
        raise CapstoneError(f"--n-embd {settings.n_embd} is not a multiple of --n-head {settings.n_head}: each "
                            f"head gets n_embd / n_head dimensions (try --n-embd {near})")
    if getattr(settings, "max_iters", 1) == 0 and getattr(settings, "time_budget", 0) == 0:
        raise CapstoneError("--max-iters 0 with no --time-budget trains nothing: give a number of steps "
                            "(--max-iters 600) or of seconds (--time-budget 60)")
    if hasattr(settings, "n_layer"):
        check_memory(settings.n_layer, settings.block_size)


def physical_memory() -> int | None:
    """Bytes of RAM of this machine, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(n_layer: int, block_size: int, memory: int | None = None) -> None:
    """Refuse a block_size whose causal masks alone would fill the machine (lesson 07 builds a
    block_size x block_size mask in every layer, plus a second one while it makes it): the system would
    kill the run, or the whole session, with no message."""
    memory = physical_memory() if memory is None else memory
    need = (n_layer + 1) * block_size ** 2  # bytes: the masks are booleans
    if memory and need > memory / 2:
        raise CapstoneError(f"--block-size {block_size}: lesson 07's causal masks alone would take "
                            f"{need / 2**30:.1f} GiB ({block_size}^2 bytes in each of {n_layer} layers, and one "
                            f"more while it is built), over half of this machine's {memory / 2**30:.0f} GiB; "
                            f"the presets use 16 to 256")
