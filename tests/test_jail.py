"""Hostile students against the jail, on both grading paths, offline.

A fake class for lesson 01 is graded twice -- by `make grade` (one student's tree at a time) and by
the instructor's nbgrader cycle (release, collect, autograde, feedback, export) -- with victims
graded before and after the attackers: a reference (full marks) and an untouched release (0).
Each attacker is the untouched release with attack code at the top level of a solution cell, so it
runs in nbgrader's kernel as well as in every check's child:

    writer   writes the gradebook (manual_score), the course's checks, a .pth into the venv, the
             release and solutions folders, /dev/shm, and fills the disk
    reader   reads solutions/, fixtures, the gradebook, the source notebooks with hidden tests, a
             classmate's submission, another clone of the course (and its .git), the home folder's
             IPython history; prints all it found, base64-encoded; runs a classmate's code
    escaper  leaves a setsid child and a SIGTERM-ignoring process behind, sends UDP and TCP
    killer   kills its parent, its parent's group, and every process it may signal
    bomb     fork bomb (its processes sleep on after the fork limit is hit)
    forger   an encode right on the visible checks and wrong on the hidden one, plus code that
             replaces the grading functions in its own process (the serving side, the old hidden-test
             runner) to report a pass or to smuggle the hidden test out as a "name ..." reason in hex

Afterwards: nothing changed outside the attackers' own scratch (course tree, venv, /dev/shm, the
process table, the other victims' gradebook rows), the victims' grades are exact, the attackers
score 0, and no secret -- above all no hidden test line -- reaches any output, result or feedback
page in any encoding.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import sys
import sysconfig
import time
from pathlib import Path

import nbformat
import pytest

from autograder.jail import bwrap
from autograder.nbgrader_glue.feedback import encodings
from autograder.nbgrader_glue.cells import check_task_id
from tests.conftest import REPO, run

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not bwrap.usable()[0], reason="bubblewrap: " + bwrap.usable()[1])]

LESSON = "01_chars"
FULL = 6.0  # lesson 01's points
HIDDEN_MARK = "hidden-check-k3v"  # appears only inside the instructor's hidden test
HIDDEN_TEST = f'''### BEGIN HIDDEN TESTS
note = "{HIDDEN_MARK}"
assert encode("zz", {{"z": 7}}) == [7, 7], note
### END HIDDEN TESTS
'''
OTHER_CLONE_SECRET = "other-clone-secret-j8w"
HISTORY_SECRET = "ipython-history-secret-p2q"
SLEEP_MARK = "987651"  # in the command line of every process an attacker leaves behind
SECRETS = (HIDDEN_MARK, "BEGIN HIDDEN TESTS", "BEGIN SOLUTION", OTHER_CLONE_SECRET, HISTORY_SECRET)


def attack_code(kind: str, paths: dict) -> str:
    """Top-level code for the encode cell: each step tried, failures swallowed (the jail must stop it)."""
    common = f"""import base64, glob, os, signal, socket, sqlite3, subprocess, sys, time
P = {paths!r}
def _try(f):
    try:
        return f()
    except BaseException:
        return None
"""
    steps = {
        "writer": """
_try(lambda: sqlite3.connect(P["gradebook"]).execute("update grade set manual_score = 100").connection.commit())
_try(lambda: open(P["checks"], "a").write("\\n# attacked\\n"))
_try(lambda: open(os.path.join(P["purelib"], "zz_attack.pth"), "w").write("import os\\n"))
_try(lambda: open(P["release_file"], "a").write(" "))
_try(lambda: open(P["solution_file"], "a").write(" "))
_try(lambda: open("/dev/shm/gpt-course-loot-" + P["mark"], "w").write("loot"))
def _fill(path):
    with open(path, "wb") as f:
        for _ in range(4096):
            f.write(b"\\0" * (1 << 20))
for _where in ("/tmp", os.getcwd(), os.path.dirname(P["gradebook"])):
    _try(lambda: _fill(os.path.join(_where, "fill-" + P["mark"])))
""",
        "reader": """
_loot = []
for _path in P["secrets"]:
    _data = _try(lambda: open(_path, "rb").read())
    if _data:
        _loot.append(_data)
for _pattern in P["globs"]:
    for _path in _try(lambda: glob.glob(_pattern, recursive=True)) or []:
        _data = _try(lambda: open(_path, "rb").read())
        if _data:
            _loot.append(_data)
try:
    import gc
    _loot += [o.encode() for o in gc.get_objects() if isinstance(o, str) and "HIDDEN" in o]
except BaseException:
    pass
print("LOOT", base64.b64encode(b"\\n".join(_loot)).decode()[:200000])
for _path in glob.glob(P["classmates"]):  # run a classmate's solution cells
    for _cell in _try(lambda: __import__("json").load(open(_path))["cells"]) or []:
        if _cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            _try(lambda: exec("".join(_cell["source"]), globals()))
""",
        "escaper": f"""
_try(lambda: subprocess.Popen(["sleep", "{SLEEP_MARK}"], start_new_session=True))
_try(lambda: subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, "
                               "signal.SIG_IGN); time.sleep({SLEEP_MARK})"], start_new_session=True))
_try(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(P["mark"].encode(), ("127.0.0.1", P["udp"])))
_try(lambda: socket.create_connection(("127.0.0.1", P["tcp"]), timeout=1).sendall(P["mark"].encode()))
""",
        "killer": """
_try(lambda: os.kill(os.getppid(), signal.SIGKILL))
_try(lambda: os.killpg(os.getpgid(os.getppid()), signal.SIGKILL))
_try(lambda: os.kill(-1, signal.SIGKILL))
""",
        "forger": """
def _forge():
    import autograder.jail.remote as remote
    remote.Server.answer = lambda self, request: {"value": True}
    remote.Server.serve = lambda self, fd: None
def _smuggle():
    import autograder.jail.child as child
    from autograder.run import Outcome
    child._hidden = lambda code, module: Outcome("error", reason="name " + code.encode().hex().upper())
    child.HIDDEN_VERDICTS = ("passed", "passed", "passed")
_try(_forge)
_try(_smuggle)
""",
        "bomb": f"""
_end = time.time() + 4
while time.time() < _end:
    try:
        if os.fork() == 0:
            time.sleep({SLEEP_MARK} / 1e5)
            os._exit(0)
    except OSError:
        break
""",
    }
    return common + steps[kind]


ATTACKERS = ("writer", "reader", "escaper", "killer", "bomb", "forger")
# right on the visible checks of 01.encode, wrong on the hidden one (a one-entry stoi)
HIDDEN_FAIL_ENCODE = """def encode(text: str, stoi: dict[str, int]) -> list[int]:
    return [stoi[ch] for ch in text] if len(stoi) > 1 else [0] * len(text)
"""


# ---------------------------------------------------------------- the machine around the grader

def digest(*paths: Path) -> dict[str, str]:
    state = {}
    for root in paths:
        for path in sorted(root.rglob("*")) if root.is_dir() else [root]:
            if path.is_file() and ".nbgrader" not in path.parts and "__pycache__" not in path.parts:
                state[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def leftover_processes() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if SLEEP_MARK in cmdline or "gpt-course-loot" in cmdline:
                found.append(f"{entry.name}: {cmdline}")
    return found


class Listener:
    """UDP and TCP sockets on loopback that record anything an attacker manages to send."""

    def __init__(self):
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp.setblocking(False)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(8)
        self.tcp.setblocking(False)

    def received(self) -> list[bytes]:
        got = []
        try:
            while True:
                got.append(self.udp.recv(4096))
        except BlockingIOError:
            pass
        try:
            while True:
                conn, _ = self.tcp.accept()
                got.append(b"tcp connection")
                conn.close()
        except BlockingIOError:
            pass
        return got


def shows_a_secret(text: str) -> list[str]:
    folded = text.lower()  # hex in either case (the forger's smuggling used upper case)
    return [secret for secret in SECRETS if any(form in text or form.lower() in folded for form in encodings(secret))]


# ---------------------------------------------------------------- the class

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A course (with a hidden test), another clone of it, a home folder with history, listeners."""
    root = tmp_path_factory.mktemp("jail")
    course = root / "course"
    (course / "solutions").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", course)
    (course / ".nbgrader").mkdir()
    shutil.copytree(REPO / "solutions" / LESSON, course / "solutions" / LESSON)
    source = course / "solutions" / LESSON / f"{LESSON}.ipynb"
    nb = nbformat.read(source, as_version=4)
    check = next(c for c in nb.cells if check_task_id(c) == "01.encode")
    check.source = HIDDEN_TEST + check.source
    nbformat.write(nb, source)
    done = run(sys.executable, "-m", "nbgrader", "generate_assignment", LESSON, "--force", "--log-level=WARN",
               cwd=course, env={"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    assert done.returncode == 0, done.stderr
    other = root / "other-clone"
    (other / ".git").mkdir(parents=True)
    (other / "secret.txt").write_text(OTHER_CLONE_SECRET)
    (other / ".git" / "objects").write_text(OTHER_CLONE_SECRET)
    home = root / "home"
    (home / ".ipython" / "profile_default").mkdir(parents=True)
    (home / ".ipython" / "profile_default" / "history.sqlite").write_text(HISTORY_SECRET)
    listener = Listener()
    paths = {"gradebook": str(course / ".nbgrader" / "gradebook.db"),
             "checks": str(REPO / "autograder" / "checks" / "lesson01.py"),
             "purelib": sysconfig.get_paths()["purelib"],
             "release_file": str(course / "lessons" / LESSON / f"{LESSON}.ipynb"),
             "solution_file": str(source), "mark": "k7",
             "secrets": [str(source), str(REPO / "autograder" / "fixtures" / "lesson01.pt"),
                         str(course / ".nbgrader" / "gradebook.db"), str(other / "secret.txt"),
                         str(other / ".git" / "objects"), str(home / ".ipython/profile_default/history.sqlite"),
                         os.path.expanduser("~/.ipython/profile_default/history.sqlite")],
             "globs": [str(course / "**" / "*.ipynb"), str(root / "**" / "*.txt"), "/dev/shm/*",
                       "/tmp/**/*.ipynb"],
             "classmates": str(course / ".nbgrader" / "submitted" / "*" / LESSON / f"{LESSON}.ipynb"),
             "udp": listener.udp.getsockname()[1], "tcp": listener.tcp.getsockname()[1]}
    release = nbformat.read(course / "lessons" / LESSON / f"{LESSON}.ipynb", as_version=4)
    reference = nbformat.read(REPO / "solutions" / LESSON / f"{LESSON}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in reference.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    students = {}
    for order, name in (("a1", "ref"), ("a2", "stub"), *(("m", a) for a in ATTACKERS), ("z1", "ref"), ("z2", "stub")):
        nb = nbformat.from_dict(json.loads(json.dumps(release)))
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if name in ("ref", "forger") and grade_id in answers:
                cell.source = "\n".join(line for line in answers[grade_id].split("\n") if "SOLUTION" not in line)
            if name == "forger" and grade_id == "encode":
                cell.source = HIDDEN_FAIL_ENCODE
            if name in ATTACKERS and grade_id == "encode":
                cell.source = attack_code(name, paths) + "\n" + cell.source
        students[f"{order}-{name}"] = nb
    return {"root": root, "course": course, "home": home, "listener": listener, "students": students}


def expected_score(student: str, hidden: bool = True) -> float:
    """make grade has no hidden test (hidden=False); nbgrader's autograde has the one on 01.encode."""
    if student.endswith("-forger"):
        return FULL - 2.0 if hidden else FULL
    return FULL if student.endswith("-ref") else 0.0


def machine(world) -> dict:
    site = Path(sysconfig.get_paths()["purelib"])
    return {"files": digest(world["course"], REPO / "autograder", REPO / "solutions", world["root"] / "other-clone"),
            "site-packages": sorted(p.name for p in site.iterdir()),
            "dev_shm": sorted(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else [],
            "disk fillers": sorted(str(p) for root in (Path("/tmp"), world["root"]) for p in root.rglob("fill-k7"))}


# ---------------------------------------------------------------- make grade

@pytest.fixture(scope="module")
def make_grade(world):
    before = machine(world)
    results = {}
    for student, nb in world["students"].items():
        tree = world["root"] / "trees" / student
        (tree / LESSON).mkdir(parents=True)
        nbformat.write(nb, tree / LESSON / f"{LESSON}.ipynb")
        out = world["root"] / "results" / f"{student}.json"
        done = run(sys.executable, "-m", "autograder", "grade", "--source", str(tree), "--lesson", "01",
                   "--results", str(out), "--jail", "bwrap", env={"HOME": str(world["home"])}, timeout=300)
        assert done.returncode == 0, (student, done.stderr[-2000:])
        results[student] = (json.loads(out.read_text()), done.stdout + done.stderr)
    time.sleep(0.5)  # anything left behind would still be running now
    return {"before": before, "after": machine(world), "results": results,
            "processes": leftover_processes(), "network": world["listener"].received()}


def test_make_grade_victims_are_graded_exactly_before_and_after_the_attackers(make_grade):
    for student, (result, _) in make_grade["results"].items():
        assert result["score"] == expected_score(student, hidden=False), (student, result)
        assert "bubblewrap" in result["output"]


def changes(before: dict, after: dict) -> list[str]:
    files = sorted(k for k in set(before["files"]) | set(after["files"]) if before["files"].get(k) != after["files"].get(k))
    return files + [key for key in before if key != "files" and before[key] != after[key]]


def test_make_grade_attacks_change_nothing_outside_their_jail(make_grade):
    assert changes(make_grade["before"], make_grade["after"]) == []
    assert make_grade["processes"] == []
    assert make_grade["network"] == []


def test_make_grade_shows_no_secret_in_any_encoding(make_grade):
    for student, (result, printed) in make_grade["results"].items():
        assert not shows_a_secret(json.dumps(result) + printed), student
    assert "LOOT" in json.dumps(make_grade["results"]["m-reader"][0])  # the reader did run, and found nothing


# ---------------------------------------------------------------- the instructor's nbgrader cycle

@pytest.fixture(scope="module")
def nbgrader_cycle(world, make_grade):
    course = world["course"]
    inbox = world["root"] / "inbox"
    for student, nb in world["students"].items():
        (inbox / student / LESSON).mkdir(parents=True)
        nbformat.write(nb, inbox / student / LESSON / f"{LESSON}.ipynb")
    # OUTPUTS=1: the attackers also run in nbgrader's optional kernel, the second place student code can run
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "HOME": str(world["home"]),
           "GPT_COURSE_OUTPUTS": "1"}

    def cli(*args):
        done = run(sys.executable, "-m", "autograder.instructor", *args, cwd=course, env=env, timeout=900)
        return done

    assert cli("collect", str(inbox)).returncode == 0
    before = machine(world)
    autograde = cli("autograde", "--jobs", "2")
    time.sleep(0.5)
    processes = leftover_processes()
    feedback = cli("feedback")
    export = cli("export")
    return {"before": before, "after": machine(world), "autograde": autograde, "feedback": feedback,
            "export": export, "processes": processes, "network": world["listener"].received()}


def test_nbgrader_victims_are_graded_exactly_and_attackers_score_zero(world, nbgrader_cycle):
    assert nbgrader_cycle["autograde"].returncode == 0, nbgrader_cycle["autograde"].stderr[-3000:]
    with open(world["course"] / ".nbgrader" / "grades.csv", newline="") as f:
        scores = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f)}
    assert scores == {student: expected_score(student) for student in world["students"]}
    db = sqlite3.connect(world["course"] / ".nbgrader" / "gradebook.db")
    assert db.execute("select count(*) from grade where manual_score is not null").fetchone()[0] == 0
    report = nbgrader_cycle["autograde"].stdout
    assert "NOT GRADED" not in report and "isolation: bubblewrap" in report


def test_nbgrader_attacks_change_nothing_outside_their_jail(nbgrader_cycle):
    assert changes(nbgrader_cycle["before"], nbgrader_cycle["after"]) == []
    assert nbgrader_cycle["processes"] == []
    assert nbgrader_cycle["network"] == []


def test_no_hidden_line_reaches_any_feedback_page_in_any_encoding(world, nbgrader_cycle):
    assert nbgrader_cycle["feedback"].returncode == 0, nbgrader_cycle["feedback"].stderr[-2000:]
    pages = sorted((world["course"] / ".nbgrader" / "feedback").glob("*/*/*.html"))
    assert len(pages) == len(world["students"])
    for page in pages:
        assert not shows_a_secret(page.read_text()), page
    for results in (world["course"] / ".nbgrader" / "gradescope").glob("*/results.json"):
        assert not shows_a_secret(results.read_text()), results
    autograded = (world["course"] / ".nbgrader/autograded/m-reader" / LESSON / f"{LESSON}.ipynb").read_text()
    assert HIDDEN_MARK in autograded  # the instructor's record keeps the hidden test; it just never ran in reach
    assert base64.b64encode(HIDDEN_MARK.encode()).decode()[:12] not in autograded
