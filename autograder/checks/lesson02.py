"""Lesson 02 - words and subwords: regex tokenizer, word vocabulary, tokenizer classes, GPT-2 BPE."""

import random

from ..paths import read_tinyshakespeare
from ..tasks import task
from .kit import random_sentences

END_OF_TEXT = "<|endoftext|>"
UNK = "<unk>"

SAMPLES = [
    "Speak, speak.",
    "First Citizen:\nBefore we proceed any further, hear me speak.\n",
    "I'll tell thee -- 'tis true!  ",
    "",
    "   \n\t ",
    "one<|endoftext|>two <|endoftext|>\nthree",
    "snake_case and 3.14 and x2y; (a) [b] {c} \"q\"",
    "naïve café: Ærø!",
    "<unk> is split, <|endoftext|> is not",
]
WORDS = ["thou", "art", "Romeo", "speak", "me", "the", "I", "ll", "good", "night", "so", "sweet"]
GLUE = [" ", "  ", "\n", ", ", ". ", "! ", "? ", "'", ";", " -- ", ":\n"]


def random_texts(seed: int, n: int = 6) -> list[str]:
    """Sentences of known words with random punctuation and whitespace between them."""
    return random_sentences(seed, n, WORDS, GLUE)


def shuffled_vocab(tokens: list[str], seed: int) -> dict[str, int]:
    """A vocabulary with ids in a random order, so code that rebuilds its own table is caught."""
    distinct = sorted(set(tokens))
    ids = list(range(len(distinct)))
    random.Random(seed).shuffle(ids)
    return dict(zip(distinct, ids))


def known_tokens() -> list[str]:
    return WORDS + list(",.!?';:-") + [END_OF_TEXT]


def gpt2():
    import tiktoken

    return tiktoken.get_encoding("gpt2")


@task("02.tokenize", points=2, target="tokenize",
      hint="re.findall with three alternatives, tried in order: a <|name|> marker, a run of word "
           "characters, one other non-space character")
def tokenize_cases(tokenize):
    cases = {f"tokenize({t!r})": tokenize(t) for t in SAMPLES + random_texts(1)}
    cases["tokenize(first 3000 characters of Tiny Shakespeare)"] = tokenize(read_tinyshakespeare()[:3000])
    return cases


@task("02.vocab", points=1, target="build_word_vocab",
      hint="number sorted(set(tokens)) from 0, then append each new special token with id len(vocab)")
def vocab_cases(build_word_vocab):
    cases = {}
    samples = [
        (["b", "a", "c", "a", "b"], ()),
        (["to", "be", ",", "or", "not", "to", "be"], ("<unk>",)),
        (["x"], ("<unk>", END_OF_TEXT)),
        ([], ("<unk>",)),
        ([], ()),
        (["Zeal", "apple", "Apple", "!", "zeal", "10", "9"], (END_OF_TEXT, "<unk>")),
    ]
    rng = random.Random(2)
    samples.append(([rng.choice(WORDS) for _ in range(40)], ("<unk>", END_OF_TEXT)))
    # a special token the text already holds keeps its id among the words, and is not added again
    samples += [
        (["one", END_OF_TEXT, "two", END_OF_TEXT, "three"], (END_OF_TEXT, UNK)),
        (["b", UNK, "a", END_OF_TEXT], (UNK, END_OF_TEXT)),
        (["x", "y"], (UNK, UNK)),
    ]
    for tokens, specials in samples:
        cases[f"build_word_vocab({tokens!r}, {specials!r})"] = build_word_vocab(list(tokens), specials)
    return cases


@task("02.encode", points=1, target="SimpleTokenizer.encode",
      hint="look up each token of tokenize(text) in self.str_to_int (unknown tokens raise KeyError)")
def simple_encode_cases(SimpleTokenizer):
    vocab = shuffled_vocab(known_tokens(), seed=3)
    tokenizer = SimpleTokenizer(vocab)
    cases = {f"encode({t!r})": tokenizer.encode(t) for t in random_texts(3) + ["", "thou<|endoftext|>art"]}
    try:
        result = tokenizer.encode("thou art Juliet")
        cases["encode('thou art Juliet') with 'Juliet' not in the vocabulary"] = f"returned {result!r}"
    except NotImplementedError:
        raise
    except Exception:  # noqa: BLE001 - any error is the answer this case records
        cases["encode('thou art Juliet') with 'Juliet' not in the vocabulary"] = "raised an error"
    return cases


@task("02.decode", points=1, target="SimpleTokenizer.decode",
      hint="look up each id in self.int_to_str and join the tokens with single spaces")
def simple_decode_cases(SimpleTokenizer):
    vocab = shuffled_vocab(known_tokens(), seed=4)
    tokenizer = SimpleTokenizer(vocab)
    rng = random.Random(4)
    cases = {"decode([])": tokenizer.decode([])}
    for n in (1, 2, 7, 25):
        ids = [rng.randrange(len(vocab)) for _ in range(n)]
        cases[f"decode({ids!r})"] = tokenizer.decode(ids)
    return cases


@task("02.encode_unk", points=2, target="SimpleTokenizerV2.encode",
      hint="like SimpleTokenizer.encode, but a token missing from self.str_to_int becomes self.unk_id")
def unk_encode_cases(SimpleTokenizerV2):
    vocab = shuffled_vocab(known_tokens() + [UNK], seed=5)
    tokenizer = SimpleTokenizerV2(vocab)
    texts = random_texts(5) + [
        "", "Juliet", "thou art Juliet, sweet Juliet!", "Hello, do you like tea?",
        f"good night {END_OF_TEXT} good morrow", "<unk> itself",
    ]
    return {f"encode({t!r})": tokenizer.encode(t) for t in texts}


@task("02.bpe_encode", points=1, target="bpe_encode",
      hint="enc.encode refuses <|endoftext|> unless you name it in its allowed_special argument")
def bpe_encode_cases(bpe_encode):
    enc = gpt2()
    cases = {f"bpe_encode({t!r})": bpe_encode(t, enc) for t in [
        "unbelievability", "", "To be<|endoftext|>Or not", f"{END_OF_TEXT}{END_OF_TEXT}",
        "Hello, do you like tea?\n", "naïve café 🙂", "<|endoftext"]}
    ids = list(bpe_encode(read_tinyshakespeare(), enc))
    cases["Tiny Shakespeare: number of ids"] = len(ids)
    cases["Tiny Shakespeare: first 40 ids"] = ids[:40]
    cases["Tiny Shakespeare: ids 200000 to 200040"] = ids[200000:200040]
    cases["Tiny Shakespeare: last 40 ids"] = ids[-40:]
    cases["Tiny Shakespeare: sum of the ids"] = sum(ids)
    return cases


@task("02.bpe_pieces", points=1, target="bpe_pieces",
      hint="encode the text, then decode each id on its own (enc.decode takes a list of ids)")
def bpe_pieces_cases(bpe_pieces):
    enc = gpt2()
    texts = ["unbelievability", "ROMEO: Wherefore art thou?", "", " ", "Hello,  do you\nlike tea?",
             "xyzzyqwv", "Antidisestablishmentarianism"] + random_texts(6, n=3)
    return {f"bpe_pieces({t!r})": bpe_pieces(t, enc) for t in texts}
