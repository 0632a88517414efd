"""`make finetune`: the data set, the pieces around lesson 12, and a whole (tiny) run from a make-train
checkpoint and from a GPT-2-layout folder. Tiny settings: this tests the wiring, not the accuracy
(`make finetune` reports that; see docs/gpt2-and-finetuning.md)."""

import json
import re

import pytest
import torch

from autograder.loader import load_lesson
from capstone import assemble, finetune, sample
from capstone.presets import PRESETS
from tests.conftest import REPO, run

PYTHON = str(REPO / ".venv" / "bin" / "python")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A make-train checkpoint of the test preset (a few seconds)."""
    from autograder.source import Source
    from capstone import train

    out = tmp_path_factory.mktemp("base")
    train.run(PRESETS["test"], source=Source.parse("solutions"), device="cpu", out=out, check_lessons=False, quiet=True,
              sample=False)
    return out / "ckpt.pt"


@pytest.fixture(scope="module")
def lesson():
    return load_lesson("12", source="solutions", deps="solutions")


def test_the_data_set_is_what_its_generator_writes():
    result = run(PYTHON, "datasets/instructions/generate.py", "--check")
    assert result.returncode == 0, result.stderr


def test_the_splits_share_no_example_and_fit_the_vocabulary():
    train, test = finetune.load_examples("train"), finetune.load_examples("test")
    key = lambda e: (e["instruction"], e["input"])  # noqa: E731
    assert not {key(e) for e in train} & {key(e) for e in test}
    assert {e["task"] for e in test} == {"spell", "capitals", "reverse", "last", "count"}
    words = lambda task, split: {w for e in split if e["task"] == task for w in e["input"].split()}  # noqa: E731
    for task in ("spell", "capitals", "reverse", "last"):
        assert not words(task, train) & words(task, test), task
    alphabet = set(assemble.shakespeare())
    for e in train + test:
        assert not set(e["instruction"] + e["input"] + e["response"]) - alphabet, e
    assert (REPO / "datasets" / "instructions" / "README.md").read_text().count("licence")


def test_every_held_out_answer_is_checkable(lesson):
    for e in finetune.load_examples("test"):
        text = lesson.format_prompt(e) + e["response"] + finetune.END + "Instruction: more"
        assert lesson.extract_response(text) == e["response"]


def test_balanced_sampler_draws_each_task_about_equally():
    encoded = [("a", ([1, 2], 1))] * 90 + [("b", ([3, 4], 1))] * 10
    sampler = finetune.BalancedSampler(encoded, seed=0)
    drawn = [item[0][0] for _ in range(50) for item in sampler.batch(20)]
    assert 0.4 < drawn.count(3) / len(drawn) < 0.6


def test_score_is_exact_match_per_task():
    examples = [{"task": "t", "response": "a"}, {"task": "t", "response": "b"}, {"task": "u", "response": "c"}]
    assert finetune.score(examples, ["a", "B", "c"]) == {"t": 0.5, "u": 1.0, "all": 2 / 3}


def test_widening_the_context_keeps_what_the_model_computes(base):
    course = assemble.load_course("solutions")
    model, _, _ = sample.load_model(course, base, "cpu")
    wider = finetune.widen_context(course, model, 48)
    assert wider.config.block_size == 48 and wider.wpe.weight.shape[0] == 48
    idx = torch.randint(model.config.vocab_size, (2, model.config.block_size), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(model(idx)[0], wider(idx)[0], atol=1e-6)
        wider(torch.zeros(1, 48, dtype=torch.long))  # the new positions work


def test_a_whole_run_from_a_make_train_checkpoint(base, tmp_path, lesson):
    settings = finetune.Settings(steps=6, batch_size=4, warmup=2, eval_interval=3, block_size=128, threads=1)
    summary = finetune.run("solutions", ckpt=base, out=tmp_path, settings=settings, device="cpu", quiet=True,
                           limit_test=12)
    for key in ("accuracy_before", "accuracy_after"):
        assert set(summary[key]) >= {"all"} and all(0.0 <= v <= 1.0 for v in summary[key].values())
    for name in ("ckpt.pt", "loss.png", "examples.txt", "summary.json"):
        assert (tmp_path / name).stat().st_size > 0
    assert json.loads((tmp_path / "summary.json").read_text())["settings"]["steps"] == 6
    course = assemble.load_course("solutions")  # make sample reads the fine-tuned checkpoint
    model, tokenizer, record = sample.load_model(course, tmp_path / "ckpt.pt", "cpu")
    assert model.config.block_size == 128 and record["finetune"]["train_seconds"] >= 0
    prompt = lesson.format_prompt({"instruction": "Spell the word.", "input": "king"})
    assert sample.generate_text(course, model, tokenizer, prompt, tokens=5).startswith(prompt)


def test_make_finetune_reports_accuracy_before_and_after(base, tmp_path):
    result = run("make", "finetune", "SOURCE=solutions", f"CKPT={base}", f"OUT={tmp_path}", "STEPS=3",
                 "ARGS=--batch-size 4 --eval-interval 3 --limit-test 8 --threads 1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"all\s+\d+\.\d% ->\s+\d+\.\d%", result.stdout), result.stdout[-2000:]
    assert "fine-tuning took" in result.stdout and "examples:" in result.stdout


def test_without_a_trained_model_it_says_what_to_do(tmp_path):
    result = run(PYTHON, "-m", "capstone.finetune", "--source", "solutions", "--ckpt", str(tmp_path / "none.pt"))
    assert result.returncode == 1
    assert "make train" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_whole_run_from_gpt2_weights_in_a_folder(tmp_path):
    from tests.test_gpt2 import write_gpt2_folder

    folder = write_gpt2_folder(tmp_path / "gpt2")
    settings = finetune.Settings(steps=2, batch_size=2, warmup=1, eval_interval=2, threads=1)
    summary = finetune.run("solutions", init="gpt2", gpt2_dir=folder, out=tmp_path / "out", settings=settings,
                           device="cpu", quiet=True, limit_test=4)
    assert summary["init"] == {"gpt2": str(folder)}
    assert (tmp_path / "out" / "ckpt.pt").exists()


def test_it_refuses_lessons_that_do_not_pass(monkeypatch, tmp_path, release_dir):
    seen = {}

    def failing(source, lessons, grade=None):
        seen["needed"] = lessons
        return [assemble.Failing("12.collate", "failed", "x (B=3, T=11): values differ")]

    monkeypatch.setattr(assemble, "failing_tasks", failing)
    with pytest.raises(assemble.NotReady) as refused:  # a student's course: the released notebooks
        finetune.run(release_dir, ckpt=tmp_path / "none.pt", out=tmp_path / "out", quiet=True)
    message = str(refused.value)
    assert "make finetune needs lessons" in message and "12.collate" in message
    assert "make finetune SOURCE=solutions" in message
    assert {"01", "07", "08", "09", "10", "12"} <= set(seen["needed"])  # and what they load
    assert not (tmp_path / "out").exists()
