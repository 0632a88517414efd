"""The optimizer the capstone trains with: lesson 10's AdamW, or lesson 13's Muon + AdamW.

Lesson 13 is optional. A preset that trains with Muon (`optimizer="muon"`: cpu-fast, cpu-best)
uses the student's lesson 13 only once its checks pass; until then it falls back to its AdamW
preset (FALLBACK in presets.py) and says so in one line.

Lesson 13's configure_optimizer returns two optimizers, Muon for the matrices inside the blocks and
AdamW for everything else, each with its own peak learning rate. `Optimizers` makes the two look
like one to lesson 10's train_step and checkpoints (step, zero_grad, state_dict), and `set_lr`
moves every group along the schedule in proportion to its own peak.
"""

from __future__ import annotations

import os
from dataclasses import replace

import torch

from autograder.loader import LessonLoadError, load_lesson
from autograder.paths import LessonNotFound
from autograder.source import Source
from autograder.tasks import all_tasks

from . import assemble
from .errors import CapstoneError
from .precision import alternate_timings, autocast
from .presets import FALLBACK, TrainConfig, field_names, get_preset, with_overrides

USES = ["newton_schulz", "Muon", "configure_optimizer"]  # what the capstone takes from the Muon lesson


def muon_lesson() -> str:
    """The lesson that teaches Muon: the one whose task grades `Muon` (found from autograder/checks/,
    so renumbering or inserting lessons needs no edit here)."""
    for task in all_tasks():
        if task.target.split(".")[0] == "Muon":
            return task.lesson
    raise CapstoneError("no task in autograder/checks/ grades Muon: the capstone cannot find the Muon lesson")
NS_TIMINGS = 5  # timed orthogonalisations per precision when ns_precision is "auto"


class Optimizers:
    """Several torch optimizers over disjoint parameters, used as one (modded-nanogpt steps a list).

    low_precision: the optimizers whose step runs under bfloat16 autocast (its matrix products in
    bfloat16: Newton-Schulz tolerates that, and CPUs with bfloat16 units and GPUs run it faster)."""

    def __init__(self, optimizers, low_precision=(), device_type: str = "cpu"):
        self.optimizers = list(optimizers)
        self.low_precision = {id(opt) for opt in low_precision}
        self.device_type = device_type

    @property
    def param_groups(self) -> list[dict]:
        return [group for opt in self.optimizers for group in opt.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=set_to_none)

    def step(self, closure=None):
        for opt in self.optimizers:
            with torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=id(opt) in self.low_precision):
                opt.step()

    def state_dict(self) -> dict:
        return {"optimizers": [opt.state_dict() for opt in self.optimizers],
                "kinds": [type(opt).__name__ for opt in self.optimizers]}

    def load_state_dict(self, state: dict) -> None:
        kinds = [type(opt).__name__ for opt in self.optimizers]
        if not isinstance(state, dict) or state.get("kinds") != kinds:
            saved = state.get("kinds") if isinstance(state, dict) and "kinds" in state else "a single optimizer"
            raise ValueError(f"the checkpoint's optimizer state is {saved}, this run uses {kinds}")
        for opt, saved in zip(self.optimizers, state["optimizers"]):
            opt.load_state_dict(saved)


def load_muon_lesson(source: Source):
    """The Muon lesson's module from `source`, or None with the reason it cannot be used."""
    lesson = muon_lesson()
    try:
        module = load_lesson(lesson, source=source)
    except (LessonLoadError, LessonNotFound) as err:
        assemble.interrupt_if_ctrl_c(err)
        return None, f"cannot load lesson {lesson}: {err}"
    missing = [name for name in USES if not hasattr(module, name)]
    if missing:
        return None, f"lesson {lesson} defines no {', '.join(missing)}"
    return module, ""


def muon_problem(source: Source, grade: bool = True) -> str:
    """Why the Muon lesson cannot train yet ('' when it can): a failing task, or a notebook that does not load."""
    if source.reference:
        return ""  # the reference passes its own checks (tests/test_fixtures.py)
    if not grade:
        return load_muon_lesson(source)[1]
    failing = assemble.failing_tasks(source, [muon_lesson()])
    if not failing:
        return ""
    first = failing[0]
    more = f" (and {len(failing) - 1} more)" if len(failing) > 1 else ""
    return f"{first.task} {first.status}{more}"


def choose(preset: str, config: TrainConfig, overrides: dict, source: Source, grade: bool = True,
           say=None) -> tuple[str, TrainConfig]:
    """The preset and config to train: as asked, or the AdamW fallback while lesson 13 does not pass.

    overrides: the command line's settings (None = not given). The fallback preset takes every one of
    them (ARGS="--max-iters 100 --lr 3e-3" means what it says with AdamW too), except the Muon-only
    settings, which have nothing to act on; the notice names both."""
    if config.optimizer != "muon":
        return preset, config
    problem = muon_problem(source, grade)
    if not problem:
        return preset, config
    fallback = FALLBACK.get(preset)
    settings = set(field_names())
    given = {k: v for k, v in overrides.items() if k in settings and v is not None and k != "optimizer"}
    unused = {k: v for k, v in given.items() if k in MUON_ONLY}
    kept = {k: v for k, v in given.items() if k not in MUON_ONLY}
    if fallback:
        new_preset, new_config = fallback, with_overrides(get_preset(fallback), **kept)
    else:  # e.g. --optimizer muon on an AdamW preset: the same run with AdamW
        new_preset, new_config = preset, replace(config, optimizer="adamw")
    if say is None:
        say = print if os.environ.get("RANK", "0") == "0" else (lambda *a, **k: None)
    lesson = muon_lesson()
    note = (f"note: lesson {lesson} (Muon) does not pass yet ({problem}): training {new_preset} with AdamW instead "
            f"(make grade LESSON={lesson} says why)")
    if fallback and kept:
        note += f"; with your {flags(kept)}"
    if unused:
        note += f"; {flags(unused)} unused (Muon only)"
    say(note)
    return new_preset, new_config


# settings only Muon reads: on the AdamW fallback they have nothing to act on
MUON_ONLY = {"muon_lr", "momentum", "muon_weight_decay", "ns_steps", "ns_precision"}


def flags(settings: dict) -> str:
    """'--max-iters 100 --lr 0.003', as they would be typed."""
    return " ".join(f"--{name.replace('_', '-')} {value}" for name, value in settings.items())


def build(course, model, config: TrainConfig, source: Source):
    """The optimizer for this run: lesson 10's configure_optimizer, or lesson 13's for optimizer='muon'."""
    betas = (config.beta1, config.beta2)
    if config.optimizer == "adamw":
        return course.configure_optimizer(model, config.lr, config.weight_decay, betas)
    if config.optimizer != "muon":
        raise CapstoneError(f"unknown optimizer {config.optimizer!r}: use adamw or muon")
    lesson, problem = load_muon_lesson(source)
    if lesson is None:
        raise assemble.NotReady(problem)
    parts = lesson.configure_optimizer(model, config.lr, config.weight_decay, betas, muon_lr=config.muon_lr,
                                       momentum=config.momentum)
    muons = [opt for opt in parts if isinstance(opt, lesson.Muon)]
    for opt in parts:
        for group in opt.param_groups:
            group["initial_lr"] = group["lr"]  # each group's own peak (torch's LR schedulers use this key too)
            if opt in muons:
                group["ns_steps"] = config.ns_steps
                group["weight_decay"] = config.muon_weight_decay
    device_type = next(model.parameters()).device.type
    matrices = [p for opt in muons for group in opt.param_groups for p in group["params"]]
    precision, why = ns_precision(lesson.newton_schulz, matrices, device_type, config.ns_precision)
    if os.environ.get("RANK", "0") == "0":
        print(f"optimizer: your Muon (lesson {muon_lesson()}) for {len(matrices)} block matrices, AdamW for the rest; "
              f"Newton-Schulz in {precision} ({why})")
    return Optimizers(parts, low_precision=muons if precision == "bfloat16" else (), device_type=device_type)


def ns_precision(newton_schulz, matrices, device_type: str, requested: str) -> tuple[str, str]:
    """float32 or bfloat16 for Newton-Schulz's products, and why: asked for, or measured here.

    On a CPU, bfloat16 is fast only with bfloat16 units (recent Intel Xeons: AVX512-BF16 and AMX);
    without them it is emulated and many times slower (an AMD EPYC here: 7 to 25x). So "auto" times
    one orthogonalisation of the largest matrix both ways (precision.alternate_timings: one thread,
    alternating, best of NS_TIMINGS)."""
    if requested in ("float32", "bfloat16"):
        return requested, "--ns-precision"
    if requested != "auto":
        raise CapstoneError(f"unknown --ns-precision {requested!r}: use auto, float32 or bfloat16")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return "float32", "several processes must compute identical steps: no timing-based choice"
    if device_type == "cuda":
        return "bfloat16", "a GPU"
    if device_type != "cpu" or not matrices:
        return "float32", "the default"
    shape = max((tuple(p.shape) for p in matrices), key=lambda s: s[0] * s[1])
    G = torch.randn(shape, generator=torch.Generator().manual_seed(0))

    def orthogonalise(precision: str):
        def run():
            with torch.no_grad(), autocast("cpu", precision):
                newton_schulz(G, 2)
        return run

    seconds = alternate_timings({p: orthogonalise(p) for p in ("float32", "bfloat16")}, NS_TIMINGS)
    ratio = seconds["float32"] / max(seconds["bfloat16"], 1e-9)
    if ratio > 1.2:
        return "bfloat16", f"measured {ratio:.1f}x faster than float32 on this CPU"
    if ratio < 1:
        return "float32", f"bfloat16 measured {1 / ratio:.1f}x slower on this CPU"
    return "float32", f"bfloat16 measured only {ratio:.1f}x faster on this CPU"


def set_lr(optimizer, lr: float, config: TrainConfig) -> None:
    """Every group at the schedule's point: lr itself, or in proportion to the group's own peak."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group["initial_lr"] / config.lr if "initial_lr" in group else lr
