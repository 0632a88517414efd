"""The course's feedback template (autograder/nbgrader_glue/templates/feedback/), as generate_feedback renders it.

nbconvert's HTMLExporter configured as nbgrader_config.py configures it, with the template name
nbgrader asks for (`feedback`, also from formgrader's Generate Feedback button): the course's
template is the one found, checks are named by task, nothing is loaded from another site.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import nbgrader
from nbconvert import HTMLExporter
from nbformat.v4 import new_markdown_cell, new_output
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from autograder.nbgrader_glue.hide_score_outputs import HideScoreOutputs
from autograder.nbgrader_glue.math_as_mathml import MathAsMathML
from autograder.nbgrader_glue.name_check_cells import NameCheckCells
from tests.conftest import REPO

from .tiny import lesson

# where GenerateFeedback points include_css('bootstrap.min.css'): nbgrader's own copy
BOOTSTRAP = Path(nbgrader.__file__).parent / "server_extensions/formgrader/static/node_modules/bootstrap/dist/css"


def exporter() -> HTMLExporter:
    config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    extra = Config()
    extra.HTMLExporter.template_name = "feedback"  # what GenerateFeedback (and formgrader's button) set
    extra.HTMLExporter.extra_template_paths = [str(BOOTSTRAP)]
    config.merge(extra)
    return HTMLExporter(config=config)


def page(nb, score=1.0) -> str:
    for cell in nb.cells:
        grading = cell.metadata.get("nbgrader", {})
        if grading.get("grade"):
            grading["score"] = score
        if "check(" in cell.source:
            cell.outputs = [new_output("stream", name="stdout", text="FAIL 01.encode: " + "long " * 200 + "\n"),
                            new_output("execute_result", data={"text/plain": "0.0"}, execution_count=3)]
    nb.cells.append(new_markdown_cell("Scaled by $\\sqrt{d}$."))
    for step in (HideScoreOutputs(), NameCheckCells(), MathAsMathML()):
        nb, _ = step.preprocess(nb, {})
    html, _ = exporter().from_notebook_node(nb, resources={"nbgrader": {
        "notebook": "00_tiny", "score": 2.0, "max_score": 4.0, "late_penalty": 0}})
    return html


def content_security_policy(html: str) -> str:
    """The content of the page's <meta http-equiv="Content-Security-Policy"> (empty without one)."""
    found = []

    class Meta(HTMLParser):
        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "content-security-policy":
                found.append(attrs.get("content") or "")
    Meta().feed(html)
    return " ".join(found)


def test_checks_are_named_by_task_in_the_contents_and_the_headings():
    html = page(lesson())
    assert "Test cell" not in html and "Grade cell" not in html
    contents = re.search(r'<nav id="toc">(.*?)</nav>', html, re.S).group(1)
    assert re.findall(r'<a href="#([\w-]+)">([^<]+)</a>', contents) == [
        ("check-encode", "01.encode"), ("check-decode", "01.decode")]
    assert re.findall(r'<span class="nbgrader-label">([^<]+)</span>', html) == [
        "Your answer: encode", "01.encode", "Your answer: decode", "01.decode"]
    assert "00_tiny (Score: 2.0 / 4.0)" in html


def test_no_raw_score_no_script_nothing_from_another_site():
    html = page(lesson())
    assert "Out[" not in html and "output_prompt" not in html
    assert "<script" not in html.lower()
    assert not re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)
    assert "<math" in html and "<style" in html  # math drawn by the browser; styles inline
    policy = content_security_policy(html)
    assert "default-src 'none'" in policy and "script-src" not in policy and "http" not in policy


def test_long_lines_wrap():
    html = page(lesson())
    assert re.search(r"pre \{[^}]*white-space: pre-wrap", html)
