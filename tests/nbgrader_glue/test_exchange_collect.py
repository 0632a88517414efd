"""PlainFilesCollect (c.ExchangeFactory.collect): `nbgrader collect` from an exchange copies plain files only.

The class of tests/test_submission_files.py submits into an exchange's inbound folder as `nbgrader
submit` leaves it (<student>+<lesson>+<time>/), and the real `nbgrader collect` collects it.
"""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from tests.conftest import REPO, run
from tests.test_submission_files import ATTACKERS, ESCAPES, LESSON, assert_clean, files_under, write_submission


@pytest.mark.nbgrader
def test_exchange_collect_copies_plain_files_only(tmp_path, release_dir, empty_gradebook):
    root = tmp_path / "course"
    (root / ".nbgrader").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copy(empty_gradebook, root / ".nbgrader" / "gradebook.db")
    inbound = tmp_path / "exchange" / "gpt-from-scratch" / "inbound"
    inbound.mkdir(parents=True)
    for student in ("ref", "stub", *ATTACKERS):  # what `nbgrader submit` leaves: <student>+<lesson>+<time>/
        submission = inbound / f"{student}+{LESSON}+2026-01-01 00:00:00.000000 UTC"
        write_submission(submission, student, release_dir, tmp_path)
        (submission / "timestamp.txt").write_text("2026-01-01 00:00:00.000000 UTC")
    (inbound / f"eve{ESCAPES}+{LESSON}+2026-01-01 00:00:00.000000 UTC").mkdir()
    done = run(sys.executable, "-m", "nbgrader", "collect", LESSON, f"--Exchange.root={tmp_path / 'exchange'}",
               "--CollectApp.check_owner=False", cwd=root, env={"PYTHONPATH": str(REPO)}, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    submitted = root / ".nbgrader" / "submitted"
    notebooks = {str(p.relative_to(submitted)) for p in files_under(submitted) if p.suffix == ".ipynb"}
    assert notebooks == {f"ref/{LESSON}/{LESSON}.ipynb", f"stub/{LESSON}/{LESSON}.ipynb"}
    for student in ATTACKERS:
        assert f"refused: {student}/{LESSON}/{LESSON}.ipynb: is a" in done.stderr
    assert "the student name has control characters" in done.stderr
    record = json.loads((root / ".nbgrader" / "refused.json").read_text())
    assert set(record) == {f"{s}/{LESSON}" for s in ATTACKERS}
    assert_clean(done.stdout, done.stderr, *(p.read_bytes() for p in files_under(submitted)))
