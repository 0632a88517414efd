"""stamps.py: the timestamp and secret `make collect` writes into each submission, as `nbgrader submit` does."""

from __future__ import annotations

import datetime
import re

from nbgrader.utils import parse_utc

from autograder.nbgrader_glue import stamps


def test_stamp_writes_a_time_nbgrader_reads_and_a_fresh_secret(tmp_path):
    before = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    stamps.stamp(tmp_path)
    when = parse_utc((tmp_path / "timestamp.txt").read_text())  # what autograde and collect parse
    assert before <= when
    secret = (tmp_path / "submission_secret.txt").read_text()
    assert re.fullmatch(r"[0-9a-f]{128}", secret)
    stamps.stamp(tmp_path)
    assert (tmp_path / "submission_secret.txt").read_text() != secret


def test_a_students_own_stamp_is_replaced_and_never_written_through(tmp_path):
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("someone else's file")
    submission = tmp_path / "alice"
    submission.mkdir()
    (submission / "timestamp.txt").write_text("1999-01-01 00:00:00.000000 UTC")  # an early time, claimed
    (submission / "submission_secret.txt").symlink_to(elsewhere)
    stamps.stamp(submission, "2026-12-05 10:00:00.000000 UTC")
    assert (submission / "timestamp.txt").read_text() == "2026-12-05 10:00:00.000000 UTC"
    assert not (submission / "submission_secret.txt").is_symlink()
    assert elsewhere.read_text() == "someone else's file"


def test_replace_false_keeps_what_nbgrader_wrote(tmp_path):
    (tmp_path / "timestamp.txt").write_text("2026-01-02 03:04:05.000000 UTC")  # zip_collect's, from a file name
    stamps.stamp(tmp_path, replace=False)
    assert (tmp_path / "timestamp.txt").read_text() == "2026-01-02 03:04:05.000000 UTC"
    assert (tmp_path / "submission_secret.txt").is_file()
