"""The 197-token accuracy benchmark: every attention variant on mnist5k over several seeds.

    python benchmarks/accuracy_mnist5k.py [--out out/mnist5k] [--seeds 0 1 2] [--phases 1 2 3]
        [--dry-run]

Runs ``python -m vitality_model.train --dataset mnist5k --json ...`` one at a time (niced, one
thread), appending each run's JSON to ``OUT/runs.jsonl``; a run already there is not repeated, so
an interrupted benchmark resumes where it stopped. After every run it rewrites ``OUT/table.md``
(mean and spread over the seeds done so far). Phases, in priority order:

1. softmax, taylor and vitality from scratch (checkpoints saved in OUT for phase 2 and for
   ``python -m vitality_model.analyze``);
2. the paper's flow from the softmax checkpoint: switched to taylor without training; vitality
   fine-tuned (then evaluated low-rank only, as inference runs it);
3. sanger and linear_elu from scratch;
4. vitality from scratch with the sparse term unscaled (``--sparse-scale 1``);
5. taylor fine-tuned from the softmax checkpoint like phase 2's vitality.

Each run takes a few CPU minutes on one thread (``cpu_s`` in its JSON).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

FINETUNE = ["--epochs", "5", "--lr", "5e-4"]


def runs(phase: int, seed: int, ckpt_dir: Path) -> list[tuple[str, str, list[str]]]:
    """(attention, start label, extra CLI args) of ``phase`` for ``seed``."""
    ckpt = str(ckpt_dir / f"softmax_s{seed}.pt")
    if phase == 1:
        return [("softmax", "scratch", ["--save", ckpt]),
                ("taylor", "scratch", ["--save", str(ckpt_dir / f"taylor_s{seed}.pt")]),
                ("vitality", "scratch", ["--save", str(ckpt_dir / f"vitality_s{seed}.pt")])]
    if phase == 2:
        return [("taylor", "softmax ckpt, no training", ["--init", ckpt, "--epochs", "0"]),
                ("vitality", "softmax ckpt (paper's flow)",
                 ["--init", ckpt, *FINETUNE, "--save", str(ckpt_dir / f"vitality_ft_s{seed}.pt")])]
    if phase == 3:
        return [("sanger", "scratch", []), ("linear_elu", "scratch", [])]
    if phase == 4:
        return [("vitality", "scratch, sparse term unscaled", ["--sparse-scale", "1"])]
    if phase == 5:
        return [("taylor", "softmax ckpt", ["--init", ckpt, *FINETUNE])]
    raise ValueError(f"unknown phase {phase}")


def key(attention: str, start: str, seed: int) -> str:
    return f"{attention}|{start}|{seed}"


def load(path: Path) -> dict[str, dict]:
    done: dict[str, dict] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                done[rec["key"]] = rec
    return done


def fmt_pct(values: list[float]) -> str:
    return " / ".join(f"{100 * v:.1f}" for v in values)


def mean_spread(values: list[float]) -> str:
    if not values:
        return "–"
    mean = 100 * statistics.fmean(values)
    sd = 100 * statistics.stdev(values) if len(values) > 1 else 0.0
    return f"**{mean:.1f}** ± {sd:.1f}"


def table(done: dict[str, dict], seeds: list[int], phases: list[int]) -> str:
    """The markdown accuracy table (an "attention" column first, "test acc" later)."""
    lines = ["| attention | start | epochs | lr | test acc. per seed (%) | mean ± sd (%) | "
             "train acc. mean (%) | with sparse branch at inference (%) | CPU s per run |",
             "|---|---|---:|---:|---|---|---:|---|---:|"]
    for phase in phases:
        for attention, start, _ in runs(phase, 0, Path(".")):
            recs = [done[k] for s in seeds if (k := key(attention, start, s)) in done]
            if not recs:
                continue
            test = [r["test_accuracy"] for r in recs]
            sparse = [r["test_accuracy_with_sparse"] for r in recs
                      if "test_accuracy_with_sparse" in r]
            seeds_done = ",".join(str(r["seed"]) for r in recs)
            lines.append(
                f"| {attention} | {start} | {recs[0]['epochs']} | "
                f"{recs[0]['lr'] if recs[0]['epochs'] else '–'} | "
                f"{fmt_pct(test)} (seeds {seeds_done}) | {mean_spread(test)} | "
                f"{100 * statistics.fmean(r['train_accuracy'] for r in recs):.1f} | "
                f"{fmt_pct(sparse) if sparse else '–'} | "
                f"{statistics.fmean(r['cpu_s'] for r in recs):.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="out/mnist5k", help="directory for runs.jsonl, table.md")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--phases", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "runs.jsonl"
    done = load(log)
    for phase in args.phases:
        for seed in args.seeds:
            for attention, start, extra in runs(phase, seed, out):
                k = key(attention, start, seed)
                cmd = [sys.executable, "-m", "vitality_model.train", "--dataset", "mnist5k",
                       "--attention", attention, "--seed", str(seed), "--json", *extra]
                if args.dry_run:
                    print(" ".join(["nice", "-n", "10", "python", *cmd[1:]]))
                    continue
                if k in done:
                    continue
                proc = subprocess.run(["nice", "-n", "10", *cmd], capture_output=True, text=True,
                                      check=False)
                if proc.returncode:
                    print(f"FAILED {k}: {proc.stderr.strip()[-500:]}", file=sys.stderr)
                    return 1
                rec = {"key": k, "start": start, "phase": phase,
                       **json.loads(proc.stdout.strip().splitlines()[-1])}
                with log.open("a") as f:
                    f.write(json.dumps(rec) + "\n")
                done[k] = rec
                (out / "table.md").write_text(table(done, args.seeds, args.phases))
                print(f"{k}: test {rec['test_accuracy']:.4f} in {rec['cpu_s']:.0f} CPU s",
                      flush=True)
    if not args.dry_run:
        (out / "table.md").write_text(table(done, args.seeds, args.phases))
        print(table(done, args.seeds, args.phases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
