"""The Gradescope zip on a bare Debian root: setup.sh, then run_autograder on sample submissions.

`make gradescope-fresh-root` (autograder/gradescope/fresh_root.py) does it: debootstrap's minbase
root (kept in build/fresh-root/), a throw-away copy of it entered as root, the zip laid out as
Gradescope does, setup.sh with this machine's pip settings as PIP_* variables, then the reference
(full marks), an untouched release (0, a reason per task) and a hostile notebook (it forges
results.json and hunts for the hidden tests). It takes minutes, mostly waiting for downloads and the
disk, so it starts in the background when pytest has collected this module (tests/conftest.py) and
the test waits for it at the end of the run. It is skipped, with the reason, only where no Debian
root can be made (not root, no apt-get, no util-linux).

The fast tests below check its parts: pip settings, laying out the zip, the expectations.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from autograder.gradescope import fresh_root
from autograder.gradescope.fresh_root import FreshRoot, expectations, pip_settings, why_not
from autograder.tasks import lesson_tasks
from tests.conftest import REPO

LESSON = "01"
FRESH_ROOT_TEST = "test_the_zip_sets_up_and_grades_on_a_fresh_debian_root"
BACKGROUND = pytest.StashKey[tuple]()


def start_in_background(config, items) -> None:
    """Called by tests/conftest.py once collection is done: starts the check if its test will run."""
    if why_not() or BACKGROUND in config.stash or not any(i.name == FRESH_ROOT_TEST for i in items):
        return
    report = Path(config.rootpath) / "build" / "fresh-root" / f"report-{id(config)}.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.unlink(missing_ok=True)
    log = open(report.with_suffix(".log"), "w")
    process = subprocess.Popen([sys.executable, "-m", "autograder.gradescope.fresh_root", "--lesson", LESSON,
                                "--report", str(report)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    config.stash[BACKGROUND] = (process, report)




@pytest.mark.slow
def test_the_zip_sets_up_and_grades_on_a_fresh_debian_root(request):
    reason = why_not()
    if reason:
        pytest.skip(f"no fresh Debian root can be made here: {reason}")
    if BACKGROUND not in request.config.stash:  # selected some other way than by collection: start now
        start_in_background(request.config, [request.node])
    process, report_path = request.config.stash[BACKGROUND]
    status = process.wait(timeout=3600)
    report = json.loads(report_path.read_text())
    log = report_path.with_suffix(".log")
    assert report["cannot"] is None, report["cannot"]
    assert not report["problems"], "\n".join(report["problems"]) + f"\n(its output: {log})"
    assert status == 0, log.read_text()[-3000:]
    full = sum(float(t.points) for t in lesson_tasks(LESSON))
    assert report["scores"] == {"reference": full, "release": 0.0, "hostile": full}
    assert report["isolation"].startswith("Graded in isolation: bubblewrap")
    print(f"fresh root: {report['seconds']}")


def test_pip_settings_pass_as_variables_with_their_local_files_bound(tmp_path):
    (tmp_path / "index" / "simple").mkdir(parents=True)
    (tmp_path / "wheels").mkdir()
    listed = "\n".join([
        f"global.extra-index-url='file://{tmp_path}/index/simple https://example.org/simple'",
        "global.cert='/etc/os-release'",
        f":env:.find-links='{tmp_path}/wheels'",
        "global.find-links='/ignored/because/the/variable/wins'",
        ":env:.default-timeout='180'",
        "global.no-such-path='/nowhere'",
    ])
    env, binds = pip_settings(listed)
    assert env == {"PIP_EXTRA_INDEX_URL": f"file://{tmp_path}/index/simple https://example.org/simple",
                   "PIP_CERT": "/run/host/etc/os-release",  # the root's own /etc stays its own
                   "PIP_FIND_LINKS": f"{tmp_path}/wheels", "PIP_DEFAULT_TIMEOUT": "180", "PIP_NO_SUCH_PATH": "/nowhere"}
    assert sorted(binds) == sorted([(f"{tmp_path}/index", f"{tmp_path}/index"),  # simple/ and the files beside it
                                    ("/etc/os-release", "/run/host/etc/os-release"),
                                    (f"{tmp_path}/wheels", f"{tmp_path}/wheels")])


def test_the_zip_is_laid_out_as_gradescope_does(tmp_path):
    base = tmp_path / "base"
    (base / "etc").mkdir(parents=True)
    autograder_zip = tmp_path / "a.zip"
    with zipfile.ZipFile(autograder_zip, "w") as zf:
        info = zipfile.ZipInfo("setup.sh")
        info.external_attr = 0o755 << 16
        zf.writestr(info, "#!/bin/sh\n")
        info = zipfile.ZipInfo("run_autograder")
        info.external_attr = 0o755 << 16
        zf.writestr(info, "#!/bin/sh\n")
        zf.writestr("course.json", "{}")
    (tmp_path / "work").mkdir()
    root = FreshRoot(base, tmp_path / "work")
    root.lay_out(autograder_zip)
    top = root.root / "autograder"
    assert sorted(p.name for p in top.iterdir()) == ["results", "run_autograder", "setup.sh", "source", "submission"]
    assert (top / "source" / "course.json").read_text() == "{}"
    assert all((top / d / "run_autograder").stat().st_mode & 0o111 for d in (".", "source"))


def results(*tests, output="Graded in isolation: bubblewrap (...)"):
    return {"score": sum(t["score"] for t in tests), "output": output, "tests": list(tests)}


def test(name, score, max_score, output):
    return {"name": name, "score": score, "max_score": max_score, "output": output}


test.__test__ = False  # a helper, not a test


@pytest.mark.parametrize("kind,graded,printed,problem", [
    ("reference", results(test("01.vocab", 1, 1, "PASS")), "", None),
    ("reference", results(test("01.vocab", 0, 1, "FAIL 01.vocab: x")), "", "score 0, expected 1"),
    ("reference", results(test("01.vocab", 1, 1, "PASS"), output="Graded in isolation: landlock (bubblewrap is not "
                          "installed: `sudo apt-get install bubblewrap`)"), "", "not graded in bubblewrap"),
    ("release", results(test("01.vocab", 0, 1, "TODO 01.vocab: not started, the stub still raises")), "", None),
    ("release", results(test("01.vocab", 0, 1, "")), "", "says no reason"),
    ("hostile", results(test("01.vocab", 1, 1, "PASS")), "", None),
    ("hostile", results(test("01.vocab", 1, 1, "PASS " + fresh_root.MARK)), "", "hidden test's text reached"),
    ("hostile", results(test("01.vocab", 1, 1, "PASS")), "leaked " + fresh_root.MARK, "hidden test's text reached"),
    ("hostile", results(test("01.vocab", 1, 1, "PASS"), test("forged", 0, 0, "")), "", "forged results.json"),
])
def test_expectations_name_what_went_wrong(tmp_path, kind, graded, printed, problem):
    (tmp_path / "autograder" / "results").mkdir(parents=True)
    root = SimpleNamespace(root=tmp_path, autograder=tmp_path / "autograder")
    problems = expectations(kind, graded, printed, 1.0, root)
    assert [p for p in problems if problem in p] if problem else problems == []


def test_a_file_the_hostile_notebook_wrote_is_a_problem(tmp_path):
    (tmp_path / "autograder" / "results").mkdir(parents=True)
    (tmp_path / "autograder" / "results" / "forged.txt").write_text("x")
    root = SimpleNamespace(root=tmp_path, autograder=tmp_path / "autograder")
    assert expectations("hostile", results(test("01.vocab", 1, 1, "PASS")), "", 1.0, root) == [
        "hostile: wrote autograder/results/forged.txt"]
