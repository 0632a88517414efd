"""When the student's code raises inside a check, say which call raised: the input, the error, the cell.

Every task's exercise receives the student's function (or class) wrapped by `named_calls`, so an
error reads

    average_past_softmax(x=float64 tensor (2, 5, 3)) raised RuntimeError: expected scalar type Float
    but found Double (cell 9, line 4) -- a float64 tensor met a float32 one: ... (dtype=x.dtype ...)

instead of torch's bare message: the input it was given, what went wrong and where, and for the usual
mistakes (dtypes, shapes, indices) what to look at. Only the task's own target is wrapped (`encode`,
`Head.forward`), so a helper the student calls from it is reported through it.
"""

from __future__ import annotations

import functools
import inspect
import re
from typing import Any, Callable

import torch

from .compare import CheckFailed, short, type_name
from .wording import describe_exception, out_of_memory

HINTS = [  # (pattern in the error message, what usually causes it); the first match is shown
    (r"Double.*Float|Float.*Double|double.*float|float.*double",
     "a float64 tensor met a float32 one: this input is float64, so make the tensors (and modules) you "
     "create match it (dtype=x.dtype, torch.zeros_like(x), .to(x.dtype))"),
    (r"[Ll]ong.*[Ff]loat|[Ff]loat.*[Ll]ong|Long.*Double|Double.*Long",
     "an int64 tensor met a float one: convert one of them with .to(dtype)"),
    (r"shapes cannot be multiplied|must match the size of tensor|size mismatch|Expected size|"
     r"invalid for input of size|Sizes of tensors must match|cannot be broadcast",
     "the shapes on that line do not fit together: print them (t.shape) for this input"),
    (r"does not require grad and does not have a grad_fn",
     "no gradient can flow back to the inputs: was a tensor detached (.detach(), .data, .item()) or rebuilt "
     "with torch.tensor(...)?"),
    (r"leaf Variable that requires grad is being used in an in-place operation",
     "your code changes its input in place (x -= ..., x[...] = ...): compute a new tensor (x = x - ...)"),
    (r"longer than block_size",
     "the model was given more than block_size tokens: crop the context to its last block_size tokens"),
    (r"selected index k out of range",
     "top_k is larger than the number of tokens: use min(top_k, logits.size(-1))"),
    (r"must be Tensor, not NoneType|'NoneType' object has no attribute",
     "a value is None where a tensor was expected: a parameter that got no gradient has p.grad None (skip it), "
     "and a function without a return statement returns None"),
    (r"index out of range in self|out of bounds",
     "an index is at least the size of what it indexes (an id >= the vocabulary, a position >= block_size?)"),
]


def hint_for(err: BaseException) -> str:
    try:
        message = str(err)
    except Exception:  # noqa: BLE001 - a student's exception whose str() fails
        return ""
    for pattern, hint in HINTS:
        if re.search(pattern, message):
            return f" -- {hint}"
    return ""


def describe(value: Any) -> str:
    """A short description of an argument: 'float64 tensor (2, 5, 3)', "'hii'", 'a dict of 65 items'."""
    if isinstance(value, torch.Tensor):
        text = f"{str(value.dtype).removeprefix('torch.')} tensor {tuple(value.shape)}"
        if value.device.type != "cpu":
            text += f" on {value.device}"
        if value.dim() > 1 and not value.is_contiguous():
            text += ", non-contiguous"
        return text
    if value is None or isinstance(value, (bool, int, float, str)):
        return short(value) if not isinstance(value, str) or len(value) <= 40 else f"a str of {len(value)} characters"
    if isinstance(value, (list, tuple, dict)):
        text = repr(value)
        if len(text) <= 40:
            return text
        return f"a {type(value).__name__} of {len(value)} item{'s' if len(value) != 1 else ''}"
    return type_name(value)


def _reraise_named(name: str, args: tuple, kwargs: dict, err: Exception) -> None:
    shown = ", ".join([describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()])
    raise CheckFailed(f"{name}({shown}) {describe_exception(err)}{hint_for(err)}") from None


PASS_THROUGH = (NotImplementedError, RecursionError, MemoryError, CheckFailed)  # run_exercise words these


def passes_through(err: BaseException) -> bool:
    """Errors that checks re-raise untouched, for run_exercise to word: NotImplementedError, a failed
    check, recursion, and running out of memory (MemoryError or torch's allocation RuntimeError)."""
    return isinstance(err, PASS_THROUGH) or out_of_memory(err)


def named_function(fn: Callable, name: str) -> Callable:
    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 - student code may raise anything
            if passes_through(err):
                raise
            _reraise_named(name, args, kwargs, err)

    return call


def named_method(cls: type, method: str) -> type:
    """A subclass of cls (same name) whose `method` names its call when it raises."""
    original = getattr(cls, method)

    def call(self, *args, **kwargs):
        try:
            return original(self, *args, **kwargs)
        except Exception as err:  # noqa: BLE001 - student code may raise anything
            if passes_through(err):
                raise
            _reraise_named(f"{cls.__name__}.{method}", args, kwargs, err)

    functools.update_wrapper(call, original)
    return type(cls.__name__, (cls,), {method: call, "__qualname__": cls.__qualname__,
                                       "__module__": cls.__module__, "__doc__": cls.__doc__})


def named_calls(exercise: Callable, target: str) -> Callable:
    """The exercise, handed the task's target (`encode`, or `Head` for `Head.forward`) wrapped by name."""
    owner, _, method = target.partition(".")

    @functools.wraps(exercise)
    def run(**names):
        given = names.get(owner)
        if method and inspect.isclass(given) and callable(getattr(given, method, None)):
            names[owner] = named_method(given, method)
        elif not method and callable(given) and not inspect.isclass(given):
            names[owner] = named_function(given, owner)
        return exercise(**names)

    return run
