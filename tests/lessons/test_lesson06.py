"""Lesson 06: each check rejects plausible wrong answers and accepts other correct ones."""


from tests.conftest import verdict_of

LOOP = ("def average_past_loop(x):\n    B, T, C = x.shape\n    out = torch.zeros_like(x)\n"
        "    for b in range(B):\n        for t in range(T):\n            out[b, t] = {expr}\n    return out")
MATMUL = "def average_past_matmul(x):\n    T = x.shape[1]\n    wei = torch.tril(torch.ones(T, T, dtype=x.dtype))\n    {norm}\n    return {product}"
SOFTMAX = ("def average_past_softmax(x):\n    T = x.shape[1]\n    scores = torch.zeros(T, T, dtype=x.dtype)\n"
           "    scores = {fill}\n    return F.softmax(scores, dim={dim}) @ x")

WRONG = {
    "average_loop": [
        (LOOP.format(expr="x[b, :t].mean(dim=0)"),  # excludes position t itself (NaN at t = 0)
         "the average at t includes x[b, t] itself"),
        (LOOP.format(expr="x[b, :t + 1].sum(dim=0)"), "average, not sum"),  # sum, not mean
        (LOOP.format(expr="x[b, t:].mean(dim=0)"), "not the future x[b, t:]"),  # averages the future
        (LOOP.format(expr="x[b, :t + 1].mean(dim=0) * 0 + x[b, :t + 1].mean()"),  # mean over channels too
         "average over time only, each channel on its own"),
        ("def average_past_loop(x):\n    out = torch.zeros(x.shape)\n    for t in range(x.shape[1]):\n"
         "        out[:, t] = x[:, :t + 1].mean(dim=1)\n    return out",  # always float32
         "the average keeps x's dtype (float64 in, float64 out)"),
    ],
    "average_matmul": [
        (MATMUL.format(norm="wei = wei / wei.sum(dim=0, keepdim=True)", product="wei @ x"),  # column sums
         "not by the column sums (dim=0)"),
        (MATMUL.format(norm="wei = wei / wei.sum(dim=1)", product="wei @ x"),  # no keepdim: divides columns
         "wei.sum(dim=1) needs keepdim=True"),
        (MATMUL.format(norm="wei = wei / wei.sum(dim=1, keepdim=True)", product="wei.T @ x"),  # upper triangle
         "not wei.T @ x, which averages the future"),
        (MATMUL.format(norm="wei = wei / T", product="wei @ x"),  # divided by T, not by the row count
         "divide row t by its own count t + 1"),
        (MATMUL.format(norm="wei = wei / wei.sum(dim=1, keepdim=True)", product="(wei @ x).float()"),  # dtype lost
         "the average keeps x's dtype"),
    ],
    "causal_mask": [
        ("def causal_mask(T):\n    return torch.tril(torch.ones(T, T))",  # float, not bool
         "the mask must be a bool tensor"),
        ("def causal_mask(T):\n    return torch.triu(torch.ones(T, T, dtype=torch.bool))",  # upper triangle
         "True on and below the diagonal (torch.tril, the past)"),
        ("def causal_mask(T):\n    return torch.tril(torch.ones(T, T, dtype=torch.bool), diagonal=-1)",  # no diagonal
         "keep the diagonal: a position may attend to itself"),
        ("def causal_mask(T):\n    return torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)",  # True = forbidden
         "the mask is inverted"),
    ],
    "average_softmax": [
        (SOFTMAX.format(fill="scores.masked_fill(torch.tril(torch.ones(T, T)) == 0, float('-inf'))", dim=0),  # columns
         "softmax over the last dim"),
        (SOFTMAX.format(fill="scores.masked_fill(torch.triu(torch.ones(T, T)) == 0, float('-inf'))", dim=-1),  # future
         "mask the future: -inf above the diagonal"),
        (SOFTMAX.format(fill="scores.masked_fill(torch.tril(torch.ones(T, T)) == 0, 0.0)", dim=-1),  # no -inf
         "fill the future with float('-inf'), not 0"),
        (SOFTMAX.format(fill="scores.masked_fill(causal_mask(T), float('-inf'))", dim=-1),  # mask inverted (NaN)
         "fill the future (~causal_mask(T), or tril == 0) with -inf, not the past"),
        (SOFTMAX.format(fill="scores.masked_fill(torch.tril(torch.ones(T, T)) == 0, -1e9).float()", dim=-1),
         "this input is float64, so make the tensors (and modules) you create match it"),  # float32 scores
    ],
}

RIGHT = {
    "average_loop": [
        "def average_past_loop(x):\n    out = x.clone()\n    for b in range(x.shape[0]):\n        total = torch.zeros_like(x[b, 0])\n"
        "        for t in range(x.shape[1]):\n            total = total + x[b, t]\n            out[b, t] = total / (t + 1)\n    return out",
        "def average_past_loop(x):\n    counts = torch.arange(1, x.shape[1] + 1, dtype=x.dtype).view(1, -1, 1)\n    return x.cumsum(dim=1) / counts",
    ],
    "average_matmul": [
        "def average_past_matmul(x):\n    T = x.shape[1]\n    wei = torch.ones(T, T).tril()\n"
        "    wei = wei / torch.arange(1, T + 1).unsqueeze(1)\n    return torch.matmul(wei.to(x), x)",
    ],
    "causal_mask": [
        "def causal_mask(T):\n    i = torch.arange(T)\n    return i[:, None] >= i[None, :]",
        "def causal_mask(T):\n    return ~torch.ones(T, T, dtype=torch.bool).triu(1)",
    ],
    "average_softmax": [
        SOFTMAX.format(fill="scores.masked_fill(torch.tril(torch.ones(T, T)) == 0, float('-inf'))", dim=1),
        "def average_past_softmax(x):\n    T = x.shape[1]\n    future = torch.triu(torch.full((T, T), float('-inf'), dtype=x.dtype), 1)\n"
        "    return torch.softmax(torch.ones(T, T, dtype=x.dtype) + future, -1) @ x",  # constant scores: same weights
    ],
}


def test_softmax_check_does_not_blame_a_wrong_causal_mask():
    """average_past_softmax is graded with a correct causal_mask, whatever the student's is."""
    code = ("def causal_mask(T):\n    return torch.triu(torch.ones(T, T, dtype=torch.bool))\n"
            + SOFTMAX.format(fill="scores.masked_fill(~causal_mask(T), float('-inf'))", dim=-1))
    assert verdict_of("06.average_softmax", code).status == "passed"
    assert verdict_of("06.causal_mask", code).status == "failed"


def test_the_three_averages_agree():
    import torch

    from autograder.loader import load_lesson

    L = load_lesson("06", source="solutions", deps="solutions")
    x = torch.randn(3, 9, 5, generator=torch.Generator().manual_seed(0))
    loop = L.average_past_loop(x)
    torch.testing.assert_close(L.average_past_matmul(x), loop)
    torch.testing.assert_close(L.average_past_softmax(x), loop)
    torch.testing.assert_close(loop[:, 3], x[:, :4].mean(dim=1))
