"""GPT-2's published weights in the GPT your lessons define: `make gpt2` (see `--help`).

    make gpt2 PROMPT="Hello, I'm a language model,"    # downloads the 124M weights once (548 MB)
    make gpt2 GPT2_DIR=/path/to/folder                 # a folder holding model.safetensors and config.json
    make gpt2 SOURCE=solutions                         # the reference lessons instead of yours

The files come from the Hugging Face Hub (openai-community/gpt2) through huggingface_hub, which
keeps them in its cache (~/.cache/huggingface, or $HF_HOME) and writes each download under a
temporary name that becomes the file only once complete, so an interrupted download never leaves a
half-written file. Each file is then checked against its published size and SHA-256. Lesson 11's
gpt2_from_checkpoint builds and loads the model, lesson 09's generate continues the prompt, and
tiktoken's GPT-2 encoding (lesson 02) turns text into tokens and back.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import torch

from autograder.loader import LessonLoadError, load_lesson
from autograder.source import Source

from . import assemble, runtime
from .errors import CapstoneError, ctrl_c_raises, print_interrupted

MODELS = {  # --model: the Hub repository of each published size
    "gpt2": "openai-community/gpt2",
    "gpt2-medium": "openai-community/gpt2-medium",
    "gpt2-large": "openai-community/gpt2-large",
    "gpt2-xl": "openai-community/gpt2-xl",
}
FILES = ("config.json", "model.safetensors")
# Published size and SHA-256 of the 124M files (the Hub's LFS record of openai-community/gpt2).
# Other sizes are checked against the SHA-256 the Hub reports for them (the name of the cached blob).
PINNED = {
    ("openai-community/gpt2", "config.json"): (665, "0daed7749b4f02b8f76240d5444551d7b08712dab4d0adb8239c56ba823bb7b4"),
    ("openai-community/gpt2", "model.safetensors"):
        (548_105_171, "248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707"),
}
WHAT_TO_DO = ("connect to the internet and run it again, or put GPT-2's model.safetensors and config.json "
              "in a folder and run: make gpt2 GPT2_DIR=/path/to/folder")


class WeightsError(CapstoneError):
    """The weights cannot be had or used; the message says why and what to do, in one line."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _blob_sha(path: Path) -> str | None:
    """The SHA-256 the Hub gave a cached LFS file: the name of the blob its snapshot entry points to."""
    name = Path(os.path.realpath(path)).name
    return name if len(name) == 64 and all(c in "0123456789abcdef" for c in name) else None


def verify(path: Path, repo_id: str, filename: str) -> None:
    """Raise WeightsError (and delete the cached copy) unless the file has its published size and SHA-256."""
    size, sha = PINNED.get((repo_id, filename), (None, _blob_sha(path)))
    problem = ""
    if size is not None and path.stat().st_size != size:
        problem = f"{path.stat().st_size:,} bytes instead of {size:,}"
    elif sha is not None and sha256_of(path) != sha:
        problem = "its SHA-256 differs from the published one"
    if problem:
        real = Path(os.path.realpath(path))
        path.unlink(missing_ok=True)
        real.unlink(missing_ok=True)
        raise WeightsError(f"the downloaded {filename} is damaged ({problem}) and was deleted: run `make gpt2` again")


def download(model: str = "gpt2", revision: str | None = None) -> Path:
    """The folder holding the checked config.json and model.safetensors of `model`, downloaded if needed."""
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    repo_id = MODELS[model]
    try:  # already in the cache: no network at all
        paths = [Path(hf_hub_download(repo_id, f, revision=revision, local_files_only=True)) for f in FILES]
    except Exception:  # noqa: BLE001 - not cached (or only partly)
        paths = None
    if paths is None:
        if constants.HF_HUB_OFFLINE:
            raise WeightsError(f"{repo_id} is not in the Hugging Face cache and HF_HUB_OFFLINE is set: "
                               f"unset it and {WHAT_TO_DO}")
        try:  # one quick request first: offline, say so at once instead of after minutes of retries
            get_hf_file_metadata(hf_hub_url(repo_id, FILES[0], revision=revision), timeout=10)
        except (RepositoryNotFoundError, RevisionNotFoundError, GatedRepoError) as err:
            raise WeightsError(f"{repo_id} (revision {revision or 'main'}) cannot be read: {_first_line(err)}") from None
        except Exception as err:  # noqa: BLE001 - connection refused, DNS, proxy, timeout, TLS...
            raise WeightsError(f"cannot reach the Hugging Face Hub to download GPT-2 ({type(err).__name__}): "
                               f"{WHAT_TO_DO}") from None
        try:
            paths = [Path(hf_hub_download(repo_id, f, revision=revision)) for f in FILES]
        except Exception as err:  # noqa: BLE001 - the connection broke during the download
            raise WeightsError(f"the download of {repo_id} failed ({type(err).__name__}: {_first_line(err)}); "
                               f"nothing half-written was kept: run `make gpt2` again, or {WHAT_TO_DO[:1].lower()}"
                               f"{WHAT_TO_DO[1:]}") from None
    for filename, path in zip(FILES, paths):
        verify(path, repo_id, filename)
    return paths[-1].parent


def find_local_weights(model: str = "gpt2", folder: str | os.PathLike | None = None) -> Path:
    """A folder with the weights already on this machine (GPT2_DIR, or the Hub cache); never downloads."""
    if folder is not None:
        folder = Path(folder)
        missing = [f for f in FILES if not (folder / f).is_file()]
        if missing:
            raise FileNotFoundError(f"{folder} has no {' or '.join(missing)}")
        return folder
    from huggingface_hub import hf_hub_download

    try:
        paths = [Path(hf_hub_download(MODELS[model], f, local_files_only=True)) for f in FILES]
    except Exception:  # noqa: BLE001 - not in the cache, whatever the reason
        raise FileNotFoundError(f"{MODELS[model]} is not in the Hugging Face cache") from None
    return paths[-1].parent


def read_weights(folder: str | os.PathLike) -> tuple[dict, dict]:
    """(config.json as a dict, {name: tensor}) from a folder in the published layout."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    try:
        hf_config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as err:
        raise WeightsError(f"{folder / 'config.json'} cannot be read ({_first_line(err)})") from None
    try:
        state = load_file(folder / "model.safetensors")
    except (SafetensorError, OSError) as err:
        raise WeightsError(f"{folder / 'model.safetensors'} is not a complete safetensors file "
                           f"({_first_line(err)}): delete it and download it again") from None
    return hf_config, state


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines() or [type(err).__name__])[0][:160]


def load_model(source: Source | str, folder: Path, device: str = "cpu"):
    """GPT-2 in lesson 09's GPT, built and loaded by lesson 11's gpt2_from_checkpoint from `source`."""
    try:
        lesson = load_lesson("11", source=source)
    except (LessonLoadError, LookupError) as err:
        assemble.interrupt_if_ctrl_c(err)
        raise assemble.NotReady(f"cannot load lesson 11 from {source}: {err}") from None
    hf_config, state = read_weights(folder)
    try:
        model = lesson.gpt2_from_checkpoint(hf_config, state)
    except NotImplementedError as err:
        raise assemble.unfinished(err, "make gpt2") from None
    except ValueError as err:
        raise WeightsError(f"{folder} does not fit your GPT: {_first_line(err)}") from None
    return model.to(device), hf_config


def continue_text(model, prompt: str, tokens: int = 50, temperature: float = 0.8, top_k: int | None = 40,
                  seed: int = 0, device: str = "cpu") -> str:
    """The prompt followed by `tokens` tokens sampled with lesson 09's generate, GPT-2's BPE in and out."""
    tokenizer = assemble.gpt2_tokenizer()
    ids = tokenizer.encode(prompt) or tokenizer.encode("<|endoftext|>")
    idx = torch.tensor([ids], dtype=torch.long, device=device)
    generator = torch.Generator(device=device).manual_seed(seed)
    try:
        with torch.no_grad():
            out = model.generate(idx, tokens, temperature=temperature, top_k=top_k or None, generator=generator)
    except NotImplementedError as err:
        raise assemble.unfinished(err, "make gpt2") from None
    return tokenizer.decode(out[0].tolist())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m capstone.gpt2", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="lessons", help="lessons (yours, default), solutions, or a folder")
    parser.add_argument("--model", default="gpt2", choices=list(MODELS), help="which published size (default 124M)")
    parser.add_argument("--dir", type=Path, default=os.environ.get("GPT2_DIR") or None,
                        help="a folder with model.safetensors and config.json (no download); also $GPT2_DIR")
    parser.add_argument("--revision", help="a commit of the Hub repository (default: main)")
    parser.add_argument("--prompt", default="Hello, I'm a language model,")
    parser.add_argument("--tokens", type=int, default=50, help="how many tokens to generate")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-k", type=int, default=40, help="sample among the k likeliest tokens (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-grade", action="store_true", help="skip checking that the lessons pass")
    ctrl_c_raises()
    args = parser.parse_args(argv)
    if args.temperature <= 0:
        parser.error("--temperature must be > 0")
    try:
        source = Source.parse(args.source)
        if not args.no_grade and not source.reference:
            assemble.require_passing(source, roots=["11"], command="make gpt2")
        folder = find_local_weights(folder=args.dir) if args.dir else download(args.model, args.revision)
        device = runtime.pick_device(args.device)
        model, hf_config = load_model(source, folder, device)
        print(f"# GPT-2 from {folder} ({hf_config.get('n_layer', 12)} layers x {hf_config.get('n_embd', 768)}, "
              f"{sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters) in the GPT of "
              f"{args.source}, on {device}", file=sys.stderr)
        text = continue_text(model, args.prompt, args.tokens, args.temperature, args.top_k, args.seed, device)
    except (FileNotFoundError, CapstoneError) as err:  # WeightsError, NotReady: one message, no traceback
        print(f"make gpt2: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:  # a download in progress is kept only once whole (see above)
        return print_interrupted(err, "no half-downloaded file was kept; `make gpt2` again continues")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
