"""Lesson 01: each check rejects plausible wrong answers and accepts other correct ones."""

WRONG = {
    "vocab": [
        ("def build_vocab(text):\n    return list(set(text))",  # unsorted
         "the characters must be in sorted order"),
        ("def build_vocab(text):\n    return sorted(text)",  # duplicates kept
         "each character once"),
        ("def build_vocab(text):\n    return ''.join(sorted(set(text)))",  # a string, not a list
         "expected a list, got a str"),
    ],
    "tables": [
        ("def make_tables(chars):\n    return {c: i + 1 for i, c in enumerate(chars)}, {i + 1: c for i, c in enumerate(chars)}",
         "ids count from 0"),
        ("def make_tables(chars):\n    s = {c: i for i, c in enumerate(chars)}\n    return s, s",
         "itos is the reverse of stoi"),
    ],
    "encode": [
        ("def encode(text, stoi):\n    return [stoi[c] + 1 for c in text]",  # off by one
         "not stoi[ch] + 1"),
        ("def encode(text, stoi):\n    chars = sorted(set(text))\n    return [chars.index(c) for c in text]",  # own table
         "look each character up in the stoi you are given"),
        ("def encode(text, stoi):\n    return [stoi[c] for c in text.strip()]",
         "do not strip the text"),
    ],
    "decode": [
        ("def decode(ids, itos):\n    return ' '.join(itos[i] for i in ids)",  # joined with spaces
         "join the characters with nothing between them"),
        ("def decode(ids, itos):\n    return [itos[i] for i in ids]",  # a list, not a str
         "decode returns one string"),
    ],
}

RIGHT = {
    "vocab": ["def build_vocab(text):\n    out = []\n    for c in text:\n        if c not in out:\n            out.append(c)\n    out.sort()\n    return out"],
    "tables": ["def make_tables(chars):\n    stoi = dict(zip(chars, range(len(chars))))\n    return stoi, {v: k for k, v in stoi.items()}"],
    "encode": ["def encode(text, stoi):\n    return list(map(stoi.get, text))"],
    "decode": ["def decode(ids, itos):\n    s = ''\n    for i in ids:\n        s += itos[i]\n    return s"],
}
