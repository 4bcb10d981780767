"""Where users wait: CPU, wall and peak RSS of `accelsim` command lines (issue #17, CLI half).

Usage: python benchmarks/speed_cli.py [--repeats N] [--before SRC]

Every row runs the venv's ``accelsim`` (or ``python``) in a child process, once per round for
``--repeats`` rounds (rows and references interleaved, so a burst of load on a shared machine
hits them alike), and prints the median of the child's CPU seconds (user + system, from
``os.wait4``), its wall time and its peak RSS. Each row has a reference command measured in the
same rounds, and the median over rounds of the ratio of the row's CPU time to the reference's:

* ``--version``, the cached ``deit_base --json`` and ``gemm:197,192,64 --json`` against
  ``python -c "import numpy"``;
* the first run of a zoo model (``deit_tiny``, a fresh empty ``ACCELSIM_CACHE`` every time)
  against ``python -c "import torch"``;
* ``deit_base --out DIR`` and ``vit_large --out DIR`` against the same run with ``--json``.

Warm rows share one cache directory (per source tree), filled once before measuring.
``--before SRC`` measures a second source tree (put first on ``PYTHONPATH``) in the same
rounds, command by command, and prints its table first. Children get
``OMP_NUM_THREADS=1`` (one torch thread, as ``torch.set_num_threads(1)``; this script itself
never imports torch).

Children compile each module once and reuse its bytecode (``__pycache__``), as a normal install
does: ``PYTHONDONTWRITEBYTECODE`` is removed from their environment, so the warm-up run writes
the cache. This machine sets that variable, and with it every process recompiles accelsim's ~55
modules from source (~0.05-0.06 s per command); ``--no-bytecode`` keeps it (and that cost).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
ACCELSIM = str(BIN / "accelsim")
PYTHON = sys.executable
RUN = [ACCELSIM, "run", "--arch", "vitality", "--workload"]


def measure(cmd: list[str], env: dict[str, str], fresh_cache: bool = False,
            out_dir: Path | None = None) -> tuple[float, float, float]:
    """(CPU s, wall s, peak RSS MB) of one run of ``cmd``; fails loudly on a non-zero exit."""
    env = dict(env)
    tmp = None
    if fresh_cache:
        tmp = tempfile.mkdtemp(prefix="accelsim-cold-")
        env["ACCELSIM_CACHE"] = tmp
    if out_dir is not None and out_dir.exists():
        shutil.rmtree(out_dir)
    try:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        assert proc.stderr is not None
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        err = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {err.strip()}")
        return usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


ROWS = [  # (what, command key, reference, reference key)
    ("`accelsim --version`", "version", "`import numpy`", "numpy"),
    ("`run ... deit_base --json`, trace cached", "base_json", "`import numpy`", "numpy"),
    ("`run ... gemm:197,192,64 --json`", "gemm", "`import numpy`", "numpy"),
    ("first run of `deit_tiny` (empty cache)", "cold", "`import torch`", "torch"),
    ("`run ... deit_base --out DIR`", "base_out", "same run, `--json`", "base_json"),
    ("`run ... vit_large --out DIR`", "large_out", "same run, `--json`", "large_json"),
]


def commands(out: Path) -> dict[str, tuple[list[str], dict]]:
    out_kw = {"out_dir": out}
    return {
        "numpy": ([PYTHON, "-c", "import numpy"], {}),
        "torch": ([PYTHON, "-c", "import torch"], {}),
        "version": ([ACCELSIM, "--version"], {}),
        "base_json": ([*RUN, "deit_base", "--json"], {}),
        "gemm": ([*RUN, "gemm:197,192,64", "--json"], {}),
        "cold": ([*RUN, "deit_tiny", "--json"], {"fresh_cache": True}),
        "base_out": ([*RUN, "deit_base", "--out", str(out)], out_kw),
        "large_json": ([*RUN, "vit_large", "--json"], {}),
        "large_out": ([*RUN, "vit_large", "--out", str(out)], out_kw),
    }


def table(runs: dict[str, list[tuple[float, float, float]]]) -> list[str]:
    med = {k: tuple(statistics.median(r[i] for r in v) for i in range(3))
           for k, v in runs.items()}
    lines = ["| what | CPU s | wall s | peak RSS MB | reference | ref CPU s | ref RSS MB | "
             "CPU ratio |", "|---|---:|---:|---:|---|---:|---:|---:|"]
    for what, key, ref, rkey in ROWS:
        cpu, wall, rss = med[key]
        ratio = statistics.median(a[0] / b[0] for a, b in zip(runs[key], runs[rkey],
                                                              strict=True))
        lines.append(f"| {what} | {cpu:.2f} | {wall:.2f} | {rss:.0f} | {ref} | "
                     f"{med[rkey][0]:.2f} | {med[rkey][2]:.0f} | {ratio:.1f}x |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--before", metavar="SRC",
                        help="also measure the source tree SRC (e.g. `git archive` of the "
                             "branch start), on PYTHONPATH, in the same rounds")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="keep PYTHONDONTWRITEBYTECODE from this environment: children "
                             "recompile every module from source on each run")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="accelsim-speed-"))
    base = dict(os.environ)
    if not args.no_bytecode:
        base.pop("PYTHONDONTWRITEBYTECODE", None)
    trees = {"after": base}
    if args.before:
        trees = {"before": dict(base, PYTHONPATH=str(Path(args.before).resolve())), **trees}
    envs = {name: dict(env, ACCELSIM_CACHE=str(work / f"cache-{name}"), OMP_NUM_THREADS="1")
            for name, env in trees.items()}
    cmds = commands(work / "out")
    runs: dict[str, dict[str, list[tuple[float, float, float]]]] = {
        name: {k: [] for k in cmds} for name in envs}
    try:
        for env in envs.values():  # fill each warm cache once
            for model in ("deit_base", "vit_large"):
                measure([*RUN, model, "--json"], env)
        for _ in range(args.repeats):  # round by round, so that load bursts hit every row
            for key, (cmd, kw) in cmds.items():
                for name, env in envs.items():
                    runs[name][key].append(measure(cmd, env, **kw))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, "
          f"median of {args.repeats} rounds (every command once per round), child CPU = user + "
          "system; ratio = median over rounds of row CPU / reference CPU in that round; "
          + ("modules recompiled every run (--no-bytecode)" if args.no_bytecode
             else "bytecode cached (__pycache__)"))
    for name in runs:
        print(f"\n{name}{' (' + args.before + ')' if name == 'before' else ''}:\n")
        print("\n".join(table(runs[name])))


if __name__ == "__main__":
    main()
