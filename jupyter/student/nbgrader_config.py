"""nbgrader settings a student's Jupyter needs (`make lab` puts this folder on JUPYTER_CONFIG_PATH).

JupyterLab's Assignment List and the students' `nbgrader fetch_assignment`, `submit` and
`fetch_feedback` learn the course id and where nbgrader's exchange is from config files only; both
come from the one place the instructors' nbgrader_config.py reads them too.
"""

import sys
from pathlib import Path

course_dir = Path(__file__).resolve().parents[2]
if str(course_dir) not in sys.path:  # a Jupyter started from another Python still finds the course's module
    sys.path.append(str(course_dir))

from autograder.nbgrader_glue import exchange  # noqa: E402 - after the course folder is on the path

exchange.configure(get_config(), course_dir=course_dir)  # noqa: F821 - given by nbgrader
