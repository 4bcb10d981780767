"""Sensitivity of the presets' results to the memory-system modelling choices (docs/engine.md).

    python benchmarks/memory_sensitivity.py [--models deit_tiny,deit_base]

Each row: cycles and energy of a preset on a model, as shipped and with one choice flipped:
DRAM channels (8 interleaved vs 1 of the same total bandwidth), partial sums in the chunk's
accumulator registers vs the activation SRAM (over the NoC), the NoC as a link per chunk vs
one shared link of the same per-link width x chunks, fold overlap none vs double_buffered, and
streaming folds (shipped) vs tiles (``mapping.streaming``).
"""

from __future__ import annotations

import argparse

import torch

from accelsim import simulate
from arch import load
from arch.graph import native_attention
from workloads import resolve

VARIANTS = {
    "as shipped": [],
    "dram.channels=1": ["memories.dram.channels=1"],
    "psum in SRAM": ["chunks.units.rf.holds=[]"],
    "noc shared x4": ["memories.noc.links=shared", "memories.noc.bandwidth_bytes_per_cycle=1024"],
    "fold overlap": None,  # every array double_buffered
    "streaming tiles": ["mapping.streaming=tiles"],
}


def arrays(arch) -> list[str]:
    return [n for n, u in arch.chunks.units.items() if u.type == "systolic"]


def main() -> None:
    torch.set_num_threads(1)
    p = argparse.ArgumentParser()
    p.add_argument("--models", default="deit_tiny,deit_base")
    args = p.parse_args()
    print("| model | arch | variant | cycles | x shipped | energy uJ |")
    print("|---|---|---|---:|---:|---:|")
    for model in args.models.split(","):
        for name in ("vitality", "systolic", "sanger"):
            base = load(name)
            graph = resolve(model, attention=native_attention(base))
            ref = None
            for variant, sets in VARIANTS.items():
                if sets is None:
                    sets = [f"chunks.units.{a}.fold_overlap=double_buffered" for a in arrays(base)]
                s = simulate(load(name, sets), graph, keep_intervals=False).summary
                ref = ref or s["cycles"]
                print(f"| {model} | {name} | {variant} | {s['cycles']:,} | "
                      f"{s['cycles'] / ref:.3f} | {s['energy_pj'] / 1e6:,.1f} |", flush=True)


if __name__ == "__main__":
    main()
