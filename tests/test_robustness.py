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

from autograder.check_cell import CheckNotPassed, check, check_namespace
from autograder.compare import check_unchanged, to_plain
from autograder.fixtures import expected_for
from autograder.grade import grade, grade_report
from autograder.jail import landlock
from autograder.jail.child import Job
from autograder.jail.client import choose, decode, run_forked, run_jobs
from autograder.jail.frames import OUTPUT_LIMIT
from autograder.loader import Loader
from autograder.paths import REPO_ROOT
from autograder.source import lesson_dirs, lesson_notebook
from autograder.report import max_score, results_json
from autograder.run import FAILED, NOT_STARTED, PASSED, Outcome, judge
from autograder.tasks import REGISTRY, Task, get_task
from tests.conftest import REPO, run
from tests.corpus.cases import CASES, RIGHT, TASKS, materialize

PYTHON = str(REPO / ".venv" / "bin" / "python")
JAIL = choose("auto")  # bubblewrap where it can run (CI installs it), else Landlock
NEEDS_SANDBOX = {"reads_solutions", "reads_fixture", "asks_fixtures_module", "loads_reference_lesson",
                 "writes_into_repo", "opens_network"}
NEEDS_SCOPES = {"kills_the_grader"}  # Landlock ABI 6: no signals to processes outside the sandbox


def usable(case) -> bool:
    if case.name in NEEDS_SANDBOX and JAIL.name == "limits":
        return False
    return case.name not in NEEDS_SCOPES or landlock.abi_version() >= 6


def corpus_jobs(tmp_path, cases):
    jobs, owners, roots = [], [], []
    for case in cases:
        course = materialize(case, tmp_path)
        notebook = course / "01_chars" / "01_chars.ipynb"
        roots.append(course)
        # the tasks the case is about, and one more that must be graded normally (or fail alike)
        others = [t for t in ("01.tables", "01.vocab") if t not in case.expect][:1]
        for task_id in [t for t in TASKS if t in case.expect or t in others]:
            task = get_task(task_id)
            jobs.append(Job(len(jobs), task_id, "task", str(notebook), case.timeout or task.timeout,
                            case.memory_gib or task.memory_gib, wall_timeout=case.wall or 0.0))
            owners.append(case)
    return jobs, owners, roots


def matches(reason: str, expected) -> bool:
    return any(part in reason for part in (expected if isinstance(expected, tuple) else (expected,)))


def test_corpus_of_bad_submissions(tmp_path, capsys):
    cases = [c for c in CASES if usable(c)]
    assert len(cases) >= 25
    jobs, owners, roots = corpus_jobs(tmp_path, cases)
    # one batch in one jail, as `make grade` runs a student's lessons: the grader must survive all
    outcomes = run_jobs(jobs, JAIL, readable=[tmp_path])
    problems, graded = [], set()
    for job, case in zip(jobs, owners):
        task = get_task(job.task)
        verdict = judge(task, outcomes[job.id], expected_for(task))
        graded.add(case.name)
        status, reason = case.expect.get(task.id, (PASSED, ""))
        also = case.also.get(task.id, "")
        if verdict.status != status or not matches(verdict.reason, reason) or also not in verdict.reason \
                or "\n" in verdict.reason:
            problems.append(f"{case.name} {task.id}: expected {status} ({reason!r}), got {verdict.status}: "
                            f"{verdict.reason!r}")
        assert len(verdict.output) < 5000, f"{case.name}: output not truncated"
    assert not (REPO_ROOT / "lessons" / "tampered.txt").exists()
    with capsys.disabled():
        print(f"\ncorpus: {len(cases)} bad submissions ({len(jobs)} task runs) in {JAIL.name}, "
              f"{len(graded)} graded without a crash")
    assert not problems, "\n".join(problems)
    assert len(graded) == len(cases)


def test_output_of_a_noisy_submission_is_kept_short(tmp_path):
    case = next(c for c in CASES if c.name == "prints_megabytes")
    notebook = materialize(case, tmp_path) / "01_chars" / "01_chars.ipynb"
    outcome = run_jobs([Job(0, "01.encode", "task", str(notebook))], JAIL, readable=[tmp_path])[0]
    assert outcome.status == "ok"
    assert outcome.output.startswith("xxxx") and "more characters of output not shown" in outcome.output
    assert len(outcome.output) < 2 * OUTPUT_LIMIT


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


def test_wrong_tensors_get_specific_reasons(tmp_path, monkeypatch):
    monkeypatch.setitem(REGISTRY, TENSOR_TASK.id, TENSOR_TASK)  # the forked worker inherits it
    expected = to_plain(make_case(make))
    cases = {**{k: v for k, v in TENSOR_WRONG.items()}, **{k: (v, None) for k, v in TENSOR_RIGHT.items()}}
    jobs = [Job(i, TENSOR_TASK.id, "task", str(tensor_notebook(tmp_path / name / "99_tensors.ipynb", body)),
                TENSOR_TASK.timeout) for i, (name, (body, _)) in enumerate(cases.items())]
    outcomes = run_forked(jobs, loader=Loader(), readable=[tmp_path])
    problems = []
    for (name, (_, reason)), job in zip(cases.items(), jobs):
        outcome = outcomes[job.id]
        verdict = judge(TENSOR_TASK, outcome, expected)
        if reason is None and verdict.status != PASSED:
            problems.append(f"{name}: a correct answer failed: {verdict.reason}")
        elif reason is not None and (verdict.status != FAILED or reason not in verdict.reason):
            problems.append(f"{name}: expected {reason!r}, got {verdict.status}: {verdict.reason!r}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- check cells in the kernel

def defines(code: str) -> dict:
    namespace = {}
    exec(code, namespace)
    return namespace


def test_check_cell_survives_exits_and_interrupts(capsys):
    for body in ("raise SystemExit(1)", "raise KeyboardInterrupt", "import sys; sys.exit()", "import os; os._exit(3)"):
        with pytest.raises(CheckNotPassed) as failed:
            check("01.encode", defines(f"def encode(text, stoi):\n    {body}\n"))
        assert str(failed.value).startswith("FAIL 01.encode:") and capsys.readouterr().out == ""
        assert failed.value._render_traceback_() == [str(failed.value)]  # Jupyter shows this one line


def test_a_failing_or_unstarted_check_fails_its_cell_and_one_run_too_early_says_so():
    with pytest.raises(CheckNotPassed, match="^TODO 01.encode: not started"):
        check("01.encode", defines("def encode(text, stoi):\n    raise NotImplementedError('01.encode: x')\n"))
    with pytest.raises(CheckNotPassed) as early:
        check("01.encode", {})
    assert "encode is not defined in this kernel yet: run the cell that defines it" in str(early.value)


def test_check_cell_prints_the_verdict_only(capsys):
    assert check("01.encode", defines(RIGHT["encode"])) is None  # nothing for Jupyter to show under it
    assert capsys.readouterr().out == "PASS 01.encode (2/2 points)\n"


def test_a_looping_check_cell_times_out_like_make_grade(monkeypatch):
    monkeypatch.setitem(REGISTRY, "01.encode", dataclasses.replace(get_task("01.encode"), timeout=2))
    verdict = check_namespace("01.encode", defines("def encode(text, stoi):\n    while True:\n        pass\n"))
    assert verdict.status == FAILED and verdict.reason == "used more than 2 s of CPU time (an infinite loop?)"


def test_a_check_cell_cannot_eat_the_kernel_memory():
    verdict = check_namespace("01.encode", defines("def encode(text, stoi):\n    x = []\n    while True:\n"
                                                   "        x.append(bytearray(10**8))\n"))
    assert verdict.status == FAILED and "memory" in verdict.reason


def test_check_cell_and_grader_agree_on_ordinary_failures(tmp_path):
    wrong = {"off_by_one": "def encode(text, stoi):\n    return [stoi[c] + 1 for c in text]\n",
             "raises": "def encode(text, stoi):\n    return [stoi[c] for c in text.upper()]\n",
             "generator": "def encode(text, stoi):\n    return (stoi[c] for c in text)\n"}
    for name, code in wrong.items():
        in_kernel = check_namespace("01.encode", defines(code))
        nb = nbformat.read(lesson_notebook("01", "solutions"), as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "encode":
                cell.source = code
        path = tmp_path / name / "01_chars" / "01_chars.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
        graded = next(v for v in grade(path.parent.parent, ["01"]) if v.task == "01.encode")
        assert graded.status == in_kernel.status == FAILED
        assert graded.reason.split(" (cell")[0] == in_kernel.reason.split(" (cell")[0], name


def test_a_lesson_is_checked_with_the_reference_of_earlier_lessons_in_the_notebook_too(tmp_path, release_dir):
    """Lesson 09 done, lesson 08 not: the check cell says what `make grade` says (passed)."""
    course = tmp_path / "course"
    for lid in ("07", "08"):  # the student's own earlier lessons: untouched stubs
        folder = lesson_dirs(release_dir)[lid]
        shutil.copytree(folder, course / folder.name)
    reference09 = lesson_dirs("solutions")["09"]
    shutil.copytree(reference09, course / reference09.name)
    kernel = Loader().load(course / reference09.name / f"{reference09.name}.ipynb", deps=course)
    namespace = vars(kernel)  # the globals of the student's kernel after running its cells
    config = namespace["GPTConfig"](block_size=8, vocab_size=10, n_layer=1, n_head=2, n_embd=8)
    with pytest.raises(NotImplementedError, match="^08"):  # their own lesson 08, in their own kernel
        namespace["GPT"](config)(torch.zeros(1, 4, dtype=torch.long))
    in_kernel = check_namespace("09.forward", namespace)
    graded = next(v for v in grade(course, ["09"]) if v.task == "09.forward")
    assert in_kernel.status == graded.status == PASSED, (in_kernel.reason, graded.reason)


# ---------------------------------------------------------------- the whole grader

def tree_state(*folders):
    state = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")) if folder.is_dir() else [folder]:
            if path.is_file():
                state[str(path)] = (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    return state


def mixed_course(tmp_path, release_dir):
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
    stubs, reference = lesson_dirs(release_dir), lesson_dirs("solutions")
    for lid, folder in reference.items():
        if lid == "01":
            continue
        source = stubs[lid] if lid in stubs and int(lid) % 2 else folder  # some stubs, some reference
        shutil.copytree(source, course / folder.name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return course, ["01", *sorted(set(reference) - {"01"})[:2]]


@pytest.mark.slow
def test_three_runs_are_byte_identical_and_write_nothing_into_the_course(tmp_path, release_dir):
    course, lessons = mixed_course(tmp_path, release_dir)
    # the graded notebooks, and lesson 01's reference and fixture (never lessons/: a student's autosave
    # there would fail this test, and grading a --source folder never opens lessons/)
    watched = [course, REPO_ROOT / "solutions" / "01_chars", REPO_ROOT / "autograder" / "fixtures" / "lesson01.pt"]
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
    in_process = results_json(grade("solutions", ["01"], jail="in-process"))
    assert isolated == in_process and isolated["score"] == max_score(isolated)


@pytest.mark.parametrize("jail", ["landlock", "limits"])
def test_without_bubblewrap_grading_still_works_and_says_how(jail):
    if jail == "landlock" and not landlock.abi_version():
        pytest.skip("no Landlock on this kernel")
    report = grade_report("solutions", ["01"], jail=jail)
    assert all(v.status == PASSED for v in report.verdicts)
    assert report.isolation.name == jail
    assert ("Landlock ABI" if jail == "landlock" else "resource limits only") in str(report.isolation)


def test_stubs_are_not_started_not_failed(release_dir):
    verdicts = grade(str(release_dir), ["01"])
    assert {v.status for v in verdicts} == {NOT_STARTED}


def test_bad_payload_from_a_child_is_a_failure_not_a_crash():
    job = Job(0, "01.encode")
    assert decode(b"garbage", job).status == "error"
    assert decode(b"\x05\x00\x00\x00\x00\x00\x00\x00abcde", job).status == "error"
    assert Outcome("ok").status == "ok"


@pytest.mark.parametrize("value", [torch.empty(3, device="meta"), torch.zeros(3).to_sparse(),
                                   [torch.zeros(2), {"w": torch.zeros(2, 2).to_sparse_csr()}],
                                   __import__("functools").reduce(lambda inner, _: [inner], range(100), 1)],
                         ids=["meta", "sparse", "nested-sparse-csr", "100-deep"])
def test_a_child_sending_a_value_no_check_can_compare_fails_its_task_only(value):
    """torch.load(weights_only=True) rebuilds meta and sparse tensors and any depth of lists; a check's
    comparison would raise on them (or recurse out) in the trusted process. A child that sends one (its
    student code patched the runner's to_plain) fails that task with a fixed phrase."""
    from autograder.jail.frames import frame

    job = Job(0, "01.encode")
    assert decode(frame({"status": "ok", "value": [1, 2], "reason": "", "output": "", "isolation": ""}), job).value == [1, 2]
    outcome = decode(frame({"status": "ok", "value": value, "reason": "", "output": "", "isolation": ""}), job)
    assert (outcome.status, outcome.value) == ("error", None)
    assert outcome.reason.startswith(("returned a sparse, meta-device or quantized tensor", "returned lists or dicts nested"))


def test_a_value_the_comparison_was_not_written_for_fails_the_task_not_the_grader():
    """Whatever a comparison raises besides CheckFailed is the submission's failure, in a fixed phrase."""
    task = dataclasses.replace(get_task("01.encode"), compare=lambda got, expected: got.no_such_attribute)
    verdict = judge(task, Outcome("ok", value=[1, 2]), [1, 2])
    assert verdict.status == FAILED and verdict.reason == "returned something the check cannot compare with the reference"
