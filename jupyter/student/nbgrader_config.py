"""nbgrader settings a student's Jupyter needs (`make lab` puts this folder on JUPYTER_CONFIG_PATH).

JupyterLab's Assignment List and the students' `nbgrader fetch_assignment`, `submit` and
`fetch_feedback` learn the course id and where nbgrader's exchange is from config files only; both
come from the one place the instructors' nbgrader_config.py reads them too.
"""

from pathlib import Path

from autograder.nbgrader_glue import exchange

exchange.configure(get_config(), course_dir=Path(__file__).resolve().parents[2])  # noqa: F821 - given by nbgrader
