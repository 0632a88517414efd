"""Lesson 10: each check rejects plausible wrong answers and accepts other correct ones."""

LR = "def lr_at(step, max_lr, min_lr, warmup_steps, max_steps):\n"
COSINE = ("    ratio = (step - warmup_steps) / (max_steps - warmup_steps)\n"
          "    return min_lr + 0.5 * (1 + math.cos(math.pi * ratio)) * (max_lr - min_lr)\n")
OPT = "def configure_optimizer(model, lr, weight_decay, betas):\n"
STEP = "def train_step(model, optimizer, x, y, grad_clip):\n"
SAVE = "def save_checkpoint(path, model, optimizer, step, config, **extra):\n"
LOAD = "def load_checkpoint(path, model, optimizer=None):\n"

WRONG = {
    "lr_at": [
        (LR + "    if step < warmup_steps:\n        return max_lr * (step + 1) / warmup_steps\n"  # warmup off by one
              "    if step > max_steps:\n        return min_lr\n" + COSINE,
         "0 at step 0 and max_lr at step warmup_steps"),
        (LR + "    if step <= warmup_steps and warmup_steps:\n        return max_lr * step / (warmup_steps + 1)\n"
              "    if step > max_steps:\n        return min_lr\n" + COSINE,
         "not / (warmup_steps + 1)"),  # never reaches max_lr
        (LR + "    if step < warmup_steps:\n        return max_lr * step / warmup_steps\n"  # cosine continues past max_steps
              + COSINE,
         "after max_steps the lr stays at min_lr"),
        (LR + "    if step < warmup_steps:\n        return max_lr * step / warmup_steps\n"  # decays to 0, not min_lr
              "    if step > max_steps:\n        return min_lr\n"
              "    ratio = (step - warmup_steps) / (max_steps - warmup_steps)\n"
              "    return 0.5 * (1 + math.cos(math.pi * ratio)) * max_lr\n",
         "the cosine decays to min_lr, not to 0"),
        (LR + "    if step < warmup_steps:\n        return max_lr * step / warmup_steps\n"  # min_lr + coeff * max_lr
              "    if step > max_steps:\n        return min_lr\n"
              "    ratio = (step - warmup_steps) / (max_steps - warmup_steps)\n"
              "    return min_lr + 0.5 * (1 + math.cos(math.pi * ratio)) * max_lr\n",
         "not min_lr + coeff * max_lr"),
        (LR + "    if step < warmup_steps:\n        return max_lr * step / warmup_steps\n"  # ratio ignores warmup
              "    if step > max_steps:\n        return min_lr\n"
              "    ratio = step / max_steps\n"
              "    return min_lr + 0.5 * (1 + math.cos(math.pi * ratio)) * (max_lr - min_lr)\n",
         "the decay's progress counts from the end of warmup"),
        (LR + "    if step < warmup_steps:\n        return max_lr * step / warmup_steps\n"  # linear decay
              "    if step > max_steps:\n        return min_lr\n"
              "    ratio = (step - warmup_steps) / (max_steps - warmup_steps)\n"
              "    return max_lr - ratio * (max_lr - min_lr)\n",
         "not a straight line"),
    ],
    "configure_optimizer": [
        (OPT + "    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=betas)",
         "two param groups"),
        (OPT + "    ps = list(model.parameters())\n"  # decay on biases and LayerNorm too (dim >= 1)
               "    return torch.optim.AdamW([{'params': [p for p in ps if p.dim() >= 1], 'weight_decay': weight_decay},\n"
               "                              {'params': [p for p in ps if p.dim() < 1], 'weight_decay': 0.0}], lr=lr, betas=betas)",
         "only tensors with p.dim() >= 2 are decayed"),
        (OPT + "    ps = list(model.parameters())\n"  # plain Adam: L2 penalty, not decoupled decay
               "    return torch.optim.Adam([{'params': [p for p in ps if p.dim() >= 2], 'weight_decay': weight_decay},\n"
               "                             {'params': [p for p in ps if p.dim() < 2], 'weight_decay': 0.0}], lr=lr, betas=betas)",
         "return torch.optim.AdamW"),
        (OPT + "    ps = list(model.parameters())\n"  # groups swapped
               "    return torch.optim.AdamW([{'params': [p for p in ps if p.dim() < 2], 'weight_decay': weight_decay},\n"
               "                              {'params': [p for p in ps if p.dim() >= 2], 'weight_decay': 0.0}], lr=lr, betas=betas)",
         "the groups are swapped"),
        (OPT + "    ps = list(model.parameters())\n"  # betas ignored
               "    return torch.optim.AdamW([{'params': [p for p in ps if p.dim() >= 2], 'weight_decay': weight_decay},\n"
               "                              {'params': [p for p in ps if p.dim() < 2], 'weight_decay': 0.0}], lr=lr)",
         "pass betas=betas to AdamW"),
        (OPT + "    sd = model.state_dict(keep_vars=True)\n"  # the tied weight listed twice (by state_dict names)
               "    return torch.optim.AdamW([{'params': [p for p in sd.values() if p.dim() >= 2], 'weight_decay': weight_decay},\n"
               "                              {'params': [p for p in sd.values() if p.dim() < 2], 'weight_decay': 0.0}], lr=lr, betas=betas)",
         "list each parameter once"),
    ],
    "train_step": [
        (STEP + "    _, loss = model(x, y)\n    loss.backward()\n"  # no zero_grad
                "    if grad_clip:\n        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)\n"
                "    optimizer.step()\n    return loss.item()",
         "clear the gradients every step"),
        (STEP + "    optimizer.zero_grad()\n    _, loss = model(x, y)\n    loss.backward()\n"  # clipping after step
                "    optimizer.step()\n"
                "    if grad_clip:\n        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)\n"
                "    return loss.item()",
         "the gradients reach optimizer.step() unclipped"),
        (STEP + "    optimizer.zero_grad()\n    _, loss = model(x, y)\n    loss.backward()\n"  # no clipping
                "    optimizer.step()\n    return loss.item()",
         "the gradients reach optimizer.step() unclipped"),
        (STEP + "    optimizer.zero_grad()\n    _, loss = model(x, y)\n    loss.backward()\n"  # clip each tensor on its own
                "    if grad_clip:\n        for p in model.parameters():\n"
                "            torch.nn.utils.clip_grad_norm_([p], grad_clip)\n"
                "    optimizer.step()\n    return loss.item()",
         "not each tensor on its own"),
        (STEP + "    optimizer.zero_grad()\n    _, loss = model(x, y)\n    loss.backward()\n"  # clip by value
                "    if grad_clip:\n        torch.nn.utils.clip_grad_value_(model.parameters(), grad_clip)\n"
                "    optimizer.step()\n    return loss.item()",
         "not each value (clip_grad_value_)"),
        (STEP + "    _, loss = model(x, y)\n    loss.backward()\n"  # zero_grad between backward and step
                "    if grad_clip:\n        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)\n"
                "    optimizer.zero_grad()\n    optimizer.step()\n    return loss.item()",
         "clear the gradients before backward, not between backward and step"),
        (STEP + "    optimizer.zero_grad()\n    _, loss = model(x, y)\n    loss.backward()\n"  # returns the tensor
                "    if grad_clip:\n        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)\n"
                "    optimizer.step()\n    return loss",
         "return loss.item(), a Python float"),
        (STEP + "    optimizer.zero_grad()\n    _, loss = model(x, y)\n    loss.backward()\n"  # loss after the step
                "    if grad_clip:\n        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)\n"
                "    optimizer.step()\n    return model(x, y)[1].item()",
         "not a new forward after it"),
    ],
    "save_checkpoint": [
        (SAVE + "    torch.save({'model': model.state_dict(), 'step': step, 'config': dataclasses.asdict(config), **extra}, path)",
         "missing keys ['optimizer']"),
        (SAVE + "    torch.save({'model': model.state_dict(), 'optimizer': optimizer.state_dict(), 'step': step,\n"  # object
                "                'config': config, **extra}, path)",
         "the config as dataclasses.asdict(config)"),
        (SAVE + "    torch.save({'model': model.state_dict(), 'optimizer': optimizer.state_dict(), 'step': step,\n"
                "                'config': dataclasses.asdict(config), 'extra': extra}, path)",
         "not nested under 'extra'"),  # extras nested
        (SAVE + "    torch.save({'model': model.state_dict(), 'optimizer': optimizer.state_dict(),\n"  # step forgotten
                "                'config': dataclasses.asdict(config), **extra}, path)",
         "missing keys ['step']"),
        (SAVE + "    torch.save({'model': dict(model.named_parameters()), 'optimizer': optimizer.state_dict(), 'step': step,\n"
                "                'config': dataclasses.asdict(config), **extra}, path)",
         "save model.state_dict() under 'model'"),  # Parameters, not the state dict
    ],
    "load_checkpoint": [
        (LOAD + "    ck = torch.load(path, weights_only=True)\n    model.load_state_dict(ck['model'])\n"  # optimizer ignored
                "    return {k: v for k, v in ck.items() if k not in ('model', 'optimizer')}",
         "restore the optimizer too"),
        (LOAD + "    ck = torch.load(path, weights_only=True)\n    model.load_state_dict(ck['model'])\n"  # crashes on None
                "    optimizer.load_state_dict(ck['optimizer'])\n"
                "    return {k: v for k, v in ck.items() if k not in ('model', 'optimizer')}",
         "the optimizer is optional"),
        (LOAD + "    ck = torch.load(path, weights_only=True)\n    model.load_state_dict(ck['model'])\n"  # returns everything
                "    if optimizer is not None:\n        optimizer.load_state_dict(ck['optimizer'])\n    return ck",
         "returned: unexpected keys ['model', 'optimizer']"),
        (LOAD + "    ck = torch.load(path, weights_only=True)\n"  # model not restored
                "    if optimizer is not None:\n        optimizer.load_state_dict(ck['optimizer'])\n"
                "    return {k: v for k, v in ck.items() if k not in ('model', 'optimizer')}",
         "restore the model: model.load_state_dict(checkpoint['model'])"),
    ],
}

RIGHT = {
    "lr_at": [
        LR + "    if step >= max_steps:\n        return float(min_lr)\n"
             "    if warmup_steps and step <= warmup_steps:\n        return max_lr * step / warmup_steps\n"
             "    progress = (step - warmup_steps) / (max_steps - warmup_steps)\n"
             "    return min_lr + (max_lr - min_lr) * (math.cos(math.pi * progress) + 1) / 2\n",
    ],
    "configure_optimizer": [
        OPT + "    decay, other = [], []\n"
              "    for name, p in model.named_parameters():\n"
              "        (decay if p.ndim >= 2 else other).append(p)\n"
              "    return torch.optim.AdamW([{'params': other, 'weight_decay': 0.0},\n"
              "                              {'params': decay, 'weight_decay': weight_decay}], lr=lr, betas=betas)",
    ],
    "train_step": [
        STEP + "    logits, loss = model(x, y)\n    loss.backward()\n"  # zero_grad at the end
               "    if grad_clip is not None and grad_clip > 0:\n"
               "        nn.utils.clip_grad_norm_(list(model.parameters()), max_norm=grad_clip)\n"
               "    optimizer.step()\n    optimizer.zero_grad(set_to_none=False)\n    return float(loss)",
    ],
    "save_checkpoint": [
        SAVE + "    ck = dict(extra)\n    ck.update(model=model.state_dict(), optimizer=optimizer.state_dict(), step=step,\n"
               "              config=dict(vars(config)))\n"
               "    with open(path, 'wb') as f:\n        torch.save(ck, f)",
    ],
    "load_checkpoint": [
        LOAD + "    ck = torch.load(path, weights_only=True)\n    model.load_state_dict(ck.pop('model'))\n"
               "    opt_state = ck.pop('optimizer')\n"
               "    if optimizer:\n        optimizer.load_state_dict(opt_state)\n    return ck",
    ],
}
