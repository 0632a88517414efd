"""Hidden tests run outside student code: the data-only channel (jail/remote.py) and the runner.

The fast half drives remote.Server and remote.Connection over a socket pair in this process: what
crosses is plain data, objects stay behind as numbers, exceptions cross as a builtin class only.
The slow half grades notebooks with instructor hidden tests through grade_report, in the jail: a
class-based hidden test (lesson 07's Head) passes the reference and fails a Head without the mask,
the hidden test's text is nowhere in the student's process, a stub is "not started", and a student
function that loops forever or exits fails the hidden check with a fixed phrase.
"""

from __future__ import annotations

import shutil
import socket
import threading
from pathlib import Path

import nbformat
import pytest
import torch

from autograder.grade import grade_report
from autograder.jail import bwrap, hidden_runner
from autograder.jail.remote import ChannelClosed, Connection, RemoteObject, Server, StudentCodeError
from autograder.source import Source
from tests.conftest import REPO


# ---------------------------------------------------------------- the channel, in one process

class Point:
    def __init__(self, x):
        self.x = x

    def moved(self, by):
        return Point(self.x + by)


def serve(namespace):
    """A Connection to a Server on `namespace` in a thread (the test's stand-in for a jailed child)."""
    ours, theirs = socket.socketpair()
    thread = threading.Thread(target=Server(namespace).serve, args=(theirs.fileno(),), daemon=True)
    thread.start()
    connection = Connection(ours.fileno(), seconds=30)
    connection.wait_ready()
    return connection, (ours, theirs, thread)


def close(handles):
    ours, theirs, thread = handles
    Connection(ours.fileno(), 1).end()
    thread.join(5)
    ours.close()
    theirs.close()


def test_values_cross_as_plain_data_and_objects_stay_behind():
    def double(t):
        return t * 2

    connection, handles = serve({"double": double, "stoi": {"a": 1}, "Point": Point, "torch": torch})
    try:
        assert connection.lookup("stoi") == {"a": 1}
        assert connection.lookup("torch") is torch  # a module: imported again here, by name
        remote_double = connection.lookup("double")
        assert isinstance(remote_double, RemoteObject)
        out = remote_double(torch.ones(2, requires_grad=True))
        assert type(out) is torch.Tensor and out.tolist() == [2.0, 2.0] and not out.requires_grad
        p = connection.lookup("Point")(3)
        assert isinstance(p, RemoteObject) and p.x == 3
        assert p.moved(4).x == 7  # a method: another object that stays behind
        with pytest.raises(KeyError):
            connection.lookup("nothing")
    finally:
        close(handles)


def test_exceptions_cross_as_a_builtin_class_only():
    class Sneaky(Exception):
        pass

    def bad(kind):
        if kind == "value":
            raise ValueError("secret words the runner must not see")
        if kind == "todo":
            raise NotImplementedError("stub")
        raise Sneaky("x")

    connection, handles = serve({"bad": bad})
    try:
        f = connection.lookup("bad")
        with pytest.raises(ValueError) as err:
            f("value")
        assert str(err.value) == ""  # the class crossed, its text did not
        with pytest.raises(NotImplementedError):
            f("todo")
        with pytest.raises(StudentCodeError):
            f("sneaky")
    finally:
        close(handles)


def test_a_module_outside_the_allowed_list_is_not_imported():
    import types

    fake = types.ModuleType("subprocess")
    connection, handles = serve({"sp": fake, "os_module": __import__("os")})
    try:
        with pytest.raises(KeyError):
            connection.lookup("sp")
        with pytest.raises(KeyError):
            connection.lookup("os_module")
    finally:
        close(handles)


def test_a_closed_channel_is_an_error_not_a_hang():
    ours, theirs = socket.socketpair()
    theirs.close()
    with pytest.raises(ChannelClosed):
        Connection(ours.fileno(), 5).wait_ready()
    ours.close()


def test_the_runner_finds_names_inside_functions_and_comprehensions():
    code = compile("def f():\n    return [g(x) for x in xs]\nassert f()", "<t>", "exec")
    assert {"g", "xs", "f"} <= hidden_runner.global_names(code)


# ---------------------------------------------------------------- through the jail

needs_jail = pytest.mark.skipif(not bwrap.usable()[0], reason="bubblewrap: " + bwrap.usable()[1])
LESSON = "07_self_attention"
HEAD_HIDDEN = '''
torch.manual_seed(0)
head = Head(16, 8, 8, 0.0).eval()
x = torch.randn(2, 6, 16)
out = head(x)
assert out.shape == (2, 6, 8), "hidden-head-mark"
later = x.clone()
later[:, 3:] += 1.0
assert torch.allclose(head(later)[:, :3], out[:, :3]), "future tokens must not change the past"
'''
PROBE_MARK = "hidden-probe-" + "q7z"  # the student's code looks for this text in its own memory


def tree(tmp_path: Path, name: str, head_forward: str | None = None, prefix: str = "") -> Path:
    """A copy of lesson 07's reference with Head.forward's body replaced (and code before Head)."""
    root = tmp_path / name
    shutil.copytree(REPO / "solutions" / LESSON, root / LESSON)
    path = root / LESSON / f"{LESSON}.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "class Head(nn.Module)" in c.source)
    if head_forward is not None:
        start = cell.source.index("        ### BEGIN SOLUTION")
        cell.source = cell.source[:start] + head_forward
    cell.source = prefix + cell.source
    nbformat.write(nb, path)
    return root


def hidden_outcome(root: Path, code: str, timeout: float = 10.0):
    """The hidden test's outcome alone (grade_report would let a failed visible check speak first)."""
    from autograder.jail.child import Job
    from autograder.jail.client import choose
    from autograder.jail.hidden import run_hidden
    from autograder.reference import CompiledLessons

    deps = Source.parse("solutions")
    reference = CompiledLessons.for_lesson(deps, "07")
    notebook = root / LESSON / f"{LESSON}.ipynb"
    job = Job(0, "07.head", "hidden", str(notebook), timeout=timeout, hidden=code)
    return run_hidden([job], choose("auto"), readable=[root], reference=reference)[0]


NO_MASK = '''        B, T, C = x.shape
        k, q, v = self.key(x), self.query(x), self.value(x)
        wei = F.softmax(q @ k.transpose(-2, -1) * k.size(-1) ** -0.5, dim=-1)
        return self.dropout(wei) @ v
'''


@pytest.mark.slow
@needs_jail
def test_a_class_based_hidden_test_passes_the_reference_and_fails_a_bug(tmp_path):
    report = grade_report(Source.parse(tree(tmp_path, "ref")), ["07"], hidden={"07.head": HEAD_HIDDEN}, jail="auto")
    assert {v.task: v.status for v in report.verdicts}["07.head"] == "passed"
    outcome = hidden_outcome(tree(tmp_path, "nomask", NO_MASK), HEAD_HIDDEN)
    assert (outcome.status, outcome.reason) == ("error", hidden_runner.FAILED)


@pytest.mark.slow
@needs_jail
def test_the_hidden_test_never_enters_the_students_process(tmp_path):
    # Head's forward returns every string in its process's memory that holds the probe's mark
    snoop = '''        import gc
        return [o for o in gc.get_objects() if isinstance(o, str) and "hidden-probe-" + "q7z" in o]
'''
    probe = f'# {PROBE_MARK}\nfound = Head(16, 8, 8, 0.0)(torch.zeros(1, 2, 16))\nassert found == [], "leak"\n'
    assert hidden_outcome(tree(tmp_path, "snoop", snoop), probe).status == "ok"


@pytest.mark.slow
@needs_jail
@pytest.mark.parametrize("body,status,phrase", [
    ("        raise NotImplementedError('07.head')\n", "not_started", hidden_runner.NOT_STARTED),
    ("        while True:\n            pass\n", "error", hidden_runner.STOPPED),
    ("        import os\n        os._exit(3)\n", "error", hidden_runner.STOPPED),
    ("        print('hidden-head-mark')\n        raise ValueError('hidden-head-mark')\n", "error", hidden_runner.FAILED),
])
def test_hidden_only_failures_give_a_fixed_phrase(tmp_path, body, status, phrase):
    outcome = hidden_outcome(tree(tmp_path, "x", body), HEAD_HIDDEN, timeout=3.0)
    assert (outcome.status, outcome.reason, outcome.output) == (status, phrase, "")


@pytest.mark.slow
@needs_jail
def test_grade_class_runs_the_hidden_tests_of_the_reference(tmp_path):
    """grade-class scores a task as nbgrader's autograde and the Gradescope zip do: the hidden test in
    the reference's check cell must pass too. One correct student, graded against a reference with no
    hidden test (passes) and against one whose hidden test no Head can pass (fails, in a fixed phrase)."""
    from autograder.grade_class import grade_class
    from autograder.nbgrader_glue.cells import check_task_id

    klass = tmp_path / "class"
    shutil.copytree(tree(tmp_path, "ref"), klass / "ref")
    strict = tmp_path / "strict"
    shutil.copytree(REPO / "solutions" / LESSON, strict / LESSON)
    path = strict / LESSON / f"{LESSON}.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if check_task_id(c) == "07.head")
    cell.source += ("\n### BEGIN HIDDEN TESTS\nassert Head(16, 8, 8, 0.0)(torch.zeros(1, 2, 16)).shape == (1, 2, 9), "
                    f'"{PROBE_MARK}"\n### END HIDDEN TESTS\n')
    nbformat.write(nb, path)

    plain = grade_class(klass, tmp_path / "plain", jobs=1, reference=Source.parse(str(tmp_path / "ref")))
    assert {t["name"]: t["status"] for t in plain["ref"]["tests"]}["07.head"] == "passed"
    hidden = grade_class(klass, tmp_path / "hidden", jobs=1, reference=Source.parse(str(strict)))
    tests = {t["name"]: t for t in hidden["ref"]["tests"]}
    assert tests["07.head (visible checks)"]["status"] == "passed"  # what the student sees at once
    assert tests["07.head"]["status"] == "failed" and tests["07.head"]["visibility"] == "after_published"
    assert hidden_runner.FAILED in tests["07.head"]["output"]
    assert PROBE_MARK not in (tmp_path / "hidden" / "ref" / "results.json").read_text()
