"""Golden summaries: the cases whose summaries must stay byte-identical across engine changes.

Each case is (name, arch spec, overrides, workload spec, attention). ``python tests/golden/update.py``
rewrites ``tests/golden/*.json.gz`` from the current code (run it only when a change is meant to
move simulated numbers, and say so in the commit); ``tests/test_golden.py`` compares against
them. The summary is compared whole, key order included, except ``sim.wall_s`` and
``sim.events`` (how long the host took and how many SimPy events it used: engine statistics,
not simulated results).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent.parent

CASES: list[tuple[str, str, tuple[str, ...], str, str | None]] = [
    ("vitality_deit_tiny", "vitality", (), "deit_tiny", "taylor"),
    ("vitality_deit_tiny_softmax", "vitality", (), "deit_tiny", "softmax"),
    ("systolic_deit_tiny", "systolic", (), "deit_tiny", "softmax"),
    ("sanger_deit_tiny", "sanger", (), "deit_tiny", "sanger"),
    ("systolic_iso_deit_tiny", "systolic_iso", (), "deit_tiny", "softmax"),
    ("sanger_iso_deit_tiny", "sanger_iso", (), "deit_tiny", "sanger"),
    ("vitality_overlap_deit_tiny", "vitality",
     ("chunks.units.sa_general.fold_overlap=double_buffered",), "deit_tiny", "taylor"),
    ("vitality_small_sram_deit_tiny", "vitality",
     ("memories.sram_weight.capacity_kib=24", "memories.sram_act.capacity_kib=48"),
     "deit_tiny", "taylor"),
    ("vitality_one_channel_deit_tiny", "vitality", ("memories.dram.channels=1",),
     "deit_tiny", "taylor"),
    ("vitality_tiles_deit_tiny", "vitality", ("mapping.streaming=tiles",), "deit_tiny", "taylor"),
    ("scalesim_os_tiles_small_bw", "scalesim:examples/scalesim/array_32x32_ws.cfg",
     ("chunks.units.array.dataflow=os", "mapping.streaming=tiles",
      "memories.dram_ifmap.bandwidth_gbps=0.5"), "gemm:197,768,192", None),
    ("big_os_deit_tiny", "examples/arch/big_os.yaml", (), "deit_tiny", "softmax"),
    ("eight_chunks_deit_tiny", "examples/arch/eight_chunks.yaml", (), "deit_tiny", "taylor"),
    ("hetero_deit_tiny", "examples/arch/hetero.yaml", (), "deit_tiny", "taylor"),
    ("two_arrays_deit_tiny", "examples/arch/two_arrays.yaml", (), "deit_tiny", "taylor"),
    ("two_level_deit_tiny", "examples/arch/two_level.yaml", (), "deit_tiny", "softmax"),
    ("local_l1_deit_tiny", "examples/arch/local_l1.yaml", (), "deit_tiny", "softmax"),
    ("scalesim_ws_block", "scalesim:examples/scalesim/array_32x32_ws.cfg", (),
     "scalesim:examples/scalesim/deit_tiny_block_gemm.csv", None),
    ("scalesim_ws_small_bw", "scalesim:examples/scalesim/array_32x32_ws.cfg",
     ("memories.dram_ifmap.bandwidth_gbps=0.5",), "gemm:197,768,192", None),
    ("systolic_gemm", "systolic", (), "gemm:197,192,64", None),
]


def path(name: str) -> Path:
    return HERE / f"{name}.json.gz"


def summary_text(arch_spec: str, overrides: tuple[str, ...], workload: str,
                 attention: str | None) -> str:
    """The case's summary as the CLI's --json text, with host statistics removed."""
    from accelsim.api import simulate
    from accelsim.report import summary_json
    from arch import load
    from workloads import resolve

    spec = arch_spec
    if spec.startswith("examples/"):
        spec = str(ROOT / spec)
    elif spec.startswith("scalesim:examples/"):
        spec = "scalesim:" + str(ROOT / spec.removeprefix("scalesim:"))
    if workload.startswith("scalesim:examples/"):
        workload = "scalesim:" + str(ROOT / workload.removeprefix("scalesim:"))
    arch = load(spec, overrides)
    graph = resolve(workload, attention=attention) if attention else resolve(workload)
    result = simulate(arch, graph, keep_intervals=False)
    result.summary["sim"].pop("wall_s")
    result.summary["sim"].pop("events")
    text = summary_json(result)
    # Paths differ between checkouts: store them relative to the repository.
    return text.replace(str(ROOT) + "/", "")


def read(name: str) -> str:
    return gzip.decompress(path(name).read_bytes()).decode()


def write(name: str, text: str) -> None:
    path(name).write_bytes(gzip.compress(text.encode(), mtime=0))


def headline(text: str) -> dict:
    s = json.loads(text)
    return {k: s[k] for k in ("cycles", "dram_bytes", "energy_pj")}


#: ``accelsim run --out`` files whose bytes must not move either (the PNG and report.html may:
#: how the Gantt is drawn is presentation, not a result), for one case.
OUT_CASE = ("vitality", "deit_tiny", "taylor")
OUT_FILES = ("trace.json", "ops.csv", "layers.csv", "memory.csv")
OUT_DIGESTS = HERE / "out_sha256.json"


def out_digests(out_dir: Path) -> dict[str, str]:
    """sha256 of each of OUT_FILES written by ``accelsim run`` of OUT_CASE into ``out_dir``."""
    import hashlib

    from accelsim.cli import main

    arch, workload, attention = OUT_CASE
    code = main(["run", "--arch", arch, "--workload", workload, "--attention", attention,
                 "--out", str(out_dir), "--json"])
    assert code in (0, None)
    return {f: hashlib.sha256((out_dir / f).read_bytes()).hexdigest() for f in OUT_FILES}
