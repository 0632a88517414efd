"""Train the GPT your lessons define on Tiny Shakespeare: `make train` (see `--help`).

    make train                                  # your notebooks (SOURCE=lessons), preset cpu-small
    make train SOURCE=solutions PRESET=cpu-best # the reference, 15 minutes
    make train ARGS="--max-iters 300 --lr 3e-3" # change single settings of the preset
    torchrun --nproc_per_node=2 -m capstone.train --preset cpu-small   # data-parallel

Every building block comes from a lesson: the vocabulary and encode/decode (01), train_val_split and
get_batch (03), estimate_loss (05), GPTConfig and GPT with generate (09), lr_at,
configure_optimizer, train_step, save_checkpoint and load_checkpoint (10). This file only wires them
together, adds the progress bar, plots and samples, and makes the run safe to interrupt.

Output, in runs/<preset>/ (or --out): ckpt.pt, loss.png, sample.txt, summary.json. Running again
with the same folder resumes from ckpt.pt; Ctrl-C saves a checkpoint first (press twice to quit
without saving).
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
from pathlib import Path

import torch
from tqdm.auto import tqdm

from autograder.paths import REPO_ROOT

from . import assemble, checkpoint, runtime
from .plot import plot_losses
from .presets import DEFAULT_PRESET, PRESETS, TrainConfig, describe_presets, field_names, get_preset, with_overrides

SCHEDULE_RESOLUTION = 10_000  # virtual steps of a time-budget cosine: lr_at sees time as steps


# --- command line -----------------------------------------------------------------------------------

def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


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
                           type=_bool if kind is bool else kind, metavar=kind.__name__.upper())
    return parser


def config_from_args(args) -> TrainConfig:
    return with_overrides(get_preset(args.preset), **{name: getattr(args, name) for name in field_names()})


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


def model_config_dict(gpt_config) -> dict:
    return dataclasses.asdict(gpt_config) if dataclasses.is_dataclass(gpt_config) else dict(vars(gpt_config))


# --- the run ----------------------------------------------------------------------------------------

def run(config: TrainConfig, *, source: str = "lessons", device: str = "auto", out: Path,
        fresh: bool = False, check_lessons: bool = True, quiet: bool = False, save_during: bool = True,
        sample: bool = True, label: str = "", val_iters: int | None = None) -> dict:
    """Train (or resume) one run; returns its summary (also written to out/summary.json on rank 0).

    val_iters: batches of the val estimate at each interval, if not config.eval_iters (the benchmark
    uses 200 for val and a cheap train estimate)."""
    rt = runtime.start(device)
    try:
        return _run(rt, config, source=source, out=Path(out), fresh=fresh, check_lessons=check_lessons,
                    quiet=quiet, save_during=save_during, sample=sample, label=label, val_iters=val_iters)
    finally:
        rt.close()


def _run(rt, config, *, source, out, fresh, check_lessons, quiet, save_during, sample, label, val_iters) -> dict:
    say = print if rt.is_main else (lambda *a, **k: None)
    if rt.device == "cpu":
        torch.set_num_threads(runtime.cpu_threads(config.threads, rt.world_size))

    # 1. the lessons must pass before their code trains anything
    if check_lessons and str(source) != "solutions":
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
    record = None
    if ckpt_path.exists() and not fresh:
        record = checkpoint.read_record(ckpt_path)
    text = assemble.shakespeare()
    tokenizer = assemble.make_tokenizer(course, config.tokenizer, text)
    data = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    train_data, val_data = course.train_val_split(data, 0.9)

    # 3. model (lesson 09) and optimizer (lesson 10)
    try:
        gpt_config = course.GPTConfig(
            block_size=config.block_size, vocab_size=tokenizer.vocab_size, n_layer=config.n_layer,
            n_head=config.n_head, n_embd=config.n_embd, dropout=config.dropout, bias=config.bias,
            flash=config.flash, tie_weights=config.tie_weights)
    except TypeError as err:
        raise assemble.NotReady(f"lesson 09's GPTConfig does not take the fields the capstone needs: {err}") from None
    torch.manual_seed(config.seed)  # same seed on every process: identical initial weights
    model = course.GPT(gpt_config).to(rt.device)
    optimizer = course.configure_optimizer(model, config.lr, config.weight_decay, (config.beta1, config.beta2))
    use_multi_tensor_adamw(optimizer)

    # train_time: wall-clock seconds spent in training steps (evaluation and saving excluded);
    # cpu_time: this process's CPU seconds per thread in them (what a busy, shared machine actually gave us)
    step, train_time, cpu_time, warmup_end_time = 0, 0.0, 0.0, None
    history = {"steps": [], "evals": []}
    if record is not None:
        checkpoint.check_compatible(ckpt_path, record, model_config_dict(gpt_config), tokenizer.identity)
        saved = checkpoint.load(course, ckpt_path, model, optimizer)
        step, train_time = int(saved.get("step", record["step"])), record["train_time"]
        cpu_time = record.get("cpu_time", train_time)
        warmup_end_time, history = record.get("warmup_end_time"), record["history"]
        if finished(config, step, cpu_time if config.clock == "cpu" else train_time):
            say(f"{ckpt_path} already holds a finished run ({step} steps, final val "
                f"{record.get('final', {}).get('val', float('nan')):.4f}).\n"
                f"`make sample` generates from it; --fresh (make train FRESH=1) trains again from scratch; "
                f"a larger --max-iters continues training.")
            return record.get("final", {})
        say(f"resuming {ckpt_path} at step {step} ({train_time:.0f} s trained)")

    raw_model = model
    if rt.distributed:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(model, device_ids=[rt.local_rank] if rt.device.startswith("cuda") else None)

    # each process draws its own batches; a resumed run continues with fresh, reproducible draws
    batch_gen = torch.Generator().manual_seed(config.seed * 1_000_003 + rt.rank * 7_919 + step)
    torch.manual_seed(config.seed + rt.rank + step)  # dropout

    def evaluate(iters: int, val_iters: int | None = None) -> dict[str, float]:
        # the same batches at every evaluation (fixed seed): curves show the model changing, not the sample
        gens = {split: torch.Generator().manual_seed(config.seed + i) for i, split in enumerate(("train", "val"))}
        fns = {split: (lambda d=d, g=gens[split]: course.get_batch(d, config.block_size, config.batch_size,
                                                                   generator=g, device=rt.device))
               for split, d in (("train", train_data), ("val", val_data))}
        if val_iters is None or val_iters == iters:
            losses = course.estimate_loss(raw_model, fns, iters)
        else:
            losses = {**course.estimate_loss(raw_model, {"train": fns["train"]}, iters),
                      **course.estimate_loss(raw_model, {"val": fns["val"]}, val_iters)}
        return {k: float(v) for k, v in losses.items()}

    def save(final=None):
        if not rt.is_main:
            return
        rec = {"model_config": model_config_dict(gpt_config), "tokenizer": tokenizer.identity,
               "train_config": dataclasses.asdict(config), "source": str(source), "step": step,
               "train_time": train_time, "cpu_time": cpu_time, "warmup_end_time": warmup_end_time, "history": history}
        if final is not None:
            rec["final"] = final
        checkpoint.save(course, ckpt_path, raw_model, optimizer, step, gpt_config, rec)

    tokens_per_step = config.batch_size * config.block_size * rt.world_size
    n_params = sum(p.numel() for p in raw_model.parameters())
    say(f"{label or 'training'}: {n_params / 1e6:.2f}M parameters, {tokenizer.kind} tokens (vocab "
        f"{tokenizer.vocab_size}), {len(train_data):,} train / {len(val_data):,} val tokens, device {rt.device}"
        + (f" x {rt.world_size} processes" if rt.distributed else "")
        + f", {torch.get_num_threads()} threads; writing to {out}")

    if step == 0 and rt.is_main and config.eval_interval > 0:
        losses = evaluate(config.eval_iters, val_iters)
        history["evals"].append((0, 0.0, losses["train"], losses["val"], 0.0))
        say(f"step 0: train {losses['train']:.4f}, val {losses['val']:.4f}")

    wall_start = time.perf_counter()
    by_time = config.time_budget > 0

    def budget_clock() -> float:
        return cpu_time if config.clock == "cpu" else train_time

    bar = tqdm(total=config.time_budget if by_time else config.max_iters, initial=budget_clock() if by_time else step,
               unit="s" if by_time else "step", disable=quiet or not rt.is_main, dynamic_ncols=True,
               bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} {unit} [{elapsed}<{remaining}{postfix}]"
               if by_time else None)
    interrupted, session_steps, session_time = False, 0, 0.0
    with StopRequest() as stop:
        while not finished(config, step, budget_clock()):
            t0, c0, before = time.perf_counter(), time.process_time(), budget_clock()
            lr = learning_rate(course, config, step, budget_clock(), warmup_end_time)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x, y = course.get_batch(train_data, config.block_size, config.batch_size, generator=batch_gen,
                                    device=rt.device)
            loss = float(course.train_step(model, optimizer, x, y, config.grad_clip))
            dt = time.perf_counter() - t0
            cpu_dt = (time.process_time() - c0) / torch.get_num_threads()
            # every process must take the same decisions: stop, NaN, and the clocks (slowest process)
            stop_now, bad, clock, cpu_clock = rt.agree([float(stop.requested), float(not math.isfinite(loss)),
                                                        train_time + dt, cpu_time + cpu_dt])
            step, dt, train_time, cpu_time = step + 1, clock - train_time, clock, cpu_clock
            session_steps, session_time = session_steps + 1, session_time + dt
            if bad:
                bar.close()
                kept = f"; the last good checkpoint is {ckpt_path}" if ckpt_path.exists() else ""
                raise SystemExit(f"training stopped: the loss became {loss} at step {step} (lr {lr:.3g}). "
                                 f"Lower --lr or check your lesson code{kept}.")
            if warmup_end_time is None and step >= config.warmup_iters:
                warmup_end_time = budget_clock()
            history["steps"].append((step, round(train_time, 4), round(loss, 5)))
            bar.update(budget_clock() - before if by_time else 1)
            if step % 10 == 0 or step == 1:
                bar.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.2e}",
                                tok_s=f"{tokens_per_step * session_steps / max(session_time, 1e-9):,.0f}")
            if stop_now:
                interrupted = True
                break
            if config.eval_interval > 0 and step % config.eval_interval == 0 and not finished(config, step,
                                                                                              budget_clock()):
                if rt.is_main:
                    losses = evaluate(config.eval_iters, val_iters)
                    history["evals"].append((step, round(train_time, 3), losses["train"], losses["val"],
                                             round(cpu_time, 3)))
                    bar.write(f"step {step}: train {losses['train']:.4f}, val {losses['val']:.4f} "
                              f"({train_time:.1f} s)")
                    if save_during:
                        save()
    bar.close()
    wall = time.perf_counter() - wall_start

    if interrupted:
        save()
        say(f"\ninterrupted at step {step}: checkpoint saved to {ckpt_path}. Run the same command again to resume.")
        return {"interrupted": True, "step": step}

    summary = {"label": label, "step": step, "train_time": round(train_time, 2), "wall_time": round(wall, 2),
               "cpu_time": round(cpu_time, 2),
               "tokens_per_s": round(tokens_per_step * session_steps / max(session_time, 1e-9)),
               "flops_per_token": flops_per_token(raw_model, config), "params": n_params,
               "world_size": rt.world_size}
    if rt.distributed:  # every process reports its copy of the weights: DDP keeps them identical
        sys.stdout.write(f"rank {rt.rank}: weights sha256 {weights_digest(raw_model)}\n")  # one write: no interleaving
        sys.stdout.flush()
    if not rt.is_main:
        return summary

    losses = evaluate(config.final_eval_iters)
    history["evals"].append((step, round(train_time, 3), losses["train"], losses["val"], round(cpu_time, 3)))
    summary.update(train=round(losses["train"], 4), val=round(losses["val"], 4))
    save(final=summary)
    out.mkdir(parents=True, exist_ok=True)
    plot_losses(history, out / "loss.png", title=f"{label or out.name}: {n_params / 1e6:.2f}M params, "
                                                 f"val {losses['val']:.3f} after {train_time:.0f} s")
    (out / "history.json").write_text(json.dumps(history))
    text_out = ""
    if sample and config.sample_tokens > 0:
        from .sample import generate_text

        text_out = generate_text(course, raw_model, tokenizer, prompt="\n", tokens=config.sample_tokens,
                                 device=rt.device)
        (out / "sample.txt").write_text(text_out)
    summary["sample"] = text_out
    (out / "summary.json").write_text(json.dumps({**summary, "config": dataclasses.asdict(config)}, indent=1))
    say(f"\nfinal ({config.final_eval_iters} batches): train {losses['train']:.4f}, val {losses['val']:.4f} "
        f"after {step} steps, {train_time:.1f} s training ({wall:.1f} s wall), "
        f"{summary['tokens_per_s']:,} tokens/s")
    if text_out:
        say("\n--- sample ---" + text_out + "\n--------------")
    say(f"checkpoint {ckpt_path}\nloss curves {out / 'loss.png'}\nsample {out / 'sample.txt'}\n"
        f"more text: make sample OUT={out} PROMPT=\"ROMEO:\"")
    return summary


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    out = args.out or default_out(args.preset, config)
    run(config, source=args.source, device=args.device, out=out, fresh=args.fresh,
        check_lessons=not args.no_grade, quiet=args.quiet, label=args.preset)
    return 0


if __name__ == "__main__":
    sys.exit(main())
