"""runs/<name>/model.py: the student's whole GPT in one standalone file (capstone/model_file.py).

It must import without the course (no autograder, no load_lesson), compute the same logits as the
model the capstone built from the notebooks, sample like `make sample`, and stay true to unusual but
valid notebook layouts; its own check must catch a file that computes something else."""

from __future__ import annotations

import re
import shutil
import sys

import nbformat
import pytest
import torch

from autograder.source import Source
from tests.conftest import REPO, run

SOURCE = Source.parse("solutions")
PY = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable

# Runs in a fresh interpreter, in another folder: `from model import GPT, GPTConfig`, the weights of
# ckpt.pt, the logits of fixed tokens saved for the test to compare.
CHILD = r'''
import sys
import torch

run_dir, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, run_dir)
from model import GPT, GPTConfig

course = sorted(m for m in sys.modules if m.split(".")[0] in ("autograder", "capstone"))
assert not course, f"model.py imported the course: {course}"
ckpt = torch.load(f"{run_dir}/ckpt.pt", map_location="cpu", weights_only=True)
model = GPT(GPTConfig(**{**ckpt["capstone"]["model_config"], "dropout": 0.0}))
model.load_state_dict(ckpt["model"])
idx = torch.tensor([[0, 5, 17, 3, 40, 22, 9, 1, 60, 33, 2, 8, 13, 21, 34, 55]])
with torch.no_grad():
    torch.save(model.eval()(idx)[0], out)
'''


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny finished run of the reference lessons (preset "test", a few seconds)."""
    from capstone.presets import PRESETS
    from capstone.train import run as train

    out = tmp_path_factory.mktemp("model-file") / "run"
    train(PRESETS["test"], source=SOURCE, out=out, quiet=True)
    return out


def capstone_model(run_dir):
    """The model the capstone itself builds from the notebooks, with the run's weights."""
    from capstone import assemble, sample

    model, _, _ = sample.load_model(assemble.load_course(SOURCE), run_dir / "ckpt.pt", "cpu")
    return model.eval()


def test_model_py_in_a_fresh_process_gives_the_capstones_logits(run_dir, tmp_path):
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    result = run(PY, str(child), str(run_dir), str(tmp_path / "logits.pt"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    idx = torch.tensor([[0, 5, 17, 3, 40, 22, 9, 1, 60, 33, 2, 8, 13, 21, 34, 55]])
    with torch.no_grad():
        expected = capstone_model(run_dir)(idx)[0]
    torch.testing.assert_close(torch.load(tmp_path / "logits.pt", weights_only=True), expected)


def test_running_model_py_samples_like_make_sample(run_dir, tmp_path):
    own = run(PY, str(run_dir / "model.py"), "--prompt", "ROMEO:", "--tokens", "40", cwd=tmp_path)
    course = run(PY, "-m", "capstone.sample", "--out", str(run_dir), "--prompt", "ROMEO:", "--tokens", "40")
    assert own.returncode == 0 and course.returncode == 0, own.stderr + course.stderr
    assert own.stdout.startswith("ROMEO:") and len(own.stdout.rstrip("\n")) == len("ROMEO:") + 40
    assert own.stdout == course.stdout


def test_model_py_reads_like_nanogpt(run_dir):
    text = (run_dir / "model.py").read_text()
    for gone in ("autograder", "load_lesson", "BEGIN SOLUTION", "L07.", "L08."):
        assert gone not in text, gone
    classes = re.findall(r"^class (\w+)", text, flags=re.M)
    assert classes == ["GPTConfig", "CausalSelfAttention", "LayerNorm", "MLP", "Block", "GPT"]  # Head: unused
    headers = re.findall(r"^# lesson (\d\d): (\S+)", text, flags=re.M)
    assert headers == [("07", "solutions/07_self_attention/07_self_attention.ipynb"),
                       ("08", "solutions/08_block/08_block.ipynb"), ("09", "solutions/09_gpt/09_gpt.ipynb")]
    assert re.search(r"^# --- 09_gpt\.ipynb, cell \d+ ---\nclass GPT\(", text, flags=re.M)
    assert text.index("import torch") < text.index("class GPTConfig")  # imports first, once
    assert text.count("\nimport torch\n") == 1


def test_check_catches_a_file_that_computes_something_else(run_dir, tmp_path):
    from capstone import model_file

    model = capstone_model(run_dir)
    config = torch.load(run_dir / "ckpt.pt", weights_only=True)["capstone"]["model_config"]
    path = model_file.write(SOURCE, tmp_path)
    assert model_file.check(path, model, config) is None
    text = path.read_text()
    assert text.count("x = x + self.mlp(self.ln_2(x))") == 1
    path.write_text(text.replace("x = x + self.mlp(self.ln_2(x))", "x = x + 2 * self.mlp(self.ln_2(x))"))
    assert "logits differ" in model_file.check(path, model, config)
    path.write_text(text.replace("class Block(", "class Blocks("))
    assert "does not run: NameError" in model_file.check(path, model, config)


def test_check_leaves_the_random_state_alone(run_dir, tmp_path):
    """make train checks model.py between seeding and training: the run must not notice."""
    from capstone import model_file

    model = capstone_model(run_dir)
    config = torch.load(run_dir / "ckpt.pt", weights_only=True)["capstone"]["model_config"]
    path = model_file.write(SOURCE, tmp_path)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    assert model_file.check(path, model, config) is None
    assert torch.equal(torch.get_rng_state(), state)


GPT_CELL_EXTRA = '''\
import torch.nn.functional as F2
from math import sqrt as unused_sqrt


def positions(T: int, device) -> torch.Tensor:
    """A helper of my own, at the top of the GPT cell."""
    return torch.arange(T, device=device)


def demo_helper():
    return "never used by the GPT: stays out of model.py"


'''


def test_a_students_own_layout_comes_out_whole_and_equal(tmp_path):
    """Helpers of the student's own, L08.Block written inside a method, an extra import: all still work."""
    from autograder.loader import load_lesson
    from capstone import model_file

    student = tmp_path / "student"
    for name in ("07_self_attention", "08_block", "09_gpt"):
        shutil.copytree(SOURCE.root / name, student / name)
    notebook = student / "09_gpt" / "09_gpt.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "GPT")
    assert cell.source.count("[Block(config)") == 1 and cell.source.count("torch.arange(T, device=idx.device)") == 1
    cell.source = GPT_CELL_EXTRA + cell.source.replace("[Block(config)", "[L08.Block(config)").replace(
        "torch.arange(T, device=idx.device)", "positions(T, idx.device)").replace("F.cross_entropy", "F2.cross_entropy")
    nbformat.write(nb, notebook)

    path = model_file.write(Source.parse(student), tmp_path / "run")
    text = path.read_text()
    assert "def positions(" in text and "demo_helper" not in text and "unused_sqrt" not in text
    assert "import torch.nn.functional as F2" in text and "L08." not in text
    lesson = load_lesson("09", source=student)
    config = lesson.GPTConfig(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=16)
    torch.manual_seed(0)
    model = lesson.GPT(config)
    assert model_file.check(path, model, {**config.__dict__}) is None


def test_make_model_writes_and_checks_the_file(run_dir):
    (run_dir / "model.py").unlink()
    result = run("make", "-s", "model", f"OUT={run_dir}")
    assert result.returncode == 0, result.stderr
    assert "same logits" in result.stdout and (run_dir / "model.py").exists()


def test_make_model_refuses_to_vouch_for_unfinished_lessons(tmp_path, release_dir):
    """The released stubs: the file is written, but nothing can be checked yet, and it says why."""
    result = run(PY, "-m", "capstone.model_file", "--out", str(tmp_path / "run"), "--source", str(release_dir))
    assert result.returncode == 1
    assert "cannot be checked: your lesson code is not finished (09." in result.stderr
    assert "Traceback" not in result.stderr
