"""The capstone: `make train` / `make sample` end to end on the reference lessons, with the tiny
"test" preset (seconds), plus its safety nets: resume after Ctrl-C, corrupt and mismatched
checkpoints, atomic saves, the NaN stop, and the refusal to train from failing lessons. Each one is
a CapstoneError that the command's main() reports as a message and exit status 1.
(model.py, the GPT in one file: tests/test_capstone_model_file.py.)"""

from __future__ import annotations

import dataclasses
import errno
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest
import torch

from autograder.source import Source
from tests.conftest import REPO, run

SOURCE = Source.parse("solutions")  # the reference lessons: the capstone must train them
PY = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable


def train_in_process(*args: str):
    from capstone import train

    return train.main(["--source", str(SOURCE), "--preset", "test", "--quiet", *args])


def refused(capsys, *args: str) -> str:
    """`make train` with these arguments exits with status 1; what it printed on stderr."""
    capsys.readouterr()
    assert train_in_process(*args) == 1
    return capsys.readouterr().err


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One tiny run through the real command line: make train SOURCE=solutions PRESET=test."""
    out = tmp_path_factory.mktemp("capstone") / "run"
    result = run("make", "--no-print-directory", "train", f"SOURCE={SOURCE}", "PRESET=test", f"OUT={out}",
                 "ARGS=--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "final (4 batches)" in result.stdout
    return out


def test_make_train_writes_checkpoint_plot_and_sample(trained):
    assert (trained / "ckpt.pt").stat().st_size > 0
    assert "class GPT(" in (trained / "model.py").read_text()
    assert (trained / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((trained / "sample.txt").read_text()) > 20
    summary = json.loads((trained / "summary.json").read_text())
    assert summary["step"] == 20 and summary["val"] < 4.17  # below the loss of a uniform guess, ln(65)
    history = json.loads((trained / "history.json").read_text())
    assert [e[0] for e in history["evals"]] == [0, 10, 20]
    assert len(history["steps"]) == 20


def test_make_sample_continues_the_prompt(trained):
    result = run("make", "-s", "sample", f"OUT={trained}", "PROMPT=ROMEO:", "TOKENS=40")
    assert result.returncode == 0, result.stderr
    text = result.stdout.rstrip("\n")
    assert text.startswith("ROMEO:") and len(text) == len("ROMEO:") + 40


def test_a_finished_run_is_not_retrained(trained, capsys):
    assert train_in_process("--out", str(trained)) == 0
    assert "already holds a finished run (20 steps" in capsys.readouterr().out


def test_ctrl_c_saves_and_the_next_run_resumes(tmp_path):
    out = tmp_path / "run"
    cmd = [PY, "-m", "capstone.train", "--source", str(SOURCE), "--preset", "test", "--quiet", "--out", str(out),
           "--max-iters", "100000", "--eval-interval", "5"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (out / "ckpt.pt").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)  # the first periodic checkpoint shows training is under way
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr  # saved, and stopped as Ctrl-C stops a command
    stopped = int(re.search(r"interrupted at step (\d+): checkpoint saved", stdout).group(1))

    from capstone import checkpoint

    assert checkpoint.read_record(out / "ckpt.pt")["step"] == stopped
    result = run(PY, "-m", "capstone.train", "--source", str(SOURCE), "--preset", "test", "--quiet", "--out", str(out),
                 "--max-iters", str(stopped + 3))
    assert result.returncode == 0, result.stderr
    assert f"resuming {out / 'ckpt.pt'} at step {stopped}" in result.stdout
    assert json.loads((out / "summary.json").read_text())["step"] == stopped + 3


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupt_checkpoint_is_refused(trained, tmp_path, damage, capsys):
    out = tmp_path / "run"
    out.mkdir()
    good = (trained / "ckpt.pt").read_bytes()
    (out / "ckpt.pt").write_bytes(b"not a checkpoint" if damage == "garbage" else good[: len(good) // 2])
    assert "is corrupt or not a checkpoint" in refused(capsys, "--out", str(out), "--max-iters", "30")


def test_a_checkpoint_of_another_model_is_refused(trained, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(trained, out)
    message = refused(capsys, "--out", str(out), "--max-iters", "30", "--n-embd", "32")
    assert re.search(r"holds a different model: n_embd=16 \(this run: 32\)", message)


def test_a_checkpoint_of_another_vocabulary_is_refused(trained):
    from capstone import checkpoint
    from capstone.errors import CapstoneError

    record = checkpoint.read_record(trained / "ckpt.pt")
    same = record["tokenizer"]
    checkpoint.check_compatible(trained, record, record["model_config"], same)  # fits itself
    shuffled = {"kind": "char", "chars": same["chars"][::-1]}  # same size, other ids: would resume silently wrong
    with pytest.raises(CapstoneError, match="another vocabulary"):
        checkpoint.check_compatible(trained, record, record["model_config"], shuffled)


def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path):
    from capstone import checkpoint

    path = tmp_path / "ckpt.pt"
    path.write_bytes(b"previous checkpoint")

    class DiskFull:
        @staticmethod
        def save_checkpoint(p, *args, **extra):
            Path(p).write_bytes(b"half a checkp")
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(checkpoint.CheckpointError,
                       match="No space left on device.*previous checkpoint there, if any, is unchanged"):
        checkpoint.save(DiskFull, path, None, None, 1, None, {})
    assert path.read_bytes() == b"previous checkpoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]  # no temp file left behind


def test_nan_loss_stops_training_naming_the_step(tmp_path, capsys):
    message = refused(capsys, "--out", str(tmp_path / "run"), "--lr", "1e30", "--min-lr", "1e30", "--grad-clip", "0")
    assert re.search(r"the loss became (nan|inf) at step \d+", message)
    assert not (tmp_path / "run" / "ckpt.pt").exists()  # nothing NaN is saved


def test_gpt2_tokens_train_with_the_same_code(tmp_path):
    out = tmp_path / "run"
    assert train_in_process("--out", str(out), "--tokenizer", "gpt2", "--max-iters", "4", "--eval-interval", "2",
                            "--sample-tokens", "10") == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["tokenizer"] == "gpt2" and summary["step"] == 4
    from capstone import checkpoint

    assert checkpoint.read_record(out / "ckpt.pt")["tokenizer"] == {"kind": "gpt2", "n_vocab": 50257}


def test_training_refuses_lessons_that_do_not_pass(tmp_path, monkeypatch, capsys, release_dir):
    from capstone import assemble

    monkeypatch.setattr(assemble, "GRADE_CACHE", tmp_path / "grade-cache.json")
    student = tmp_path / "student"
    student.mkdir()
    shutil.copytree(release_dir / "02_tokens", student / "02_tokens")  # not needed for char tokens
    shutil.copytree(release_dir / "03_batches", student / "03_batches")  # untouched stubs
    shutil.copytree(release_dir / "01_chars", student / "01_chars")
    notebook = student / "01_chars" / "01_chars.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:  # a student half-way through lesson 01: one right, one wrong, two stubs
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "build_vocab":
            cell.source = "def build_vocab(text):\n    return sorted(set(text))"
        elif grade_id == "make_tables":
            cell.source = "def make_tables(chars):\n    return {c: i + 1 for i, c in enumerate(chars)}, {}"
    nbformat.write(nb, notebook)
    message = refused(capsys, "--source", str(student), "--out", str(tmp_path / "run"))
    assert "make train needs lessons 01, 03, 05, 09, 10" in message
    assert "01.vocab" not in message  # it passes
    assert re.search(r"01\.tables\s+failed: ", message)
    assert re.search(r"01\.encode\s+not started", message)
    assert re.search(r"03\.\*\s+not started: all \d+ tasks", message)
    assert re.search(r"05\.\*\s+missing", message)
    assert "make train SOURCE=solutions" in message
    assert not (tmp_path / "run").exists()


def test_time_budget_schedule_uses_lesson_lr_at():
    from capstone import assemble
    from capstone.presets import PRESETS
    from capstone.train import learning_rate

    course = assemble.load_course(SOURCE)
    config = replace(PRESETS["test"], time_budget=100.0, max_iters=0, warmup_iters=10, lr=1.0, min_lr=0.1)
    assert learning_rate(course, config, 5, 0.0, None) == pytest.approx(0.5)  # warmup by steps
    assert learning_rate(course, config, 50, 10.0, 10.0) == pytest.approx(1.0)  # cosine starts at the peak
    assert learning_rate(course, config, 500, 55.0, 10.0) == pytest.approx(0.55, abs=1e-3)  # halfway in time
    assert learning_rate(course, config, 900, 100.0, 10.0) == pytest.approx(0.1)  # ends at min_lr


def test_presets_are_valid():
    from capstone.presets import PRESETS

    for name, config in PRESETS.items():
        assert config.n_embd % config.n_head == 0, name
        assert (config.max_iters > 0) != (config.time_budget > 0), name
        assert config.tokenizer in ("char", "gpt2") and config.clock in ("wall", "cpu"), name


def test_sdpa_drop_in_equals_the_lessons_masked_attention():
    """flash=True (torch's fused attention, used by the presets) computes what the lesson's code does."""
    from autograder import load_lesson

    lesson = load_lesson("09", source=SOURCE)
    torch.manual_seed(0)
    manual = lesson.GPT(lesson.GPTConfig(block_size=16, vocab_size=65, n_layer=2, n_head=4, n_embd=32,
                                         bias=False, flash=False))
    fused = lesson.GPT(lesson.GPTConfig(block_size=16, vocab_size=65, n_layer=2, n_head=4, n_embd=32,
                                        bias=False, flash=True))
    fused.load_state_dict(manual.state_dict())
    for T in (1, 7, 16):
        idx = torch.randint(0, 65, (3, T), generator=torch.Generator().manual_seed(T))
        torch.testing.assert_close(fused(idx)[0], manual(idx)[0], rtol=1e-5, atol=1e-5)


def test_library_code_raises_capstone_errors_not_system_exit():
    """Only a command's main() ends the process; everything under it raises CapstoneError."""
    for path in sorted((REPO / "capstone").glob("*.py")):
        text = path.read_text()
        assert "raise SystemExit" not in text and "(SystemExit)" not in text, path.name


def test_each_main_reports_a_capstone_error_as_a_message(tmp_path, capsys):
    from capstone import bench, model_file, sample, train

    missing = tmp_path / "no-such-lessons"
    commands = {
        sample: (["--out", str(tmp_path)], f"no checkpoint at {tmp_path / 'ckpt.pt'}: train first"),
        model_file: (["--out", str(tmp_path), "--source", str(missing)], f"cannot read lesson 09 from {missing}"),
        train: (["--source", str(missing), "--no-grade", "--out", str(tmp_path)], "cannot load lesson 01"),
        bench: (["--seeds", "1", "--source", str(missing), "--out", str(tmp_path)], "cannot load lesson 01"),
    }
    for command, (argv, message) in commands.items():
        capsys.readouterr()
        assert command.main(argv) == 1, command.__name__
        assert message in capsys.readouterr().err, command.__name__


def test_gpt_config_is_derived_from_the_lessons_dataclass():
    """A field added to GPTConfig needs no edit in train.py: shared fields come from the preset, the
    others keep GPTConfig's default; vocab_size comes from the tokenizer."""
    from types import SimpleNamespace

    from capstone.assemble import NotReady
    from capstone.presets import PRESETS
    from capstone.assemble import gpt_config_for

    @dataclasses.dataclass
    class GPTConfig:  # a future lesson 07 with one field more and one field fewer
        block_size: int = 256
        vocab_size: int = 65
        n_layer: int = 6
        n_embd: int = 384
        rope: bool = False

    config = replace(PRESETS["test"], n_layer=3)
    made = gpt_config_for(SimpleNamespace(GPTConfig=GPTConfig), config, vocab_size=50)
    assert made == GPTConfig(block_size=config.block_size, vocab_size=50, n_layer=3, n_embd=config.n_embd)
    with pytest.raises(NotReady, match="not a dataclass"):
        gpt_config_for(SimpleNamespace(GPTConfig=lambda **kw: kw), config, vocab_size=50)


def test_every_model_setting_can_be_chosen_in_a_preset():
    """Each field of lesson 07's GPTConfig (but vocab_size, the tokenizer's) is a TrainConfig field, so a
    preset and a --flag can set it. Adding a field: CONTRIBUTING.md, "Adding a model setting"."""
    from autograder import load_lesson
    from capstone.presets import field_names

    lesson = load_lesson("07", source=SOURCE)
    missing = [f.name for f in dataclasses.fields(lesson.GPTConfig)
               if f.name != "vocab_size" and f.name not in field_names()]
    assert not missing, f"add {missing} to TrainConfig in capstone/presets.py"
    gpt = load_lesson("09", source=SOURCE)
    assert gpt.GPTConfig is gpt.L08.GPTConfig is gpt.L08.L07.GPTConfig  # one config, defined once
