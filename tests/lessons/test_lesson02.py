"""Lesson 02: each check rejects plausible wrong answers and accepts other correct ones."""

WRONG = {
    "tokenize": [
        # whitespace split: punctuation stays glued to words
        ("def tokenize(text):\n    return text.split()",
         "punctuation is a token of its own"),
        # special markers not kept whole
        ("def tokenize(text):\n    return re.findall(r'\\w+|[^\\w\\s]', text)",
         "keep a special marker <|name|> whole"),
        # runs of punctuation kept together ('--' as one token)
        ("def tokenize(text):\n    return re.findall(r'<\\|\\w+\\|>|\\w+|[^\\w\\s]+', text)",
         "each punctuation character is a token of its own"),
        # whitespace kept as tokens
        ("def tokenize(text):\n    return [t for t in re.split(r'(<\\|\\w+\\|>|\\W)', text) if t]",
         "whitespace only separates tokens"),
        # words only, punctuation dropped
        ("def tokenize(text):\n    return re.findall(r'<\\|\\w+\\|>|\\w+', text)",
         "punctuation marks are tokens too"),
    ],
    "vocab": [
        # unsorted
        ("def build_word_vocab(tokens, special_tokens=()):\n"
         "    vocab = {}\n    for t in list(tokens) + list(special_tokens):\n"
         "        vocab.setdefault(t, len(vocab))\n    return vocab",
         "number the tokens in sorted order"),
        # special tokens sorted in with the words
        ("def build_word_vocab(tokens, special_tokens=()):\n"
         "    return {t: i for i, t in enumerate(sorted(set(tokens) | set(special_tokens)))}",
         "the special tokens come after the words"),
        # special tokens ignored
        ("def build_word_vocab(tokens, special_tokens=()):\n"
         "    return {t: i for i, t in enumerate(sorted(set(tokens)))}",
         "append each special token after the words"),
        # ids from 1
        ("def build_word_vocab(tokens, special_tokens=()):\n"
         "    vocab = {t: i + 1 for i, t in enumerate(sorted(set(tokens)))}\n"
         "    for s in special_tokens:\n        vocab[s] = len(vocab) + 1\n    return vocab",
         "ids count from 0"),
        # a special token the text already holds is numbered again (its old id is left unused)
        ("def build_word_vocab(tokens, special_tokens=()):\n"
         "    vocab = {t: i for i, t in enumerate(sorted(set(tokens)))}\n"
         "    for s in special_tokens:\n        vocab[s] = len(vocab)\n    return vocab",
         "a special token already in the vocabulary"),
        # words then specials in one enumeration: a repeated token keeps its last id, leaving a gap
        ("def build_word_vocab(tokens, special_tokens=()):\n"
         "    return {t: i for i, t in enumerate(sorted(set(tokens)) + list(special_tokens))}",
         "a special token already in the vocabulary"),
        # special tokens taken out of the text first, then all appended: they leave their sorted place
        ("def build_word_vocab(tokens, special_tokens=()):\n"
         "    vocab = {t: i for i, t in enumerate(sorted(set(tokens) - set(special_tokens)))}\n"
         "    for s in special_tokens:\n        vocab.setdefault(s, len(vocab))\n    return vocab",
         "a special token already in the vocabulary"),
    ],
    "encode": [
        # unknown words silently become None instead of an error
        ("class SimpleTokenizer(SimpleTokenizer):\n"
         "    def encode(self, text):\n        return [self.str_to_int.get(t) for t in tokenize(text)]",
         "a word missing from the vocabulary must raise an error"),
        # whitespace split instead of tokenize
        ("class SimpleTokenizer(SimpleTokenizer):\n"
         "    def encode(self, text):\n        return [self.str_to_int[t] for t in text.split() if t in self.str_to_int]",
         "split the text with tokenize(text)"),
        # its own sorted numbering instead of the given vocabulary
        ("class SimpleTokenizer(SimpleTokenizer):\n"
         "    def encode(self, text):\n        order = sorted(self.str_to_int)\n"
         "        return [order.index(t) for t in tokenize(text)]",
         "look each token up in self.str_to_int"),
    ],
    "decode": [
        ("class SimpleTokenizer(SimpleTokenizer):\n"
         "    def decode(self, ids):\n        return ''.join(self.int_to_str[i] for i in ids)",
         "join the tokens with single spaces"),
        ("class SimpleTokenizer(SimpleTokenizer):\n"
         "    def decode(self, ids):\n        return [self.int_to_str[i] for i in ids]",
         "decode returns one string"),
        ("class SimpleTokenizer(SimpleTokenizer):\n"
         "    def decode(self, ids):\n        return ' '.join(self.int_to_str[i] for i in ids) + ' '",
         "no space after the last token"),
    ],
    "encode_unk": [
        # unknown words dropped
        ("class SimpleTokenizerV2(SimpleTokenizerV2):\n"
         "    def encode(self, text):\n"
         "        return [self.str_to_int[t] for t in tokenize(text) if t in self.str_to_int]",
         "it is not dropped"),
        # unknown words mapped to id 0
        ("class SimpleTokenizerV2(SimpleTokenizerV2):\n"
         "    def encode(self, text):\n        return [self.str_to_int.get(t, 0) for t in tokenize(text)]",
         "the vocabulary's id of '<unk>', not 0"),
        # unknown words mapped to len(vocab) (a made-up id)
        ("class SimpleTokenizerV2(SimpleTokenizerV2):\n"
         "    def encode(self, text):\n"
         "        return [self.str_to_int.get(t, len(self.str_to_int)) for t in tokenize(text)]",
         "the vocabulary's id of '<unk>', not len(vocab)"),
        # still raises
        ("class SimpleTokenizerV2(SimpleTokenizerV2):\n"
         "    def encode(self, text):\n        return [self.str_to_int[t] for t in tokenize(text)]",
         "a word missing from the vocabulary becomes self.unk_id"),
    ],
    "bpe_encode": [
        ("def bpe_encode(text, enc):\n    return enc.encode(text)",  # raises on <|endoftext|>
         "name it in allowed_special"),
        ("def bpe_encode(text, enc):\n    return enc.encode_ordinary(text)",  # marker spelt as text
         "not be spelt out as ordinary text"),
        ("def bpe_encode(text, enc):\n    return enc.encode(text, disallowed_special=())",
         "not be spelt out as ordinary text"),
        ("def bpe_encode(text, enc):\n    return list(text.encode('utf-8'))",  # raw bytes
         "the text's UTF-8 bytes"),
    ],
    "bpe_pieces": [
        ("def bpe_pieces(text, enc):\n    return [enc.decode([i]).strip() for i in enc.encode(text)]",
         "do not strip it"),
        ("def bpe_pieces(text, enc):\n    return enc.encode(text)",
         "not the ids themselves"),
        ("def bpe_pieces(text, enc):\n    return text.split()",
         "not the words between spaces"),
    ],
}

RIGHT = {
    "tokenize": [
        "def tokenize(text):\n"
        "    parts = re.split(r'(<\\|\\w+\\|>|\\W)', text)\n"
        "    return [p for p in parts if p and not p.isspace()]",
        "def tokenize(text):\n"
        "    return [m.group() for m in re.finditer(r'<\\|\\w+\\|>|\\w+|\\S', text)]",
    ],
    "vocab": [
        "def build_word_vocab(tokens, special_tokens=()):\n"
        "    words = sorted(set(tokens))\n    vocab = dict(zip(words, range(len(words))))\n"
        "    for s in special_tokens:\n        if s not in vocab:\n            vocab[s] = len(vocab)\n"
        "    return vocab",
        "def build_word_vocab(tokens, special_tokens=()):\n"
        "    vocab = {}\n    for t in sorted(set(tokens)) + list(special_tokens):\n"
        "        vocab.setdefault(t, len(vocab))\n    return vocab",
    ],
    "encode": [
        "class SimpleTokenizer(SimpleTokenizer):\n"
        "    def encode(self, text):\n        ids = []\n        for t in tokenize(text):\n"
        "            if t not in self.str_to_int:\n                raise ValueError(f'unknown word {t!r}')\n"
        "            ids.append(self.str_to_int[t])\n        return ids",
    ],
    "decode": [
        "class SimpleTokenizer(SimpleTokenizer):\n"
        "    def decode(self, ids):\n        words = [self.int_to_str[i] for i in ids]\n"
        "        return ' '.join(words)",
    ],
    "encode_unk": [
        "class SimpleTokenizerV2(SimpleTokenizerV2):\n"
        "    def encode(self, text):\n        out = []\n        for t in tokenize(text):\n"
        "            out.append(self.str_to_int[t] if t in self.str_to_int else self.str_to_int['<unk>'])\n"
        "        return out",
    ],
    "bpe_encode": [
        "def bpe_encode(text, enc):\n    return enc.encode(text, allowed_special='all')",
        "def bpe_encode(text, enc):\n    return enc.encode(text, allowed_special=set(['<|endoftext|>']))",
    ],
    "bpe_pieces": [
        "def bpe_pieces(text, enc):\n"
        "    return [enc.decode_single_token_bytes(i).decode('utf-8', errors='replace') for i in enc.encode(text)]",
        "def bpe_pieces(text, enc):\n    return [enc.decode([i]) for i in bpe_encode(text, enc)]",
    ],
}


def test_the_lesson_facts_hold():
    """The numbers the lesson prints: 338,025 GPT-2 tokens, 'unbelievability' in four pieces."""
    from autograder.loader import load_lesson
    from autograder.paths import read_tinyshakespeare
    import tiktoken

    lesson = load_lesson("02", source="solutions")
    enc = tiktoken.get_encoding("gpt2")
    assert len(lesson.bpe_encode(read_tinyshakespeare(), enc)) == 338_025
    assert lesson.bpe_encode("unbelievability", enc) == [403, 6667, 11203, 1799]
    assert lesson.bpe_pieces("unbelievability", enc) == ["un", "bel", "iev", "ability"]
    assert lesson.bpe_encode("a<|endoftext|>", enc)[-1] == 50256


def test_where_gpt2s_extra_tokens_come_from():
    """The figures of 'Three tokenizers side by side', counted as its demo cell counts them: 75,098 more tokens
    than the word tokenizer, 39,998 of them newlines, 39,951 extra pieces of 25,333 words spelt in pieces."""
    import re
    from collections import Counter

    import tiktoken

    from autograder.loader import load_lesson
    from autograder.paths import read_tinyshakespeare

    lesson = load_lesson("02", source="solutions")
    text, enc = read_tinyshakespeare(), tiktoken.get_encoding("gpt2")
    gpt2_ids, words = lesson.bpe_encode(text, enc), lesson.tokenize(text)
    assert (len(gpt2_ids), len(words)) == (338_025, 262_927)
    counts = Counter(gpt2_ids)
    assert sum(n for i, n in counts.items() if enc.decode([i]).strip() == "" and "\n" in enc.decode([i])) == 39_998
    letter_runs = Counter(re.findall(r" ?[A-Za-z]+", text))
    pieces = {run: len(enc.encode_ordinary(run)) for run in letter_runs}
    assert sum(n for run, n in letter_runs.items() if pieces[run] > 1) == 25_333
    assert sum(n * (pieces[run] - 1) for run, n in letter_runs.items()) == 39_951
    assert [enc.decode([i]) for i in enc.encode(" art I'll --")] == [" art", " I", "'ll", " --"]
