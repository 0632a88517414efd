"""The trusted side of a leaderboard entry: the REFERENCE GPT judges the weights the jail sent back.

Nothing here runs student code. The jail's trainer returns tensors (read with
torch.load(weights_only=True) by jail/frames.py); this module checks them against the reference
model built for the entry's settings -- the same names, shapes and dtype, finite values, tied
weights equal -- loads them into that model and computes, with the reference lessons' code:

- the val loss on a fixed set of validation windows (seeded offsets, the same for every entry);
- the train loss on a fixed set of training windows (a model that fits the validation text better
  than the training text was trained on it: refused);
- a short sample (reference generate, fixed seed).

So a student's code that prints "val loss 0.1", or returns weights of another shape, ranks nowhere.
Evaluation runs on one thread: the same weights give the same loss to the last digit on one machine.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch

from ..loader import Loader
from ..paths import read_tinyshakespeare
from ..reference import CompiledLessons
from ..source import Source
from .rules import RULES, Rules
from .trainer import gpt_config

OVERFIT_MARGIN = 0.1  # val below train by more than this: the weights saw the validation text
MAX_BLOCK = 512  # rules.SETTINGS' largest block_size: every entry's windows start at the same offsets


class WeightsRefused(ValueError):
    """The weights sent back are not a model of the declared settings; the message says why."""


@dataclass
class Reference:
    """The reference lessons the judge uses (01: vocabulary, 03: split, 09: the GPT) and the data."""
    GPTConfig: type
    GPT: type
    chars: list
    encode: object
    decode: object
    train: torch.Tensor
    val: torch.Tensor

    @classmethod
    def load(cls, lessons: Source | CompiledLessons) -> Reference:
        loader = Loader(deps=lessons, default_source=lessons)
        L01, L03, L09 = (loader.load(lid, source=lessons, deps=lessons) for lid in ("01", "03", "09"))
        text = read_tinyshakespeare()
        chars = L01.build_vocab(text)
        stoi, itos = L01.make_tables(chars)
        data = torch.tensor(L01.encode(text, stoi), dtype=torch.long)
        train, val = L03.train_val_split(data, 0.9)
        return cls(L09.GPTConfig, L09.GPT, chars, lambda s: L01.encode(s, stoi), lambda ids: L01.decode(ids, itos),
                   train, val)

    def model(self, settings: dict, device: str = "cpu") -> torch.nn.Module:
        with torch.device(device):
            return self.GPT(gpt_config(self.GPTConfig, settings, len(self.chars)))

    def count_params(self, settings: dict) -> int:
        """Parameters of the GPT these settings build (shared weights once), without allocating it."""
        return sum(p.numel() for p in self.model(settings, "meta").parameters())


@contextlib.contextmanager
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def not_ordinary(value) -> str | None:
    """What makes a tensor one the checks below cannot read, or None (a non-tensor is refused below).

    torch.load(weights_only=True) rebuilds sparse, meta-device, quantized and nested tensors too; isfinite,
    equal and load_state_dict raise on them (RuntimeError, NotImplementedError), here in the trusted process."""
    if not isinstance(value, torch.Tensor):
        return None
    if type(value) not in (torch.Tensor, torch.nn.Parameter):
        return f"a {type(value).__name__}, not a plain tensor"
    if value.layout != torch.strided:
        return f"a {str(value.layout).removeprefix('torch.')} tensor"
    if value.device.type != "cpu":
        return f"a tensor on the {value.device.type} device"
    if value.is_quantized or value.is_nested:
        return "a quantized tensor" if value.is_quantized else "a nested tensor"
    return None


def load_weights(model: torch.nn.Module, weights) -> None:
    """Copy `weights` into the reference model, or WeightsRefused naming the first thing wrong."""
    expected = model.state_dict()
    if not isinstance(weights, dict) or not all(isinstance(k, str) for k in weights):
        raise WeightsRefused("the trained weights are not a dict of named tensors")
    missing, extra = sorted(set(expected) - set(weights)), sorted(set(weights) - set(expected))
    if missing or extra:
        first = missing[0] if missing else extra[0]
        raise WeightsRefused(f"the trained weights do not match the course's GPT: {len(missing)} missing, "
                             f"{len(extra)} unexpected (first: {first[:80]})")
    for name, ref in expected.items():
        got = weights[name]
        why = not_ordinary(got)
        if why:
            raise WeightsRefused(f"the trained weight {name[:80]} is {why}; the leaderboard takes ordinary "
                                 f"(dense, CPU) tensors")
        if not isinstance(got, torch.Tensor) or got.dtype != ref.dtype or tuple(got.shape) != tuple(ref.shape):
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            raise WeightsRefused(f"the trained weight {name} is {shape}, the course's GPT has {tuple(ref.shape)} "
                                 f"{str(ref.dtype).removeprefix('torch.')}")
        if not torch.isfinite(got).all():
            raise WeightsRefused(f"the trained weight {name} holds NaN or infinite values")
    shared: dict[int, str] = {}  # tied parameters (lm_head = wte) must come back equal
    for name, tensor in expected.items():
        key = tensor.data_ptr()
        if key in shared and not torch.equal(weights[name], weights[shared[key]]):
            raise WeightsRefused(f"the trained weights {shared[key]} and {name} are one tensor in the course's "
                                 f"GPT but came back different")
        shared.setdefault(key, name)
    model.load_state_dict({name: weights[name] for name in expected}, strict=True)


def window_offsets(length: int, count: int, seed: int) -> torch.Tensor:
    """Fixed start offsets into a split: the same for every entry (they fit the largest block)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, length - MAX_BLOCK - 1, (count,), generator=generator)


@torch.no_grad()
def mean_loss(model, data: torch.Tensor, block_size: int, offsets: torch.Tensor, batch: int = 64) -> float:
    """Mean next-token cross-entropy of the reference model over the windows at `offsets`."""
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(offsets), batch):
        rows = offsets[start:start + batch]
        x = torch.stack([data[i:i + block_size] for i in rows.tolist()])
        y = torch.stack([data[i + 1:i + 1 + block_size] for i in rows.tolist()])
        _, loss = model(x, y)
        total += float(loss) * len(rows)
        count += len(rows)
    return total / count


@dataclass
class Judgement:
    val: float
    train: float
    curve: list[tuple[int, float]]  # (training tokens, val loss) for each snapshot
    sample: str


def judge(reference: Reference, settings: dict, snapshots, rules: Rules = RULES) -> Judgement:
    """Evaluate the snapshots the jail returned; WeightsRefused if they are not this run's model."""
    if not isinstance(snapshots, list) or not snapshots:
        raise WeightsRefused("no trained weights came back")
    if len(snapshots) > rules.curve_points:  # each costs an evaluation here: no more than the rules ask for
        raise WeightsRefused(f"{len(snapshots)} snapshots of the weights came back, the rules ask for "
                             f"{rules.curve_points}")
    per_step = settings["batch_size"] * settings["block_size"]
    val_at = window_offsets(len(reference.val), rules.eval_windows, rules.seed)
    train_at = window_offsets(len(reference.train), rules.eval_windows, rules.seed + 1)
    curve, model = [], None
    with one_thread():
        for item in snapshots:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], int)):
                raise WeightsRefused("the trained weights came back in an unexpected form")
            step, weights = item
            if not (curve[-1][0] // per_step if curve else 0) < step <= settings["steps"]:
                raise WeightsRefused(f"a snapshot claims step {step} of a {settings['steps']}-step run")
            model = reference.model(settings)
            load_weights(model, weights)
            curve.append((step * per_step, mean_loss(model, reference.val, settings["block_size"], val_at)))
        if snapshots[-1][0] != settings["steps"]:
            raise WeightsRefused("the final weights (after the last step) did not come back")
        val = curve[-1][1]
        train = mean_loss(model, reference.train, settings["block_size"], train_at)
        if not math.isfinite(val) or val < train - OVERFIT_MARGIN:
            raise WeightsRefused(f"the weights fit the validation text far better than the training text (val "
                                 f"{val:.3f}, train {train:.3f}): the leaderboard trains on the training split only")
        generator = torch.Generator().manual_seed(rules.seed)
        start = torch.zeros((1, 1), dtype=torch.long)
        ids = model.generate(start, rules.sample_chars, generator=generator)[0].tolist()
    return Judgement(val, train, curve, reference.decode(ids))
