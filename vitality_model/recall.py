"""A long-range task: associative recall at 65, 197 or 785 tokens (seeded, synthetic).

    python -m vitality_model.recall [--tokens 65 197 785] [--attention softmax taylor]
        [--steps 300] [--seeds 0] [--curriculum] [--out DIR] [--json]

Each sequence has ``n`` tokens. Token 0 is the *query*: a key ``q`` out of ``KEYS`` (16). Each of
tokens 1..n-1 is a (key, value) pair, with ``value`` one of ``CLASSES`` (10); exactly one of them,
at a random position, has key ``q``; every other one has a random key different from ``q`` and a
random value. The label is the value paired with ``q``, read from token 0's output (chance: 10%).
Solving it needs token 0 to find one token out of ``n - 1`` by content, anywhere in the sequence,
which is where linear attention is known to struggle: a sharp softmax can single one token out,
while the first-order Taylor weights ``1 + x`` can only do so if the centred score of the match
grows with n.

Tokens are one-hot (key, value, is-query) features, embedded linearly, plus a learned position
embedding, then pre-norm transformer blocks of ``vitality_model.models`` (any attention variant;
by default one block, embed 32, 2 heads of 16: one layer suffices, token 0 holds the query).
Training draws fresh sequences every step from a generator seeded by ``--seed``; the test set is
1,000 fixed sequences (seed + 10,000), so runs are deterministic for a given seed and thread count.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .attention import ATTENTIONS, check_attention
from .models import Block

KEYS = 16
CLASSES = 10
FEATURES = KEYS + CLASSES + 1


def make_batch(n: int, batch: int, generator: torch.Generator,
               active: int | None = None) -> tuple[Tensor, Tensor]:
    """``batch`` recall sequences of ``n`` tokens: features ``(batch, n, FEATURES)``, labels.
    ``active`` (default ``n``): only tokens ``0 .. active-1`` hold the query and pairs, the
    rest are empty (zero features: only their position embedding), for a curriculum."""
    if n < 2:
        raise ValueError(f"a recall sequence needs at least 2 tokens, got {n}")
    active = n if active is None else active
    if not 2 <= active <= n:
        raise ValueError(f"active tokens must be in [2, {n}], got {active}")
    query = torch.randint(0, KEYS, (batch,), generator=generator)
    # distractor keys: uniform over the KEYS - 1 keys other than the query's
    offset = torch.randint(1, KEYS, (batch, active - 1), generator=generator)
    keys = (query[:, None] + offset) % KEYS
    values = torch.randint(0, CLASSES, (batch, active - 1), generator=generator)
    where = torch.randint(0, active - 1, (batch,), generator=generator)
    rows = torch.arange(batch)
    keys[rows, where] = query
    label = values[rows, where]
    x = torch.zeros(batch, n, FEATURES)
    x[rows, 0, query] = 1.0
    x[:, 0, KEYS + CLASSES] = 1.0  # is-query flag
    tok = torch.arange(1, active)
    x[rows[:, None], tok[None, :], keys] = 1.0
    x[rows[:, None], tok[None, :], KEYS + values] = 1.0
    return x, label


class RecallModel(nn.Module):
    """Linear token embedding + position embedding + ``depth`` blocks; classifies token 0."""

    def __init__(self, n: int, attention: str, dim: int = 32, depth: int = 1, heads: int = 2,
                 mlp_ratio: float = 2.0) -> None:
        super().__init__()
        self.embed = nn.Linear(FEATURES, dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, n, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.blocks = nn.ModuleList(
            Block(dim, heads, mlp_ratio, attention=attention) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, CLASSES)

    def forward(self, x: Tensor) -> Tensor:
        h = self.embed(x) + self.pos_embed
        for blk in self.blocks:
            h = blk(h)
        return self.head(self.norm(h)[:, 0])


def curriculum_active(n: int, step: int, steps: int, start: int = 65) -> int:
    """Active tokens at ``step`` of a curriculum: ``min(start, n)`` at first, growing
    linearly to ``n`` over the first 3/4 of the steps, then ``n``."""
    first = min(start, n)
    ramp = max(1, (3 * steps) // 4)
    return min(n, first + (n - first) * step // ramp)


def run(n: int, attention: str, seed: int, steps: int, batch: int = 32, lr: float = 2e-3,
        test_size: int = 1000, curriculum: bool = False) -> dict:
    """Train one model on fresh batches for ``steps`` steps; return its record. With
    ``curriculum`` the training sequences hold ``curriculum_active`` tokens (the rest
    empty); the test set is always whole ``n``-token sequences."""
    check_attention(attention)
    cpu0 = time.process_time()
    torch.manual_seed(seed)
    model = RecallModel(n, attention)
    gen = torch.Generator().manual_seed(seed)
    x_test, y_test = make_batch(n, test_size, torch.Generator().manual_seed(seed + 10_000))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, 1 - s / steps))
    model.train()
    loss = torch.tensor(float("nan"))
    for step in range(steps):
        x, y = make_batch(n, batch, gen, curriculum_active(n, step, steps) if curriculum else n)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(x_test[i:i + 250]).argmax(-1) == y_test[i:i + 250]).sum())
                      for i in range(0, test_size, 250))
    return {"tokens": n, "attention": attention, "seed": seed, "steps": steps, "batch": batch,
            "curriculum": curriculum,
            "test_accuracy": correct / test_size, "final_loss": round(float(loss.detach()), 4),
            "cpu_s": round(time.process_time() - cpu0, 1)}


def table(records: list[dict]) -> str:
    """Markdown: test accuracy per (tokens, attention), mean over seeds, and the gap."""
    tokens = sorted({r["tokens"] for r in records})
    atts = [a for a in ATTENTIONS if any(r["attention"] == a for r in records)]
    head = "| tokens n | " + " | ".join(f"{a} test acc. (%)" for a in atts)
    lines = [head + " | softmax − taylor (points) | CPU s per run |",
             "|---:|" + "---|" * len(atts) + "---:|---:|"]
    for n in tokens:
        means = {}
        cells = []
        for a in atts:
            accs = [r["test_accuracy"] for r in records if r["tokens"] == n and r["attention"] == a]
            means[a] = 100 * statistics.fmean(accs) if accs else None
            cells.append(" / ".join(f"{100 * v:.1f}" for v in accs) or "–")
        gap = (f"{means['softmax'] - means['taylor']:+.1f}"
               if means.get("softmax") is not None and means.get("taylor") is not None else "–")
        cpu = statistics.fmean(r["cpu_s"] for r in records if r["tokens"] == n)
        lines.append(f"| {n} | " + " | ".join(cells) + f" | {gap} | {cpu:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m vitality_model.recall",
                                description=__doc__.splitlines()[0])
    p.add_argument("--tokens", type=int, nargs="+", default=[65, 197, 785])
    p.add_argument("--attention", nargs="+", default=["softmax", "taylor"],
                   choices=sorted(ATTENTIONS))
    p.add_argument("--steps", type=int, default=300, help="training steps of batch 32")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--curriculum", action="store_true",
                   help="train on sequences whose filled tokens grow from 65 to n over the "
                        "first 3/4 of the steps (the rest empty); test on whole sequences")
    p.add_argument("--out", help="directory for recall.jsonl and recall.md")
    p.add_argument("--json", action="store_true", help="print each record as a JSON line")
    args = p.parse_args(argv)
    if min(args.tokens) < 2 or args.steps < 1:
        p.error("--tokens must be >= 2 and --steps >= 1")
    torch.set_num_threads(1)
    records = []
    out = Path(args.out) if args.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        for n in args.tokens:
            for a in args.attention:
                rec = run(n, a, seed, args.steps, curriculum=args.curriculum)
                records.append(rec)
                print(json.dumps(rec) if args.json else
                      f"n={n} {a} seed {seed}: test {rec['test_accuracy']:.3f} "
                      f"({rec['cpu_s']:.0f} CPU s)", flush=True)
                if out:
                    with (out / "recall.jsonl").open("a") as f:
                        f.write(json.dumps(rec) + "\n")
                    (out / "recall.md").write_text(table(records))
    if not args.json:
        print(table(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
