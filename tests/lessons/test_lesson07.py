"""Lesson 07: each check rejects plausible wrong answers and accepts other correct ones."""

import pytest
import torch


# Method variants subclass the reference class: the check looks the class up by name.
HEAD = "class Head(Head):\n    def forward(self, x):\n        B, T, C = x.shape\n        k, q, v = self.key(x), self.query(x), self.value(x)\n{body}"
ATTEND = "class CausalSelfAttention(CausalSelfAttention):\n    def attend(self, q, k, v):\n        T = q.size(-2)\n{body}"
FORWARD = ("import math\nclass CausalSelfAttention(CausalSelfAttention):\n    def forward(self, x):\n"
           "        B, T, C = x.size()\n        hs = C // self.n_head\n{split}\n"
           "        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0) if self.flash else self.attend(q, k, v)\n"
           "{merge}")
SPLIT = ("        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)\n"
         "        q, k, v = (t.view(B, T, self.n_head, hs).transpose(1, 2) for t in (q, k, v))")
MERGE = "        return self.resid_dropout(self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C)))"


def indent(code: str, spaces: int = 8) -> str:
    return "\n".join(" " * spaces + line for line in code.strip("\n").split("\n"))


def head(body):
    return HEAD.format(body=indent(body))


def attend(body):
    return ATTEND.format(body=indent(body))


def forward(split=SPLIT, merge=MERGE):
    return FORWARD.format(split=split, merge=merge)


WEIGHTS = "def attention_weights(q, k):\n    T, hs = q.size(-2), q.size(-1)\n{body}"


def weights(body):
    return WEIGHTS.format(body=indent(body, 4))


MASK = "scores = scores.masked_fill(torch.tril(torch.ones(T, T)) == 0, float('-inf'))"
MHA = "class MultiHeadAttention(MultiHeadAttention):\n    def forward(self, x):\n{body}"


def mha(body):
    return MHA.format(body=indent(body))


WRONG = {
    "attention_weights": [
        (weights(f"scores = q @ k.transpose(-2, -1)\n{MASK}\nreturn F.softmax(scores, dim=-1)"),
         "unscaled they grow with the head size"),  # no scale
        (weights(f"scores = q @ k.transpose(-2, -1) / hs\n{MASK}\nreturn F.softmax(scores, dim=-1)"),
         "scale the scores by 1/sqrt(hs), not 1/hs"),  # 1/hs
        (weights("scores = q @ k.transpose(-2, -1) / hs ** 0.5\n"  # upper-triangular mask: sees the future
                 "scores = scores.masked_fill(torch.triu(torch.ones(T, T)) == 0, float('-inf'))\n"
                 "return F.softmax(scores, dim=-1)"),
         "mask the future: -inf above the diagonal"),
        (weights(f"scores = q @ k.transpose(-2, -1) / hs ** 0.5\n{MASK}\nreturn F.softmax(scores, dim=-2)"),
         "softmax over the last dim"),  # wrong dim
        (weights("scores = q @ k.transpose(-2, -1) / hs ** 0.5\n"  # softmax first, then zero the future
                 "return F.softmax(scores, dim=-1).masked_fill(torch.tril(torch.ones(T, T)) == 0, 0.0)"),
         "mask before the softmax"),
        (weights(f"scores = q @ k.transpose(1, 2) / hs ** 0.5\n{MASK}\nreturn F.softmax(scores, dim=-1)"),
         "q and k may have a heads dimension, (B, nh, T, hs): transpose k's last two dims"),  # wrong dims with heads
        (weights("scores = q @ k.transpose(-2, -1) / hs ** 0.5\n"  # a position may not see itself
                 "scores = scores.masked_fill(torch.tril(torch.ones(T, T), -1) == 0, float('-inf'))\n"
                 "return F.softmax(scores, dim=-1)"),
         "keep the diagonal: a position attends to itself too"),
    ],
    "head": [
        (head("wei = q @ k.transpose(-2, -1) * C ** -0.5\n"  # scaled by n_embd, not head size
              "wei = wei.masked_fill(self.tril[:T, :T] == 0, float('-inf'))\n"
              "return self.dropout(F.softmax(wei, dim=-1)) @ v"),
         "scale the scores by 1/sqrt(head_size)"),
        (head("wei = q @ k.transpose(-2, -1) * k.size(-1) ** -0.5\n"  # no dropout
              "wei = wei.masked_fill(self.tril[:T, :T] == 0, float('-inf'))\n"
              "return F.softmax(wei, dim=-1) @ v"),
         "apply self.dropout to the attention weights"),
        (head("wei = q @ k.transpose(-2, -1) * k.size(-1) ** -0.5\n"  # mask not cut to T
              "wei = wei.masked_fill(self.tril == 0, float('-inf'))\n"
              "return self.dropout(F.softmax(wei, dim=-1)) @ v"),
         "cut the mask to the input's length, self.tril[:T, :T]"),
        (head("wei = k @ q.transpose(-2, -1) * k.size(-1) ** -0.5\n"  # keys and queries swapped
              "wei = wei.masked_fill(self.tril[:T, :T] == 0, float('-inf'))\n"
              "return self.dropout(F.softmax(wei, dim=-1)) @ v"),
         "the scores are q @ k^T"),
        (head("wei = q @ k.transpose(-2, -1) * k.size(-1) ** -0.5\n"  # softmax over the query dimension
              "wei = wei.masked_fill(self.tril[:T, :T] == 0, float('-inf'))\n"
              "return self.dropout(F.softmax(wei, dim=1)) @ v"),
         "softmax over the last dim (over the keys), not dim=1"),
        (head("wei = q @ k.transpose(-2, -1) * k.size(-1) ** -0.5\n"  # no mask at all: the future leaks
              "return self.dropout(F.softmax(wei, dim=-1)) @ v"),
         "mask the future: fill the scores where self.tril[:T, :T] == 0"),
        (head("wei = q @ k.transpose(-2, -1) * k.size(-1) ** -0.5\n"  # dropout on the output, not the weights
              "wei = wei.masked_fill(self.tril[:T, :T] == 0, float('-inf'))\n"
              "return self.dropout(F.softmax(wei, dim=-1) @ v)"),
         "not on the output"),
        (head("wei = q @ k.transpose(-2, -1) * k.size(-1) ** -0.5\n"  # dropout on the values
              "wei = wei.masked_fill(self.tril[:T, :T] == 0, float('-inf'))\n"
              "return F.softmax(wei, dim=-1) @ self.dropout(v)"),
         "not on the values"),
    ],
    "multi_head": [
        (mha("return self.dropout(torch.cat([h(x) for h in self.heads], dim=-1))"),
         "project the concatenated heads with self.proj"),  # no projection
        (mha("return self.proj(torch.cat([h(x) for h in self.heads], dim=-1))"),
         "apply self.dropout to the projection's output"),  # no dropout
        (mha("return self.dropout(self.proj(torch.cat([h(x) for h in reversed(self.heads)], dim=-1)))"),
         "concatenate the heads in order"),  # order
        (mha("return self.dropout(self.proj(torch.cat([h(x) for h in self.heads], dim=1)))"),
         "concatenated along the last dimension: torch.cat(outputs, dim=-1)"),  # cat over time
        (mha("return self.dropout(self.proj(torch.stack([h(x) for h in self.heads], -1).flatten(-2)))"),
         "stacking and flattening interleaves them"),  # interleaved
        (mha("return self.proj(self.dropout(torch.cat([h(x) for h in self.heads], dim=-1)))"),
         "the dropout comes after the projection"),  # dropout before proj
    ],
    "attend": [
        (attend("att = (q @ k.transpose(-2, -1)).masked_fill(~self.mask[:, :, :T, :T], float('-inf'))\n"  # no scale
                "return self.attn_dropout(F.softmax(att, dim=-1)) @ v"),
         "scale the scores by 1/sqrt(hs), hs = k.size(-1)"),
        (attend("att = (q @ k.transpose(-2, -1)) / math.sqrt(self.n_embd)\n"  # scale by n_embd
                "att = att.masked_fill(~self.mask[:, :, :T, :T], float('-inf'))\n"
                "return self.attn_dropout(F.softmax(att, dim=-1)) @ v"),
         "not 1/sqrt(n_embd)"),
        (attend("att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))\n"  # mask not cut to T
                "att = att.masked_fill(~self.mask, float('-inf'))\n"
                "return self.attn_dropout(F.softmax(att, dim=-1)) @ v"),
         "cut the mask to the input's length, self.mask[:, :, :T, :T]"),
        (attend("att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))\n"  # upper triangle
                "att = att.masked_fill(self.mask[:, :, :T, :T].transpose(-2, -1) == 0, float('-inf'))\n"
                "return self.attn_dropout(F.softmax(att, dim=-1)) @ v"),
         "mask the future: the scores where self.mask"),
        (attend("att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))\n"  # dropout also in eval mode
                "att = att.masked_fill(~self.mask[:, :, :T, :T], float('-inf'))\n"
                "return F.dropout(F.softmax(att, dim=-1), self.dropout) @ v"),
         "dropout only while training"),
        (attend("att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))\n"  # no dropout
                "att = att.masked_fill(~self.mask[:, :, :T, :T], float('-inf'))\n"
                "return F.softmax(att, dim=-1) @ v"),
         "apply self.attn_dropout to the attention weights"),
        (attend("att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))\n"  # softmax over the wrong dim
                "att = att.masked_fill(~self.mask[:, :, :T, :T], float('-inf'))\n"
                "return self.attn_dropout(F.softmax(att, dim=-2)) @ v"),
         "softmax over the last dim (over the keys), not dim=-2"),
        (attend("att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))\n"  # dropout on the output, not the weights
                "att = att.masked_fill(~self.mask[:, :, :T, :T], float('-inf'))\n"
                "return self.attn_dropout(F.softmax(att, dim=-1) @ v)"),
         "not on the output"),
        (attend("att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))\n"  # dropout on the values
                "att = att.masked_fill(~self.mask[:, :, :T, :T], float('-inf'))\n"
                "return F.softmax(att, dim=-1) @ self.attn_dropout(v)"),
         "not on the values"),
        (attend("att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))\n"  # dropout on the scores, before softmax
                "att = self.attn_dropout(att.masked_fill(~self.mask[:, :, :T, :T], -1e9))\n"
                "return F.softmax(att, dim=-1) @ v"),
         "not on the scores before it"),
    ],
    "causal_self_attention": [
        (forward(split="        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)\n"  # heads without transpose
                       "        q, k, v = (t.view(B, self.n_head, T, hs) for t in (q, k, v))"),
         "view size is not compatible"),
        (forward(split="        k, q, v = self.c_attn(x).split(self.n_embd, dim=2)\n"  # q and k swapped
                       "        q, k, v = (t.view(B, T, self.n_head, hs).transpose(1, 2) for t in (q, k, v))"),
         "c_attn's output splits as q, k, v, in that order"),
        (forward(split="        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)\n"  # reshaped straight into heads
                       "        q, k, v = (t.reshape(B, self.n_head, T, hs) for t in (q, k, v))"),
         "a reshape straight to (B, n_head, T, hs) mixes positions and heads"),
        (forward(split="        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)\n"  # heads take strided channels
                       "        q, k, v = (t.view(B, T, hs, self.n_head).permute(0, 3, 1, 2) for t in (q, k, v))",
                 merge="        return self.resid_dropout(self.c_proj(y.permute(0, 2, 3, 1).reshape(B, T, C)))"),
         "head h takes the channels h*hs to (h+1)*hs"),
        (forward(merge="        return self.resid_dropout(self.c_proj(y.reshape(B, T, C)))"),
         "transpose y back to (B, T, n_head, hs)"),  # merged without transpose
        (forward(merge="        return self.resid_dropout(y.transpose(1, 2).reshape(B, T, C))"),
         "project the merged heads with self.c_proj"),  # no c_proj
        (forward(merge="        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))"),
         "apply self.resid_dropout to c_proj's output"),  # no resid_dropout
        (forward(merge="        return self.c_proj(self.resid_dropout(y.transpose(1, 2).reshape(B, T, C)))"),
         "resid_dropout comes after c_proj"),  # dropout first
    ],
}

RIGHT = {
    "attention_weights": [
        weights("scores = torch.matmul(q, k.transpose(-1, -2)) * hs ** -0.5\n"
                "future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)\n"
                "return torch.softmax(scores.masked_fill(future, float('-inf')), -1)"),
        weights("scores = torch.einsum('...td,...sd->...ts', q, k) / math.sqrt(hs)\n"  # additive mask
                "return F.softmax(scores + torch.full((T, T), float('-inf')).triu(1), dim=-1)"),
    ],
    "head": [
        head("return self.dropout(attention_weights(q, k)) @ v"),  # reuses the first task
        head("wei = torch.einsum('btd,bsd->bts', q, k) / math.sqrt(q.shape[-1])\n"
             "wei = wei.masked_fill(self.tril[:T, :T] == 0, float('-inf')).softmax(dim=-1)\n"
             "return torch.einsum('bts,bsd->btd', self.dropout(wei), v)"),
    ],
    "multi_head": [
        mha("outs = []\nfor h in self.heads:\n    outs.append(h(x))\nreturn self.dropout(self.proj(torch.concat(outs, dim=2)))"),
    ],
    "attend": [
        attend("return self.attn_dropout(attention_weights(q, k)) @ v"),
        attend("return F.scaled_dot_product_attention(q, k, v, attn_mask=self.mask[:, :, :T, :T],\n"
               "    dropout_p=self.attn_dropout.p if self.training else 0.0)"),
    ],
    "causal_self_attention": [
        forward(split="        q, k, v = self.c_attn(x).chunk(3, dim=-1)\n"
                      "        q, k, v = (t.reshape(B, T, self.n_head, -1).permute(0, 2, 1, 3) for t in (q, k, v))",
                merge="        y = y.permute(0, 2, 1, 3).reshape(B, T, self.n_embd)\n"
                      "        return self.resid_dropout(self.c_proj(y))"),
    ],
}


@pytest.fixture(scope="module")
def lesson07():
    from autograder.loader import load_lesson

    return load_lesson("07", source="solutions", deps="solutions")


@pytest.mark.parametrize("n_head,T,bias,dropout", [(4, 8, True, 0.0), (1, 5, False, 0.2), (8, 1, True, 0.5),
                                                    (2, 3, True, 0.0)])
def test_flash_path_equals_manual_path(lesson07, n_head, T, bias, dropout):
    """config.flash swaps attend() for F.scaled_dot_product_attention: same outputs (eval mode)."""
    config = lesson07.GPTConfig(n_embd=32, n_head=n_head, block_size=8, dropout=dropout, bias=bias)
    torch.manual_seed(0)
    manual = lesson07.CausalSelfAttention(config).eval()
    fused = lesson07.CausalSelfAttention(lesson07.GPTConfig(**{**config.__dict__, "flash": True})).eval()
    fused.load_state_dict(manual.state_dict())  # the mask buffer is not in the state dict
    assert set(manual.state_dict()) == {"c_attn.weight", "c_proj.weight"} | (
        {"c_attn.bias", "c_proj.bias"} if bias else set())
    x = torch.randn(3, T, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(fused(x), manual(x), rtol=1e-5, atol=1e-6)


def test_flash_path_equals_manual_path_in_train_mode_without_dropout(lesson07):
    config = lesson07.GPTConfig(n_embd=16, n_head=2, block_size=8, dropout=0.0)
    torch.manual_seed(0)
    manual = lesson07.CausalSelfAttention(config).train()
    fused = lesson07.CausalSelfAttention(lesson07.GPTConfig(**{**config.__dict__, "flash": True})).train()
    fused.load_state_dict(manual.state_dict())
    x = torch.randn(2, 8, 16, generator=torch.Generator().manual_seed(2), requires_grad=True)
    torch.testing.assert_close(fused(x), manual(x), rtol=1e-5, atol=1e-6)
    grad_fused, = torch.autograd.grad(fused(x).sum(), x)
    grad_manual, = torch.autograd.grad(manual(x).sum(), x)
    torch.testing.assert_close(grad_fused, grad_manual, rtol=1e-4, atol=1e-5)


def test_batched_attention_equals_loop_over_heads(lesson07):
    """CausalSelfAttention is MultiHeadAttention with the heads' weights stacked in c_attn."""
    L = lesson07
    config = L.GPTConfig(n_embd=24, n_head=3, block_size=8, bias=False)
    torch.manual_seed(0)
    csa, loop = L.CausalSelfAttention(config).eval(), L.MultiHeadAttention(24, 3, 8, 0.0).eval()
    Wq, Wk, Wv = csa.c_attn.weight.split(24, dim=0)
    with torch.no_grad():
        for h, head in enumerate(loop.heads):
            rows = slice(8 * h, 8 * (h + 1))
            head.query.weight.copy_(Wq[rows]), head.key.weight.copy_(Wk[rows]), head.value.weight.copy_(Wv[rows])
        loop.proj.weight.copy_(csa.c_proj.weight)
        loop.proj.bias.zero_()
        x = torch.randn(2, 8, 24)
        torch.testing.assert_close(csa(x), loop(x), rtol=1e-5, atol=1e-6)
