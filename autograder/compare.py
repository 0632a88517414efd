"""Compare a student's outputs with the reference's, and say in one line what differs.

Outputs travel between processes as plain data: tensors, numbers, strings, lists, dicts. Anything
else is replaced by a marker naming its type, so "expected a list, got a generator" can be said
without ever unpickling a student's object.
"""

from __future__ import annotations

import math
import types
from typing import Any

import torch

OPAQUE = "__opaque_type__"
MAX_SHOWN = 80


class CheckFailed(AssertionError):
    """The student's output is wrong; the message says how, in one line."""


def type_name(obj: Any) -> str:
    if isinstance(obj, dict) and OPAQUE in obj:
        return obj[OPAQUE]
    if isinstance(obj, torch.Tensor):
        return "a torch.Tensor"
    if isinstance(obj, types.GeneratorType):
        return "a generator"
    name = type(obj).__name__
    return {"NoneType": "None"}.get(name, f"a {name}" if name[0].lower() not in "aeiou" else f"an {name}")


def to_plain(obj: Any, depth: int = 0) -> Any:
    """A copy of obj made only of safe, loadable types (see module docstring)."""
    if depth > 20:
        return {OPAQUE: "a structure nested too deeply"}
    if obj is None or isinstance(obj, (bool, int, float, str, bytes)):
        return obj
    if isinstance(obj, torch.Tensor):
        return _plain_tensor(obj)
    if isinstance(obj, torch.Size):
        return list(obj)
    if type(obj) in (list, tuple):
        items = [to_plain(x, depth + 1) for x in obj]
        return items if type(obj) is list else tuple(items)
    if type(obj) is dict:
        return {to_plain(k, depth + 1) if not isinstance(k, str) else k: to_plain(v, depth + 1)
                for k, v in obj.items()}
    try:  # numpy scalars and 0-d arrays students may return
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return {OPAQUE: "a numpy array"}
    except ImportError:  # pragma: no cover
        pass
    return {OPAQUE: type_name(obj)}


def _plain_tensor(obj: torch.Tensor) -> Any:
    # A plain CPU tensor, whatever the student returned: a tensor on another device, sparse or a
    # subclass becomes a marker saying so (the comparison must not depend on the student's class).
    if obj.device.type != "cpu":
        return {OPAQUE: f"a tensor on device {obj.device}", "device": str(obj.device)}
    if obj.layout != torch.strided:
        return {OPAQUE: f"a {obj.layout} tensor (expected an ordinary dense one)"}
    plain = torch.Tensor._make_subclass(torch.Tensor, obj.detach()) if type(obj) is not torch.Tensor else obj
    return plain.detach().clone(memory_format=torch.contiguous_format)


def short(value: Any) -> str:
    text = repr(value) if not isinstance(value, torch.Tensor) else f"tensor of shape {tuple(value.shape)}"
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def compare_outputs(actual: Any, expected: Any, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    """Raise CheckFailed naming the first case whose output differs from the reference's."""
    if isinstance(expected, dict) and isinstance(actual, dict) and OPAQUE not in actual:
        for label, want in expected.items():
            if label not in actual:
                raise CheckFailed(f"no output for case {label}")
            try:
                compare_value(actual[label], want, rtol, atol)
            except CheckFailed as err:
                raise CheckFailed(f"{label}: {err}") from None
        return
    compare_value(actual, expected, rtol, atol)


def compare_value(actual: Any, expected: Any, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    if isinstance(actual, dict) and OPAQUE in actual and not isinstance(expected, dict):
        if isinstance(expected, torch.Tensor) and "device" in actual:
            raise CheckFailed(f"expected a tensor on device {expected.device}, got one on {actual['device']}")
        raise CheckFailed(f"expected {type_name(expected)}, got {type_name(actual)}")
    if isinstance(expected, torch.Tensor):
        compare_tensor(actual, expected, rtol, atol)
    elif isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)):
            raise CheckFailed(f"expected a {type(expected).__name__}, got {type_name(actual)}")
        if len(actual) != len(expected):
            raise CheckFailed(f"expected {len(expected)} items, got {len(actual)}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            try:
                compare_value(a, e, rtol, atol)
            except CheckFailed as err:
                if len(expected) <= 20 and all(isinstance(x, (int, str)) for x in expected):
                    raise CheckFailed(f"expected {short(expected)}, got {short(actual)}") from None
                raise CheckFailed(f"item {i}: {err}") from None
    elif isinstance(expected, dict):
        if not isinstance(actual, dict) or OPAQUE in actual:
            raise CheckFailed(f"expected a dict, got {type_name(actual)}")
        missing = [k for k in expected if k not in actual]
        extra = [k for k in actual if k not in expected]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing keys {short(missing)}")
            if extra:
                parts.append(f"unexpected keys {short(extra)}")
            raise CheckFailed(", ".join(parts))
        for key, want in expected.items():
            try:
                compare_value(actual[key], want, rtol, atol)
            except CheckFailed as err:
                raise CheckFailed(f"at key {key!r}: {err}") from None
    elif isinstance(expected, bool) or expected is None or isinstance(expected, (str, bytes)):
        if isinstance(expected, bool) and isinstance(actual, bool) and actual != expected:
            # the case's label states a property ("gradients off in every forward")
            raise CheckFailed("not the case" if expected else "the case, but must not be")
        if type(actual) is not type(expected) or actual != expected:
            raise CheckFailed(f"expected {short(expected)}, got {short(actual)}")
    elif isinstance(expected, int):
        if isinstance(actual, torch.Tensor) and actual.numel() == 1 and not actual.is_floating_point():
            actual = actual.item()
        if isinstance(actual, bool) or not isinstance(actual, int) or actual != expected:
            raise CheckFailed(f"expected {short(expected)}, got {short(actual)}")
    elif isinstance(expected, float):
        if isinstance(actual, torch.Tensor) and actual.numel() == 1:
            actual = actual.item()
        if isinstance(actual, bool) or not isinstance(actual, (int, float)):
            raise CheckFailed(f"expected a number like {expected:.6g}, got {type_name(actual)}")
        if math.isnan(actual) and not math.isnan(expected):
            raise CheckFailed("got NaN")
        if not math.isclose(actual, expected, rel_tol=rtol, abs_tol=atol):
            raise CheckFailed(f"expected {expected:.6g}, got {actual:.6g}")
    else:  # pragma: no cover - fixtures hold only the types above
        raise TypeError(f"cannot compare reference value of type {type(expected).__name__}")


def compare_tensor(actual: Any, expected: torch.Tensor, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    if not isinstance(actual, torch.Tensor):
        raise CheckFailed(f"expected a torch.Tensor, got {type_name(actual)}")
    if tuple(actual.shape) != tuple(expected.shape):
        transposed = ": the transpose of the expected matrix" if expected.dim() == 2 and _equal(actual, expected.T) else ""
        raise CheckFailed(f"expected shape {tuple(expected.shape)}, got {tuple(actual.shape)}{transposed}")
    if expected.is_floating_point() != actual.is_floating_point() or (
        expected.dtype == torch.bool) != (actual.dtype == torch.bool):
        raise CheckFailed(f"expected dtype {expected.dtype}, got {actual.dtype}")
    if not expected.is_floating_point():
        if not torch.equal(actual.to(expected.dtype), expected):
            index = (actual.to(expected.dtype) != expected).nonzero()[0].tolist()
            raise CheckFailed(f"values differ at index {tuple(index)}: expected "
                              f"{expected[tuple(index)].item()}, got {actual[tuple(index)].item()}")
        return
    a, e = actual.double(), expected.double()
    if torch.isnan(a).any() and not torch.isnan(e).any():
        raise CheckFailed("output contains NaN")
    if torch.isinf(a).any() and not torch.isinf(e).any():
        raise CheckFailed("output contains inf")
    close = torch.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
    if not close.all():
        index = tuple((~close).nonzero()[0].tolist())
        worst = (a - e).abs().nan_to_num(0.0).max().item()
        raise CheckFailed(f"values differ (max abs difference {worst:.3g}); first at index {index}: "
                          f"expected {e[index].item():.5g}, got {a[index].item():.5g}{_reordered(a, e)}")


def _equal(actual: torch.Tensor, expected: torch.Tensor, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    return (actual.shape == expected.shape and actual.is_floating_point()
            and expected.is_floating_point() and bool(torch.allclose(actual.double(), expected.double(), rtol, atol)))


def _reordered(actual: torch.Tensor, expected: torch.Tensor) -> str:
    """For a matrix whose values differ: whether it holds the expected numbers in another order, a mistake
    that shape checks cannot see (a square matrix left untransposed, a reshape taken for a transpose)."""
    if expected.dim() != 2:
        return ""
    if _equal(actual, expected.T):
        return "; it is the transpose of the expected matrix"
    if _equal(actual, expected.T.reshape(expected.shape)):
        return ("; it holds the transpose's numbers, regrouped by a reshape or view: .t() transposes, a reshape "
                "only cuts the numbers into rows anew")
    return ""


def check_unchanged(name: str, before: Any, after: Any) -> None:
    """For exercises: raise CheckFailed if the student's function changed an input in place.

    `before` is a copy taken before the call (e.g. x.clone()), `after` the object passed in.
    """
    try:
        compare_value(to_plain(after), to_plain(before), rtol=0.0, atol=0.0)
    except CheckFailed as err:
        raise CheckFailed(f"changed its input {name} in place ({err}): work on a copy") from None
