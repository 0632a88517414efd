"""Lesson 04: each check rejects plausible wrong answers and accepts other correct ones."""

INPUT = "def input_embeddings(idx, wte, wpe):\n"

WRONG = {
    "lookup": [
        "def embedding_lookup(weight, ids):\n    return weight[:, ids]",  # columns instead of rows
        "def embedding_lookup(weight, ids):\n    return weight[ids.flatten()]",  # loses the shape of ids
        "def embedding_lookup(weight, ids):\n    return torch.index_select(weight, 0, ids)",  # 1-D ids only
        # one-hot without num_classes: the width depends on the largest id present
        "def embedding_lookup(weight, ids):\n    return F.one_hot(ids).float() @ weight",
        "def embedding_lookup(weight, ids):\n    return weight[ids - 1]",  # off by one
    ],
    "one_hot": [
        "def one_hot(ids, vocab_size, dtype=torch.float32):\n    return F.one_hot(ids).to(dtype)",
        "def one_hot(ids, vocab_size, dtype=torch.float32):\n    return F.one_hot(ids, vocab_size)",  # int64
        "def one_hot(ids, vocab_size, dtype=torch.float32):\n    return F.one_hot(ids, vocab_size).float()",  # ignores dtype
        "def one_hot(ids, vocab_size, dtype=torch.float32):\n"
        "    return F.one_hot(ids, vocab_size).to(dtype).transpose(-1, -2)",
    ],
    "position_ids": [
        "def position_ids(idx):\n    return idx",  # token values, not positions
        "def position_ids(idx):\n    return torch.arange(len(idx))",  # B, not T
        "def position_ids(idx):\n    return torch.arange(idx.shape[1])",  # ignores the device
        "def position_ids(idx):\n    return torch.arange(idx.shape[1], device=idx.device).expand(idx.shape)",  # (B, T)
        "def position_ids(idx):\n    return torch.arange(1, idx.shape[1] + 1, device=idx.device)",  # from 1
        "def position_ids(idx):\n    return torch.arange(idx.shape[1], dtype=torch.float32, device=idx.device)",
    ],
    "input_embeddings": [
        INPUT + "    return wte(idx) + wpe(idx)",  # positions from token values
        INPUT + "    return wte(idx)",  # no positions
        INPUT + "    return wte(idx) + wpe.weight",  # the whole table: (block_size, C)
        INPUT + "    return torch.cat([wte(idx), wpe(torch.arange(idx.shape[1])).expand(idx.shape[0], -1, -1)], -1)",
        INPUT + "    B, T = idx.shape\n    return wte(idx) + wpe(torch.arange(B))[:, None, :]",  # positions per row
        INPUT + "    return wte(idx) * wpe(torch.arange(idx.shape[1]))",  # multiplied
        INPUT + "    return wte.weight.detach()[idx] + wpe.weight.detach()[:idx.shape[1]]",  # no gradient
        INPUT + "    T = idx.shape[1]\n    return wte(idx) + wpe(torch.arange(T - 1, -1, -1))",  # reversed positions
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
