"""Teach your trained GPT to follow instructions: `make finetune` (see `--help`).

    make train && make finetune               # from runs/cpu-small/ckpt.pt, with your lessons
    make finetune CKPT=runs/cpu-best/ckpt.pt  # another run of make train
    make finetune INIT=gpt2                   # from GPT-2's weights (lesson 11; make gpt2 fetches them)
    make finetune SOURCE=solutions            # the reference lessons

The data set is the course's own (datasets/instructions/): five small tasks whose every answer can
be checked exactly. Lesson 12 gives the prompt template, the batches (collate), the loss and the
reading of answers; lesson 10 the optimizer and the schedule; lesson 09 the model and generate.
The score is exact-match accuracy on the held-out test set, measured before and after.

Output, in runs/finetune/ (or --out): ckpt.pt (`make sample OUT=runs/finetune` reads it), loss.png,
examples.txt, summary.json. The checkpoint is saved once training ends, before the held-out
instructions are answered again; Ctrl-C before that saves nothing, and says so.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import sys
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from autograder.loader import LessonLoadError, load_lesson
from autograder.paths import REPO_ROOT
from autograder.source import Source

from . import assemble, checkpoint, gpt2, precision, runtime, sample
from .errors import CapstoneError, Interrupted, ctrl_c_raises, print_interrupted
from .plot import plot_losses
from .presets import check, check_memory, parse_bool

DATA = REPO_ROOT / "datasets" / "instructions"
LESSON12 = ("format_prompt", "collate", "instruction_loss", "extract_response")
END = "\n"  # every response is one line


@dataclasses.dataclass
class Settings:
    steps: int = 3000
    batch_size: int = 16
    lr: float = 2e-3
    min_lr: float = 2e-4
    warmup: int = 50
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    block_size: int = 128  # characters: every example of the data set fits
    mask_prompt: bool = True
    eval_interval: int = 250  # steps between held-out losses; 0: only at the end
    seed: int = 1337
    threads: int = 0  # torch CPU threads; 0: all cores
    precision: str = "auto"  # the forward pass's matrix products: float32, bfloat16, or auto (measured)


GPT2_SETTINGS = dict(steps=150, batch_size=8, lr=5e-5, min_lr=5e-6, warmup=10, eval_interval=50)


def load_examples(split: str) -> list[dict]:
    path = DATA / f"{split}.jsonl"
    if not path.exists():
        raise CapstoneError(f"{path} is missing: python datasets/instructions/generate.py writes it")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load_lesson12(source: Source):
    try:
        module = load_lesson("12", source=source)
    except (LessonLoadError, LookupError) as err:
        assemble.interrupt_if_ctrl_c(err)
        raise assemble.NotReady(f"cannot load lesson 12 from {source}: {err}") from None
    missing = [name for name in LESSON12 if not hasattr(module, name)]
    if missing:
        raise assemble.NotReady(f"lesson 12 in {source} defines no {', '.join(missing)}")
    return module


# --- where the model starts ---------------------------------------------------------------------

def widen_context(course, model, block_size: int):
    """The same GPT with room for `block_size` positions: the learned position embeddings are kept and
    the new ones start as copies of the last learned one (fine-tuning then teaches them)."""
    old = model.config.block_size
    if block_size <= old:
        return model
    settings = {**dataclasses.asdict(model.config), "block_size": block_size}
    wider = course.GPT(course.GPTConfig(**settings))
    state = model.state_dict()
    wpe = state["wpe.weight"]
    state["wpe.weight"] = torch.cat([wpe, wpe[-1:].expand(block_size - old, -1)])
    wider.load_state_dict(state)
    return wider.to(wpe.device)


def from_checkpoint(course, path: Path, block_size: int, device: str):
    model, tokenizer, record = sample.load_model(course, path, device, command="make finetune")
    check_memory(model.config.n_layer, block_size)  # a wider context makes larger causal masks
    return widen_context(course, model, block_size).to(device), tokenizer, record


def from_gpt2(source: Source, folder: Path | None, device: str):
    folder = gpt2.find_local_weights(folder=folder) if folder else gpt2.download()
    model, _ = gpt2.load_model(source, folder, device)
    return model, assemble.gpt2_tokenizer(), {"gpt2": str(folder)}


# --- data ---------------------------------------------------------------------------------------

def encode(lesson, tokenizer, example: dict) -> tuple[list[int], int]:
    """(token ids of prompt + response + END, number of prompt tokens)."""
    prompt = tokenizer.encode(lesson.format_prompt(example))
    return prompt + tokenizer.encode(example["response"] + END), len(prompt)


def pad_id(tokenizer) -> int:
    return tokenizer.encode(" ")[0]  # any token will do: padded inputs are never attended to, their targets ignored


class BalancedSampler:
    """Batches that draw each task equally often, whatever its number of examples."""

    def __init__(self, encoded: list[tuple[str, tuple[list[int], int]]], seed: int):
        self.by_task: dict[str, list] = {}
        for task, item in encoded:
            self.by_task.setdefault(task, []).append(item)
        self.tasks = sorted(self.by_task)
        self.rng = random.Random(seed)

    def batch(self, size: int) -> list:
        return [self.rng.choice(self.by_task[self.rng.choice(self.tasks)]) for _ in range(size)]


@torch.no_grad()
def answers(model, lesson, tokenizer, examples: list[dict], device: str, max_new: int = 32) -> list[str]:
    """Greedy answers (top_k=1) to each example's prompt; prompts of equal length share one generate call."""
    was_training = model.training
    model.eval()
    out = [""] * len(examples)
    groups: dict[int, list[int]] = {}
    prompts = [tokenizer.encode(lesson.format_prompt(e)) for e in examples]
    for i, ids in enumerate(prompts):
        groups.setdefault(len(ids), []).append(i)
    block = model.config.block_size
    for length, rows in sorted(groups.items()):
        new = min(max_new, block - length) if length < block else 0
        idx = torch.tensor([prompts[i] for i in rows], dtype=torch.long, device=device)
        generated = model.generate(idx, new, top_k=1) if new > 0 else idx
        for i, seq in zip(rows, generated.tolist()):
            out[i] = lesson.extract_response(tokenizer.decode(seq))
    model.train(was_training)
    return out


def score(examples: list[dict], replies: list[str]) -> dict:
    """Exact-match accuracy, overall and per task."""
    by_task: dict[str, list[bool]] = {}
    for example, reply in zip(examples, replies):
        by_task.setdefault(example["task"], []).append(reply == example["response"])
    result = {task: sum(v) / len(v) for task, v in sorted(by_task.items())}
    result["all"] = sum(sum(v) for v in by_task.values()) / max(1, len(examples))
    return result


@torch.no_grad()
def held_out_loss(model, lesson, batches, device: str) -> float:
    was_training = model.training
    model.eval()
    total = 0.0
    for x, y in batches:
        total += float(lesson.instruction_loss(model(x.to(device))[0], y.to(device)))
    model.train(was_training)
    return total / max(1, len(batches))


# --- the run ------------------------------------------------------------------------------------

@dataclasses.dataclass
class Progress:
    """How far a run got, for the one line Ctrl-C ends it with."""
    phase: str = "during start-up"
    step: int = 0
    steps: int = 0
    saved: Path | None = None  # the checkpoint of the fine-tuned model, once written

    def interrupted(self) -> str:
        where = f"interrupted {self.phase}"
        if self.saved is not None:
            return (f"{where}: the checkpoint at {self.saved} holds the fine-tuned model ({self.steps} steps), "
                    f"not yet scored; `make sample OUT={self.saved.parent}` uses it")
        if self.step:
            return (f"{where}: fine-tuning saves when it ends, so nothing was saved (a shorter run: "
                    f"--steps {max(1, self.step)})")
        return f"{where}: nothing fine-tuned yet"


def run(source: Source | str = "lessons", init: str = "checkpoint", ckpt: Path | None = None, gpt2_dir: Path | None = None,
        out: Path | None = None, settings: Settings | None = None, device: str = "auto", quiet: bool = False,
        check_lessons: bool = True, limit_test: int | None = None) -> dict:
    """Fine-tune, score before and after, save; returns the summary. Raises CapstoneError for what the user
    can fix, and Interrupted, saying what was saved, for Ctrl-C."""
    progress = Progress()
    try:
        return fine_tune(progress, source, init, ckpt, gpt2_dir, out, settings, device, quiet, check_lessons,
                         limit_test)
    except KeyboardInterrupt:
        raise Interrupted(progress.interrupted()) from None


def fine_tune(progress: Progress, source, init, ckpt, gpt2_dir, out, settings, device, quiet, check_lessons,
              limit_test) -> dict:
    """run(), recording in `progress` how far it got."""
    settings = settings or Settings()
    check(settings)  # one line per setting that cannot work, before anything is loaded
    if limit_test is not None and limit_test < 1:
        raise CapstoneError(f"--limit-test {limit_test}: must be at least 1")
    source = Source.parse(source)
    device = runtime.pick_device(device)
    if device == "cpu":
        torch.set_num_threads(runtime.cpu_threads(settings.threads, 1))
    out = Path(out or REPO_ROOT / "runs" / ("finetune" if init == "checkpoint" else "finetune-gpt2"))
    checkpoint.check_folder(out)
    progress.steps = settings.steps
    if check_lessons and not source.reference:
        roots = ["12", "10", "09"] + (["11"] if init == "gpt2" else ["01"])
        assemble.require_passing(source, roots=roots, command="make finetune")
    course = assemble.load_course(source)
    lesson = load_lesson12(source)

    if init == "gpt2":
        model, tokenizer, origin = from_gpt2(source, gpt2_dir, device)
    else:
        ckpt = Path(ckpt or REPO_ROOT / "runs" / "cpu-small" / "ckpt.pt")
        if not ckpt.exists():
            raise CapstoneError(f"no trained model at {ckpt}: run `make train` first (about a minute), "
                             f"or give one with CKPT=path/to/ckpt.pt, or start from GPT-2 with INIT=gpt2")
        model, tokenizer, origin = from_checkpoint(course, ckpt, settings.block_size, device)
        origin = {"checkpoint": str(ckpt), "step": origin.get("step"), "val": origin.get("final", {}).get("val")}

    train_examples, test_examples = load_examples("train"), load_examples("test")
    if limit_test:
        test_examples = test_examples[:limit_test]
    try:
        encoded = [(e["task"], encode(lesson, tokenizer, e)) for e in train_examples]
    except KeyError as err:
        raise CapstoneError(f"the model's vocabulary has no {err}: it was not trained on Tiny Shakespeare's "
                         f"characters") from None
    except NotImplementedError as err:
        raise assemble.unfinished(err, "make finetune") from None
    longest = max(len(ids) for _, (ids, _) in encoded)
    if longest > model.config.block_size + 1:
        raise CapstoneError(f"the longest example has {longest} tokens, more than the model's context "
                         f"({model.config.block_size}); raise --block-size")
    pad = pad_id(tokenizer)
    test_batches = [lesson.collate([encode(lesson, tokenizer, e) for e in test_examples[i:i + 64]], pad,
                                   settings.mask_prompt) for i in range(0, len(test_examples), 64)]
    max_new = max(len(tokenizer.encode(e["response"] + END)) for e in train_examples) + 4
    say = (lambda *a, **k: None) if quiet else print

    n_params = sum(p.numel() for p in model.parameters())
    say(f"fine-tuning {n_params / 1e6:.2f}M parameters ({tokenizer.kind} tokens, context "
        f"{model.config.block_size}) from {origin}; {len(train_examples)} training examples, "
        f"{len(test_examples)} held-out; device {device}, {torch.get_num_threads()} threads")
    t0 = time.perf_counter()
    progress.phase = "while answering the held-out instructions before fine-tuning"
    before_replies = answers(model, lesson, tokenizer, test_examples, device, max_new)
    before = score(test_examples, before_replies)
    eval_seconds = time.perf_counter() - t0
    say(f"held-out exact match before fine-tuning: {before['all']:.1%} ({eval_seconds:.0f} s to answer "
        f"{len(test_examples)} instructions)")

    torch.manual_seed(settings.seed)
    optimizer = course.configure_optimizer(model, settings.lr, settings.weight_decay, (0.9, 0.99))
    sampler = BalancedSampler(encoded, settings.seed)
    history = {"steps": [], "evals": [(0, 0.0, float("nan"), held_out_loss(model, lesson, test_batches, device))]}
    train_time = 0.0
    x, y = lesson.collate(BalancedSampler(encoded, settings.seed).batch(settings.batch_size), pad, settings.mask_prompt)
    precise, why = precision.choose(settings.precision, device, lambda: precision.measure_step(
        model, lambda: lesson.instruction_loss(model(x.to(device))[0], y.to(device)), device.split(":")[0]))
    say(precision.describe(precise, why))
    model.train()
    every = settings.eval_interval or settings.steps  # 0: the held-out loss only at the end
    bar = tqdm(range(settings.steps), disable=quiet, dynamic_ncols=True, unit="step")
    for step in bar:
        progress.phase, progress.step = f"at step {step + 1} of {settings.steps}", step + 1
        t = time.perf_counter()
        lr = course.lr_at(step, settings.lr, settings.min_lr, settings.warmup, settings.steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = lesson.collate(sampler.batch(settings.batch_size), pad, settings.mask_prompt)
        x, y = x.to(device), y.to(device)
        with precision.autocast(device.split(":")[0], precise):
            logits = model(x)[0]
        loss = lesson.instruction_loss(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if settings.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        optimizer.step()
        value = loss.item()
        train_time += time.perf_counter() - t
        if value != value:  # NaN
            raise CapstoneError(f"fine-tuning stopped: the loss became nan at step {step + 1} (lr {lr:.2g})")
        history["steps"].append((step + 1, round(train_time, 4), round(value, 5)))
        if step % 10 == 0:
            bar.set_postfix(loss=f"{value:.3f}", lr=f"{lr:.1e}")
        if (step + 1) % every == 0 or step + 1 == settings.steps:
            val = held_out_loss(model, lesson, test_batches, device)
            recent = [s[2] for s in history["steps"][-every:]]
            history["evals"].append((step + 1, round(train_time, 3), sum(recent) / len(recent), val))
            bar.write(f"step {step + 1}: loss {sum(recent) / len(recent):.4f} (last {len(recent)} batches), "
                      f"held-out {val:.4f} ({train_time:.0f} s)")
    bar.close()

    # saved first, so that Ctrl-C or a crash while answering loses no training; saved again with the scores
    summary = {"source": str(source), "init": origin, "settings": dataclasses.asdict(settings),
               "train_seconds": round(train_time, 1), "precision": precise, "accuracy_before": before,
               "params": n_params}
    record = {"model_config": dataclasses.asdict(model.config), "tokenizer": tokenizer.identity,
              "source": str(source), "step": settings.steps, "finetune": summary, "history": history}
    progress.phase = "while saving the checkpoint"
    checkpoint.save(course, out / "ckpt.pt", model, optimizer, settings.steps, model.config, record)
    progress.saved, progress.phase = out / "ckpt.pt", "while answering the held-out instructions after fine-tuning"

    t0 = time.perf_counter()
    after_replies = answers(model, lesson, tokenizer, test_examples, device, max_new)
    after = score(test_examples, after_replies)
    eval_seconds += time.perf_counter() - t0

    summary.update(answer_seconds=round(eval_seconds, 1), accuracy_after=after)
    progress.phase = "while saving the checkpoint with its scores"
    checkpoint.save(course, out / "ckpt.pt", model, optimizer, settings.steps, model.config, record)
    progress.phase = "while writing the report"
    plot_losses(history, out / "loss.png", title=f"instruction fine-tuning: held-out exact match "
                                                  f"{before['all']:.0%} -> {after['all']:.0%}")
    lines = []
    shown: dict[str, int] = {}
    for example, b, a in zip(test_examples, before_replies, after_replies):
        if shown.get(example["task"], 0) < 2:
            shown[example["task"]] = shown.get(example["task"], 0) + 1
            lines.append(lesson.format_prompt(example) + f"\n   expected: {example['response']!r}\n"
                         f"   before:   {b!r}\n   after:    {a!r} {'(right)' if a == example['response'] else ''}\n")
    (out / "examples.txt").write_text("\n".join(lines))
    (out / "summary.json").write_text(json.dumps(summary, indent=1))

    say("\nheld-out exact match, before -> after fine-tuning:")
    for task in after:
        n = sum(e["task"] == task for e in test_examples) if task != "all" else len(test_examples)
        say(f"  {task:9s} {before[task]:6.1%} -> {after[task]:6.1%}   ({n} instructions)")
    say(f"fine-tuning took {train_time:.0f} s ({settings.steps} steps of {settings.batch_size}); answering "
        f"the held-out instructions twice {eval_seconds:.0f} s\n\nexamples:\n" + "\n".join(lines[::2]))
    say(f"checkpoint {out / 'ckpt.pt'}\nloss curves {out / 'loss.png'}\nall examples {out / 'examples.txt'}")
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m capstone.finetune", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="lessons", help="lessons (yours, default), solutions, or a folder")
    parser.add_argument("--init", default="checkpoint", choices=["checkpoint", "gpt2"],
                        help="start from a make-train checkpoint (default) or from GPT-2's weights")
    parser.add_argument("--ckpt", type=Path, help="the checkpoint to start from (default runs/cpu-small/ckpt.pt)")
    parser.add_argument("--gpt2-dir", type=Path, help="with --init gpt2: a folder with model.safetensors and "
                        "config.json (default: $GPT2_DIR, else the Hugging Face cache or a download)")
    parser.add_argument("--out", type=Path, help="output folder (default runs/finetune or runs/finetune-gpt2)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--no-grade", action="store_true", help="skip checking that the lessons pass")
    parser.add_argument("--limit-test", type=int, help="answer only the first N held-out instructions")
    group = parser.add_argument_group("settings")
    defaults = Settings()
    for field in dataclasses.fields(Settings):
        kind = type(getattr(defaults, field.name))
        group.add_argument("--" + field.name.replace("_", "-"), dest=field.name, default=None,
                           type=parse_bool if kind is bool else kind, metavar=kind.__name__.upper())
    ctrl_c_raises()
    args = parser.parse_args(argv)
    base = dataclasses.asdict(defaults) | (GPT2_SETTINGS if args.init == "gpt2" else {})
    settings = Settings(**{k: (getattr(args, k) if getattr(args, k) is not None else v) for k, v in base.items()})
    gpt2_dir = args.gpt2_dir or (Path(os.environ["GPT2_DIR"]) if os.environ.get("GPT2_DIR") else None)
    try:
        run(args.source, args.init, args.ckpt, gpt2_dir, args.out, settings, args.device, args.quiet,
            not args.no_grade, args.limit_test)
    except CapstoneError as err:
        print(f"make finetune: {err}", file=sys.stderr)
        return 1
    except NotImplementedError as err:  # lesson code still a stub (with --no-grade, or a lesson not graded)
        print(f"make finetune: {assemble.unfinished(err, 'make finetune')}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:
        return print_interrupted(err, "nothing fine-tuned yet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
