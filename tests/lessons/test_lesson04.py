"""Lesson 04: each check rejects plausible wrong answers and accepts other correct ones."""

INPUT = "def input_embeddings(idx, wte, wpe):\n"

WRONG = {
    "lookup": [
        ("def embedding_lookup(weight, ids):\n    return weight[:, ids]",  # columns instead of rows
         "the ids pick rows of weight"),
        ("def embedding_lookup(weight, ids):\n    return weight[ids.flatten()]",  # loses the shape of ids
         "keep the shape of ids"),
        ("def embedding_lookup(weight, ids):\n    return torch.index_select(weight, 0, ids)",  # 1-D ids only
         "ids may have any shape"),
        # one-hot without num_classes: the width depends on the largest id present
        ("def embedding_lookup(weight, ids):\n    return F.one_hot(ids).float() @ weight",
         "F.one_hot(ids, num_classes=weight.shape[0])"),
        ("def embedding_lookup(weight, ids):\n    return weight[ids - 1]",  # off by one
         "not weight[ids - 1]"),
    ],
    "one_hot": [
        ("def one_hot(ids, vocab_size, dtype=torch.float32):\n    return F.one_hot(ids).to(dtype)",
         "pass num_classes=vocab_size to F.one_hot"),
        ("def one_hot(ids, vocab_size, dtype=torch.float32):\n    return F.one_hot(ids, vocab_size)",  # int64
         "F.one_hot gives int64, convert it to dtype"),
        ("def one_hot(ids, vocab_size, dtype=torch.float32):\n    return F.one_hot(ids, vocab_size).float()",  # ignores dtype
         "convert to the dtype asked for"),
        ("def one_hot(ids, vocab_size, dtype=torch.float32):\n"
         "    return F.one_hot(ids, vocab_size).to(dtype).transpose(-1, -2)",
         "one row of 6 per id along the last dimension"),
    ],
    "position_ids": [
        ("def position_ids(idx):\n    return idx",  # token values, not positions
         "not the token ids"),
        ("def position_ids(idx):\n    return torch.arange(len(idx))",  # B, not T
         "len(idx) is B"),
        ("def position_ids(idx):\n    return torch.arange(idx.shape[1])",  # ignores the device
         "create the positions on idx's device"),
        ("def position_ids(idx):\n    return torch.arange(idx.shape[1], device=idx.device).expand(idx.shape)",  # (B, T)
         "return the T positions once, shape (T,)"),
        ("def position_ids(idx):\n    return torch.arange(1, idx.shape[1] + 1, device=idx.device)",  # from 1
         "positions count from 0"),
        ("def position_ids(idx):\n    return torch.arange(idx.shape[1], dtype=torch.float32, device=idx.device)",
         "keep torch.arange's integer dtype"),
    ],
    "input_embeddings": [
        (INPUT + "    return wte(idx) + wpe(idx)",  # positions from token values
         "look up the positions torch.arange(T) in it, not the token ids"),
        (INPUT + "    return wte(idx)",  # no positions
         "add the position embeddings"),
        (INPUT + "    return wte(idx) + wpe.weight",  # the whole table: (block_size, C)
         "wpe.weight holds all block_size positions"),
        (INPUT + "    return torch.cat([wte(idx), wpe(torch.arange(idx.shape[1])).expand(idx.shape[0], -1, -1)], -1)",
         "concatenating them doubles the channels"),
        (INPUT + "    B, T = idx.shape\n    return wte(idx) + wpe(torch.arange(B))[:, None, :]",  # positions per row
         "not one per row of the batch"),
        (INPUT + "    return wte(idx) * wpe(torch.arange(idx.shape[1]))",  # multiplied
         "do not multiply them"),
        (INPUT + "    return wte.weight.detach()[idx] + wpe.weight.detach()[:idx.shape[1]]",  # no gradient
         "no gradient can flow back to the inputs"),
        (INPUT + "    T = idx.shape[1]\n    return wte(idx) + wpe(torch.arange(T - 1, -1, -1))",  # reversed positions
         "positions 0 .. T-1 in order"),
    ],
}

RIGHT = {
    "lookup": [
        "def embedding_lookup(weight, ids):\n    return F.one_hot(ids, weight.shape[0]).to(weight.dtype) @ weight",
        "def embedding_lookup(weight, ids):\n"
        "    return torch.index_select(weight, 0, ids.reshape(-1)).reshape(*ids.shape, weight.shape[1])",
        "def embedding_lookup(weight, ids):\n"
        "    rows = [weight[i] for i in ids.reshape(-1).tolist()]\n"
        "    return torch.stack(rows).reshape(*ids.shape, weight.shape[1])",
    ],
    "one_hot": [
        "def one_hot(ids, vocab_size, dtype=torch.float32):\n"
        "    return (ids[..., None] == torch.arange(vocab_size)).to(dtype)",
        "def one_hot(ids, vocab_size, dtype=torch.float32):\n"
        "    out = torch.zeros(*ids.shape, vocab_size, dtype=dtype)\n"
        "    return out.scatter_(-1, ids.unsqueeze(-1), 1.0)",
    ],
    "position_ids": [
        "def position_ids(idx):\n    B, T = idx.size()\n    return torch.arange(0, T, 1, device=idx.device)",
        "def position_ids(idx):\n    return torch.arange(idx.size(-1), device=idx.device, dtype=torch.int64)",
    ],
    "input_embeddings": [
        INPUT + "    B, T = idx.shape\n    pos = torch.arange(T, device=idx.device).unsqueeze(0)\n"
        "    return wte(idx) + wpe(pos)",  # (1, T, C) position embeddings broadcast too
        INPUT + "    return wte.weight[idx] + wpe.weight[:idx.shape[1]]",  # slicing the table directly
        INPUT + "    return F.embedding(idx, wte.weight) + F.embedding(position_ids(idx), wpe.weight)",
    ],
}
