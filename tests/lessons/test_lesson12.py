"""Lesson 12: each check rejects plausible wrong answers and accepts other correct ones."""

FORMAT = "def format_prompt(example):\n"
COLLATE = "def collate(batch, pad_id, mask_prompt=True):\n"
LOSS = "def instruction_loss(logits, targets):\n"
EXTRACT = "def extract_response(text):\n"

COLLATE_HEAD = ("    T = max(len(ids) for ids, _ in batch) - 1\n"
                "    x = torch.full((len(batch), T), pad_id, dtype=torch.long)\n"
                "    y = torch.full((len(batch), T), IGNORE_INDEX, dtype=torch.long)\n")


def collate(loop, head=COLLATE_HEAD):
    return COLLATE + head + "    for row, (ids, p) in enumerate(batch):\n" + loop + "    return x, y\n"


SHIFT = ("        n = len(ids) - 1\n"
         "        x[row, :n] = torch.tensor(ids[:-1])\n"
         "        y[row, :n] = torch.tensor(ids[1:])\n")

WRONG = {
    "format_prompt": [
        (FORMAT + "    return f\"Instruction: {example['instruction']}\\nInput: {example.get('input', '')}\\nResponse: \"\n",
         "empty input: expected 'Instruction: Count from four to seven.\\nResponse: ', got 'Instruction: Count from "
         "four to seven.\\nInput: \\nResponse: '"),
        (FORMAT + "    text = f\"Instruction: {example['instruction']}\\n\"\n"  # no space after Response:
                  "    if example.get('input'): text += f\"Input: {example['input']}\\n\"\n"
                  "    return text + 'Response:'\n",
         "expected 'Instruction: Spell the word.\\nInput: king\\nResponse: ', got 'Instruction: Spell the word.\\n"
         "Input: king\\nResponse:'"),
        (FORMAT + "    text = f\"Instruction: {example['instruction']}\\n\"\n"  # the response included
                  "    if example.get('input'): text += f\"Input: {example['input']}\\n\"\n"
                  "    return text + 'Response: ' + example['response']\n",
         "got 'Instruction: Spell the word.\\nInput: king\\nResponse: k-i-n-g'"),
        (FORMAT + "    text = f\"Instruction: {example['instruction']}\\n\"\n"  # KeyError without 'input'
                  "    if example['input']: text += f\"Input: {example['input']}\\n\"\n"
                  "    return text + 'Response: '\n",
         "an example may have no 'input' key: example.get('input', '')"),
        (FORMAT + "    text = f\"Instruction: {example['instruction']}\\n\\n\"\n"  # blank lines between parts
                  "    if example.get('input'): text += f\"Input: {example['input']}\\n\\n\"\n"
                  "    return text + 'Response: '\n",
         "got 'Instruction: Spell the word.\\n\\nInput: king\\n\\nResponse: '"),
        (FORMAT + "    parts = [f\"Instruction: {example['instruction']}\"]\n"  # the input lower-cased
                  "    if example.get('input'): parts.append(f\"Input: {example['input'].lower()}\")\n"
                  "    return '\\n'.join(parts) + '\\nResponse: '\n",
         "got \"Instruction: Answer, if you can: who's there?\\nInput: nay, answer me"),
    ],
    "collate": [
        (collate(SHIFT), "the prompt is not masked"),  # prompt never masked
        (collate(SHIFT + "        if mask_prompt: y[row, :p] = IGNORE_INDEX\n"),  # masks the first response token too
         "one target too many is masked"),
        (collate(SHIFT + "        if mask_prompt: y[row, :p - 2] = IGNORE_INDEX\n"),  # one prompt target left
         "one prompt target is left"),
        (collate("        n = len(ids) - 1\n"  # no shift: targets equal the inputs
                 "        x[row, :n] = torch.tensor(ids[:-1])\n"
                 "        y[row, :n] = torch.tensor(ids[:-1])\n"
                 "        if mask_prompt: y[row, :p - 1] = IGNORE_INDEX\n"),
         "y must be x shifted by one"),
        (collate("        n = len(ids) - 1\n"  # the shift reversed: x from ids[1:], y from ids[:-1]
                 "        x[row, :n] = torch.tensor(ids[1:])\n"
                 "        y[row, :n] = torch.tensor(ids[:-1])\n"
                 "        if mask_prompt: y[row, :p - 1] = IGNORE_INDEX\n"),
         "x and y look swapped: x is ids[:-1] and y is ids[1:]"),
        (collate(SHIFT + "        if mask_prompt: y[row, :p - 1] = IGNORE_INDEX\n",  # targets padded with pad_id
                 head=COLLATE_HEAD.replace("IGNORE_INDEX, dtype", "pad_id, dtype")),
         "pad the targets with IGNORE_INDEX, not pad_id"),
        (collate(SHIFT + "        if mask_prompt: y[row, :p - 1] = IGNORE_INDEX\n",  # inputs padded with IGNORE_INDEX
                 head=COLLATE_HEAD.replace("), pad_id, dtype", "), IGNORE_INDEX, dtype")),
         "pad the inputs with pad_id"),
        (collate("        n = len(ids)\n"  # T = longest len(ids): one column too many
                 "        x[row, :n - 1] = torch.tensor(ids[:-1])\n"
                 "        y[row, :n - 1] = torch.tensor(ids[1:])\n"
                 "        if mask_prompt: y[row, :p - 1] = IGNORE_INDEX\n",
                 head=COLLATE_HEAD.replace("- 1\n", "\n", 1)),
         "T is the longest len(ids) - 1"),
        (collate(SHIFT + "        if mask_prompt: y[row, :p - 1] = IGNORE_INDEX\n",  # float tensors
                 head=COLLATE_HEAD.replace("torch.long", "torch.float")),
         "targets must be int64 (torch.long): F.cross_entropy needs class indices as long"),
        (collate(SHIFT + "        if mask_prompt: y[row, :p - 1] = IGNORE_INDEX\n",  # int32 tensors (the values right)
                 head=COLLATE_HEAD.replace("torch.long", "torch.int32")),
         "targets must be int64 (torch.long): F.cross_entropy needs class indices as long"),
        (collate(SHIFT + "        if mask_prompt: y[row, :p - 1] = IGNORE_INDEX\n",  # int32 inputs only
                 head=COLLATE_HEAD.replace("), pad_id, dtype=torch.long", "), pad_id, dtype=torch.int32")),
         "inputs must be int64 (torch.long) token ids"),
        (collate("        n = len(ids) - 1\n"  # padding on the left
                 "        x[row, T - n:] = torch.tensor(ids[:-1])\n"
                 "        y[row, T - n:] = torch.tensor(ids[1:])\n"
                 "        if mask_prompt: y[row, T - n:T - n + p - 1] = IGNORE_INDEX\n"),
         "pad on the right"),
        (COLLATE + "    for ids, p in batch:\n"  # pads the caller's lists in place
                   "        ids += [pad_id] * (max(len(i) for i, _ in batch) - len(ids))\n"
                   "    t = torch.tensor([ids for ids, _ in batch])\n"
                   "    x, y = t[:, :-1].clone(), t[:, 1:].clone()\n"
                   "    y[x == pad_id] = IGNORE_INDEX\n"
                   "    return x, y\n",
         "changed its input batch in place"),
    ],
    "loss": [
        (LOSS + "    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1).clamp(min=0))\n",
         "targets equal to IGNORE_INDEX must not count"),
        (LOSS + "    l = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),\n"  # mean over all positions
                "                        ignore_index=IGNORE_INDEX, reduction='sum')\n"
                "    return l / targets.numel()\n",
         "not over all B*T positions"),
        (LOSS + "    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))\n",  # nan when all ignored
         "when every target is ignored, return a zero loss that still has a gradient"),
        (LOSS + "    if (targets == IGNORE_INDEX).all(): return logits.sum() * 0.0\n"  # .view on non-contiguous logits
                "    return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))\n",
         "view size is not compatible with input tensor's size and stride"),
        (LOSS + "    if (targets == IGNORE_INDEX).all(): return torch.tensor(0.0)\n"  # no gradient when all ignored
                "    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))\n",
         "every target ignored: loss.backward(): raised RuntimeError"),
        (LOSS + "    keep = targets != IGNORE_INDEX\n"  # summed, not averaged
                "    return F.cross_entropy(logits[keep], targets[keep], reduction='sum')\n",
         "average over the targets that count, not the sum"),
        (LOSS + "    if (targets == IGNORE_INDEX).all(): return logits.sum() * 0.0\n"  # softmax applied twice
                "    return F.cross_entropy(logits.softmax(-1).reshape(-1, logits.size(-1)), targets.reshape(-1))\n",
         "yours are softmaxed twice"),
    ],
    "extract_response": [
        (EXTRACT + "    return text.split('Response:')[1].split('\\n')[0].strip() if 'Response:' in text else ''\n",
         "the input contains 'Response:': expected 'a Response: b', got 'b'"),  # the marker anywhere in a line
        (EXTRACT + "    return text.split('Response: ', 1)[-1].split('\\n')[0].strip()\n",  # whole text when no marker
         "no Response: line at all: expected '', got 'Instruction: Spell the word.'"),
        (EXTRACT + "    i = text.rfind('\\nResponse:')\n"  # the last marker, not the first
                   "    return text[i + 10:].split('\\n')[0].strip() if i >= 0 or text.startswith('Response:') else ''\n",
         "take the first line that starts with 'Response:', not the last"),
        (EXTRACT + "    for line in text.split('\\n'):\n"  # no strip
                   "        if line.startswith('Response:'): return line[9:]\n"
                   "    return ''\n",
         "expected 'k-i-n-g', got ' k-i-n-g'"),
        (EXTRACT + "    for line in text.split('\\n'):\n"  # everything after the marker, later lines too
                   "        if line.startswith('Response:'): return text[text.index(line) + 9:].strip()\n"
                   "    return ''\n",
         "expected 'k-i-n-g', got 'k-i-n-g\\nInstruction"),
        (EXTRACT + "    for line in text.split('\\n'):\n"  # case-insensitive marker
                   "        if line.lower().startswith('response:'): return line[9:].strip()\n"
                   "    return ''\n",
         "a lower-case 'response:' is not the marker"),
        (EXTRACT + "    for line in text.split('\\n'):\n"  # marker removed anywhere in the line
                   "        if line.startswith('Response:'): return line.replace('Response:', '').strip()\n"
                   "    return ''\n",
         "expected 'a Response: b', got 'a  b'"),
    ],
}

RIGHT = {
    "format_prompt": [
        FORMAT + "    lines = ['Instruction: ' + example['instruction']]\n"
                 "    if example.get('input', ''):\n        lines.append('Input: ' + example['input'])\n"
                 "    lines.append('Response: ')\n"
                 "    return '\\n'.join(lines)\n",
    ],
    "collate": [
        COLLATE + "    T = max(len(i) for i, _ in batch) - 1\n"  # list building, then one tensor
                  "    xs, ys = [], []\n"
                  "    for ids, p in batch:\n"
                  "        tgt = list(ids[1:])\n"
                  "        if mask_prompt:\n"
                  "            tgt = [IGNORE_INDEX if t < p - 1 else v for t, v in enumerate(tgt)]\n"
                  "        xs.append(list(ids[:-1]) + [pad_id] * (T - len(ids) + 1))\n"
                  "        ys.append(tgt + [IGNORE_INDEX] * (T - len(ids) + 1))\n"
                  "    return torch.tensor(xs), torch.tensor(ys)\n",
        COLLATE + "    from torch.nn.utils.rnn import pad_sequence\n"  # pad_sequence
                  "    seqs = [torch.tensor(i) for i, _ in batch]\n"
                  "    x = pad_sequence([s[:-1] for s in seqs], batch_first=True, padding_value=pad_id)\n"
                  "    tg = []\n"
                  "    for s, (_, p) in zip(seqs, batch):\n"
                  "        t = s[1:].clone()\n"
                  "        if mask_prompt: t[:max(p - 1, 0)] = IGNORE_INDEX\n"
                  "        tg.append(t)\n"
                  "    return x, pad_sequence(tg, batch_first=True, padding_value=IGNORE_INDEX)\n",
    ],
    "loss": [
        LOSS + "    keep = targets != IGNORE_INDEX\n"  # boolean indexing, manual log-softmax
               "    logp = F.log_softmax(logits[keep], dim=-1)\n"
               "    picked = logp.gather(1, targets[keep].unsqueeze(1)).squeeze(1)\n"
               "    return -picked.sum() / keep.sum().clamp(min=1)\n",
    ],
    "extract_response": [
        EXTRACT + "    import re\n"
                  "    m = re.search(r'^Response:(.*)$', text, re.MULTILINE)\n"
                  "    return m.group(1).strip() if m else ''\n",
    ],
}
