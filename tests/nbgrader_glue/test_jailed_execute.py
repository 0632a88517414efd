"""JailedExecute: nbgrader's Execute with the student's kernel in bubblewrap.

A three-cell notebook of lesson 02 runs in the jailed kernel: its cells run in order in the
notebook's own folder, what a hostile cell tries (read a host secret, reach a listener on this
machine, write next to the notebook or into the kernel's connection folder) fails inside the kernel,
and load_lesson("01") finds the reference lesson compiled for the kernel.
"""

from __future__ import annotations

import platform
import runpy
import socket
from pathlib import Path

import nbformat
import pytest

from autograder.jail import bwrap
from tests.conftest import REPO
from autograder.nbgrader_glue.jailed_execute import JailedExecute

from .tiny import HIDDEN, HIDDEN_MARK, check_cell, demo_cell, notebook, solution_cell

pytestmark = pytest.mark.slow
needs_bwrap = pytest.mark.skipif(not bwrap.usable()[0], reason="bubblewrap: " + bwrap.usable()[1])

ATTEMPTS = '''def attempt(what, action):
    try:
        action()
        print(what, "done")
    except Exception as err:
        print(what, "failed:", type(err).__name__)

folder = os.path.dirname(get_connection_file())
attempt("read /etc/shadow", lambda: open("/etc/shadow").read())
attempt("connect", lambda: socket.create_connection(("127.0.0.1", PORT), timeout=2).close())
attempt("write next to the notebook", lambda: open("written-by-the-student.txt", "w").write("x"))
attempt("write into the kernel's folder", lambda: open(os.path.join(folder, "planted.txt"), "w").write("x"))
attempt("write scratch", lambda: open("/tmp/scratch.txt", "w").write("x"))'''


def resources_for(folder: Path, tmp_path: Path) -> dict:
    """What nbgrader's autograde passes: the notebook's folder is where its kernel runs."""
    return {"nbgrader": {"assignment": folder.name, "notebook": folder.name, "student": "alice",
                         "db_url": f"sqlite:///{tmp_path / 'gradebook.db'}"},
            "metadata": {"path": str(folder)}}


@needs_bwrap
def test_a_notebook_runs_in_the_jail(tmp_path, monkeypatch):
    folder = tmp_path / "autograded" / "alice" / "02_tokens"
    folder.mkdir(parents=True)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0)
    port = listener.getsockname()[1]
    nb = notebook(
        solution_cell("a", "import os, socket\nfrom ipykernel.connect import get_connection_file\nprint(os.getcwd())"),
        solution_cell("b", ATTEMPTS.replace("PORT", str(port))),
        solution_cell("c", 'from autograder import load_lesson\nprint(load_lesson("01").encode("hi", {"h": 0, "i": 1}))'),
    )
    nb.metadata.kernelspec = {"name": "gpt-course", "display_name": "Python (gpt-course)", "language": "python"}
    nbformat.write(nb, folder / "02_tokens.ipynb")
    resources = resources_for(folder, tmp_path)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    try:
        nb, _ = JailedExecute(jail="bwrap", timeout=60).preprocess(nb, resources)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing reached this machine's listener
    finally:
        listener.close()

    printed = ["".join(o.get("text", "") for o in cell.outputs) for cell in nb.cells]
    assert printed[0] == f"{folder}\n"
    # Which error each one meets depends on the machine (Landlock's network rules, or only the empty
    # network namespace): that it fails is what counts.
    outcomes = [line.rsplit(" failed: ", 1)[0] if " failed: " in line else line for line in printed[1].splitlines()]
    assert outcomes == ["read /etc/shadow", "connect", "write next to the notebook", "write into the kernel's folder",
                        "write scratch done"], printed[1]
    assert printed[2] == "[0, 1]\n"  # lesson 01 from the compiled reference: solutions/ is not in the jail
    assert [c.execution_count for c in nb.cells] == [1, 2, 3]
    assert sorted(p.name for p in folder.iterdir()) == ["02_tokens.ipynb"]


def test_unsafe_runs_an_ordinary_kernel_with_the_same_reference(tmp_path, monkeypatch):
    """make autograde UNSAFE=1 (`--JailedExecute.jail=none`): no bubblewrap needed."""
    folder = tmp_path / "autograded" / "alice" / "02_tokens"
    folder.mkdir(parents=True)
    nb = notebook(solution_cell("a", "import os\nprint(os.getcwd())"),
                  solution_cell("b", 'from autograder import load_lesson\nprint(load_lesson("01").encode("hi", {"h": 0, "i": 1}))'))
    nb.metadata.kernelspec = {"name": "gpt-course", "display_name": "Python (gpt-course)", "language": "python"}
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    nb, _ = JailedExecute(jail="none", timeout=60).preprocess(nb, resources_for(folder, tmp_path))
    assert ["".join(o.get("text", "") for o in cell.outputs) for cell in nb.cells] == [f"{folder}\n", "[0, 1]\n"]


def test_the_kernel_runs_a_copy_without_hidden_tests_or_demo_cells_and_the_outputs_come_back(tmp_path, monkeypatch):
    folder = tmp_path / "autograded" / "alice" / "02_tokens"
    folder.mkdir(parents=True)
    # every source the kernel ran (IPython's In), searched for the delimiter (spelled so this cell has none)
    spy = "print('hidden tests seen:', any(('BEGIN ' + 'HIDDEN') in str(v) for v in In))"
    nb = notebook(solution_cell("encode", "print('solution ran')"),
                  check_cell("check-encode", HIDDEN.replace("### END", f"print('{HIDDEN_MARK}')\n### END")
                             + "print('visible part')"),
                  demo_cell("print('demo ran')"),
                  solution_cell("spy", spy))
    nb.metadata.kernelspec = {"name": "gpt-course", "display_name": "Python (gpt-course)", "language": "python"}
    sources = [c.source for c in nb.cells]
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    resources = resources_for(folder, tmp_path)
    nb, resources = JailedExecute(jail="none", timeout=60).preprocess(nb, resources)
    printed = ["".join(o.get("text", "") for o in cell.outputs) for cell in nb.cells]
    assert printed == ["solution ran\n", "visible part\n", "", "hidden tests seen: False\n"]
    assert [c.source for c in nb.cells] == sources and HIDDEN_MARK in nb.cells[1].source  # the record is whole
    assert "tags" not in nb.cells[2].metadata  # the skip tag was on the kernel's copy only
    assert resources["gpt_course"]["kernel_seconds"] > 0


def test_the_course_config_leaves_the_kernel_off_unless_asked(monkeypatch):
    from traitlets.config import Config

    for value, enabled in (("", False), ("0", False), ("1", True)):
        monkeypatch.setenv("GPT_COURSE_OUTPUTS", value)
        config = Config()
        runpy.run_path(str(REPO / "nbgrader_config.py"), init_globals={"get_config": lambda config=config: config})
        assert config.JailedExecute.enabled is enabled
        assert JailedExecute in config.Autograde.autograde_preprocessors


@needs_bwrap
def test_a_looping_cell_stops_at_its_cpu_time_and_the_next_cell_runs(tmp_path, monkeypatch):
    """Per-cell CPU time in the jailed kernel (jail/kernel.py), and the jail's syscall filter there too."""
    from autograder.jail import seccomp

    folder = tmp_path / "autograded" / "alice" / "02_tokens"
    folder.mkdir(parents=True)
    nb = notebook(
        solution_cell("a", "import ctypes, errno\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                           "print(libc.syscall(272, 0), errno.errorcode.get(ctypes.get_errno()))"),  # x86-64 unshare(0)
        solution_cell("b", "while True:\n    pass"),
        solution_cell("c", "print('next cell')"),
    )
    nb.metadata.kernelspec = {"name": "gpt-course", "display_name": "Python (gpt-course)", "language": "python"}
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    execute = JailedExecute(jail="bwrap", cpu_seconds_per_cell=2)
    assert execute.timeout == 40  # the wall-clock backstop: 5 x 2 s + 30 s
    nb, _ = execute.preprocess(nb, resources_for(folder, tmp_path))
    if seccomp.available()[0] and platform.machine() == "x86_64":
        assert nb.cells[0].outputs[0]["text"] == "-1 EPERM\n"
    errors = [o for o in nb.cells[1].outputs if o.output_type == "error"]
    assert errors and errors[0].ename == "CellCPUTimeExceeded", nb.cells[1].outputs
    assert errors[0].evalue == "this cell used more than 2 s of CPU time (an infinite loop?)"
    assert nb.cells[2].outputs[0]["text"] == "next cell\n"
