"""Lesson 13: each check rejects plausible wrong answers and accepts other correct ones."""

NS = "def newton_schulz(G, steps=5, eps=1e-7):\n    a, b, c = NS_COEFFICIENTS\n"
NS_LOOP = ("    for _ in range(steps):\n        A = X @ X.T\n        B = b * A + c * A @ A\n        X = a * X + B @ X\n"
           "    return X.T if tall else X\n")
NS_START = "    X = G / (G.norm() + eps)\n    tall = G.size(0) > G.size(1)\n    if tall:\n        X = X.T\n"
TALL = "    tall = G.size(0) > G.size(1)\n    if tall:\n        X = X.T\n"

STEP = ("class Muon(Muon):\n    @torch.no_grad()\n    def step(self, closure=None):\n"
        "        for group in self.param_groups:\n            lr, mu = group['lr'], group['momentum']\n"
        "            for p in group['params']:\n                if p.grad is None:\n                    continue\n"
        "                state = self.state[p]\n"
        "                if 'momentum_buffer' not in state:\n"
        "                    state['momentum_buffer'] = torch.zeros_like(p)\n"
        "                buf = state['momentum_buffer']\n")
MOMENTUM = "                buf.mul_(mu).add_(p.grad)\n"
NESTEROV = "                update = p.grad.add(buf, alpha=mu) if group['nesterov'] else buf\n"
ORTHO = "                O = newton_schulz(update, group['ns_steps'])\n"
DECAY = "                p.mul_(1 - lr * group['weight_decay'])\n"
APPLY = "                p.add_(O, alpha=-lr * max(1.0, p.size(0) / p.size(1)) ** 0.5)\n"

OPT = ("def configure_optimizer(model, lr, weight_decay, betas, muon_lr=0.02, momentum=0.95):\n"
       "    blocks = {id(p) for p in model.h.parameters()}\n")
ADAMW = ("    adamw = torch.optim.AdamW([{'params': [p for p in rest if p.dim() >= 2], 'weight_decay': weight_decay},\n"
         "                               {'params': [p for p in rest if p.dim() < 2], 'weight_decay': 0.0}],\n"
         "                              lr=lr, betas=betas)\n")
SPLIT = ("    mats = [p for p in model.parameters() if id(p) in blocks and p.dim() == 2]\n"
         "    rest = [p for p in model.parameters() if not (id(p) in blocks and p.dim() == 2)]\n")

WRONG = {
    "newton_schulz": [
        (NS + "    X = G.clone()\n" + TALL + NS_LOOP,  # no scaling: singular values above 1 blow up
         "normalise X by its norm first"),
        (NS + "    X = G / (torch.linalg.matrix_norm(G, ord=2) + eps)\n" + TALL + NS_LOOP,  # spectral norm
         "not the spectral norm"),
        (NS + "    X = G / G.norm()\n" + TALL + NS_LOOP,  # no eps: an all-zero G gives NaN
         "all-zero G (4, 6): zeros, not NaN (eps)"),
        (NS + "    X = G / (G.abs().max() + eps)\n" + TALL + NS_LOOP,  # the largest entry is not enough
         "dividing by the largest entry leaves singular values above 1"),
        (NS + NS_START + "    for _ in range(steps):\n        A = X @ X.T\n        B = b * A + c * A @ A\n"
                         "        X = a * X + B @ X\n    return X\n",  # not transposed back
         "(transpose, then back): expected shape (12, 5), got (5, 12)"),
        (NS + NS_START + "    for _ in range(steps):\n        A = X @ X.T\n        B = c * A + b * A @ A\n"
                         "        X = a * X + B @ X\n    return X.T if tall else X\n",  # b and c swapped
         "the coefficients of X^3 and X^5 look swapped"),
        (NS + NS_START + "    for _ in range(steps):\n        X = 1.5 * X - 0.5 * X @ X.T @ X\n"  # the cubic iteration
                         "    return X.T if tall else X\n",
         "that is the cubic iteration"),
        (NS + NS_START + "    for _ in range(steps):\n        A = X @ X.T\n        B = b * A + c * A @ A\n"
                         "        X = a * X + X @ B\n    return X.T if tall else X\n",  # B on the wrong side
         "shapes cannot be multiplied (4x9 and 4x4) -- the shapes on that line do not fit together"),
        (NS + NS_START + "    for _ in range(steps):\n        A = X @ X.T\n        B = b * A + c * A\n"
                         "        X = a * X + B @ X\n    return X.T if tall else X\n",  # A, not A @ A
         "c multiplies A @ A"),
        (NS + NS_START + "    for _ in range(steps + 1):\n        A = X @ X.T\n        B = b * A + c * A @ A\n"
                         "        X = a * X + B @ X\n    return X.T if tall else X\n",  # one step too many
         "the loop runs one step too many"),
        (NS + "    G = G.float()\n" + NS_START + NS_LOOP,  # always float32 (the dtype must stay G's)
         "dtype: expected 'torch.float64', got 'torch.float32'"),
        (NS + "    G /= G.norm() + eps\n    X = G\n" + TALL + NS_LOOP,  # scales the caller's G in place
         "changed its input G"),
    ],
    "muon_step": [
        (STEP + "                update = p.grad\n" + ORTHO + DECAY + APPLY,  # no momentum at all
         "keep the momentum buffer in self.state[p] across steps"),
        (STEP + MOMENTUM + "                update = buf\n" + ORTHO + DECAY + APPLY,  # nesterov ignored
         "nesterov=True is ignored"),
        (STEP + MOMENTUM + "                update = p.grad.add(buf, alpha=mu)\n" + ORTHO + DECAY + APPLY,  # always nesterov
         "nesterov=False is ignored"),
        (STEP + MOMENTUM + "                update = buf.add(p.grad, alpha=mu) if group['nesterov'] else buf\n"
         + ORTHO + DECAY + APPLY,  # nesterov's terms swapped
         "Nesterov's update is grad + momentum*buf, not buf + momentum*grad"),
        (STEP + "                buf.mul_(mu).add_(p.grad, alpha=mu)\n" + NESTEROV + ORTHO + DECAY + APPLY,  # mu on grad
         "not scaled by momentum"),
        (STEP + "                buf.mul_(mu).add_(p.grad, alpha=1 - mu)\n" + NESTEROV + ORTHO + DECAY + APPLY,  # an average
         "the momentum buffer should be mu*buf + g, not mu*buf + (1-mu)*g"),
        (STEP + MOMENTUM + NESTEROV + ORTHO + DECAY
         + "                p.add_(O, alpha=-lr)\n",  # no shape scale
         "scale the orthogonalised update by sqrt(max(1, rows/cols))"),
        (STEP + MOMENTUM + NESTEROV + ORTHO + DECAY
         + "                p.add_(O, alpha=-lr * max(1.0, p.size(1) / p.size(0)) ** 0.5)\n",  # rows/cols swapped
         "rows over columns"),
        (STEP + MOMENTUM + NESTEROV + ORTHO + DECAY
         + "                p.add_(O, alpha=-lr * (p.size(0) / p.size(1)) ** 0.5)\n",  # no max(1, ...)
         "a wide matrix keeps scale 1"),
        (STEP + MOMENTUM + NESTEROV + ORTHO + DECAY
         + "                p.add_(O, alpha=-lr * max(1.0, p.size(0) / p.size(1)))\n",  # no square root
         "the square root of max(1, rows/cols)"),
        (STEP + MOMENTUM + NESTEROV + ORTHO
         + "                p.mul_(1 - group['weight_decay'])\n" + APPLY,  # decay not scaled by lr
         "multiplies p by 1 - lr*weight_decay"),
        (STEP + MOMENTUM + NESTEROV + ORTHO + APPLY,  # no weight decay
         "weight_decay is ignored"),
        (STEP + MOMENTUM + NESTEROV + "                O = newton_schulz(update, 5)\n" + DECAY + APPLY,  # ns_steps ignored
         "pass each group's ns_steps to newton_schulz"),
        (STEP + MOMENTUM + NESTEROV + "                O = update\n" + DECAY + APPLY,  # not orthogonalised
         "the update is not orthogonalised"),
        (STEP + MOMENTUM + NESTEROV + ORTHO + DECAY + APPLY.replace("-lr", "lr"),  # steps uphill
         "the step goes uphill"),
        (STEP.replace("lr, mu = group['lr'], group['momentum']", "lr, mu = self.defaults['lr'], "
                      "self.defaults['momentum']") + MOMENTUM + NESTEROV + ORTHO + DECAY + APPLY,  # ignores groups
         "not from self.defaults"),
        (STEP.replace("                if p.grad is None:\n                    continue\n", "")  # crashes on grad None
         + MOMENTUM + NESTEROV + ORTHO + DECAY + APPLY,
         "a parameter that got no gradient has p.grad None (skip it)"),
        (STEP.replace("                if 'momentum_buffer' not in state:\n"
                      "                    state['momentum_buffer'] = torch.zeros_like(p)\n"
                      "                buf = state['momentum_buffer']\n",
                      "                buf = torch.zeros_like(p)\n")  # momentum forgotten between steps
         + MOMENTUM + NESTEROV + ORTHO + DECAY + APPLY,
         "keep the momentum buffer in self.state[p] across steps"),
    ],
    "configure_optimizer": [
        (OPT + SPLIT.replace("p.dim() == 2]\n    rest", "p.dim() >= 1]\n    rest").replace(
            "not (id(p) in blocks and p.dim() == 2)", "not (id(p) in blocks and p.dim() >= 1)")
         + "    muon = Muon(mats, lr=muon_lr, momentum=momentum)\n" + ADAMW
         + "    return [muon, adamw]\n",  # 1-D block parameters to Muon too (its __init__ refuses them)
         "Muon updates 2-D weight matrices only"),
        (OPT + "    mats = [p for p in model.parameters() if p.dim() == 2]\n"  # embeddings to Muon too
               "    rest = [p for p in model.parameters() if p.dim() != 2]\n"
         + "    muon = Muon(mats, lr=muon_lr, momentum=momentum)\n" + ADAMW + "    return [muon, adamw]\n",
         "Muon takes only the 2-D matrices inside the blocks"),
        (OPT + SPLIT + "    muon = Muon(mats, lr=lr, momentum=momentum)\n" + ADAMW  # AdamW's lr for Muon
         + "    return [muon, adamw]\n",
         "at key 'Muon': item 0: at key 'lr': expected 0.02, got 0.003"),
        (OPT + SPLIT + "    muon = Muon(mats, lr=muon_lr)\n" + ADAMW + "    return [muon, adamw]\n",  # momentum ignored
         "at key 'momentum': expected 0.9, got 0.95"),
        (OPT + SPLIT + "    muon = Muon(mats, lr=muon_lr, momentum=momentum, weight_decay=weight_decay)\n"  # AdamW's decay
         + ADAMW + "    return [muon, adamw]\n",
         "Muon keeps its default weight_decay=0.0"),
        (OPT + SPLIT + "    muon = Muon(mats, lr=muon_lr, momentum=momentum)\n"
         + "    adamw = torch.optim.AdamW(rest, lr=lr, betas=betas, weight_decay=weight_decay)\n"  # decay on norms too
         + "    return [muon, adamw]\n",
         "AdamW needs two groups"),
        (OPT + SPLIT + "    muon = Muon(mats, lr=muon_lr, momentum=momentum)\n"
         + "    adamw = torch.optim.AdamW(model.parameters(), lr=lr, betas=betas)\n"  # everything in AdamW as well
         + "    return [muon, adamw]\n",
         "every parameter belongs to one optimizer"),
        (OPT + SPLIT + "    muon = Muon(mats, lr=muon_lr, momentum=momentum)\n" + ADAMW
         + "    return [adamw, muon]\n",  # order
         "the optimizers, in order': expected ['Muon', 'AdamW']"),
        (OPT + "    sd = model.state_dict(keep_vars=True)\n"  # the tied weight listed twice
               "    mats = [p for n, p in sd.items() if n.startswith('h.') and p.dim() == 2]\n"
               "    rest = [p for n, p in sd.items() if not (n.startswith('h.') and p.dim() == 2)]\n"
         + "    muon = Muon(mats, lr=muon_lr, momentum=momentum)\n" + ADAMW + "    return [muon, adamw]\n",
         "the tied wte/lm_head weight is listed twice"),
    ],
}

RIGHT = {
    "newton_schulz": [
        # the Gram matrix on the other side, X p(X^T X) = p(X X^T) X, and no transposing at all
        NS + "    X = G / (torch.linalg.matrix_norm(G) + eps)\n"
             "    for _ in range(steps):\n        A = X.T @ X\n        X = a * X + X @ (b * A + c * A @ A)\n"
             "    return X\n",
        # a stack-friendly version (.mT, the norm of the last two dims), written out step by step
        "def newton_schulz(G, steps=5, eps=1e-7):\n"
        "    a, b, c = NS_COEFFICIENTS\n"
        "    transpose = G.shape[-2] > G.shape[-1]\n    X = G.mT if transpose else G\n"
        "    X = X / (torch.sqrt((X * X).sum(dim=(-2, -1), keepdim=True)) + eps)\n"
        "    for _ in range(steps):\n        A = X @ X.mT\n        X = a * X + b * (A @ X) + c * (A @ (A @ X))\n"
        "    return X.mT if transpose else X\n",
        # the reference's polynomial with * and + instead of torch.addmm
        NS + NS_START + NS_LOOP,
    ],
    "muon_step": [
        # modded-nanogpt's form: an exponential moving average, and Nesterov with lerp (the same
        # direction up to a factor 1 - momentum, which orthogonalising removes)
        STEP + "                buf.lerp_(p.grad, 1 - mu)\n"
               "                update = p.grad.lerp(buf, mu) if group['nesterov'] else buf\n"
        + ORTHO + DECAY + APPLY,
        # setdefault for the state, math.sqrt for the scale, one chained in-place update
        "class Muon(Muon):\n    @torch.no_grad()\n    def step(self, closure=None):\n"
        "        for group in self.param_groups:\n"
        "            for p in (q for q in group['params'] if q.grad is not None):\n"
        "                buf = self.state[p].setdefault('momentum_buffer', torch.zeros_like(p))\n"
        "                buf.mul_(group['momentum']).add_(p.grad)\n"
        "                u = p.grad + group['momentum'] * buf if group['nesterov'] else buf.clone()\n"
        "                rows, cols = p.shape\n"
        "                p.mul_(1 - group['lr'] * group['weight_decay']).sub_(\n"
        "                    group['lr'] * math.sqrt(max(1, rows / cols)) * newton_schulz(u, group['ns_steps']))\n"
        "        return None\n",
    ],
    "configure_optimizer": [
        "def configure_optimizer(model, lr, weight_decay, betas, muon_lr=0.02, momentum=0.95):\n"
        "    muon_params, decay, no_decay = [], [], []\n"
        "    block_names = {'h.' + n for n, _ in model.h.named_parameters()}\n"
        "    for name, p in model.named_parameters():\n"
        "        if name in block_names and p.ndim == 2:\n            muon_params.append(p)\n"
        "        elif p.ndim >= 2:\n            decay.append(p)\n        else:\n            no_decay.append(p)\n"
        "    return (Muon([{'params': muon_params}], lr=muon_lr, momentum=momentum, nesterov=True),\n"
        "            torch.optim.AdamW([{'params': no_decay, 'weight_decay': 0.0},\n"
        "                               {'params': decay, 'weight_decay': weight_decay}], lr=lr, betas=betas))\n",
    ],
}
