"""Simulator speed: wall time, events and tiles per second for ViTs on the presets.

    python benchmarks/engine_speed.py [--repeat 3] [--json]

Graphs are traced once (not timed); each simulation runs ``--repeat`` times and the median is
reported, without interval recording (as `accelsim run` without --out and sweeps run) and with
it (what `--out` needs for the timeline and trace). Target: DeiT-Base on vitality <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from accelsim.api import simulate
from arch import load
from workloads import resolve

CASES = [
    ("deit_tiny", "taylor", 224, "vitality"),
    ("deit_tiny", "softmax", 224, "systolic"),
    ("deit_small", "taylor", 224, "vitality"),
    ("deit_small", "softmax", 224, "systolic"),
    ("deit_base", "taylor", 224, "vitality"),
    ("deit_base", "softmax", 224, "systolic"),
    ("deit_base", "taylor", 896, "vitality"),  # ViT-B at 3137 tokens
]


def measure(model: str, attention: str, img: int, preset: str, repeat: int) -> dict:
    graph = resolve(model, attention=attention, img_size=img)
    arch = load(preset)
    row = {"model": model, "attention": attention, "tokens": (img // 16) ** 2 + 1,
           "arch": preset}
    for keep in (False, True):
        walls = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            s = simulate(arch, graph, keep_intervals=keep).summary
            walls.append(time.perf_counter() - t0)
        wall = statistics.median(walls)
        key = "with_intervals" if keep else "plain"
        row[f"wall_s_{key}"] = round(wall, 3)
    row.update(events=s["sim"]["events"], tiles=s["sim"]["tiles"], ops=s["sim"]["ops"],
               cycles=s["cycles"])
    row["tiles_per_s"] = round(s["sim"]["tiles"] / row["wall_s_plain"])
    row["events_per_s"] = round(s["sim"]["events"] / row["wall_s_plain"])
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = [measure(*case, args.repeat) for case in CASES]
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print("| model | attention | tokens | arch | ops | tiles | events | wall s | wall s "
          "(intervals) | tiles/s | events/s |")
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['model']} | {r['attention']} | {r['tokens']} | {r['arch']} | {r['ops']} | "
              f"{r['tiles']:,} | {r['events']:,} | {r['wall_s_plain']:.3f} | "
              f"{r['wall_s_with_intervals']:.3f} | {r['tiles_per_s']:,} | {r['events_per_s']:,} |")


if __name__ == "__main__":
    main()
