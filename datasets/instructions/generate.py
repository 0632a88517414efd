"""Write the course's instruction data set: small tasks whose every answer can be checked exactly.

    python datasets/instructions/generate.py            # writes train.jsonl and test.jsonl here
    python datasets/instructions/generate.py --check    # exit 1 if the committed files are stale

Each line is one example, {"task", "instruction", "input", "response"}; "input" is "" when the
instruction says everything. The five tasks use only characters of Tiny Shakespeare's 65-character
vocabulary (it has one digit, "3", so numbers are written as words), so lesson 01's character model
can read and write all of them:

    spell      Spell the word.                   king            -> k-i-n-g
    capitals   Write the word in capitals.       king            -> KING
    reverse    Reverse the order of the words.   good lord       -> lord good
    last       Say the last word.                my good lord    -> lord
    count      Count from four to seven.         (no input)      -> four five six seven

The held-out test set asks for things the training set never shows: words that occur in no training
example (spell, capitals, reverse, last) and counting ranges that are never trained (count). The word list comes from Tiny Shakespeare (public domain); the data set is
generated, deterministic, and released with the course under the MIT licence.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHAKESPEARE = HERE.parent / "tinyshakespeare" / "input.txt"
SEED = 1234
NUMBERS = "zero one two three four five six seven eight nine ten eleven twelve".split()
TRAIN_PER_TASK = 2000  # word tasks; count has fewer distinct examples (50 ranges in all)
TEST_PER_TASK = 60
MAX_CHARS = 120  # prompt + response + newline: fits a 128-character context


def shakespeare_words(text: str) -> list[str]:
    """Lower-case words of 3 to 7 letters that occur at least twice, most frequent first."""
    counts = collections.Counter(re.findall(r"(?<![A-Za-z'])[a-z]{3,7}(?![A-Za-z'])", text))
    return sorted((w for w, n in counts.items() if n >= 2), key=lambda w: (-counts[w], w))


def example(task: str, instruction: str, input: str, response: str) -> dict:
    return {"task": task, "instruction": instruction, "input": input, "response": response}


def word_tasks(words: list[str], n: int, rng: random.Random) -> list[dict]:
    out = []
    for task in ("spell", "capitals", "reverse", "last"):
        seen = set()
        while len([e for e in out if e["task"] == task]) < min(n, len(words)):
            if task == "reverse":
                phrase = " ".join(rng.sample(words, 2))
                item = example(task, "Reverse the order of the words.", phrase, " ".join(phrase.split()[::-1]))
            elif task == "last":
                phrase = " ".join(rng.sample(words, rng.randint(2, 4)))
                item = example(task, "Say the last word.", phrase, phrase.split()[-1])
            else:
                word = rng.choice(words)
                item = (example(task, "Spell the word.", word, "-".join(word)) if task == "spell"
                        else example(task, "Write the word in capitals.", word, word.upper()))
            if item["input"] not in seen:
                seen.add(item["input"])
                out.append(item)
    return out


def count_example(start: int, end: int) -> dict:
    return example("count", f"Count from {NUMBERS[start]} to {NUMBERS[end]}.", "",
                   " ".join(NUMBERS[start:end + 1]))


def generate(text: str) -> tuple[list[dict], list[dict]]:
    rng = random.Random(SEED)
    words = shakespeare_words(text)
    rng.shuffle(words)
    cut = len(words) * 4 // 5
    train_words, test_words = sorted(words[:cut]), sorted(words[cut:])  # no word is in both splits
    train = word_tasks(train_words, TRAIN_PER_TASK, rng)
    test = word_tasks(test_words, TEST_PER_TASK, rng)

    ranges = [(s, s + n) for n in range(1, 6) for s in range(0, 13 - n)]
    rng.shuffle(ranges)
    test += [count_example(s, e) for s, e in ranges[:15]]
    train += [count_example(s, e) for s, e in ranges[15:]]

    rng.shuffle(train)
    return train, test


def check_example(item: dict, alphabet: set[str]) -> None:
    text = f"Instruction: {item['instruction']}\nInput: {item['input']}\nResponse: {item['response']}\n"
    if len(text) > MAX_CHARS:
        raise ValueError(f"example too long ({len(text)} characters): {item}")
    if set(text) - alphabet:
        raise ValueError(f"characters {sorted(set(text) - alphabet)} are not in Tiny Shakespeare: {item}")


def render(items: list[dict]) -> str:
    return "".join(json.dumps(item, ensure_ascii=True) + "\n" for item in items)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files instead of writing")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    if not SHAKESPEARE.exists():
        print(f"{SHAKESPEARE} is missing: run `make data` first", file=sys.stderr)
        return 1
    text = SHAKESPEARE.read_text(encoding="utf-8")
    train, test = generate(text)
    alphabet = set(text)
    for item in train + test:
        check_example(item, alphabet)
    stale = []
    for name, items in (("train.jsonl", train), ("test.jsonl", test)):
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_text() != render(items):
                stale.append(name)
        else:
            path.write_text(render(items))
            print(f"wrote {path}: {len(items)} examples")
    if stale:
        print(f"stale: {', '.join(stale)}: run python datasets/instructions/generate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
