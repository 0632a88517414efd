"""Lesson 11's reference GPT is GPT-2: on GPT-2-shaped checkpoints its logits equal those of
Hugging Face's `transformers` GPT2LMHeadModel within 2e-5.

`transformers` is a test-only dependency: nothing in solutions/ (so nothing released from it),
autograder/ or capstone/ imports it (the last test here makes sure).
"""

import json
import re

import pytest
import torch

from autograder.checks.lesson11 import hf_config, published_checkpoint
from autograder.fixtures import expected_for
from autograder.loader import load_lesson
from autograder.paths import REPO_ROOT
from autograder.tasks import get_task

transformers = pytest.importorskip("transformers")

TOLERANCE = 2e-5  # the logits are of order 1; measured differences are ~1e-6 (float32 rounding)
CONFIGS = {
    "the grader's config (2 layers x 24, 3 heads)": hf_config(),
    "3 layers x 16, 4 heads, context 12": hf_config(n_layer=3, n_embd=16, n_head=4, n_positions=12, n_ctx=12,
                                                    vocab_size=29),
    "1 layer x 32, 2 heads, GPT-2's vocabulary": hf_config(n_layer=1, n_embd=32, n_head=2, n_positions=20,
                                                           n_ctx=20, vocab_size=50257),
    # the grader's last case of 11.from_checkpoint: transformers reads n_positions, not n_ctx
    "untied head, n_positions 12 with a stale n_ctx 8, gelu_pytorch_tanh": hf_config(
        n_layer=1, n_embd=16, n_head=2, n_positions=12, n_ctx=8, vocab_size=29, tie_word_embeddings=False,
        activation_function="gelu_pytorch_tanh"),
}


@pytest.fixture(scope="module")
def reference():
    return load_lesson("11", source="solutions", deps="solutions")


def hf_model(config: dict, seed: int):
    """transformers' GPT-2 for `config`, holding the same random tensors as the grader's checkpoint."""
    settings = {k: v for k, v in config.items() if k not in ("architectures", "model_type")}
    settings.update(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=None, eos_token_id=None)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(**settings))
    missing, unexpected = model.load_state_dict(published_checkpoint(config, seed, layout="transformers"),
                                                strict=False)
    assert not unexpected and all(k.endswith(".attn.bias") or k.endswith("masked_bias") for k in missing), \
        (missing, unexpected)
    return model.eval()


def max_logit_difference(ours, theirs, idx) -> float:
    with torch.no_grad():
        return (ours(idx)[0] - theirs(idx).logits).abs().max().item()


@pytest.mark.parametrize("label", CONFIGS)
def test_reference_equals_transformers_on_published_layout(reference, label):
    config = CONFIGS[label]
    ours = reference.gpt2_from_checkpoint(config, published_checkpoint(config, seed=7))
    theirs = hf_model(config, seed=7)
    idx = torch.randint(config["vocab_size"], (3, config["n_positions"]), generator=torch.Generator().manual_seed(8))
    diff = max_logit_difference(ours, theirs, idx)
    print(f"{label}: max |logits difference| = {diff:.2e}")
    assert diff < TOLERANCE
    assert max_logit_difference(ours, theirs, idx[:1, :1]) < TOLERANCE  # T=1


def test_reference_loads_what_transformers_saves(reference, tmp_path):
    """A real save_pretrained folder (model.safetensors + config.json) loads through make gpt2's reader."""
    from capstone.gpt2 import read_weights

    config = CONFIGS["3 layers x 16, 4 heads, context 12"]
    theirs = hf_model(config, seed=9)
    theirs.save_pretrained(tmp_path)
    hf, state = read_weights(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["activation_function"] == "gelu_new"
    ours = reference.gpt2_from_checkpoint(hf, state)
    idx = torch.randint(config["vocab_size"], (2, 12), generator=torch.Generator().manual_seed(10))
    assert max_logit_difference(ours, theirs, idx) < TOLERANCE


def test_the_grader_fixture_is_what_transformers_computes():
    """The logits the check of 11.from_checkpoint compares against equal transformers' on the same checkpoint."""
    expected = expected_for(get_task("11.from_checkpoint"))
    config = hf_config()
    theirs = hf_model(config, seed=20)
    idx = torch.randint(37, (2, 16), generator=torch.Generator().manual_seed(21))
    with torch.no_grad():
        assert (expected["logits of idx (2, 16) and (1, 1)"][0] - theirs(idx).logits).abs().max() < TOLERANCE


def test_the_grader_fixture_of_an_untied_head_and_a_stale_n_ctx_is_what_transformers_computes():
    expected = expected_for(get_task("11.from_checkpoint"))
    label = next(k for k in expected if k.startswith("n_positions 12 with a stale n_ctx 8"))
    theirs = hf_model(CONFIGS["untied head, n_positions 12 with a stale n_ctx 8, gelu_pytorch_tanh"], seed=25)
    assert theirs.lm_head.weight.data_ptr() != theirs.transformer.wte.weight.data_ptr()  # untied
    idx = torch.randint(29, (2, 12), generator=torch.Generator().manual_seed(26))
    with torch.no_grad():
        assert (expected[label][0] - theirs(idx).logits).abs().max() < TOLERANCE


def test_the_exact_gelu_is_not_gpt2(reference):
    """Without the tanh GELU the difference is far above the tolerance: the comparison can fail."""
    config = CONFIGS["the grader's config (2 layers x 24, 3 heads)"]
    exact = reference.load_gpt2_weights(reference.GPT(reference.config_from_hf(config)),
                                        published_checkpoint(config, seed=7)).eval()
    idx = torch.randint(config["vocab_size"], (3, 16), generator=torch.Generator().manual_seed(8))
    assert max_logit_difference(exact, hf_model(config, seed=7), idx) > 10 * TOLERANCE


def test_course_code_never_imports_transformers():
    pattern = re.compile(r"^\s*(import transformers|from transformers\b)", re.MULTILINE)
    offenders = []
    for folder in ("autograder", "capstone", "solutions", "datasets"):  # a release of solutions/ holds less
        for path in (REPO_ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".ipynb") and pattern.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(REPO_ROOT)))
    assert not offenders
