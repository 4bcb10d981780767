"""Where users wait: CPU, wall and peak RSS of `accelsim` command lines (issue #17, CLI half).

Usage: python benchmarks/speed_cli.py [--repeats N]

Every row runs the venv's ``accelsim`` (or ``python``) in a child process, ``--repeats`` times,
and prints the median of the child's CPU seconds (user + system, from ``os.wait4``), its wall
time and its peak RSS. Each row has a reference command measured in the same run, and the ratio
of the row's CPU time to the reference's, so that load on a shared machine cancels out:

* ``--version``, the cached ``deit_base --json`` and ``gemm:197,192,64 --json`` against
  ``python -c "import numpy"``;
* the first run of a zoo model (``deit_tiny``, a fresh empty ``ACCELSIM_CACHE`` every time)
  against ``python -c "import torch"``;
* ``deit_base --out DIR`` and ``vit_large --out DIR`` against the same run with ``--json``.

Warm rows share one cache directory, filled once before measuring.
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


def median_of(repeats: int, cmd: list[str], env: dict[str, str], **kw) -> tuple[float, ...]:
    runs = [measure(cmd, env, **kw) for _ in range(repeats)]
    return tuple(statistics.median(r[i] for r in runs) for i in range(3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    n = args.repeats
    work = Path(tempfile.mkdtemp(prefix="accelsim-speed-"))
    env = dict(os.environ, ACCELSIM_CACHE=str(work / "cache"), OMP_NUM_THREADS="1")
    out = work / "out"
    try:
        for model in ("deit_base", "vit_large"):  # fill the warm cache once
            measure([*RUN, model, "--json"], env)
        numpy_ref = median_of(n, [PYTHON, "-c", "import numpy"], env)
        torch_ref = median_of(n, [PYTHON, "-c", "import torch"], env)
        base_json = median_of(n, [*RUN, "deit_base", "--json"], env)
        large_json = median_of(n, [*RUN, "vit_large", "--json"], env)
        rows = [
            ("`accelsim --version`", median_of(n, [ACCELSIM, "--version"], env),
             "`import numpy`", numpy_ref),
            ("`run ... deit_base --json`, trace cached", base_json, "`import numpy`",
             numpy_ref),
            ("`run ... gemm:197,192,64 --json`",
             median_of(n, [*RUN, "gemm:197,192,64", "--json"], env), "`import numpy`",
             numpy_ref),
            ("first run of `deit_tiny` (empty cache)",
             median_of(n, [*RUN, "deit_tiny", "--json"], env, fresh_cache=True),
             "`import torch`", torch_ref),
            ("`run ... deit_base --out DIR`",
             median_of(n, [*RUN, "deit_base", "--out", str(out)], env, out_dir=out),
             "same run, `--json`", base_json),
            ("`run ... vit_large --out DIR`",
             median_of(n, [*RUN, "vit_large", "--out", str(out)], env, out_dir=out),
             "same run, `--json`", large_json),
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, "
          f"median of {n} runs, child CPU = user + system\n")
    print("| what | CPU s | wall s | peak RSS MB | reference | ref CPU s | ref RSS MB | "
          "CPU ratio |")
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    for what, (cpu, wall, rss), ref, (rcpu, _, rrss) in rows:
        print(f"| {what} | {cpu:.2f} | {wall:.2f} | {rss:.0f} | {ref} | {rcpu:.2f} | "
              f"{rrss:.0f} | {cpu / rcpu:.1f}x |")


if __name__ == "__main__":
    main()
