"""Lesson 08: each check rejects plausible wrong answers and accepts other correct ones."""

LN = "class LayerNorm(LayerNorm):\n    def forward(self, x):\n"
MLP_ = "class MLP(MLP):\n    def forward(self, x):\n"
BLOCK = "class Block(Block):\n    def forward(self, x):\n"

WRONG = {
    "layernorm": [
        LN + "        m = x.mean(-1, keepdim=True)\n        v = x.var(-1, keepdim=True)\n"  # unbiased variance
             "        y = (x - m) / torch.sqrt(v + self.eps) * self.weight\n"
             "        return y if self.bias is None else y + self.bias",
        LN + "        m = x.mean(-1, keepdim=True)\n        s = x.std(-1, keepdim=True, unbiased=False)\n"  # eps outside sqrt
             "        y = (x - m) / (s + self.eps) * self.weight\n"
             "        return y if self.bias is None else y + self.bias",
        LN + "        m = x.mean(-1, keepdim=True)\n        v = x.var(-1, keepdim=True, unbiased=False)\n"  # wrong eps
             "        y = (x - m) / torch.sqrt(v + 1e-8) * self.weight\n"
             "        return y if self.bias is None else y + self.bias",
        LN + "        m = x.mean(0, keepdim=True)\n        v = x.var(0, keepdim=True, unbiased=False)\n"  # wrong dim
             "        y = (x - m) / torch.sqrt(v + self.eps) * self.weight\n"
             "        return y if self.bias is None else y + self.bias",
        LN + "        m = x.mean(-1, keepdim=True)\n        v = x.var(-1, keepdim=True, unbiased=False)\n"  # no scale/shift
             "        return (x - m) / torch.sqrt(v + self.eps)",
        LN + "        m = x.mean(-1, keepdim=True)\n        v = x.var(-1, keepdim=True, unbiased=False)\n"  # bias ignored
             "        return (x - m) / torch.sqrt(v + self.eps) * self.weight",
        LN + "        x -= x.mean(-1, keepdim=True)\n"  # changes the caller's tensor in place
             "        y = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight\n"
             "        return y if self.bias is None else y + self.bias",
    ],
    "mlp": [
        MLP_ + "        return self.dropout(self.c_proj(torch.relu(self.c_fc(x))))",  # ReLU
        MLP_ + "        return self.dropout(self.c_proj(self.c_fc(x)))",  # no non-linearity
        MLP_ + "        return self.c_proj(self.gelu(self.c_fc(x)))",  # no dropout
        MLP_ + "        return self.c_proj(self.dropout(self.gelu(self.c_fc(x))))",  # dropout in the wrong place
        MLP_ + "        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate='tanh')))",  # tanh GELU
    ],
    "block": [
        BLOCK + "        x = self.ln_1(x + self.attn(x))\n        return self.ln_2(x + self.mlp(x))",  # post-norm
        BLOCK + "        x = self.attn(self.ln_1(x))\n        return self.mlp(self.ln_2(x))",  # no residual
        BLOCK + "        x = x + self.attn(self.ln_1(x))\n        return self.mlp(self.ln_2(x))",  # one residual
        BLOCK + "        x = self.ln_1(x)\n        x = x + self.attn(x)\n"  # residual carries the normed x
                "        x = self.ln_2(x)\n        return x + self.mlp(x)",
        BLOCK + "        x = x + self.mlp(self.ln_2(x))\n        return x + self.attn(self.ln_1(x))",  # mlp first
        BLOCK + "        x = x + self.attn(self.ln_1(x))\n        return x + self.mlp(self.ln_1(x))",  # ln_1 twice
        BLOCK + "        return x + self.attn(self.ln_1(x)) + self.mlp(self.ln_2(x))",  # parallel, not sequential
    ],
}

RIGHT = {
    "layernorm": [
        LN + "        return F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, self.eps)",
        LN + "        v, m = torch.var_mean(x, dim=-1, keepdim=True, correction=0)\n"
             "        y = (x - m) * torch.rsqrt(v + self.eps) * self.weight\n"
             "        return y if self.bias is None else y + self.bias",
    ],
    "mlp": [
        MLP_ + "        return F.dropout(self.c_proj(F.gelu(self.c_fc(x))), self.dropout.p, self.training)",
    ],
    "block": [
        BLOCK + "        h = self.ln_1(x)\n        x = self.attn(h) + x\n        h = self.ln_2(x)\n        return x + self.mlp(h)",
        # the right wiring beside a wrong LayerNorm (unbiased variance): that costs 08.layernorm only
        LN + "        m = x.mean(-1, keepdim=True)\n        v = x.var(-1, keepdim=True)\n"
             "        y = (x - m) / torch.sqrt(v + self.eps) * self.weight\n"
             "        return y if self.bias is None else y + self.bias\n"
        + BLOCK + "        x = x + self.attn(self.ln_1(x))\n        return x + self.mlp(self.ln_2(x))",
    ],
}
