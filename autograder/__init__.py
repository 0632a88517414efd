"""The course's autograder: load lesson notebooks, check tasks, grade the course.

    from autograder import load_lesson, check
    lesson = load_lesson("01")          # your lesson 01 definitions, as a module
    check("01.encode")                  # in a notebook: check one task right now
"""

from .check import check
from .loader import LessonLoadError, load_lesson
from .paths import read_tinyshakespeare

__all__ = ["check", "load_lesson", "LessonLoadError", "read_tinyshakespeare"]
