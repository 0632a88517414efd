"""The capstone: train the GPT your lesson notebooks define (`make train`)."""

import sys

# `python -m capstone.train` (and the other commands) imports this package first, while sys.argv[0]
# is still "-m" (documented under `python -m`); Ctrl-C during the command's own imports then ends it
# in one line instead of a traceback. Imported as a library (tests, notebooks), nothing changes.
if sys.argv[:1] == ["-m"]:
    from .errors import stop_at_once_while_starting

    stop_at_once_while_starting()
