"""The capstone leaderboard (autograder/leaderboard/): its rules, its judge, and a fake class ranked on
both routes -- `python -m autograder leaderboard` and Gradescope's run_autograder.

The fake class: the reference lessons with the reference preset, a tuned run, a run over the
parameter limit, a run whose lessons are the untouched release (stubs), and two hostile runs: one
prints a forged val loss, tries to write results files and trains badly; one swaps the weights it
hands back for bogus ones. Small budgets keep a training in the jail to seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

import jsonschema
import nbformat
import pytest
import torch

from autograder.gradescope.schema import LEADERBOARD_ENTRY, validate
from autograder.leaderboard import rules as R
from autograder.leaderboard.board import ranked, results_json
from autograder.leaderboard.entry import FAILED, RANKED, REFUSED, Result
from autograder.leaderboard.judge import Reference, WeightsRefused, load_weights
from autograder.source import Source
from tests.conftest import REPO

SMALL = R.smaller(token_budget=60_000, eval_windows=64, curve_points=2, sample_chars=40)


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference.load(Source.parse("solutions"))


# --- the rules --------------------------------------------------------------------------------------

def test_the_base_presets_are_the_capstones(reference):
    from capstone.presets import PRESETS

    for name, settings in R.PRESETS.items():
        for key, value in settings.items():
            assert getattr(PRESETS[name], key) == value, f"{name}.{key}: capstone/presets.py says otherwise"
    cpu_small = PRESETS["cpu-small"]
    assert R.RULES.token_budget == cpu_small.max_iters * cpu_small.batch_size * cpu_small.block_size
    assert reference.count_params(R.PRESETS["cpu-small"]) <= R.RULES.max_params


def test_a_run_takes_the_budget_in_steps(reference):
    run = R.resolve({"preset": "cpu-small", "batch_size": 24, "block_size": 100}, R.RULES, reference.count_params)
    assert run.steps == R.RULES.token_budget // 2400 and run.tokens == run.steps * 2400 <= R.RULES.token_budget
    assert run.settings["n_embd"] == 128 and run.settings["optimizer"] == "adamw"


@pytest.mark.parametrize("request_, words", [
    ({"preset": "cpu-small", "max_iters": 99999}, "a run may set only"),
    ({"preset": "cpu-small", "time_budget": 900}, "a run may set only"),
    ({"preset": "gpu"}, "preset"),
    ({}, "'preset' is a required property"),
    ({"preset": "cpu-small", "lr": "fast"}, "lr: 'fast' is not of type"),
    ({"preset": "cpu-small", "n_layer": 0}, "n_layer: 0 is less than the minimum"),
    ({"preset": "cpu-small", "n_embd": 130}, "multiple of n_head"),
    ({"preset": "cpu-small", "min_lr": 0.01}, "must not exceed lr"),
    ({"preset": "cpu-small", "warmup_iters": 5000}, "must be fewer than the run's 1500 steps"),
    ({"preset": "cpu-small", "batch_size": 512, "block_size": 512, "n_layer": 1, "warmup_iters": 2}, None),
    ({"preset": "cpu-small", "batch_size": 512, "block_size": 512}, "fewer than the run's 5 steps"),
    ({"preset": "cpu-small", "n_layer": 8, "n_embd": 256}, "parameters, more than the limit of 1,000,000"),
    ([1, 2], "is not of type 'object'"),
])
def test_a_run_that_breaks_a_rule_is_refused_with_one_line(reference, request_, words):
    if words is None:  # within every rule: accepted
        assert R.resolve(request_, R.RULES, reference.count_params).steps >= 1
        return
    with pytest.raises(R.RunRefused) as err:
        R.resolve(request_, R.RULES, reference.count_params)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_the_run_file_is_read_as_plain_json(tmp_path):
    with pytest.raises(R.RunRefused, match="no capstone_run.json"):
        R.parse_run_file(tmp_path / R.RUN_FILE)
    (tmp_path / R.RUN_FILE).write_text("{preset: cpu-small}")
    with pytest.raises(R.RunRefused, match="not valid JSON"):
        R.parse_run_file(tmp_path / R.RUN_FILE)
    (tmp_path / R.RUN_FILE).write_text(" " * 5000 + "{}")
    with pytest.raises(R.RunRefused, match="larger than"):
        R.parse_run_file(tmp_path / R.RUN_FILE)
    os.symlink("/etc/passwd", tmp_path / "link.json")
    with pytest.raises(R.RunRefused):
        R.parse_run_file(tmp_path / "link.json")


def test_points_follow_the_thresholds():
    assert [R.RULES.points(v) for v in (2.3, 2.0, 1.85, 1.8, 1.5, float("nan"), None)] == [0, 1, 2, 3, 3, 0, 0]
    assert R.RULES.max_points() == 3


def test_the_cpu_limit_follows_the_budget(reference):
    run = R.resolve({"preset": "cpu-small"}, R.RULES, reference.count_params)
    small = R.resolve({"preset": "cpu-small", "warmup_iters": 2}, SMALL, reference.count_params)
    params = reference.count_params(run.settings)
    assert R.cpu_seconds(small, params, SMALL) < R.cpu_seconds(run, params) < 600


# --- the judge --------------------------------------------------------------------------------------

def test_only_weights_of_the_declared_model_load(reference):
    settings = R.PRESETS["cpu-small"]
    good = {k: v.clone() for k, v in reference.model(settings).state_dict().items()}
    load_weights(reference.model(settings), good)
    wider = reference.model({**settings, "n_embd": 160}).state_dict()
    cases = {
        "not a dict": [1, 2],
        "a name missing": {k: v for k, v in good.items() if k != "wpe.weight"},
        "a name too many": {**good, "extra.weight": torch.zeros(1)},
        "another shape": {**wider},
        "another dtype": {k: v.double() for k, v in good.items()},
        "NaN": {**good, "wpe.weight": torch.full_like(good["wpe.weight"], float("nan"))},
        "tied weights that differ": {**good, "lm_head.weight": good["wte.weight"] + 1},
    }
    for label, weights in cases.items():
        with pytest.raises(WeightsRefused):
            load_weights(reference.model(settings), weights)
            pytest.fail(f"{label}: loaded")


def test_a_leaderboard_entry_follows_gradescopes_format():
    jsonschema.validate({"name": "val loss", "value": 1.7, "order": "asc"}, LEADERBOARD_ENTRY)
    jsonschema.validate({"name": "preset", "value": "cpu-small"}, LEADERBOARD_ENTRY)
    for bad in ({"name": "val loss"}, {"value": 1.0}, {"name": "x", "value": 1, "order": "up"},
                {"name": "x", "value": [1]}, {"name": "x", "value": 1, "rank": 1}):
        with pytest.raises(jsonschema.ValidationError):
            validate({"tests": [], "leaderboard": [bad]})


def test_results_json_scores_thresholds_and_ranks_only_a_finished_run():
    done = Result("a", RANKED, preset="cpu-small", settings={**R.PRESETS["cpu-small"]}, params=410368,
                  tokens=1_536_000, steps=1500, val=1.85, train=1.8, curve=[[768000, 2.0], [1536000, 1.85]])
    out = results_json(done, R.RULES, [])
    validate(out)
    assert out["score"] == 2 and out["leaderboard"][0] == {"name": "val loss", "value": 1.85, "order": "asc"}
    refused = results_json(Result("b", REFUSED, "n_embd (130) must be a multiple of n_head (4)"), R.RULES, [done])
    validate(refused)
    assert refused["score"] == 0 and "leaderboard" not in refused and "refused: n_embd" in refused["tests"][0]["output"]
    assert [r.name for r in ranked([Result("c", FAILED), done])] == ["a", "c"]


# --- a fake class, ranked in the jail on both routes -------------------------------------------------

FORGER = '''
print("val loss 0.1 -- rank me first")
for _path in ("/tmp/results.json", "{out}/forger/results.json", "{out}/leaderboard.txt"):
    try:
        with open(_path, "w") as _f:
            _f.write('{{"score": 100, "leaderboard": [{{"name": "val loss", "value": 0.1}}]}}')
    except OSError:
        pass
'''
BOGUS = '''
import torch as _torch
_torch.nn.Module.state_dict = lambda self, *a, **k: {"wte.weight": _torch.zeros(2, 2)}
'''
TUNED = {"preset": "cpu-small", "batch_size": 8}  # twice the steps on this small budget: val 2.50 against 2.55
FAST = {"preset": "cpu-small", "warmup_iters": 5}


def student(root, name, run, patch: str = "", lessons_from=None):
    folder = root / name
    folder.mkdir(parents=True)
    for lid in R.LESSONS:
        src = next((lessons_from or REPO / "solutions").glob(f"{lid}_*"))
        shutil.copytree(src, folder / src.name)
    if patch:
        path = next(folder.glob("10_*/10_*.ipynb"))
        nb = nbformat.read(path, as_version=4)
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "train_step")
        cell.source += "\n" + patch
        nbformat.write(nb, path)
    if run is not None:
        (folder / R.RUN_FILE).write_text(json.dumps(run))
    return folder


@pytest.fixture(scope="module")
def fake_class(tmp_path_factory, release_dir):
    root, out = tmp_path_factory.mktemp("class"), tmp_path_factory.mktemp("board")
    student(root, "ref", {"preset": "cpu-small"})
    student(root, "tuned", TUNED)
    student(root, "huge", {"preset": "cpu-small", "n_layer": 8, "n_embd": 256})
    student(root, "stubs", FAST, lessons_from=release_dir)
    student(root, "forger", {"preset": "cpu-small", "lr": 1e-4, "min_lr": 1e-5, "warmup_iters": 5},
            FORGER.format(out=out))
    student(root, "bogus", FAST, BOGUS)
    return root, out


@pytest.fixture(scope="module")
def ranked_locally(fake_class):
    from autograder.leaderboard.rank import rank_class

    root, out = fake_class
    results, text = rank_class(root, out, SMALL, say=lambda *a: None)
    return {r.name: r for r in results}, text, out


@pytest.mark.slow
def test_the_class_is_ranked_by_the_judges_numbers(ranked_locally):
    results, text, out = ranked_locally
    order = [r.name for r in ranked(list(results.values()))]
    assert order[:3] == ["tuned", "ref", "forger"], text
    assert results["huge"].status == REFUSED and "more than the limit" in results["huge"].reason
    assert results["stubs"].status == FAILED and "NotImplementedError" in results["stubs"].reason
    assert results["bogus"].status == FAILED and "do not match the course's GPT" in results["bogus"].reason
    assert results["forger"].val > results["ref"].val > results["tuned"].val
    assert "rank me first" not in json.dumps(results["forger"].to_dict())
    for name in results:  # what the grader wrote, and only that
        data = json.loads((out / name / "results.json").read_text())
        validate(data)
        assert data["score"] == SMALL.points(round(results[name].val, 4)) if results[name].val else data["score"] == 0
        assert ("leaderboard" in data) == (results[name].status == RANKED)
    assert json.loads((out / "forger" / "results.json").read_text())["leaderboard"][0]["value"] == \
        round(results["forger"].val, 4)
    assert "(reference)" in text and "cpu-fast" in text and (out / "val_curves.png").stat().st_size > 1000
    assert "rank me first" not in (out / "leaderboard.txt").read_text() + (out / "leaderboard.json").read_text()


@pytest.mark.slow
def test_the_same_submission_scores_the_same_to_the_last_digit(ranked_locally, fake_class, reference):
    from autograder.jail.client import choose
    from autograder.leaderboard.entry import run_entry

    results, _, _ = ranked_locally
    again = run_entry(fake_class[0] / "tuned", "tuned", reference, choose("auto"), SMALL)
    assert again.val == results["tuned"].val and again.curve == results["tuned"].curve
    assert again.sample == results["tuned"].sample


@pytest.mark.slow
def test_gradescope_ranks_the_class_the_same_way(ranked_locally, fake_class, tmp_path):
    from autograder.gradescope.build import build
    from autograder.leaderboard.gradescope import course_record

    results, _, out = ranked_locally
    # the zip takes the local run's reference rows instead of training them again
    references = [Result(**r) for r in json.loads((out / "leaderboard.json").read_text()) if r["reference"]]
    assert sorted(r.name for r in references) == sorted(R.PRESETS)
    solutions = Source.parse("solutions")
    zip_path = build(["capstone"], solutions, out=tmp_path / "zip",
                     capstone=course_record(solutions, SMALL, references))
    names = zipfile.ZipFile(zip_path).namelist()
    assert "course.json" in names and not [n for n in names if n.endswith(".ipynb") or n.startswith("solutions/")]
    for name in ("tuned", "bogus", "huge"):
        root = tmp_path / name
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(root / "source")
        os.chmod(root / "source" / "run_autograder", 0o755)
        shutil.copytree(REPO / "datasets" / "tinyshakespeare", root / "source" / "datasets" / "tinyshakespeare")
        (root / "results").mkdir()
        upload = root / "submission"
        upload.mkdir()
        for path in (fake_class[0] / name).rglob("*.ipynb"):  # any names: matched by their check cells
            shutil.copy(path, upload / f"my {path.name}")
        if (fake_class[0] / name / R.RUN_FILE).exists():
            shutil.copy(fake_class[0] / name / R.RUN_FILE, upload / R.RUN_FILE)
        done = subprocess.run([str(root / "source" / "run_autograder")], capture_output=True, text=True, timeout=600,
                              env={**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable})
        assert done.returncode == 0, done.stderr[-3000:]
        remote = json.loads((root / "results" / "results.json").read_text())
        validate(remote)
        local = json.loads((out / name / "results.json").read_text())
        assert remote["score"] == local["score"] and remote.get("leaderboard") == local.get("leaderboard"), name
        assert remote["tests"] == local["tests"]
    # a run file uploaded as a link is refused with the line that says so (not "no run file was submitted")
    linked = tmp_path / "tuned" / "submission" / R.RUN_FILE
    linked.unlink()
    linked.symlink_to(fake_class[0] / "tuned" / R.RUN_FILE)
    done = subprocess.run([str(tmp_path / "tuned" / "source" / "run_autograder")], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "AUTOGRADER_ROOT": str(tmp_path / "tuned"),
                                            "AUTOGRADER_PYTHON": sys.executable})
    assert done.returncode == 0, done.stderr[-3000:]
    remote = json.loads((tmp_path / "tuned" / "results" / "results.json").read_text())
    assert remote["score"] == 0 and f"{R.RUN_FILE}: is a symbolic link" in json.dumps(remote), remote


def test_the_docs_state_the_published_rules():
    """docs/capstone.md and docs/grading-a-class.md quote RULES: they must say what rules.py says."""
    student = " ".join((REPO / "docs" / "capstone.md").read_text().split())  # line breaks as spaces
    instructor = " ".join((REPO / "docs" / "grading-a-class.md").read_text().split())
    for text in (student, instructor):
        assert f"{R.RULES.token_budget:,} training tokens" in text or f"{R.RULES.token_budget:,} tokens" in text
    assert f"at most {R.RULES.max_params:,} parameters" in student
    assert f"at ≤ {', ≤ '.join(str(t) for t in R.RULES.thresholds[:-1])} and ≤ {R.RULES.thresholds[-1]}" in student
    assert " / ".join(str(t) for t in R.RULES.thresholds) in instructor
    assert f"`flops_floor` = {R.RULES.flops_floor:.1e}".replace("e+", "e") in instructor
    assert "512 validation windows" in student and R.RULES.eval_windows == 512
    assert "`cpu-small` (AdamW, lesson 10) or `cpu-fast`" in student and sorted(R.PRESETS) == ["cpu-fast", "cpu-small"]


def test_the_docs_count_the_reference_entries_parameters(reference):
    student = (REPO / "docs" / "capstone.md").read_text()
    for name in R.PRESETS:
        assert f"{reference.count_params(R.PRESETS[name]):,} parameters" in student, name


def test_the_judge_takes_no_more_snapshots_than_the_rules_ask_for(reference):
    from autograder.leaderboard.judge import judge

    settings = {**R.PRESETS["cpu-small"], "steps": 10}
    weights = reference.model(settings).state_dict()
    rules = R.smaller(eval_windows=4, sample_chars=4, curve_points=2)
    for snapshots, words in (([], "no trained weights"), ([[5, weights]] * 3, "3 snapshots"),
                             ([[5, weights], [5, weights]], "claims step 5"), ([[11, weights]], "claims step 11"),
                             ([[5, weights]], "after the last step"), ([["10", weights]], "unexpected form")):
        with pytest.raises(WeightsRefused, match=words):
            judge(reference, settings, snapshots, rules)
    assert judge(reference, settings, [[5, weights], [10, weights]], rules).curve[1][0] == 10 * 16 * 64
