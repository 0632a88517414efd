"""Autograde step (last, after grading) and feedback step (after GetGrades): student content is inert.

A student's outputs and markdown become HTML in two pages: the feedback page the student gets, and
the autograded notebook formgrader renders inside the instructor's Jupyter site (where a script
could call the Jupyter API as the instructor). Neither template sanitizes them: nbgrader's feedback
and formgrade templates render markdown cells with nbconvert's markdown2html, which passes raw HTML
and `javascript:` links through, and the classic outputs template inserts text/html as it is. So this
step rewrites the notebook itself, with the nh3 sanitizer (the Rust crate ammonia), before either
renders it:

- text/html outputs: sanitized (no script, event handler, javascript:/data: URL, iframe, object,
  embed, form, meta, base or style); PNG, JPEG and GIF images, text/plain and text/latex stay
  (the templates escape text; images are data in an <img>); every other MIME type (SVG, which can
  carry script, application/javascript, widget views, vnd.*) is dropped, and text/plain becomes a
  short note saying so;
- markdown (cells, text/markdown outputs, grader comments): kept as written when nbconvert renders
  it to HTML without raw HTML and nh3 would change nothing in that HTML; otherwise replaced by the
  sanitized HTML of its rendering, on one line (a markdown HTML block that renders as it is);
- raw cells: sanitized (templates insert an HTML raw cell as it is);
- metadata the templates read: notebook metadata keeps only the kernel, the language, nbgrader's and
  the course's records (widget state and title go); cell metadata only nbgrader's (grade ids reduced
  to safe characters), the course's, tags of safe characters and Jupyter's display flags; output
  metadata only the images' integer width and height (the template writes them unquoted).

It runs after grading in the autograde pipeline, so grades are computed from what the student
handed in (no grade reads the HTML of an output), and again in generate_feedback, for notebooks
autograded before this step existed or edited since. The page-level hidden-text scan in
feedback.py is a second line behind keeping hidden tests out of student code's reach (GradeChecks,
JailedExecute); this step is the one guarantee for HTML.
"""

from __future__ import annotations

import html
import re
import string

import nh3
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor

from .commands import FLAGS_KEY

NOTE = "(removed: active content in a student output)"
KEPT_AS_IS = {"text/plain", "text/latex", "image/png", "image/jpeg", "image/gif"}  # escaped or pure data
RASTER = ("image/png", "image/jpeg", "image/gif")
NOTEBOOK_METADATA = {"kernelspec", "language_info", "nbgrader", FLAGS_KEY}
CELL_METADATA = {"nbgrader", "tags", FLAGS_KEY, "jupyter", "collapsed", "scrolled", "editable", "deletable"}
SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")  # grade ids and tags: characters no template can misread

# What a sanitized page may hold: ammonia's default tags and attributes (no script, style, iframe,
# object, embed, form, meta, base, svg), plus classes (pygments, pandas) and the heading ids
# nbconvert gives markdown headings; links to http(s) and mailto, relative links, and inline
# PNG/JPEG/GIF images (markdown attachments are embedded that way).
ATTRIBUTES = {**{tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()}, "*": {"class"},
              **{f"h{level}": {"id"} for level in range(1, 7)}}
ATTRIBUTES["table"] = ATTRIBUTES.get("table", set()) | {"border"}  # pandas writes border="1"
SCHEMES = {"http", "https", "mailto", "data"}
# Everything that can run, for the comparison in inert_markdown (what nh3 keeps when told to keep it).
ACTIVE_TAGS = {"script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input",
               "button", "select", "textarea", "meta", "base", "link", "svg", "math", "template", "noscript",
               "video", "audio", "source", "track", "param", "portal", "xmp", "title", "body", "html", "head"}
ACTIVE_SCHEMES = SCHEMES | {"javascript", "vbscript", "livescript", "file", "blob", "filesystem"}
ANY_ATTRIBUTE = set(string.ascii_letters + string.digits + string.punctuation)  # prefixes: every name


def _attribute(tag: str, attribute: str, value: str) -> str | None:
    """nh3's attribute filter: data: URLs only as a raster image's source; no mermaid classes (the
    page's mermaid.js would render the element's text as a diagram)."""
    if value.lstrip().lower().startswith("data:"):
        ok = tag == "img" and attribute == "src" and value.lstrip().lower().startswith(
            tuple(f"data:{mime};" for mime in RASTER))
        return value if ok else None
    if attribute == "class":
        kept = [name for name in value.split() if "mermaid" not in name.lower()]
        return " ".join(kept) or None
    return value


def inert_html(text: str) -> str:
    """HTML with nothing that can run: nh3 with the course's allow-lists."""
    return nh3.clean(text, attributes=ATTRIBUTES, url_schemes=SCHEMES, attribute_filter=_attribute,
                     link_rel=None)


def _everything_kept(text: str) -> str:
    """The same HTML as nh3 serializes it when it may keep anything that can run."""
    return nh3.clean(text, tags=nh3.ALLOWED_TAGS | ACTIVE_TAGS, clean_content_tags=set(), attributes={},
                     generic_attribute_prefixes=ANY_ATTRIBUTE, url_schemes=ACTIVE_SCHEMES, link_rel=None)


def _one_block(text: str) -> str:
    """Sanitized HTML as one markdown HTML block: on one line (a blank line would end the block and
    let markdown parse the rest), newlines written as the character reference they are equal to."""
    return "<div>" + text.replace("\r", "&#13;").replace("\n", "&#10;") + "</div>"


def _is_one_block(source: str) -> bool:
    """Whether markdown is a block _one_block wrote (so a second pass keeps it as it is)."""
    return ("\n" not in source and source.startswith("<div>") and source.endswith("</div>")
            and _one_block(inert_html(source[5:-6])) == source)


def _render(source: str, attachments: dict) -> tuple[str, str]:
    """Markdown as nbconvert's HTMLExporter renders it (raw HTML passed through), and with raw HTML escaped."""
    return tuple(MarkdownWithMath(renderer=IPythonRenderer(escape=escape, attachments=attachments)).render(source)
                 for escape in (False, True))


def inert_markdown(source: str, attachments: dict | None = None) -> str:
    """Markdown that renders as nothing that can run: the source itself when nbconvert renders it
    without raw HTML and nh3 changes nothing in the rendering, else the sanitized rendering.

    The rendering is compared with nh3's own serialization of it when nh3 may keep everything, so
    both sides come from one HTML parser (html5ever); without raw HTML, every tag in it is one the
    markdown renderer writes, never one a student chose."""
    if _is_one_block(source):
        return source
    try:
        rendered, escaped = _render(source, attachments or {})
    except Exception:  # noqa: BLE001 - e.g. a missing attachment: show the source as text
        return _one_block(inert_html(f"<pre>{html.escape(source)}</pre>"))
    clean = inert_html(rendered)
    if rendered == escaped and clean == _everything_kept(rendered):
        return source
    return _one_block(clean)


def inert_output(output):
    """An output as it may be shown: text and images as they are, HTML and markdown made inert,
    anything else (SVG, JavaScript, widgets) replaced by a note."""
    kind = output.get("output_type")
    if kind in ("stream", "error"):
        return output  # text; the templates escape it
    if kind not in ("display_data", "execute_result"):
        return new_output("stream", name="stdout", text=NOTE + "\n")
    data, removed = {}, False
    for mime, value in (output.get("data") or {}).items():
        if isinstance(value, list):
            value = "".join(str(part) for part in value)
        if not isinstance(value, str):
            removed = True
        elif mime in KEPT_AS_IS:
            data[mime] = value
        elif mime == "text/html":
            data[mime] = inert_html(value)
        elif mime == "text/markdown":
            data[mime] = inert_markdown(value)
        else:
            removed = True
    if removed:  # in place of the student's text: the page would show e.g. "<...Javascript object>"
        data["text/plain"] = NOTE
    output.data = data
    output.metadata = _image_sizes(output.get("metadata") or {}, data)
    return output


def _image_sizes(metadata: dict, data: dict) -> dict:
    kept = {}
    for mime in RASTER:
        size = metadata.get(mime) if mime in data else None
        if isinstance(size, dict):
            size = {k: v for k, v in size.items() if k in ("width", "height") and type(v) is int and v > 0}
            if size:
                kept[mime] = size
    return kept


def _raster_attachments(attachments) -> dict:
    """Markdown attachments as PNG/JPEG/GIF only (nbconvert would embed an SVG attachment first)."""
    kept = {}
    for name, bundle in (attachments or {}).items():
        images = {mime: value for mime, value in (bundle or {}).items() if mime in RASTER and isinstance(value, str)}
        if images:
            kept[name] = images
    return kept


def _cell_metadata(metadata) -> dict:
    kept = {key: value for key, value in metadata.items() if key in CELL_METADATA}
    if "tags" in kept:
        kept["tags"] = [tag for tag in kept["tags"] if isinstance(tag, str) and not SAFE_NAME.search(tag)] \
            if isinstance(kept["tags"], list) else []
    grading = kept.get("nbgrader")
    if isinstance(grading, dict):
        if isinstance(grading.get("grade_id"), str):
            grading["grade_id"] = SAFE_NAME.sub("_", grading["grade_id"])
        if isinstance(grading.get("comment"), str):
            grading["comment"] = inert_markdown(grading["comment"])
    return kept


class InertStudentContent(NbGraderPreprocessor):
    def preprocess(self, nb, resources):
        nb.metadata = type(nb.metadata)({k: v for k, v in nb.metadata.items() if k in NOTEBOOK_METADATA})
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        cell.metadata = type(cell.metadata)(_cell_metadata(cell.metadata))
        if cell.cell_type == "code":
            cell.outputs = [inert_output(output) for output in cell.get("outputs", [])]
            if type(cell.get("execution_count")) is not int:
                cell.execution_count = None
        elif cell.cell_type == "markdown":
            if "attachments" in cell:
                cell.attachments = _raster_attachments(cell.attachments)
            cell.source = inert_markdown(cell.source, cell.get("attachments"))
        elif cell.cell_type == "raw":
            cell.source = inert_html(cell.source)
        return cell, resources
