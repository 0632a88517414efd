"""Lesson 08: each check rejects plausible wrong answers and accepts other correct ones."""

LN = "class LayerNorm(LayerNorm):\n    def forward(self, x):\n"
MLP_ = "class MLP(MLP):\n    def forward(self, x):\n"
BLOCK = "class Block(Block):\n    def forward(self, x):\n"

WRONG = {
    "layernorm": [
        (LN + "        m = x.mean(-1, keepdim=True)\n        v = x.var(-1, keepdim=True)\n"  # unbiased variance
              "        y = (x - m) / torch.sqrt(v + self.eps) * self.weight\n"
              "        return y if self.bias is None else y + self.bias",
         "use the biased variance"),
        (LN + "        m = x.mean(-1, keepdim=True)\n        s = x.std(-1, keepdim=True, unbiased=False)\n"  # eps outside sqrt
              "        y = (x - m) / (s + self.eps) * self.weight\n"
              "        return y if self.bias is None else y + self.bias",
         "eps goes inside the square root"),
        (LN + "        m = x.mean(-1, keepdim=True)\n        v = x.var(-1, keepdim=True, unbiased=False)\n"  # wrong eps
              "        y = (x - m) / torch.sqrt(v + 1e-8) * self.weight\n"
              "        return y if self.bias is None else y + self.bias",
         "use self.eps (1e-5), not an eps of your own"),
        (LN + "        m = x.mean(0, keepdim=True)\n        v = x.var(0, keepdim=True, unbiased=False)\n"  # wrong dim
              "        y = (x - m) / torch.sqrt(v + self.eps) * self.weight\n"
              "        return y if self.bias is None else y + self.bias",
         "normalise over the last dim"),
        (LN + "        m = x.mean(-1, keepdim=True)\n        v = x.var(-1, keepdim=True, unbiased=False)\n"  # no scale/shift
              "        return (x - m) / torch.sqrt(v + self.eps)",
         "scale by self.weight and add self.bias"),
        (LN + "        m = x.mean(-1, keepdim=True)\n        v = x.var(-1, keepdim=True, unbiased=False)\n"  # bias ignored
              "        return (x - m) / torch.sqrt(v + self.eps) * self.weight",
         "add self.bias (when there is one)"),
        (LN + "        x -= x.mean(-1, keepdim=True)\n"  # changes the caller's tensor in place
              "        y = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight\n"
              "        return y if self.bias is None else y + self.bias",
         "your code changes its input in place"),
    ],
    "mlp": [
        (MLP_ + "        return self.dropout(self.c_proj(torch.relu(self.c_fc(x))))",
         "not ReLU"),  # ReLU
        (MLP_ + "        return self.dropout(self.c_proj(self.c_fc(x)))",
         "apply self.gelu between c_fc and c_proj"),  # no non-linearity
        (MLP_ + "        return self.c_proj(self.gelu(self.c_fc(x)))",
         "apply self.dropout to c_proj's output"),  # no dropout
        (MLP_ + "        return self.c_proj(self.dropout(self.gelu(self.c_fc(x))))",
         "the dropout comes last, on c_proj's output, not on the hidden layer"),  # dropout in the wrong place
        (MLP_ + "        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate='tanh')))",
         "not the tanh approximation"),  # tanh GELU
    ],
    "block": [
        (BLOCK + "        x = self.ln_1(x + self.attn(x))\n        return self.ln_2(x + self.mlp(x))",
         "that is post-norm"),  # post-norm
        (BLOCK + "        x = self.attn(self.ln_1(x))\n        return self.mlp(self.ln_2(x))",
         "add each sub-layer's output to x, the residual stream"),  # no residual
        (BLOCK + "        x = x + self.attn(self.ln_1(x))\n        return self.mlp(self.ln_2(x))",
         "the MLP needs its residual too"),  # one residual
        (BLOCK + "        x = self.ln_1(x)\n        x = x + self.attn(x)\n"  # residual carries the normed x
                 "        x = self.ln_2(x)\n        return x + self.mlp(x)",
         "the residual stream carries x itself, not ln_1(x)"),
        (BLOCK + "        x = x + self.mlp(self.ln_2(x))\n        return x + self.attn(self.ln_1(x))",
         "attention comes first, then the MLP"),  # mlp first
        (BLOCK + "        x = x + self.attn(self.ln_1(x))\n        return x + self.mlp(self.ln_1(x))",
         "the MLP's input is normalised by ln_2, not ln_1"),  # ln_1 twice
        (BLOCK + "        return x + self.attn(self.ln_1(x)) + self.mlp(self.ln_2(x))",
         "the MLP sees x after the attention's output was added"),  # parallel, not sequential
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
