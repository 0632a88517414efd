"""`python -m autograder.instructor`: kept as the command's name; the code is autograder/nbgrader_glue/instructor.py
(the command line) and a module per command beside it."""

import sys

from .nbgrader_glue.instructor import main

if __name__ == "__main__":
    sys.exit(main())
