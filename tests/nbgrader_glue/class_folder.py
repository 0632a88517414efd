"""Lesson 01 as the instructor commands' tests record it in a hand-built gradebook, with a hidden test
(the `course` fixture in conftest.py builds the course folder)."""

LESSON = "01_chars"
HIDDEN_MARK = "hidden-check-w8d"
HIDDEN_LINES = [f'note = "{HIDDEN_MARK}"', 'assert encode("zz", {"z": 7}) == [7, 7], note']
CHECK_SOURCE = "### BEGIN HIDDEN TESTS\n" + "\n".join(HIDDEN_LINES) + '\n### END HIDDEN TESTS\ncheck("01.encode")'
