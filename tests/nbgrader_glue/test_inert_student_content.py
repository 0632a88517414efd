"""InertStudentContent: no student output, markdown or metadata can run in a page; harmless HTML stays."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser

import nbformat
import pytest
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbformat.v4 import new_markdown_cell, new_output, new_raw_cell

from autograder.nbgrader_glue.commands import FLAGS_KEY
from autograder.nbgrader_glue.inert_student_content import NOTE, InertStudentContent
from tests.conftest import REPO

from .tiny import check_cell, demo_cell, notebook, solution_cell

ACTIVE_TAGS = {"script", "iframe", "frame", "object", "embed", "form", "meta", "base", "style", "svg", "link"}


class Active(HTMLParser):
    """What could run in a page: script-like elements, on* attributes, javascript:/vbscript:/data:text/html URLs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []

    def handle_starttag(self, tag, attrs):
        if tag in ACTIVE_TAGS:
            self.found.append(tag)
        for name, value in attrs:
            url = re.sub(r"[\x00-\x20]", "", value or "").lower()  # browsers drop these inside a scheme
            if name.startswith("on"):
                self.found.append(f"{tag} {name}")
            if url.startswith(("javascript:", "vbscript:", "data:text/html")):
                self.found.append(f"{tag} {name}={url[:20]}")
            if name == "class" and "mermaid" in url:
                self.found.append(f"{tag} mermaid")


def active(text: str) -> list:
    parser = Active()
    parser.feed(text)
    parser.close()
    return parser.found


def rendered(markdown: str, attachments=None) -> str:
    """Markdown as nbconvert's HTMLExporter (and so nbgrader's feedback and formgrade pages) renders it."""
    return MarkdownWithMath(renderer=IPythonRenderer(escape=False, attachments=attachments or {})).render(markdown)


def html_output(text, **metadata):
    return new_output("display_data", data={"text/html": text, "text/plain": "<IPython.core.display.HTML object>"},
                      metadata=metadata)


ATTACKS = {
    "script": html_output("<script>fetch('/api/contents')</script>ok"),
    "img onerror": html_output("<img src=x onerror=alert(1)>"),
    "a href javascript": html_output('<a href="JaVa&#9;ScRiPt:alert(1)">click</a><a href=" javascript:alert(2)">2</a>'),
    "iframe": html_output('<iframe src="https://example.com"></iframe><iframe srcdoc="<script>1</script>"></iframe>'),
    "object, embed, form, meta, base, style": html_output(
        '<object data="x.swf"></object><embed src="x.swf"><form action="/api"><button formaction="javascript:1">'
        '</button></form><meta http-equiv="refresh" content="0;url=javascript:1"><base href="//evil.example/">'
        '<style>body{background:url("javascript:1");width:expression(alert(1))}</style><p style="x:expression(1)">p</p>'),
    "svg in html": html_output("<svg onload=alert(1)><script>alert(2)</script><a xlink:href='javascript:1'>x</a></svg>"),
    "data:text/html": html_output('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a><img src="data:image/svg+xml,<svg>">'),
    "isolated html": html_output("<b>framed</b>", **{"text/html": {"isolated": True}}),
    "comment trick": html_output("<!--><img src=x onerror=alert(1)>-->"),
    "svg output": new_output("display_data", data={
        "image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'}),
    "application/javascript": new_output("display_data", data={"application/javascript": "alert(1)"}),
    "widget view": new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2, "version_minor": 0},
        "text/plain": "IntSlider(value=0)"}),
    "vnd.*": new_output("execute_result", execution_count=1, data={"application/vnd.plotly.v1+json": {"data": []}}),
    "markdown output": new_output("display_data", data={
        "text/markdown": "[x](javascript:alert(1)) <script>alert(2)</script> ![i](x onerror=alert(3))"}),
    "markdown output, mermaid": new_output("display_data", data={
        "text/markdown": "```mermaid\ngraph TD; A-->B <img src=x onerror=alert(1)>\n```"}),
    "image width": new_output("display_data", data={"image/png": "iVBORw0KGgo="},
                              metadata={"image/png": {"width": "1 onerror=alert(1)", "height": 20}}),
}


# Live in a page, but not as an HTML tag or attribute html.parser sees: the template writes the image's
# width unquoted, puts isolated HTML in a data:text/html iframe, or runs the JavaScript and widget
# types itself; and browsers end a comment at "<!-->", html.parser does not.
NOT_HTML_ATTRIBUTES = {"image width", "isolated html", "application/javascript", "widget view", "vnd.*",
                       "comment trick"}


def inert(nb):
    nb, _ = InertStudentContent().preprocess(copy.deepcopy(nb), {})
    return nb


def shown(nb) -> str:
    """Every piece of HTML a page builds from the notebook's outputs and markdown."""
    parts = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            parts.append(rendered(cell.source, cell.get("attachments")))
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            parts += [data.get("text/html", ""), data.get("image/svg+xml", ""),
                      rendered(data["text/markdown"]) if "text/markdown" in data else ""]
            parts.append(str(output.get("metadata", {})))
    return "\n".join(parts)


@pytest.mark.parametrize("name", ATTACKS)
def test_each_attack_output_is_inert(name):
    before = notebook(solution_cell("encode", "def encode(t):\n    return []"))
    before.cells[0].outputs = [copy.deepcopy(ATTACKS[name])]
    assert active(shown(before)) or name in NOT_HTML_ATTRIBUTES, "the attack must be live before"
    after = inert(before)
    assert active(shown(after)) == []
    assert "onerror" not in after.cells[0].outputs[0].data.get("text/html", "")  # the comment trick too
    output = after.cells[0].outputs[0]
    assert set(output.data) <= {"text/plain", "text/html", "text/markdown", "image/png"}
    assert output.metadata in ({}, {"image/png": {"height": 20}})
    nbformat.validate(after)


def test_dropped_types_leave_a_note():
    cell = solution_cell("encode", "def encode(t):\n    return []")
    cell.outputs = [copy.deepcopy(ATTACKS["application/javascript"]), copy.deepcopy(ATTACKS["widget view"]),
                    copy.deepcopy(ATTACKS["svg output"])]
    outputs = inert(notebook(cell)).cells[0].outputs
    assert [output.data for output in outputs] == [{"text/plain": NOTE}] * 3


def test_harmless_outputs_stay_as_they_are():
    table = ('<table border="1" class="dataframe"><thead><tr><th>a</th></tr></thead>'
             "<tbody><tr><td><b>1</b> &lt;script&gt;</td></tr></tbody></table>")
    outputs = [
        new_output("stream", name="stdout", text="<script>alert(1)</script> is text here\n"),
        new_output("display_data", data={"text/html": table, "text/plain": "df"}),
        new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"},
                   metadata={"image/png": {"width": 640, "height": 480}}),
        new_output("error", ename="ValueError", evalue="<b>x</b>", traceback=["<img src=x onerror=alert(1)>"]),
        new_output("execute_result", execution_count=3, data={"text/plain": "2.0"}),
    ]
    cell = check_cell("check-encode", 'check("01.encode")')
    cell.outputs = copy.deepcopy(outputs)
    cell.execution_count = 3
    after = inert(notebook(cell)).cells[0]
    assert after.outputs == outputs  # text is escaped by every template; the table has nothing to remove
    assert after.execution_count == 3


def test_markdown_a_student_wrote_renders_inert():
    attacks = [
        "Look <script>alert(1)</script>",
        "<img src=x onerror=alert(1)>\n\nmore text",
        "[click](javascript:alert(1)) and [tab](java&#x09;script:alert(2))",
        "<a href='javascript:alert(1)'>x</a> <iframe src=//evil></iframe>",
        "```mermaid\nA <img src=x onerror=alert(1)>\n```",
        "![pic](attachment:pic.svg)",
        "![missing](attachment:nothing)",
        "<b>x</b>\n\n```\n[y](javascript:alert(1)) <i>z</i>\n\n$a<b$\n```",
        '<div><a href="x">[y](javascript:alert(1))</a></div>',  # looks like this step's own output: kept, inert
        "<div>a\r\r[y](javascript:alert(1))</div>",
    ]
    svg = {"pic.svg": {"image/svg+xml": "PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+", "text/html": "PHNjcmlwdD4="}}
    cells = [new_markdown_cell(source) for source in attacks]
    cells[5].attachments = svg
    nb = notebook(*cells)
    assert all(active(rendered(c.source, c.get("attachments"))) for c in cells[:5])
    after = inert(nb)
    assert active(shown(after)) == []
    assert "<b>" not in after.cells[0].source and "Look" in rendered(after.cells[0].source)
    assert after.cells[1].source.count("\n") == 0 and "more text" in after.cells[1].source  # one HTML block
    assert after.cells[5].attachments == {}  # SVG (and anything but PNG/JPEG/GIF) goes
    assert "nothing" in rendered(after.cells[6].source)  # shown as text, no longer breaking the page
    assert inert(after) == after  # stable: a second pass (feedback) keeps what autograde wrote


def test_the_lessons_markdown_is_left_as_written():
    for path in sorted((REPO / "solutions").glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        cells = [c for c in nb.cells if c.cell_type == "markdown"]
        assert cells and [c.source for c in inert(notebook(*cells)).cells] == [c.source for c in cells], path


def test_harmless_markdown_stays():
    source = "# Title\n\n**bold**, `a < b`, $x^2$, [docs](https://pytorch.org) and a table:\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    assert inert(notebook(new_markdown_cell(source))).cells[0].source == source


def test_metadata_that_templates_read_is_reduced():
    cell = solution_cell("encode<img src=x onerror=alert(1)>", "def encode(t):\n    return []")
    cell.metadata.tags = ["slow", "x onmouseover=alert(1)"]
    cell.metadata.nbgrader["comment"] = "<script>alert(1)</script> good work"
    cell.metadata[FLAGS_KEY] = {"skipped": True}
    cell.metadata["widgets"] = {"state": "<script>"}
    raw = new_raw_cell("<script>alert(1)</script><b>raw</b>", metadata={"raw_mimetype": "text/html"})
    nb = notebook(cell, raw, demo_cell("1"))
    nb.metadata.title = "</title><script>alert(1)</script>"
    nb.metadata.widgets = {"application/vnd.jupyter.widget-state+json": {"state": {"<script>": 1}}}
    nb.metadata[FLAGS_KEY] = {"isolation": "bubblewrap"}
    nb.metadata.language_info = {"name": "python"}
    nb.cells[2].execution_count = "1<script>"  # not a valid notebook any more: as a hand-edited file may be
    nb.cells[0].metadata.tags.append(7)
    after = inert(nb)
    assert set(after.metadata) == {"kernelspec", "language_info", FLAGS_KEY}
    assert after.metadata[FLAGS_KEY] == {"isolation": "bubblewrap"}  # the course's record of grading stays
    meta = after.cells[0].metadata
    assert set(meta) == {"nbgrader", "tags", FLAGS_KEY}
    assert meta.tags == ["slow"] and meta.nbgrader.grade_id == "encode_img_src_x_onerror_alert_1__"
    assert active(rendered(meta.nbgrader.comment)) == [] and "good work" in meta.nbgrader.comment
    assert after.cells[1].source == "<b>raw</b>"
    assert after.cells[2].execution_count is None


def page(nb) -> str:
    return HTMLExporter(template_name="classic").from_notebook_node(nb)[0]


def scripts(text: str) -> list[str]:
    return re.findall(r"<script\b[^>]*>.*?</script>", text, flags=re.S | re.I)


@pytest.mark.filterwarnings("ignore:Your element with mimetype")  # the plotly output before this step
def test_a_whole_page_has_only_the_templates_scripts():
    clean = notebook(solution_cell("encode", "def encode(t):\n    return []"), new_markdown_cell("# Notes"))
    attacked = copy.deepcopy(clean)
    attacked.cells[0].outputs = [copy.deepcopy(o) for o in ATTACKS.values()]
    attacked.cells[1].source = "# Notes <script>alert(1)</script>"
    attacked.metadata.widgets = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    assert len(scripts(page(attacked))) > len(scripts(page(clean)))
    inert_page = page(inert(attacked))
    assert scripts(inert_page) == scripts(page(clean))  # the same template scripts, no student text in them
    assert [f for f in active(inert_page) if f not in ("script", "style", "meta", "link")] == []
