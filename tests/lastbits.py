"""Simulate another CPU: float32 results that differ in their last bits, as they do between machines.

Between CPUs (Intel vs AMD), BLAS libraries and thread counts, the same float32 code gives slightly
different results: matmuls and sums add in another order, exp/log/tanh are vectorised differently.
Elementwise + - * / are correctly rounded (IEEE 754) and agree everywhere. `LastBits` reproduces that
on one machine: inside `with LastBits(seed):`, every float32 result of a reduction is moved by up to
`ulps` float32 ulps of the largest value of that result (the size of a change in summation order),
and every result of a transcendental function by up to `ulps` ulps of each value.

Measured on the course's fixtures, Intel (where they were first made) and AMD EPYC differ by at most
about 2 ulps of a tensor's largest value at a check's output, after several layers; LastBits with
ulps=2 perturbs *every* operation that much, so its outputs stray several times further (up to ~10
ulps at the output) than the real machines did: a pessimistic model of "some other CPU".
"""

from __future__ import annotations

import torch
from torch.overrides import TorchFunctionMode

EPS32 = torch.finfo(torch.float32).eps
REDUCTIONS = {"matmul", "__matmul__", "__rmatmul__", "mm", "bmm", "addmm", "baddbmm", "linear", "einsum",
              "sum", "mean", "var", "std", "var_mean", "norm", "cumsum", "logsumexp", "layer_norm",
              "log_softmax", "cross_entropy", "nll_loss", "scaled_dot_product_attention"}
TRANSCENDENTAL = {"exp", "log", "tanh", "sqrt", "rsqrt", "pow", "__pow__", "gelu", "sigmoid", "softmax"}


class LastBits(TorchFunctionMode):
    def __init__(self, seed: int = 0, ulps: float = 2.0):
        super().__init__()
        self.seed, self.ulps = seed, ulps

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = getattr(func, "__name__", "")
        if (name in REDUCTIONS or name in TRANSCENDENTAL) and isinstance(out, torch.Tensor) \
                and out.dtype == torch.float32 and out.numel():
            with torch.no_grad():
                size = out.detach().abs().nan_to_num(0.0, 0.0, 0.0)  # inf and -inf (masks) stay as they are
                if name in REDUCTIONS:
                    size = size.amax()
                noise = self.uniform(out.detach()) * self.ulps * EPS32 * size
            out = out + noise  # differentiable: gradients flow as before
        return out

    def uniform(self, values: torch.Tensor) -> torch.Tensor:
        """A number in [-1, 1) per element, a hash of its bits: like a real CPU, the simulated one gives
        the same result for the same computation (a run and its resumed copy still agree exactly),
        and it draws nothing from torch's random generators (the code's own draws are unchanged)."""
        bits = values.contiguous().view(torch.int32).to(torch.int64) + self.seed * 40503
        hashed = ((bits * 2654435761) & 0xFFFFFFFF) >> 8  # Knuth's multiplicative hash, top 24 bits
        return hashed.to(torch.float32) / 2**23 - 1
