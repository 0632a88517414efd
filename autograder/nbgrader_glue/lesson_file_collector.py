"""zip_collect: files named <student>_<NN_slug>.ipynb (any folders above) -> submitted/<student>/<NN_slug>/."""

from __future__ import annotations

import os

from nbgrader.plugins import FileNameCollectorPlugin


class LessonFileCollector(FileNameCollectorPlugin):
    def collect(self, submitted_file):
        info = super().collect(submitted_file)
        if info:
            info["file_id"] = os.path.basename(info["file_id"])
        return info
