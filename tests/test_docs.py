"""The README starts with the student's path, and every link in it and in docs/ leads somewhere."""

import re

import pytest

from tests.conftest import REPO, run

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "CONTRIBUTING.md"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_relative_links_lead_to_files_and_headings(page):
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # a web address
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name} links to {target}, which does not exist"
        if anchor:
            headings = re.findall(r"^#+ (.+)$", linked.read_text(), re.MULTILINE)
            slugs = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}
            assert anchor in slugs, f"{page.name} links to #{anchor}, not a heading of {linked.name}"


def test_readme_starts_with_the_students_path():
    text = (REPO / "README.md").read_text()
    start = text[: text.index("## For students")]
    for step in ("make setup", "make lab", 'check("01.encode")', "make grade", "make train"):
        assert step in start, f"the README's first section does not show {step}"
    assert len(start.splitlines()) < 40, "the student's path should fit on one screen"
    for page in ("docs/capstone.md", "docs/benchmarks.md", "docs/instructors.md"):
        assert f"]({page})" in text, f"the README does not link {page}"


def test_make_help_lists_every_target_a_page_names():
    listed = set(re.findall(r"make (\S+)", run("make", "help").stdout))
    for page in PAGES:
        for target in re.findall(r"`make ([a-z-]+)", page.read_text()):
            assert target in listed, f"{page.name} names `make {target}`, which `make help` does not list"
