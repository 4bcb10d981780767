"""``scalesim:PATH.cfg``: a SCALE-Sim (v2/v3) config file as an architecture.

SCALE-Sim describes one systolic array with three double-buffered SRAMs (ifmap, filter, ofmap),
each behind its own DRAM interface; it has no clock, no vector units and no energy. The mapping (see
docs/arch.md, "SCALE-Sim configs"):

=================================  ==========================================================
cfg field                          architecture field
=================================  ==========================================================
[general] run_name                 name
ArrayHeight, ArrayWidth            chunks.units.array.rows, .cols (one chunk)
Dataflow (os / ws / is)            chunks.units.array.dataflow
IfmapSramSzkB                      memories.sram_ifmap.capacity_kib (holds: [input])
FilterSramSzkB                     memories.sram_filter.capacity_kib (holds: [weight])
OfmapSramSzkB                      memories.sram_ofmap.capacity_kib (holds: [output])
MemoryBanks                        read but ignored (banks have no effect here)
Bandwidth (USER), words/cycle      memories.dram_ifmap / dram_filter / dram_ofmap (one DRAM per
                                   SRAM, as SCALE-Sim has one interface each).bandwidth_gbps
                                   = words x word bytes x clock
InterfaceBandwidth CALC            each interface's bandwidth = the array's peak demand,
                                   H + W + max(H, W) words/cycle, so DRAM never stalls it
offsets, request buffers,          ignored (addresses and DRAM-model details have no effect
[layout], [sparsity], Ramulator    here)
=================================  ==========================================================

A word is one byte (SCALE-Sim's default word size), so operands are 8 bits. Clock, DRAM
latency (0: SCALE-Sim's ideal interface), and every energy and leakage number come from the
``systolic`` preset: its SRAM energy per byte, MAC energy, DRAM energy per bit; leakage scaled
per PE and per KiB (the DRAM's split over the three interfaces). Change any of them with
``--set``.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import Any

from safeio import read_text

from .errors import ConfigError

DATAFLOWS = ("os", "ws", "is")
#: (our name, cfg keys accepted in [architecture_presets]; v1 used ...SramSz without kB).
SRAMS = (
    ("sram_ifmap", ("ifmapsramszkb", "ifmapsramsz"), "input"),
    ("sram_filter", ("filtersramszkb", "filtersramsz"), "weight"),
    ("sram_ofmap", ("ofmapsramszkb", "ofmapsramsz"), "output"),
)
WORD_BYTES = 1
ACCUMULATOR_BYTES = 4


class _Cfg:
    """A parsed cfg file with the line of every ``[section] key``."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        text = read_text(path, "SCALE-Sim cfg", ConfigError)
        self.parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=("#", ";"))
        try:
            self.parser.read_string(text, source=str(path))
        except configparser.Error as exc:
            line = getattr(exc, "lineno", None) or _error_line(exc)
            where = f"{path}:{line}" if line else str(path)
            raise ConfigError(f"{where}: not a SCALE-Sim cfg: {_first_line(exc)}") from None
        self.lines: dict[tuple[str, str], int] = {}
        section = ""
        for n, raw in enumerate(text.splitlines(), start=1):
            stripped = raw.strip()
            if stripped.startswith("["):
                section = stripped.strip("[]").strip()
                self.lines[(section, "")] = n
            elif m := re.match(r"^([^=:#;\s][^=:]*?)\s*[=:]", stripped):
                self.lines.setdefault((section, m.group(1).strip().lower()), n)

    def where(self, section: str, key: str) -> str:
        line = self.lines.get((section, key.lower())) or self.lines.get((section, ""))
        return f"{self.path}:{line}" if line else self.path

    def get(self, section: str, keys: tuple[str, ...] | str, label: str, default: Any = None) -> Any:
        keys = (keys,) if isinstance(keys, str) else keys
        if self.parser.has_section(section):
            for key in keys:
                if self.parser.has_option(section, key):
                    return self.parser.get(section, key).strip().strip('"').strip("'")
        if default is not None:
            return default
        raise ConfigError(f"{self.where(section, '')}: {section}.{label}: missing "
                          f"(a SCALE-Sim cfg needs [{section}] {label})")

    def positive(self, section: str, keys: tuple[str, ...] | str, label: str,
                 default: Any = None, number: type = int) -> Any:
        text = self.get(section, keys, label, default)
        key = keys if isinstance(keys, str) else next(
            (k for k in keys if self.parser.has_option(section, k)), keys[0])
        try:
            value = number(text)
        except (TypeError, ValueError):
            value = None
        if value is None or not value > 0 or value != value or value == float("inf"):
            what = "a positive integer" if number is int else "a positive number"
            raise ConfigError(f"{self.where(section, key)}: {section}.{label}: must be {what}, "
                              f"got {text!r}")
        return value


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split("\n")[0].split())


def _error_line(exc: Exception) -> int | None:
    m = re.search(r"line (\d+)", str(exc))
    return int(m.group(1)) if m else None


def cfg_to_dict(path: str | Path) -> dict:
    """The raw architecture data (validated later by the loader) of a SCALE-Sim cfg file."""
    cfg = _Cfg(Path(path))
    arch = "architecture_presets"
    rows = cfg.positive(arch, "arrayheight", "ArrayHeight")
    cols = cfg.positive(arch, "arraywidth", "ArrayWidth")
    dataflow = cfg.get(arch, "dataflow", "Dataflow").lower()
    if dataflow not in DATAFLOWS:
        raise ConfigError(f"{cfg.where(arch, 'dataflow')}: {arch}.Dataflow: must be one of "
                          f"{', '.join(DATAFLOWS)}, got {dataflow!r}")
    cfg.positive(arch, "memorybanks", "MemoryBanks", default="1")  # checked, no effect here
    mode = cfg.get("run_presets", "interfacebandwidth", "InterfaceBandwidth", default="").upper()
    has_bw = cfg.parser.has_option(arch, "bandwidth") if cfg.parser.has_section(arch) else False
    if not mode:
        mode = "USER" if has_bw else "CALC"
    if mode not in ("USER", "CALC"):
        raise ConfigError(f"{cfg.where('run_presets', 'interfacebandwidth')}: "
                          f"run_presets.InterfaceBandwidth: must be USER or CALC, got {mode!r}")
    if mode == "USER":
        text = cfg.get(arch, "bandwidth", "Bandwidth")
        try:
            values = [float(x) for x in text.split(",") if x.strip()]
        except ValueError:
            values = []
        if not values or min(values) <= 0 or any(v != v or v == float("inf") for v in values):
            raise ConfigError(f"{cfg.where(arch, 'bandwidth')}: {arch}.Bandwidth: must be "
                              f"positive words/cycle (comma-separated), got {text!r}")
        words = min(values)  # SCALE-Sim's minimum DRAM bandwidth of the list
    else:
        words = rows + cols + max(rows, cols)
    name = cfg.get("general", "run_name", "run_name", default=Path(path).stem) or Path(path).stem
    return _architecture(cfg, name, rows, cols, dataflow, words, mode)


def _dram_of(sram: str) -> str:
    """The DRAM interface of a SCALE-Sim SRAM: ``sram_ifmap`` -> ``dram_ifmap``."""
    return "dram_" + sram.removeprefix("sram_")


def _architecture(cfg: _Cfg, name: str, rows: int, cols: int, dataflow: str, words: float,
                  mode: str) -> dict:
    from .loader import load
    from .schema import Dram, Sram

    ref = load("systolic")
    ref_sram = ref.memories["sram_act"]
    ref_dram = ref.memories["dram"]
    assert isinstance(ref_sram, Sram) and isinstance(ref_dram, Dram)
    ref_sa = next(u for u in ref.chunks.units.values() if u.type == "systolic")
    clock = ref.clock_mhz
    word_bw = (rows + cols) * WORD_BYTES
    # SCALE-Sim never limits an SRAM's bandwidth: each gets the array's peak demand, and the
    # ofmap one also the 32-bit partial sums of a folded reduction, read and written back at
    # one per column (ws) or row (is) per cycle
    psum_bw = 2 * max(rows, cols) * ACCUMULATOR_BYTES
    # SCALE-Sim gives each SRAM its own DRAM interface of the set bandwidth
    memories: dict[str, Any] = {
        _dram_of(sname): {
            "type": "dram",
            "description": f"SCALE-Sim {sname.removeprefix('sram_')} interface: {words:g} "
                           f"words/cycle ({mode})",
            "bandwidth_gbps": round(words * WORD_BYTES * clock * 1e6 / 1e9, 6),
            "channels": 1,
            "latency_ns": 0.0,
            "read_energy_pj_per_bit": ref_dram.read_energy_pj_per_bit,
            "write_energy_pj_per_bit": ref_dram.write_energy_pj_per_bit,
            "leakage_mw": round(ref_dram.leakage_mw / len(SRAMS), 6),
        }
        for sname, _, _ in SRAMS
    }
    per_kib = ref_sram.leakage_mw / ref_sram.capacity_kib
    for sname, keys, role in SRAMS:
        label = {"input": "IfmapSramSzkB", "weight": "FilterSramSzkB", "output": "OfmapSramSzkB"}
        kib = cfg.positive("architecture_presets", keys, label[role], number=float)
        memories[sname] = {
            "type": "sram",
            "description": f"SCALE-Sim {sname.removeprefix('sram_')} SRAM",
            "capacity_kib": kib,
            "bandwidth_bytes_per_cycle": word_bw + (psum_bw if role == "output" else 0),
            "holds": [role],
            "read_energy_pj_per_byte": ref_sram.read_energy_pj_per_byte,
            "write_energy_pj_per_byte": ref_sram.write_energy_pj_per_byte,
            "leakage_mw": round(per_kib * kib, 6),
        }
    array = {
        "type": "systolic",
        "description": f"SCALE-Sim array {rows} x {cols}, {dataflow}",
        "rows": rows,
        "cols": cols,
        "dataflow": dataflow,
        "fns": ["matmul", "matvec"],
        "mac_energy_pj": ref_sa.mac_energy_pj,
        "leakage_mw": round(ref_sa.leakage_mw / ref_sa.pes * rows * cols, 6),
    }
    return {
        "name": name,
        "description": f"SCALE-Sim config {cfg.path} ({rows}x{cols} {dataflow}); energies "
                       "from the systolic preset (SCALE-Sim has none)",
        "clock_mhz": clock,
        "precision": {"operand_bits": 8 * WORD_BYTES, "accumulator_bits": 8 * ACCUMULATOR_BYTES},
        "memories": memories,
        "chunks": {"count": 1, "units": {"array": array}},
        "connections": [{"src": _dram_of(s), "dst": s} for s, _, _ in SRAMS]
        + [{"src": s, "dst": "chunk.array"} for s, _, _ in SRAMS],
        "sources": {
            "scalesim": f"converted from {cfg.path} (see docs/arch.md, SCALE-Sim configs)",
            "energy": "SCALE-Sim has no energy model: MAC, SRAM and DRAM energies and leakage "
                      "(scaled per PE and per KiB) are the systolic preset's",
            "clock_mhz": "SCALE-Sim has no clock: the systolic preset's 500 MHz",
        },
    }
