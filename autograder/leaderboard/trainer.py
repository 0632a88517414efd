"""What runs in the jail for a leaderboard entry: the student's own lessons train the GPT.

A worker's child (jail/child.py, job kind "train") calls `train_outcome`. Everything here runs in
the process that holds student code, so nothing it produces is believed: it hands back the trained
weights only (a few snapshots for the val curve), as tensors the grader reads with
torch.load(weights_only=True). No loss, no verdict, no text of its own goes back; the trusted side
(judge.py) checks the weights' names, shapes and values and evaluates them with the reference GPT.

The loop is capstone/train.py's, reduced to what the leaderboard needs and made deterministic (fixed
seeds, one thread): lesson 01's vocabulary and encode, lesson 03's train_val_split and get_batch,
lesson 09's GPTConfig and GPT, lesson 10's lr_at, configure_optimizer and train_step (lesson 13's
configure_optimizer for optimizer "muon"). It lives in autograder/ because the jail sees only the
course's public code there.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from ..loader import Loader, use
from ..paths import read_tinyshakespeare
from ..run import Outcome, describe_exception
from ..source import Source

# the capstone's fixed model choices (capstone/presets.py's TrainConfig defaults), not the student's to change
FIXED_MODEL = {"bias": False, "flash": True, "tie_weights": True}


def gpt_config(GPTConfig, settings: dict, vocab_size: int):
    """Lesson 09's GPTConfig for these settings: every field the settings name, the fixed choices, the vocabulary."""
    names = {f.name for f in dataclasses.fields(GPTConfig)}
    values = {**{k: v for k, v in settings.items() if k in names}, **FIXED_MODEL, "vocab_size": vocab_size}
    return GPTConfig(**{k: v for k, v in values.items() if k in names})


class _Together:
    """Lesson 13's two optimizers (Muon for block matrices, AdamW for the rest) stepped as one."""

    def __init__(self, parts):
        self.parts = list(parts)

    @property
    def param_groups(self):
        return [group for opt in self.parts for group in opt.param_groups]

    def zero_grad(self, set_to_none: bool = True):
        for opt in self.parts:
            opt.zero_grad(set_to_none=set_to_none)

    def step(self, closure=None):
        for opt in self.parts:
            opt.step()


def build_optimizer(lessons: dict, model, s: dict):
    betas = (s["beta1"], s["beta2"])
    if s["optimizer"] == "muon":
        parts = lessons["13"].configure_optimizer(model, s["lr"], s["weight_decay"], betas,
                                                  muon_lr=s["muon_lr"], momentum=s["momentum"])
        optimizer = _Together(parts)
    else:
        optimizer = lessons["10"].configure_optimizer(model, s["lr"], s["weight_decay"], betas)
    for group in optimizer.param_groups:
        group["initial_lr"] = group["lr"]  # each group follows the schedule in proportion to its own peak
    return optimizer


def snapshot_steps(steps: int, points: int) -> list[int]:
    return sorted({max(1, round(steps * k / points)) for k in range(1, points + 1)})


# train_outcome's reason when the state_dict holds tensors the judge cannot read; entry.failure_reason turns
# it into its own phrase (a student who forges it only fails their own entry)
NOT_ORDINARY = "the GPT's state_dict holds tensors that are not ordinary (dense, CPU) tensors"


class NotOrdinaryWeights(Exception):
    """The student's state_dict holds a sparse, meta-device or other non-ordinary tensor."""


def handed_back(model) -> dict:
    """A copy of the model's weights to send back: ordinary CPU tensors, or NotOrdinaryWeights.

    `.cpu()` raises NotImplementedError on a meta tensor (which train_outcome would report as an
    unfinished lesson) and keeps a sparse one sparse; the judge refuses those anyway, so say so here."""
    weights = {}
    for name, t in model.state_dict().items():
        if isinstance(t, torch.Tensor) and (t.layout != torch.strided or t.device.type == "meta" or t.is_nested):
            raise NotOrdinaryWeights(name)
        weights[name] = t.detach().cpu().clone() if isinstance(t, torch.Tensor) else t
    return weights


def train(root: str, settings: dict) -> dict:
    """Train as `settings` say with the lessons in `root`; {"snapshots": [[step, weights], ...]}."""
    source = Source(Path(root))
    loader = use(Loader(deps=source, default_source=source))  # the student's own lessons, nested loads too
    wanted = ["01", "03", "09", "10"] + (["13"] if settings["optimizer"] == "muon" else [])
    lessons = {lid: loader.load(lid, source=source, deps=source) for lid in wanted}
    L01, L03, L09, L10 = (lessons[k] for k in ("01", "03", "09", "10"))
    text = read_tinyshakespeare()
    chars = L01.build_vocab(text)
    stoi, _ = L01.make_tables(chars)
    data = torch.tensor(L01.encode(text, stoi), dtype=torch.long)
    train_data, _ = L03.train_val_split(data, 0.9)

    seed, steps = settings["seed"], settings["steps"]
    torch.manual_seed(seed)
    model = L09.GPT(gpt_config(L09.GPTConfig, settings, len(chars)))
    optimizer = build_optimizer(lessons, model, settings)
    batches = torch.Generator().manual_seed(seed * 1_000_003)
    keep = set(snapshot_steps(steps, settings["curve_points"]))
    snapshots = []
    model.train()
    for step in range(steps):
        lr = L10.lr_at(step, settings["lr"], settings["min_lr"], settings["warmup_iters"], steps)
        for group in optimizer.param_groups:
            group["lr"] = lr * group["initial_lr"] / settings["lr"]
        x, y = L03.get_batch(train_data, settings["block_size"], settings["batch_size"], generator=batches)
        L10.train_step(model, optimizer, x, y, settings["grad_clip"])
        if step + 1 in keep:
            snapshots.append([step + 1, handed_back(model)])
    return {"snapshots": snapshots}


def train_outcome(root: str, settings: dict) -> Outcome:
    """train() as a job's outcome: the weights, or what stopped it (the grader keeps none of its text)."""
    try:
        return Outcome("ok", train(root, settings))
    except NotOrdinaryWeights:
        return Outcome("error", reason=NOT_ORDINARY)
    except NotImplementedError:
        return Outcome("not_started", reason="a lesson the capstone needs still raises NotImplementedError")
    except BaseException as err:  # noqa: BLE001 - anything the student's code does
        return Outcome("error", reason=describe_exception(err))
