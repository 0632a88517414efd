"""Where training runs: the device (CPU, CUDA, Apple MPS) and, under torchrun, the process group.

`make train` is an ordinary single process. Under `torchrun --nproc_per_node=N` every process runs
the same script; torchrun tells each one its RANK and the WORLD_SIZE through the environment.
Process 0 ("rank 0") alone prints, evaluates and writes files; DistributedDataParallel averages the
gradients of all processes in backward(), so every process takes the same optimizer step and all
copies of the model stay identical.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .errors import CapstoneError


def pick_device(requested: str = "auto") -> str:
    """'auto' picks cuda, then mps, then cpu; anything else is used as given (and checked)."""
    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    try:  # "gpu", "CPU", "cuda:x": torch's own message lists twenty device types the course does not use
        kind = torch.device(requested).type
    except RuntimeError:
        kind = None
    if kind not in ("cpu", "cuda", "mps"):
        raise CapstoneError(f"--device {requested}: not a device here; use auto, cpu, cuda (cuda:1 for the second "
                            f"GPU) or mps (Apple)")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise CapstoneError(f"--device {requested}: this torch sees no CUDA GPU (use --device cpu or auto)")
    index = torch.device(requested).index
    if kind == "cuda" and index is not None and index >= torch.cuda.device_count():
        raise CapstoneError(f"--device {requested}: this machine has {torch.cuda.device_count()} GPU(s), "
                            f"numbered from cuda:0")
    if requested == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise CapstoneError("--device mps: Apple's Metal backend is not available here (use --device cpu or auto)")
    return requested


@dataclass
class Runtime:
    device: str
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def agree(self, values: list[float]) -> list[float]:
        """Element-wise maximum over all processes (stop flags, NaN flags, the clock)."""
        if not self.distributed:
            return values
        t = torch.tensor(values, dtype=torch.float64,
                         device=self.device if self.device.startswith("cuda") else "cpu")
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return t.tolist()

    def close(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


def start(requested_device: str = "auto") -> Runtime:
    """The device, and the process group when started by torchrun (gloo on CPU, nccl on CUDA)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    device = pick_device(requested_device)
    if world_size <= 1:
        return Runtime(device)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device == "mps":
        raise CapstoneError("torchrun with MPS is not supported: use --device cpu")
    if device.startswith("cuda"):
        device = f"cuda:{local_rank}"
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    return Runtime(device, rank, world_size, local_rank)


def cpu_threads(requested: int, world_size: int) -> int:
    """Threads per process: the cores shared out among the processes of this machine."""
    if requested > 0:
        return requested
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    local_procs = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
    return max(1, cores // max(1, local_procs))
