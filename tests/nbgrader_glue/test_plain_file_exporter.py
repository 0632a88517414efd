"""PlainFileExporter (c.Autograde.exporter_class): nbgrader's autograde reads submitted/ with it."""

from __future__ import annotations

import shutil

import nbformat
import pytest

from autograder.nbgrader_glue.plain_file_exporter import PlainFileExporter, SubmissionRefused
from tests.test_submission_files import LESSON, MARKER, host_file


def test_it_reads_a_plain_notebook_and_refuses_links_and_non_notebooks(tmp_path, release_dir):
    own = shutil.copy(release_dir / LESSON / f"{LESSON}.ipynb", tmp_path / f"{LESSON}.ipynb")
    nb, resources = PlainFileExporter().from_filename(str(own))
    assert resources["metadata"]["name"] == LESSON and "modified_date" in resources["metadata"]
    assert nbformat.reads(nb, as_version=4).cells
    (tmp_path / "link").mkdir()
    (tmp_path / "link" / f"{LESSON}.ipynb").symlink_to(own)
    (tmp_path / "host.ipynb").symlink_to(host_file(tmp_path))
    (tmp_path / "text.ipynb").write_text(f"{MARKER} is not JSON")
    for path in (tmp_path / "link" / f"{LESSON}.ipynb", tmp_path / "host.ipynb", tmp_path / "text.ipynb"):
        with pytest.raises(SubmissionRefused) as refused:
            PlainFileExporter().from_filename(str(path))
        assert MARKER not in str(refused.value) and "\n" not in str(refused.value)
