"""Lesson 05: each check rejects plausible wrong answers and accepts other correct ones."""


from tests.conftest import verdict_of

FORWARD = ("class BigramLanguageModel(BigramLanguageModel):\n    def forward(self, idx, targets=None):\n"
           "        logits = self.token_embedding_table(idx)\n        if targets is None:\n            return logits, None\n"
           "        B, T, V = logits.shape\n{body}")
GENERATE = ("class BigramLanguageModel(BigramLanguageModel):\n    def generate(self, idx, max_new_tokens, generator=None):\n"
            "        for _ in range(max_new_tokens):\n            logits, _ = self(idx)\n{body}\n        return idx")
SAMPLE = "            idx = torch.cat((idx, torch.multinomial({probs}, 1, generator=generator)), dim=1)"
TRAIN = "def train_step(model, optimizer, x, y):\n{body}"
ESTIMATE = ("def estimate_loss(model, batch_fns, eval_iters):\n    out = {{}}\n{before}\n"
            "    for split, fn in batch_fns.items():\n        total = 0.0\n        for _ in range({iters}):\n"
            "            x, y = fn()\n            total += model(x, y)[1].item()\n        out[split] = {value}\n{after}\n    return out")


def indent(code, spaces=8):
    return "\n".join(" " * spaces + line for line in code.strip("\n").split("\n"))


def forward(body):
    return FORWARD.format(body=indent(body))


def generate(probs=None, body=None):
    return GENERATE.format(body=body if body is not None else SAMPLE.format(probs=probs))


def train(body):
    return TRAIN.format(body=indent(body, 4))


def estimate(before="    model.eval()\n    torch.set_grad_enabled(False)", after="    torch.set_grad_enabled(True)\n    model.train()",
             iters="eval_iters", value="total / eval_iters"):
    return ESTIMATE.format(before=before, after=after, iters=iters, value=value)


WRONG = {
    "forward": [
        (forward("logits = logits.view(B * T, V)\nreturn logits, F.cross_entropy(logits, targets.view(B * T))"),  # flat logits
         "return the logits as (B, T, V)"),
        (forward("return logits, F.cross_entropy(F.softmax(logits, -1).view(B * T, V), targets.view(B * T))"),  # softmax twice
         "F.cross_entropy takes the raw logits"),
        (forward("return logits, F.nll_loss(logits.view(B * T, V), targets.view(B * T))"),  # no log-softmax
         "F.nll_loss expects log-probabilities"),
        (forward("return logits, F.cross_entropy(logits.view(B * T, V), targets.view(B * T)).item()"),  # a float
         "return the loss tensor itself"),
        (forward("return logits, F.cross_entropy(logits.view(B * T, V), targets.view(B * T), reduction='sum')"),
         "the mean over the B*T positions"),
        (forward("return logits, F.cross_entropy(logits[:, :-1].reshape(-1, V), targets[:, 1:].reshape(-1))"),  # shifted again
         "the targets are already the next tokens"),
        # no targets: a loss of 0 instead of None
        ("class BigramLanguageModel(BigramLanguageModel):\n    def forward(self, idx, targets=None):\n"
         "        logits = self.token_embedding_table(idx)\n        if targets is None:\n            return logits, torch.tensor(0.0)\n"
         "        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())",
         "without targets the loss is None"),
    ],
    "generate": [
        (generate(probs="F.softmax(logits[:, 0, :], dim=-1)"),  # first time step, not the last
         "sample from the logits of the last time step"),
        (generate(body="            idx = torch.cat((idx, logits[:, -1, :].argmax(-1, keepdim=True)), dim=1)"),  # greedy
         "do not take the most likely one (argmax)"),
        (generate(probs="F.softmax(logits[:, -1, :], dim=0)"),  # softmax over the batch
         "softmax over the vocabulary, dim=-1"),
        (generate(probs="F.softmax(logits[:, -1, :], dim=-1)").replace(", generator=generator", ""),  # ignores generator
         "draw with the generator you are given"),
        (generate(body="            nxt = torch.multinomial(F.softmax(logits[:, -1, :], -1), 1, generator=generator)\n"
                       "            idx = nxt if idx.shape[1] == 0 else torch.cat((idx[:, 1:], nxt), dim=1)"),  # slides a window
         "return the prompt and every new token"),
        (generate(probs="F.softmax(logits[:, -1, :], dim=-1)") + "[:, 1:]",  # drops a token
         "return the prompt and every new token"),
    ],
    "train_step": [
        (train("_, loss = model(x, y)\nloss.backward()\noptimizer.step()\nreturn loss.item()"),  # gradients accumulate
         "clear the old gradients each step"),
        (train("_, loss = model(x, y)\noptimizer.zero_grad()\noptimizer.step()\nloss.backward()\nreturn loss.item()"),  # step first
         "call optimizer.step() after loss.backward()"),
        (train("_, loss = model(x, y)\noptimizer.zero_grad()\nloss.backward()\noptimizer.step()\nreturn loss"),  # a tensor
         "return the loss as a Python float"),
        (train("_, loss = model(x, y)\noptimizer.zero_grad()\nloss.backward()\nreturn loss.item()"),  # no step
         "call optimizer.step() after loss.backward()"),
        (train("_, loss = model(y, x)\noptimizer.zero_grad()\nloss.backward()\noptimizer.step()\nreturn loss.item()"),  # x, y swapped
         "x holds the inputs and y the targets"),
    ],
    "estimate_loss": [
        (estimate(before="    torch.set_grad_enabled(False)"),  # dropout still on
         "call model.eval() first"),
        (estimate(before="    model.eval()", after="    model.train()"),  # gradients on
         "gradients off in every forward: not the case"),
        (estimate(after="    torch.set_grad_enabled(True)"),  # left in eval mode
         "back in train mode afterwards: not the case"),
        (estimate(iters="eval_iters + 1", value="total / (eval_iters + 1)"),  # one batch too many
         "draw exactly eval_iters batches"),
        (estimate(value="torch.tensor(total / eval_iters)"),  # a tensor, not a float
         "a Python float (.item()), not a tensor"),
        (estimate(value="total"),  # a sum, not a mean
         "divide their sum by eval_iters"),
        ("def estimate_loss(model, batch_fns, eval_iters):\n    model.eval()\n    out = {}\n"
         "    with torch.no_grad():\n        for split in ('train', 'val'):\n"
         "            out[split] = sum(model(*batch_fns[split]())[1].item() for _ in range(eval_iters)) / eval_iters\n"
         "    model.train()\n    return out",  # only train and val
         "estimate every split batch_fns holds"),
    ],
}

RIGHT = {
    "forward": [
        forward("return logits, F.cross_entropy(logits.permute(0, 2, 1), targets)"),  # classes in dim 1, no flattening
        forward("logp = F.log_softmax(logits.reshape(-1, V), dim=-1)\n"
                "return logits, -logp.gather(1, targets.reshape(-1, 1)).mean()"),
    ],
    "generate": [
        generate(probs="torch.softmax(logits[:, -1], dim=1)"),
        "class BigramLanguageModel(BigramLanguageModel):\n    @torch.no_grad()\n"
        "    def generate(self, idx, max_new_tokens, generator=None):\n        out = [idx]\n"
        "        for _ in range(max_new_tokens):\n            logits = self.token_embedding_table(out[-1][:, -1:])\n"
        "            out.append(torch.multinomial(logits[:, -1].softmax(-1), num_samples=1, generator=generator))\n"
        "        return torch.cat(out, dim=1)",
    ],
    "train_step": [
        train("optimizer.zero_grad()\nlogits, loss = model(x, targets=y)\nloss.backward()\noptimizer.step()\nreturn float(loss.detach())"),
    ],
    "estimate_loss": [
        "@torch.inference_mode()\ndef estimate_loss(model, batch_fns, eval_iters):\n    was_training = model.training\n"
        "    model.eval()\n    out = {name: sum(model(*fn())[1].item() for _ in range(eval_iters)) / eval_iters\n"
        "           for name, fn in batch_fns.items()}\n    model.train(was_training)\n    return out",
    ],
}


def test_generate_is_graded_with_the_reference_forward():
    """A broken forward fails 05.forward only, not 05.generate."""
    code = forward("return logits * 0, None")
    assert verdict_of("05.forward", code).status == "failed"
    assert verdict_of("05.generate", code).status == "passed"


def test_untrained_uniform_loss_is_ln_vocab():
    import math

    import torch

    from autograder.loader import load_lesson

    L = load_lesson("05", source="solutions", deps="solutions")
    model = L.BigramLanguageModel(65)
    with torch.no_grad():
        model.token_embedding_table.weight.zero_()
    idx = torch.randint(65, (4, 8), generator=torch.Generator().manual_seed(0))
    _, loss = model(idx, idx)
    assert math.isclose(loss.item(), math.log(65), rel_tol=1e-6)
