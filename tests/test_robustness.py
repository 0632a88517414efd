"""The grader against untrusted student code: every bad submission in tests/corpus is graded without
a crash, with a one-line reason; tampering cannot pass; runs are deterministic; nothing is written."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil

import nbformat
import pytest
import torch

from autograder import landlock, sandbox
from autograder.check import check
from autograder.compare import check_unchanged, to_plain
from autograder.fixtures import expected_for
from autograder.grade import grade, results_json
from autograder.paths import REPO_ROOT, lesson_dirs, lesson_notebook
from autograder.run import FAILED, NOT_STARTED, PASSED, Outcome, judge, run_exercise
from autograder.tasks import Task, get_task
from tests.conftest import REPO, run
from tests.corpus.cases import CASES, RIGHT, TASKS, materialize

PYTHON = str(REPO / ".venv" / "bin" / "python")
SANDBOXED = landlock.abi_version() >= 1
NEEDS_SANDBOX = {"reads_solutions", "reads_fixture", "asks_fixtures_module", "loads_reference_lesson",
                 "writes_into_repo", "opens_network"}
NEEDS_SCOPES = {"kills_the_grader"}  # Landlock ABI 6: no signals to processes outside the sandbox


def usable(case) -> bool:
    if case.name in NEEDS_SANDBOX and not SANDBOXED:
        return False
    return case.name not in NEEDS_SCOPES or landlock.abi_version() >= 6


def corpus_jobs(tmp_path, cases):
    jobs, owners = [], []
    for case in cases:
        notebook = materialize(case, tmp_path) / "01_chars" / "01_chars.ipynb"
        # the tasks the case is about, and one more that must be graded normally (or fail alike)
        others = [t for t in ("01.tables", "01.vocab") if t not in case.expect][:1]
        for task_id in [t for t in TASKS if t in case.expect or t in others]:
            task = get_task(task_id)
            task = dataclasses.replace(task, timeout=case.timeout or task.timeout,
                                       memory_gib=case.memory_gib or task.memory_gib)
            jobs.append((task, notebook, "reference"))
            owners.append(case)
    return jobs, owners


def test_corpus_of_bad_submissions(tmp_path, capsys):
    cases = [c for c in CASES if usable(c)]
    assert len(cases) >= 25
    jobs, owners = corpus_jobs(tmp_path, cases)
    outcomes = sandbox.run_many(jobs)  # one batch, as `make grade` runs them: the grader must survive all
    problems, graded = [], set()
    for (task, _, _), case, outcome in zip(jobs, owners, outcomes):
        verdict = judge(task, outcome, expected_for(task))
        graded.add(case.name)
        status, reason = case.expect.get(task.id, (PASSED, ""))
        if verdict.status != status or reason not in verdict.reason or "\n" in verdict.reason:
            problems.append(f"{case.name} {task.id}: expected {status} ({reason!r}), got {verdict.status}: "
                            f"{verdict.reason!r}")
        assert len(verdict.output) < 5000, f"{case.name}: output not truncated"
    assert not (REPO_ROOT / "lessons" / "tampered.txt").exists()
    with capsys.disabled():
        print(f"\ncorpus: {len(cases)} bad submissions ({len(jobs)} task runs), "
              f"{len(graded)} graded without a crash")
    assert not problems, "\n".join(problems)
    assert len(graded) == len(cases)


def test_output_of_a_noisy_submission_is_kept_short(tmp_path):
    case = next(c for c in CASES if c.name == "prints_megabytes")
    notebook = materialize(case, tmp_path) / "01_chars" / "01_chars.ipynb"
    outcome = sandbox.run_isolated(get_task("01.encode"), notebook)
    assert outcome.status == "ok"
    assert outcome.output.startswith("xxxx") and "more characters of output not shown" in outcome.output
    assert len(outcome.output) < 2 * sandbox.OUTPUT_LIMIT


# ---------------------------------------------------------------- tensors: specific reasons

def make(x):
    """The reference for the tensor tasks: a (4, 8) float result from a (4, 8) input."""
    return x * 2 + 1


def make_case(make):
    x = torch.arange(32, dtype=torch.float32).reshape(4, 8)
    before = x.clone()
    out = make(x)
    check_unchanged("x", before, x)
    return {"make(x)": out}


TENSOR_TASK = Task(id="99.make", points=1, target="make", hint="x * 2 + 1", exercise=make_case,
                   uses=("make",), timeout=20, fixture=False)
TENSOR_WRONG = {
    "transposed": ("return (x * 2 + 1).T", "expected shape (4, 8), got (8, 4)"),
    "integer": ("return (x * 2 + 1).long()", "expected dtype torch.float32, got torch.int64"),
    "other_device": ("return (x * 2 + 1).to('meta')", "expected a tensor on device cpu, got one on meta"),
    "nan": ("y = x * 2 + 1\n    y[0, 0] = float('nan')\n    return y", "output contains NaN"),
    "inf": ("y = x * 2 + 1\n    y[1, 2] = float('inf')\n    return y", "output contains inf"),
    "list": ("return (x * 2 + 1).tolist()", "expected a torch.Tensor, got a list"),
    "generator": ("return (row for row in x * 2 + 1)", "expected a torch.Tensor, got a generator"),
    "numpy": ("return (x * 2 + 1).numpy()", "expected a torch.Tensor, got a numpy array"),
    "in_place": ("return x.mul_(2).add_(1)", "changed its input x in place"),
    "values": ("return x * 2", "values differ (max abs difference 1)"),
    "none": ("pass", "expected a torch.Tensor, got None"),
    "sparse": ("return (x * 2 + 1).to_sparse()", "expected a torch.Tensor, got a torch.sparse_coo tensor"),
}
TENSOR_RIGHT = {
    "float64": "return (x * 2 + 1).double()",
    "subclass": "class T(torch.Tensor):\n        pass\n    return (x * 2 + 1).as_subclass(T)",
    "non_contiguous": "return (x.T * 2 + 1).T",
}


def tensor_notebook(path, body):
    nb = nbformat.v4.new_notebook()
    meta = {"nbgrader": {"solution": True, "grade": False, "locked": False, "grade_id": "make",
                         "schema_version": 3}}
    nb.cells.append(nbformat.v4.new_code_cell(f"import torch\n\ndef make(x):\n    {body}\n", metadata=meta))
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    return path


def test_wrong_tensors_get_specific_reasons(tmp_path):
    expected = to_plain(make_case(make))
    cases = {**{k: v for k, v in TENSOR_WRONG.items()}, **{k: (v, None) for k, v in TENSOR_RIGHT.items()}}
    jobs = [(TENSOR_TASK, tensor_notebook(tmp_path / name / "99_tensors.ipynb", body), "reference")
            for name, (body, _) in cases.items()]
    problems = []
    for (name, (_, reason)), outcome in zip(cases.items(), sandbox.run_many(jobs)):
        verdict = judge(TENSOR_TASK, outcome, expected)
        if reason is None and verdict.status != PASSED:
            problems.append(f"{name}: a correct answer failed: {verdict.reason}")
        elif reason is not None and (verdict.status != FAILED or reason not in verdict.reason):
            problems.append(f"{name}: expected {reason!r}, got {verdict.status}: {verdict.reason!r}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- check cells in the kernel

def test_check_cell_survives_exits_and_interrupts(capsys):
    for body in ("raise SystemExit(1)", "raise KeyboardInterrupt", "import sys; sys.exit()"):
        namespace = {}
        exec(f"def encode(text, stoi):\n    {body}\n", namespace)
        assert check("01.encode", namespace) == 0.0
        assert capsys.readouterr().out.startswith("FAIL 01.encode:")


def test_check_cell_and_grader_agree_on_ordinary_failures(tmp_path):
    wrong = {"off_by_one": "def encode(text, stoi):\n    return [stoi[c] + 1 for c in text]\n",
             "raises": "def encode(text, stoi):\n    return [stoi[c] for c in text.upper()]\n",
             "generator": "def encode(text, stoi):\n    return (stoi[c] for c in text)\n"}
    task = get_task("01.encode")
    for name, code in wrong.items():
        namespace = {}
        exec(code, namespace)
        in_kernel = judge(task, run_exercise(task, namespace.__getitem__), expected_for(task))
        nb = nbformat.read(lesson_notebook("01", "solutions"), as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "encode":
                cell.source = code
        path = tmp_path / name / "01_chars" / "01_chars.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
        graded = judge(task, sandbox.run_isolated(task, path), expected_for(task))
        assert graded.status == in_kernel.status == FAILED
        assert graded.reason.split(" (cell")[0] == in_kernel.reason.split(" (cell")[0], name


# ---------------------------------------------------------------- the whole grader

def tree_state(*folders):
    state = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")) if folder.is_dir() else [folder]:
            if path.is_file():
                state[str(path)] = (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    return state


def mixed_course(tmp_path):
    """Reference, stub and broken lessons side by side (whatever lessons exist right now)."""
    course = tmp_path / "course"
    broken = {"build_vocab": "def build_vocab(text):\n    return (c for c in set(text))\n",
              "make_tables": "import sys\ndef make_tables(chars):\n    sys.exit(2)\n",
              "encode": "def encode(text, stoi):\n    print('noise ' * 2000)\n    return [stoi[c] for c in text]\n",
              "decode": "def decode(ids, itos):\n    raise KeyboardInterrupt\n"}
    nb = nbformat.read(lesson_notebook("01", "solutions"), as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        cell.source = broken.get(grade_id, cell.source)
    (course / "01_chars").mkdir(parents=True)
    nbformat.write(nb, course / "01_chars" / "01_chars.ipynb")
    stubs, reference = lesson_dirs("lessons"), lesson_dirs("solutions")
    for lid, folder in reference.items():
        if lid == "01":
            continue
        source = stubs[lid] if lid in stubs and int(lid) % 2 else folder  # some stubs, some reference
        shutil.copytree(source, course / folder.name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return course, ["01", *sorted(set(reference) - {"01"})[:2]]


@pytest.mark.slow
def test_three_runs_are_byte_identical_and_write_nothing_into_the_course(tmp_path):
    course, lessons = mixed_course(tmp_path)
    # the graded notebooks, and lesson 01's reference and release (other lessons change under concurrent work)
    watched = [course, REPO_ROOT / "lessons" / "01_chars", REPO_ROOT / "solutions" / "01_chars",
               REPO_ROOT / "autograder" / "fixtures" / "lesson01.pt"]
    before = tree_state(*watched)
    outputs = []
    for i in range(3):
        results = tmp_path / f"results{i}.json"
        args = [a for lid in lessons for a in ("--lesson", lid)]
        done = run(PYTHON, "-m", "autograder", "grade", "--source", str(course), *args, "--results", str(results))
        assert done.returncode == 0, done.stderr
        outputs.append(results.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
    assert tree_state(*watched) == before
    tests = {t["name"]: t for t in json.loads(outputs[0])["tests"]}
    assert "expected a list, got a generator" in tests["01.vocab"]["output"]
    assert "exited the process" in tests["01.tables"]["output"]
    assert tests["01.encode"]["status"] == "passed" and "noise" in tests["01.encode"]["output"]
    assert "KeyboardInterrupt" in tests["01.decode"]["output"]


def test_in_process_grading_gives_the_same_verdicts():
    isolated = results_json(grade("solutions", ["01"]))
    in_process = results_json(grade("solutions", ["01"], isolate=False))
    assert isolated == in_process and isolated["score"] == isolated["max_score"]


def test_without_landlock_grading_still_works_and_says_so_once(monkeypatch, capsys):
    monkeypatch.setattr(landlock, "abi_version", lambda: 0)
    monkeypatch.setattr(sandbox, "_ruleset", None)
    monkeypatch.setattr(sandbox, "_notices", set())
    verdicts = grade("solutions", ["01"])
    assert all(v.status == PASSED for v in verdicts)
    assert capsys.readouterr().err.count("Landlock is not available") == 1


def test_stubs_are_not_started_not_failed():
    verdicts = grade("lessons", ["01"])
    assert {v.status for v in verdicts} == {NOT_STARTED}


def test_bad_payload_from_a_child_is_a_failure_not_a_crash():
    task = get_task("01.encode")
    assert sandbox._as_outcome(b"garbage", task).status == "error"
    assert sandbox._as_outcome(b"\x05\x00\x00\x00\x00\x00\x00\x00abcde", task).status == "error"
    assert Outcome("ok").status == "ok"
    assert "RIGHT" and RIGHT["encode"]
