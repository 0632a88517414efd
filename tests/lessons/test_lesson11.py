"""Lesson 11: each check rejects plausible wrong answers and accepts other correct ones."""

CONFIG = "def config_from_hf(hf_config):\n"
CONVERT = "def convert_gpt2_state_dict(state):\n"
LOAD = "def load_gpt2_weights(model, state):\n"
BUILD = "def gpt2_from_checkpoint(hf_config, state):\n"

GUARDS = ("    s = {**HF_DEFAULTS, **hf_config}\n"
          "    if s['layer_norm_epsilon'] != 1e-5: raise ValueError('layer_norm_epsilon')\n"
          "    if s['activation_function'] not in TANH_GELU_NAMES: raise ValueError('activation_function')\n"
          "    if s['n_inner'] not in (None, 4 * s['n_embd']): raise ValueError('n_inner')\n")
RETURN_CONFIG = ("    return GPTConfig(block_size={block}, vocab_size=s['vocab_size'], n_layer=s['n_layer'],\n"
                 "                     n_head=s['n_head'], n_embd=s['n_embd'], dropout={dropout}, bias={bias},\n"
                 "                     tie_weights={tie})\n")


def config(block="hf_config.get('n_positions', hf_config.get('n_ctx', 1024))", dropout="0.0", bias="True",
           tie="s['tie_word_embeddings']", guards=GUARDS):
    return CONFIG + guards + RETURN_CONFIG.format(block=block, dropout=dropout, bias=bias, tie=tie)


def convert(body):
    return CONVERT + "    out = {}\n    for k, v in state.items():\n" + body + "    return out\n"


TIED = "    if model.lm_head.weight is model.wte.weight: w['lm_head.weight'] = w['wte.weight']\n"
TIED_OWN = ("    if model.lm_head.weight is model.wte.weight:\n"  # a tied head: wte.weight fills it
            "        own.pop('lm_head.weight')\n        w.pop('lm_head.weight', None)\n")
LOAD_GOOD_TAIL = ("    with torch.no_grad():\n"
                  "        for k, v in w.items():\n"
                  "            own[k].copy_(v)\n"
                  "    return model\n")


def build(body):
    return BUILD + body


WRONG = {
    "gpt2_config": [
        (config(block="s['n_ctx'] if 'n_ctx' in s else 1024"),  # n_ctx before n_positions
         "n_positions 24 with a stale n_ctx 16 (n_positions wins): at key 'block_size'"),
        (config(block="s['n_positions']"),  # ignores n_ctx in old files (HF_DEFAULTS gives 1024)
         "an old config.json with n_ctx but no n_positions: at key 'block_size'"),
        (config(dropout="s.get('resid_pdrop', 0.0)"),  # training dropout kept
         "at key 'dropout': expected 0, got 0.1"),
        (config(bias="False"),  # GPT-2 has biases
         "at key 'bias'"),
        (config(tie="True"),  # tie_word_embeddings ignored
         "tie_word_embeddings=False, n_inner=4*n_embd: at key 'tie_weights'"),
        (config(guards="    s = {**HF_DEFAULTS, **hf_config}\n"),  # refuses nothing
         "layer_norm_epsilon=1e-6: at key 'raises': expected 'ValueError', got 'nothing'"),
        (config(guards="    s = {**HF_DEFAULTS, **hf_config}\n"  # accepts the exact GELU too
                       "    if s['layer_norm_epsilon'] != 1e-5: raise ValueError('layer_norm_epsilon')\n"
                       "    if 'gelu' not in s['activation_function']: raise ValueError('activation_function')\n"
                       "    if s['n_inner'] not in (None, 4 * s['n_embd']): raise ValueError('n_inner')\n"),
         "activation_function gelu (the exact one): at key 'raises': expected 'ValueError', got 'nothing'"),
        (config(guards="    s = {**HF_DEFAULTS, **hf_config}\n"  # errors that do not name the key
                       "    if s['layer_norm_epsilon'] != 1e-5: raise ValueError('unsupported')\n"
                       "    if s['activation_function'] not in TANH_GELU_NAMES: raise ValueError('unsupported')\n"
                       "    if s['n_inner'] not in (None, 4 * s['n_embd']): raise ValueError('unsupported')\n"),
         "the message names layer_norm_epsilon': not the case"),
        (config(guards=GUARDS.replace("raise ValueError", "raise KeyError")),  # refused, but not with a ValueError
         "layer_norm_epsilon=1e-6: at key 'raises': expected 'ValueError', got 'KeyError'"),
        (CONFIG + "    s = dict(hf_config)\n" + GUARDS[GUARDS.index("    if"):]  # no defaults: KeyError on {}
         + RETURN_CONFIG.format(block="s.get('n_positions', s.get('n_ctx'))", dropout="0.0", bias="True",
                                tie="s.get('tie_word_embeddings', True)"),
         "a key config.json leaves out means its value in HF_DEFAULTS"),
    ],
    "convert": [
        (convert("        out[k.removeprefix('transformer.')] = v\n"),  # nothing transposed, buffers kept
         "unexpected keys ['h.0.attn.bias', 'h.1.attn.bias']"),
        (convert("        k = k.removeprefix('transformer.')\n"  # not transposed
                 "        if not k.endswith(MASK_BUFFERS): out[k] = v\n"),
         "expected shape (72, 24), got (24, 72): the transpose of the expected matrix"),
        (convert("        k = k.removeprefix('transformer.')\n"  # every 2-D tensor transposed (embeddings too)
                 "        if k.endswith(MASK_BUFFERS): continue\n"
                 "        out[k] = v.t() if v.dim() == 2 else v\n"),
         "at key 'wte.weight': expected shape (37, 24), got (24, 37): the transpose"),
        (convert("        k = k.removeprefix('transformer.')\n"  # transposed only where the shape is not square
                 "        if k.endswith(MASK_BUFFERS): continue\n"
                 "        out[k] = v.t() if k.endswith(CONV1D_WEIGHTS) and v.shape[0] != v.shape[1] else v\n"),
         "; it is the transpose of the expected matrix"),  # (at key 'h.0.attn.c_proj.weight')
        (convert("        if k.endswith(MASK_BUFFERS): continue\n"  # prefix kept
                 "        out[k] = v.t() if k.endswith(CONV1D_WEIGHTS) else v\n"),
         "unexpected keys ['transformer.wte.weight'"),
        (convert("        k = k.removeprefix('transformer.')\n"  # every .bias dropped, the real biases too
                 "        if k.endswith('bias'): continue\n"
                 "        out[k] = v.t() if k.endswith(CONV1D_WEIGHTS) else v\n"),
         "missing keys ['h.0.ln_1.bias', 'h.0.attn.c_attn.bias'"),
        (convert("        k = k.removeprefix('transformer.')\n"  # masked_bias kept
                 "        if k.endswith('.attn.bias'): continue\n"
                 "        out[k] = v.t() if k.endswith(CONV1D_WEIGHTS) else v\n"),
         "an older export with h.0.attn.masked_bias: unexpected keys ['h.0.attn.masked_bias']"),
        (CONVERT + "    for k in list(state):\n"  # converts the caller's dict in place
                   "        v = state.pop(k)\n"
                   "        k = k.removeprefix('transformer.')\n"
                   "        if not k.endswith(MASK_BUFFERS): state[k] = v.t() if k.endswith(CONV1D_WEIGHTS) else v\n"
                   "    return state\n",
         "changed its input state in place"),
        (convert("        k = k.removeprefix('transformer.')\n"  # transposed with the wrong call: a reshape
                 "        if k.endswith(MASK_BUFFERS): continue\n"
                 "        out[k] = v.reshape(v.shape[1], v.shape[0]) if k.endswith(CONV1D_WEIGHTS) else v\n"),
         "regrouped by a reshape or view: .t() transposes"),
    ],
    "load": [
        (LOAD + "    w = convert_gpt2_state_dict(state)\n"  # lm_head replaced by a new Parameter: untied
                "    for k, v in w.items():\n"
                "        if k in dict(model.named_parameters()): model.get_parameter(k).data.copy_(v)\n"
                "    model.lm_head.weight = nn.Parameter(w['wte.weight'].clone())\n"
                "    return model\n",
         "published layout: at key 'lm_head.weight is still wte.weight': not the case"),
        (LOAD + "    w = convert_gpt2_state_dict(state)\n" + TIED  # strict=False: silently skips what does not fit
                + "    own = model.state_dict()\n"
                "    model.load_state_dict({k: v for k, v in w.items() if k in own and own[k].shape == v.shape},"
                " strict=False)\n"
                "    return model\n",
         "h.1.mlp.c_fc.weight of the wrong size: at key 'raises': expected 'ValueError', got 'nothing'"),
        (LOAD + "    w = convert_gpt2_state_dict(state)\n"  # shape errors that do not name the parameter
                "    own = model.state_dict()\n" + TIED_OWN +
                "    if set(w) != set(own): raise ValueError(f'missing {set(own) - set(w)}, unexpected {set(w) - set(own)}')\n"
                "    for k, v in w.items():\n"
                "        if v.shape != own[k].shape: raise ValueError('shape mismatch')\n" + LOAD_GOOD_TAIL,
         "h.1.mlp.c_fc.weight of the wrong size: at key 'the message names h.1.mlp.c_fc.weight': not the case"),
        (LOAD + "    w = convert_gpt2_state_dict(state)\n"  # extra layers in the checkpoint ignored
                "    own = model.state_dict()\n" + TIED_OWN +
                "    for k in own:\n"
                "        if k not in w: raise ValueError(k)\n"
                "        if w[k].shape != own[k].shape: raise ValueError(f'{k}: {tuple(w[k].shape)}')\n"
                "    w = {k: w[k] for k in own}\n" + LOAD_GOOD_TAIL,
         "a checkpoint with a third layer: at key 'raises': expected 'ValueError', got 'nothing'"),
        (LOAD + "    w = convert_gpt2_state_dict(state)\n"  # missing parameters left as they were
                "    own = model.state_dict()\n" + TIED_OWN +
                "    for k, v in w.items():\n"
                "        if k not in own or v.shape != own[k].shape: raise ValueError(k)\n" + LOAD_GOOD_TAIL,
         "h.0.ln_2.bias missing: at key 'raises': expected 'ValueError', got 'nothing'"),
        (LOAD + "    w = convert_gpt2_state_dict(state)\n"  # returns nothing
                "    w['lm_head.weight'] = w['wte.weight']\n"
                "    model.load_state_dict(w)\n",
         "at key 'returns the model': not the case"),
        (LOAD + "    w = {k.removeprefix('transformer.'): v for k, v in state.items()\n"  # no conversion: raw tensors
                "         if not k.endswith(MASK_BUFFERS)}\n"
                "    own = model.state_dict()\n" + TIED_OWN +
                "    with torch.no_grad():\n"
                "        for k, v in own.items():\n"
                "            v.copy_(w[k].reshape(v.shape))\n"
                "    return model\n",
         "regrouped by a reshape or view: .t() transposes"),
        (LOAD + "    w = convert_gpt2_state_dict(state)\n"  # lm_head.weight always dropped (right for a tied model only)
                "    own = model.state_dict()\n    own.pop('lm_head.weight')\n    w.pop('lm_head.weight', None)\n"
                "    if set(w) != set(own): raise ValueError(f'missing {set(own) - set(w)}, unexpected {set(w) - set(own)}')\n"
                "    for k, v in w.items():\n"
                "        if v.shape != own[k].shape: raise ValueError(f'{k}: {tuple(v.shape)} vs {tuple(own[k].shape)}')\n"
                + LOAD_GOOD_TAIL,
         "untied head (tie_word_embeddings=False): lm_head.weight loaded from the export: at key 'state after "
         "loading': at key 'lm_head.weight': values differ"),
        (LOAD + "    w = convert_gpt2_state_dict(state)\n"  # load_state_dict's own RuntimeError, not the ValueError asked for
                "    if model.lm_head.weight is model.wte.weight: w['lm_head.weight'] = w['wte.weight']\n"
                "    model.load_state_dict(w)\n"
                "    return model\n",
         "h.1.mlp.c_fc.weight of the wrong size: at key 'raises': expected 'ValueError', got 'RuntimeError'"),
    ],
    "from_checkpoint": [
        (build("    model = GPT(config_from_hf(hf_config))\n"  # the exact GELU
               "    load_gpt2_weights(model, state)\n    return model.eval()\n"),
         "GPT-2 uses the tanh approximation of GELU (gelu_new)"),
        (build("    model = GPT(config_from_hf(hf_config))\n"  # tanh GELU in the first block only
               "    model.h[0].mlp.gelu = nn.GELU(approximate='tanh')\n"
               "    load_gpt2_weights(model, state)\n    return model.eval()\n"),
         "GPT-2 uses the tanh approximation of GELU (gelu_new)"),
        (build("    model = GPT(config_from_hf(hf_config))\n"  # left in training mode
               "    for b in model.h: b.mlp.gelu = nn.GELU(approximate='tanh')\n"
               "    return load_gpt2_weights(model, state)\n"),
         "in eval mode: not the case"),
        (build("    model = GPT(config_from_hf(hf_config))\n"  # tanh GELU set before... on a copy of the config's model
               "    for b in model.h: b.mlp.gelu = nn.GELU(approximate='tanh')\n"
               "    fresh = GPT(config_from_hf(hf_config))\n"
               "    load_gpt2_weights(fresh, state)\n    return fresh.eval()\n"),
         "GPT-2 uses the tanh approximation of GELU (gelu_new)"),
        (build("    model = GPT(config_from_hf(hf_config))\n"  # ReLU instead of GELU
               "    for b in model.h: b.mlp.gelu = nn.ReLU()\n"
               "    load_gpt2_weights(model, state)\n    return model.eval()\n"),
         "some compute another function"),
        (build("    s = {**HF_DEFAULTS, **hf_config}\n"  # the config by hand, from n_ctx, tied: config_from_hf skipped
               "    model = GPT(GPTConfig(block_size=s.get('n_ctx', 1024), vocab_size=s['vocab_size'], n_layer=s['n_layer'],\n"
               "                          n_head=s['n_head'], n_embd=s['n_embd'], dropout=0.0, bias=True))\n"
               "    for b in model.h: b.mlp.gelu = nn.GELU(approximate='tanh')\n"
               "    load_gpt2_weights(model, state)\n    return model.eval()\n"),
         "n_positions 12 with a stale n_ctx 8, untied head, gelu_pytorch_tanh (config_from_hf reads all three): "
         "gpt2_from_checkpoint("),
    ],
}

RIGHT = {
    "gpt2_config": [
        CONFIG + "    get = lambda key: hf_config[key] if key in hf_config else HF_DEFAULTS[key]\n"
                 "    if not math.isclose(get('layer_norm_epsilon'), 1e-5, rel_tol=0, abs_tol=1e-12):\n"
                 "        raise ValueError(f\"unsupported layer_norm_epsilon {get('layer_norm_epsilon')}\")\n"
                 "    if get('activation_function') not in ('gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'):\n"
                 "        raise ValueError('activation_function must be a tanh GELU')\n"
                 "    if get('n_inner') is not None and get('n_inner') != 4 * get('n_embd'):\n"
                 "        raise ValueError('n_inner must be 4 * n_embd')\n"
                 "    block = hf_config['n_positions'] if 'n_positions' in hf_config else hf_config.get('n_ctx', 1024)\n"
                 "    c = GPTConfig()\n"
                 "    c.block_size, c.vocab_size = block, get('vocab_size')\n"
                 "    c.n_layer, c.n_head, c.n_embd = get('n_layer'), get('n_head'), get('n_embd')\n"
                 "    c.dropout, c.bias, c.tie_weights = 0.0, True, bool(get('tie_word_embeddings'))\n"
                 "    return c\n",
    ],
    "convert": [
        CONVERT + "    import re\n"
                  "    out = {}\n"
                  "    for k, v in state.items():\n"
                  "        k = re.sub(r'^transformer\\.', '', k)\n"
                  "        if re.search(r'\\.attn\\.(masked_)?bias$', k): continue\n"
                  "        out[k] = v.transpose(0, 1).contiguous() if re.search(r'(c_attn|c_proj|c_fc)\\.weight$', k) else v.clone()\n"
                  "    return out\n",
    ],
    "load": [
        LOAD + "    w = convert_gpt2_state_dict(state)\n"  # load_state_dict: its errors name the parameter
               "    if model.lm_head.weight is model.wte.weight: w['lm_head.weight'] = w['wte.weight']\n"
               "    try:\n"
               "        model.load_state_dict(w)\n"
               "    except RuntimeError as err:\n"
               "        raise ValueError(str(err)) from None\n"
               "    return model\n",
        LOAD + "    w = convert_gpt2_state_dict(state)\n"
               "    params = dict(model.named_parameters())\n"  # named_parameters lists a tied weight once
               "    for k in params:\n"
               "        if k not in w: raise ValueError(f'{k} is missing from the checkpoint')\n"
               "        if w[k].shape != params[k].shape:\n"
               "            raise ValueError(f'size mismatch for {k}: {tuple(w[k].shape)} vs {tuple(params[k].shape)}')\n"
               "    extra = set(w) - set(params) - ({'lm_head.weight'} if model.lm_head.weight is model.wte.weight else set())\n"
               "    if extra: raise ValueError(f'unexpected {sorted(extra)}')\n"
               "    with torch.no_grad():\n"
               "        for k, p in params.items(): p.copy_(w[k])\n"
               "    return model\n",
    ],
    "from_checkpoint": [
        build("    model = GPT(config_from_hf(hf_config))\n"
              "    load_gpt2_weights(model, state)\n"
              "    for m in model.modules():\n"
              "        if isinstance(m, nn.GELU): m.approximate = 'tanh'\n"
              "    model.train(False)\n    return model\n"),
    ],
}
