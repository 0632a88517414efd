"""Lesson 12 - instruction fine-tuning: prompt template, collate, masked loss, reading the answer."""

import math

import torch
from torch.nn import functional as F

from ..compare import CheckFailed, check_unchanged, compare_outputs
from ..misconceptions import Misconception, diagnosed, matches
from ..tasks import task
from .kit import case, generator

IGNORE_INDEX = -100


@task("12.format_prompt", points=2, target="format_prompt",
      hint="'Instruction: <instruction>\\n', then 'Input: <input>\\n' only if the input is not empty, then 'Response: '")
def format_cases(format_prompt):
    examples = {
        "with an input": {"instruction": "Spell the word.", "input": "king", "response": "k-i-n-g"},
        "empty input": {"instruction": "Count from four to seven.", "input": "", "response": "four five six seven"},
        "no 'input' key": {"instruction": "Say hello.", "response": "hello"},
        "input of several words": {"instruction": "Reverse the order of the words.", "input": "my good lord",
                                   "response": "lord good my"},
        "punctuation and capitals": {"instruction": "Answer, if you can: who's there?", "input": "Nay, answer me",
                                     "response": "Long live the king!"},
    }
    cases = {}
    for label, example in examples.items():
        before = dict(example)
        try:
            cases[label] = format_prompt(example)
        except CheckFailed as err:
            if isinstance(err.__context__, KeyError):  # the error autograder.calls named
                raise CheckFailed(f"{label}: {err} -- an example may have no 'input' key: "
                                  "example.get('input', '')") from None
            raise
        check_unchanged("example", before, example)
    return cases


def ids(n, seed, vocab=50):
    return torch.randint(1, vocab, (n,), generator=generator(seed)).tolist()


MASKED = "3 examples of lengths 9, 5, 12, prompt masked, pad_id 0"


def collate_inputs() -> dict:
    """{case label: (batch, pad_id, mask_prompt or None for the default)}: the check's inputs."""
    return {
        MASKED: ([(ids(9, 1), 4), (ids(5, 2), 3), (ids(12, 3), 6)], 0, True),
        "the same, pad_id 7, prompt not masked": ([(ids(9, 1), 4), (ids(5, 2), 3), (ids(12, 3), 6)], 7, False),
        "mask_prompt left at its default": ([(ids(6, 4), 3), (ids(8, 5), 2)], 0, None),
        "batch of 1 (no padding)": ([(ids(7, 6), 5)], 3, True),
        "equal lengths": ([(ids(6, 7), 2), (ids(6, 8), 4)], 0, True),
        "prompt_length 1 (only the first token is prompt)": ([(ids(5, 9), 1), (ids(3, 10), 1)], 0, None),
        "all prompt (prompt_length = len(ids))": ([(ids(5, 11), 5), (ids(4, 12), 2)], 0, None),
    }


def compare_collate(actual, expected) -> None:
    """Integer dtypes exactly (compare_outputs would accept int32 ids after casting them), then the values."""
    for label in expected:
        pair = actual.get(label) if isinstance(actual, dict) else None
        if isinstance(pair, list) and len(pair) == 2:
            x, y = pair
            if isinstance(y, torch.Tensor) and y.dtype != torch.int64:
                raise CheckFailed(f"{label}: targets must be int64 (torch.long): F.cross_entropy needs class "
                                  f"indices as long (got {y.dtype})")
            if isinstance(x, torch.Tensor) and x.dtype != torch.int64:
                raise CheckFailed(f"{label}: inputs must be int64 (torch.long) token ids, as everywhere in the "
                                  f"course (got {x.dtype})")
    compare_outputs(actual, expected)


def every_row(test):
    """Test: `test(row's x, row's y, ids, prompt_length, pad_id, T)` holds for every row of the first case's batch
    (rows without padding or without a prompt to mask may pass trivially)."""
    def shows(actual, expected):
        x, y = actual[MASKED]
        batch, pad_id, _ = collate_inputs()[MASKED]
        T = x.shape[1]
        if x.shape != y.shape or x.shape[0] != len(batch) or T > 2 * max(len(i) for i, _ in batch):
            return False  # not a batch these tests can read (and never a huge one turned into lists)
        return all(test(x[r].tolist(), y[r].tolist(), ids_, p, pad_id, T) for r, (ids_, p) in enumerate(batch))
    return shows


def prompt_masked(count):
    """Test: `count(prompt_length)` targets at the start of each row are IGNORE_INDEX, and the rest are the ids."""
    def row(x, y, ids_, p, pad_id, T):
        n, k = len(ids_) - 1, count(p)
        return y[:n] == [IGNORE_INDEX] * k + ids_[1 + k:]
    return every_row(row)


COLLATE_MISCONCEPTIONS = (
    Misconception("x and y look swapped: x is ids[:-1] and y is ids[1:], each position's target is the next token",
                  every_row(lambda x, y, ids_, p, pad_id, T: x[:len(ids_) - 1] == ids_[1:])),
    Misconception("y must be x shifted by one: y = ids[1:], the token after each position, not the same token",
                  every_row(lambda x, y, ids_, p, pad_id, T: y[p - 1:len(ids_) - 1] == ids_[p - 1:-1])),
    Misconception("T is the longest len(ids) - 1: x drops each text's last id and y its first",
                  lambda actual, expected: actual[MASKED][0].shape[1] == expected[MASKED][0].shape[1] + 1),
    Misconception("pad on the right: a row is its ids, then the padding", every_row(
        lambda x, y, ids_, p, pad_id, T: x[T - len(ids_) + 1:] == ids_[:-1])),
    Misconception("the prompt is not masked: with mask_prompt the first prompt_length - 1 targets are IGNORE_INDEX",
                  prompt_masked(lambda p: 0)),
    Misconception("one target too many is masked: only the first prompt_length - 1 targets are prompt tokens; the "
                  "target at prompt_length - 1 is the response's first token", prompt_masked(lambda p: p)),
    Misconception("one prompt target is left: mask the first prompt_length - 1 targets",
                  prompt_masked(lambda p: max(p - 2, 0))),
    Misconception("pad the targets with IGNORE_INDEX, not pad_id: a padded position must not count in the loss",
                  every_row(lambda x, y, ids_, p, pad_id, T: y[len(ids_) - 1:] == [pad_id] * (T - len(ids_) + 1))),
    Misconception("pad the inputs with pad_id: IGNORE_INDEX (-100) marks targets to skip, it is not a token id",
                  every_row(lambda x, y, ids_, p, pad_id, T: x[len(ids_) - 1:] == [IGNORE_INDEX] * (T - len(ids_) + 1))),
)


@task("12.collate", points=3, target="collate", compare=diagnosed(*COLLATE_MISCONCEPTIONS, compare=compare_collate),
      hint="T = longest len(ids) - 1; x = ids[:-1] then pad_id, y = ids[1:] then IGNORE_INDEX; if mask_prompt the first prompt_length - 1 targets are IGNORE_INDEX too")
def collate_cases(collate):
    cases = {}
    inputs = collate_inputs()
    batch = inputs[MASKED][0]
    before = [(list(i), p) for i, p in batch]
    for label, (batch, pad_id, mask_prompt) in inputs.items():
        args = (batch, pad_id) if mask_prompt is None else (batch, pad_id, mask_prompt)
        cases[label] = list(collate(*args))
        if label == MASKED:
            check_unchanged("batch", before, batch)
    return cases


def loss_and_grad(instruction_loss, label, logits, targets):
    logits = logits.detach().clone().requires_grad_(True)
    loss = instruction_loss(logits, targets)
    with case(f"{label}: loss.backward()"):  # a loss cut off from the logits fails here
        loss.backward()
    grad = logits.grad if logits.grad is not None else torch.zeros_like(logits)
    return {"loss": loss.detach(), "gradient of the logits": grad}


SOME_IGNORED, NOTHING_IGNORED, ALL_IGNORED = ("(3, 6, 11) logits, some targets ignored", "nothing ignored",
                                             "every target ignored")


def loss_inputs() -> dict:
    """{case label: (logits, targets)}, drawn from one seeded generator in this order."""
    gen = generator(20)
    inputs = {}
    logits = torch.randn(3, 6, 11, generator=gen) * 2
    targets = torch.randint(11, (3, 6), generator=gen)
    targets[0, :4] = IGNORE_INDEX
    targets[1, 3:] = IGNORE_INDEX
    targets[2, ::2] = IGNORE_INDEX
    inputs[SOME_IGNORED] = (logits, targets)
    inputs[NOTHING_IGNORED] = (logits, torch.randint(11, (3, 6), generator=gen))
    one = torch.full((2, 5), IGNORE_INDEX)
    one[1, 2] = 4
    inputs["a single target counts"] = (torch.randn(2, 5, 7, generator=gen), one)
    inputs[ALL_IGNORED] = (torch.randn(2, 4, 7, generator=gen), torch.full((2, 4), IGNORE_INDEX))
    wide = torch.randn(5, 2, 9, generator=gen).transpose(0, 1)  # (2, 5, 9), not contiguous
    t = torch.randint(9, (2, 5), generator=gen)
    t[0, 0] = IGNORE_INDEX
    inputs["non-contiguous logits (2, 5, 9)"] = (wide, t)
    return inputs


def loss_times(factor):
    """Test: the loss of the case with some targets ignored is the right one times factor(targets)."""
    def shows(actual, expected):
        _, targets = loss_inputs()[SOME_IGNORED]
        want = expected[SOME_IGNORED]["loss"] * factor(targets)
        return matches(actual[SOME_IGNORED]["loss"], want)
    return shows


def softmax_twice(actual, expected):
    logits, targets = loss_inputs()[SOME_IGNORED]
    twice = F.cross_entropy(logits.softmax(-1).reshape(-1, logits.size(-1)), targets.reshape(-1))
    return matches(actual[SOME_IGNORED]["loss"], twice)


LOSS_MISCONCEPTIONS = (
    Misconception("average over the targets that count, not the sum: F.cross_entropy's default mean does it",
                  loss_times(lambda t: (t != IGNORE_INDEX).sum().item())),
    Misconception("average over the targets that count, not over all B*T positions (ignored ones included)",
                  loss_times(lambda t: (t != IGNORE_INDEX).sum().item() / t.numel())),
    Misconception("F.cross_entropy takes the raw logits (it applies log_softmax itself): yours are softmaxed twice",
                  softmax_twice),
    Misconception("when every target is ignored, return a zero loss that still has a gradient (e.g. logits.sum() * "
                  "0.0), not NaN", lambda actual, expected: math.isnan(actual[ALL_IGNORED]["loss"].item())),
    Misconception("targets equal to IGNORE_INDEX must not count: F.cross_entropy(..., ignore_index=IGNORE_INDEX)",
                  lambda actual, expected: matches(actual[NOTHING_IGNORED], expected[NOTHING_IGNORED])),
)


@task("12.loss", points=2, target="instruction_loss", compare=diagnosed(*LOSS_MISCONCEPTIONS),
      hint="F.cross_entropy on the (B*T, V) and (B*T,) views with ignore_index=IGNORE_INDEX (reshape, not view); 0 with a gradient when every target is ignored")
def loss_cases(instruction_loss):
    return {label: loss_and_grad(instruction_loss, label, logits, targets)
            for label, (logits, targets) in loss_inputs().items()}


RAMBLING = "a prompt, the answer, then the model rambles on"
TEXTS = {
    RAMBLING:
        "Instruction: Spell the word.\nInput: king\nResponse: k-i-n-g\nInstruction: Spell the word.\nInput: queen\n"
        "Response: q-u-e-e-n\nInstr",
    "the answer ends the text (no newline)": "Instruction: Write the word in capitals.\nInput: lord\nResponse: LORD",
    "no input line": "Instruction: Count from one to three.\nResponse: one two three\n\nROMEO:",
    "spaces around the answer": "Instruction: Add the two numbers.\nInput: two and five\nResponse:   seven  \nmore",
    "an empty answer": "Instruction: Spell the word.\nInput: king\nResponse: \nk-i-n-g",
    "no Response: line at all": "Instruction: Spell the word.\nInput: king\nk-i-n-g\n",
    "the input contains 'Response:'": "Instruction: Copy the input.\nInput: a Response: b\nResponse: a Response: b\nx",
    "the answer contains 'Response:'": "Instruction: Copy the input.\nInput: Response: c\nResponse: Response: c\n",
    "a lower-case 'response:' is not the marker": "Instruction: x\nresponse: no\nResponse: yes\n",
    "the text is only the marker and an answer": "Response: hello there",
    "empty text": "",
}


@task("12.extract_response", points=2, target="extract_response", compare=diagnosed(
      Misconception("take the first line that starts with 'Response:', not the last: what follows is the model "
                    "rambling on", lambda actual, expected: actual[RAMBLING] == "q-u-e-e-n")),
      hint="find the first line that starts with 'Response:'; return the rest of that line, stripped; '' if there is none")
def extract_cases(extract_response):
    return {label: extract_response(text) for label, text in TEXTS.items()}
