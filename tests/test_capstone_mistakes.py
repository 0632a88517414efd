"""The capstone commands facing a student's mistakes: each ends in one line that says what to do
(exit status 1), never a traceback, and never trains on settings that cannot work. Ctrl-C ends every
command in one line too (exit status 130), saying what the checkpoint holds.

Tiny runs of the reference lessons with the "test" preset; each test names the mistake it makes.
(The happy paths: tests/test_capstone.py, tests/test_capstone_model_file.py, tests/test_finetune.py.)"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from autograder.source import Source
from tests.conftest import REPO, run

SOURCE = Source.parse("solutions")
PY = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable
TRAIN = ["--source", "solutions", "--preset", "test", "--quiet", "--max-iters", "5"]


def one_line(text: str) -> str:
    """The single line a command printed on stderr (no traceback, no second line)."""
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


def exit_status(main, argv: list[str]) -> int:
    """main(argv), where Ctrl-C escaping it fails the test (instead of stopping pytest, as a real one would)."""
    try:
        return main(argv)
    except KeyboardInterrupt as err:
        pytest.fail(f"Ctrl-C escaped main() as a traceback: {err!r}")


def train_main(*args: str) -> int:
    from capstone import train

    return exit_status(train.main, [*TRAIN, *args])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A finished 5-step run of the test preset: ckpt.pt, model.py, summary.json."""
    from capstone.presets import PRESETS
    from capstone.train import run as train

    out = tmp_path_factory.mktemp("mistakes") / "run"
    train(replace(PRESETS["test"], max_iters=5), source=SOURCE, device="cpu", out=out, quiet=True, sample=False)
    return out


# --- 1. Ctrl-C outside the training loop ----------------------------------------------------------

def test_ctrl_c_while_the_command_starts_ends_in_one_line(tmp_path):
    """Ctrl-C seconds after `make train`: while torch imports or the lessons load, not yet training."""
    cmd = [PY, "-m", "capstone.train", *TRAIN, "--out", str(tmp_path / "run")]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # not a fixed sleep (a loaded machine may not have started Python yet): wait until torch's library
    # is mapped, i.e. the capstone package (which installs the handler) is imported and torch is loading
    maps, deadline = Path(f"/proc/{proc.pid}/maps"), time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and "libtorch" not in maps.read_text():
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode in (130, -signal.SIGINT), stderr
    assert one_line(stderr).startswith("interrupted")
    assert not (tmp_path / "run" / "ckpt.pt").exists()


def test_ctrl_c_during_start_up_says_nothing_was_trained(tmp_path, monkeypatch, capsys):
    from capstone import assemble

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(assemble, "load_course", interrupted)
    assert train_main("--out", str(tmp_path / "run")) == 130
    assert one_line(capsys.readouterr().err) == "interrupted during start-up: nothing trained yet"


def test_ctrl_c_in_the_final_evaluation_keeps_the_training_and_the_same_command_finishes(tmp_path, monkeypatch,
                                                                                       capsys):
    """5 steps, no periodic save (eval every 10): Ctrl-C in the final estimate must not lose them."""
    from capstone import checkpoint, train

    evaluate = train.Run.evaluate

    def final_interrupted(self, iters, val_iters=None):
        if iters == self.config.final_eval_iters:
            raise KeyboardInterrupt
        return evaluate(self, iters, val_iters)

    out = tmp_path / "run"
    monkeypatch.setattr(train.Run, "evaluate", final_interrupted)
    assert train_main("--out", str(out)) == 130
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"interrupted during the final evaluation: the checkpoint at {out / 'ckpt.pt'} holds "
                           f"step 5; the same command finishes it"), line
    assert checkpoint.read_record(out / "ckpt.pt")["step"] == 5

    monkeypatch.setattr(train.Run, "evaluate", evaluate)
    assert train_main("--out", str(out)) == 0
    assert "interrupted before its final evaluation: finishing it" in capsys.readouterr().out
    assert json.loads((out / "summary.json").read_text())["step"] == 5
    assert "final" in checkpoint.read_record(out / "ckpt.pt")


def test_a_second_ctrl_c_in_training_stops_at_once_in_one_line(tmp_path, monkeypatch, capsys):
    """The first Ctrl-C asks the loop to save and stop; a second one (here: during step 7) quits at once."""
    from capstone import optim

    set_lr, steps = optim.set_lr, []

    def second_press(optimizer, lr, config):
        steps.append(lr)
        if len(steps) == 7:
            raise KeyboardInterrupt
        set_lr(optimizer, lr, config)

    monkeypatch.setattr(optim, "set_lr", second_press)
    out = tmp_path / "run"
    assert train_main("--out", str(out), "--max-iters", "20", "--eval-interval", "5") == 130
    line = one_line(capsys.readouterr().err)
    assert line == (f"interrupted twice: stopped at step 6 without saving: the checkpoint at {out / 'ckpt.pt'} "
                    f"holds step 5; the same command resumes from it")


@pytest.mark.parametrize("command", ["sample", "model_file", "gpt2", "finetune"])
def test_ctrl_c_ends_every_other_command_in_one_line(command, run_dir, tmp_path, monkeypatch, capsys):
    import importlib

    from capstone import assemble

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    module = importlib.import_module(f"capstone.{command}")
    argv = {"sample": ["--out", str(run_dir), "--source", "solutions"],
            "model_file": ["--out", str(run_dir), "--source", "solutions"],
            "gpt2": ["--source", "solutions", "--dir", str(tmp_path)],
            "finetune": ["--source", "solutions", "--ckpt", str(run_dir / "ckpt.pt"), "--out", str(tmp_path / "ft")]}
    monkeypatch.setattr(assemble, "load_course", interrupted)
    monkeypatch.setattr(module, "write", interrupted, raising=False)  # model_file writes before it loads
    monkeypatch.setattr(module, "find_local_weights", interrupted, raising=False)  # gpt2
    assert exit_status(module.main, argv[command]) == 130
    assert one_line(capsys.readouterr().err).startswith("interrupted")


@pytest.fixture
def finetune_args(run_dir, tmp_path):
    return ["--source", "solutions", "--ckpt", str(run_dir / "ckpt.pt"), "--out", str(tmp_path / "ft"), "--quiet",
            "--no-grade", "--limit-test", "4", "--steps", "4", "--batch-size", "2", "--threads", "1"]


def test_ctrl_c_while_fine_tuning_says_nothing_was_saved(finetune_args, tmp_path, monkeypatch, capsys):
    from capstone import finetune

    batch, calls = finetune.BalancedSampler.batch, []

    def interrupted_at_step_2(self, size):
        calls.append(size)
        if len(calls) == 3:  # the precision measurement, step 1, step 2
            raise KeyboardInterrupt
        return batch(self, size)

    monkeypatch.setattr(finetune.BalancedSampler, "batch", interrupted_at_step_2)
    assert exit_status(finetune.main, finetune_args) == 130
    assert one_line(capsys.readouterr().err).startswith("interrupted at step 2 of 4: fine-tuning saves when it ends, "
                                                        "so nothing was saved")
    assert not (tmp_path / "ft" / "ckpt.pt").exists()


def test_ctrl_c_after_fine_tuning_keeps_the_model(finetune_args, tmp_path, monkeypatch, capsys):
    from capstone import checkpoint, finetune

    answers, calls = finetune.answers, []

    def interrupted_after(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # before fine-tuning, then after
            raise KeyboardInterrupt
        return answers(*args, **kwargs)

    monkeypatch.setattr(finetune, "answers", interrupted_after)
    assert exit_status(finetune.main, finetune_args) == 130
    ckpt = tmp_path / "ft" / "ckpt.pt"
    assert one_line(capsys.readouterr().err).startswith(
        f"interrupted while answering the held-out instructions after fine-tuning: the checkpoint at {ckpt} holds "
        f"the fine-tuned model (4 steps)")
    assert checkpoint.read_record(ckpt)["step"] == 4


# --- 2. make sample from unfinished lessons, or from a folder that is not there --------------------

def test_make_sample_names_the_unfinished_task(run_dir, release_dir, capsys):
    from capstone import sample

    assert sample.main(["--out", str(run_dir), "--source", str(release_dir), "--tokens", "5"]) == 1
    line = one_line(capsys.readouterr().err)
    assert re.match(r"task 01\.\w+ is not finished yet \(.+\): `make grade LESSON=01` shows what is "
                    r"left, or use the reference: make sample SOURCE=solutions$", line), line


def test_make_finetune_names_the_unfinished_task(finetune_args, release_dir, capsys):
    from capstone import finetune

    assert exit_status(finetune.main, [*finetune_args, "--source", str(release_dir)]) == 1
    line = one_line(capsys.readouterr().err)
    assert re.match(r"make finetune: task 01\.\w+ is not finished yet \(.+\): `make grade LESSON=01`", line), line


def test_make_sample_refuses_a_source_folder_that_does_not_exist(run_dir, tmp_path, capsys):
    from capstone import sample

    missing = tmp_path / "nowhere"
    assert sample.main(["--out", str(run_dir), "--source", str(missing), "--tokens", "5"]) == 1
    assert f"--source {missing}: there is no folder" in one_line(capsys.readouterr().err)


# --- 3. --out that is a file -----------------------------------------------------------------------

@pytest.mark.parametrize("where", ["the checkpoint", "inside the checkpoint"])
def test_make_train_refuses_an_out_that_is_a_file_before_training(where, run_dir, capsys):
    ckpt = run_dir / "ckpt.pt"
    before = ckpt.stat().st_mtime_ns
    out = ckpt if where == "the checkpoint" else ckpt / "run"
    assert train_main("--out", str(out)) == 1
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"--out {out} is a file, not a folder" if out == ckpt
                           else f"--out {out} is inside {ckpt}, which is a file, not a folder"), line
    assert ckpt.stat().st_mtime_ns == before


def test_make_finetune_refuses_an_out_that_is_a_file(finetune_args, run_dir, capsys):
    from capstone import finetune

    args = [*finetune_args, "--out", str(run_dir / "summary.json")]
    assert finetune.main(args) == 1
    assert f"--out {run_dir / 'summary.json'} is a file, not a folder" in one_line(capsys.readouterr().err)


# --- 4. settings that cannot work, refused before anything is built -------------------------------

@pytest.mark.parametrize("flags, message", [
    (["--batch-size", "0"], "--batch-size 0: must be at least 1"),
    (["--max-iters", "-1"], "--max-iters -1: must be 0 or more"),
    (["--max-iters", "0"], "--max-iters 0 with no --time-budget trains nothing"),
    (["--lr", "0"], "--lr 0.0: must be more than 0"),
    (["--min-lr=-0.001"], "--min-lr -0.001: must be 0 or more"),
    (["--dropout", "1"], "--dropout 1.0: must be from 0 up to (not including) 1"),
    (["--beta1", "-0.1"], "--beta1 -0.1: must be from 0"),
    (["--beta2", "1"], "--beta2 1.0: must be from 0"),
    (["--n-layer", "0"], "--n-layer 0: must be at least 1"),
    (["--n-embd", "0"], "--n-embd 0: must be at least 1"),
    (["--n-embd", "15"], "--n-embd 15 is not a multiple of --n-head 2"),
    (["--block-size", "0"], "--block-size 0: must be at least 1"),
    (["--eval-iters", "0"], "--eval-iters 0: must be at least 1"),
    (["--threads", "-1"], "--threads -1: must be 0 or more"),
    (["--warmup-iters", "-5"], "--warmup-iters -5: must be 0 or more"),
    (["--weight-decay", "-0.1"], "--weight-decay -0.1: must be 0 or more"),
    (["--clock", "gpu"], "--clock gpu: must be wall or cpu"),
    (["--sample-tokens", "-1"], "--sample-tokens -1: must be 0 or more"),
    (["--device", "gpu"], "--device gpu: not a device here; use auto, cpu, cuda"),
])
def test_make_train_refuses_settings_that_cannot_work(flags, message, tmp_path, monkeypatch, capsys):
    from capstone import assemble

    def never(*args, **kwargs):
        raise AssertionError("the lessons were loaded: the settings should have been refused first")

    monkeypatch.setattr(assemble, "load_course", never)
    assert train_main("--out", str(tmp_path / "run"), *flags) == 1
    assert message in one_line(capsys.readouterr().err)
    assert not (tmp_path / "run").exists()


def test_a_block_size_whose_masks_would_fill_the_memory_is_refused(tmp_path, monkeypatch, capsys):
    """Lesson 07 builds a block_size x block_size mask per layer: --block-size 100000 took 24 GB before
    the system killed it. Here the machine is made small instead of the block large."""
    from capstone import presets
    from capstone.errors import CapstoneError

    with pytest.raises(CapstoneError, match=r"--block-size 100000: lesson 07's causal masks alone would take 37\.3 GiB"):
        presets.check_memory(3, 100_000, memory=16 * 2**30)
    presets.check_memory(6, 1024, memory=16 * 2**30)  # nanoGPT's GPT-2 context: fine
    monkeypatch.setattr(presets, "physical_memory", lambda: 2**18)  # 256 KiB
    assert train_main("--out", str(tmp_path / "run"), "--block-size", "512") == 1
    assert "--block-size 512: lesson 07's causal masks alone" in one_line(capsys.readouterr().err)


def test_a_block_size_longer_than_the_validation_text_is_refused(tmp_path, monkeypatch, capsys):
    from capstone import assemble

    monkeypatch.setattr(assemble, "shakespeare", lambda: assemble.read_tinyshakespeare()[:20_000])
    assert train_main("--out", str(tmp_path / "run"), "--block-size", "5000") == 1
    assert re.match(r"--block-size 5000 is longer than the validation text \(2,000 char tokens\): use at most 1,999",
                    one_line(capsys.readouterr().err))


@pytest.mark.parametrize("flags, message", [
    (["--steps", "0"], "--steps 0: must be at least 1"),
    (["--lr", "-1"], "--lr -1.0: must be more than 0"),
    (["--block-size", "0"], "--block-size 0: must be at least 1"),
    (["--device", "gpu"], "--device gpu: not a device here"),
])
def test_make_finetune_refuses_settings_that_cannot_work(flags, message, finetune_args, capsys):
    from capstone import finetune

    assert finetune.main([*finetune_args, *flags]) == 1
    assert message in one_line(capsys.readouterr().err)


def test_make_finetune_eval_interval_0_means_only_at_the_end(finetune_args, tmp_path):
    from capstone import finetune

    assert finetune.main([*finetune_args, "--eval-interval", "0"]) == 0
    history = json.loads((tmp_path / "ft" / "summary.json").read_text())
    assert history["settings"]["eval_interval"] == 0


def test_make_finetune_mask_prompt_takes_only_true_or_false(finetune_args, capsys):
    from capstone import finetune

    with pytest.raises(SystemExit) as stopped:  # argparse: usage, then the one error line
        finetune.main([*finetune_args, "--mask-prompt", "maybe"])
    assert stopped.value.code == 2
    assert "--mask-prompt: expected true or false, got 'maybe'" in capsys.readouterr().err


# --- 5. a folder as --ckpt, and corrupt checkpoints ------------------------------------------------

def test_a_folder_given_as_ckpt_asks_for_the_file(run_dir, finetune_args, capsys):
    from capstone import finetune, sample

    expected = f"{run_dir} is a folder: give the checkpoint file, e.g. {run_dir / 'ckpt.pt'}"
    assert sample.main(["--ckpt", str(run_dir), "--source", "solutions"]) == 1
    assert one_line(capsys.readouterr().err) == expected
    assert finetune.main([*finetune_args, "--ckpt", str(run_dir)]) == 1
    assert one_line(capsys.readouterr().err) == f"make finetune: {expected}"


@pytest.mark.parametrize("damage, why", [("truncated", "the file is incomplete: a copy or a save that did not finish"),
                                         ("garbage", "it is not a torch checkpoint file")])
def test_a_corrupt_checkpoint_says_why_in_whole_words(damage, why, run_dir, tmp_path, capsys):
    from capstone import sample

    good = (run_dir / "ckpt.pt").read_bytes()
    bad = tmp_path / "ckpt.pt"
    bad.write_bytes(good[:3000] if damage == "truncated" else b"not a checkpoint")
    assert sample.main(["--ckpt", str(bad), "--source", "solutions"]) == 1
    line = one_line(capsys.readouterr().err)
    # a phrase of ours, not torch's paragraph cut at 200 characters ("...your checkpoint file is). Delete it")
    assert line == f"{bad} is corrupt or not a checkpoint ({why}). Delete it, or train into another folder with --out"


# --- 6. the generated runs/<name>/model.py ----------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--prompt", "Tybalt é"], "the prompt has a character the model never saw in training: 'é'"),
    (["--temperature", "0"], "--temperature 0.0: must be > 0"),
    (["--ckpt", "missing.pt"], "no checkpoint file at missing.pt: train first"),
    (["--ckpt", "truncated.pt"], "cannot load truncated.pt on cpu: RuntimeError: PytorchStreamReader failed"),
])
def test_model_py_reports_mistakes_in_one_line(args, message, run_dir, tmp_path):
    (tmp_path / "truncated.pt").write_bytes((run_dir / "ckpt.pt").read_bytes()[:3000])
    result = run(PY, str(run_dir / "model.py"), "--tokens", "5", "--device", "cpu", *args, cwd=tmp_path)
    assert result.returncode == 1
    assert message in one_line(result.stderr)
