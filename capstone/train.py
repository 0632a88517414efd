"""Train the GPT your lessons define on Tiny Shakespeare: `make train` (see `--help`).

    make train                                  # your notebooks (SOURCE=lessons), preset cpu-small
    make train SOURCE=solutions PRESET=cpu-best # the reference, 15 minutes
    make train ARGS="--max-iters 300 --lr 3e-3" # change single settings of the preset
    torchrun --nproc_per_node=2 -m capstone.train --preset cpu-small   # data-parallel

Every building block comes from a lesson: the vocabulary and encode/decode (01), train_val_split and
get_batch (03), estimate_loss (05), GPTConfig and GPT with generate (07-09), lr_at,
configure_optimizer, train_step, save_checkpoint and load_checkpoint (10). This file only wires them
together, adds the progress bar, plots and samples, and makes the run safe to interrupt. A run is
three steps sharing one `Run`: set_up (lessons, data, model, resume), train_loop, finish.

Output, in runs/<preset>/ (or --out): ckpt.pt, model.py (your GPT in one file), loss.png, sample.txt,
history.json, summary.json. Running again with the same folder resumes from ckpt.pt; Ctrl-C saves a
checkpoint first (press twice to quit without saving). Ctrl-C at any other moment ends with one line
saying what the checkpoint holds; the checkpoint is saved before the final evaluation, so training
done is never lost to what comes after it.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import math
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch
from tqdm.auto import tqdm

from autograder.paths import REPO_ROOT
from autograder.source import Source

from . import assemble, checkpoint, model_file, optim, precision, runtime
from .errors import INTERRUPTED, CapstoneError, Interrupted, ctrl_c_raises, print_error, print_interrupted
from .plot import plot_losses
from .presets import (DEFAULT_PRESET, PRESETS, TrainConfig, check, describe_presets, field_names, get_preset,
                      parse_bool, with_overrides)

SCHEDULE_RESOLUTION = 10_000  # virtual steps of a time-budget cosine: lr_at sees time as steps


# --- command line -----------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m capstone.train", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train the GPT your lessons define on Tiny Shakespeare.",
        epilog="presets (capstone/presets.py):\n" + describe_presets())
    parser.add_argument("--preset", default=DEFAULT_PRESET, choices=list(PRESETS), help="named configuration")
    parser.add_argument("--source", default="lessons",
                        help="lessons (your notebooks, default), solutions (the reference), or a folder of lessons")
    parser.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, mps")
    parser.add_argument("--out", type=Path, help="run folder (default runs/<preset>, runs/<preset>-gpt2 for BPE)")
    parser.add_argument("--fresh", action="store_true", help="ignore a checkpoint in the run folder: start over")
    parser.add_argument("--no-grade", action="store_true",
                        help="train without first checking that the lessons pass (you will see raw errors)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    group = parser.add_argument_group("settings (override the preset's value)")
    defaults = TrainConfig()
    for name in field_names():
        kind = type(getattr(defaults, name))
        group.add_argument("--" + name.replace("_", "-"), dest=name, default=None,
                           type=parse_bool if kind is bool else kind, metavar=kind.__name__.upper())
    return parser


def config_from_args(args) -> TrainConfig:
    """The preset with the command line's settings, checked (presets.check: one line per bad value)."""
    config = with_overrides(get_preset(args.preset), **{name: getattr(args, name) for name in field_names()})
    check(config)
    return config


def default_out(preset: str, config: TrainConfig) -> Path:
    return REPO_ROOT / "runs" / (preset + ("" if config.tokenizer == "char" else f"-{config.tokenizer}"))


# --- pieces of the loop -----------------------------------------------------------------------------

class StopRequest:
    """Ctrl-C (or torchrun's SIGTERM) asks to stop after the current step and save; twice quits at once."""

    def __init__(self):
        self.requested = False
        self._previous = {}

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        with contextlib.suppress(ValueError):  # not the main thread: no signal handling
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def learning_rate(course, config: TrainConfig, step: int, clock: float, warmup_end_time: float | None) -> float:
    """Lesson 10's lr_at. With a time budget, the cosine runs over the remaining seconds instead of steps."""
    if config.time_budget <= 0:
        return course.lr_at(step, config.lr, config.min_lr, config.warmup_iters, config.max_iters)
    last = config.warmup_iters + SCHEDULE_RESOLUTION
    if step < config.warmup_iters or warmup_end_time is None:
        return course.lr_at(step, config.lr, config.min_lr, config.warmup_iters, last)
    progress = (clock - warmup_end_time) / max(1e-9, config.time_budget - warmup_end_time)
    virtual = config.warmup_iters + int(min(1.0, max(0.0, progress)) * SCHEDULE_RESOLUTION)
    return course.lr_at(virtual, config.lr, config.min_lr, config.warmup_iters, last)


def finished(config: TrainConfig, step: int, clock: float) -> bool:
    if config.time_budget > 0:
        return clock >= config.time_budget
    return step >= config.max_iters


def use_multi_tensor_adamw(optimizer) -> str:
    """Same AdamW math, one kernel for all parameters instead of a Python loop over them (CPU: ~10% per step)."""
    for group in optimizer.param_groups:
        if "foreach" in group and not group.get("fused"):
            group["foreach"] = True
    return "foreach"


def flops_per_token(model, config: TrainConfig) -> float:
    """Training FLOPs per token (PaLM appendix B): 6 per parameter plus attention's 12 * L * C * T."""
    n_params = sum(p.numel() for p in model.parameters())  # shared (tied) weights counted once
    return 6 * n_params + 12 * config.n_layer * config.n_embd * config.block_size


def weights_digest(model) -> str:
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


# --- the run: set_up, train_loop, finish ------------------------------------------------------------

@dataclass
class Run:
    """One training run: what set_up builds, train_loop advances and finish reports and saves."""
    rt: runtime.Runtime
    config: TrainConfig
    course: SimpleNamespace  # the lessons' functions (assemble.load_course)
    source: Source
    out: Path
    label: str
    val_iters: int | None  # batches of each val estimate, if not config.eval_iters
    tokenizer: assemble.Tokenizer
    train_data: torch.Tensor
    val_data: torch.Tensor
    gpt_config: object
    model: torch.nn.Module  # the GPT: what is saved, evaluated and sampled
    optimizer: torch.optim.Optimizer
    trainee: torch.nn.Module | None = None  # what train_step trains: the GPT, or its DistributedDataParallel
    batch_gen: torch.Generator | None = None
    step: int = 0
    # train_time: wall-clock seconds spent in training steps (evaluation and saving excluded);
    # cpu_time: this process's CPU seconds per thread in them (what a busy, shared machine actually gave us)
    train_time: float = 0.0
    cpu_time: float = 0.0
    warmup_end_time: float | None = None
    history: dict = dataclasses.field(default_factory=lambda: {"steps": [], "evals": []})
    done: dict | None = None  # the checkpoint already holds a finished run: its final summary
    precision: str = "float32"  # of the forward pass's matrix products (capstone/precision.py)
    saved_step: int | None = None  # the step ckpt.pt holds (None: no checkpoint yet), for the Ctrl-C message
    phase: str = "during start-up"  # what the run is doing, for the Ctrl-C message

    @property
    def ckpt_path(self) -> Path:
        return self.out / "ckpt.pt"

    @property
    def model_path(self) -> Path:
        return self.out / model_file.FILENAME

    @property
    def tokens_per_step(self) -> int:
        return self.config.batch_size * self.config.block_size * self.rt.world_size

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def say(self, *args, **kwargs) -> None:
        if self.rt.is_main:
            print(*args, **kwargs)

    def clock(self) -> float:
        """What the time budget counts: training seconds, wall-clock or CPU."""
        return self.cpu_time if self.config.clock == "cpu" else self.train_time

    def evaluate(self, iters: int, val_iters: int | None = None) -> dict[str, float]:
        """Lesson 05's estimate_loss on train and val, on the same batches every time (fixed seeds): the
        curves show the model changing, not the sample."""
        config, device = self.config, self.rt.device
        gens = {split: torch.Generator().manual_seed(config.seed + i) for i, split in enumerate(("train", "val"))}
        fns = {split: (lambda d=d, g=gens[split]: self.course.get_batch(d, config.block_size, config.batch_size,
                                                                        generator=g, device=device))
               for split, d in (("train", self.train_data), ("val", self.val_data))}
        if val_iters is None or val_iters == iters:
            losses = self.course.estimate_loss(self.model, fns, iters)
        else:
            losses = {**self.course.estimate_loss(self.model, {"train": fns["train"]}, iters),
                      **self.course.estimate_loss(self.model, {"val": fns["val"]}, val_iters)}
        return {k: float(v) for k, v in losses.items()}

    def save(self, final: dict | None = None) -> None:
        """Lesson 10's save_checkpoint (made atomic), with the capstone's record: rank 0 only."""
        if not self.rt.is_main:
            return
        record = {"model_config": assemble.model_config_dict(self.gpt_config), "tokenizer": self.tokenizer.identity,
                  "train_config": dataclasses.asdict(self.config), "source": str(self.source), "step": self.step,
                  "train_time": self.train_time, "cpu_time": self.cpu_time,
                  "warmup_end_time": self.warmup_end_time, "history": self.history}
        if final is not None:
            record["final"] = final
        checkpoint.save(self.course, self.ckpt_path, self.model, self.optimizer, self.step, self.gpt_config, record)
        self.saved_step = self.step


def run(config: TrainConfig, *, source: Source, device: str = "auto", out: Path,
        fresh: bool = False, check_lessons: bool = True, quiet: bool = False, save_during: bool = True,
        sample: bool = True, label: str = "", val_iters: int | None = None) -> dict:
    """Train (or resume) one run; returns its summary (also written to out/summary.json on rank 0).

    val_iters: batches of the val estimate at each interval, if not config.eval_iters (the benchmark
    uses 200 for val and a cheap train estimate). Raises CapstoneError for what the user can fix, and
    Interrupted, saying what the checkpoint holds, for Ctrl-C outside the training loop (or twice in it)."""
    check(config)
    checkpoint.check_folder(out)
    rt, state = runtime.start(device), None
    try:
        state = set_up(rt, config, source=source, out=Path(out), fresh=fresh, check_lessons=check_lessons,
                       label=label, val_iters=val_iters)
        if state.done is not None:
            return state.done
        return finish(state, train_loop(state, quiet=quiet, save_during=save_during), sample=sample)
    except KeyboardInterrupt:
        raise Interrupted(interrupted(state, Path(out) / "ckpt.pt")) from None
    finally:
        rt.close()


def interrupted(state: Run | None, ckpt_path: Path) -> str:
    """The one line Ctrl-C ends with: where the run was, and what its checkpoint holds now."""
    if state is None:  # grading the lessons, loading the data, building the model
        return (f"interrupted during start-up: {ckpt_path} is unchanged" if ckpt_path.exists()
                else "interrupted during start-up: nothing trained yet")
    where = f"interrupted {state.phase}"
    if state.phase == "during training":  # the first Ctrl-C stops after the step and saves; this was the second
        where = f"interrupted twice: stopped at step {state.step} without saving"
    if state.saved_step is None:
        return f"{where}: nothing saved yet" if state.step else f"{where}: nothing trained yet"
    if state.phase == "while plotting and sampling":  # after the final save
        return (f"{where}: the checkpoint at {state.ckpt_path} holds the finished run ({state.saved_step} steps); "
                f"`make sample OUT={state.out}` generates text from it")
    todo = ("the same command finishes it (final evaluation, plot, sample)"
            if finished(state.config, state.saved_step, state.clock()) else "the same command resumes from it")
    return f"{where}: the checkpoint at {state.ckpt_path} holds step {state.saved_step}; {todo}"


def set_up(rt: runtime.Runtime, config: TrainConfig, *, source: Source, out: Path, fresh: bool = False,
           check_lessons: bool = True, label: str = "", val_iters: int | None = None) -> Run:
    """Everything before the first step: lessons, data, model, optimizer, resumed state, model.py."""
    if rt.device == "cpu":
        torch.set_num_threads(runtime.cpu_threads(config.threads, rt.world_size))

    # 1. the lessons must pass before their code trains anything
    if check_lessons and not source.reference:
        problem = ""
        if rt.is_main:
            try:
                assemble.require_passing(source)
            except assemble.NotReady as err:
                problem = str(err)
        if rt.agree([float(bool(problem))])[0]:
            raise assemble.NotReady(problem or "another process found failing lessons")
    course = assemble.load_course(source)

    # 2. data: lesson 01 (or GPT-2 BPE) tokens, lesson 03's split
    ckpt_path = out / "ckpt.pt"
    record = checkpoint.read_record(ckpt_path) if ckpt_path.exists() and not fresh else None
    text = assemble.shakespeare()
    tokenizer = assemble.make_tokenizer(course, config.tokenizer, text)
    data = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    train_data, val_data = course.train_val_split(data, 0.9)
    if config.block_size >= len(val_data):  # get_batch draws windows of block_size + 1 tokens from each split
        raise CapstoneError(f"--block-size {config.block_size} is longer than the validation text "
                            f"({len(val_data):,} {config.tokenizer} tokens): use at most {len(val_data) - 1:,}")

    # 3. model (lessons 07-09) and optimizer (lesson 10's AdamW, or lesson 13's Muon + AdamW)
    gpt_config = assemble.gpt_config_for(course, config, tokenizer.vocab_size)
    torch.manual_seed(config.seed)  # same seed on every process: identical initial weights
    model = course.GPT(gpt_config).to(rt.device)
    optimizer = optim.build(course, model, config, source)
    use_multi_tensor_adamw(optimizer)
    state = Run(rt, config, course, source, out, label, val_iters, tokenizer, train_data, val_data, gpt_config,
                model, optimizer)

    # 4. resume: the checkpoint must hold this model and vocabulary
    if record is not None:
        checkpoint.check_compatible(ckpt_path, record, assemble.model_config_dict(gpt_config), tokenizer.identity)
        saved = checkpoint.load(course, ckpt_path, model, optimizer)
        state.step, state.train_time = int(saved.get("step", record["step"])), record["train_time"]
        state.cpu_time = record.get("cpu_time", state.train_time)
        state.warmup_end_time, state.history = record.get("warmup_end_time"), record["history"]
        state.saved_step = state.step

    # 5. the student's whole GPT in one file, checked against the model just built (rank 0 writes files)
    if rt.is_main:
        _, problem = model_file.write_checked(source, out, model, assemble.model_config_dict(gpt_config))
        if problem:
            state.say(f"note: {state.model_path} {problem}; your notebooks stay the source of truth")

    if record is not None:
        if not finished(config, state.step, state.clock()):
            state.say(f"resuming {ckpt_path} at step {state.step} ({state.train_time:.0f} s trained)")
        elif "final" not in record:  # Ctrl-C (or a crash) came after the last step: evaluate, plot, sample
            state.say(f"{ckpt_path} holds all {state.step} steps, but was interrupted before its final "
                      f"evaluation: finishing it")
        else:
            state.say(f"{ckpt_path} already holds a finished run ({state.step} steps, final val "
                      f"{record['final'].get('val', float('nan')):.4f}).\n"
                      f"`make sample` generates from it; --fresh (make train FRESH=1) trains again from scratch; "
                      f"a larger --max-iters continues training.")
            state.done = record["final"]
            return state

    # 6. several processes: DDP averages the gradients
    state.trainee = model
    if rt.distributed:
        from torch.nn.parallel import DistributedDataParallel

        state.trainee = DistributedDataParallel(model, device_ids=[rt.local_rank]
                                                if rt.device.startswith("cuda") else None)

    # 7. float32 or bfloat16 for the forward pass: asked for, or the faster here by a short measurement
    # (before the seeds below, so that a dropout model draws the same masks whether it measured or not)
    def measure() -> dict[str, float]:
        x, y = course.get_batch(train_data, config.block_size, config.batch_size,
                                generator=torch.Generator().manual_seed(0), device=rt.device)
        return precision.measure_step(model, lambda: model(x, y)[1], rt.device.split(":")[0])

    state.precision, why = precision.choose(config.precision, rt.device, measure)
    state.say(precision.describe(state.precision, why))
    if state.precision == "bfloat16":
        state.trainee = precision.Autocast(state.trainee, rt.device.split(":")[0])

    # 8. each process draws its own batches, and a resumed run continues with fresh, reproducible draws
    state.batch_gen = torch.Generator().manual_seed(config.seed * 1_000_003 + rt.rank * 7_919 + state.step)
    torch.manual_seed(config.seed + rt.rank + state.step)  # dropout

    state.say(f"{label or 'training'}: {state.n_params / 1e6:.2f}M parameters, {tokenizer.kind} tokens (vocab "
              f"{tokenizer.vocab_size}), {len(train_data):,} train / {len(val_data):,} val tokens, device {rt.device}"
              + (f" x {rt.world_size} processes" if rt.distributed else "")
              + f", {torch.get_num_threads()} threads; writing to {out}")
    return state


@dataclass
class Session:
    """What one call of train_loop did (a resumed run has several sessions)."""
    interrupted: bool = False
    steps: int = 0
    seconds: float = 0.0  # training seconds of these steps (the slowest process's)
    wall: float = 0.0  # wall-clock seconds of the whole loop, evaluations included

    def tokens_per_s(self, tokens_per_step: int) -> float:
        return tokens_per_step * self.steps / max(self.seconds, 1e-9)


def train_loop(state: Run, *, quiet: bool = False, save_during: bool = True) -> Session:
    """Lesson 10's train_step until the step or time budget is spent, Ctrl-C or a NaN loss."""
    config, rt, course = state.config, state.rt, state.course
    state.phase = "during the step-0 evaluation"
    if state.step == 0 and rt.is_main and config.eval_interval > 0:
        losses = state.evaluate(config.eval_iters, state.val_iters)
        state.history["evals"].append((0, 0.0, losses["train"], losses["val"], 0.0))
        state.say(f"step 0: train {losses['train']:.4f}, val {losses['val']:.4f}")

    session, wall_start = Session(), time.perf_counter()
    by_time = config.time_budget > 0
    bar = tqdm(total=config.time_budget if by_time else config.max_iters,
               initial=state.clock() if by_time else state.step, unit="s" if by_time else "step",
               disable=quiet or not rt.is_main, dynamic_ncols=True,
               bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} {unit} [{elapsed}<{remaining}{postfix}]"
               if by_time else None)
    try:
        with StopRequest() as stop:
            state.phase = "during training"  # Ctrl-C now asks the loop to stop and save; only a second one lands outside
            while not finished(config, state.step, state.clock()):
                t0, c0, before = time.perf_counter(), time.process_time(), state.clock()
                lr = learning_rate(course, config, state.step, state.clock(), state.warmup_end_time)
                optim.set_lr(state.optimizer, lr, config)  # each group in proportion to its own peak
                x, y = course.get_batch(state.train_data, config.block_size, config.batch_size,
                                        generator=state.batch_gen, device=rt.device)
                loss = float(course.train_step(state.trainee, state.optimizer, x, y, config.grad_clip))
                dt = time.perf_counter() - t0
                cpu_dt = (time.process_time() - c0) / torch.get_num_threads()
                # every process must take the same decisions: stop, NaN, and the clocks (slowest process)
                stop_now, bad, clock, cpu_clock = rt.agree([float(stop.requested), float(not math.isfinite(loss)),
                                                            state.train_time + dt, state.cpu_time + cpu_dt])
                state.step, dt = state.step + 1, clock - state.train_time
                state.train_time, state.cpu_time = clock, cpu_clock
                session.steps, session.seconds = session.steps + 1, session.seconds + dt
                if bad:
                    kept = f"; the last good checkpoint is {state.ckpt_path}" if state.ckpt_path.exists() else ""
                    raise CapstoneError(f"training stopped: the loss became {loss} at step {state.step} "
                                        f"(lr {lr:.3g}). Lower --lr or check your lesson code{kept}.")
                if state.warmup_end_time is None and state.step >= config.warmup_iters:
                    state.warmup_end_time = state.clock()
                state.history["steps"].append((state.step, round(state.train_time, 4), round(loss, 5)))
                bar.update(state.clock() - before if by_time else 1)
                if state.step % 10 == 0 or state.step == 1:
                    bar.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.2e}",
                                    tok_s=f"{session.tokens_per_s(state.tokens_per_step):,.0f}")
                if stop_now:
                    session.interrupted = True
                    break
                if (config.eval_interval > 0 and state.step % config.eval_interval == 0
                        and not finished(config, state.step, state.clock()) and rt.is_main):
                    losses = state.evaluate(config.eval_iters, state.val_iters)
                    state.history["evals"].append((state.step, round(state.train_time, 3), losses["train"],
                                                   losses["val"], round(state.cpu_time, 3)))
                    bar.write(f"step {state.step}: train {losses['train']:.4f}, val {losses['val']:.4f} "
                              f"({state.train_time:.1f} s)")
                    if save_during:
                        state.save()
    finally:
        bar.close()
    state.phase = "while saving the checkpoint"
    session.wall = time.perf_counter() - wall_start
    return session


def finish(state: Run, session: Session, *, sample: bool = True) -> dict:
    """After the loop: save, and on a completed run the final estimate, plots, sample and summary."""
    config, rt, out = state.config, state.rt, state.out
    if session.interrupted:
        state.save()
        state.say(f"\ninterrupted at step {state.step}: checkpoint saved to {state.ckpt_path}. "
                  f"Run the same command again to resume.")
        return {"interrupted": True, "step": state.step}

    summary = {"label": state.label, "step": state.step, "train_time": round(state.train_time, 2),
               "wall_time": round(session.wall, 2), "cpu_time": round(state.cpu_time, 2),
               "tokens_per_s": round(session.tokens_per_s(state.tokens_per_step)),
               "flops_per_token": flops_per_token(state.model, config), "params": state.n_params,
               "world_size": rt.world_size, "precision": state.precision}
    if rt.distributed:  # every process reports its copy of the weights (one write: no interleaving)
        sys.stdout.write(f"rank {rt.rank}: weights sha256 {weights_digest(state.model)}\n")
        sys.stdout.flush()
    if not rt.is_main:
        return summary

    if state.saved_step != state.step:  # first, so that Ctrl-C or a crash in what follows loses no training
        state.save()
    state.phase = "during the final evaluation"
    losses = state.evaluate(config.final_eval_iters)
    state.history["evals"].append((state.step, round(state.train_time, 3), losses["train"], losses["val"],
                                   round(state.cpu_time, 3)))
    summary.update(train=round(losses["train"], 4), val=round(losses["val"], 4))
    state.phase = "while saving the checkpoint"
    state.save(final=summary)
    out.mkdir(parents=True, exist_ok=True)
    state.phase = "while plotting and sampling"
    plot_losses(state.history, out / "loss.png",
                title=f"{state.label or out.name}: {state.n_params / 1e6:.2f}M params, "
                      f"val {losses['val']:.3f} after {state.train_time:.0f} s")
    (out / "history.json").write_text(json.dumps(state.history))
    text_out = ""
    if sample and config.sample_tokens > 0:
        from .sample import generate_text

        text_out = generate_text(state.course, state.model, state.tokenizer, prompt="\n", tokens=config.sample_tokens,
                                 device=rt.device, command="make train")
        (out / "sample.txt").write_text(text_out)
    summary["sample"] = text_out
    (out / "summary.json").write_text(json.dumps({**summary, "config": dataclasses.asdict(config)}, indent=1))
    state.say(f"\nfinal ({config.final_eval_iters} batches): train {losses['train']:.4f}, val {losses['val']:.4f} "
              f"after {state.step} steps, {state.train_time:.1f} s training ({session.wall:.1f} s wall), "
              f"{summary['tokens_per_s']:,} tokens/s")
    if text_out:
        state.say("\n--- sample ---" + text_out + "\n--------------")
    state.say(f"checkpoint {state.ckpt_path}\nloss curves {out / 'loss.png'}\nsample {out / 'sample.txt'}\n"
              f"your GPT in one file {state.model_path}\n"
              f"more text: make sample OUT={out} PROMPT=\"ROMEO:\"")
    return summary


def main(argv=None) -> int:
    ctrl_c_raises()
    args = build_parser().parse_args(argv)
    try:
        source = Source.parse(args.source)
        config = config_from_args(args)  # every setting checked before anything is graded or built
        runtime.pick_device(args.device)
        if args.out:
            checkpoint.check_folder(args.out)
        # a Muon preset needs lesson 13 to pass; until then it trains its AdamW fallback (capstone/optim.py)
        preset, config = optim.choose(args.preset, config, vars(args), source, not args.no_grade)
        out = args.out or default_out(preset, config)
        summary = run(config, source=source, device=args.device, out=out, fresh=args.fresh,
                      check_lessons=not args.no_grade, quiet=args.quiet, label=preset)
        if summary.get("interrupted"):  # Ctrl-C in the loop: saved, and said so; `make train && ...` stops here
            return INTERRUPTED
    except CapstoneError as err:
        return print_error(err)
    except KeyboardInterrupt as err:  # outside run() (grading lesson 13), or run()'s Interrupted
        return print_interrupted(err, "nothing trained yet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
