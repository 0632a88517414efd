"""The training step's precision (capstone/precision.py): asked for, or chosen by a measurement here;
bfloat16 only in the forward pass's products, with float32 weights, optimizer state and evaluation."""

from __future__ import annotations

import json
import math

import pytest
import torch

from autograder.source import Source
from capstone import precision
from capstone.errors import CapstoneError

SOURCE = Source.parse("solutions")


def seconds(fp32: float, bf16: float):
    return lambda: {"float32": fp32, "bfloat16": bf16}


def test_a_precision_asked_for_is_used_without_measuring():
    def never():
        raise AssertionError("measured although the precision was given")

    assert precision.choose("float32", "cpu", never) == ("float32", "--precision")
    assert precision.choose("bfloat16", "cpu", never) == ("bfloat16", "--precision")


def test_auto_takes_bfloat16_only_where_it_was_measured_clearly_faster():
    chosen, why = precision.choose("auto", "cpu", seconds(0.210, 0.105))
    assert chosen == "bfloat16" and "2.00x faster" in why and "210 vs 105 ms" in why
    chosen, why = precision.choose("auto", "cpu", seconds(0.100, 0.700))
    assert chosen == "float32" and "7.0x slower" in why  # emulated bfloat16: a CPU without bfloat16 units
    chosen, why = precision.choose("auto", "cpu", seconds(0.100, 0.095))
    assert chosen == "float32" and "only 1.05x faster" in why  # not worth float32's accuracy


def test_auto_does_not_measure_where_the_answer_is_known(monkeypatch):
    assert precision.choose("auto", "mps", seconds(1, 0.1)) == ("float32", "the default")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert precision.choose("auto", "cuda:1", None)[0] == "bfloat16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    chosen, why = precision.choose("auto", "cuda", None)
    assert chosen == "float32" and "loss scaling" in why
    monkeypatch.setenv("WORLD_SIZE", "2")  # processes must agree: a timing could differ between them
    assert precision.choose("auto", "cpu", seconds(1, 0.1))[0] == "float32"


def test_an_unknown_precision_is_refused_naming_the_choices():
    with pytest.raises(CapstoneError, match="use auto, float32, bfloat16"):
        precision.choose("fp8", "cpu", None)
    with pytest.raises(CapstoneError, match="MPS"):
        precision.choose("bfloat16", "mps", None)


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(11, 16)
        self.head = torch.nn.Linear(16, 11)

    def forward(self, x, y=None):
        logits = self.head(self.emb(x))
        loss = None if y is None else torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
        return logits, loss


def test_autocast_runs_the_forward_products_in_bfloat16_and_keeps_float32_weights_and_gradients():
    model = Tiny()
    wrapped = precision.Autocast(model, "cpu")
    x = torch.randint(0, 11, (2, 5))
    logits, loss = wrapped(x, x)
    assert logits.dtype == torch.bfloat16 and loss.dtype == torch.float32  # cross-entropy autocasts to float32
    loss.backward()
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in model.parameters())
    assert list(wrapped.parameters()) == list(model.parameters())  # the optimizer and clipping see the same tensors
    assert model(x)[0].dtype == torch.float32  # outside the wrapper (evaluation): float32


def test_measuring_times_both_precisions_and_leaves_the_model_as_it_was():
    model = Tiny().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randint(0, 11, (2, 5))
    seen = []

    def loss_of():
        seen.append(torch.is_autocast_enabled("cpu"))
        return model(x, x)[1]

    timings = precision.measure_step(model, loss_of, "cpu")
    assert set(timings) == {"float32", "bfloat16"} and all(0 < t < float("inf") for t in timings.values())
    assert seen == [False, True] * (precision.ROUNDS + 1)  # alternating, one warm-up round
    assert not model.training and all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("asked", ["float32", "bfloat16"])
def test_a_run_trains_in_the_precision_asked_for_and_reports_it(tmp_path, capsys, asked):
    from capstone.presets import PRESETS
    from capstone.train import run

    config = PRESETS["test"].__class__(**{**PRESETS["test"].__dict__, "precision": asked})
    summary = run(config, source=SOURCE, out=tmp_path, fresh=True, check_lessons=False, quiet=True, sample=False)
    out = capsys.readouterr().out
    assert summary["precision"] == asked and json.loads((tmp_path / "summary.json").read_text())["precision"] == asked
    assert f"precision: {asked}" in out
    assert math.isfinite(summary["val"]) and summary["val"] < 5  # a float32 evaluation of a trained model
    saved = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    weights = next(v for k, v in saved.items() if isinstance(v, dict) and any(torch.is_tensor(t) for t in v.values()))
    assert all(t.dtype in (torch.float32, torch.int64, torch.bool) for t in weights.values() if torch.is_tensor(t))


def test_auto_prints_what_it_measured_and_chose(tmp_path, capsys):
    from capstone.presets import PRESETS
    from capstone.train import run

    run(PRESETS["test"], source=SOURCE, out=tmp_path, fresh=True, check_lessons=False, quiet=True, sample=False)
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("precision: "))
    assert "ms per forward+backward" in line and ("float32" in line or "bfloat16" in line)
