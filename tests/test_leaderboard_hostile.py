"""The leaderboard facing hostile submissions: a run file, a state_dict or a class folder built to crash
the trusted side. Each is refused (or fails) with one line for that student, and the rest of the class
is ranked. Nothing here trains: the jail's part is replaced where a test needs an entry to get that far.
"""

from __future__ import annotations

import json
import os
import tracemalloc

import pytest
import torch

from autograder.leaderboard import entry as E
from autograder.leaderboard import rank as K
from autograder.leaderboard import rules as R
from autograder.leaderboard import trainer as T
from autograder.leaderboard.judge import Reference, WeightsRefused, judge, load_weights
from autograder.run import Outcome
from autograder.source import Source


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference.load(Source.parse("solutions"))


def refusal(folder, reference) -> str:
    """What run_entry tells the student whose folder holds this run file (nothing reaches the jail)."""
    result = E.run_entry(folder, "student", reference, isolation=None, rules=R.RULES)
    assert result.status == E.REFUSED, result
    assert "\n" not in result.reason and len(result.reason) < 400
    return result.reason


# --- the run file -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, words", [
    # "a run file is JSON, so anything json.loads returns is fine": deep nesting overflows the decoder's stack
    ("[" * 3000, "nested too deeply"),
    ('{"preset": "cpu-small", "lr": ' + "[" * 900 + "]" * 900 + "}", "lr:"),
    # "the schema says integer": JSON Schema counts 128.0 as one, and the model's shapes do not
    ('{"preset": "cpu-small", "n_embd": 128.0}', "n_embd: 128.0 is not a whole number (write 128"),
    ('{"preset": "cpu-small", "n_layer": 2.0}', "n_layer: 2.0 is not a whole number"),
    ('{"preset": "cpu-small", "batch_size": 16.0}', "batch_size: 16.0 is not a whole number"),
    ('{"preset": "cpu-small", "warmup_iters": 5.0}', "warmup_iters: 5.0 is not a whole number"),
    ('{"preset": "cpu-small", "n_head": true}', "n_head: True is not of type 'integer'"),
    # "the schema has a minimum and a maximum": NaN compares False with both; Python's json reads it
    ('{"preset": "cpu-small", "lr": NaN}', "NaN is not a number JSON allows"),
    ('{"preset": "cpu-small", "min_lr": NaN}', "NaN is not a number JSON allows"),
    ('{"preset": "cpu-small", "grad_clip": Infinity}', "Infinity is not a number JSON allows"),
    ('{"preset": "cpu-small", "min_lr": -Infinity}', "-Infinity is not a number JSON allows"),
    ('{"preset": "cpu-small", "lr": 1e999}', "lr: inf is greater than the maximum"),
])
def test_a_hostile_run_file_is_refused_with_one_line(tmp_path, reference, text, words):
    (tmp_path / R.RUN_FILE).write_text(text)
    assert words in refusal(tmp_path, reference)


def test_a_request_with_nan_or_a_float_count_is_refused_even_without_the_file(reference):
    """resolve() is the rules' gate for any request (the reference entries pass one directly)."""
    for request, words in (({"preset": "cpu-small", "lr": float("nan")}, "lr: nan is not a finite number"),
                           ({"preset": "cpu-small", "min_lr": float("nan")}, "min_lr: nan is not a finite number"),
                           ({"preset": "cpu-small", "block_size": 64.0}, "block_size: 64.0 is not a whole number")):
        with pytest.raises(R.RunRefused, match=words):
            R.resolve(request, R.RULES, reference.count_params)


def test_a_large_run_file_is_refused_before_it_is_read(tmp_path, reference):
    """Checking the size after read_bytes() reads a file as large as the student likes into the grader."""
    with open(tmp_path / R.RUN_FILE, "wb") as f:
        f.truncate(64 << 20)  # sparse: 64 MiB of zeros that take no disk
    tracemalloc.start()
    try:
        reason = refusal(tmp_path, reference)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reason == f"{R.RUN_FILE} is larger than {R.MAX_RUN_FILE_BYTES} bytes" and peak < 1 << 20


def test_a_run_file_that_is_not_a_plain_file_of_its_own_is_refused(tmp_path, reference):
    """The run file is read with submission_files' reader: no links followed, no hard links, no pipes."""
    other = tmp_path / "someone-else.json"
    other.write_text(json.dumps({"preset": "cpu-small"}))
    os.link(other, tmp_path / R.RUN_FILE)
    assert "is a hard link" in refusal(tmp_path, reference)
    (tmp_path / R.RUN_FILE).unlink()
    os.mkfifo(tmp_path / R.RUN_FILE)  # would block a plain open() forever
    assert "named pipe" in refusal(tmp_path, reference)


# --- the weights ------------------------------------------------------------------------------------

def odd_weights(reference, how: str) -> dict:
    weights = {k: v.clone() for k, v in reference.model(R.PRESETS["cpu-small"]).state_dict().items()}
    name = "wpe.weight"
    weights[name] = {"sparse": lambda t: t.to_sparse(), "sparse_csr": lambda t: t.to_sparse_csr(),  # noqa: E501
                     "meta": lambda t: t.to("meta")}[how](weights[name])
    return weights


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
@pytest.mark.parametrize("how, words", [("sparse", "sparse_coo tensor"), ("sparse_csr", "sparse_csr tensor"),
                                        ("meta", "tensor on the meta device")])
def test_weights_that_are_not_ordinary_tensors_are_refused_with_one_line(reference, how, words):
    """'A tensor of the right shape and dtype is a weight': isfinite and load_state_dict raise on these."""
    settings = {**R.PRESETS["cpu-small"], "steps": 10}
    with pytest.raises(WeightsRefused, match=f"wpe.weight is a {words}") as err:
        load_weights(reference.model(settings), odd_weights(reference, how))
    assert "\n" not in str(err.value)
    with pytest.raises(WeightsRefused, match=words):
        judge(reference, settings, [[10, odd_weights(reference, how)]], R.smaller(eval_windows=4, sample_chars=4))


def test_an_unforeseen_error_while_judging_fails_that_entry_only(tmp_path, reference, monkeypatch):
    """The judge reads whatever torch.load rebuilt: something no check foresaw fails the entry, not the class."""
    (tmp_path / R.RUN_FILE).write_text(json.dumps({"preset": "cpu-small"}))
    for lid in R.LESSONS:
        (tmp_path / f"{lid}_lesson").mkdir()
    monkeypatch.setattr(E, "run_jobs", lambda jobs, *a, **k: {jobs[0].id: Outcome("ok", {"snapshots": []})})

    def raises(*args, **kwargs):
        raise RuntimeError("sparse tensors do not have strides")
    monkeypatch.setattr(E, "judge", raises)
    result = E.run_entry(tmp_path, "student", reference, isolation=None, rules=R.RULES)
    assert result.status == E.FAILED and result.reason == E.UNJUDGED


class _Odd(torch.nn.Module):
    def __init__(self, how):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(2, 2))
        self.register_buffer("odd", torch.ones(2, 2).to_sparse() if how == "sparse" else torch.empty(2, device="meta"))


@pytest.mark.parametrize("how", ["sparse", "meta"])
def test_the_trainer_says_so_when_the_state_dict_holds_odd_tensors(how, monkeypatch):
    """'.cpu().clone() copies any tensor': it keeps a sparse one sparse, and on a meta one raises the
    NotImplementedError that reads as 'a lesson is not done yet'."""
    with pytest.raises(T.NotOrdinaryWeights):
        T.handed_back(_Odd(how))

    def train(root, settings):
        return {"snapshots": [[1, T.handed_back(_Odd(how))]]}
    monkeypatch.setattr(T, "train", train)
    outcome = T.train_outcome("unused", {})
    assert outcome.status == "error" and outcome.reason == T.NOT_ORDINARY
    assert "sparse or meta-device tensors" in E.failure_reason(outcome, 100.0)


# --- the class folder -------------------------------------------------------------------------------

def a_student(root, name, run=None):
    folder = root / name
    for lid in R.LESSONS:
        (folder / f"{lid}_lesson").mkdir(parents=True)
        (folder / f"{lid}_lesson" / f"{lid}_lesson.ipynb").write_text("{}")
    (folder / R.RUN_FILE).write_text(json.dumps(run or {"preset": "cpu-small"}))
    return folder


@pytest.fixture
def hostile_class(tmp_path, monkeypatch):
    """DIR as a class might hand it in, with run_entry replaced by a recorder (nothing trains)."""
    root = tmp_path / "class"
    a_student(root, "bob")
    os.symlink("bob", root / "alice")  # "alice's" entry would be bob's work
    a_student(root, "evil\x1b[2J\x1b]0;pwned\x07")
    carol = a_student(root, "carol")
    os.link(carol / R.RUN_FILE, tmp_path / "carol-elsewhere.json")  # a hard link: could be anyone's file
    dave = a_student(root, "dave")
    (dave / "01_lesson" / "01_lesson.ipynb").unlink()
    os.symlink(root / "bob" / "01_lesson" / "01_lesson.ipynb", dave / "01_lesson" / "01_lesson.ipynb")
    a_student(root, "erin")
    (root / "fay").mkdir()  # a run file and no lessons: still told why
    (root / "fay" / R.RUN_FILE).write_text(json.dumps({"preset": "cpu-small"}))
    seen = {}

    def recorder(folder, name, ref, isolation, rules, **kwargs):
        seen[name] = folder
        assert not [p for p in folder.rglob("*") if p.is_symlink()], f"{name}: a link reached the entry"
        assert root not in folder.parents, f"{name}: trained from DIR itself, not a private copy"
        if name == "erin":
            raise RuntimeError("a grader bug")
        return E.Result(name, E.RANKED, val=2.0, train=2.0, preset="cpu-small", settings=dict(R.PRESETS["cpu-small"]))
    monkeypatch.setattr(K, "run_entry", recorder)
    monkeypatch.setattr(K, "choose", lambda jail: "test jail")
    return root, tmp_path / "board", seen


def test_make_leaderboard_reads_the_class_folder_as_grade_class_does(hostile_class):
    root, out, seen = hostile_class
    said = []
    results, text = K.rank_class(root, out, references=False, say=said.append)
    results = {r.name: r for r in results}
    # "a folder is a student": a link to bob's folder is not alice's entry, and no name reaches a terminal raw
    assert sorted(seen) == ["bob", "erin", "fay"] and sorted(results) == ["bob", "carol", "dave", "erin", "fay"]
    assert not [line for line in said if "\x1b" in line or "\x07" in line]
    assert any(line.startswith("refused: alice: is a symbolic link") for line in said), said
    assert any(line.startswith("refused: evil\\x1b[2J") and "control characters" in line for line in said), said
    # "a file in the folder is the student's": hard links and links are left out, and the entry says why
    assert results["carol"].status == E.REFUSED and results["carol"].reason.startswith(
        f"carol/{R.RUN_FILE}: is a hard link")
    assert results["dave"].status == E.REFUSED and "dave/01_lesson/01_lesson.ipynb: is a symbolic link" in \
        results["dave"].reason
    # "one bad entry stops the run": a grader error fails erin alone, with a fixed phrase
    assert results["erin"].status == E.FAILED and results["erin"].reason == K.GRADER_ERROR
    assert any("erin: the grader raised RuntimeError" in line for line in said)
    assert results["bob"].status == E.RANKED and "\x1b" not in text
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["bob", "carol", "dave", "erin", "fay"]
