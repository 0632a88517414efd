"""The leaderboard's published rules, in one place: the budget, the limits, the thresholds, the run file.

A student enters with `capstone_run.json` beside their lesson folders:

    {"preset": "cpu-small", "n_embd": 160, "lr": 0.005}

It names a base preset and changes only the settings listed in SETTINGS. Every entry trains on the
same number of tokens (the budget, not a time: the ranking does not depend on the grader's CPU);
the steps follow from it: budget // (batch_size x block_size). A run that breaks a rule is refused
with one line before anything trains. An instructor changes the budget, the limits or the
thresholds here (RULES), and nowhere else: docs/grading-a-class.md.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import jsonschema

from ..submission_files import NotPlainFile, read_plain

RUN_FILE = "capstone_run.json"
# the lesson notebooks an entry trains with (the capstone's, and what their set-up cells load); Muon adds 13
LESSONS = ("01", "03", "05", "07", "08", "09", "10")
MUON_LESSON = "13"
MAX_RUN_FILE_BYTES = 4096


@dataclass(frozen=True)
class Rules:
    token_budget: int = 1_536_000  # training tokens per entry: cpu-small's 1,500 steps x 16 x 64
    max_params: int = 1_000_000  # parameters of the model (tied embeddings counted once)
    thresholds: tuple[float, ...] = (2.0, 1.9, 1.8)  # val loss at or below each earns points_each
    points_each: float = 1.0
    seed: int = 1337  # initial weights and batches: fixed, so an entry scores the same every time
    curve_points: int = 4  # snapshots of the weights during training, judged for the val curve
    eval_windows: int = 512  # fixed val windows (seeded offsets) every entry is judged on
    sample_chars: int = 200  # text the reference generates from the weights, for the table
    # CPU seconds the jail allows an entry: its training FLOPs at FLOPS_FLOOR, plus START_SECONDS
    flops_floor: float = 1.5e10  # a quarter of what one thread of a 2-core AMD EPYC trained at (docs/capstone.md)
    start_seconds: float = 60.0
    memory_gib: float = 3.0

    def max_points(self) -> float:
        return self.points_each * len(self.thresholds)

    def points(self, val: float | None) -> float:
        if val is None or not math.isfinite(val):
            return 0.0
        return self.points_each * sum(val <= t for t in self.thresholds)


RULES = Rules()

# The base presets a run file may name: capstone/presets.py's AdamW and Muon presets, their model and
# optimiser settings. Steps come from the budget. Copied, not imported, and tests/test_leaderboard.py
# holds them equal: this module is the bottom layer (files and formats) and capstone/ the top one, so
# importing it here would run the layers backwards (tests/test_imports.py), and the leaderboard's
# Gradescope zip ships autograder/ alone (gradescope/build.py): there is no capstone/ to import.
PRESETS: dict[str, dict] = {
    "cpu-small": dict(n_layer=2, n_head=4, n_embd=128, block_size=64, batch_size=16, dropout=0.0,
                      lr=6e-3, min_lr=6e-4, warmup_iters=50, weight_decay=0.1, beta1=0.9, beta2=0.99,
                      grad_clip=1.0, optimizer="adamw", muon_lr=0.03, momentum=0.95),
    "cpu-fast": dict(n_layer=2, n_head=4, n_embd=96, block_size=64, batch_size=16, dropout=0.0,
                     lr=6e-3, min_lr=6e-4, warmup_iters=50, weight_decay=0.1, beta1=0.9, beta2=0.99,
                     grad_clip=1.0, optimizer="muon", muon_lr=0.03, momentum=0.9),
}
# What the run file may change, and the range of each (JSON schema: checked before anything else).
SETTINGS: dict[str, dict] = {
    "n_layer": {"type": "integer", "minimum": 1, "maximum": 12},
    "n_head": {"type": "integer", "minimum": 1, "maximum": 16},
    "n_embd": {"type": "integer", "minimum": 8, "maximum": 1024},
    "block_size": {"type": "integer", "minimum": 8, "maximum": 512},
    "batch_size": {"type": "integer", "minimum": 1, "maximum": 512},
    "dropout": {"type": "number", "minimum": 0, "maximum": 0.5},
    "lr": {"type": "number", "exclusiveMinimum": 0, "maximum": 0.1},
    "min_lr": {"type": "number", "minimum": 0, "maximum": 0.1},
    "warmup_iters": {"type": "integer", "minimum": 0, "maximum": 100_000},
    "weight_decay": {"type": "number", "minimum": 0, "maximum": 1},
    "beta1": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
    "beta2": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
    "grad_clip": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
    "optimizer": {"enum": ["adamw", "muon"]},
    "muon_lr": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    "momentum": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
}
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["preset"],
    "additionalProperties": False,
    "properties": {"preset": {"enum": sorted(PRESETS)}, **SETTINGS},
}


class RunRefused(ValueError):
    """A run file that breaks a rule; the message is the one line the student reads."""


@dataclass(frozen=True)
class Run:
    """An entry's settings after the rules: the preset's, changed where the run file says."""
    preset: str
    settings: dict
    steps: int
    tokens: int  # what training will consume: steps x batch_size x block_size <= the budget

    def to_dict(self) -> dict:
        return {"preset": self.preset, **self.settings, "steps": self.steps, "tokens": self.tokens}


def _no_constant(name: str):
    # Python's json reads NaN, Infinity and -Infinity, which JSON itself does not have; NaN then passes every
    # minimum and maximum of the schema (every comparison with it is False)
    raise RunRefused(f"{RUN_FILE}: {name} is not a number JSON allows (write a finite number)")


def parse_run_file(path: Path) -> dict:
    """The run file's JSON object; RunRefused for a missing, large, linked, deep or unreadable file."""
    try:  # a regular file of its own, and its size checked before anything of it is read
        data = read_plain(path, limit=MAX_RUN_FILE_BYTES)
    except NotPlainFile as err:
        if err.why == "file not found":
            raise RunRefused(f"no {RUN_FILE} was submitted (a plain file beside your lesson folders)") from None
        if err.why.startswith("is larger than"):  # a size, not a kind of file: no "plain files" advice
            raise RunRefused(f"{RUN_FILE} {err.why}") from None
        raise RunRefused(f"{RUN_FILE} {err.why} (submissions must be plain files)") from None
    if len(data) > MAX_RUN_FILE_BYTES:  # grown between the size check and the read
        raise RunRefused(f"{RUN_FILE} is larger than {MAX_RUN_FILE_BYTES} bytes")
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except RunRefused:
        raise
    except RecursionError:  # "[[[[..." deeper than Python's stack: the decoder recurses once per level
        raise RunRefused(f"{RUN_FILE} is nested too deeply (a run file is one flat object)") from None
    except (UnicodeDecodeError, ValueError) as err:
        raise RunRefused(f"{RUN_FILE} is not valid JSON ({str(err).splitlines()[0][:120]})") from None


def check_schema(request) -> None:
    try:
        jsonschema.validate(request, SCHEMA)
    except RecursionError:  # a value nested just under the decoder's limit can still exhaust the validator's
        raise RunRefused(f"{RUN_FILE} is nested too deeply (a run file is one flat object)") from None
    except jsonschema.ValidationError as err:
        where = ".".join(str(p) for p in err.absolute_path)
        if err.validator == "additionalProperties":
            allowed = ", ".join(["preset", *SETTINGS])
            raise RunRefused(f"{RUN_FILE}: {err.message}; a run may set only: {allowed}") from None
        raise RunRefused(f"{RUN_FILE}: {where + ': ' if where else ''}{err.message[:200]}") from None


def check_types(request: dict) -> None:
    """Stricter than the schema, which takes 128.0 as an integer (JSON Schema does) and NaN as a number:
    a float n_embd breaks the model's shapes, a float batch_size makes the steps a float, a NaN lr
    trains nothing. Integer settings must be Python ints (not floats, not booleans), numbers finite."""
    for key, value in request.items():
        kind = SETTINGS.get(key, {}).get("type")
        if kind == "integer" and type(value) is not int:
            whole = isinstance(value, float) and value.is_integer()
            raise RunRefused(f"{RUN_FILE}: {key}: {value!r} is not a whole number"
                             + (f" (write {int(value)}, without a decimal point)" if whole else ""))
        if kind == "number" and (type(value) not in (int, float) or not math.isfinite(value)):
            raise RunRefused(f"{RUN_FILE}: {key}: {value!r} is not a finite number")


def resolve(request, rules: Rules = RULES, count_params=None) -> Run:
    """The Run a request describes, or RunRefused naming the first rule it breaks.

    count_params(settings) -> the model's parameter count (the reference GPT's: judge.count_params)."""
    check_schema(request)
    check_types(request)
    settings = {**PRESETS[request["preset"]], **{k: v for k, v in request.items() if k != "preset"}}
    if settings["n_embd"] % settings["n_head"]:
        raise RunRefused(f"n_embd ({settings['n_embd']}) must be a multiple of n_head ({settings['n_head']})")
    if settings["min_lr"] > settings["lr"]:
        raise RunRefused(f"min_lr ({settings['min_lr']:g}) must not exceed lr ({settings['lr']:g})")
    per_step = settings["batch_size"] * settings["block_size"]
    steps = rules.token_budget // per_step
    if steps < 1:
        raise RunRefused(f"one step of batch_size x block_size = {per_step:,} tokens is more than the budget "
                         f"of {rules.token_budget:,}")
    if settings["warmup_iters"] >= steps:
        raise RunRefused(f"warmup_iters ({settings['warmup_iters']}) must be fewer than the run's {steps} steps "
                         f"(the budget of {rules.token_budget:,} tokens / {per_step:,} per step)")
    if count_params is not None:
        params = count_params(settings)
        if params > rules.max_params:
            raise RunRefused(f"the model has {params:,} parameters, more than the limit of {rules.max_params:,}")
    return Run(request["preset"], settings, steps, steps * per_step)


def missing_lessons(run: Run, present) -> list[str]:
    """The lessons this run trains with that are not among `present` (lesson ids)."""
    wanted = LESSONS + ((MUON_LESSON,) if run.settings["optimizer"] == "muon" else ())
    return [lid for lid in wanted if lid not in set(present)]


def reference_runs(rules: Rules = RULES, count_params=None) -> dict[str, Run]:
    """The course's presets as entries of their own: the reference rows of every leaderboard."""
    return {name: resolve({"preset": name}, rules, count_params) for name in PRESETS}


def cpu_seconds(run: Run, params: int, rules: Rules = RULES) -> float:
    """The jail's CPU-time limit for an entry: its training FLOPs (6 per parameter and token, plus
    attention's 12 x layers x width x block) at rules.flops_floor, plus rules.start_seconds."""
    s = run.settings
    flops = (6 * params + 12 * s["n_layer"] * s["n_embd"] * s["block_size"]) * run.tokens
    return round(flops / rules.flops_floor + rules.start_seconds, 1)


def smaller(rules: Rules = RULES, **changes) -> Rules:
    """The rules with some fields changed (tests use a small budget)."""
    return replace(rules, **changes)
