"""The README starts with the student's path, every link leads somewhere, and figures about presets are the presets'."""

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
        for target in re.findall(r"`make ([a-z0-9-]+)", page.read_text()):
            assert target in listed, f"{page.name} names `make {target}`, which `make help` does not list"


# Figures the pages state about a preset, and the TrainConfig fields they must equal (capstone/presets.py
# is the one place they live; the lesson 10 notebook reads it when it runs).
STATED = [
    ("docs/benchmarks.md", r"reference `cpu-small` \((\d+) × (\d+), ([\d,]+) steps\)", "cpu-small",
     ("n_layer", "n_embd", "max_iters")),
    ("docs/benchmarks.md", r"baseline: nanoGPT README run \((\d+) × (\d+), ([\d,]+) steps\)", "baseline",
     ("n_layer", "n_embd", "max_iters")),
    ("docs/benchmarks.md", r"configuration \((\d+) layers, (\d+) heads, (\d+) dims, block (\d+), batch (\d+), "
     r"([\d,]+) iterations, lr ([\d.e-]+)", "baseline",
     ("n_layer", "n_head", "n_embd", "block_size", "batch_size", "max_iters", "lr")),
    ("docs/benchmarks.md", r"`cpu-best-adamw` \((\d+) layers × (\d+), (\d+) heads, block (\d+), batch (\d+), lr ([\d.e-]+), "
     r"cosine over a (\d+)-second\s+budget", "cpu-best-adamw",
     ("n_layer", "n_embd", "n_head", "block_size", "batch_size", "lr", "time_budget")),
    ("docs/capstone.md", r"preset cpu-small \((\d+) × (\d+), ([\d,]+) steps\)", "cpu-small",
     ("n_layer", "n_embd", "max_iters")),
    ("docs/capstone.md", r"a smaller model that takes more steps \((\d+) layers × (\d+)", "cpu-small", ("n_layer", "n_embd")),
    ("docs/capstone.md", r"small batches \((\d+) × (\d+)\s+tokens", "cpu-small", ("batch_size", "block_size")),
    ("docs/capstone.md", r"peak learning rate \(([\d.e-]+)\) with (\d+) warmup steps and a cosine\s+decay to ([\d.e-]+) "
     r"over the ([\d,]+) steps", "cpu-small", ("lr", "warmup_iters", "min_lr", "max_iters")),
    ("docs/capstone.md", r"β₂ = ([\d.]+)", "cpu-small", ("beta2",)),
    ("docs/capstone.md", r"clipping at (\d+)", "cpu-small", ("grad_clip",)),
    ("docs/capstone.md", r"wider model\s+\((\d+) × (\d+)\) with a longer context \((\d+) characters\)", "cpu-best",
     ("n_layer", "n_embd", "block_size")),
    ("docs/capstone.md", r"`gpu` \(nanoGPT's (\d+) × (\d+)", "gpu", ("n_layer", "n_embd")),
]


@pytest.mark.parametrize("page,pattern,preset,fields", STATED, ids=lambda x: x if isinstance(x, str) else "")
def test_figures_stated_about_a_preset_are_the_presets(page, pattern, preset, fields):
    from capstone.presets import PRESETS

    match = re.search(pattern, (REPO / page).read_text())
    assert match, f"{page} no longer says {pattern!r}: update this test with the new wording"
    config = PRESETS[preset]
    for field, text in zip(fields, match.groups()):
        assert float(text.replace(",", "")) == float(getattr(config, field)), \
            f"{page} says {field} = {text} for {preset}; capstone/presets.py has {getattr(config, field)}"


def test_preset_descriptions_state_their_own_shape():
    from capstone.presets import PRESETS

    for name, config in PRESETS.items():
        shape = re.search(r"\((\d+)(?: layers)? x (\d+)(?:, block (\d+))?", config.description)
        if name != "test":
            assert shape, f"{name}: the description names no 'N x M' shape"
            assert (int(shape[1]), int(shape[2])) == (config.n_layer, config.n_embd), name
            assert shape[3] is None or int(shape[3]) == config.block_size, name
        iters = re.search(r"(\d+) iters", config.description)
        assert iters is None or int(iters[1]) == config.max_iters, name


def test_lesson_10_reads_make_trains_default_from_the_presets():
    import nbformat

    nb = nbformat.read(REPO / "solutions/10_training/10_training.ipynb", as_version=4)
    longer = next(i for i, c in enumerate(nb.cells) if c.source.startswith("## A longer run"))
    text, code = nb.cells[longer].source, nb.cells[longer + 1].source
    assert "PRESETS[DEFAULT_PRESET]" in code and "slow" in nb.cells[longer + 1].metadata.get("tags", [])
    assert not re.search(r"\d+ layers|width \d+|\d+ steps", text), "the text states figures the preset owns"
    assert not re.search(r"n_layer=\d|max_steps=\d", code), "the cell hard-codes what the preset owns"
