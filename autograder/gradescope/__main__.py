"""`python -m autograder.gradescope --root /autograder`: what run_autograder runs."""

import sys

from .run import main

sys.exit(main())
