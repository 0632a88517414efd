"""The precision of training's matrix products: float32, or bfloat16 where this machine runs it faster.

Mixed precision as torch does it (autocast): the weights, their gradients and the optimizer's state
stay float32 ("master weights"); only the forward pass's matrix products and attention run in
bfloat16, and backward follows the dtypes the forward pass chose. Evaluation and every reported loss
stay float32.

Whether bfloat16 is faster is a property of the hardware, so "auto" measures it: a few training
steps' worth of forward and backward passes of the real model on a real-shaped batch, alternating
float32 and bfloat16 so that both see the same load, best of several. CPUs with bfloat16 units
(Intel AMX / AVX512-BF16, AMD Zen 4's AVX512-BF16, Arm BF16) run it up to twice as fast; without
them it is emulated and several times slower. On a CUDA GPU bfloat16 is the standard choice where
the GPU supports it. float16 is not offered: it needs loss scaling inside lesson 10's train_step.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable

import torch

from .errors import CapstoneError

CHOICES = ("auto", "float32", "bfloat16")
ROUNDS = 4  # timed passes per precision (after one warm-up pass each)
FASTER_BY = 1.15  # bfloat16 is chosen when it is at least this much faster: below it, float32's accuracy is worth more


def autocast(device_type: str, precision: str):
    """torch.autocast for bfloat16, a no-op for float32."""
    if precision == "bfloat16":
        return torch.autocast(device_type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


class Autocast(torch.nn.Module):
    """A model whose forward pass runs under bfloat16 autocast: what lesson 10's train_step trains.

    train_step calls model(x, y) then loss.backward(): the forward pass is inside autocast and the
    backward pass outside it, as torch recommends. The wrapped module's parameters are the model's
    own (float32), so the optimizer, gradient clipping and checkpoints see nothing different."""

    def __init__(self, module: torch.nn.Module, device_type: str):
        super().__init__()
        self.module = module
        self.device_type = device_type

    def forward(self, *args, **kwargs):
        with torch.autocast(self.device_type, dtype=torch.bfloat16):
            return self.module(*args, **kwargs)


def alternate_timings(variants: dict[str, Callable[[], object]], rounds: int, threads: int | None = 1) -> dict[str, float]:
    """Best time of each variant over `rounds` passes, alternating them so that all see the same load.

    One thread by default: whether a core has bfloat16 units does not depend on the thread count,
    and a team of threads on a machine busy with other work waits for its slowest member (single
    timings 100x off were seen here)."""
    best = {name: float("inf") for name in variants}
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        for attempt in range(rounds + 1):  # round 0 warms up (allocations, kernel selection)
            for name, fn in variants.items():
                t0 = time.perf_counter()
                fn()
                if attempt:
                    best[name] = min(best[name], time.perf_counter() - t0)
    finally:
        torch.set_num_threads(previous)
    return best


def measure_step(model: torch.nn.Module, loss_of: Callable[[], torch.Tensor], device_type: str) -> dict[str, float]:
    """Seconds of one forward + backward pass in each precision; loss_of() runs the forward pass and returns
    the loss (e.g. `lambda: model(x, y)[1]`). Gradients are discarded: the model is as before."""
    def step(precision: str) -> Callable[[], None]:
        def run() -> None:
            with autocast(device_type, precision):
                loss = loss_of()
            loss.backward()
            model.zero_grad(set_to_none=True)
        return run

    was_training = model.training
    model.train()
    try:
        return alternate_timings({p: step(p) for p in ("float32", "bfloat16")}, ROUNDS)
    finally:
        model.train(was_training)
        model.zero_grad(set_to_none=True)


def choose(requested: str, device: str, measure: Callable[[], dict[str, float]] | None = None) -> tuple[str, str]:
    """float32 or bfloat16 for the training step, and why: asked for, or measured here.

    measure: returns seconds per step for "float32" and "bfloat16" (measure_step on the real model);
    called only when the choice depends on it."""
    if requested not in CHOICES:
        raise CapstoneError(f"unknown --precision {requested!r}: use {', '.join(CHOICES)}")
    device_type = device.split(":")[0]
    if requested == "bfloat16" and device_type == "mps":
        raise CapstoneError("--precision bfloat16 is not supported on Apple's MPS here: use float32")
    if requested != "auto":
        return requested, "--precision"
    if device_type == "cuda":
        if torch.cuda.is_bf16_supported():
            return "bfloat16", "a GPU with bfloat16 support"
        return "float32", "this GPU has no bfloat16 (float16 would need loss scaling in train_step)"
    if device_type != "cpu" or measure is None:
        return "float32", "the default"
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return "float32", "several processes must take identical steps: no timing-based choice (ask with --precision)"
    seconds = measure()
    fp32, bf16 = seconds["float32"], seconds["bfloat16"]
    ratio = fp32 / max(bf16, 1e-9)
    timings = f"{1e3 * fp32:.0f} vs {1e3 * bf16:.0f} ms per forward+backward on 1 thread"
    if ratio >= FASTER_BY:
        return "bfloat16", f"measured {ratio:.2f}x faster than float32 on this CPU: {timings}"
    if ratio < 1:
        return "float32", f"bfloat16 measured {1 / ratio:.1f}x slower on this CPU: {timings}"
    return "float32", f"bfloat16 measured only {ratio:.2f}x faster on this CPU: {timings}"


def describe(precision: str, why: str) -> str:
    """The one line a run prints about its precision."""
    if precision == "bfloat16":
        return (f"precision: bfloat16 autocast for the forward pass ({why}); weights, optimizer state and "
                f"evaluation in float32")
    return f"precision: float32 ({why})"
