"""Safe checkpoints around lesson 10's save_checkpoint / load_checkpoint.

- Saving writes to a temporary file next to the checkpoint and renames it over the old one only
  when the write finished: a full disk, a crash or a second Ctrl-C mid-save leave the previous
  checkpoint as it was.
- Loading first reads the capstone's own record in the file (model config, vocabulary) and refuses
  a checkpoint that belongs to another model or another vocabulary, or that is not readable, with a
  message saying what differs, instead of resuming something silently wrong.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch

from .errors import CapstoneError

FORMAT = 1  # version of the "capstone" record below


class CheckpointError(CapstoneError):
    """A checkpoint that cannot be used; the message says why and what to do."""


def save(course, path: Path, model, optimizer, step: int, gpt_config, record: dict) -> None:
    """Lesson 10's save_checkpoint, made atomic: temp file in the same folder, then os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        course.save_checkpoint(temp, model, optimizer, step, gpt_config, capstone={"format": FORMAT, **record})
        with open(temp, "rb") as f:  # the bytes must be on disk before the rename makes them "the" checkpoint
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException as err:
        temp.unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise CheckpointError(f"could not save the checkpoint to {path} ({err.strerror or err}); "
                                  f"the previous checkpoint there, if any, is unchanged") from None
        raise


def check_folder(out: Path, flag: str = "--out") -> None:
    """Refuse, before any training, a run folder that cannot hold a checkpoint: a file (`--out
    runs/x/ckpt.pt`), or a path inside a file. Otherwise the run would only fail at its first save."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        hint = f": give the run folder, {out.parent}" if out.suffix in (".pt", ".py") else ""
        raise CheckpointError(f"{flag} {out} is a file, not a folder{hint}")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise CheckpointError(f"{flag} {out} is inside {parent}, which is a file, not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise CheckpointError(f"{flag} {out}: cannot create folders in {parent} (no permission to write "
                                      f"there); choose another --out")
            return


def _why_unreadable(err: Exception) -> str:
    """A short reason torch.load failed, in whole words: torch's own messages run to paragraphs."""
    text = str(err)
    if isinstance(err, OSError):
        return err.strerror or type(err).__name__
    if "central directory" in text or "zip archive" in text:
        return "the file is incomplete: a copy or a save that did not finish"
    if "Unsupported global" in text or "allowlist" in text:
        return "it holds Python objects, not only tensors: not a file the capstone wrote"
    if "Weights only load failed" in text or isinstance(err, pickle.UnpicklingError):
        return "it is not a torch checkpoint file"
    first = (text.strip().splitlines() or [""])[0].split(". ")[0].rstrip(".")
    return first if 0 < len(first) <= 160 else type(err).__name__


def read_record(path: Path) -> dict:
    """The capstone record of a checkpoint: model config, vocabulary, history. Never trusts pickles."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}: train first (make train)")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder: give the checkpoint file, e.g. {path / 'ckpt.pt'}")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - truncated file, not a torch file, foreign pickle...
        raise CheckpointError(f"{path} is corrupt or not a checkpoint ({_why_unreadable(err)}). Delete it, "
                              f"or train into another folder with --out") from None
    record = _find_record(raw)
    if record is None:
        raise CheckpointError(f"{path} was not written by the capstone (it has no 'capstone' record); "
                              f"train into another folder with --out")
    if record.get("format") != FORMAT:
        raise CheckpointError(f"{path} has capstone record format {record.get('format')}, expected {FORMAT}")
    return record


def _find_record(raw):
    # lesson 10 stores **extra either at the top level or under one key; look in both places
    if not isinstance(raw, dict):
        return None
    if isinstance(raw.get("capstone"), dict):
        return raw["capstone"]
    for value in raw.values():
        if isinstance(value, dict) and isinstance(value.get("capstone"), dict):
            return value["capstone"]
    return None


def check_compatible(path: Path, record: dict, model_config: dict, tokenizer_identity: dict) -> None:
    """Refuse to resume a checkpoint of another model shape or another vocabulary."""
    saved = record["model_config"]
    diffs = [f"{k}={saved.get(k)!r} (this run: {v!r})" for k, v in model_config.items()
             if k != "dropout" and saved.get(k) != v]
    if diffs:
        raise CheckpointError(f"{path} holds a different model: " + ", ".join(diffs)
                              + ". Train into another folder (--out DIR) or start over with --fresh.")
    if record["tokenizer"] != tokenizer_identity:
        was, now = record["tokenizer"], tokenizer_identity
        detail = (f"{was.get('kind')} ({len(was.get('chars', '')) or was.get('n_vocab')} tokens)"
                  f" vs this run's {now.get('kind')} ({len(now.get('chars', '')) or now.get('n_vocab')} tokens)")
        raise CheckpointError(f"{path} was trained with another vocabulary: {detail}. "
                              f"Train into another folder (--out DIR) or start over with --fresh.")


def load(course, path: Path, model, optimizer=None) -> dict:
    """Lesson 10's load_checkpoint, with a clear error if the weights do not fit the model."""
    try:
        return course.load_checkpoint(path, model, optimizer)
    except (RuntimeError, KeyError, ValueError) as err:
        first = (str(err).strip().splitlines() or [""])[0][:300]
        raise CheckpointError(f"{path} does not fit this model: {err.__class__.__name__}: {first}") from None
