"""Lesson 05 - the bigram language model: forward and loss, generate, a training step, estimate_loss.

The model's table is set from a seeded generator, so any correct forward gives the reference
values. generate is graded with the reference forward (a broken forward is task 05.forward's
fault): exactly, on a table whose next token is certain, and with a seeded torch.Generator.
train_step and estimate_loss run on small models defined here, which also record how they were
called (gradients on? train or eval mode?).
"""

import torch
import torch.nn as nn
from torch.nn import functional as F

from ..compare import CheckFailed
from ..tasks import task
from .kit import generator, randint


def seeded_model(BigramLanguageModel, vocab: int, seed: int):
    model = BigramLanguageModel(vocab)
    with torch.no_grad():
        model.token_embedding_table.weight.copy_(torch.randn(vocab, vocab, generator=generator(seed)))
    return model.eval()


# ------------------------------------------------------------------------------------ forward

@task("05.forward", points=3, target="BigramLanguageModel.forward",
      hint="logits = the table lookup (B, T, V); no targets: loss None; else cross_entropy on logits viewed (B*T, V) and targets (B*T,)")
def forward_cases(BigramLanguageModel):
    torch.manual_seed(0)  # anything random in the student's code (stray dropout) repeats exactly
    model = seeded_model(BigramLanguageModel, 65, seed=1)
    cases = {}
    batches = {"idx (B=4, T=8)": (4, 8), "T=1": (3, 1), "batch of 1": (1, 6)}
    for i, (label, shape) in enumerate(batches.items()):
        idx, targets = randint(*shape, high=65, seed=10 + i), randint(*shape, high=65, seed=20 + i)
        logits, loss = model(idx, targets)
        cases[f"{label}: logits"] = logits
        cases[f"{label}: loss"] = loss
        cases[f"{label}: loss carries gradients (no .item())"] = bool(getattr(loss, "requires_grad", False))
        no_target = model(idx)
        cases[f"{label}, no targets: (logits, loss)"] = list(no_target) if isinstance(no_target, tuple) else no_target
    idx = randint(5, 12, high=65, seed=30)[:, ::2]  # non-contiguous (5, 6)
    cases["non-contiguous idx: logits, loss"] = list(model(idx, randint(5, 6, high=65, seed=31)))
    small = seeded_model(BigramLanguageModel, 5, seed=2)
    cases["vocab of 5: logits, loss"] = list(small(randint(2, 3, high=5, seed=32), randint(2, 3, high=5, seed=33)))
    flat = BigramLanguageModel(65)
    with torch.no_grad():
        flat.token_embedding_table.weight.zero_()
    cases["all-zero table: loss is ln(65)"] = flat(randint(4, 8, high=65, seed=34), randint(4, 8, high=65, seed=35))[1]
    return cases


# ----------------------------------------------------------------------------------- generate

def with_reference_forward(BigramLanguageModel):
    class Graded(BigramLanguageModel):
        def forward(self, idx, targets=None):  # the reference forward: generate is graded on its own
            return self.token_embedding_table(idx), None

    return Graded


def certain_next(Model, vocab: int = 7):
    """A model whose next token after i is (3*i + 1) % vocab, with probability exactly 1 in float32."""
    model = Model(vocab)
    with torch.no_grad():
        table = torch.zeros(vocab, vocab)
        table[torch.arange(vocab), (3 * torch.arange(vocab) + 1) % vocab] = 200.0  # exp(-200) underflows to 0: the other tokens cannot be drawn
        model.token_embedding_table.weight.copy_(table)
    return model.eval()


@task("05.generate", points=3, target="BigramLanguageModel.generate",
      hint="repeat: logits of self(idx) at the last time step, softmax over the vocab, torch.multinomial(probs, 1, generator=generator), torch.cat onto idx along dim 1")
def generate_cases(BigramLanguageModel):
    torch.manual_seed(0)  # anything random in the student's code (stray dropout) repeats exactly
    Model = with_reference_forward(BigramLanguageModel)
    cases = {}
    with torch.no_grad():
        certain = certain_next(Model)
        starts = {"start [[0], [3]]": torch.tensor([[0], [3]]), "start [[5, 2, 6, 1]] (batch of 1)": torch.tensor([[5, 2, 6, 1]]),
                  "start [[4, 0], [1, 6], [2, 2]]": torch.tensor([[4, 0], [1, 6], [2, 2]])}
        for label, idx in starts.items():
            before = idx.clone()
            out = certain.generate(idx, 10)
            if not torch.equal(idx, before):
                raise CheckFailed("generate changed its input idx in place; build a new tensor with torch.cat")
            cases[f"certain next token, {label}, 10 new"] = out
        cases["max_new_tokens=0 returns idx"] = certain.generate(torch.tensor([[1, 2, 3]]), 0)

        model = Model(65)
        model.token_embedding_table.weight.copy_(torch.randn(65, 65, generator=generator(3)))
        model.eval()
        idx = randint(3, 4, high=65, seed=40)
        first = model.generate(idx, 25, generator=generator(1234))
        cases["random table, generator seeded 1234: (3, 4) + 25 new"] = first
        cases["same seed, same samples"] = bool(torch.equal(first, model.generate(idx, 25, generator=generator(1234))))
        cases["prefix unchanged"] = bool(torch.equal(first[:, :4], idx))
        cases["ids in range"] = bool(((first >= 0) & (first < 65)).all())
        cases["dtype"] = str(first.dtype)
        cases["start (1, 1), generator seeded 7, 40 new"] = model.generate(torch.zeros(1, 1, dtype=torch.long), 40, generator=generator(7))
    return cases


# --------------------------------------------------------------------------------- train_step

class TinyBigram(nn.Module):
    def __init__(self, vocab: int = 11, seed: int = 0):
        super().__init__()
        self.table = nn.Embedding(vocab, vocab)
        with torch.no_grad():
            self.table.weight.copy_(torch.randn(vocab, vocab, generator=generator(seed)))

    def forward(self, idx, targets=None):
        logits = self.table(idx)
        loss = None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss


@task("05.train_step", points=2, target="train_step",
      hint="loss from model(x, y); clear old gradients, backward, optimizer step; return the loss as a float")
def train_step_cases(train_step):
    torch.manual_seed(0)  # anything random in the student's code (stray dropout) repeats exactly
    model = TinyBigram(seed=5)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    batches = generator(50)
    losses, kinds = [], []
    for _ in range(4):
        x, y = torch.randint(11, (4, 6), generator=batches), torch.randint(11, (4, 6), generator=batches)
        loss = train_step(model, optimizer, x, y)
        losses.append(loss)
        kinds.append(type(loss).__name__)
    return {"returned losses": losses, "returned types": kinds,
            "table after 4 steps": model.table.weight.detach().clone()}


# ------------------------------------------------------------------------------ estimate_loss

class Probe(nn.Module):
    """A bigram with dropout that records, for every call, whether gradients and training were on."""

    def __init__(self, vocab: int = 13):
        super().__init__()
        self.table = nn.Embedding(vocab, vocab)
        with torch.no_grad():
            self.table.weight.copy_(torch.randn(vocab, vocab, generator=generator(60)))
        self.drop = nn.Dropout(0.5)
        self.calls = []

    def forward(self, idx, targets=None):
        self.calls.append((torch.is_grad_enabled(), self.training))
        logits = self.drop(self.table(idx))
        loss = None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss


def batch_source(seed: int, counter: dict, name: str, vocab: int = 13):
    g = generator(seed)

    def next_batch():
        counter[name] = counter.get(name, 0) + 1
        return torch.randint(vocab, (3, 5), generator=g), torch.randint(vocab, (3, 5), generator=g)

    return next_batch


@task("05.estimate_loss", points=2, target="estimate_loss",
      hint="eval mode and no gradients; for each split, the mean of eval_iters batch losses as a float; back to train mode")
def estimate_loss_cases(estimate_loss):
    torch.manual_seed(0)  # anything random in the student's code (stray dropout) repeats exactly
    cases = {}
    for eval_iters, splits in ((5, ("train", "val")), (1, ("train", "val", "test")), (20, ("val",))):
        model = Probe().train()
        counter = {}
        fns = {name: batch_source(70 + i, counter, name) for i, name in enumerate(splits)}
        result = estimate_loss(model, fns, eval_iters)
        label = f"eval_iters={eval_iters}, splits {list(splits)}"
        cases[f"{label}: result"] = result
        if isinstance(result, dict):
            cases[f"{label}: value types"] = {k: type(v).__name__ for k, v in result.items()}
        cases[f"{label}: batches drawn per split"] = counter
        cases[f"{label}: gradients off in every forward"] = not any(grad for grad, _ in model.calls)
        cases[f"{label}: eval mode in every forward"] = not any(training for _, training in model.calls)
        cases[f"{label}: back in train mode afterwards"] = model.training
    return cases
