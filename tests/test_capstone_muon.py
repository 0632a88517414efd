"""The capstone with lesson 13: Muon presets train the lessons' own Muon, fall back to AdamW until the
lesson passes, resume their two-optimizer state safely, and the benchmark reports them per seed."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest
import torch

from autograder.source import Source

SOURCE = "solutions"


def train_in_process(*args: str):
    from capstone import train

    return train.main(["--source", SOURCE, "--preset", "test", "--quiet", *args])


@pytest.fixture(scope="module")
def muon_run(tmp_path_factory):
    """A few Muon steps of the tiny test preset, through the real command line's code."""
    out = tmp_path_factory.mktemp("muon") / "run"
    assert train_in_process("--out", str(out), "--optimizer", "muon", "--max-iters", "6", "--eval-interval", "3",
                            "--sample-tokens", "5") == 0
    return out


def test_a_muon_run_trains_with_the_lessons_muon(muon_run):
    summary = json.loads((muon_run / "summary.json").read_text())
    assert summary["config"]["optimizer"] == "muon" and summary["step"] == 6
    assert summary["val"] < 4.17  # learned something: below a uniform guess over 65 characters
    saved = torch.load(muon_run / "ckpt.pt", weights_only=True)  # plain data only: lesson 10's safe load
    assert saved["optimizer"]["kinds"] == ["Muon", "AdamW"]
    muon_state = saved["optimizer"]["optimizers"][0]
    assert all("momentum_buffer" in s for s in muon_state["state"].values())  # the lesson's Muon stepped


def test_a_muon_run_resumes_with_both_optimizers(muon_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(muon_run, out)
    assert train_in_process("--out", str(out), "--optimizer", "muon", "--max-iters", "8") == 0
    assert json.loads((out / "summary.json").read_text())["step"] == 8


def test_an_adamw_checkpoint_is_not_resumed_by_muon(tmp_path, capsys):
    out = tmp_path / "run"
    assert train_in_process("--out", str(out), "--max-iters", "2", "--eval-interval", "0", "--sample-tokens", "0") == 0
    capsys.readouterr()
    assert train_in_process("--out", str(out), "--optimizer", "muon", "--max-iters", "4") == 1
    assert "optimizer state is a single optimizer, this run uses ['Muon', 'AdamW']" in capsys.readouterr().err


def test_set_lr_keeps_each_groups_own_peak():
    from autograder import load_lesson
    from capstone import optim
    from capstone.presets import PRESETS

    lesson09 = load_lesson("09", source=SOURCE)
    model = lesson09.GPT(lesson09.GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=8))
    config = replace(PRESETS["cpu-fast"], lr=0.01, muon_lr=0.05, ns_steps=3, muon_weight_decay=0.25)
    optimizer = optim.build(None, model, config, Source.parse(SOURCE))
    muon, adamw = optimizer.optimizers
    assert [g["ns_steps"] for g in muon.param_groups] == [3]
    assert [g["weight_decay"] for g in muon.param_groups] == [0.25]  # the preset's, not the lesson's default 0
    assert [g["weight_decay"] for g in adamw.param_groups] == [config.weight_decay, 0.0]  # lesson 10's groups
    optim.set_lr(optimizer, 0.005, config)  # halfway down the schedule
    assert [g["lr"] for g in muon.param_groups] == [pytest.approx(0.025)]
    assert [g["lr"] for g in adamw.param_groups] == [pytest.approx(0.005)] * 2
    n_muon = sum(p.numel() for g in muon.param_groups for p in g["params"])
    n_all = sum(p.numel() for p in model.parameters())
    assert 0 < n_muon < n_all


def test_muon_presets_fall_back_to_adamw_presets():
    from capstone.presets import FALLBACK, PRESETS

    muon_presets = {name for name, config in PRESETS.items() if config.optimizer == "muon"}
    assert muon_presets == set(FALLBACK) == {"cpu-fast", "cpu-best"}
    for muon_preset, fallback in FALLBACK.items():
        assert PRESETS[fallback].optimizer == "adamw"
        assert PRESETS[fallback].time_budget == PRESETS[muon_preset].time_budget  # same kind of run


@pytest.fixture
def student(tmp_path, monkeypatch, release_dir):
    """A student's lessons folder with lesson 13 released but not started."""
    from capstone import assemble

    monkeypatch.setattr(assemble, "GRADE_CACHE", tmp_path / "grade-cache.json")
    folder = tmp_path / "student"
    folder.mkdir()
    shutil.copytree(release_dir / "13_muon", folder / "13_muon")
    return folder


def test_a_muon_preset_falls_back_while_lesson_13_does_not_pass(student):
    from capstone import optim
    from capstone.presets import PRESETS

    said = []
    preset, config = optim.choose("cpu-fast", PRESETS["cpu-fast"], {"seed": 7, "max_iters": 5, "lr": None},
                                  Source.parse(student), say=said.append)
    assert preset == "cpu-small" and config.optimizer == "adamw"
    assert config.seed == 7 and config.max_iters == 5  # the command line's settings are kept ...
    assert config.lr == PRESETS["cpu-small"].lr  # ... and what it did not set is the fallback preset's
    assert len(said) == 1 and "lesson 13 (Muon) does not pass yet (13.* not started" in said[0]
    assert "training cpu-small with AdamW instead" in said[0] and "with your --seed 7 --max-iters 5" in said[0]

    # --optimizer muon on a preset without a fallback: the same run with AdamW
    said.clear()
    asked = replace(PRESETS["test"], optimizer="muon")
    assert optim.choose("test", asked, {}, Source.parse(student), say=said.append) == ("test", PRESETS["test"])
    assert len(said) == 1


def test_the_fallback_keeps_every_setting_of_make_train_args(student):
    """`make train PRESET=cpu-fast ARGS="..."` on the AdamW fallback: the user's settings as typed (issue 21),
    the Muon-only ones named as unused."""
    from capstone import optim
    from capstone.presets import PRESETS
    from capstone.train import build_parser, config_from_args

    args = build_parser().parse_args(["--preset", "cpu-fast", "--max-iters", "120", "--lr", "0.003", "--n-layer", "3",
                                      "--batch-size", "8", "--dropout", "0.1", "--muon-lr", "0.05",
                                      "--optimizer", "muon"])
    said = []
    preset, config = optim.choose(args.preset, config_from_args(args), vars(args), Source.parse(student),
                                  say=said.append)
    assert preset == "cpu-small" and config.optimizer == "adamw"
    assert (config.max_iters, config.lr, config.n_layer, config.batch_size, config.dropout) == (120, 0.003, 3, 8, 0.1)
    assert config.n_embd == PRESETS["cpu-small"].n_embd  # not given: the fallback preset's own
    assert "with your --n-layer 3 --dropout 0.1 --batch-size 8 --max-iters 120 --lr 0.003;" in said[0]
    assert said[0].endswith("--muon-lr 0.05 unused (Muon only)")


def test_a_muon_preset_falls_back_without_lesson_13(tmp_path, monkeypatch):
    from capstone import assemble, optim
    from capstone.presets import PRESETS

    monkeypatch.setattr(assemble, "GRADE_CACHE", tmp_path / "grade-cache.json")
    said = []
    preset, _ = optim.choose("cpu-best", PRESETS["cpu-best"], {}, Source.parse(tmp_path), say=said.append)
    assert preset == "cpu-best-adamw" and "13.* missing" in said[0]
    assert "cannot load lesson 13" in optim.muon_problem(Source.parse(tmp_path), grade=False)  # --no-grade


def test_a_passing_lesson_13_trains_muon(student):
    """The same student once lesson 13 is solved (the reference pasted in): Muon, no notice."""
    from capstone import optim
    from capstone.presets import PRESETS
    from tests.conftest import paste_reference

    notebook = student / "13_muon" / "13_muon.ipynb"
    paste_reference(notebook, notebook)
    said = []
    chosen = optim.choose("cpu-fast", PRESETS["cpu-fast"], {}, Source.parse(student), say=said.append)
    assert said == [] and chosen == ("cpu-fast", PRESETS["cpu-fast"])


def test_bench_reports_muon_and_adamw_per_seed():
    from capstone.bench import report

    def result(name, preset, optimizer, seed, t, steps):
        return {"name": name, "preset": preset, "optimizer": optimizer, "seed": seed, "steps": 700,
                "train_time": 20.0, "cpu_time": 19.0, "wall_time": 30.0, "val": 1.8, "tokens_per_s": 40000,
                "mfu": 0.3, "cpu_tokens_per_s": 41000, "cpu_mfu": 0.31, "params": 1,
                "curve": [(0.0, 4.2), (t, 1.89)], "cpu_curve": [(0.0, 4.2), (t - 1, 1.89)],
                "time_to_target": t, "cpu_time_to_target": t - 1, "steps_to_target": steps,
                "precision": "bfloat16" if name == "muon" else "float32", "limit_s": 2.5, "limit_to_target": 1.25}

    text = report([result("muon", "cpu-fast", "muon", 1337, 11.0, 475),
                   result("reference", "cpu-small", "adamw", 1337, 21.0, 925),
                   result("muon", "cpu-fast", "muon", 1338, 12.0, 450),
                   result("reference", "cpu-small", "adamw", 1338, 20.0, 900)],
                  {"float32": 300.0, "bfloat16": 600.0}, (0.5, 1.0), 2)
    assert ("seed 1337: muon (cpu-fast, muon) 11.0 s [10.0] at step 475 | "
            "reference (cpu-small, adamw) 21.0 s [20.0] at step 925") in text
    assert "seed 1338: muon (cpu-fast, muon) 12.0 s [11.0] at step 450" in text
    assert "wall clock: muon 11.5 s vs reference 20.5 s to val <= 1.9: 1.78x faster" in text
    # each run's precision, and the physical limit (its FLOPs at that precision's peak) beside its times
    assert "matmul peak float32 300 GFLOP/s, bfloat16 600 GFLOP/s" in text
    assert "| muon | 1337 | bfloat16 | 700 | 20.0 (19.0) [2.5] | 11.0 (10.0) [1.2] |" in text
    assert "| reference | 1338 | float32 | 700 |" in text


def test_newton_schulz_precision_is_asked_for_or_measured(monkeypatch):
    from capstone.errors import CapstoneError
    from capstone.optim import Optimizers, ns_precision

    calls = []

    def fake_ns(G, steps):
        calls.append(torch.is_autocast_enabled("cpu"))
        return G

    matrices = [torch.zeros(8, 4), torch.zeros(16, 4)]
    assert ns_precision(fake_ns, matrices, "cpu", "float32") == ("float32", "--ns-precision")
    assert ns_precision(fake_ns, matrices, "cpu", "bfloat16")[0] == "bfloat16"
    assert ns_precision(fake_ns, matrices, "cuda", "auto")[0] == "bfloat16"
    precision, why = ns_precision(fake_ns, matrices, "cpu", "auto")  # timed here, both ways
    assert precision in ("float32", "bfloat16") and "measured" in why and calls == [False, True] * 6
    monkeypatch.setenv("WORLD_SIZE", "2")  # processes of one run must not choose differently
    assert ns_precision(fake_ns, matrices, "cpu", "auto")[0] == "float32"
    with pytest.raises(CapstoneError, match="unknown --ns-precision"):
        ns_precision(fake_ns, matrices, "cpu", "fp8")

    class Recorder:
        def __init__(self):
            self.param_groups, self.autocast = [], []

        def step(self):
            self.autocast.append(torch.is_autocast_enabled("cpu"))

    low, full = Recorder(), Recorder()
    Optimizers([low, full], low_precision=[low]).step()
    assert low.autocast == [True] and full.autocast == [False]
