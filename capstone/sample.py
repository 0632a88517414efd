"""Generate text from a trained checkpoint without retraining: `make sample` (see `--help`).

    make sample                                   # the most recent run in runs/
    make sample OUT=runs/cpu-best PROMPT="ROMEO:" TOKENS=800 TEMPERATURE=0.8 TOP_K=40

The model is lesson 09's GPT (from --source, default your lessons), rebuilt from the configuration
and vocabulary saved in the checkpoint; generate() is yours too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from autograder.source import Source
from autograder.paths import REPO_ROOT

from . import assemble, checkpoint, runtime
from .errors import CapstoneError, ctrl_c_raises, print_error, print_interrupted


def generate_text(course, model, tokenizer, prompt: str = "\n", tokens: int = 500, temperature: float = 0.8,
                  top_k: int | None = 200, seed: int = 0, device: str = "cpu", command: str = "make sample") -> str:
    """The prompt followed by `tokens` generated tokens, decoded. command: who asks, for the message
    naming an unfinished lesson task."""
    try:
        ids = tokenizer.encode(prompt or "\n")
    except KeyError as err:
        raise CapstoneError(f"the prompt has a character the model never saw in training: {err}") from None
    if not ids:
        raise CapstoneError(f"the prompt {prompt!r} encodes to no tokens")
    idx = torch.tensor([ids], dtype=torch.long, device=device)
    generator = torch.Generator(device=device).manual_seed(seed)
    if top_k is not None and top_k <= 0:
        top_k = None
    if top_k is not None:
        top_k = min(top_k, tokenizer.vocab_size)  # asking for more candidates than the vocabulary has
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model.generate(idx, tokens, temperature=temperature, top_k=top_k, generator=generator)
    except NotImplementedError as err:
        raise assemble.unfinished(err, command) from None
    finally:
        model.train(was_training)
    return tokenizer.decode(out[0].tolist())


def latest_run() -> Path:
    found = sorted((REPO_ROOT / "runs").glob("*/ckpt.pt"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise CapstoneError("no checkpoint in runs/: train one first with `make train`")
    return found[-1].parent


def source_for(ckpt_path: Path, requested: str | None) -> Source:
    """The lessons to rebuild a checkpoint's model from: as asked, else those it was trained with."""
    if requested:
        source = Source.parse(requested)
        if not source.root.is_dir():
            raise CapstoneError(f"--source {requested}: there is no folder {source.root} (use lessons, "
                                f"solutions, or a folder of lesson folders)")
        return source
    source = Source.parse(checkpoint.read_record(ckpt_path).get("source", "lessons"))
    if not source.root.is_dir():
        source = Source.parse("lessons")  # trained from a folder that is gone
    return source


def checkpoint_path(out: Path | None, ckpt: Path | None) -> Path:
    """The checkpoint --ckpt or --out names (a run folder; by default the latest run)."""
    if ckpt is not None:
        return ckpt
    if out is not None and out.is_file():
        raise CapstoneError(f"--out {out} is a file, not a run folder: give its folder ({out.parent}), "
                            f"or the file with --ckpt {out}")
    return (out or latest_run()) / "ckpt.pt"


def load_model(course, ckpt_path: Path, device: str, command: str = "make sample"):
    """Rebuild the GPT and tokenizer a checkpoint was trained with, and load its weights.

    command: who asks, for the message naming a lesson task that is still a stub."""
    record = checkpoint.read_record(ckpt_path)
    try:  # lesson 01's tables, 09's GPT and 10's load_checkpoint: any may still be a stub
        tokenizer = assemble.make_tokenizer(course, record["tokenizer"]["kind"], identity=record["tokenizer"])
        if tokenizer.identity != record["tokenizer"]:
            raise checkpoint.CheckpointError(f"{ckpt_path} was trained with a vocabulary this machine does not "
                                             f"have: {record['tokenizer'].get('kind')}")
        settings = {k: v for k, v in record["model_config"].items()}
        settings["dropout"] = 0.0
        model = course.GPT(course.GPTConfig(**settings))
        checkpoint.load(course, ckpt_path, model)
    except NotImplementedError as err:
        raise assemble.unfinished(err, command) from None
    return model.to(device), tokenizer, record


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m capstone.sample", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="run folder holding ckpt.pt (default: the most recent in runs/)")
    parser.add_argument("--ckpt", type=Path, help="a checkpoint file (instead of --out)")
    parser.add_argument("--source", help="lessons, solutions, or a folder of lessons "
                        "(default: the one the checkpoint was trained with)")
    parser.add_argument("--prompt", default="\n", help="text to continue (default: a new line)")
    parser.add_argument("--tokens", type=int, default=500, help="how many tokens to generate")
    parser.add_argument("--temperature", type=float, default=0.8, help="<1: safer, >1: wilder")
    parser.add_argument("--top-k", type=int, default=200, help="sample among the k likeliest tokens (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    ctrl_c_raises()
    args = parser.parse_args(argv)
    if args.temperature <= 0:
        parser.error("--temperature must be > 0")
    if args.tokens < 0:
        parser.error("--tokens must be 0 or more")

    try:
        ckpt_path = checkpoint_path(args.out, args.ckpt)
        device = runtime.pick_device(args.device)
        course = assemble.load_course(source_for(ckpt_path, args.source))
        model, tokenizer, record = load_model(course, ckpt_path, device)
        prompt = args.prompt.encode().decode("unicode_escape") if "\\n" in args.prompt else args.prompt
        print(f"# {ckpt_path}: step {record['step']}, val {record.get('final', {}).get('val', float('nan')):.4f}",
              file=sys.stderr)
        text = generate_text(course, model, tokenizer, prompt, args.tokens, args.temperature, args.top_k,
                             args.seed, device)
    except CapstoneError as err:
        return print_error(err)
    except KeyboardInterrupt as err:
        return print_interrupted(err, "nothing was written (make sample only prints)")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
