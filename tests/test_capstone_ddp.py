"""`make train` under torchrun: 2 CPU processes (gloo) for a few steps keep identical weights, and
only rank 0 writes files."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from autograder.source import Source
from tests.conftest import REPO, run

# Runs capstone.train in each process, logging every file write with the process's rank.
PROBE = r'''
import os, pathlib, sys
import matplotlib.figure, torch
rank = os.environ["RANK"]

def logged(name, original):
    def wrapper(*args, **kwargs):
        target = args[1] if name in ("torch.save", "os.replace") else args[0]
        print(f"WRITE rank={rank} {name} {target}", flush=True)
        return original(*args, **kwargs)
    return wrapper

torch.save = logged("torch.save", torch.save)
os.replace = logged("os.replace", os.replace)
pathlib.Path.write_text = logged("Path.write_text", pathlib.Path.write_text)
pathlib.Path.write_bytes = logged("Path.write_bytes", pathlib.Path.write_bytes)
matplotlib.figure.Figure.savefig = logged("savefig", matplotlib.figure.Figure.savefig)

from capstone import train
sys.exit(train.main(sys.argv[1:]))
'''


def test_two_cpu_processes_stay_identical_and_only_rank_0_writes(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    out = tmp_path / "run"
    torchrun = Path(sys.executable).with_name("torchrun")
    result = run(str(torchrun), "--standalone", "--nproc_per_node=2", str(probe), "--source", "solutions",
                 "--preset", "test", "--max-iters", "6", "--eval-interval", "3", "--quiet", "--out", str(out),
                 env={"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    digests = dict(re.findall(r"rank (\d): weights sha256 ([0-9a-f]{16})", result.stdout))
    assert set(digests) == {"0", "1"} and digests["0"] == digests["1"], result.stdout

    writes = re.findall(r"WRITE rank=(\d) (\S+) (\S+)", result.stdout)
    assert writes and {rank for rank, _, _ in writes} == {"0"}, writes  # rank 1 writes nothing
    assert any(name == "savefig" for _, name, _ in writes)
    assert sorted(p.name for p in out.iterdir()) == ["ckpt.pt", "history.json", "loss.png", "model.py",
                                                     "sample.txt", "summary.json"]
    assert "x 2 processes" in result.stdout


def test_without_ddp_the_two_processes_would_differ(tmp_path):
    """The check above can fail: processes draw different batches, so unsynchronised weights differ."""
    import torch

    from capstone import assemble
    from capstone.presets import PRESETS

    course = assemble.load_course(Source.parse("solutions"))
    config = PRESETS["test"]
    digests = []
    for rank in (0, 1):
        torch.manual_seed(config.seed)
        model = course.GPT(course.GPTConfig(block_size=16, vocab_size=65, n_layer=1, n_head=2, n_embd=16))
        optimizer = course.configure_optimizer(model, 1e-2, 0.1, (0.9, 0.99))
        data = torch.arange(1000) % 65
        gen = torch.Generator().manual_seed(config.seed * 1_000_003 + rank * 7_919)
        for _ in range(3):
            x, y = course.get_batch(data, 16, 4, generator=gen)
            course.train_step(model, optimizer, x, y, 1.0)
        from capstone.train import weights_digest

        digests.append(weights_digest(model))
    assert digests[0] != digests[1]
