"""`python -m autograder.release`: kept as the command's name; the code is autograder/nbgrader_glue/release.py."""

import sys

from .nbgrader_glue.release import LEAK_MARKERS, ReleaseError, check, differences, main, release  # noqa: F401 - re-exported

if __name__ == "__main__":
    sys.exit(main())
