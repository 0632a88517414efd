"""The capstone leaderboard: a student's own GPT, retrained by the grader and ranked on plain data.

    rules.py    the published limits (token budget, parameters, thresholds) and the run file's schema
    trainer.py  what runs in the jail: the student's lessons train the GPT and hand back its weights
    judge.py    the trusted side: the reference GPT evaluates those weights (val loss, sample)
    entry.py    one entry end to end: refuse a run that breaks a rule, train in the jail, judge
    board.py    points, ranking, results.json with Gradescope's `leaderboard`, the table and figure

Student-facing guide: docs/capstone.md ("The leaderboard"); instructors: docs/grading-a-class.md.
"""
