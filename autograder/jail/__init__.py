"""One jail for every place student code runs (see docs/jail.md).

    client.py   the grader's side: choose the jail, start a worker, hand it jobs, read outcomes
    worker.py   inside the jail: forks one child per job, enforces time limits, kills leftovers
    child.py    the only process that runs student code: limits, Landlock, then the job
    bwrap.py    bubblewrap command lines: the throw-away root student code sees
    view.py     what that root holds (also what Landlock grants without bubblewrap)
    landlock.py the kernel's unprivileged sandbox, applied by each child to itself
    seccomp.py  the syscall filter (libseccomp): for bwrap's --seccomp, or loaded by each child
    limits.py   rlimits (CPU time, with a wall-clock backstop), and a pids cgroup per jail as root
    kernel.py   a Jupyter kernel inside the jail, for nbgrader's autograde
    frames.py   the messages across the jail's pipes
    install.py  `make jail`
"""
