"""Section 7: accuracy (from docs/model.md) and the measured CPU latency of DeiT-Tiny, softmax vs
Taylor attention, beside the simulated accelerators.

Accuracy is not re-trained here: training all variants takes minutes; docs/model.md holds the
results and the commands. CPU latency is measured in this process: torch with one intra-op
thread, a random 1x3x224x224 image, the median of several forward passes after a warm-up, the two
models alternating so that load from other processes hits both alike.
"""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path
from typing import Any

from .tables import Section, command, ratio, table

REPO = Path(__file__).resolve().parent.parent
MODEL_DOC = REPO / "docs" / "model.md"
TRAIN_CMD = "python -m vitality_model.train --dataset DATASET --attention ATTENTION --json"
#: Forward passes per model and image size (the median is reported).
RUNS = 9


def accuracy_tables(path: Path = MODEL_DOC) -> list[str]:
    """The accuracy tables of ``path`` (verbatim), each under its ``##`` / ``###`` headings in
    bold: an "attention" (or quantised "checkpoint") column first, a "test acc" column later.
    The headings say which data set a table is on, which the table itself does not."""
    try:
        text = path.read_text()
    except OSError:
        return []
    out: list[str] = []
    block: list[str] = []
    heads: dict[int, str] = {}
    for line in [*text.splitlines(), ""]:
        if line.lstrip().startswith("|"):
            block.append(line)
            continue
        if len(block) >= 3 and re.match(r"\|\s*(attention|checkpoint)\b[^|]*\|.*test acc",
                                        block[0], re.I):
            heading = " — ".join(heads[k] for k in sorted(heads) if k > 1)
            out.append((f"**{heading}**\n\n" if heading else "") + "\n".join(block))
        block = []
        if m := re.match(r"(#+)\s+(.*)", line):
            level = len(m.group(1))
            heads = {k: v for k, v in heads.items() if k < level} | {level: m.group(2).strip()}
    return out


def cpu_latency(runs: int = 7, img_size: int = 224, model: str = "deit_tiny") -> dict[str, Any]:
    """Median forward latency (ms) of ``model`` with softmax and with taylor attention."""
    import torch

    import vitality_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x = torch.randn(1, 3, img_size, img_size, generator=torch.Generator().manual_seed(0))
        models = {a: vitality_model.build(model, a, img_size=img_size, seed=0).eval()
                  for a in ("softmax", "taylor")}
        times: dict[str, list[float]] = {a: [] for a in models}
        with torch.inference_mode():
            for m in models.values():
                m(x)  # warm-up
            for _ in range(runs):
                for a, m in models.items():
                    t0 = time.perf_counter()
                    m(x)
                    times[a].append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(threads)
    return {"runs": runs, "torch": torch.__version__,
            **{f"{a}_ms": statistics.median(t) * 1e3 for a, t in times.items()},
            **{f"{a}_all_ms": [round(v * 1e3, 2) for v in t] for a, t in times.items()}}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def section(sims: dict[int, dict[str, dict[str, Any]]], quick: bool = False) -> Section:
    """``sims``: image size -> DeiT-Tiny rows of ``accelsim compare`` by preset (sections 4-5)."""
    tables = accuracy_tables()
    if tables:
        acc = ("From `docs/model.md` (copied verbatim; see there for the setup, seeds and "
               "discussion):\n\n" + "\n\n".join(tables))
    else:
        acc = ("`docs/model.md` has no accuracy table yet. The accuracies come from training the "
               "small `vit_digits` ViT on scikit-learn's digits with each attention variant "
               f"(about a minute each on two cores): `{TRAIN_CMD}`.")
    data: dict[str, Any] = {"accuracy_tables": len(tables), "cpu": {}}
    if quick:
        lat = "CPU latency is not measured with `--quick`."
    else:
        rows = []
        for size in sorted(sims):
            c = data["cpu"][size] = cpu_latency(RUNS, img_size=size)
            sim = sims[size]
            tokens = (size // 16) ** 2 + 1
            rows += [
                [f"{size} px ({tokens} tokens)", "CPU, torch, 1 thread", "softmax",
                 f"{c['softmax_ms']:.2f}", "1.00x"],
                ["", "CPU, torch, 1 thread", "taylor", f"{c['taylor_ms']:.2f}",
                 ratio(c["softmax_ms"] / c["taylor_ms"])],
                *[["", f"simulated `{p}`", sim[p]["attention"], f"{sim[p]['latency_ms']:.3f}",
                   ratio(c["softmax_ms"] / sim[p]["latency_ms"], 0)]
                  for p in ("systolic", "sanger", "vitality")],
            ]
        runs = "; ".join(f"{size} px softmax {c['softmax_all_ms']}, taylor {c['taylor_all_ms']}"
                         for size, c in data["cpu"].items())
        c0 = next(iter(data["cpu"].values()))
        lat = f"""DeiT-Tiny, one image, end to end. CPU: {cpu_name()}, torch {c0['torch']}, one intra-op
thread, float32, median of {RUNS} forward passes after a warm-up, softmax and taylor alternating
(all runs, ms: {runs}). The machine is shared with other jobs, so expect noise. The accelerators
are the runs of sections 4 and 5 (500 MHz, 8-bit operands).

{table(["image", "platform", "attention", "latency (ms)", "speedup over CPU softmax"], rows,
       "lllrr")}

{command("accelsim validate", "section 7 (`validation.cpu.cpu_latency(img_size=N)`); "
         "kernel-only CPU timings across token counts: `python benchmarks/attention_cpu.py`")}

On the CPU, attention is a small part of DeiT-Tiny at 197 tokens, so replacing softmax by Taylor
attention changes the end-to-end latency little; it matters more as tokens grow. The paper's
Fig. 1 share of softmax (52-58%) is a share of the *attention* runtime, not of the whole model."""
    body = f"""
### Accuracy

{acc}

{command(TRAIN_CMD, "DATASET digits or mnist5k, one run per attention variant; the "
         "quantised rows by "
         "`python -m vitality_model.analyze`; docs/model.md gives each table's exact command; "
         "not re-run by `accelsim validate`")}

### CPU latency beside the simulated accelerators

{lat}
"""
    return Section("cpu", "7. Accuracy and CPU latency", body, data)
