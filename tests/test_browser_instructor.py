"""The instructor's side in a real browser: formgrader lists a graded class, a student reads a feedback page.

A class of three (lesson 01) goes through the instructor's make targets in a temporary course
folder: nbgrader's generate_assignment, then `make collect`, `make autograde` (in the jail) and
`make feedback`. `ada` hands in the reference solutions, `bob` two tasks right, one wrong (a FAIL
verdict) and one untouched, `cy` the untouched release. Then, in Debian's Chromium (as
tests/test_browser.py, skipped with the same message without it):

- formgrader, started by `make formgrader` with a token, lists the three submissions with their scores,
  shows a notebook's verdicts without raw scores, and its Generate Feedback button writes the course's page;
- bob's feedback page, opened from disk as a student opens it: each task named by its id with its
  verdict; every line wraps (no element wider than its box, though some lines are wider than the
  page); no `Out[` prompt under a check cell; no request leaves the machine (every resource the page
  loaded is a file: or data: URL, no element points at another site).

Screenshots land in build/browser/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell

from tests.browser_kit import SHOTS, TOKEN, jupyter, needs_chromium, requests_left, wait_for
from tests.conftest import REPO
from tests.test_instructor_e2e import cells_by_id, filled

pytestmark = [pytest.mark.slow, pytest.mark.nbgrader, needs_chromium]
LESSON = "01_chars"
TASKS = ["01.vocab", "01.tables", "01.encode", "01.decode"]
WRONG_ENCODE = "def encode(text: str, stoi: dict[str, int]) -> list[int]:\n    return [stoi[ch] for ch in text][::-1]\n"
REMOTE_IMAGE = "http://198.51.100.7/plot.png"  # an address for documentation (RFC 5737): never reachable
SCORES = {"ada": "6", "bob": "2", "cy": "0"}  # of 6: bob has 01.vocab and 01.tables (1 point each)


def make(course: Path, *args: str):
    """An instructor's make target, run in the course folder as an instructor runs it."""
    command = ["make", "-f", str(REPO / "Makefile"), "-C", str(course), f"VENV={REPO / '.venv'}", *args]
    result = subprocess.run(command, env={**os.environ, "MPLBACKEND": "Agg"}, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"make {args[0]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """A course folder with lesson 01 released, three students collected, autograded and given feedback."""
    course = tmp_path_factory.mktemp("course")
    (course / "solutions").mkdir()
    shutil.copy(REPO / "nbgrader_config.py", course)
    shutil.copytree(REPO / "solutions" / LESSON, course / "solutions" / LESSON)
    (course / ".nbgrader").mkdir()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", LESSON, "--force", "--log-level=WARN"],
                   cwd=course, check=True, capture_output=True, env=env)  # nbgrader runs `alembic` from PATH
    release = nbformat.read(course / "lessons" / LESSON / f"{LESSON}.ipynb", as_version=4)
    source = nbformat.read(course / "solutions" / LESSON / f"{LESSON}.ipynb", as_version=4)
    bob = filled(release, source, {"build_vocab", "make_tables"})
    cells_by_id(bob)["encode"].source = WRONG_ENCODE
    bob.cells.insert(1, new_markdown_cell(f"My notes ![a plot]({REMOTE_IMAGE})"))  # the page must not fetch it
    inbox = course / "inbox"
    for student, nb in {"ada": filled(release, source, set(cells_by_id(release))), "bob": bob, "cy": release}.items():
        (inbox / student / LESSON).mkdir(parents=True)
        nbformat.write(nb, inbox / student / LESSON / f"{LESSON}.ipynb")
    make(course, "collect", f"FROM={inbox}")
    make(course, "autograde")
    make(course, "feedback")
    return course


@pytest.fixture(scope="module")
def formgrader(graded_class):
    with jupyter(graded_class, "formgrader") as url:
        yield url


def test_formgrader_lists_the_class_with_scores(formgrader, browser):
    browser.get(f"{formgrader}/formgrader?token={TOKEN}")  # what `make formgrader` opens (and logs in with)
    browser.get(f"{formgrader}/formgrader/manage_submissions/{LESSON}")

    def listed(driver):
        rows = [r.text for r in driver.find_elements("css selector", "table tbody tr")]
        return rows if sum(" graded " in f" {row} " for row in rows) == len(SCORES) else None
    rows = wait_for(browser, listed, what="formgrader's list of graded submissions")
    browser.save_screenshot(str(SHOTS / "10-formgrader-submissions.png"))
    for student, score in SCORES.items():
        assert [row for row in rows if f" {student} " in f" {row} " and f" {score} / 6" in f" {row}"], (student, rows)


def test_formgraders_generate_feedback_button_makes_the_course_page(graded_class, formgrader, browser):
    """formgrader's own button (not `make feedback`) renders with the course's template too."""
    folder = graded_class / ".nbgrader" / "feedback" / "cy" / LESSON
    shutil.rmtree(folder)
    browser.get(f"{formgrader}/formgrader/manage_submissions/{LESSON}")

    def click_generate_feedback(driver):  # found and clicked in one poll: the table may redraw in between
        links = [link for r in driver.find_elements("css selector", "table tbody tr") if " cy " in f" {r.text} "
                 for link in r.find_elements("css selector", ".generate-feedback a")]
        if links:
            links[0].click()
        return bool(links)
    wait_for(browser, click_generate_feedback, what="cy's row in formgrader")
    wait_for(browser, lambda d: d.find_elements("css selector", "#success-modal, #error-modal"), seconds=300,
             what="formgrader's Generate Feedback")
    browser.save_screenshot(str(SHOTS / "13-formgrader-generate-feedback.png"))
    assert browser.find_elements("css selector", "#success-modal")
    html = (folder / f"{LESSON}.html").read_text()
    assert "01.encode" in html and "Test cell" not in html and "<script" not in html.lower()
    assert "Content-Security-Policy" in html


def test_formgrader_shows_verdicts_without_raw_scores(graded_class, formgrader, browser):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{graded_class / '.nbgrader' / 'gradebook.db'}") as gb:
        notebook_id = gb.find_submission_notebook(LESSON, LESSON, "bob").id
    browser.get(f"{formgrader}/formgrader/submissions/{notebook_id}/")
    text = wait_for(browser, lambda d: d.find_element("css selector", "body").text
                    if "01.decode" in d.find_element("css selector", "body").text else None,
                    what="bob's notebook in formgrader")
    browser.save_screenshot(str(SHOTS / "11-formgrader-notebook.png"))
    assert "FAIL 01.encode" in text and "TODO 01.decode" in text
    assert "Out[" not in text


def test_a_student_reads_the_feedback_page(graded_class, browser):
    page = graded_class / ".nbgrader" / "feedback" / "bob" / LESSON / f"{LESSON}.html"
    browser.set_window_size(900, 1000)  # narrower than the longest verdict and code lines
    try:
        requests_left(browser)  # forget earlier pages' requests
        browser.get(page.as_uri())
        contents = browser.execute_script("return [...document.querySelectorAll('#toc a')].map(a => a.textContent);")
        assert contents == TASKS
        headings = browser.execute_script("return [...document.querySelectorAll('.nbgrader-label')]"
                                          ".map(e => e.textContent);")
        assert [h for h in headings if h in TASKS] == TASKS and "Test cell" not in headings

        # each check cell: its verdict under it, and no Out[N] prompt with a raw score
        checks = browser.execute_script("""
            return [...document.querySelectorAll('.cell')].filter(c => {
                const label = c.querySelector('.nbgrader-label');
                return label && /^\\d\\d\\./.test(label.textContent);
            }).map(c => [c.querySelector('.nbgrader-label').textContent, c.innerText]);""")
        verdicts = {task: text for task, text in checks}
        assert list(verdicts) == TASKS
        assert "PASS 01.vocab" in verdicts["01.vocab"] and "FAIL 01.encode" in verdicts["01.encode"]
        assert "TODO 01.decode" in verdicts["01.decode"]
        assert not [task for task, text in verdicts.items() if "Out[" in text]

        # every line wraps: no element scrolls sideways, though unwrapped some lines would not fit
        too_wide = "return [...document.querySelectorAll('pre, .output_subarea, .input_area, .cell')]" \
                   ".filter(e => e.scrollWidth > e.clientWidth).length;"
        assert browser.execute_script(too_wide) == 0
        browser.execute_script("document.getElementById('check-01-encode').scrollIntoView();")
        browser.save_screenshot(str(SHOTS / "12-feedback-page.png"))
        browser.execute_script("document.querySelectorAll('pre').forEach(e => e.style.whiteSpace = 'pre');")
        assert browser.execute_script(too_wide) > 0, "no line is long enough to test wrapping"

        # nothing from another site: no script or style sheet points anywhere, and the one request the page
        # makes (the image bob linked to) is refused by the browser before it leaves the machine
        pointed = browser.execute_script("return [...document.querySelectorAll('script, link[href], iframe')]"
                                         ".map(e => e.outerHTML);")
        assert pointed == []
        assert browser.execute_script("return [...document.images].filter(i => i.src === arguments[0]).length;",
                                      REMOTE_IMAGE) == 1
        wait_for(browser, lambda d: d.execute_script("return [...document.images].every(i => i.complete);"),
                 what="the page's images to load or fail")
        assert requests_left(browser) == []
    finally:
        browser.set_window_size(1400, 1000)
