"""Lesson 09: each check rejects plausible wrong answers and accepts other correct ones."""

def method(name, signature, body):
    """Source that replaces one method of GPT with `body` (indented 8 spaces by the caller)."""
    return f"class GPT(GPT):\n    def {name}({signature}):\n{body}"


INIT = "self"
FORWARD = "self, idx, targets=None"
GENERATE = "self, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None"
NUM = "self, non_embedding=True"

GOOD_FORWARD_HEAD = """\
        B, T = idx.shape
        if T > self.config.block_size:
            raise ValueError('too long')
"""

GOOD_GENERATE_LOOP = """\
        for _ in range(max_new_tokens):
            logits, _ = self(idx[:, -self.config.block_size:])
            logits = logits[:, -1, :]
"""

WRONG = {
    "init": [
        (method("init_weights", INIT, "        pass"),
         "these are PyTorch's defaults"),  # PyTorch's default init
        (method("init_weights", INIT,  # c_proj not scaled
                "        for m in self.modules():\n"
                "            if isinstance(m, (nn.Linear, nn.Embedding)):\n"
                "                nn.init.normal_(m.weight, std=0.02)\n"
                "                if getattr(m, 'bias', None) is not None: nn.init.zeros_(m.bias)"),
         "every c_proj.weight gets std 0.02/sqrt(2*n_layer), not 0.02"),
        (method("init_weights", INIT,  # sqrt(n_layer) instead of sqrt(2 * n_layer)
                "        for n, m in self.named_modules():\n"
                "            if isinstance(m, (nn.Linear, nn.Embedding)):\n"
                "                s = 0.02 / math.sqrt(self.config.n_layer) if n.endswith('c_proj') else 0.02\n"
                "                nn.init.normal_(m.weight, std=s)\n"
                "                if getattr(m, 'bias', None) is not None: nn.init.zeros_(m.bias)"),
         "not 0.02/sqrt(n_layer)"),
        (method("init_weights", INIT,  # biases left at PyTorch's default
                "        for n, m in self.named_modules():\n"
                "            if isinstance(m, (nn.Linear, nn.Embedding)):\n"
                "                s = 0.02 / math.sqrt(2 * self.config.n_layer) if n.endswith('c_proj') else 0.02\n"
                "                nn.init.normal_(m.weight, std=s)"),
         "zero every Linear bias"),
        (method("init_weights", INIT,  # embeddings forgotten
                "        for n, m in self.named_modules():\n"
                "            if isinstance(m, nn.Linear):\n"
                "                s = 0.02 / math.sqrt(2 * self.config.n_layer) if n.endswith('c_proj') else 0.02\n"
                "                nn.init.normal_(m.weight, std=s)\n"
                "                if m.bias is not None: nn.init.zeros_(m.bias)"),
         "initialise the embeddings too"),
        (method("init_weights", INIT,  # uniform and ten times too wide
                "        for n, m in self.named_modules():\n"
                "            if isinstance(m, (nn.Linear, nn.Embedding)):\n"
                "                s = 0.02 / math.sqrt(2 * self.config.n_layer) if n.endswith('c_proj') else 0.02\n"
                "                nn.init.uniform_(m.weight, -s * 3 ** 0.5 * 10, s * 3 ** 0.5 * 10)\n"
                "                if getattr(m, 'bias', None) is not None: nn.init.zeros_(m.bias)"),
         "wte.weight should have std 0.02, found 0.2009"),
        (method("init_weights", INIT,  # unties the head by giving it a new Parameter
                "        for n, m in self.named_modules():\n"
                "            if isinstance(m, (nn.Linear, nn.Embedding)):\n"
                "                s = 0.02 / math.sqrt(2 * self.config.n_layer) if n.endswith('c_proj') else 0.02\n"
                "                m.weight = nn.Parameter(torch.randn_like(m.weight) * s)\n"
                "                if getattr(m, 'bias', None) is not None: nn.init.zeros_(m.bias)"),
         "assigning a new Parameter unties lm_head.weight from wte.weight"),
        (method("init_weights", INIT,  # NaN weights: every comparison with NaN is False, so no bound alone fails it
                "        for n, m in self.named_modules():\n"
                "            if isinstance(m, (nn.Linear, nn.Embedding)):\n"
                "                nn.init.constant_(m.weight, float('nan'))\n"
                "                if getattr(m, 'bias', None) is not None: nn.init.zeros_(m.bias)"), "holds NaN"),
    ],
    "forward": [
        (method("forward", FORWARD,  # no position embeddings
                GOOD_FORWARD_HEAD +
                "        x = self.drop(self.wte(idx))\n"
                "        for b in self.h: x = b(x)\n"
                "        logits = self.lm_head(self.ln_f(x))\n"
                "        loss = None if targets is None else F.cross_entropy(logits.view(B * T, -1), targets.reshape(-1))\n"
                "        return logits, loss"),
         "add the position embeddings"),
        (method("forward", FORWARD,  # no final LayerNorm
                GOOD_FORWARD_HEAD +
                "        x = self.drop(self.wte(idx) + self.wpe(torch.arange(T)))\n"
                "        for b in self.h: x = b(x)\n"
                "        logits = self.lm_head(x)\n"
                "        loss = None if targets is None else F.cross_entropy(logits.view(B * T, -1), targets.reshape(-1))\n"
                "        return logits, loss"),
         "apply the final LayerNorm before the head"),
        (method("forward", FORWARD,  # an assert instead of the ValueError the lesson asks for
                "        B, T = idx.shape\n"
                "        assert T <= self.config.block_size, f'length {T} > block_size {self.config.block_size}'\n"
                "        x = self.drop(self.wte(idx) + self.wpe(torch.arange(T)))\n"
                "        for b in self.h: x = b(x)\n"
                "        logits = self.lm_head(self.ln_f(x))\n"
                "        loss = None if targets is None else F.cross_entropy(logits.view(B * T, -1), targets.reshape(-1))\n"
                "        return logits, loss"), "other than ValueError"),
        (method("forward", FORWARD,  # no check of T against block_size
                "        B, T = idx.shape\n"
                "        x = self.drop(self.wte(idx) + self.wpe(torch.arange(T)))\n"
                "        for b in self.h: x = b(x)\n"
                "        logits = self.lm_head(self.ln_f(x))\n"
                "        loss = None if targets is None else F.cross_entropy(logits.view(B * T, -1), targets.reshape(-1))\n"
                "        return logits, loss"),
         "got 'IndexError from wpe (no check of T)'"),
        (method("forward", FORWARD,  # uses wte as the head even when untied
                GOOD_FORWARD_HEAD +
                "        x = self.drop(self.wte(idx) + self.wpe(torch.arange(T)))\n"
                "        for b in self.h: x = b(x)\n"
                "        logits = self.ln_f(x) @ self.wte.weight.t()\n"
                "        loss = None if targets is None else F.cross_entropy(logits.view(B * T, -1), targets.reshape(-1))\n"
                "        return logits, loss"),
         "with tie_weights=False the head has its own weight"),
        (method("forward", FORWARD,  # loss summed, not averaged
                GOOD_FORWARD_HEAD +
                "        x = self.drop(self.wte(idx) + self.wpe(torch.arange(T)))\n"
                "        for b in self.h: x = b(x)\n"
                "        logits = self.lm_head(self.ln_f(x))\n"
                "        loss = None if targets is None else F.cross_entropy(logits.view(B * T, -1), targets.reshape(-1), reduction='sum')\n"
                "        return logits, loss"),
         "average the loss over the B*T positions"),
        (method("forward", FORWARD,  # no embedding dropout
                GOOD_FORWARD_HEAD +
                "        x = self.wte(idx) + self.wpe(torch.arange(T))\n"
                "        for b in self.h: x = b(x)\n"
                "        logits = self.lm_head(self.ln_f(x))\n"
                "        loss = None if targets is None else F.cross_entropy(logits.view(B * T, -1), targets.reshape(-1))\n"
                "        return logits, loss"),
         "apply self.drop once, to the sum of the embeddings"),
        (method("forward", FORWARD,  # loss from the softmax probabilities (softmax applied twice)
                GOOD_FORWARD_HEAD +
                "        x = self.drop(self.wte(idx) + self.wpe(torch.arange(T)))\n"
                "        for b in self.h: x = b(x)\n"
                "        logits = self.lm_head(self.ln_f(x))\n"
                "        loss = None if targets is None else F.cross_entropy(logits.softmax(-1).view(B * T, -1), targets.reshape(-1))\n"
                "        return logits, loss"),
         "F.cross_entropy takes the raw logits"),
    ],
    "generate": [
        (method("generate", GENERATE,  # no context crop
                "        for _ in range(max_new_tokens):\n"
                "            logits = self(idx)[0][:, -1, :] / temperature\n"
                "            nxt = torch.multinomial(F.softmax(logits, -1), 1, generator=generator)\n"
                "            idx = torch.cat((idx, nxt), 1)\n"
                "        return idx"),
         "crop the context to its last block_size tokens"),
        (method("generate", GENERATE,  # temperature multiplied
                GOOD_GENERATE_LOOP +
                "            logits = logits * temperature\n"
                "            if top_k is not None:\n"
                "                v = torch.topk(logits, min(top_k, logits.size(-1))).values[:, [-1]]\n"
                "                logits = logits.masked_fill(logits < v, -float('inf'))\n"
                "            idx = torch.cat((idx, torch.multinomial(F.softmax(logits, -1), 1, generator=generator)), 1)\n"
                "        return idx"),
         "divide the logits by the temperature, not multiply"),
        (method("generate", GENERATE,  # top-k keeps k + 1
                GOOD_GENERATE_LOOP +
                "            logits = logits / temperature\n"
                "            if top_k is not None and top_k < logits.size(-1):\n"
                "                v = torch.topk(logits, top_k + 1).values[:, [-1]]\n"
                "                logits = logits.masked_fill(logits < v, -float('inf'))\n"
                "            idx = torch.cat((idx, torch.multinomial(F.softmax(logits, -1), 1, generator=generator)), 1)\n"
                "        return idx"),
         "yours keeps k + 1"),
        (method("generate", GENERATE,  # top-k keeps the smallest k
                GOOD_GENERATE_LOOP +
                "            logits = logits / temperature\n"
                "            if top_k is not None:\n"
                "                v = torch.topk(logits, min(top_k, logits.size(-1)), largest=False).values[:, [-1]]\n"
                "                logits = logits.masked_fill(logits > v, -float('inf'))\n"
                "            idx = torch.cat((idx, torch.multinomial(F.softmax(logits, -1), 1, generator=generator)), 1)\n"
                "        return idx"),
         "not the k smallest"),
        (method("generate", GENERATE,  # the first position's logits
                "        for _ in range(max_new_tokens):\n"
                "            logits = self(idx[:, -self.config.block_size:])[0][:, 0, :] / temperature\n"
                "            idx = torch.cat((idx, torch.multinomial(F.softmax(logits, -1), 1, generator=generator)), 1)\n"
                "        return idx"),
         "sample from the last position's logits"),
        (method("generate", GENERATE,  # argmax instead of sampling
                GOOD_GENERATE_LOOP +
                "            idx = torch.cat((idx, logits.argmax(-1, keepdim=True)), 1)\n"
                "        return idx"),
         "not argmax"),
        (method("generate", GENERATE,  # ignores the generator
                GOOD_GENERATE_LOOP +
                "            logits = logits / temperature\n"
                "            if top_k is not None:\n"
                "                v = torch.topk(logits, min(top_k, logits.size(-1))).values[:, [-1]]\n"
                "                logits = logits.masked_fill(logits < v, -float('inf'))\n"
                "            idx = torch.cat((idx, torch.multinomial(F.softmax(logits, -1), 1)), 1)\n"
                "        return idx"),
         "the tokens follow the right probabilities but not the seeded sequence"),
        (method("generate", GENERATE,  # top_k larger than the vocabulary: torch.topk fails
                GOOD_GENERATE_LOOP +
                "            logits = logits / temperature\n"
                "            if top_k is not None:\n"
                "                v = torch.topk(logits, top_k).values[:, [-1]]\n"
                "                logits = logits.masked_fill(logits < v, -float('inf'))\n"
                "            idx = torch.cat((idx, torch.multinomial(F.softmax(logits, -1), 1, generator=generator)), 1)\n"
                "        return idx"),
         "min(top_k, logits.size(-1))"),
        (method("generate", GENERATE,  # top_k clamped one too low: the least likely token can never be drawn
                GOOD_GENERATE_LOOP +
                "            logits = logits / temperature\n"
                "            if top_k is not None:\n"
                "                v = torch.topk(logits, min(top_k, logits.size(-1) - 1)).values[:, [-1]]\n"
                "                logits = logits.masked_fill(logits < v, -float('inf'))\n"
                "            idx = torch.cat((idx, torch.multinomial(F.softmax(logits, -1), 1, generator=generator)), 1)\n"
                "        return idx"),
         "clamped to V - 1"),
        (method("generate", GENERATE,  # crops to block_size - 1
                "        for _ in range(max_new_tokens):\n"
                "            logits = self(idx[:, -(self.config.block_size - 1):])[0][:, -1, :] / temperature\n"
                "            idx = torch.cat((idx, torch.multinomial(F.softmax(logits, -1), 1, generator=generator)), 1)\n"
                "        return idx"),
         "idx[:, -block_size:], not block_size - 1"),
    ],
    "num_params": [
        (method("num_params", NUM, "        return sum(p.numel() for p in self.parameters())"),
         "num_params() leaves out the position embeddings"),  # wpe kept
        (method("num_params", NUM,  # tied weight counted twice
                "        n = sum(p.numel() for p in self.state_dict().values())\n"
                "        return n - self.wpe.weight.numel() if non_embedding else n"),
         "count the tied weight once"),
        (method("num_params", NUM,  # token embeddings removed too
                "        n = sum(p.numel() for p in self.parameters())\n"
                "        return n - self.wpe.weight.numel() - self.wte.weight.numel() if non_embedding else n"),
         "non_embedding leaves out only the position embeddings"),
    ],
}

RIGHT = {
    "init": [
        method("init_weights", INIT,  # nanoGPT's way: apply, then re-init c_proj by parameter name
               "        def one(m):\n"
               "            if isinstance(m, nn.Linear):\n"
               "                torch.nn.init.normal_(m.weight, mean=0.0, std=0.02)\n"
               "                if m.bias is not None: torch.nn.init.zeros_(m.bias)\n"
               "            elif isinstance(m, nn.Embedding):\n"
               "                torch.nn.init.normal_(m.weight, mean=0.0, std=0.02)\n"
               "        self.apply(one)\n"
               "        for pn, p in self.named_parameters():\n"
               "            if pn.endswith('c_proj.weight'):\n"
               "                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * self.config.n_layer))"),
    ],
    "forward": [
        method("forward", FORWARD,
               "        B, T = idx.size()\n"
               "        if T > self.config.block_size: raise ValueError(f'length {T} > block_size {self.config.block_size}')\n"
               "        h = self.wte(idx) + self.wpe(torch.arange(0, T, dtype=torch.long, device=idx.device)).unsqueeze(0)\n"
               "        h = self.drop(h)\n"
               "        for block in self.h:\n"
               "            h = block(h)\n"
               "        logits = self.lm_head(self.ln_f(h))\n"
               "        if targets is None:\n"
               "            return logits, None\n"
               "        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())"),
    ],
    "generate": [
        method("generate", GENERATE,  # sample among the top k and map back, probabilities via pow
               "        for _ in range(max_new_tokens):\n"
               "            if idx.size(1) > self.config.block_size:\n"
               "                ctx = idx[:, idx.size(1) - self.config.block_size:]\n"
               "            else:\n"
               "                ctx = idx\n"
               "            logits, _ = self(ctx)\n"
               "            logits = logits[:, -1]\n"
               "            if top_k is None:\n"
               "                probs = F.softmax(logits / temperature, dim=-1)\n"
               "                nxt = torch.multinomial(probs, 1, generator=generator)\n"
               "            else:\n"
               "                vals, ids = torch.topk(logits, min(top_k, logits.size(-1)), dim=-1)\n"
               "                probs = F.softmax(vals, dim=-1) ** (1 / temperature)\n"
               "                pick = torch.multinomial(probs / probs.sum(-1, keepdim=True), 1, generator=generator)\n"
               "                nxt = ids.gather(-1, pick)\n"
               "            idx = torch.cat([idx, nxt], dim=-1)\n"
               "        return idx"),
    ],
    "num_params": [
        method("num_params", NUM,
               "        seen, n = set(), 0\n"
               "        for name, p in self.named_parameters():\n"
               "            if non_embedding and name == 'wpe.weight':\n"
               "                continue\n"
               "            n += p.numel()\n"
               "        return n"),
    ],
}
