"""Calls across a data-only channel: how a hidden test reaches student code without sharing a process.

An instructor's hidden test runs in a trusted process that never loads student code
(hidden_runner.py); the student's definitions live in a jailed child (child.py, job kind "serve").
Between them is one connected socket. Each message is a length and a torch.save'd dict, read with
torch.load(weights_only=True) on both sides, so nothing but tensors and plain containers ever
crosses it: no code, no pickled objects.

    runner -> student   {"op": "lookup", "name": "encode"}
                        {"op": "call", "target": 3, "args": [...], "kwargs": {...}}
                        {"op": "getattr" | "getitem" | "len" | "iter", "target": 3, ...}
                        {"op": "end"}
    student -> runner   {"ready": True}   once the notebook has loaded
                        {"value": <plain data, with {"__remote__": n} for objects that stay behind>}
                        {"raised": "ValueError"}   an exception's class name, never its text
                        {"missing": True}   the name is not defined

What the student side can influence is the values its functions return and which builtin exception
class a call raises. What the hidden test is -- its source, its expected values, its verdict -- never
enters the student's process: the runner decides alone.
"""

from __future__ import annotations

import builtins
import io
import os
import struct
import time
import types
from typing import Any

from .frames import read_exactly

MESSAGE_LIMIT = 64 << 20  # bytes of one message (a value a student function returns)
ITEMS_LIMIT = 100_000  # items of one iteration (e.g. a generator of parameters) sent back as a list
REMOTE = "__remote__"  # the key of {"__remote__": n}: object n, which stays on the student's side


class ChannelClosed(EOFError):
    """The other side closed the channel or sent something that is not a message."""


class ChannelTimeout(TimeoutError):
    """No answer in time (the runner's wall-clock backstop; the jail counts the student's CPU time)."""


def send(fd: int, message: dict) -> None:
    import torch

    buffer = io.BytesIO()
    torch.save(message, buffer)
    data = buffer.getvalue()
    view = memoryview(struct.pack("<Q", len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def receive(fd: int, deadline: float | None = None) -> dict:
    """The next message, read as plain data only; ChannelClosed for EOF or anything malformed."""
    import torch

    (size,) = struct.unpack("<Q", _read(fd, 8, deadline))
    if size > MESSAGE_LIMIT:
        raise ChannelClosed("message too large")
    try:
        message = torch.load(io.BytesIO(_read(fd, size, deadline)), weights_only=True)
    except ChannelTimeout:
        raise
    except Exception as err:  # noqa: BLE001 - the other side may write anything
        raise ChannelClosed("unreadable message") from err
    if not isinstance(message, dict):
        raise ChannelClosed("malformed message")
    return message


def _read(fd: int, size: int, deadline: float | None) -> bytes:
    try:
        return read_exactly(fd, size, deadline)
    except TimeoutError as err:
        raise ChannelTimeout() from err
    except EOFError as err:
        raise ChannelClosed("closed") from err


# ---- the student's side (a jailed child that has loaded the notebook) -------------------------------


class Server:
    """Answers the runner's requests on the student's definitions, until "end" or the channel closes."""

    def __init__(self, namespace: dict[str, Any]):
        self.namespace = namespace
        self.objects: list[Any] = []

    def serve(self, fd: int) -> None:
        send(fd, {"ready": True})
        while True:
            try:
                request = receive(fd)
            except ChannelClosed:
                return
            if request.get("op") == "end":
                return
            send(fd, self.answer(request))

    def answer(self, request: dict) -> dict:
        op = request.get("op")
        try:
            if op == "lookup":
                name = request.get("name")
                if not isinstance(name, str) or name not in self.namespace:
                    return {"missing": True}
                value = self.namespace[name]
                if isinstance(value, types.ModuleType):
                    return {"module": value.__name__}
                return {"value": self.outgoing(value)}
            target = self.objects[int(request["target"])]
            if op == "call":
                args = [self.incoming(a) for a in request.get("args", [])]
                kwargs = {str(k): self.incoming(v) for k, v in request.get("kwargs", {}).items()}
                return {"value": self.outgoing(target(*args, **kwargs))}
            if op == "getattr":
                return {"value": self.outgoing(getattr(target, str(request["name"])))}
            if op == "getitem":
                return {"value": self.outgoing(target[self.incoming(request["key"])])}
            if op == "len":
                return {"value": len(target)}
            if op == "iter":
                items = []
                for item in target:
                    if len(items) >= ITEMS_LIMIT:
                        raise OverflowError("too many items")
                    items.append(self.outgoing(item))
                return {"value": items}
        except BaseException as err:  # noqa: BLE001 - student code may raise anything; only its class crosses
            return {"raised": type(err).__name__ if isinstance(err, Exception) else "Exception"}
        return {"raised": "TypeError"}

    def outgoing(self, value: Any) -> Any:
        """Plain data stays plain (tensors as detached copies); anything else stays here, as a number."""
        import torch

        if value is None or isinstance(value, (bool, int, float, str, bytes)):
            return value
        if isinstance(value, torch.Tensor):
            return value.detach().clone().as_subclass(torch.Tensor)
        if isinstance(value, (torch.dtype, torch.device, torch.Size)):
            return value
        if type(value) in (list, tuple):
            return type(value)(self.outgoing(v) for v in value)
        if type(value) is dict and all(isinstance(k, (str, int)) for k in value):
            return {k: self.outgoing(v) for k, v in value.items()}
        self.objects.append(value)
        return {REMOTE: len(self.objects) - 1}

    def incoming(self, value: Any) -> Any:
        if type(value) is dict:
            if set(value) == {REMOTE}:
                return self.objects[int(value[REMOTE])]
            return {k: self.incoming(v) for k, v in value.items()}
        if type(value) in (list, tuple):
            return type(value)(self.incoming(v) for v in value)
        return value


# ---- the trusted side (the hidden test's process) ---------------------------------------------------


class StudentCodeError(Exception):
    """Student code raised an exception whose class is not a builtin one (its name is not trusted)."""


class Connection:
    """The runner's end: requests out, plain values back, each within `seconds` of wall-clock time."""

    def __init__(self, fd: int, seconds: float):
        self.fd, self.seconds = fd, seconds

    def wait_ready(self) -> None:
        if not receive(self.fd, time.monotonic() + self.seconds).get("ready"):
            raise ChannelClosed("not ready")

    def request(self, message: dict) -> Any:
        send(self.fd, self.outgoing(message))
        answer = receive(self.fd, time.monotonic() + self.seconds)
        if "raised" in answer:
            raise _exception_class(answer["raised"])()
        if answer.get("missing"):
            raise KeyError(message.get("name"))
        if "module" in answer:
            return answer
        return self.incoming(answer.get("value"))

    def lookup(self, name: str) -> Any:
        """A student's global as the hidden test sees it: a value, a proxy, an allowed module, or KeyError."""
        found = self.request({"op": "lookup", "name": name})
        if isinstance(found, dict) and set(found) == {"module"}:
            return _allowed_module(found["module"], name)
        return found

    def end(self) -> None:
        try:
            send(self.fd, {"op": "end"})
        except OSError:
            pass

    def outgoing(self, value: Any) -> Any:
        if isinstance(value, RemoteObject):
            if value._connection is not self:
                raise TypeError("an object of another submission")
            return {REMOTE: value._number}
        if type(value) is dict:
            return {k: self.outgoing(v) for k, v in value.items()}
        if type(value) in (list, tuple):
            return type(value)(self.outgoing(v) for v in value)
        return value

    def incoming(self, value: Any) -> Any:
        if type(value) is dict:
            if set(value) == {REMOTE} and isinstance(value[REMOTE], int):
                return RemoteObject(self, value[REMOTE])
            return {k: self.incoming(v) for k, v in value.items()}
        if type(value) in (list, tuple):
            return type(value)(self.incoming(v) for v in value)
        return value


class RemoteObject:
    """A student's function, class or object, as the hidden test holds it: calls and attribute reads
    travel to the student's process; what comes back is plain data or another RemoteObject."""

    __slots__ = ("_connection", "_number")

    def __init__(self, connection: Connection, number: int):
        object.__setattr__(self, "_connection", connection)
        object.__setattr__(self, "_number", number)

    def __call__(self, *args, **kwargs):
        return self._connection.request({"op": "call", "target": self._number, "args": list(args), "kwargs": kwargs})

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._connection.request({"op": "getattr", "target": self._number, "name": name})

    def __setattr__(self, name, value):
        raise AttributeError("a hidden check cannot change a student's object")

    def __getitem__(self, key):
        return self._connection.request({"op": "getitem", "target": self._number, "key": key})

    def __len__(self) -> int:
        n = self._connection.request({"op": "len", "target": self._number})
        if not isinstance(n, int):
            raise TypeError("len() of a student's object is not an int")
        return n

    def __iter__(self):
        items = self._connection.request({"op": "iter", "target": self._number})
        if not isinstance(items, list):
            raise TypeError("iteration over a student's object returned no list")
        return iter(items)

    def __repr__(self) -> str:
        return f"<student object {self._number}>"


def _exception_class(name: Any) -> type[BaseException]:
    """A builtin exception class by name (so `except ValueError` in a hidden test works), else ours."""
    found = getattr(builtins, name, None) if isinstance(name, str) and name.isidentifier() else None
    if isinstance(found, type) and issubclass(found, Exception):
        return found
    return StudentCodeError


# Modules a hidden test may name: what the student's set-up cells import, re-imported here by name.
ALLOWED_MODULE_ROOTS = ("torch", "numpy", "math", "random", "itertools", "collections", "functools", "string",
                        "re", "json", "dataclasses", "tiktoken", "statistics", "operator")


def _allowed_module(module_name: Any, name: str) -> types.ModuleType:
    import importlib

    if not isinstance(module_name, str) or module_name.split(".")[0] not in ALLOWED_MODULE_ROOTS:
        raise KeyError(name)
    try:
        return importlib.import_module(module_name)
    except ImportError as err:
        raise KeyError(name) from err
