"""Time limits count CPU time (autograder/jail/limits.py): a task that loops fails with the CPU-time
reason, one that sleeps fails only at the wall-clock backstop with a reason that says so, on both
worker paths; and on a machine busy with other processes the reference still gets full marks."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from autograder.grade import PASSED, grade_report
from autograder.jail import bwrap
from autograder.jail.child import Job
from autograder.jail.client import choose, run_forked, run_jobs
from autograder.jail.limits import wall_backstop
from autograder.loader import Loader
from autograder.run import FAILED, judge
from autograder.source import Source
from autograder.tasks import REGISTRY, all_tasks, get_task
from tests.corpus.cases import Case, encode_then, materialize, with_code

needs_bwrap = pytest.mark.skipif(not bwrap.usable()[0], reason="bubblewrap: " + bwrap.usable()[1])


def notebook_doing(tmp_path, name: str, code: str) -> str:
    return str(materialize(Case(name, with_code(encode=encode_then(code))), tmp_path) / "01_chars" / "01_chars.ipynb")


def verdict(outcome):
    return judge(get_task("01.encode"), outcome, None)


def run_both(tmp_path, jobs):
    """The jobs in a worker forked from here (the check cell's path) and, where it runs, in bubblewrap."""
    done = [run_forked(jobs, loader=Loader(), readable=[tmp_path])]
    if bwrap.usable()[0]:
        done.append(run_jobs(jobs, choose("bwrap"), readable=[tmp_path]))
    return done


def test_an_infinite_loop_fails_for_cpu_time(tmp_path):
    jobs = [Job(0, "01.encode", "task", notebook_doing(tmp_path, "loop", "while True:\n    pass"), timeout=2),
            Job(1, "01.encode", "task", notebook_doing(tmp_path, "threads", (  # threads count too
                "import threading\nfor _ in range(2):\n    threading.Thread(target=lambda: [0 for _ in iter(int, 1)], "
                "daemon=True).start()\nwhile True:\n    pass")), timeout=2)]
    for outcomes in run_both(tmp_path, jobs):
        for job in jobs:
            got = verdict(outcomes[job.id])
            assert got.status == FAILED and got.reason == "used more than 2 s of CPU time (an infinite loop?)", got


def test_sleeping_fails_at_the_wall_clock_backstop_and_says_so(tmp_path):
    job = Job(0, "01.encode", "task", notebook_doing(tmp_path, "sleep", "import time\ntime.sleep(10**6)"),
              timeout=1, wall_timeout=3)
    for outcomes in run_both(tmp_path, [job]):
        got = verdict(outcomes[0])
        assert got.status == FAILED, got
        assert got.reason.startswith("did not finish within 3 s of wall-clock time although it used only "), got
        assert got.reason.endswith(" s of CPU (blocked or sleeping?)"), got


def test_the_backstop_is_generous():
    assert Job(0, "01.encode").wall_seconds == wall_backstop(10.0) >= 5 * 10.0
    assert Job(0, "01.encode", wall_timeout=3).wall_seconds == 3


@pytest.fixture
def busy_machine():
    """Four busy-looping processes per core, for as long as the test runs."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(4 * (os.cpu_count() or 1))]
    try:
        yield len(spinners)
    finally:
        for spinner in spinners:
            spinner.kill()
        for spinner in spinners:
            spinner.wait()


@pytest.mark.slow
def test_the_reference_gets_full_marks_on_a_busy_machine(busy_machine, monkeypatch):
    """With each task's limit cut to 3 s (of CPU: a few times what a reference task uses), while the
    spinners leave it a small share of the cores: a wall-clock limit of 3 s would fail tasks here."""
    for task in all_tasks():
        monkeypatch.setitem(REGISTRY, task.id, dataclasses.replace(task, timeout=3))
    assert {t.timeout for t in all_tasks()} == {3}
    report = grade_report(Source.parse("solutions"), ["01", "03", "07"])
    assert len(report.verdicts) > 10
    assert [v for v in report.verdicts if v.status != PASSED] == []
