"""The student's JupyterLab, driven in a real browser (the system's Chromium through selenium).

`make lab` is started as a student starts it -- the real Makefile target, in a temporary course
folder holding a fresh release (never the student's lessons/) -- and Chromium opens lesson 01:

- the file browser is rooted at the course folder (every lesson and the README reachable);
- the kernel is the course's, and a figure drawn in a cell shows as an image (inline, not Agg);
- a check cell run before its stub says to run that cell first; a filled stub's check prints PASS;
  an unfinished task's check fails its cell with one line, no traceback;
- nbgrader's Validate button disagrees with no one: it reports the failing checks;
- nbgrader's instructor tools (Formgrader, Create Assignment, Courses) are not there for students.

Screenshots land in build/browser/ for a person to look at. Needs `make browser` (Debian's
chromium and chromium-driver); skipped, with that message, where they cannot be installed.
"""

from __future__ import annotations

import shutil
import time
import urllib.request

import pytest

from tests.browser_kit import SHOTS, TOKEN, jupyter, needs_chromium, wait_for
from tests.conftest import REPO

pytestmark = [pytest.mark.slow, needs_chromium]
ENCODE = "def encode(text: str, stoi: dict[str, int]) -> list[int]:\n    return [stoi[ch] for ch in text]\n"


@pytest.fixture(scope="module")
def lab(tmp_path_factory, release_dir):
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(release_dir, course / "lessons")
    shutil.copy(REPO / "README.md", course / "README.md")
    with jupyter(course, "lab", "--LabApp.expose_app_in_browser=True") as url:
        yield {"url": url, "course": course}


JS_NOTEBOOK = "const nb = window.jupyterapp.shell.currentWidget; "


def run_cell_with(driver, index: int, source: str | None = None) -> str:
    """Put `source` in cell `index` (as typing would), run it with Shift+Enter, return its output text."""
    from selenium.webdriver.common.keys import Keys

    if source is not None:
        driver.execute_script(JS_NOTEBOOK + "nb.content.widgets[arguments[0]].model.sharedModel.setSource(arguments[1]);",
                              index, source)
    driver.execute_script(JS_NOTEBOOK + "nb.content.activeCellIndex = arguments[0]; nb.content.mode = 'command';"
                          "nb.content.widgets[arguments[0]].node.scrollIntoView(); nb.content.node.focus();", index)
    count = driver.execute_script(JS_NOTEBOOK + "return nb.content.widgets[arguments[0]].model.executionCount;", index)
    driver.switch_to.active_element.send_keys(Keys.SHIFT, Keys.ENTER)
    wait_for(driver, lambda d: d.execute_script(
        JS_NOTEBOOK + "const c = nb.content.widgets[arguments[0]].model; return c.executionCount !== null"
        " && c.executionCount !== arguments[1] && nb.sessionContext.session.kernel.status === 'idle';", index, count),
        what=f"cell {index} to run")
    return driver.execute_script(JS_NOTEBOOK + "return nb.content.widgets[arguments[0]].node"
                                 ".querySelector('.jp-OutputArea') ? nb.content.widgets[arguments[0]].node"
                                 ".querySelector('.jp-OutputArea').innerText : '';", index)


def cell_index(driver, needle: str) -> int:
    return driver.execute_script(JS_NOTEBOOK + "return nb.content.widgets.findIndex(c => "
                                 "c.model.sharedModel.getSource().includes(arguments[0]));", needle)


def test_a_student_works_through_lesson_01_in_jupyterlab(lab, browser):
    url = lab["url"]
    browser.get(f"{url}/lab/tree/lessons/01_chars/01_chars.ipynb?token={TOKEN}")
    wait_for(browser, lambda d: d.execute_script(
        "const w = window.jupyterapp && window.jupyterapp.shell.currentWidget; return !!(w && w.sessionContext"
        " && w.sessionContext.session && w.sessionContext.session.kernel"
        " && w.sessionContext.session.kernel.status === 'idle');"), what="lesson 01 and its kernel")
    kernel = browser.execute_script(JS_NOTEBOOK + "return nb.sessionContext.session.kernel.name;")
    assert kernel == "gpt-course"
    browser.save_screenshot(str(SHOTS / "01-opened.png"))

    # the whole course is in the file browser, not just this lesson's folder
    root = browser.execute_script("return window.jupyterapp.serviceManager.contents.get('').then("
                                  "m => m.content.map(x => x.name));")
    assert {"lessons", "README.md"} <= set(root)

    # set-up cells, then a check run before its stub's cell has run
    first_check = cell_index(browser, 'check("01.')
    for index in range(first_check):
        if browser.execute_script(JS_NOTEBOOK + "return nb.content.widgets[arguments[0]].model.type;", index) == "code":
            source = browser.execute_script(JS_NOTEBOOK + "return nb.content.widgets[arguments[0]].model.sharedModel"
                                            ".getSource();", index)
            if "NotImplementedError" not in source:
                run_cell_with(browser, index)
    encode_check = cell_index(browser, 'check("01.encode")')
    early = run_cell_with(browser, encode_check)
    assert "run the cell that defines it" in early and "Traceback" not in early, early

    # fill the stub, run it and its check
    stub = cell_index(browser, "NotImplementedError('01.encode")
    run_cell_with(browser, stub, ENCODE)
    passed = run_cell_with(browser, encode_check)
    assert "PASS 01.encode" in passed, passed

    # an unfinished task: its check fails the cell with one line
    run_cell_with(browser, cell_index(browser, "NotImplementedError('01.decode"))
    decode_check = cell_index(browser, 'check("01.decode")')
    todo = run_cell_with(browser, decode_check)
    assert todo.strip().startswith("TODO 01.decode") and "Traceback" not in todo and len(todo.strip().splitlines()) == 1
    failed = browser.execute_script(JS_NOTEBOOK + "return nb.content.widgets[arguments[0]].node"
                                    ".querySelectorAll('[data-mime-type=\"application/vnd.jupyter.stderr\"]').length;",
                                    decode_check)
    assert failed >= 1  # shown as an error, as Validate will count it

    # a figure: drawn inline, an image in the page
    browser.execute_script(JS_NOTEBOOK + "window.jupyterapp.commands.execute('notebook:insert-cell-below');")
    figure_cell = browser.execute_script(JS_NOTEBOOK + "return nb.content.activeCellIndex;")
    run_cell_with(browser, figure_cell, "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('inline')\n"
                                        "plt.show()\n")
    images = browser.execute_script(JS_NOTEBOOK + "return nb.content.widgets[arguments[0]].node"
                                    ".querySelectorAll('.jp-OutputArea img').length;", figure_cell)
    browser.save_screenshot(str(SHOTS / "02-checks-and-figure.png"))
    assert images == 1


def test_validate_reports_the_failing_checks(lab, browser):
    browser.execute_script(JS_NOTEBOOK + "return nb.context.save();")
    time.sleep(1)
    buttons = browser.find_elements("css selector", "button, jp-button")
    validate = [b for b in buttons if (b.get_attribute("title") or "").lower().startswith("validate")
                or b.text.strip().lower() == "validate"]
    assert validate, "no Validate button in the notebook toolbar"
    validate[0].click()
    dialog = wait_for(browser, lambda d: [e for e in d.find_elements("css selector", ".jp-Dialog")
                                          if "valid" in e.text.lower() or "fail" in e.text.lower()
                                          or "success" in e.text.lower()], seconds=300, what="Validate's answer")
    text = dialog[0].text
    browser.save_screenshot(str(SHOTS / "03-validate.png"))
    assert "Success" not in text and ("fail" in text.lower() or "error" in text.lower()), text


def test_students_get_no_instructor_tools(lab, browser):
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{lab['url']}/formgrader?token={TOKEN}", timeout=10)
    assert missing.value.code == 404
    commands = browser.execute_script("return window.jupyterapp.commands.listCommands();")
    assert [c for c in commands if c.startswith("nbgrader:")]  # nbgrader's student side is there...
    assert not [c for c in commands if "formgrader" in c or "create-assignment" in c or "course-list" in c]
