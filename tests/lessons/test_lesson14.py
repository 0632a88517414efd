"""Lesson 14: each check rejects plausible wrong answers, naming the mistake, and accepts other correct ones."""


ENCODER = "class EncoderSelfAttention(EncoderSelfAttention):\n    def attend(self, q, k, v):\n        T = q.size(-2)\n{body}"
CROSS = "class CrossAttentionHead(CrossAttentionHead):\n    def forward(self, x, context):\n{body}"
SINUSOIDAL = "def sinusoidal_positions(T, C):\n{body}"
ROPE = "def apply_rope(x):\n    T, hs = x.size(-2), x.size(-1)\n{body}"


def indent(code: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in code.strip("\n").split("\n"))


def encoder(body):
    return ENCODER.format(body=indent(body, 8))


def cross(body):
    return CROSS.format(body=indent(body, 8))


def sinusoidal(body):
    return SINUSOIDAL.format(body=indent(body, 4))


def rope(body):
    return ROPE.format(body=indent(body, 4))


QKV = "q, k, v = self.query(x), self.key(context), self.value(context)\n"
SCORES = QKV + "wei = q @ k.transpose(-2, -1) / k.size(-1) ** 0.5\n"

# sinusoids: the table from the angles, column 2i sin, 2i+1 cos
TABLE = ("pe = torch.empty(T, C)\npe[:, 0::2] = torch.sin(angle)\npe[:, 1::2] = torch.cos(angle)\nreturn pe")
POSITION = "p = torch.arange(T, dtype=torch.float32)[:, None]\n"

# rope: a, b the pair members, angle (T, hs/2)
ANGLE = ("t = torch.arange(T, dtype=x.dtype)[:, None]\n"
         "angle = t / 10000 ** (torch.arange(0, hs, 2, dtype=x.dtype) / hs)\n")
TURN = ("a, b = x[..., 0::2], x[..., 1::2]\n"
        "return torch.stack([a * angle.cos() - b * angle.sin(), a * angle.sin() + b * angle.cos()], -1).flatten(-2)")

# (task, wrong answer, words its failure must contain: the mistake, named)
ENC_SCORES = "att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))\n"

MISTAKES = [
    ("encoder_attention", encoder(ENC_SCORES +  # the causal mask kept
                                     "att = att.masked_fill(~self.mask[:, :, :T, :T], float('-inf'))\n"
                                     "return self.attn_dropout(F.softmax(att, dim=-1)) @ v"),
     "no causal mask"),
    ("encoder_attention", encoder("att = (q @ k.transpose(-2, -1)) / math.sqrt(self.n_embd)\n"  # scaled by n_embd
                                     "return self.attn_dropout(F.softmax(att, dim=-1)) @ v"),
     "divide by sqrt(head_size)"),
    ("encoder_attention", encoder("return self.attn_dropout(F.softmax(q @ k.transpose(-2, -1), dim=-1)) @ v"),  # no scale
     "were not scaled"),
    ("encoder_attention", encoder(ENC_SCORES +  # softmax over the queries
                                     "return self.attn_dropout(F.softmax(att, dim=-2)) @ v"),
     "sum to 1 (softmax over the last axis"),
    ("encoder_attention", encoder(ENC_SCORES +  # no dropout
                                     "return F.softmax(att, dim=-1) @ v"),
     "attn_dropout"),
    ("encoder_attention", encoder(ENC_SCORES +  # dropout after @ v
                                     "return self.attn_dropout(F.softmax(att, dim=-1) @ v)"),
     "not on the output"),
    ("encoder_attention", encoder(ENC_SCORES +  # the upper triangle masked the other way round
                                     "att = att.masked_fill(self.mask[:, :, :T, :T].transpose(-2, -1) == 0, float('-inf'))\n"
                                     "return self.attn_dropout(F.softmax(att, dim=-1)) @ v"),
     "no causal mask"),
    ("cross_attention", cross("q, k, v = self.query(x), self.key(x), self.value(context)\n"  # keys from x
                                 "return self.dropout(F.softmax(q @ k.transpose(-2, -1) / k.size(-1) ** 0.5, -1)) @ v"),
     "keys and values come from the context"),
    ("cross_attention", cross("q, k, v = self.query(x), self.key(x), self.value(x)\n"  # self-attention: context ignored
                                 "return self.dropout(F.softmax(q @ k.transpose(-2, -1) / k.size(-1) ** 0.5, -1)) @ v"),
     "keys and values come from the context"),
    ("cross_attention", cross("q, k, v = self.query(context), self.key(x), self.value(x)\n"  # the roles swapped
                                 "return self.dropout(F.softmax(q @ k.transpose(-2, -1) / k.size(-1) ** 0.5, -1)) @ v"),
     "queries come from x"),
    ("cross_attention", cross(SCORES +  # the causal mask kept from self-attention
                                 "T, S = wei.shape[-2:]\n"
                                 "wei = wei.masked_fill(torch.tril(torch.ones(T, S)) == 0, float('-inf'))\n"
                                 "return self.dropout(F.softmax(wei, -1)) @ v"),
     "no causal mask"),
    ("cross_attention", cross(QKV +  # scaled by the embedding width
                                 "wei = q @ k.transpose(-2, -1) / x.size(-1) ** 0.5\n"
                                 "return self.dropout(F.softmax(wei, -1)) @ v"),
     "divide by sqrt(head_size)"),
    ("cross_attention", cross(QKV +  # not scaled
                                 "return self.dropout(F.softmax(q @ k.transpose(-2, -1), -1)) @ v"),
     "sqrt(head_size)"),
    ("cross_attention", cross(SCORES +  # softmax over the queries
                                 "return self.dropout(F.softmax(wei, dim=-2)) @ v"),
     "sum to 1 (softmax over the last axis"),
    ("cross_attention", cross(SCORES +  # no dropout
                                 "return F.softmax(wei, -1) @ v"),
     "dropout"),
    ("cross_attention", cross(SCORES +  # dropout on the output, not on the weights
                                 "return self.dropout(F.softmax(wei, -1) @ v)"),
     "dropout on the attention weights"),
    ("sinusoidal", sinusoidal(POSITION +  # sin and cos swapped
                                 "angle = p / 10000 ** (torch.arange(0, C, 2) / C)\n"
                                 "pe = torch.empty(T, C)\npe[:, 0::2] = torch.cos(angle)\npe[:, 1::2] = torch.sin(angle)\nreturn pe"),
     "sin in the even columns, cos in the odd ones"),
    ("sinusoidal", sinusoidal(POSITION +  # sines in the first half, cosines in the second
                                 "angle = p / 10000 ** (torch.arange(0, C, 2) / C)\n"
                                 "return torch.cat([torch.sin(angle), torch.cos(angle)], dim=1)"),
     "not in two halves"),
    ("sinusoidal", sinusoidal(POSITION +  # the column index as exponent: sin and cos of a pair differ
                                 "j = torch.arange(C)\nangle = p / 10000 ** (j / C)\n"
                                 "return torch.where(j % 2 == 0, torch.sin(angle), torch.cos(angle))"),
     "sin and cos of one angle"),
    ("sinusoidal", sinusoidal(POSITION +  # exponent i/C with i the pair: frequencies too high
                                 "angle = p / 10000 ** (torch.arange(C // 2) / C)\n" + TABLE),
     "exponent 2i/C"),
    ("sinusoidal", sinusoidal(POSITION +  # base 1000
                                 "angle = p / 1000 ** (torch.arange(0, C, 2) / C)\n" + TABLE),
     "base 10000"),
    ("sinusoidal", sinusoidal("p = torch.arange(1, T + 1, dtype=torch.float32)[:, None]\n"  # positions from 1
                                 "angle = p / 10000 ** (torch.arange(0, C, 2) / C)\n" + TABLE),
     "position 0 is [0, 1, 0, 1"),
    ("sinusoidal", sinusoidal(POSITION.replace("float32", "float64") +  # float64 table
                                 "angle = p / 10000 ** (torch.arange(0, C, 2) / C)\n"
                                 "pe = torch.empty(T, C, dtype=torch.float64)\n"
                                 "pe[:, 0::2] = torch.sin(angle)\npe[:, 1::2] = torch.cos(angle)\nreturn pe"),
     "dtype"),
    ("rope", rope(ANGLE +  # pairs i and i + hs/2 (GPT-NeoX's layout), not neighbours
                     "a, b = x[..., :hs // 2], x[..., hs // 2:]\n"
                     "return torch.cat([a * angle.cos() - b * angle.sin(), a * angle.sin() + b * angle.cos()], -1)"),
     "pairs are neighbouring channels"),
    ("rope", rope(ANGLE +  # cos and sin swapped
                     "a, b = x[..., 0::2], x[..., 1::2]\n"
                     "return torch.stack([a * angle.sin() - b * angle.cos(), a * angle.cos() + b * angle.sin()], -1).flatten(-2)"),
     "position 0 is not turned"),
    ("rope", rope(ANGLE +  # turned the other way (clockwise)
                     "a, b = x[..., 0::2], x[..., 1::2]\n"
                     "return torch.stack([a * angle.cos() + b * angle.sin(), -a * angle.sin() + b * angle.cos()], -1).flatten(-2)"),
     "the sign of sin right"),
    ("rope", rope("t = torch.arange(T, dtype=x.dtype)[:, None]\n"  # exponent i/hs, pair index not doubled
                     "angle = t / 10000 ** (torch.arange(hs // 2, dtype=x.dtype) / hs)\n" + TURN),
     "exponent 2i/hs"),
    ("rope", rope("t = torch.arange(T, dtype=x.dtype)[:, None]\n"  # base 100
                     "angle = t / 100 ** (torch.arange(0, hs, 2, dtype=x.dtype) / hs)\n" + TURN),
     "base 10000"),
    ("rope", rope("t = torch.arange(T, dtype=x.dtype)[:, None]\n"  # every pair at the first pair's frequency
                     "angle = t.expand(T, hs // 2)\n" + TURN),
     "the last pair"),
    ("rope", rope("t = torch.arange(1, T + 1, dtype=x.dtype)[:, None]\n"  # positions counted from 1
                     "angle = t / 10000 ** (torch.arange(0, hs, 2, dtype=x.dtype) / hs)\n" + TURN),
     "position 0 is not turned"),
    ("rope", rope("t = torch.arange(T)[:, None]\n"  # float32 angles: a float64 x comes back float32
                     "angle = (t / 10000 ** (torch.arange(0, hs, 2) / hs)).float()\n"
                     "a, b = x[..., 0::2].float(), x[..., 1::2].float()\n"
                     "return torch.stack([a * angle.cos() - b * angle.sin(), a * angle.sin() + b * angle.cos()], -1).flatten(-2)"),
     "float64 x: dtype"),
]

WRONG = {}  # each with the words its failure must contain (test_variants.py checks both)
for task, code, words in MISTAKES:
    WRONG.setdefault(task, []).append((code, words))

RIGHT = {
    "encoder_attention": [
        encoder("return self.attn_dropout(torch.softmax(torch.einsum('bhtd,bhsd->bhts', q, k) * q.size(-1) ** -0.5, -1)) @ v"),
        encoder("p = self.dropout if self.training else 0.0\n"  # PyTorch's kernel without is_causal
                "if p == 0.0:\n"
                "    return F.scaled_dot_product_attention(q, k, v)\n"
                "return self.attn_dropout(F.softmax(q @ k.mT / math.sqrt(q.size(-1)), -1)) @ v"),
    ],
    "cross_attention": [
        cross("q = self.query(x)\nk = self.key(context)\nv = self.value(context)\n"
              "att = torch.einsum('btd,bsd->bts', q, k) / math.sqrt(q.shape[-1])\n"
              "return self.dropout(att.softmax(dim=-1)) @ v"),
        cross("q, k, v = self.query(x), self.key(context), self.value(context)\n"  # PyTorch's kernel, its own dropout
              "p = self.dropout.p if self.training else 0.0\n"
              "if p == 0.0:\n"
              "    return F.scaled_dot_product_attention(q, k, v)\n"
              "return self.dropout(F.softmax(q @ k.mT * q.size(-1) ** -0.5, -1)) @ v"),
    ],
    "sinusoidal": [
        sinusoidal("div = torch.exp(torch.arange(0, C, 2).float() * (-math.log(10000.0) / C))\n"  # the usual exp-log form
                   "angle = torch.arange(T).float()[:, None] * div\n"
                   "return torch.stack([angle.sin(), angle.cos()], dim=-1).reshape(T, C)"),
        sinusoidal("rows = [[math.sin(p / 10000 ** (2 * (j // 2) / C)) if j % 2 == 0 else math.cos(p / 10000 ** (2 * (j // 2) / C))\n"
                   "         for j in range(C)] for p in range(T)]\n"
                   "return torch.tensor(rows, dtype=torch.float32).reshape(T, C)"),
    ],
    "rope": [
        rope("theta = 10000 ** (-torch.arange(0, hs, 2, dtype=torch.float64) / hs)\n"  # complex numbers
             "angle = torch.arange(T, dtype=torch.float64)[:, None] * theta\n"
             "z = torch.view_as_complex(x.double().reshape(*x.shape[:-1], hs // 2, 2).contiguous())\n"
             "out = torch.view_as_real(z * torch.polar(torch.ones_like(angle), angle))\n"
             "return out.flatten(-2).to(x.dtype)"),
        rope(ANGLE +  # a rotation matrix per position and pair
             "c, s = angle.cos(), angle.sin()\n"
             "R = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)  # (T, hs/2, 2, 2)\n"
             "pairs = x.unflatten(-1, (hs // 2, 2))\n"
             "return (R @ pairs.unsqueeze(-1)).squeeze(-1).flatten(-2)"),
    ],
}

