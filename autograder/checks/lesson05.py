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
from ..misconceptions import Misconception, as_if, diagnosed, matches
from ..tasks import task
from .kit import generator, randint

# --- what the plausible mistakes give: the Misconceptions below test the student's outputs against the
# exercise run here, in the grader's process, with the mistake in place of the student's code



def bigram_with(**methods):
    """A stand-in for the notebook's BigramLanguageModel (its __init__) with mistaken methods."""
    def __init__(self, vocab_size):
        nn.Module.__init__(self)
        self.token_embedding_table = nn.Embedding(vocab_size, vocab_size)

    def forward(self, idx, targets=None):
        return self.token_embedding_table(idx), None

    return type("StandIn", (nn.Module,), {"__init__": __init__, "forward": forward, **methods})


def seeded_model(BigramLanguageModel, vocab: int, seed: int):
    model = BigramLanguageModel(vocab)
    with torch.no_grad():
        model.token_embedding_table.weight.copy_(torch.randn(vocab, vocab, generator=generator(seed)))
    return model.eval()


# ------------------------------------------------------------------------------------ forward

def loss_as(loss, flat_logits=False, no_targets=None):
    """A forward that computes loss(logits (B, T, V), targets (B, T)) with targets, and returns the logits flattened
    to (B*T, V) if flat_logits, and (logits, no_targets) without targets."""
    def forward(self, idx, targets=None):
        logits = self.token_embedding_table(idx)
        if targets is None:
            return logits, no_targets
        return (logits.flatten(0, 1) if flat_logits else logits), loss(logits, targets)
    return as_if(lambda: forward_cases(bigram_with(forward=forward)))


def cross_entropy(logits, targets, **options):
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), **options)


FIRST_LOSS = "idx (B=4, T=8): loss"
FORWARD_MISCONCEPTIONS = (
    Misconception("return the logits as (B, T, V): flatten them to (B*T, V) only for F.cross_entropy, in a view of "
                  "their own", loss_as(cross_entropy, flat_logits=True)),
    Misconception("F.cross_entropy takes the raw logits (it applies log_softmax itself), not softmax probabilities",
                  loss_as(lambda logits, targets: cross_entropy(F.softmax(logits, -1), targets))),
    Misconception("F.nll_loss expects log-probabilities, not logits: use F.cross_entropy on the raw logits",
                  loss_as(lambda logits, targets: F.nll_loss(logits.flatten(0, 1), targets.flatten()))),
    Misconception("return the loss tensor itself: .item() gives a float that carries no gradient, so "
                  "loss.backward() cannot train the model", lambda actual, expected: isinstance(actual[FIRST_LOSS], float)),
    Misconception("the loss is the mean over the B*T positions (F.cross_entropy's default), not the sum",
                  loss_as(lambda logits, targets: cross_entropy(logits, targets, reduction="sum"))),
    Misconception("the targets are already the next tokens (get_batch shifted them): compare the logits at each "
                  "position with the target at the same position, no second shift",
                  loss_as(lambda logits, targets: cross_entropy(logits[:, :-1], targets[:, 1:]))),
    Misconception("without targets the loss is None (there is nothing to compare with), not a zero",
                  loss_as(cross_entropy, no_targets=torch.tensor(0.0))),
)


@task("05.forward", points=3, target="BigramLanguageModel.forward", compare=diagnosed(*FORWARD_MISCONCEPTIONS),
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


def sampling_as(next_token):
    """A generate that appends next_token(logits (B, T, V), generator) (B, 1) max_new_tokens times."""
    def generate(self, idx, max_new_tokens, generator=None):
        for _ in range(max_new_tokens):
            logits, _ = self(idx)
            idx = torch.cat((idx, next_token(logits, generator)), dim=1)
        return idx
    return as_if(lambda: generate_cases(bigram_with(generate=generate)))


def drawn(probs, generator):
    return torch.multinomial(probs, 1, generator=generator)


def ends_of_the_expected(actual, expected):
    """Test: each certain-next-token output is the end of the expected one: the start of the sequence is missing."""
    def suffix(got, want):
        return (got.shape[0] == want.shape[0] and 0 < got.shape[1] < want.shape[1]
                and torch.equal(got, want[:, want.shape[1] - got.shape[1]:]))
    return all(suffix(actual[label], want) for label, want in expected.items() if label.startswith("certain next"))


GENERATE_MISCONCEPTIONS = (
    Misconception("sample from the logits of the last time step, logits[:, -1, :]: it predicts the next token",
                  sampling_as(lambda logits, g: drawn(F.softmax(logits[:, 0, :], dim=-1), g))),
    Misconception("sample the next token, torch.multinomial(probs, 1, generator=generator): do not take the most "
                  "likely one (argmax)", sampling_as(lambda logits, g: logits[:, -1, :].argmax(-1, keepdim=True))),
    Misconception("softmax over the vocabulary, dim=-1: each row of probabilities sums to 1, not each column over "
                  "the batch", sampling_as(lambda logits, g: drawn(F.softmax(logits[:, -1, :], dim=0), g))),
    Misconception("draw with the generator you are given, torch.multinomial(probs, 1, generator=generator): the "
                  "same seed must give the same samples", lambda actual, expected: actual["same seed, same samples"] is False),
    Misconception("return the prompt and every new token: torch.cat((idx, idx_next), dim=1) appends, so the result "
                  "is (B, T + max_new_tokens)", ends_of_the_expected),
)


@task("05.generate", points=3, target="BigramLanguageModel.generate", compare=diagnosed(*GENERATE_MISCONCEPTIONS),
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


def never_trained(actual, expected):
    """Test: the table after 4 steps is the one the model started with."""
    return matches(actual["table after 4 steps"], TinyBigram(seed=5).table.weight.detach())


def step_without_zero_grad(model, optimizer, x, y):
    _, loss = model(x, y)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_with_x_and_y_swapped(model, optimizer, x, y):
    _, loss = model(y, x)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


TRAIN_STEP_MISCONCEPTIONS = (
    Misconception("clear the old gradients each step, optimizer.zero_grad(), before loss.backward(): backward adds "
                  "to them", as_if(lambda: train_step_cases(step_without_zero_grad))),
    Misconception("the model never changed: call optimizer.step() after loss.backward() (zero_grad, backward, step, "
                  "in that order)", never_trained),
    Misconception("return the loss as a Python float, loss.item(), not the tensor",
                  lambda actual, expected: "Tensor" in actual["returned types"]),
    Misconception("model(x, y): x holds the inputs and y the targets, not the other way round",
                  as_if(lambda: train_step_cases(step_with_x_and_y_swapped))),
)


@task("05.train_step", points=2, target="train_step", compare=diagnosed(*TRAIN_STEP_MISCONCEPTIONS),
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


ESTIMATES = ((5, ("train", "val")), (1, ("train", "val", "test")), (20, ("val",)))  # (eval_iters, splits)


def estimate_label(eval_iters, splits) -> str:
    return f"eval_iters={eval_iters}, splits {list(splits)}"


def any_run(what, test):
    """Test: `test(actual value)` holds for the entry `what` of some run of estimate_loss."""
    return lambda actual, expected: any(test(actual[f"{estimate_label(*run)}: {what}"]) for run in ESTIMATES)


def summed(actual, expected):
    """Test: every estimate is eval_iters times the mean."""
    def run(eval_iters, splits):
        label = f"{estimate_label(eval_iters, splits)}: result"
        return all(matches(actual[label][split], want * eval_iters) for split, want in expected[label].items())
    return all(run(*r) for r in ESTIMATES)


ESTIMATE_MISCONCEPTIONS = (
    Misconception("call model.eval() first: in train mode dropout is on, and the estimate is noisy",
                  any_run("eval mode in every forward", lambda value: value is False)),
    Misconception("draw exactly eval_iters batches from each split, and average their losses",
                  lambda actual, expected: any(
                      not matches(actual[label], want) for label, want in expected.items() if "batches drawn" in label)),
    Misconception("each split's estimate is a Python float (.item()), not a tensor",
                  any_run("value types", lambda types: "Tensor" in types.values())),
    Misconception("average the eval_iters losses: divide their sum by eval_iters", summed),
)


@task("05.estimate_loss", points=2, target="estimate_loss", compare=diagnosed(*ESTIMATE_MISCONCEPTIONS),
      hint="eval mode and no gradients; for each split, the mean of eval_iters batch losses as a float; back to train mode")
def estimate_loss_cases(estimate_loss):
    torch.manual_seed(0)  # anything random in the student's code (stray dropout) repeats exactly
    cases = {}
    for eval_iters, splits in ESTIMATES:
        model = Probe().train()
        counter = {}
        fns = {name: batch_source(70 + i, counter, name) for i, name in enumerate(splits)}
        try:
            result = estimate_loss(model, fns, eval_iters)
        except CheckFailed as err:
            cause = err.__context__
            if isinstance(cause, KeyError) and cause.args and cause.args[0] not in fns:
                raise CheckFailed(f"{err} -- estimate every split batch_fns holds (for split, fn in batch_fns.items()), "
                                  "not a fixed list of names") from None
            raise
        label = estimate_label(eval_iters, splits)
        cases[f"{label}: result"] = result
        if isinstance(result, dict):
            cases[f"{label}: value types"] = {k: type(v).__name__ for k, v in result.items()}
        cases[f"{label}: batches drawn per split"] = counter
        cases[f"{label}: gradients off in every forward"] = not any(grad for grad, _ in model.calls)
        cases[f"{label}: eval mode in every forward"] = not any(training for _, training in model.calls)
        cases[f"{label}: back in train mode afterwards"] = model.training
    return cases
