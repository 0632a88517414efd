"""A failing check names the input it used and what was expected of it, and the notebook cell and line.

tests/lessons/test_variants.py also requires this of every wrong answer (no bare "raised ..."); these
are the messages a new student met as torch's raw words, each with the text it must now contain.
"""

import shutil

import nbformat

from autograder.fixtures import expected_for
from autograder.loader import load_lesson
from autograder.source import lesson_notebook
from autograder.run import judge, run_exercise
from autograder.tasks import get_task
from tests.conftest import verdict_of
from tests.lessons.test_lesson05 import estimate
from tests.lessons.test_lesson07 import mha

FLOAT32_SCORES = ("def average_past_softmax(x):\n    T = x.shape[1]\n    scores = torch.zeros(T, T)\n"
                  "    scores = scores.masked_fill(torch.tril(torch.ones(T, T)) == 0, float('-inf'))\n"
                  "    return torch.softmax(scores, dim=-1) @ x")


def reason(task_id, code):
    verdict = verdict_of(task_id, code)
    assert verdict.status == "failed"
    return verdict.reason


def test_a_dtype_mismatch_names_the_float64_input_and_the_fix():
    text = reason("06.average_softmax", FLOAT32_SCORES)
    assert text.startswith("average_past_softmax(float64 tensor (2, 5, 3)) raised RuntimeError: "), text
    assert "this input is float64" in text and "dtype=x.dtype" in text


def test_heads_concatenated_along_the_wrong_dim_say_what_the_projection_takes():
    text = reason("07.multi_head", mha("return self.dropout(self.proj(torch.cat([h(x) for h in self.heads], dim=1)))"))
    assert text.startswith("self.proj was given a tensor of shape (3, 32, 4); it takes (..., 16)"), text
    assert "concatenated along the last dimension: torch.cat(outputs, dim=-1)" in text


def test_a_missing_length_check_says_what_happened_and_what_was_expected():
    code = ("class GPT(GPT):\n    def forward(self, idx, targets=None):\n        B, T = idx.shape\n"
            "        x = self.drop(self.wte(idx) + self.wpe(torch.arange(T)))\n"
            "        for block in self.h:\n            x = block(x)\n"
            "        logits = self.lm_head(self.ln_f(x))\n"
            "        loss = None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())\n"
            "        return logits, loss")
    assert reason("09.forward", code) == ("forward(idx (1, 9)) with block_size 8: expected 'a ValueError: "
                                          "T > block_size', got 'IndexError from wpe (no check of T)'")


def test_a_property_that_does_not_hold_is_named_without_expected_true_got_false():
    text = reason("05.estimate_loss", estimate(before="    model.eval()", after="    model.train()"))
    assert text == "eval_iters=5, splits ['train', 'val']: gradients off in every forward: not the case"


def test_top_k_larger_than_the_vocabulary_names_the_call():
    code = ("class GPT(GPT):\n    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None):\n"
            "        for _ in range(max_new_tokens):\n"
            "            logits = self(idx[:, -self.config.block_size:])[0][:, -1, :] / temperature\n"
            "            if top_k is not None:\n"
            "                logits[logits < torch.topk(logits, top_k).values[:, [-1]]] = -float('inf')\n"
            "            idx = torch.cat((idx, torch.multinomial(F.softmax(logits, -1), 1, generator=generator)), 1)\n"
            "        return idx")
    text = reason("09.generate", code)
    assert "top_k=50" in text and "min(top_k, logits.size(-1))" in text, text


def test_a_notebook_error_points_at_its_cell_and_line(tmp_path):
    folder = tmp_path / "06_attention_trick"
    shutil.copytree(lesson_notebook("06", "solutions").parent, folder)
    path = folder / "06_attention_trick.ipynb"
    nb = nbformat.read(path, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "average_past_softmax")
    nb.cells[index].source = FLOAT32_SCORES
    nbformat.write(nb, path)
    task = get_task("06.average_softmax")
    module = load_lesson(path, deps="solutions")
    verdict = judge(task, run_exercise(task, module.__dict__.__getitem__), expected_for(task))
    assert verdict.status == "failed"
    assert f"(cell {index}, line 5)" in verdict.reason and "float64 tensor (2, 5, 3)" in verdict.reason, verdict.reason


def test_a_misconception_leads_the_message_only_when_the_outputs_differ_and_show_it():
    import pytest
    import torch

    from autograder.compare import CheckFailed
    from autograder.misconceptions import Misconception, diagnosed

    def broken(actual, expected):
        raise KeyError("malformed outputs")

    compare = diagnosed(Misconception("never shown", lambda a, e: False), Misconception("raises", broken),
                        Misconception("doubled", lambda a, e: torch.equal(a["y"], 2 * e["y"])),
                        evidence=("seen",))
    expected = {"y": torch.ones(3), "seen": "tanh"}
    compare({"y": torch.ones(3), "seen": "something else"}, expected)  # evidence is not graded
    with pytest.raises(CheckFailed) as err:
        compare({"y": 2 * torch.ones(3), "seen": "tanh"}, expected)
    assert str(err.value).startswith("doubled (y: values differ"), err.value
    with pytest.raises(CheckFailed) as err:
        compare({"y": 3 * torch.ones(3), "seen": "tanh"}, expected)  # no misconception shown: the plain message
    assert str(err.value).startswith("y: values differ"), err.value


def test_a_transposed_or_reshaped_matrix_is_named():
    import pytest
    import torch

    from autograder.compare import CheckFailed, compare_value

    square, wide = torch.arange(9.0).reshape(3, 3), torch.arange(6.0).reshape(2, 3)
    for actual, words in ((square.T, "it is the transpose of the expected matrix"),
                          (wide.T, "got (3, 2): the transpose of the expected matrix"),
                          (wide.T.reshape(2, 3), "regrouped by a reshape or view")):
        expected = square if actual.shape == (3, 3) else wide
        with pytest.raises(CheckFailed) as err:
            compare_value(actual, expected)
        assert words in str(err.value), err.value
