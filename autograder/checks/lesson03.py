"""Lesson 03 - batches: train/val split, context/target pairs, get_batch, WindowDataset, DataLoader.

get_batch is checked by its properties, not against the reference's random stream: any correct
sampler passes. The compare rebuilds each case's data itself (from the seeds below), so it needs
nothing from the student's process but the batches.
"""

from __future__ import annotations

import random
from collections import Counter

import torch

from ..compare import CheckFailed, type_name
from ..misconceptions import Misconception, as_if, every_case, diagnosed
from ..wording import describe_exception
from ..tasks import task
from .kit import generator


def distinct_ids(n: int, seed: int, contiguous: bool = True) -> torch.Tensor:
    """n distinct int64 ids in random order (so a row of a batch tells where it came from)."""
    ids = torch.randperm(2 * n, generator=generator(seed)) + 7
    return ids[:n].clone() if contiguous else ids[::2]


# --- what the plausible mistakes give: the Misconceptions below test the student's outputs against the
# exercise run here, in the grader's process, with the mistake in place of the student's code



# ---------------------------------------------------------------------------------------------
# 03.split

def split_at(cut):
    """A train_val_split that cuts at cut(train_fraction, len(data)) and returns (data[:n], data[n:])."""
    def train_val_split(data, train_fraction=0.9):
        n = cut(train_fraction, len(data))
        return data[:n], data[n:]
    return train_val_split


def split_swapped(data, train_fraction=0.9):
    n = int(train_fraction * len(data))
    return data[n:], data[:n]


def split_losing_one(data, train_fraction=0.9):
    n = int(train_fraction * len(data))
    return data[:n], data[n + 1:]


def parts(value) -> list:
    return [value["train"], value["val"]] if isinstance(value, dict) else list(value)


def shuffled_split(got, want) -> bool:
    """The right sizes, and together the same items, in another order."""
    (train, val), (want_train, want_val) = parts(got), parts(want)
    return (len(train), len(val)) == (len(want_train), len(want_val)) and sorted(
        torch.cat([train, val]).tolist()) == sorted(torch.cat([want_train, want_val]).tolist())


SPLIT_MISCONCEPTIONS = (
    Misconception("cut at n = int(train_fraction * len(data)), which rounds down, not round(...)",
                  as_if(lambda: split_cases(split_at(lambda fraction, n: round(fraction * n))))),
    Misconception("return (train, val) in that order: the first int(train_fraction * len(data)) items are train",
                  as_if(lambda: split_cases(split_swapped))),
    Misconception("val starts right where train ends, data[n:], not data[n + 1:]: no item is lost",
                  as_if(lambda: split_cases(split_losing_one))),
    Misconception("split in order, without shuffling: train is data[:n], the text's beginning, and val the rest",
                  every_case(shuffled_split)),
)


@task("03.split", points=1, target="train_val_split", compare=diagnosed(*SPLIT_MISCONCEPTIONS),
      hint="cut at n = int(train_fraction * len(data)): the items before position n, and the rest")
def split_cases(train_val_split):
    cases = {}
    for n, fraction in [(100, 0.9), (15, 0.9), (10, 0.9), (7, 0.5), (31, 0.75), (9, 0.0), (9, 1.0), (1, 0.9)]:
        data = distinct_ids(n, seed=n)
        train, val = train_val_split(data, fraction)
        cases[f"train_val_split(tensor of {n}, {fraction})"] = {"train": train, "val": val}
    data = distinct_ids(20, seed=1)
    cases["train_val_split(tensor of 20) (default fraction)"] = list(train_val_split(data))
    data = distinct_ids(23, seed=2, contiguous=False)
    cases["train_val_split(non-contiguous tensor of 23, 0.9)"] = list(train_val_split(data, 0.9))
    return cases


# ---------------------------------------------------------------------------------------------
# 03.pairs

@task("03.pairs", points=1, target="context_target_pairs", compare=diagnosed(
      Misconception("start at i = 1: the first context is [window[0]], never empty",
                    as_if(lambda: pairs_cases(lambda w: [(list(w[:i]), w[i]) for i in range(len(w))]))),
      Misconception("the context is the ids before i, window[:i]: the target window[i] is not part of it",
                    as_if(lambda: pairs_cases(lambda w: [(list(w[:i + 1]), w[i]) for i in range(len(w))]))),
      Misconception("go on to the last id: i runs from 1 to len(window) - 1 inclusive, range(1, len(window))",
                    as_if(lambda: pairs_cases(lambda w: [(list(w[:i]), w[i]) for i in range(1, len(w) - 1)]))),
      Misconception("the context is every id before i, the list window[:i], not only the one just before it",
                    as_if(lambda: pairs_cases(lambda w: [(w[i - 1], w[i]) for i in range(1, len(w))])))),
      hint="for each position i from 1 to len(window) - 1: the ids before i, and the id at i")
def pairs_cases(context_target_pairs):
    rng = random.Random(3)
    windows = [[18, 47, 56, 57, 58, 1, 15, 47, 58], [5, 9], [42], [], [3, 3, 3, 3]]
    windows += [[rng.randrange(65) for _ in range(rng.randint(2, 12))] for _ in range(4)]
    return {f"context_target_pairs({w!r})": context_target_pairs(list(w)) for w in windows}


# ---------------------------------------------------------------------------------------------
# 03.get_batch (property check)

# name: (len(data), block_size, batch_size, draws, contiguous data, every offset must be drawn)
BATCH_CASES = {
    "len(data)=12, block_size=4, batch_size=5": (12, 4, 5, 80, True, True),
    "block_size=1": (5, 1, 3, 40, True, True),
    "block_size=len(data)-1 (one possible window)": (6, 5, 2, 5, True, True),
    "batch_size=1": (40, 3, 1, 300, True, True),
    "non-contiguous data": (30, 6, 5, 60, False, True),
    "len(data)=1000, block_size=32, batch_size=8": (1000, 32, 8, 3, True, False),
}
UNIFORM_CASE = "len(data)=12, block_size=4, batch_size=5"


def batch_case_data(name: str) -> torch.Tensor:
    n, _, _, _, contiguous, _ = BATCH_CASES[name]
    return distinct_ids(n, seed=sum(map(ord, name)), contiguous=contiguous)


def _check_pair(pair, data: torch.Tensor, block: int, batch: int) -> list[int]:
    """Check one (x, y) against data; return the start offset of each row."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise CheckFailed(f"get_batch should return a pair (x, y), got {type_name(pair)}")
    x, y = pair
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, torch.Tensor):
            raise CheckFailed(f"{name} should be a torch.Tensor, got {type_name(t)}")
        if tuple(t.shape) != (batch, block):
            stacked = (": the windows are the rows, torch.stack(windows) along dim 0"
                       if tuple(t.shape) == (block, batch) else "")
            raise CheckFailed(f"{name} should have shape (batch_size, block_size) = {(batch, block)}, "
                              f"got {tuple(t.shape)}{stacked}")
        if t.dtype != torch.int64:
            raise CheckFailed(f"{name} should have dtype torch.int64, got {t.dtype}")
    position = {v: i for i, v in enumerate(data.tolist())}
    n = len(data)
    starts = []
    for row in range(batch):
        xs, ys = x[row].tolist(), y[row].tolist()
        start = position.get(xs[0])
        if start is None or data[start:start + block].tolist() != xs:
            raise CheckFailed(f"row {row} of x is not a contiguous slice data[i:i+block_size]")
        if start > n - block - 1:
            raise CheckFailed(f"a window starts at offset {start}, but the last offset with room for its "
                              f"targets is len(data) - block_size - 1 = {n - block - 1}")
        if ys == xs:
            raise CheckFailed("y equals x: the targets must be x shifted by one (y = data[i+1:i+block_size+1])")
        if start >= 1 and data[start - 1:start + block - 1].tolist() == ys:
            raise CheckFailed("y is x shifted the wrong way: each target is the id after its position, "
                              "y = data[i+1:i+block_size+1], not data[i-1:i+block_size-1]")
        if data[start + 1:start + block + 1].tolist() != ys:
            raise CheckFailed(f"row {row} of y is not x shifted by one: expected data[i+1:i+block_size+1] "
                              f"for the window x = data[i:i+block_size] with i = {start}")
        starts.append(start)
    return starts


def _same(a, b) -> bool:
    return all(torch.equal(p, q) for pa, pb in zip(a, b) for p, q in zip(pa, pb))


def compare_get_batch(actual, expected=None) -> None:
    """The get_batch property check: shapes, dtype, shift, offset range, reachability, seeding, device."""
    try:
        _compare_get_batch(actual)
    except CheckFailed:
        raise
    except Exception as err:  # noqa: BLE001 - malformed outputs must fail the task, not crash the grader
        raise CheckFailed(f"unexpected output from get_batch ({err.__class__.__name__}: {err})") from None


def _compare_get_batch(actual) -> None:
    if not isinstance(actual, dict) or set(actual) != set(BATCH_CASES) | {
            "same generator seed twice", "seeded generator while the global stream moves",
            "generator=None", "device='meta'"}:
        raise CheckFailed(f"unexpected outputs ({type_name(actual)})")
    for name, (n, block, batch, draws, _, every) in BATCH_CASES.items():
        data = batch_case_data(name)
        if isinstance(actual[name], dict) and "error" in actual[name]:
            raise CheckFailed(f"{name}: {actual[name]['error']}")
        try:
            starts = [_check_pair(pair, data, block, batch) for pair in actual[name]]
        except CheckFailed as err:
            raise CheckFailed(f"{name}: {err}") from None
        counts = Counter(s for row_starts in starts for s in row_starts)
        if batch > 1 and n - block > 1 and all(len(set(row_starts)) == 1 for row_starts in starts):
            raise CheckFailed(f"{name}: every row of a batch starts at the same offset: draw batch_size offsets, "
                              "one per row, torch.randint(len(data) - block_size, (batch_size,), ...)")
        if every:
            missing = sorted(set(range(n - block)) - set(counts))
            if missing:
                why = {(0,): ": offset 0 is never drawn; torch.randint(high, ...) draws from 0",
                       (n - block - 1,): ": the last is never drawn; torch.randint's high is exclusive, so pass "
                                         "len(data) - block_size"}.get(tuple(missing), "")
                raise CheckFailed(f"{name}: start offsets {missing} were never drawn in {draws * batch} windows; "
                                  f"every offset 0 .. len(data)-block_size-1 = {n - block - 1} must be possible{why}")
        if name == UNIFORM_CASE:  # 400 draws of 8 offsets: 50 expected each; 15..100 is > 5 sigma wide
            if min(counts.values()) < 15 or max(counts.values()) > 100:
                raise CheckFailed(f"{name}: start offsets are far from uniform: {dict(sorted(counts.items()))}")
            firsts = [pair[0] for pair in actual[name]]
            if all(torch.equal(firsts[0], f) for f in firsts):
                raise CheckFailed(f"{name}: every call returned the same batch")
    data = batch_case_data(UNIFORM_CASE)
    runs = actual["same generator seed twice"]
    for run in runs:
        for pair in run:
            _check_pair(pair, data, 4, 5)
    if not _same(runs[0], runs[1]):
        raise CheckFailed("two generators with the same seed gave different batches: draw the offsets "
                          "with torch.randint(..., generator=generator)")
    first, second = actual["seeded generator while the global stream moves"]
    _check_pair(first, data, 4, 5)
    if not _same([first], runs[0][:1]):
        raise CheckFailed("a seeded generator gave different batches after torch.manual_seed: "
                          "draw the offsets from `generator`, not from the global random stream")
    _check_pair(second, data, 4, 5)
    for pair in actual["generator=None"]:
        try:
            _check_pair(pair, data, 4, 5)
        except CheckFailed as err:
            raise CheckFailed(f"generator=None: {err}") from None
    devices = actual["device='meta'"]
    if devices != {"x": "meta", "y": "meta"}:
        raise CheckFailed(f"get_batch(..., device='meta') returned x on {devices.get('x')} and y on "
                          f"{devices.get('y')}: move both to device")


@task("03.get_batch", points=3, target="get_batch", fixture=False, compare=compare_get_batch,
      hint="offsets from torch.randint(len(data) - block_size, (batch_size,), generator=generator); "
           "stack the windows into x, the windows shifted by one into y; move both to device")
def get_batch_cases(get_batch):
    out = {}
    for seed, (name, (_, block, batch, draws, _, _)) in enumerate(BATCH_CASES.items()):
        data = batch_case_data(name)
        g = generator(seed)
        try:  # one crashing case must not hide what the others show (e.g. an unreachable offset)
            out[name] = [get_batch(data, block, batch, generator=g) for _ in range(draws)]
        except NotImplementedError:
            raise
        except CheckFailed as err:  # already says which call raised
            out[name] = {"error": str(err)}
        except Exception as err:  # noqa: BLE001 - recorded as this case's output
            out[name] = {"error": describe_exception(err)}

    data = batch_case_data(UNIFORM_CASE)
    out["same generator seed twice"] = [
        [get_batch(data, 4, 5, generator=generator(1337)) for _ in range(3)]
        for _ in range(2)]
    g = generator(1337)
    torch.manual_seed(0)  # the global stream, advanced on purpose: a seeded generator must not use it
    first = get_batch(data, 4, 5, generator=g)
    torch.rand(10)
    out["seeded generator while the global stream moves"] = [first, get_batch(data, 4, 5, generator=g)]
    torch.manual_seed(1)
    out["generator=None"] = [get_batch(data, 4, 5) for _ in range(5)]
    x, y = get_batch(data, 4, 5, generator=generator(2), device="meta")
    out["device='meta'"] = {"x": str(getattr(x, "device", type_name(x))),
                            "y": str(getattr(y, "device", type_name(y)))}
    return out




# ---------------------------------------------------------------------------------------------
# 03.dataset and 03.dataloader

# (len(token_ids), context_size, stride)
WINDOW_CASES = [(12, 4, 1), (12, 4, 4), (12, 4, 2), (13, 4, 4), (12, 4, 5), (5, 4, 1), (5, 4, 3),
                (20, 1, 1), (20, 1, 3), (30, 6, 7), (9, 3, 3)]


def window_dataset(length=None, start=None, shift=1):
    """A stand-in for the notebook's WindowDataset (its __init__) with a mistaken part: length(n, context, stride)
    windows, window i starting at start(i, context, stride), targets shifted by `shift`."""
    def right_length(n, context, stride):
        return len(range(0, n - context, stride))

    class StandIn(torch.utils.data.Dataset):
        def __init__(self, token_ids, context_size, stride):
            self.token_ids = torch.as_tensor(token_ids, dtype=torch.long)
            self.context_size, self.stride = context_size, stride

        def __len__(self):
            return (length or right_length)(len(self.token_ids), self.context_size, self.stride)

        def __getitem__(self, i):
            s = start(i, self.context_size, self.stride) if start else i * self.stride
            return (self.token_ids[s:s + self.context_size],
                    self.token_ids[s + shift:s + self.context_size + shift])

    return StandIn


def lengths_as_if(dataset):
    """Test: every case's length is what `dataset` gives (its windows may differ past the right ones)."""
    def shows(actual, expected):
        rebuilt = dataset_cases(dataset)
        return all(actual[label]["len"] == rebuilt[label]["len"] for label in expected)
    return shows


DATASET_MISCONCEPTIONS = (
    Misconception("__len__ misses the last window: count the starts 0, stride, 2*stride, ... below len(token_ids) - "
                  "context_size, len(range(0, len(token_ids) - context_size, stride)), not a floor division",
                  lengths_as_if(window_dataset(length=lambda n, context, stride: (n - context) // stride))),
    Misconception("one window too many: a start must be below len(token_ids) - context_size, or its targets run past "
                  "the end", lengths_as_if(window_dataset(
                      length=lambda n, context, stride: len(range(0, n - context + 1, stride))))),
    Misconception("window i starts at i * stride, not at i: consecutive windows are stride ids apart",
                  as_if(lambda: dataset_cases(window_dataset(start=lambda i, context, stride: i)))),
    Misconception("window i starts at i * stride, not i * context_size",
                  as_if(lambda: dataset_cases(window_dataset(start=lambda i, context, stride: i * context)))),
    Misconception("the target is the window shifted by one, token_ids[start + 1:start + context_size + 1], not the "
                  "window itself", as_if(lambda: dataset_cases(window_dataset(shift=0)))),
    Misconception("__getitem__ returns two tensors, slices of self.token_ids, not lists", lambda actual, expected: all(
        got["items"] and all(isinstance(x, list) and isinstance(y, list) for x, y in got["items"])
        for got in actual.values())),
)


@task("03.dataset", points=3, target="WindowDataset", compare=diagnosed(*DATASET_MISCONCEPTIONS),
      hint="__len__: count the starts 0, stride, 2*stride, ... below len(token_ids) - context_size; "
           "__getitem__(i): the window starting at i * stride, and the same window shifted by one")
def dataset_cases(WindowDataset):
    cases = {}
    for n, context, stride in WINDOW_CASES:
        ids = distinct_ids(n, seed=n * 100 + context * 10 + stride)
        for kind, given in (("list", ids.tolist()), ("tensor", ids)):
            if kind == "tensor" and (n, context, stride) != (13, 4, 4):
                continue
            ds = WindowDataset(given, context, stride)
            cases[f"WindowDataset({kind} of {n} ids, context_size={context}, stride={stride})"] = {
                "len": len(ds), "items": [tuple(ds[i]) for i in range(len(ds))]}
    ids = distinct_ids(40, seed=5, contiguous=False)
    ds = WindowDataset(ids, 5, 3)
    cases["WindowDataset(non-contiguous tensor of 40 ids, context_size=5, stride=3)"] = {
        "len": len(ds), "items": [tuple(ds[i]) for i in range(len(ds))]}
    return cases


def loader_of(*, swap=False, **kept):
    """A make_dataloader that builds WindowDataset with context_size and stride swapped, or passes on only the
    DataLoader options named in `kept` (True: passed on; False: left at DataLoader's default)."""
    from torch.utils.data import DataLoader

    def make_dataloader(token_ids, batch_size, context_size, stride, shuffle=True, drop_last=True):
        options = {name: value for name, value in (("shuffle", shuffle), ("drop_last", drop_last))
                   if kept.get(name, True)}
        sizes = (stride, context_size) if swap else (context_size, stride)
        return DataLoader(window_dataset()(token_ids, *sizes), batch_size=batch_size, **options)
    return make_dataloader


@task("03.dataloader", points=2, target="make_dataloader", compare=diagnosed(
      Misconception("pass drop_last on to the DataLoader: with drop_last=True the last, smaller batch is left out",
                    as_if(lambda: dataloader_cases(loader_of(drop_last=False)))),
      Misconception("context_size and stride look swapped: WindowDataset(token_ids, context_size, stride)",
                    as_if(lambda: dataloader_cases(loader_of(swap=True))))),
      hint="wrap a WindowDataset in a torch.utils.data.DataLoader, passing on batch_size, shuffle and drop_last")
def dataloader_cases(make_dataloader):
    from torch.utils.data import DataLoader

    cases = {}
    ids = distinct_ids(50, seed=6).tolist()
    for batch, context, stride, drop_last in [(3, 5, 2, True), (3, 5, 2, False), (4, 4, 4, False),
                                              (1, 2, 3, True), (8, 4, 4, True)]:
        loader = make_dataloader(ids, batch_size=batch, context_size=context, stride=stride,
                                 shuffle=False, drop_last=drop_last)
        label = f"make_dataloader(50 ids, batch_size={batch}, context_size={context}, stride={stride}, " \
                f"shuffle=False, drop_last={drop_last})"
        cases[label + ": is a DataLoader"] = isinstance(loader, DataLoader)
        cases[label] = [tuple(b) for b in loader]
    torch.manual_seed(0)
    loader = make_dataloader(ids, batch_size=4, context_size=3, stride=2, shuffle=True, drop_last=False)
    batches = [tuple(b) for b in loader]
    label = "make_dataloader(50 ids, batch_size=4, context_size=3, stride=2, shuffle=True, drop_last=False)"
    if all(isinstance(b, tuple) and len(b) == 2 and all(isinstance(t, torch.Tensor) and t.dim() == 2 for t in b)
           for b in batches):
        rows = [(x.tolist(), y.tolist()) for xb, yb in batches for x, y in zip(xb, yb)]
        cases[label + ": the windows (sorted)"] = [list(r) for r in sorted(rows)]
        in_order = [x for xb, _ in make_dataloader(ids, batch_size=4, context_size=3, stride=2, shuffle=False,
                                                    drop_last=False) for x in xb.tolist()]
        cases[label + ": shuffled (not in window order)"] = [r[0] for r in rows] != in_order
        cases[label + ": batch sizes"] = [len(b[0]) for b in batches]
    else:
        cases[label] = batches
    return cases
