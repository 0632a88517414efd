"""A corpus of bad submissions, generated from the reference lesson 01 notebook (and a tiny tensor
lesson), each with the verdict the grader must give. tests/test_robustness.py grades them all.

A case writes one course folder (`<root>/01_chars/01_chars.ipynb`) and says, per task, the status
and a piece of the one-line reason it expects; tasks it does not name must pass (the rest of the
lesson is graded normally).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat

from autograder.paths import REPO_ROOT
from autograder.source import lesson_notebook

REFERENCE = lesson_notebook("01", "solutions")
TASKS = ("01.vocab", "01.tables", "01.encode", "01.decode")
RIGHT = {
    "build_vocab": "def build_vocab(text):\n    return sorted(set(text))\n",
    "make_tables": "def make_tables(chars):\n    stoi = {c: i for i, c in enumerate(chars)}\n"
                   "    return stoi, {i: c for c, i in stoi.items()}\n",
    "encode": "def encode(text, stoi):\n    return [stoi[c] for c in text]\n",
    "decode": "def decode(ids, itos):\n    return ''.join(itos[i] for i in ids)\n",
}


@dataclass
class Case:
    name: str
    write: Callable[[Path], None]  # writes the notebook at this path
    expect: dict[str, tuple[str, str]] = field(default_factory=dict)  # task -> (status, reason part)
    # the reason part may be a tuple of alternatives (what a path hidden by bubblewrap vs Landlock says)
    timeout: float | None = None  # per-task CPU-time limit for this case (keeps the corpus fast)
    wall: float | None = None  # per-task wall-clock backstop (default: limits.wall_backstop(timeout))
    memory_gib: float | None = None
    deterministic: bool = True  # fit for the byte-identical results.json test
    also: dict[str, str] = field(default_factory=dict)  # task -> a second piece its reason must hold


def _cells(solutions: dict[str, str]) -> nbformat.NotebookNode:
    nb = nbformat.read(REFERENCE, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell.source = solutions[grade_id]
    return nb


def with_code(**solutions: str) -> Callable[[Path], None]:
    """The reference notebook with these graded cells (by grade id = function name) replaced."""
    def write(path: Path) -> None:
        nb = _cells(solutions)
        nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in
                    {k for k, v in solutions.items() if v is None}]
        nbformat.write(nb, path)
    return write


def with_bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def truncated(path: Path) -> None:
    text = REFERENCE.read_bytes()
    path.write_bytes(text[: len(text) // 2])


def nbformat3(path: Path) -> None:
    nb = nbformat.read(REFERENCE, as_version=4)
    nbformat.write(nbformat.convert(nb, 3), path, version=3)


def folder(path: Path) -> None:
    path.mkdir()


def fifo(path: Path) -> None:
    os.mkfifo(path)


def dangling_link(path: Path) -> None:
    path.symlink_to(path.parent / "gone.ipynb")


def encode_then(extra: str) -> str:
    """A correct encode whose body first runs `extra` (indented into the function)."""
    body = "\n".join("    " + line for line in extra.strip().split("\n"))
    return f"def encode(text, stoi):\n{body}\n    return [stoi[c] for c in text]\n"


def encode_doing(body: str) -> str:
    return "def encode(text, stoi):\n" + "\n".join("    " + line for line in body.strip().split("\n")) + "\n"


FAIL, TODO = "failed", "not started"
HIDDEN = ("FileNotFoundError", "PermissionError")  # bubblewrap: not there; Landlock: denied
ALL = lambda status, reason: {t: (status, reason) for t in TASKS}  # noqa: E731
ENC = lambda reason: {"01.encode": (FAIL, reason)}  # noqa: E731
SOLUTIONS, FIXTURE = REPO_ROOT / "solutions" / "01_chars" / "01_chars.ipynb", REPO_ROOT / "autograder" / "fixtures" / "lesson01.pt"

CASES = [
    # -- bad notebooks: a clear reason, the rest of the course graded
    Case("empty_file", with_bytes(b""), ALL(FAIL, "is empty")),
    Case("invalid_json", with_bytes(b"{ this is not json"), ALL(FAIL, "broken JSON")),
    Case("truncated", truncated, ALL(FAIL, "broken JSON")),
    Case("not_utf8", with_bytes(b'{"cells": ["\xff\xfe"]}'), ALL(FAIL, "not UTF-8")),
    Case("json_but_not_a_notebook", with_bytes(b"[1, 2, 3]"), ALL(FAIL, "no list of cells")),
    Case("nbformat_5", with_bytes(b'{"cells": [], "nbformat": 5, "metadata": {}}'), ALL(FAIL, "format 5")),
    Case("nbformat_3_is_upgraded", nbformat3),
    Case("notebook_is_a_folder", folder, ALL(FAIL, "is a folder")),
    Case("notebook_is_a_fifo", fifo, ALL(FAIL, "not a regular file")),
    Case("notebook_is_a_dangling_link", dangling_link, ALL(FAIL, "is a symbolic link")),
    Case("graded_cell_deleted", with_code(encode=None), ENC("encode is not defined in the notebook")),
    Case("function_renamed", with_code(encode=RIGHT["encode"].replace("def encode", "def encode_text")),
         ENC("encode is not defined in the notebook")),
    Case("syntax_error", with_code(decode="def decode(ids, itos):\n    return ''.join(itos[i] for i in ids"),
         {"01.decode": (FAIL, "decode is not defined, because 01_chars.ipynb, cell")},  # only what it defines
         also={"01.decode": "SyntaxError on line 2"}),
    Case("input_at_top_level", with_code(encode="name = input('your name? ')\n" + RIGHT["encode"]),
         ENC("called input(); remove it")),
    Case("input_in_function", with_code(encode=encode_then("input('press enter')")), ENC("called input(); remove it")),
    Case("stub_left", with_code(encode=encode_doing("raise NotImplementedError('01.encode: todo')")),
         {"01.encode": (TODO, "")}),
    # -- the process: exits, crashes, hangs, bombs
    Case("sys_exit_at_top_level", with_code(decode="import sys\nsys.exit(0)\n" + RIGHT["decode"]),
         {"01.decode": (FAIL, "exits the process")}),
    Case("sys_exit_in_function", with_code(encode=encode_then("import sys\nsys.exit(1)")), ENC("exited the process")),
    Case("os_exit", with_code(encode=encode_then("import os\nos._exit(3)")), ENC("exited the process before finishing")),
    Case("segfault", with_code(encode=encode_then("import ctypes\nctypes.string_at(0)")), ENC("segmentation fault")),
    Case("keyboard_interrupt", with_code(encode=encode_then("raise KeyboardInterrupt")), ENC("KeyboardInterrupt")),
    Case("infinite_loop", with_code(encode=encode_then("while True:\n    pass")),
         ENC("used more than 3 s of CPU time (an infinite loop?)"), timeout=3),
    Case("sleeping_subprocess", with_code(encode=encode_then(
        "import subprocess\nsubprocess.run(['sleep', '60'])")),
         ENC("did not finish within 4 s of wall-clock time although it used only"), timeout=3, wall=4),
    Case("spinning_subprocess", with_code(encode=encode_then(  # CPU time of the processes it starts counts too
        "import subprocess, sys\nsubprocess.run([sys.executable, '-c', 'while True: pass'])")),
         ENC("used more than 3 s of CPU time"), timeout=3),
    Case("recursion_bomb", with_code(encode="def encode(text, stoi):\n    return encode(text, stoi)\n"),
         ENC("recursed too deeply")),
    Case("deep_c_recursion", with_code(encode="import sys\nsys.setrecursionlimit(10**8)\n"
                                              "def encode(text, stoi):\n"
                                              "    return sorted([0], key=lambda _: encode(text, stoi))\n"),
         ENC("segmentation fault"), timeout=8, deterministic=False),
    Case("tensor_memory_bomb", with_code(encode=encode_then("import torch\nx = torch.ones(10**12)")),
         ENC("used more than 0.5 GiB"), memory_gib=0.5),
    Case("list_memory_bomb", with_code(encode=encode_then("x = []\nwhile True:\n    x.append(bytearray(10**7))")),
         ENC("used more than 0.5 GiB"), memory_gib=0.5),
    Case("signal_self", with_code(encode=encode_then("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)")),
         ENC("stopped by signal SIGTERM")),
    Case("huge_result", with_code(build_vocab="import torch\ndef build_vocab(text):\n    return torch.zeros(2_000_000)"),
         {"01.vocab": (FAIL, "returned more than 64 MiB")}),
    # -- noise: output is captured and cut, the task still passes
    Case("prints_megabytes", with_code(encode=encode_then("print('x' * 3_000_000)"))),
    Case("c_level_output", with_code(encode=encode_then("import os\nos.write(1, b'y' * 3_000_000)\nos.write(2, b'z' * 10)"))),
    Case("warnings_flood", with_code(encode=encode_then(
        "import warnings\nfor i in range(20000):\n    warnings.warn(f'careful {i}')"))),
    # -- wrong answers: a specific reason
    Case("generator_not_list", with_code(build_vocab="def build_vocab(text):\n    return (c for c in sorted(set(text)))"),
         {"01.vocab": (FAIL, "expected a list, got a generator")}),
    Case("string_not_list", with_code(build_vocab="def build_vocab(text):\n    return ''.join(sorted(set(text)))"),
         {"01.vocab": (FAIL, "expected a list, got a str")}),
    Case("tensor_not_list", with_code(encode="import torch\ndef encode(text, stoi):\n"
                                             "    return torch.tensor([stoi[c] for c in text])"),
         ENC("expected a list, got a torch.Tensor")),
    Case("off_by_one", with_code(encode=encode_doing("return [stoi[c] + 1 for c in text]")), ENC("expected [")),
    Case("mutates_input_table", with_code(encode=encode_doing("ids = [stoi[c] for c in text]\nstoi.clear()\nreturn ids")),
         ENC("raised KeyError")),
    # -- tampering: cannot turn a wrong answer into a pass, nor touch another task
    Case("patch_torch", with_code(encode="import torch\ntorch.allclose = lambda *a, **k: True\n"
                                         "torch.equal = lambda *a, **k: True\ntorch.isclose = lambda a, b, **k: torch.ones_like(a, dtype=torch.bool)\n"
                                         + encode_doing("return [0 for c in text]")), ENC("encode('hii there')")),
    Case("patch_grader", with_code(encode="import autograder.compare, autograder.run, autograder.tasks\n"
                                          "autograder.compare.compare_outputs = lambda *a, **k: None\n"
                                          "autograder.run.judge = lambda *a, **k: None\n"
                                          "for t in list(autograder.tasks.REGISTRY):\n"
                                          "    autograder.tasks.REGISTRY[t] = autograder.tasks.REGISTRY['01.vocab']\n"
                                          + encode_doing("return []")), ENC("encode('hii there')")),
    Case("fake_exercise", with_code(encode="import autograder.tasks as T, dataclasses\n"
                                           "T.REGISTRY['01.encode'] = dataclasses.replace(T.REGISTRY['01.encode'], exercise=lambda **k: {})\n"
                                           + RIGHT["encode"])),  # the grader uses its own task
    Case("reads_solutions", with_code(encode="import json\nsrc = json.load(open(%r))\n" % str(SOLUTIONS)
                                             + "exec([''.join(c['source']) for c in src['cells'] if 'def encode' in ''.join(c['source'])][0])\n"),
         ENC(HIDDEN)),
    Case("reads_fixture", with_code(encode="import torch\n" + encode_doing(
        f"ref = torch.load({str(FIXTURE)!r})['01.encode']\nreturn ref")), ENC(HIDDEN)),
    Case("asks_fixtures_module", with_code(encode="from autograder.fixtures import expected_for\n"
                                                  "from autograder.tasks import get_task\n" + encode_doing(
        "return expected_for(get_task('01.encode'))")), ENC(("reference outputs for lesson 01 are missing",
                                                             "PermissionError"))),
    Case("loads_reference_lesson", with_code(encode="from autograder import load_lesson\n" + encode_doing(
        "return load_lesson('01', source='solutions').encode(text, stoi)")),
         ENC(("no lesson 01 in solutions", "cannot be read (Permission denied)"))),
    Case("writes_into_repo", with_code(encode=encode_then(
        f"open({str(REPO_ROOT / 'lessons' / 'tampered.txt')!r}, 'w').write('x')")),
         ENC(("raised OSError", "raised FileNotFoundError", "PermissionError"))),
    Case("reseeds_global_rng", with_code(encode="import random, torch\nrandom.seed(0)\ntorch.manual_seed(0)\n"
                                                "torch.set_default_dtype(torch.float64)\n" + RIGHT["encode"])),
    Case("kills_the_grader", with_code(encode=encode_then("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)")),
         ENC("PermissionError")),
    Case("opens_network", with_code(encode=encode_then(
        "import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)")),
         ENC(("raised PermissionError", "raised ConnectionRefusedError")),
         deterministic=False),
]


def materialize(case: Case, root: Path) -> Path:
    """Write the case's course folder under root; returns the course folder."""
    course = root / case.name
    (course / "01_chars").mkdir(parents=True)
    case.write(course / "01_chars" / "01_chars.ipynb")
    return course


def cleanup(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
