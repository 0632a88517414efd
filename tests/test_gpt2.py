"""`make gpt2` on small local files: reading, checking, loading through the lessons, sampling, and the
one-line answer when the weights cannot be had. Nothing is downloaded: a refused proxy or
HF_HUB_OFFLINE stands in for "no internet"."""

import hashlib
import json
import os

import pytest

from autograder.checks.lesson11 import hf_config, published_checkpoint
from capstone import gpt2
from tests.conftest import REPO, run

PYTHON = str(REPO / ".venv" / "bin" / "python")
NO_NETWORK = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
              "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "NO_PROXY": "", "no_proxy": ""}


def write_gpt2_folder(folder, **changes):
    """model.safetensors + config.json of a tiny GPT-2 with the real vocabulary (so tiktoken decodes it)."""
    from safetensors.torch import save_file

    config = hf_config(vocab_size=50257, n_embd=16, n_head=2, n_layer=2, n_positions=32, n_ctx=32, **changes)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(published_checkpoint(config, seed=0), str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return write_gpt2_folder(tmp_path_factory.mktemp("gpt2"))


def test_reads_a_local_folder_and_continues_the_prompt(weights, capsys):
    assert gpt2.main(["--source", "solutions", "--dir", str(weights), "--prompt", "Hello, world",
                      "--tokens", "6", "--seed", "1"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Hello, world") and len(out.strip()) > len("Hello, world")
    assert "2 layers x 16" in err and "solutions" in err


def test_loading_goes_through_lesson_11_and_sampling_through_lesson_09(weights):
    model, config = gpt2.load_model("solutions", weights)
    assert type(model).__name__ == "GPT" and type(model).__module__ == "lesson09" and not model.training
    assert model.lm_head.weight is model.wte.weight
    same = gpt2.continue_text(model, "The king", tokens=5, seed=3)
    assert same == gpt2.continue_text(model, "The king", tokens=5, seed=3)  # seeded: repeatable


def test_make_gpt2_with_a_local_folder(weights):
    result = run("make", "gpt2", "SOURCE=solutions", f"GPT2_DIR={weights}", "PROMPT=To be", "TOKENS=4",
                 env=NO_NETWORK)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("To be")


def test_offline_says_what_to_do_in_one_line(tmp_path):
    result = run(PYTHON, "-m", "capstone.gpt2", "--source", "solutions",
                 env={**NO_NETWORK, "HF_HOME": str(tmp_path / "hf")}, timeout=120)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "GPT2_DIR=" in lines[0] and "internet" in lines[0]
    assert not [p for p in (tmp_path / "hf").rglob("*") if p.is_file()]  # nothing half-written left behind


def test_hf_hub_offline_mode_says_so(tmp_path):
    result = run(PYTHON, "-m", "capstone.gpt2", "--source", "solutions",
                 env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}, timeout=120)
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "HF_HUB_OFFLINE" in result.stderr and "GPT2_DIR=" in result.stderr


def test_a_truncated_file_is_refused_in_one_line(weights, tmp_path, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((weights / "config.json").read_text())
    (broken / "model.safetensors").write_bytes((weights / "model.safetensors").read_bytes()[:100_000])
    assert gpt2.main(["--source", "solutions", "--dir", str(broken), "--no-grade"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a complete safetensors file" in err


def test_a_folder_without_the_files_is_refused(tmp_path, capsys):
    assert gpt2.main(["--source", "solutions", "--dir", str(tmp_path), "--no-grade"]) == 1
    assert "has no config.json or model.safetensors" in capsys.readouterr().err


def test_weights_that_do_not_fit_are_refused_by_name(tmp_path, capsys):
    folder = write_gpt2_folder(tmp_path / "eps", layer_norm_epsilon=1e-6)
    assert gpt2.main(["--source", "solutions", "--dir", str(folder), "--no-grade"]) == 1
    assert "layer_norm_epsilon" in capsys.readouterr().err


def blob(tmp_path, data: bytes, sha: str | None = None):
    """A file laid out like the Hub cache: snapshots/<rev>/name -> blobs/<sha256>."""
    sha = sha or hashlib.sha256(data).hexdigest()
    (tmp_path / "blobs").mkdir(exist_ok=True)
    (tmp_path / "blobs" / sha).write_bytes(data)
    (tmp_path / "snap").mkdir(exist_ok=True)
    link = tmp_path / "snap" / "model.safetensors"
    link.symlink_to(tmp_path / "blobs" / sha)
    return link


def test_a_download_that_fails_its_checksum_is_deleted(tmp_path):
    link = blob(tmp_path, b"not the weights", sha="0" * 64)
    with pytest.raises(gpt2.WeightsError, match="damaged"):
        gpt2.verify(link, "openai-community/gpt2-medium", "model.safetensors")
    assert not os.path.lexists(link) and not (tmp_path / "blobs" / ("0" * 64)).exists()


def test_a_good_download_passes_its_checksum(tmp_path):
    link = blob(tmp_path, b"some bytes")
    gpt2.verify(link, "openai-community/gpt2-medium", "model.safetensors")
    assert link.exists()


def test_the_124m_files_are_checked_against_their_published_size(tmp_path):
    link = blob(tmp_path, b"short")
    with pytest.raises(gpt2.WeightsError, match="548,105,171"):
        gpt2.verify(link, "openai-community/gpt2", "model.safetensors")


def test_the_downloaded_folder_is_used_when_the_hub_answers(weights, monkeypatch):
    """download() with huggingface_hub stubbed: cached files are verified and their folder returned."""
    import huggingface_hub

    calls = []

    def fake_download(repo_id, filename, revision=None, local_files_only=False):
        calls.append((repo_id, filename, local_files_only))
        return str(weights / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.setitem(gpt2.PINNED, ("openai-community/gpt2", "model.safetensors"), (
        (weights / "model.safetensors").stat().st_size, gpt2.sha256_of(weights / "model.safetensors")))
    monkeypatch.setitem(gpt2.PINNED, ("openai-community/gpt2", "config.json"), (
        (weights / "config.json").stat().st_size, gpt2.sha256_of(weights / "config.json")))
    assert gpt2.download("gpt2") == weights
    assert calls == [("openai-community/gpt2", f, True) for f in gpt2.FILES]  # from the cache: no network

