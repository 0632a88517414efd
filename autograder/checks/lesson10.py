"""Lesson 10 - training: learning-rate schedule, optimizer groups, a training step, checkpoints."""

import dataclasses
import os
import pickle
import tempfile

import torch
from torch import nn
from torch.nn import functional as F

from ..compare import CheckFailed
from ..tasks import task
from .kit import generator, set_params


@task("10.lr_at", points=2, target="lr_at",
      hint="linear warmup from 0 to max_lr, cosine from max_lr to min_lr between warmup_steps and max_steps, then min_lr")
def lr_cases(lr_at):
    schedules = {
        "max_lr=1e-3, min_lr=1e-4, warmup_steps=10, max_steps=100": (1e-3, 1e-4, 10, 100),
        "max_lr=6e-4, min_lr=6e-5, warmup_steps=0, max_steps=50": (6e-4, 6e-5, 0, 50),
        "max_lr=1.0, min_lr=0.0, warmup_steps=5, max_steps=20": (1.0, 0.0, 5, 20),
        "max_lr=2.0, min_lr=0.5, warmup_steps=1, max_steps=4": (2.0, 0.5, 1, 4),
    }
    cases = {}
    for label, (max_lr, min_lr, warmup, max_steps) in schedules.items():
        steps = sorted({0, 1, 2, warmup - 1, warmup, warmup + 1, (warmup + max_steps) // 2, max_steps - 1,
                        max_steps, max_steps + 1, 2 * max_steps, 10 * max_steps} - {-1})
        cases[label] = {f"step {s}": lr_at(s, max_lr, min_lr, warmup, max_steps) for s in steps}
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


@task("10.configure_optimizer", points=2, target="configure_optimizer",
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
            "weight_decay of each parameter": decay,
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


@task("10.train_step", points=3, target="train_step",
      hint="clear the gradients, forward, backward, clip the global gradient norm if grad_clip, step; return a Python float")
def train_step_cases(train_step):
    cases = {}
    data = batches(3, seed=1)
    setups = {
        "SGD(lr=0.5), grad_clip=0.05": (lambda m: torch.optim.SGD(m.parameters(), lr=0.5), 0.05),
        "SGD(lr=0.5), grad_clip=None (no clipping)": (lambda m: torch.optim.SGD(m.parameters(), lr=0.5), None),
        "SGD(lr=0.1), grad_clip=100 (never reached)": (lambda m: torch.optim.SGD(m.parameters(), lr=0.1), 100.0),
        "AdamW(lr=0.05), grad_clip=0.1": (lambda m: torch.optim.AdamW(m.parameters(), lr=0.05), 0.1),
    }
    for i, (label, (make_optimizer, clip)) in enumerate(setups.items()):
        model = tiny_model(10 + i)
        cases[label] = run_steps(train_step, model, make_optimizer(model), data, clip)
    model = tiny_model(20)
    x, y = batches(1, seed=2, B=1, T=1)[0]
    cases["batch of 1, T=1, SGD(lr=0.5), grad_clip=1.0"] = run_steps(
        train_step, model, torch.optim.SGD(model.parameters(), lr=0.5), [(x, y)], 1.0)
    return cases


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


@task("10.save_checkpoint", points=2, target="save_checkpoint",
      hint="torch.save one dict: model and optimizer state dicts, step, the config as a plain dict, each extra under its own key")
def save_cases(save_checkpoint):
    cases = {}
    model, opt = trained(30)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ckpt.pt")
        save_checkpoint(path, model, opt, 2, TinyConfig(), best_val_loss=1.25, note="after two steps")
        ckpt = load_plain(path)
        cases["keys of the saved dict"] = dict.fromkeys(ckpt, True)  # a dict: a mismatch names the keys
        cases["step, config and extras"] = {k: v for k, v in ckpt.items() if k not in ("model", "optimizer")}
        cases["model state equals model.state_dict()"] = same(ckpt.get("model"), model.state_dict())
        cases["optimizer state equals optimizer.state_dict()"] = same(ckpt.get("optimizer"), opt.state_dict())
        save_checkpoint(path, model, opt, 7, TinyConfig(n_embd=8, block_size=6))  # overwrite, no extras
        cases["keys after saving again with no extras"] = dict.fromkeys(load_plain(path), True)
    return cases


@task("10.load_checkpoint", points=2, target="load_checkpoint",
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
        cases["model parameters restored"] = same(dict(restored.state_dict()), dict(model.state_dict()))
        # resuming must continue exactly as the original run would have
        losses = {"original": [], "restored": []}
        for x, y in batches(3, seed=42):
            for key, (m, o) in {"original": (model, opt), "restored": (restored, restored_opt)}.items():
                o.zero_grad()
                loss = m(x, y)[1]
                loss.backward()
                o.step()
                losses[key].append(loss.item())
        cases["losses of 3 more steps, original run"] = losses["original"]
        cases["losses of 3 more steps, resumed run"] = losses["restored"]
        cases["parameters after 3 more steps are equal"] = same(dict(restored.state_dict()), dict(model.state_dict()))
        # no optimizer: only the model (e.g. to sample from it)
        bare = tiny_model(43)
        cases["returned, without an optimizer"] = load_checkpoint(path, bare)
        cases["model restored without an optimizer"] = same(
            dict(bare.state_dict()), torch.load(path, weights_only=True)["model"])
    return cases
