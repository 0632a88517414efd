"""Time-to-quality benchmark: `make bench` (minutes) and `make bench CEILING=1` (+15 minutes).

Trains, in one process and alternating seed by seed so that all of them see the same machine load:
- muon: preset cpu-fast, a narrower cpu-small (2 x 96) with lesson 13's Muon for the block matrices,
- the reference: preset cpu-small, lesson 10's AdamW, and
- the baseline: the nanoGPT README's CPU run (4 layers, 4 heads, 128 dims, block 64, batch 12,
  2000 iterations, lr 1e-3 cosine) in the same course code (preset "baseline").
Each is evaluated on 200 validation batches at regular step intervals (every 25 steps for the two
fast presets, 100 for the baseline; evaluation time is not training time). It prints, and writes to
runs/bench/: the time-to-val-loss curves (bench.png), the time and steps to val <= 1.90 of every
seed, final val, tokens/s, the precision, model FLOP utilisation against this machine's measured matmul
peak in that precision, the time that peak would take (the physical limit),
and the time ratios (bench.json, bench.md). `make bench CEILING=1` adds one 15-minute cpu-best run
(Muon) and prints its val loss at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from autograder.paths import REPO_ROOT
from autograder.source import Source

from . import optim, runtime
from .errors import CapstoneError, ctrl_c_raises, print_error, print_interrupted
from .plot import plot_bench
from .presets import PRESETS
from .train import run

TARGET = 1.90
CEILING_TARGET = 1.70


def matmul_peak_gflops(threads: int, n: int = 2048, seconds: float = 2.0, precision: str = "float32") -> float:
    """Best matmul throughput of this machine with `threads` threads in `precision`: the 100% of MFU."""
    torch.set_num_threads(threads)
    dtype = getattr(torch, precision)
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    best, end = 0.0, time.perf_counter() + seconds
    torch.mm(a, b)
    while time.perf_counter() < end:
        t0, c0 = time.perf_counter(), time.process_time()
        torch.mm(a, b)
        # on a machine shared with other work the wall clock undercounts the peak; CPU time per thread does not
        elapsed = min(time.perf_counter() - t0, (time.process_time() - c0) / threads)
        best = max(best, 2 * n ** 3 / elapsed / 1e9)
    return best


def matmul_peaks(threads: int, seconds: float = 2.0) -> dict[str, float]:
    """The peak of each precision a run may train in (capstone/precision.py)."""
    return {p: matmul_peak_gflops(threads, seconds=seconds, precision=p) for p in ("float32", "bfloat16")}


def time_to(curve: list[tuple[float, float]], target: float) -> float | None:
    """Training seconds at the first evaluation with val <= target (None if never)."""
    return next((t for t, v in curve if v <= target), None)


def config_for(preset: str, source: Source):
    """The preset's config; a Muon preset falls back to AdamW if lesson 13 does not pass in `source`."""
    return optim.choose(preset, PRESETS[preset], {}, source)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def one_run(name: str, preset: str, seed: int, eval_interval: int, out_root: Path, source: Source,
            peaks: dict[str, float], threads: int, clock: str = "wall") -> dict:
    preset, config = config_for(preset, source)
    # this machine's speed right now: a virtual machine's drifts by minutes, and a slow run shows it here
    speed = matmul_peak_gflops(threads, seconds=1.0)
    config = replace(config, seed=seed, eval_interval=eval_interval, eval_iters=10, clock=clock,
                     final_eval_iters=200, threads=threads, sample_tokens=0 if name != "ceiling" else 1000)
    print(f"\n=== {name} (preset {preset}, seed {seed}) ===", flush=True)
    summary = run(config, source=source, out=out_root / f"{name}-s{seed}", fresh=True, check_lessons=False,
                  quiet=True, save_during=False, label=f"{name} seed {seed}", val_iters=200)
    if summary.get("interrupted"):  # the first Ctrl-C stopped this run (and saved it): stop the benchmark too
        raise KeyboardInterrupt
    history = json.loads((out_root / f"{name}-s{seed}" / "history.json").read_text())
    steps_curve = [(e[0], e[3]) for e in history["evals"]]  # (step, val loss)
    curve = [(e[1], e[3]) for e in history["evals"]]  # (wall-clock training seconds, val loss)
    cpu_curve = [(e[4], e[3]) for e in history["evals"]]  # (CPU seconds per thread, val loss)
    # MFU against the peak of the precision the run trained in; the limit: the run's FLOPs at that peak,
    # the time no implementation of this model on this machine can beat
    precision, peak = summary["precision"], peaks[summary["precision"]]
    mfu = summary["tokens_per_s"] * summary["flops_per_token"] / (peak * 1e9)
    tokens = summary["step"] * config.batch_size * config.block_size
    steps_to_target = time_to(steps_curve, TARGET)
    return {"name": name, "preset": preset, "optimizer": config.optimizer, "seed": seed, "steps": summary["step"],
            "train_time": summary["train_time"], "cpu_time": summary["cpu_time"], "wall_time": summary["wall_time"],
            "val": summary["val"], "tokens_per_s": summary["tokens_per_s"], "mfu": round(mfu, 4),
            "cpu_tokens_per_s": round(tokens / summary["cpu_time"]),
            "cpu_mfu": round(tokens / summary["cpu_time"] * summary["flops_per_token"] / (peak * 1e9), 4),
            "params": summary["params"], "machine_gflops": round(speed), "curve": curve, "cpu_curve": cpu_curve,
            "time_to_target": time_to(curve, TARGET), "cpu_time_to_target": time_to(cpu_curve, TARGET),
            "steps_to_target": steps_to_target, "precision": precision,
            "limit_s": round(tokens * summary["flops_per_token"] / (peak * 1e9), 2),
            "limit_to_target": None if steps_to_target is None else
            round(steps_to_target * config.batch_size * config.block_size * summary["flops_per_token"] / (peak * 1e9), 2),
            "sample": summary.get("sample", "")}


def fmt(x, spec=".1f", none="-"):
    return none if x is None else format(x, spec)


def report(results: list[dict], peaks: dict[str, float], load: tuple, threads: int) -> str:
    lines = [f"machine: {cpu_name()}, {threads} threads, torch {torch.__version__}, matmul peak "
             + ", ".join(f"{p} {g:.0f} GFLOP/s" for p, g in peaks.items()) + "; load average before/after: "
             f"{load[0]:.1f} / {load[1]:.1f}", "",
             "Times are training seconds (evaluation excluded): wall clock, and in brackets CPU seconds per "
             "thread, which a machine shared with other work inflates much less.", "",
             "The machine column: fp32 matmul GFLOP/s measured just before each run (a busy or throttled machine "
             "shows a lower figure). Precision: of the forward pass's matrix products (capstone/precision.py); MFU "
             "is against the peak of that precision, and the limit in [brackets] beside a time is the run's FLOPs "
             "at that peak: the time at 100% MFU.", "",
             f"| run | seed | precision | steps | train s [limit] | s to val<={TARGET} [limit] | final val | tokens/s "
             "| MFU | machine | run wall s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        lines.append(f"| {r['name']} | {r['seed']} | {r['precision']} | {r['steps']} | {r['train_time']:.1f} "
                     f"({r['cpu_time']:.1f}) [{r['limit_s']:.1f}] | {fmt(r['time_to_target'])} "
                     f"({fmt(r['cpu_time_to_target'])}) [{fmt(r['limit_to_target'])}] | {r['val']:.4f} | "
                     f"{r['tokens_per_s']:,} ({r['cpu_tokens_per_s']:,}) | {100 * r['mfu']:.0f}% "
                     f"({100 * r['cpu_mfu']:.0f}%) | {fmt(r.get('machine_gflops'), '.0f')} | {r['wall_time']:.1f} |")
    by_name = {}
    for r in results:
        by_name.setdefault(r["name"], []).append(r)
    lines.append("")
    for name, runs in by_name.items():
        hits = [r["time_to_target"] for r in runs if r["time_to_target"] is not None]
        lines.append(f"{name}: mean final val {statistics.mean(r['val'] for r in runs):.4f}, mean train time "
                     f"{statistics.mean(r['train_time'] for r in runs):.1f} s, val<={TARGET} reached in "
                     f"{len(hits)}/{len(runs)} runs" + (f" (mean {statistics.mean(hits):.1f} s)" if hits else ""))
    lines += per_seed(by_name)
    ref, base = by_name.get("reference"), by_name.get("baseline")
    for clock, curve_key, time_key in (("wall", "curve", "train_time"), ("cpu", "cpu_curve", "cpu_time")):
        if not (ref and base):
            break
        # the ratio at the quality the baseline actually reaches: its mean final val loss
        level = statistics.mean(r["val"] for r in base)
        base_t = statistics.mean(r[time_key] for r in base)
        ref_ts = [time_to(r[curve_key], level) for r in ref]
        if all(t is not None for t in ref_ts):
            lines.append(f"{clock} clock: time to the baseline's final val {level:.3f}: baseline {base_t:.1f} s, "
                         f"reference {statistics.mean(ref_ts):.1f} s: {base_t / statistics.mean(ref_ts):.1f}x faster")
    return "\n".join(lines)


def per_seed(by_name: dict[str, list[dict]]) -> list[str]:
    """Time and steps to val <= TARGET, seed by seed, for the Muon preset, the AdamW reference and the baseline."""
    compared = [name for name in ("muon", "reference", "baseline") if name in by_name]
    if not {"muon", "reference"} <= set(compared):
        return []
    lines = ["", f"time to val <= {TARGET} per seed: training seconds, wall [CPU per thread], at step:"]
    seeds = sorted({r["seed"] for name in compared for r in by_name[name]})
    for seed in seeds:
        parts = []
        for name in compared:
            r = next((r for r in by_name[name] if r["seed"] == seed), None)
            if r is not None:
                reached = (f"{fmt(r['time_to_target'])} s [{fmt(r['cpu_time_to_target'])}] at step "
                           f"{r['steps_to_target']}" if r["time_to_target"] is not None else "never")
                parts.append(f"{name} ({r['preset']}, {r['optimizer']}) {reached}")
        lines.append(f"  seed {seed}: " + " | ".join(parts))
    for clock, key in (("wall", "time_to_target"), ("cpu", "cpu_time_to_target")):
        muon = [r[key] for r in by_name["muon"]]
        adamw = [r[key] for r in by_name["reference"]]
        if None not in muon and None not in adamw:
            lines.append(f"{clock} clock: muon {statistics.mean(muon):.1f} s vs reference {statistics.mean(adamw):.1f} s "
                         f"to val <= {TARGET}: {statistics.mean(adamw) / statistics.mean(muon):.2f}x faster")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m capstone.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=2, help="seeds per configuration (default 2)")
    parser.add_argument("--source", default="solutions", help="whose lessons to benchmark (default the reference)")
    parser.add_argument("--reference", default="cpu-small", help="the AdamW preset to compare (default cpu-small)")
    parser.add_argument("--muon", default="cpu-fast", help="the Muon preset to compare (default cpu-fast)")
    parser.add_argument("--ceiling", action="store_true", help="also run the 15-minute ceiling preset once")
    parser.add_argument("--ceiling-preset", default="cpu-best",
                        help="preset of the ceiling run (default cpu-best, Muon; cpu-best-adamw for AdamW)")
    parser.add_argument("--ceiling-only", action="store_true", help="only the 15-minute run")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (default: all cores)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="what the ceiling's 15-minute budget counts: wall seconds (default) or CPU seconds "
                             "per thread (use on a machine shared with other work)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "runs" / "bench")
    ctrl_c_raises()
    args = parser.parse_args(argv)
    try:
        return bench(args)
    except CapstoneError as err:
        return print_error(err)
    except KeyboardInterrupt as err:
        return print_interrupted(err, "the benchmark writes its report only at the end: nothing was reported")


def bench(args) -> int:
    """The benchmark itself: runs, report, figures (main parses the arguments and reports errors)."""
    threads = runtime.cpu_threads(args.threads, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    peaks = matmul_peaks(threads)
    print(f"matmul peak with {threads} threads: " + ", ".join(f"{p} {g:.0f} GFLOP/s" for p, g in peaks.items())
          + f"; load average {load_before:.1f}")
    results, source = [], Source.parse(args.source)
    if not args.ceiling_only:
        for seed in range(1337, 1337 + args.seeds):
            results.append(one_run("muon", args.muon, seed, 25, args.out, source, peaks, threads))
            results.append(one_run("reference", args.reference, seed, 25, args.out, source, peaks, threads))
            results.append(one_run("baseline", "baseline", seed, 100, args.out, source, peaks, threads))
    if args.ceiling or args.ceiling_only:
        results.append(one_run("ceiling", args.ceiling_preset, 1337, 500, args.out, source, peaks, threads, args.clock))
    text = report(results, peaks, (load_before, os.getloadavg()[0]), threads)
    ceiling = [r for r in results if r["name"] == "ceiling"]
    for r in ceiling:
        for clock, curve in (("wall", r["curve"]), ("cpu", r["cpu_curve"])):
            text += (f"\nceiling ({r['preset']}, {r['optimizer']}, {clock} clock): val {r['val']:.4f} after "
                     f"{r['train_time' if clock == 'wall' else 'cpu_time']:.0f} s; val<={CEILING_TARGET} at "
                     f"{fmt(time_to(curve, CEILING_TARGET), '.0f', 'never')} s, <=1.60 at "
                     f"{fmt(time_to(curve, 1.60), '.0f', 'never')} s")
        text += f"\n--- sample ---\n{r['sample']}\n---"
    print("\n" + text)
    curves = {f"{r['name']} s{r['seed']}": r["curve"] for r in results}
    curves.update({f"{r['name']} s{r['seed']} (cpu clock)": r["cpu_curve"] for r in results})
    plot_bench(curves, args.out / ("ceiling.png" if args.ceiling_only else "bench.png"), target=TARGET)
    name = "ceiling" if args.ceiling_only else "bench"
    (args.out / f"{name}.json").write_text(json.dumps({"peak_gflops": peaks, "threads": threads, "results": results,
                                                      "load": [load_before, os.getloadavg()[0]]}, indent=1))
    (args.out / f"{name}.md").write_text(text + "\n")
    print(f"\nwritten: {args.out / (name + '.md')}, {name}.json, {name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
