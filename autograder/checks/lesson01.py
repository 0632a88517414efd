"""Lesson 01 - characters to integers: vocabulary, lookup tables, encode, decode."""

import random

from ..misconceptions import Misconception, as_if, every_case, diagnosed
from ..paths import read_tinyshakespeare
from ..tasks import task
from .kit import random_strings

SAMPLES = ["hii there", "", "To be, or not to be?\n", "aAbB\n!!zz", "été à Paris", "ba" * 50]


ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ .,;:!?'\n-&$3"


def random_texts(seed: int, n: int = 5) -> list[str]:
    return random_strings(seed, n, ALPHABET)


def shuffled_tables(chars: list[str], seed: int):
    """stoi/itos with ids in a random order, so a function that rebuilds its own table is caught."""
    ids = list(range(len(chars)))
    random.Random(seed).shuffle(ids)
    stoi = dict(zip(chars, ids))
    return stoi, {i: ch for ch, i in stoi.items()}


# --- what the plausible mistakes give: each Misconception below tests the student's outputs against the
# exercise run here, in the grader's process, with the mistake in place of the student's code



@task("01.vocab", points=1, target="build_vocab", compare=diagnosed(
      Misconception("the characters must be in sorted order: sorted(set(text)), not the order a set gives",
                    every_case(lambda got, want: isinstance(got, list) and sorted(got) == want)),
      Misconception("each character once: sorted(set(text)), the repeats dropped",
                    every_case(lambda got, want: isinstance(got, list) and sorted(set(got)) == want))),
      hint="the sorted list of the distinct characters in text")
def vocab_cases(build_vocab):
    cases = {f"build_vocab({t!r})": build_vocab(t) for t in SAMPLES + random_texts(1)}
    cases["build_vocab(tiny_shakespeare)"] = build_vocab(read_tinyshakespeare())
    return cases


def tables_from_one(chars):
    return {c: i + 1 for i, c in enumerate(chars)}, {i + 1: c for i, c in enumerate(chars)}


@task("01.tables", points=1, target="make_tables", compare=diagnosed(
      Misconception("ids count from 0: stoi[ch] is ch's position in chars (enumerate(chars)), not position + 1",
                    as_if(lambda: tables_cases(tables_from_one))),
      Misconception("itos is the reverse of stoi: it maps each id back to its character, {i: ch}, not ch to i",
                    every_case(lambda got, want: got["itos"] == want["stoi"]))),
      hint="stoi maps each character to its position in chars; itos is the reverse")
def tables_cases(make_tables):
    cases = {}
    for chars in (list("\n !abc"), list("zyx"), ["q"], sorted(set("".join(random_texts(2))))):
        stoi, itos = make_tables(chars)
        cases[f"make_tables({''.join(chars)!r})"] = {"stoi": stoi, "itos": itos}
    return cases


def encode_plus_one(text, stoi):
    return [stoi[c] + 1 for c in text]


def encode_own_table(text, stoi):
    return [sorted(set(text)).index(c) for c in text]


def encode_stripped(text, stoi):
    return [stoi[c] for c in text.strip()]


@task("01.encode", points=2, target="encode", compare=diagnosed(
      Misconception("a character's id is stoi[ch] itself, not stoi[ch] + 1", as_if(lambda: encode_cases(encode_plus_one))),
      Misconception("look each character up in the stoi you are given, not in a table of your own built from the "
                    "text: ids depend on the whole vocabulary, and this check passes shuffled tables",
                    as_if(lambda: encode_cases(encode_own_table))),
      Misconception("every character counts, spaces and newlines at the ends too: do not strip the text",
                    as_if(lambda: encode_cases(encode_stripped)))),
      hint="look up each character of text in stoi")
def encode_cases(encode):
    text = read_tinyshakespeare()
    chars = sorted(set(text))
    stoi = {ch: i for i, ch in enumerate(chars)}
    cases = {"encode('hii there') with the Shakespeare table": encode("hii there", stoi),
             "encode('') (empty text)": encode("", stoi),
             "encode(' spaces and newlines count \\n')": encode(" spaces and newlines count \n", stoi)}
    shuffled, _ = shuffled_tables(chars, seed=3)
    for t in random_texts(3):
        cases[f"encode({t!r}) with a shuffled table"] = encode(t, shuffled)
    return cases


@task("01.decode", points=2, target="decode", compare=diagnosed(
      Misconception("join the characters with nothing between them, ''.join(...): ' '.join puts a space between each",
                    every_case(lambda got, want: got == " ".join(want))),
      Misconception("decode returns one string, ''.join(the characters), not a list of them",
                    every_case(lambda got, want: isinstance(got, list) and "".join(got) == want))),
      hint="look up each id in itos and join the characters")
def decode_cases(decode):
    chars = sorted(set(read_tinyshakespeare()))
    stoi = {ch: i for i, ch in enumerate(chars)}
    itos = {i: ch for ch, i in stoi.items()}
    cases = {"decode([46, 47, 47, 1, 58, 46, 43, 56, 43])": decode([46, 47, 47, 1, 58, 46, 43, 56, 43], itos),
             "decode([]) (no ids)": decode([], itos)}
    shuffled_stoi, shuffled_itos = shuffled_tables(chars, seed=4)
    for t in random_texts(4):
        cases[f"decode(ids of {t!r}) with a shuffled table"] = decode([shuffled_stoi[c] for c in t], shuffled_itos)
    return cases
