"""Lesson 10 - training: learning-rate schedule, optimizer groups, a training step, checkpoints."""

import dataclasses
import math
import os
import pickle
import tempfile

import torch
from torch import nn
from torch.nn import functional as F

from ..compare import CheckFailed
from ..misconceptions import Misconception, every_case, diagnosed, matches
from ..tasks import task
from .kit import generator, set_params

SCHEDULES = {  # label: (max_lr, min_lr, warmup_steps, max_steps)
    "max_lr=1e-3, min_lr=1e-4, warmup_steps=10, max_steps=100": (1e-3, 1e-4, 10, 100),
    "max_lr=6e-4, min_lr=6e-5, warmup_steps=0, max_steps=50": (6e-4, 6e-5, 0, 50),
    "max_lr=1.0, min_lr=0.0, warmup_steps=5, max_steps=20": (1.0, 0.0, 5, 20),
    "max_lr=2.0, min_lr=0.5, warmup_steps=1, max_steps=4": (2.0, 0.5, 1, 4),
}


def schedule_steps(warmup: int, max_steps: int) -> list[int]:
    return sorted({0, 1, 2, warmup - 1, warmup, warmup + 1, (warmup + max_steps) // 2, max_steps - 1,
                   max_steps, max_steps + 1, 2 * max_steps, 10 * max_steps} - {-1})


def mistaken_lr(step, max_lr, min_lr, warmup, max_steps, mistake):
    """The lesson's schedule with one mistake (named as in LR_MISCONCEPTIONS)."""
    if mistake == "warmup (step + 1) / warmup_steps" and step < warmup:
        return max_lr * (step + 1) / warmup
    if mistake == "warmup step / (warmup_steps + 1)" and warmup and step <= warmup:
        return max_lr * step / (warmup + 1)
    if step < warmup:
        return max_lr * step / warmup
    if step > max_steps and mistake != "cosine past max_steps":
        return min_lr
    ratio = step / max_steps if mistake == "progress from step 0" else (step - warmup) / (max_steps - warmup)
    coeff = 0.5 * (1.0 + math.cos(math.pi * ratio))
    return {"linear decay": max_lr - ratio * (max_lr - min_lr), "decays to 0": coeff * max_lr,
            "min_lr + coeff * max_lr": min_lr + coeff * max_lr}.get(mistake, min_lr + coeff * (max_lr - min_lr))


def schedule_with(mistake):
    """Test: every lr the check asked for is the one the schedule with `mistake` gives."""
    def shows(actual, expected):
        return all(matches(actual[label][f"step {s}"], mistaken_lr(s, *args, mistake))
                   for label, args in SCHEDULES.items() for s in schedule_steps(*args[2:]))
    return shows


LR_MISCONCEPTIONS = (
    Misconception("warmup is max_lr * step / warmup_steps, 0 at step 0 and max_lr at step warmup_steps: not (step + 1) "
                  "/ warmup_steps", schedule_with("warmup (step + 1) / warmup_steps")),
    Misconception("warmup reaches max_lr at step warmup_steps: max_lr * step / warmup_steps, not / (warmup_steps + 1)",
                  schedule_with("warmup step / (warmup_steps + 1)")),
    Misconception("after max_steps the lr stays at min_lr: return min_lr for step > max_steps (past its end the cosine "
                  "climbs back up)", schedule_with("cosine past max_steps")),
    Misconception("the cosine decays to min_lr, not to 0: min_lr + coeff * (max_lr - min_lr)",
                  schedule_with("decays to 0")),
    Misconception("the cosine spans max_lr - min_lr: min_lr + coeff * (max_lr - min_lr), not min_lr + coeff * max_lr "
                  "(which starts above max_lr)", schedule_with("min_lr + coeff * max_lr")),
    Misconception("the decay's progress counts from the end of warmup: (step - warmup_steps) / (max_steps - "
                  "warmup_steps), not step / max_steps", schedule_with("progress from step 0")),
    Misconception("the decay follows a cosine, min_lr + 0.5 * (1 + cos(pi * ratio)) * (max_lr - min_lr), not a "
                  "straight line", schedule_with("linear decay")),
)


@task("10.lr_at", points=2, target="lr_at", compare=diagnosed(*LR_MISCONCEPTIONS),
      hint="linear warmup from 0 to max_lr, cosine from max_lr to min_lr between warmup_steps and max_steps, then min_lr")
def lr_cases(lr_at):
    cases = {}
    for label, (max_lr, min_lr, warmup, max_steps) in SCHEDULES.items():
        cases[label] = {f"step {s}": lr_at(s, max_lr, min_lr, warmup, max_steps)
                        for s in schedule_steps(warmup, max_steps)}
    return cases


class TinyLM(nn.Module):
    """A small language model with every kind of parameter a GPT has (and a tied head)."""

    def __init__(self, vocab=13, n_embd=8, block_size=6):
        super().__init__()
        self.wte = nn.Embedding(vocab, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.ln = nn.LayerNorm(n_embd)
        self.fc = nn.Linear(n_embd, n_embd)
        self.mix = nn.Parameter(torch.zeros(2, n_embd, n_embd))  # a 3-D weight
        self.gain = nn.Parameter(torch.tensor(1.0))  # a 0-D scalar
        self.lm_head = nn.Linear(n_embd, vocab, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, idx, targets=None):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        h = torch.tanh(self.fc(self.ln(x)))
        x = x + self.gain * (h @ self.mix[0]) @ self.mix[1]
        logits = self.lm_head(x)
        loss = None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss


def tiny_model(seed: int) -> TinyLM:
    model = TinyLM()
    set_params(model, seed, scale=0.5)
    return model.train()


def batches(n, seed, B=4, T=6, vocab=13):
    gen = generator(seed)
    return [(torch.randint(vocab, (B, T), generator=gen), torch.randint(vocab, (B, T), generator=gen))
            for _ in range(n)]


DECAY = "weight_decay of each parameter"



def decays(test):
    """Test: test(the student's weight_decay, the reference's) holds for every parameter, in every case."""
    return every_case(lambda got, want: set(got[DECAY]) == set(want[DECAY]) and all(
        test(got[DECAY][name], wd) for name, wd in want[DECAY].items()))


def decayed_value(want):
    return max(want[DECAY].values())


OPTIMIZER_MISCONCEPTIONS = (
    Misconception("two param groups: tensors with p.dim() >= 2 get weight_decay, the others (biases, LayerNorm "
                  "weights, scalars) weight_decay 0.0", every_case(lambda got, want: got["number of param groups"] == 1)),
    Misconception("list each parameter once: the tied lm_head/wte weight is one Parameter (take model.parameters(), "
                  "not state_dict())", every_case(lambda got, want: len(set(got["parameters in the groups"]))
                                                  < len(got["parameters in the groups"]))),
    Misconception("the groups are swapped: tensors with p.dim() >= 2 get weight_decay, the others 0.0",
                  lambda actual, expected: decays(lambda got, wd: (got == 0.0) == (wd != 0.0))(actual, expected)),
    Misconception("only tensors with p.dim() >= 2 are decayed: biases, LayerNorm weights and scalars get "
                  "weight_decay 0.0", lambda actual, expected: decays(lambda got, wd: wd == 0.0 or got == wd)(
                      actual, expected) and not decays(lambda got, wd: got == wd)(actual, expected)),
    Misconception("return torch.optim.AdamW: its weight decay is decoupled from the gradient (Adam's weight_decay "
                  "adds an L2 term instead)", every_case(lambda got, want: got["is torch.optim.AdamW"] is False)),
    Misconception("pass betas=betas to AdamW (its default is (0.9, 0.999))",
                  every_case(lambda got, want: got["betas of each group"] != want["betas of each group"] and all(
                      tuple(b) == (0.9, 0.999) for b in got["betas of each group"]))),
)


@task("10.configure_optimizer", points=2, target="configure_optimizer", compare=diagnosed(*OPTIMIZER_MISCONCEPTIONS),
      hint="AdamW with two groups: params with p.dim() >= 2 get weight_decay, the others weight_decay 0.0")
def optimizer_cases(configure_optimizer):
    cases = {}
    for label, (lr, wd, betas) in {"lr=3e-4, weight_decay=0.1, betas=(0.9, 0.95)": (3e-4, 0.1, (0.9, 0.95)),
                                   "lr=1e-2, weight_decay=0.5, betas=(0.8, 0.99)": (1e-2, 0.5, (0.8, 0.99))}.items():
        model = tiny_model(0)
        opt = configure_optimizer(model, lr, wd, betas)
        names = {id(p): name for name, p in model.named_parameters()}
        decay, seen = {}, []
        for group in opt.param_groups:
            for p in group["params"]:
                seen.append(names.get(id(p), "a tensor that is not a parameter of the model"))
                decay[seen[-1]] = group["weight_decay"]
        cases[label] = {
            "is torch.optim.AdamW": isinstance(opt, torch.optim.AdamW),
            "number of param groups": len(opt.param_groups),
            "parameters in the groups": sorted(seen),
            DECAY: decay,
            "lr of each group": sorted(g["lr"] for g in opt.param_groups),
            "betas of each group": [tuple(g["betas"]) for g in opt.param_groups],
        }
    return cases


def run_steps(train_step, model, optimizer, data, grad_clip):
    losses, kinds = [], set()
    for x, y in data:
        loss = train_step(model, optimizer, x, y, grad_clip)
        kinds.add(type(loss).__name__)
        losses.append(loss)
    return {"losses": losses, "type of the returned loss": sorted(kinds),
            "parameters after": {k: v.detach().clone() for k, v in model.named_parameters()}}


def train_step_setups() -> dict:
    """{case label: (model, optimizer, batches, grad_clip)}, fresh and seeded on every call."""
    data = batches(3, seed=1)
    setups = {
        "SGD(lr=0.5), grad_clip=0.05": (lambda m: torch.optim.SGD(m.parameters(), lr=0.5), 0.05),
        "SGD(lr=0.5), grad_clip=None (no clipping)": (lambda m: torch.optim.SGD(m.parameters(), lr=0.5), None),
        "SGD(lr=0.1), grad_clip=100 (never reached)": (lambda m: torch.optim.SGD(m.parameters(), lr=0.1), 100.0),
        "AdamW(lr=0.05), grad_clip=0.1": (lambda m: torch.optim.AdamW(m.parameters(), lr=0.05), 0.1),
    }
    out = {}
    for i, (label, (make_optimizer, clip)) in enumerate(setups.items()):
        model = tiny_model(10 + i)
        out[label] = (model, make_optimizer(model), data, clip)
    model = tiny_model(20)
    out["batch of 1, T=1, SGD(lr=0.5), grad_clip=1.0"] = (
        model, torch.optim.SGD(model.parameters(), lr=0.5), batches(1, seed=2, B=1, T=1), 1.0)
    return out


def mistaken_step(mistake):
    """A train_step with one mistake (named as in STEP_MISCONCEPTIONS)."""
    def step(model, optimizer, x, y, grad_clip):
        if mistake != "no zero_grad":
            optimizer.zero_grad()
        loss = model(x, y)[1]
        loss.backward()
        if grad_clip and mistake != "no clipping":
            if mistake == "each tensor clipped":
                for p in model.parameters():
                    torch.nn.utils.clip_grad_norm_([p], grad_clip)
            elif mistake == "clipped by value":
                torch.nn.utils.clip_grad_value_(model.parameters(), grad_clip)
            else:
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        if mistake == "zero_grad before step":
            optimizer.zero_grad()
        optimizer.step()
        return model(x, y)[1].item() if mistake == "loss after the step" else loss.item()
    return step


def trained_with(mistake):
    """Test: the losses and parameters of every case are what a train_step with `mistake` gives."""
    def shows(actual, expected):
        with torch.random.fork_rng(devices=[]):  # TinyLM's own initialisation draws (set_params then replaces it)
            setups = train_step_setups()
        for label, (model, optimizer, data, clip) in setups.items():
            want = run_steps(mistaken_step(mistake), model, optimizer, data, clip)
            if not all(matches(actual[label][key], want[key]) for key in ("losses", "parameters after")):
                return False
        return True
    return shows


STEP_MISCONCEPTIONS = (
    Misconception("clear the gradients every step, optimizer.zero_grad() before backward: backward adds to .grad, so "
                  "yours pile up across steps", trained_with("no zero_grad")),
    Misconception("the gradients reach optimizer.step() unclipped: call torch.nn.utils.clip_grad_norm_("
                  "model.parameters(), grad_clip) after backward and before step", trained_with("no clipping")),
    Misconception("clip the global norm of all the gradients at once, clip_grad_norm_(model.parameters(), grad_clip), "
                  "not each tensor on its own", trained_with("each tensor clipped")),
    Misconception("clip the gradients' global norm (clip_grad_norm_), not each value (clip_grad_value_)",
                  trained_with("clipped by value")),
    Misconception("clear the gradients before backward, not between backward and step: the step then has no gradient "
                  "to apply", trained_with("zero_grad before step")),
    Misconception("return the loss of this step's forward, computed before optimizer.step(), not a new forward after it",
                  trained_with("loss after the step")),
    Misconception("return loss.item(), a Python float, not the tensor (which keeps the whole graph alive)",
                  every_case(lambda got, want: got["type of the returned loss"] == ["Tensor"])),
)


@task("10.train_step", points=3, target="train_step", compare=diagnosed(*STEP_MISCONCEPTIONS),
      hint="clear the gradients, forward, backward, clip the global gradient norm if grad_clip, step; return a Python float")
def train_step_cases(train_step):
    return {label: run_steps(train_step, model, optimizer, data, clip)
            for label, (model, optimizer, data, clip) in train_step_setups().items()}


@dataclasses.dataclass
class TinyConfig:
    vocab: int = 13
    n_embd: int = 8
    block_size: int = 6


def trained(seed):
    """A model and its AdamW after two steps (Adam has state to save then)."""
    model = tiny_model(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.1)
    for x, y in batches(2, seed=seed + 1):
        opt.zero_grad()
        model(x, y)[1].backward()
        opt.step()
    return model, opt


def same(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return set(a) == set(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def load_plain(path) -> dict:
    """The saved checkpoint, read the safe way (weights_only: plain data only, no pickled classes)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckFailed("torch.load(path, weights_only=True) cannot read the checkpoint: save only tensors, "
                          "numbers, strings, lists and dicts (the config as dataclasses.asdict(config))") from None
    if not isinstance(ckpt, dict):
        raise CheckFailed(f"the file holds {type(ckpt).__name__}, expected a dict")
    return ckpt


KEYS, MODEL_SAVED = "keys of the saved dict", "model state equals model.state_dict()"


@task("10.save_checkpoint", points=2, target="save_checkpoint", compare=diagnosed(
      Misconception("save each extra under its own key, {..., **extra}, not nested under 'extra'",
                    lambda actual, expected: "extra" in actual[KEYS] and "extra" not in expected[KEYS]),
      Misconception("save model.state_dict() under 'model' (every parameter and buffer by its state_dict name, the tied "
                    "lm_head.weight too), not a dict of your own",
                    lambda actual, expected: actual[MODEL_SAVED] is False)),
      hint="torch.save one dict: model and optimizer state dicts, step, the config as a plain dict, each extra under its own key")
def save_cases(save_checkpoint):
    cases = {}
    model, opt = trained(30)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ckpt.pt")
        save_checkpoint(path, model, opt, 2, TinyConfig(), best_val_loss=1.25, note="after two steps")
        ckpt = load_plain(path)
        cases[KEYS] = dict.fromkeys(ckpt, True)  # a dict: a mismatch names the keys
        cases["step, config and extras"] = {k: v for k, v in ckpt.items() if k not in ("model", "optimizer")}
        cases[MODEL_SAVED] = same(ckpt.get("model"), model.state_dict())
        cases["optimizer state equals optimizer.state_dict()"] = same(ckpt.get("optimizer"), opt.state_dict())
        save_checkpoint(path, model, opt, 7, TinyConfig(n_embd=8, block_size=6))  # overwrite, no extras
        cases["keys after saving again with no extras"] = dict.fromkeys(load_plain(path), True)
    return cases


RESTORED, RESUMED, ORIGINAL = ("model parameters restored", "losses of 3 more steps, resumed run",
                                "losses of 3 more steps, original run")


@task("10.load_checkpoint", points=2, target="load_checkpoint", compare=diagnosed(
      Misconception("restore the model: model.load_state_dict(checkpoint['model'])",
                    lambda actual, expected: actual[RESTORED] is False),
      Misconception("restore the optimizer too, optimizer.load_state_dict(checkpoint['optimizer']): without AdamW's "
                    "moments and step count the resumed run drifts from the original",
                    lambda actual, expected: actual[RESTORED] is True and matches(actual[ORIGINAL], expected[ORIGINAL])
                    and not matches(actual[RESUMED], expected[RESUMED]))),
      hint="torch.load with weights_only=True, restore the model (and the optimizer if given), return the other entries")
def load_cases(load_checkpoint):
    cases = {}
    model, opt = trained(40)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ckpt.pt")
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": 2,
                    "config": dataclasses.asdict(TinyConfig()), "best_val_loss": 1.5}, path)
        restored = tiny_model(41)
        restored_opt = torch.optim.AdamW(restored.parameters(), lr=0.05, weight_decay=0.1)
        cases["returned"] = load_checkpoint(path, restored, restored_opt)
        cases[RESTORED] = same(dict(restored.state_dict()), dict(model.state_dict()))
        # resuming must continue exactly as the original run would have
        losses = {"original": [], "restored": []}
        for x, y in batches(3, seed=42):
            for key, (m, o) in {"original": (model, opt), "restored": (restored, restored_opt)}.items():
                o.zero_grad()
                loss = m(x, y)[1]
                loss.backward()
                o.step()
                losses[key].append(loss.item())
        cases[ORIGINAL] = losses["original"]
        cases[RESUMED] = losses["restored"]
        cases["parameters after 3 more steps are equal"] = same(dict(restored.state_dict()), dict(model.state_dict()))
        # no optimizer: only the model (e.g. to sample from it)
        bare = tiny_model(43)
        try:
            cases["returned, without an optimizer"] = load_checkpoint(path, bare)
        except CheckFailed as err:
            if isinstance(err.__context__, AttributeError) and "NoneType" in str(err.__context__):
                raise CheckFailed("the optimizer is optional: load_checkpoint(path, model) restores only the model "
                                  f"(if optimizer is not None: optimizer.load_state_dict(...)) ({err})") from None
            raise
        cases["model restored without an optimizer"] = same(
            dict(bare.state_dict()), torch.load(path, weights_only=True)["model"])
    return cases
