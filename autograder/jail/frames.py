"""Messages across the jail's pipes: length-prefixed, and parsed by the grader as plain data only.

Towards the jail (trusted to untrusted): JSON. Out of the jail: torch.save of a dict of plain data,
read back with torch.load(weights_only=True), which unpickles nothing but tensors and containers.
Anything malformed is the student's failure, never the grader's crash.
"""

from __future__ import annotations

import io
import json
import os
import select
import struct
import time

OUTPUT_LIMIT = 2000  # characters of printed output kept per task
RESULT_LIMIT = 64 << 20  # bytes of outputs a task may send back
STATUSES = ("ok", "not_started", "error")
MAX_DEPTH = 32  # containers inside containers in a returned value (a checked output is a few deep)


class NotPlainValue(ValueError):
    """A returned value the checks cannot compare; its text is one of the fixed phrases below."""


def frame(result: dict) -> bytes:
    """A child's (or the worker's) outcome as bytes: 8-byte length, then torch.save of the dict."""
    import torch  # here, not at the top: the grader starts its worker before importing torch

    payload = io.BytesIO()
    torch.save(result, payload)
    data = payload.getvalue()
    if len(data) > RESULT_LIMIT:
        return frame({"status": "error", "value": None, "output": result.get("output", ""),
                      "isolation": result.get("isolation", ""),
                      "reason": f"returned more than {RESULT_LIMIT >> 20} MiB of outputs"})
    return struct.pack("<Q", len(data)) + data


def unframe(data: bytes) -> dict:
    """The dict a frame holds, checked field by field; ValueError for anything else."""
    if len(data) < 8:
        raise ValueError("truncated")
    import torch

    (size,) = struct.unpack("<Q", data[:8])
    if size != len(data) - 8:
        raise ValueError("truncated")
    result = torch.load(io.BytesIO(data[8:]), weights_only=True)
    if not isinstance(result, dict):
        raise ValueError("malformed")
    if result.get("status") not in STATUSES:
        raise ValueError("malformed")
    for key in ("reason", "output", "isolation"):
        if not isinstance(result.get(key, ""), str):
            raise ValueError("malformed")
    plain_value(result.get("value"), torch)
    return result


def plain_value(value, torch, depth: int = 0) -> None:
    """NotPlainValue unless `value` is what the checks compare: ordinary CPU tensors in plain containers.

    weights_only loading also rebuilds sparse and meta-device tensors, and nests containers as deep as
    the sender likes; the checks' comparisons would raise on the first and recurse out on the second,
    in the trusted process."""
    if depth > MAX_DEPTH:
        raise NotPlainValue(f"returned lists or dicts nested more than {MAX_DEPTH} deep")
    if isinstance(value, torch.Tensor):
        if value.layout != torch.strided or value.device.type != "cpu" or value.is_quantized:
            raise NotPlainValue("returned a sparse, meta-device or quantized tensor: only ordinary CPU tensors "
                                "can be checked")
    elif isinstance(value, dict):
        for key, item in value.items():
            plain_value(key, torch, depth + 1)
            plain_value(item, torch, depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            plain_value(item, torch, depth + 1)


def send_json(fd: int, message: dict) -> None:
    data = json.dumps(message).encode()
    view = memoryview(struct.pack("<Q", len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def read_exactly(fd: int, size: int, deadline: float | None = None) -> bytes:
    """`size` bytes from fd; EOFError if it closes first, TimeoutError past `deadline` (time.monotonic())."""
    chunks, left = [], size
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise TimeoutError()
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("pipe closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive_json(fd: int) -> dict:
    (size,) = struct.unpack("<Q", read_exactly(fd, 8))
    return json.loads(read_exactly(fd, size))


def tagged(job_id: int, payload: bytes) -> bytes:
    """What the worker sends the grader for one job: the job's id, the size, the child's bytes."""
    return struct.pack("<QQ", job_id, len(payload)) + payload
