"""Lesson 03: each check rejects plausible wrong answers and accepts other correct ones."""

import torch


GET_BATCH = "def get_batch(data, block_size, batch_size, generator=None, device='cpu'):\n"

WRONG = {
    "split": [
        ("def train_val_split(data, train_fraction=0.9):\n"
         "    n = round(train_fraction * len(data))\n    return data[:n], data[n:]",  # rounds instead of int()
         "which rounds down, not round(...)"),
        ("def train_val_split(data, train_fraction=0.9):\n"
         "    n = int(train_fraction * len(data))\n    return data[n:], data[:n]",  # swapped
         "return (train, val) in that order"),
        ("def train_val_split(data, train_fraction=0.9):\n"
         "    n = int(train_fraction * len(data))\n    return data[:n], data[n + 1:]",  # loses one item
         "no item is lost"),
        ("def train_val_split(data, train_fraction=0.9):\n"  # random split
         "    perm = torch.randperm(len(data))\n    n = int(train_fraction * len(data))\n"
         "    return data[perm[:n]], data[perm[n:]]",
         "split in order, without shuffling"),
    ],
    "pairs": [
        ("def context_target_pairs(window):\n"
         "    return [(list(window[:i]), window[i]) for i in range(len(window))]",  # starts with an empty context
         "start at i = 1"),
        ("def context_target_pairs(window):\n"
         "    return [(list(window[:i + 1]), window[i]) for i in range(len(window))]",  # target inside context
         "the target window[i] is not part of it"),
        ("def context_target_pairs(window):\n"
         "    return [(list(window[:i]), window[i]) for i in range(1, len(window) - 1)]",  # misses the last
         "go on to the last id"),
        ("def context_target_pairs(window):\n"
         "    return [(window[i - 1], window[i]) for i in range(1, len(window))]",  # bigram pairs only
         "not only the one just before it"),
    ],
    "get_batch": [
        # targets not shifted
        (GET_BATCH + "    ix = torch.randint(len(data) - block_size, (batch_size,), generator=generator)\n"
         "    x = torch.stack([data[i:i + block_size] for i in ix])\n    return x.to(device), x.clone().to(device)",
         "the targets must be x shifted by one"),
        # shifted the wrong way (y[t] = data[i + t - 1])
        (GET_BATCH + "    ix = torch.randint(1, len(data) - block_size, (batch_size,), generator=generator)\n"
         "    x = torch.stack([data[i:i + block_size] for i in ix])\n"
         "    y = torch.stack([data[i - 1:i + block_size - 1] for i in ix])\n    return x.to(device), y.to(device)",
         "y is x shifted the wrong way"),
        # last offset never drawn
        (GET_BATCH + "    ix = torch.randint(len(data) - block_size - 1, (batch_size,), generator=generator)\n"
         "    x = torch.stack([data[i:i + block_size] for i in ix])\n"
         "    y = torch.stack([data[i + 1:i + block_size + 1] for i in ix])\n    return x.to(device), y.to(device)",
         "torch.randint's high is exclusive"),
        # offset 0 never drawn
        (GET_BATCH + "    ix = torch.randint(1, len(data) - block_size, (batch_size,), generator=generator)\n"
         "    x = torch.stack([data[i:i + block_size] for i in ix])\n"
         "    y = torch.stack([data[i + 1:i + block_size + 1] for i in ix])\n    return x.to(device), y.to(device)",
         "offset 0 is never drawn"),
        # runs past the end (y of the last window is cut short / wraps)
        (GET_BATCH + "    ix = torch.randint(len(data) - block_size + 1, (batch_size,), generator=generator)\n"
         "    idx = (ix[:, None] + torch.arange(block_size + 1)) % len(data)\n"
         "    return data[idx[:, :-1]].to(device), data[idx[:, 1:]].to(device)",
         "the last offset with room for its targets is len(data) - block_size - 1"),
        # ignores the generator (global stream)
        (GET_BATCH + "    ix = torch.randint(len(data) - block_size, (batch_size,))\n"
         "    x = torch.stack([data[i:i + block_size] for i in ix])\n"
         "    y = torch.stack([data[i + 1:i + block_size + 1] for i in ix])\n    return x.to(device), y.to(device)",
         "draw the offsets with torch.randint(..., generator=generator)"),
        # ignores the device
        (GET_BATCH + "    ix = torch.randint(len(data) - block_size, (batch_size,), generator=generator)\n"
         "    x = torch.stack([data[i:i + block_size] for i in ix])\n"
         "    y = torch.stack([data[i + 1:i + block_size + 1] for i in ix])\n    return x, y",
         "move both to device"),
        # float tensors
        (GET_BATCH + "    ix = torch.randint(len(data) - block_size, (batch_size,), generator=generator)\n"
         "    x = torch.zeros(batch_size, block_size)\n    y = torch.zeros(batch_size, block_size)\n"
         "    for b, i in enumerate(ix):\n        x[b] = data[i:i + block_size]\n        y[b] = data[i + 1:i + block_size + 1]\n"
         "    return x.to(device), y.to(device)",
         "x should have dtype torch.int64"),
        # (T, B) instead of (B, T)
        (GET_BATCH + "    ix = torch.randint(len(data) - block_size, (batch_size,), generator=generator)\n"
         "    x = torch.stack([data[i:i + block_size] for i in ix], dim=1)\n"
         "    y = torch.stack([data[i + 1:i + block_size + 1] for i in ix], dim=1)\n    return x.to(device), y.to(device)",
         "the windows are the rows"),
        # one offset for the whole batch
        (GET_BATCH + "    i = int(torch.randint(len(data) - block_size, (1,), generator=generator))\n"
         "    x = data[i:i + block_size].repeat(batch_size, 1)\n    y = data[i + 1:i + block_size + 1].repeat(batch_size, 1)\n"
         "    return x.to(device), y.to(device)",
         "every row of a batch starts at the same offset"),
        # windows strided instead of contiguous
        (GET_BATCH + "    ix = torch.randint(len(data) - block_size, (batch_size,), generator=generator)\n"
         "    x = torch.stack([data[i + torch.arange(block_size) * 0 + torch.arange(block_size) // 2] for i in ix])\n"
         "    y = torch.stack([data[i + 1:i + block_size + 1] for i in ix])\n    return x.to(device), y.to(device)",
         "is not a contiguous slice data[i:i+block_size]"),
    ],
    "dataset": [
        # misses the last window when the ids fit exactly
        ("class WindowDataset(WindowDataset):\n"
         "    def __len__(self):\n        return (len(self.token_ids) - self.context_size) // self.stride",
         "__len__ misses the last window"),
        # one window too many (its target runs past the end)
        ("class WindowDataset(WindowDataset):\n"
         "    def __len__(self):\n        return len(range(0, len(self.token_ids) - self.context_size + 1, self.stride))",
         "one window too many"),
        # ignores the stride
        ("class WindowDataset(WindowDataset):\n"
         "    def __getitem__(self, i):\n"
         "        return self.token_ids[i:i + self.context_size], self.token_ids[i + 1:i + self.context_size + 1]",
         "window i starts at i * stride, not at i"),
        # stride = context_size always
        ("class WindowDataset(WindowDataset):\n"
         "    def __getitem__(self, i):\n        s = i * self.context_size\n"
         "        return self.token_ids[s:s + self.context_size], self.token_ids[s + 1:s + self.context_size + 1]",
         "not i * context_size"),
        # unshifted targets
        ("class WindowDataset(WindowDataset):\n"
         "    def __getitem__(self, i):\n        s = i * self.stride\n"
         "        return self.token_ids[s:s + self.context_size], self.token_ids[s:s + self.context_size]",
         "the target is the window shifted by one"),
        # lists instead of tensors
        ("class WindowDataset(WindowDataset):\n"
         "    def __getitem__(self, i):\n        s = i * self.stride\n        ids = self.token_ids.tolist()\n"
         "        return ids[s:s + self.context_size], ids[s + 1:s + self.context_size + 1]",
         "returns two tensors"),
    ],
    "dataloader": [
        # ignores shuffle
        ("def make_dataloader(token_ids, batch_size, context_size, stride, shuffle=True, drop_last=True):\n"
         "    return DataLoader(WindowDataset(token_ids, context_size, stride), batch_size=batch_size, drop_last=drop_last)",
         "shuffled (not in window order): not the case"),
        # ignores drop_last
        ("def make_dataloader(token_ids, batch_size, context_size, stride, shuffle=True, drop_last=True):\n"
         "    return DataLoader(WindowDataset(token_ids, context_size, stride), batch_size=batch_size, shuffle=shuffle)",
         "pass drop_last on to the DataLoader"),
        # stride and context_size swapped
        ("def make_dataloader(token_ids, batch_size, context_size, stride, shuffle=True, drop_last=True):\n"
         "    return DataLoader(WindowDataset(token_ids, stride, context_size), batch_size=batch_size,\n"
         "                      shuffle=shuffle, drop_last=drop_last)",
         "context_size and stride look swapped"),
        # a list of batches instead of a DataLoader
        ("def make_dataloader(token_ids, batch_size, context_size, stride, shuffle=True, drop_last=True):\n"
         "    return list(DataLoader(WindowDataset(token_ids, context_size, stride), batch_size=batch_size,\n"
         "                           shuffle=shuffle, drop_last=drop_last))",
         "is a DataLoader: not the case"),
    ],
}

RIGHT = {
    "split": [
        "def train_val_split(data, train_fraction=0.9):\n"
        "    n = int(len(data) * train_fraction)\n    return data[:n].clone(), data[n:].clone()",
        "def train_val_split(data, train_fraction=0.9):\n"
        "    n = int(train_fraction * len(data))\n    train, val = torch.split(data, [n, len(data) - n])\n"
        "    return train, val",
    ],
    "pairs": [
        "def context_target_pairs(window):\n    pairs = []\n    for i in range(1, len(window)):\n"
        "        pairs.append([window[:i], window[i]])\n    return pairs",
    ],
    "get_batch": [
        # vectorised gather instead of a loop
        GET_BATCH + "    ix = torch.randint(0, len(data) - block_size, (batch_size,), generator=generator)\n"
        "    offsets = ix[:, None] + torch.arange(block_size)\n"
        "    return data[offsets].to(device), data[offsets + 1].to(device)",
        # another random stream entirely: only the properties count
        GET_BATCH + "    g = generator if generator is not None else torch.default_generator\n"
        "    seed = int(torch.randint(2**31, (1,), generator=g))\n    import random\n"
        "    rng = random.Random(seed)\n    ix = [rng.randrange(len(data) - block_size) for _ in range(batch_size)]\n"
        "    x = torch.stack([data[i:i + block_size + 1] for i in ix])\n"
        "    return x[:, :-1].to(device), x[:, 1:].to(device)",
        # unfold
        GET_BATCH + "    ix = torch.randint(len(data) - block_size, (batch_size,), generator=generator)\n"
        "    windows = data.unfold(0, block_size + 1, 1)[ix]\n"
        "    return windows[:, :-1].to(device=device), windows[:, 1:].to(device=device)",
    ],
    "dataset": [
        # windows precomputed on first use
        "class WindowDataset(WindowDataset):\n"
        "    def __len__(self):\n        n, c, s = len(self.token_ids), self.context_size, self.stride\n"
        "        return 0 if n <= c else (n - c - 1) // s + 1\n"
        "    def __getitem__(self, i):\n        w = self.token_ids[i * self.stride:i * self.stride + self.context_size + 1]\n"
        "        return w[:-1], w[1:]",
    ],
    "dataloader": [
        "def make_dataloader(token_ids, batch_size, context_size, stride, shuffle=True, drop_last=True):\n"
        "    ds = WindowDataset(token_ids, context_size=context_size, stride=stride)\n"
        "    return DataLoader(ds, batch_size, shuffle, drop_last=drop_last, num_workers=0)",
        # its own shuffling stream
        "def make_dataloader(token_ids, batch_size, context_size, stride, shuffle=True, drop_last=True):\n"
        "    g = torch.Generator().manual_seed(42)\n"
        "    return DataLoader(WindowDataset(token_ids, context_size, stride), batch_size=batch_size,\n"
        "                      shuffle=shuffle, drop_last=drop_last, generator=g)",
    ],
}


def test_reference_get_batch_uses_the_contract_randint_call():
    """The capstone relies on the exact stream: offsets = torch.randint(len(data) - block_size, (B,), generator)."""
    from autograder.loader import load_lesson

    lesson = load_lesson("03", source="solutions")
    data = torch.arange(1000) * 3
    for block, batch in [(8, 4), (1, 1), (32, 16)]:
        x, y = lesson.get_batch(data, block, batch, generator=torch.Generator().manual_seed(1337))
        ix = torch.randint(len(data) - block, (batch,), generator=torch.Generator().manual_seed(1337))
        assert torch.equal(x, torch.stack([data[i:i + block] for i in ix]))
        assert torch.equal(y, torch.stack([data[i + 1:i + block + 1] for i in ix]))
        assert x.dtype == y.dtype == torch.int64
