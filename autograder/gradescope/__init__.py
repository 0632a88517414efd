"""Grading on Gradescope's container fleet: `make gradescope` builds the autograder zip (build.py);
Gradescope runs its run_autograder per submission, which calls run.py."""
