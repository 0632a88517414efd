"""Autograde step: nbgrader's Execute, with the student's kernel in the jail (jail/kernel.py).

The kernel's earlier lessons (its set-up cells' `load_lesson("08")`) come from the course's source
notebooks compiled into a file the kernel reads (reference.py): the lessons before this one only.
`jail = "none"` (make autograde UNSAFE=1) runs an ordinary kernel with the same reference lessons.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from jupyter_core.utils import run_sync
from nbgrader.preprocessors import Execute
from traitlets import Unicode

from ..jail.kernel import JailedKernelManager
from ..loader import Loader
from ..paths import lesson_id
from ..reference import CompiledLessons
from ..source import Source
from .commands import course_config


def course_source() -> Source:
    """The course's source notebooks (nbgrader's source folder: solutions/ here): the reference."""
    return Source.parse(Path(course_config()["source"]).resolve())


class JailedExecute(Execute):
    jail = Unicode("bwrap", help="bwrap: run the kernel in bubblewrap; none: an ordinary kernel").tag(config=True)

    def __init__(self, **kwargs):
        kwargs.setdefault("kernel_manager_class", JailedKernelManager)
        super().__init__(**kwargs)
        self._reference = ""

    def preprocess(self, nb, resources, km=None):
        lesson = lesson_id(resources["nbgrader"]["assignment"])
        source = course_source()
        compiled = CompiledLessons.compile(source, [lid for lid in source.lessons() if lid < lesson],
                                           Loader().read_notebook)
        handle, self._reference = tempfile.mkstemp(prefix="gpt-course-reference-", suffix=".bin")
        with os.fdopen(handle, "wb") as f:
            f.write(compiled.to_bytes())
        try:
            return super().preprocess(nb, resources, km)
        finally:
            os.unlink(self._reference)

    async def async_start_new_kernel(self, **kwargs):
        manager = self.km
        if isinstance(manager, JailedKernelManager):
            manager.jail = self.jail
            manager.visible = self.resources.get("metadata", {}).get("path") or ""
            manager.reference = self._reference
        await super().async_start_new_kernel(**kwargs)

    # nbclient's blocking start_new_kernel (what Execute.preprocess calls) wraps the base class's
    # coroutine, not this override: without this line the kernel never got its jail settings.
    start_new_kernel = run_sync(async_start_new_kernel)
