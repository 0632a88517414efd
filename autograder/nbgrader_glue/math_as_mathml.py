"""Feedback step (after InertStudentContent): math in markdown becomes MathML, so the page needs no MathJax.

nbgrader's feedback template loads MathJax from a CDN (cdnjs), so a page opened offline shows raw
`$\\gamma$` and a page opened online asks a third party for a script. The course's template loads no
script at all; instead this step renders each `$...$` and `$$...$$` of a markdown cell to MathML with
latex2mathml, which browsers draw themselves (MathML Core: Chromium, Firefox, Safari).

A cell with math is replaced by its rendering as one sanitized HTML block (as InertStudentContent
writes unsafe markdown), math found by nbconvert's own markdown parser, so `$` inside code is left
alone. The rendering goes through nh3 with InertStudentContent's allow-lists plus MathML's
presentation elements and their layout attributes only (no href, no style, no annotation):
latex2mathml copies `\\text{...}` into the page as it is, and the math may be a student's. Math that
latex2mathml cannot read is shown as its TeX source, as code. Cells without math are left as they are.
"""

from __future__ import annotations

import html

import latex2mathml.converter
import nh3
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbgrader.preprocessors import NbGraderPreprocessor

from .inert_student_content import ATTRIBUTES, SCHEMES, _attribute, _one_block

MATHML_TAGS = {"math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup", "mfrac",
               "msqrt", "mroot", "mstyle", "merror", "mpadded", "mphantom", "munder", "mover", "munderover",
               "mtable", "mtr", "mtd", "mmultiscripts", "mprescripts", "none"}
MATHML_ATTRIBUTES = {"display", "mathvariant", "mathcolor", "mathbackground", "stretchy", "fence", "separator",
                     "accent", "accentunder", "movablelimits", "largeop", "symmetric", "minsize", "maxsize", "form",
                     "lspace", "rspace", "width", "height", "depth", "linethickness", "displaystyle", "scriptlevel",
                     "columnalign", "rowalign", "columnspacing", "rowspacing", "columnlines", "rowlines", "frame",
                     "columnspan", "rowspan", "voffset"}
ALLOWED_TAGS = nh3.ALLOWED_TAGS | MATHML_TAGS
ALLOWED_ATTRIBUTES = {**ATTRIBUTES, **{tag: set(ATTRIBUTES.get(tag, set())) | MATHML_ATTRIBUTES for tag in MATHML_TAGS}}


def inert_math_html(text: str) -> str:
    """HTML with MathML and nothing that can run: InertStudentContent's nh3 lists, plus MathML's."""
    return nh3.clean(text, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=SCHEMES,
                     attribute_filter=_attribute, link_rel=None)


def mathml(tex: str, display: str) -> str:
    """TeX as MathML (`display` is "inline" or "block"); TeX latex2mathml cannot read, as code."""
    try:
        return latex2mathml.converter.convert(tex, display=display)
    except Exception:  # noqa: BLE001 - any TeX it does not know (an unknown command, unbalanced braces)
        return f"<code>{html.escape(tex)}</code>"


class MathMLRenderer(IPythonRenderer):
    """nbconvert's markdown renderer, with math written as MathML instead of left for MathJax."""

    def inline_math(self, body: str) -> str:
        return mathml(body, "inline")

    def block_math(self, body: str) -> str:
        return mathml(body, "block")

    def latex_environment(self, name: str, body: str) -> str:
        return mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", "block")


def markdown_with_mathml(source: str, attachments: dict | None = None) -> str | None:
    """A markdown cell as one sanitized HTML block with its math in MathML, or None when it has no math."""
    try:
        plain = MarkdownWithMath(renderer=IPythonRenderer(escape=False, attachments=attachments or {})).render(source)
        with_math = MarkdownWithMath(renderer=MathMLRenderer(escape=False, attachments=attachments or {})).render(source)
    except Exception:  # noqa: BLE001 - e.g. a missing attachment: left to the template, as without this step
        return None
    return None if with_math == plain else _one_block(inert_math_html(with_math))


class MathAsMathML(NbGraderPreprocessor):
    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "markdown":
            rendered = markdown_with_mathml(cell.source, cell.get("attachments"))
            if rendered is not None:
                cell.source = rendered
        return cell, resources
