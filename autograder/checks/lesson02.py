"""Lesson 02 - words and subwords: regex tokenizer, word vocabulary, tokenizer classes, GPT-2 BPE."""

import random
import re

from ..compare import CheckFailed
from ..misconceptions import Misconception, as_if, every_case, diagnosed, matches
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


# --- what the plausible mistakes give: the Misconceptions below test the student's outputs against the
# exercise run here, in the grader's process, with the mistake in place of the student's code



def finds(pattern):
    return lambda text: re.findall(pattern, text)


TOKENIZE_MISCONCEPTIONS = (
    Misconception("punctuation is a token of its own ('speak.' is 'speak' and '.'): text.split() only cuts at "
                  "whitespace; use re.findall with the three alternatives", as_if(lambda: tokenize_cases(str.split))),
    Misconception("keep a special marker <|name|> whole, as one token: put its alternative r'<\\|\\w+\\|>' first in "
                  "the pattern", as_if(lambda: tokenize_cases(finds(r"\w+|[^\w\s]")))),
    Misconception("each punctuation character is a token of its own ('--' is '-' and '-'): [^\\w\\s], not [^\\w\\s]+",
                  as_if(lambda: tokenize_cases(finds(r"<\|\w+\|>|\w+|[^\w\s]+")))),
    Misconception("whitespace only separates tokens, it is no token itself: drop the spaces and newlines",
                  every_case(lambda got, want: [t for t in got if not t.isspace()] == want)),
    Misconception("punctuation marks are tokens too: the pattern's last alternative, [^\\w\\s], keeps each one",
                  every_case(lambda got, want: got == [t for t in want if re.fullmatch(r"<\|\w+\|>|\w+", t)])),
)


@task("02.tokenize", points=2, target="tokenize", compare=diagnosed(*TOKENIZE_MISCONCEPTIONS),
      hint="re.findall with three alternatives, tried in order: a <|name|> marker, a run of word "
           "characters, one other non-space character")
def tokenize_cases(tokenize):
    cases = {f"tokenize({t!r})": tokenize(t) for t in SAMPLES + random_texts(1)}
    cases["tokenize(first 3000 characters of Tiny Shakespeare)"] = tokenize(read_tinyshakespeare()[:3000])
    return cases


def word_vocab_samples() -> list:
    """[(tokens, special_tokens)]: the check's inputs."""
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
    return samples


def vocab_label(tokens, specials) -> str:
    return f"build_word_vocab({tokens!r}, {specials!r})"


def plain_samples(test):
    """Test: `test(actual value, expected value)` holds for every case where no special token is among the
    tokens or named twice (where appending each special token with id len(vocab) is right)."""
    def shows(actual, expected):
        return all(test(actual[vocab_label(t, sp)], expected[vocab_label(t, sp)]) for t, sp in word_vocab_samples()
                   if not set(t) & set(sp) and len(set(sp)) == len(sp))
    return shows


def vocab_first_seen(tokens, special_tokens=()):
    vocab = {}
    for t in list(tokens) + list(special_tokens):
        vocab.setdefault(t, len(vocab))
    return vocab


VOCAB_MISCONCEPTIONS = (
    Misconception("number the tokens in sorted order, sorted(set(tokens)), not in the order they first appear",
                  as_if(lambda: vocab_cases(vocab_first_seen))),
    Misconception("the special tokens come after the words, in the order given (id len(vocab) each), not sorted in "
                  "among them", as_if(lambda: vocab_cases(
                      lambda tokens, special_tokens=(): {t: i for i, t in enumerate(sorted(set(tokens) | set(special_tokens)))}))),
    Misconception("append each special token after the words, with the next free id len(vocab): they are missing",
                  as_if(lambda: vocab_cases(
                      lambda tokens, special_tokens=(): {t: i for i, t in enumerate(sorted(set(tokens)))}))),
    Misconception("ids count from 0: the first sorted token has id 0",
                  plain_samples(lambda got, want: got == {token: i + 1 for token, i in want.items()})),
    Misconception("a special token already in the vocabulary (among the tokens, or named twice) keeps its first id: "
                  "append only the missing ones (if token not in vocab), each with id len(vocab)",
                  plain_samples(matches)),
)


@task("02.vocab", points=1, target="build_word_vocab", compare=diagnosed(*VOCAB_MISCONCEPTIONS),
      hint="number sorted(set(tokens)) from 0, then append each new special token with id len(vocab)")
def vocab_cases(build_word_vocab):
    return {vocab_label(tokens, specials): build_word_vocab(list(tokens), specials)
            for tokens, specials in word_vocab_samples()}


TOKEN = re.compile(r"<\|\w+\|>|\w+|[^\w\s]")  # the lesson's tokenize, for the stand-ins below


def tokenizer_with(**methods):
    """A stand-in for the notebook's tokenizer classes (their __init__), with mistaken methods."""
    def __init__(self, vocab):
        self.str_to_int = vocab
        self.int_to_str = {i: token for token, i in vocab.items()}
        self.unk_id = vocab.get(UNK)

    return type("StandIn", (), {"__init__": __init__, **methods})


UNKNOWN_WORD = "encode('thou art Juliet') with 'Juliet' not in the vocabulary"


def returns_for_an_unknown_word(actual, expected):
    """Test: every case right but the unknown word's, where the encoder returned instead of raising."""
    return (str(actual[UNKNOWN_WORD]).startswith("returned")
            and all(matches(actual[label], want) for label, want in expected.items() if label != UNKNOWN_WORD))


ENCODE_MISCONCEPTIONS = (
    Misconception("a word missing from the vocabulary must raise an error (self.str_to_int[token] raises KeyError): "
                  "SimpleTokenizer has no id to give it", returns_for_an_unknown_word),
    Misconception("split the text with tokenize(text), the lesson's tokenizer: text.split() keeps punctuation glued "
                  "to the words", as_if(lambda: simple_encode_cases(tokenizer_with(
                      encode=lambda self, text: [self.str_to_int[t] for t in text.split() if t in self.str_to_int])))),
    Misconception("look each token up in self.str_to_int, the vocabulary the tokenizer was given, not in a numbering "
                  "of your own: this check's vocabulary has its ids shuffled", as_if(lambda: simple_encode_cases(
                      tokenizer_with(encode=lambda self, text: [sorted(self.str_to_int).index(t)
                                                                for t in TOKEN.findall(text)])))),
)


@task("02.encode", points=1, target="SimpleTokenizer.encode", compare=diagnosed(*ENCODE_MISCONCEPTIONS),
      hint="look up each token of tokenize(text) in self.str_to_int (unknown tokens raise KeyError)")
def simple_encode_cases(SimpleTokenizer):
    vocab = shuffled_vocab(known_tokens(), seed=3)
    tokenizer = SimpleTokenizer(vocab)
    cases = {f"encode({t!r})": tokenizer.encode(t) for t in random_texts(3) + ["", "thou<|endoftext|>art"]}
    try:
        result = tokenizer.encode("thou art Juliet")
        cases[UNKNOWN_WORD] = f"returned {result!r}"
    except NotImplementedError:
        raise
    except Exception:  # noqa: BLE001 - any error is the answer this case records
        cases[UNKNOWN_WORD] = "raised an error"
    return cases


@task("02.decode", points=1, target="SimpleTokenizer.decode", compare=diagnosed(
      Misconception("join the tokens with single spaces, ' '.join(...), not with nothing between them",
                    every_case(lambda got, want: got == want.replace(" ", ""))),
      Misconception("decode returns one string, ' '.join(the tokens), not a list of them",
                    every_case(lambda got, want: isinstance(got, list) and " ".join(got) == want)),
      Misconception("no space after the last token: ' '.join(tokens) puts spaces only between them",
                    every_case(lambda got, want: got == want + " "))),
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


def unk_vocab() -> dict[str, int]:
    return shuffled_vocab(known_tokens() + [UNK], seed=5)


def unknown_words_as(other_id):
    """Test: every case is right but for the unknown words' ids, which are other_id(vocab) (None: dropped)."""
    def shows(actual, expected):
        vocab = unk_vocab()
        unk, other = vocab[UNK], other_id(vocab)
        return all(actual[label] == [i for i in (other if i == unk else i for i in want) if i is not None]
                   for label, want in expected.items())
    return shows


UNK_MISCONCEPTIONS = (
    Misconception("a word missing from the vocabulary becomes self.unk_id, in its place: it is not dropped",
                  unknown_words_as(lambda vocab: None)),
    Misconception("a word missing from the vocabulary gets self.unk_id, the vocabulary's id of '<unk>', not 0 "
                  "(another token's id)", unknown_words_as(lambda vocab: 0)),
    Misconception("a word missing from the vocabulary gets self.unk_id, the vocabulary's id of '<unk>', not "
                  "len(vocab) (an id no token has)", unknown_words_as(len)),
)


@task("02.encode_unk", points=2, target="SimpleTokenizerV2.encode", compare=diagnosed(*UNK_MISCONCEPTIONS),
      hint="like SimpleTokenizer.encode, but a token missing from self.str_to_int becomes self.unk_id")
def unk_encode_cases(SimpleTokenizerV2):
    tokenizer = SimpleTokenizerV2(unk_vocab())
    texts = random_texts(5) + [
        "", "Juliet", "thou art Juliet, sweet Juliet!", "Hello, do you like tea?",
        f"good night {END_OF_TEXT} good morrow", "<unk> itself",
    ]
    cases = {}
    for t in texts:
        try:
            cases[f"encode({t!r})"] = tokenizer.encode(t)
        except CheckFailed as err:
            if isinstance(err.__context__, KeyError):  # the error autograder.calls named
                raise CheckFailed(f"{err} -- a word missing from the vocabulary becomes self.unk_id: "
                                  "self.str_to_int.get(token, self.unk_id)") from None
            raise
    return cases


BPE_TEXTS = ["unbelievability", "", "To be<|endoftext|>Or not", f"{END_OF_TEXT}{END_OF_TEXT}",
             "Hello, do you like tea?\n", "naïve café 🙂", "<|endoftext"]
END_OF_TEXT_ID = 50256  # GPT-2's id of <|endoftext|>


def marker_spelt_out(actual, expected):
    """Test: every case without <|endoftext|> is right, and no case with it holds its id."""
    return all(END_OF_TEXT_ID not in actual[label] if END_OF_TEXT in label else matches(actual[label], want)
               for label, want in expected.items())


@task("02.bpe_encode", points=1, target="bpe_encode", compare=diagnosed(
      Misconception("<|endoftext|> must become its one special id, 50256, not be spelt out as ordinary text: "
                    "enc.encode(text, allowed_special={'<|endoftext|>'})", marker_spelt_out),
      Misconception("these are the text's UTF-8 bytes, one id per byte: GPT-2's ids come from enc.encode(text, ...), "
                    "which merges bytes into tokens", lambda actual, expected: all(
                        actual[f"bpe_encode({t!r})"] == list(t.encode("utf-8")) for t in BPE_TEXTS))),
      hint="enc.encode refuses <|endoftext|> unless you name it in its allowed_special argument")
def bpe_encode_cases(bpe_encode):
    enc = gpt2()
    cases = {}
    for t in BPE_TEXTS:
        try:
            cases[f"bpe_encode({t!r})"] = bpe_encode(t, enc)
        except CheckFailed as err:
            if isinstance(err.__context__, ValueError) and "disallowed special token" in str(err.__context__):
                raise CheckFailed(f"{err} -- name it in allowed_special: "
                                  "enc.encode(text, allowed_special={'<|endoftext|>'})") from None
            raise
    ids = list(bpe_encode(read_tinyshakespeare(), enc))
    cases["Tiny Shakespeare: number of ids"] = len(ids)
    cases["Tiny Shakespeare: first 40 ids"] = ids[:40]
    cases["Tiny Shakespeare: ids 200000 to 200040"] = ids[200000:200040]
    cases["Tiny Shakespeare: last 40 ids"] = ids[-40:]
    cases["Tiny Shakespeare: sum of the ids"] = sum(ids)
    return cases


def pieces_texts() -> list[str]:
    return ["unbelievability", "ROMEO: Wherefore art thou?", "", " ", "Hello,  do you\nlike tea?",
            "xyzzyqwv", "Antidisestablishmentarianism"] + random_texts(6, n=3)


@task("02.bpe_pieces", points=1, target="bpe_pieces", compare=diagnosed(
      Misconception("keep each piece exactly as enc.decode([id]) gives it, its leading space included (' art'): "
                    "do not strip it", every_case(lambda got, want: got == [p.strip() for p in want])),
      Misconception("return each token's text, enc.decode([id]), not the ids themselves", every_case(
          lambda got, want: len(got) == len(want) and all(isinstance(i, int) for i in got))),
      Misconception("the pieces are GPT-2's tokens, enc.decode([id]) for each id of enc.encode(text), not the words "
                    "between spaces", lambda actual, expected: all(
                        actual[f"bpe_pieces({t!r})"] == t.split() for t in pieces_texts()))),
      hint="encode the text, then decode each id on its own (enc.decode takes a list of ids)")
def bpe_pieces_cases(bpe_pieces):
    enc = gpt2()
    return {f"bpe_pieces({t!r})": bpe_pieces(t, enc) for t in pieces_texts()}
