"""Lesson 12 - instruction fine-tuning: prompt template, collate, masked loss, reading the answer."""

import torch

from ..compare import check_unchanged
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
        cases[label] = format_prompt(example)
        check_unchanged("example", before, example)
    return cases


def ids(n, seed, vocab=50):
    return torch.randint(1, vocab, (n,), generator=generator(seed)).tolist()


@task("12.collate", points=3, target="collate",
      hint="T = longest len(ids) - 1; x = ids[:-1] then pad_id, y = ids[1:] then IGNORE_INDEX; if mask_prompt the first prompt_length - 1 targets are IGNORE_INDEX too")
def collate_cases(collate):
    cases = {}
    batch = [(ids(9, 1), 4), (ids(5, 2), 3), (ids(12, 3), 6)]
    before = [(list(i), p) for i, p in batch]
    cases["3 examples of lengths 9, 5, 12, prompt masked, pad_id 0"] = list(collate(batch, 0, True))
    check_unchanged("batch", before, batch)
    cases["the same, pad_id 7, prompt not masked"] = list(collate(batch, 7, False))
    cases["mask_prompt left at its default"] = list(collate([(ids(6, 4), 3), (ids(8, 5), 2)], 0))
    cases["batch of 1 (no padding)"] = list(collate([(ids(7, 6), 5)], 3, True))
    cases["equal lengths"] = list(collate([(ids(6, 7), 2), (ids(6, 8), 4)], 0, True))
    cases["prompt_length 1 (only the first token is prompt)"] = list(collate([(ids(5, 9), 1), (ids(3, 10), 1)], 0))
    cases["all prompt (prompt_length = len(ids))"] = list(collate([(ids(5, 11), 5), (ids(4, 12), 2)], 0))
    return cases


def loss_and_grad(instruction_loss, label, logits, targets):
    logits = logits.detach().clone().requires_grad_(True)
    loss = instruction_loss(logits, targets)
    with case(f"{label}: loss.backward()"):  # a loss cut off from the logits fails here
        loss.backward()
    grad = logits.grad if logits.grad is not None else torch.zeros_like(logits)
    return {"loss": loss.detach(), "gradient of the logits": grad}


@task("12.loss", points=2, target="instruction_loss",
      hint="F.cross_entropy on the (B*T, V) and (B*T,) views with ignore_index=IGNORE_INDEX (reshape, not view); 0 with a gradient when every target is ignored")
def loss_cases(instruction_loss):
    gen = generator(20)
    cases = {}

    def run(label, logits, targets):
        cases[label] = loss_and_grad(instruction_loss, label, logits, targets)

    logits = torch.randn(3, 6, 11, generator=gen) * 2
    targets = torch.randint(11, (3, 6), generator=gen)
    targets[0, :4] = IGNORE_INDEX
    targets[1, 3:] = IGNORE_INDEX
    targets[2, ::2] = IGNORE_INDEX
    run("(3, 6, 11) logits, some targets ignored", logits, targets)
    run("nothing ignored", logits, torch.randint(11, (3, 6), generator=gen))
    one = torch.full((2, 5), IGNORE_INDEX)
    one[1, 2] = 4
    run("a single target counts", torch.randn(2, 5, 7, generator=gen), one)
    run("every target ignored", torch.randn(2, 4, 7, generator=gen), torch.full((2, 4), IGNORE_INDEX))
    wide = torch.randn(5, 2, 9, generator=gen).transpose(0, 1)  # (2, 5, 9), not contiguous
    t = torch.randint(9, (2, 5), generator=gen)
    t[0, 0] = IGNORE_INDEX
    run("non-contiguous logits (2, 5, 9)", wide, t)
    return cases


TEXTS = {
    "a prompt, the answer, then the model rambles on":
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


@task("12.extract_response", points=2, target="extract_response",
      hint="find the first line that starts with 'Response:'; return the rest of that line, stripped; '' if there is none")
def extract_cases(extract_response):
    return {label: extract_response(text) for label, text in TEXTS.items()}
