"""MathAsMathML: math in markdown drawn as MathML (no MathJax), nothing that can run, other cells as they were."""

from __future__ import annotations

import re

import latex2mathml.converter
from nbformat.v4 import new_markdown_cell

from autograder.nbgrader_glue.inert_student_content import InertStudentContent
from autograder.nbgrader_glue.math_as_mathml import MathAsMathML, markdown_with_mathml

from .test_inert_student_content import active, rendered
from .tiny import notebook


def feedback(*sources):
    nb = notebook(*[new_markdown_cell(source) for source in sources])
    for step in (InertStudentContent(), MathAsMathML()):  # the feedback pipeline's order
        nb, _ = step.preprocess(nb, {})
    return [cell.source for cell in nb.cells]


def test_inline_and_display_math_become_mathml():
    [page] = feedback("LayerNorm scales by $\\gamma$ and shifts by $\\beta$.\n\n$$\\frac{QK^\\top}{\\sqrt{d}}$$")
    html = rendered(page)
    assert '<math display="inline"><mrow><mi>γ</mi></mrow></math>' in html
    assert '<math display="block">' in html and "<mfrac>" in html and "<msqrt>" in html
    assert "$" not in html


def test_dollars_in_code_and_cells_without_math_are_left_alone():
    plain, code = "# Notes\n\nNo math here, *just* words.", "Prices: `$5` and `$6` in code."
    assert feedback(plain, code) == [plain, code]


def test_math_cannot_carry_active_content():
    attacks = ["$\\text{<img src=x onerror=alert(1)>}$", "$\\text{<script>alert(2)</script>}$",
               "$x$ <a href='javascript:alert(3)'>y</a>", "$\\href{javascript:alert(4)}{x}$"]
    assert "onerror" in latex2mathml.converter.convert(r"\text{<img src=x onerror=alert(1)>}")  # it copies text as is
    for page in feedback(*attacks):
        assert active(rendered(page)) == [], page


def test_tex_it_cannot_read_shows_as_code():
    html = markdown_with_mathml("broken: $\\frac{a}{$ and fine: $b$")
    assert html is not None and "<mi>b</mi>" in html and "<code>" in html


def test_every_formula_of_the_lessons_is_drawn():
    """The lessons' own math (LayerNorm's gamma and beta, GELU, Muon's Newton-Schulz step, ...)."""
    import nbformat

    from tests.conftest import REPO

    cells = [cell for path in sorted((REPO / "solutions").glob("*/*.ipynb"))
             for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown" and "$" in cell.source]
    assert cells, "no lesson has math any more: this test has nothing to check"
    for cell in cells:
        html = rendered(feedback(cell.source)[0])
        assert "<math" in html and "<merror" not in html, cell.source
        outside_code = re.sub(r"<code>.*?</code>|<pre>.*?</pre>", "", html, flags=re.S)
        assert "$" not in outside_code, cell.source
