"""PlainFileExporter: nbgrader's notebook exporter, reading a notebook only when it is a plain file.

Where it goes: c.Autograde.exporter_class in nbgrader_config.py. nbgrader's autograde reads each
notebook in .nbgrader/submitted/<student>/<lesson>/ with this exporter before any preprocessor
runs. `make collect` and the exchange's collect never put a link there, but anything can
(a copy by hand, an older collect): this is the second line of defence. A notebook that is a
symbolic link, a hard link, a pipe or a device is refused without being opened
(autograder/submission_files.py), and a file that is not a notebook is refused with a fixed
phrase, never nbformat's message (which quotes the file's first bytes into nbgrader's log). nbgrader
then leaves that submission ungraded, and the report says why (autograde.notebook_problem).
"""

from __future__ import annotations

import datetime
import os

import nbformat
from nbconvert.exporters import NotebookExporter
from nbconvert.exporters.exporter import ResourcesDict

from ..printable import printable
from ..submission_files import MAX_FILE_BYTES, PLAIN_ONLY, NotPlainFile, read_plain


class SubmissionRefused(ValueError):
    """A submitted notebook nbgrader must not read; the message is one printable line."""


class PlainFileExporter(NotebookExporter):

    def from_filename(self, filename, resources=None, **kw):
        name = os.path.basename(filename)
        try:
            data = read_plain(filename, limit=MAX_FILE_BYTES)
        except NotPlainFile as err:
            raise SubmissionRefused(f"{err} ({PLAIN_ONLY})") from None
        try:
            nb = nbformat.reads(data.decode("utf-8"), as_version=4)
        except Exception:  # noqa: BLE001 - any way a file fails to be a notebook; nbformat's words quote it
            raise SubmissionRefused(printable(f"{name}: not a valid notebook (it could not be read as one)")) from None
        # The metadata nbconvert's from_filename fills in, from the file that was read.
        resources = resources if resources is not None else ResourcesDict()
        if "metadata" not in resources or resources["metadata"] == "":
            resources["metadata"] = ResourcesDict()
        resources["metadata"]["name"] = os.path.splitext(name)[0]
        resources["metadata"]["path"] = os.path.dirname(filename)
        modified = datetime.datetime.fromtimestamp(os.stat(filename, follow_symlinks=False).st_mtime,
                                                   tz=datetime.timezone.utc)
        resources["metadata"]["modified_date"] = modified.strftime("%B %-d, %Y")
        return self.from_notebook_node(nb, resources=resources, **kw)
