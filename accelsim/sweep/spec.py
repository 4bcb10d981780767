"""Sweep specs: a YAML file -> a validated ``SweepSpec`` -> design points with stable IDs.

    base: vitality                  # preset name, .yaml/.json path or scalesim:PATH.cfg
    set: {clock_mhz: 500}           # fixed overrides of every point (optional)
    axes:                           # a grid: every combination of these values
      chunks.count: [1, 2, 4]
    zip:                            # groups of paths that move together, crossed with the grid
      - {chunks.units.sa.rows: [33, 66, 130], chunks.units.sa.cols: [130, 65, 33]}
    random:                         # random samples, crossed with the grid (optional)
      samples: 20
      seed: 0
      axes:
        clock_mhz: {min: 200, max: 1000}
        memories.sram_act.capacity_kib: {min: 128, max: 2048, log: true, int: true}
        mapping.prefetch_depth: [1, 2, 3]                # choices
    workloads: [deit_tiny, {spec: deit_small, attention: softmax, img_size: 224}]
    metrics: [cycles, latency_ms, energy_pj, utilization, area_mm2_proxy]

Axis keys are ``--set`` paths (``arch.load`` overrides). Relative paths in ``base`` and in
workload specs are relative to the spec file. Every problem is one line,
``FILE:LINE: field: problem`` (a ``SpecError``, exit code 2 on the command line); lines come from
the arch package's YAML reader (``arch.loader.parse``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import random as random_mod
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import pydantic
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from accelsim.errors import InputError
from arch.errors import ConfigError
from arch.loader import parse
from safeio import check_limit, read_text
from workloads.resolver import ATTENTIONS

#: Metrics a row can keep (``accelsim.sweep.runner.point_metrics`` computes them all).
METRICS = ("cycles", "latency_ms", "energy_pj", "utilization", "attention_cycles",
           "attention_exposed_cycles", "attention_energy_pj", "dram_bytes", "macs", "pes",
           "area_mm2_proxy")
DEFAULT_METRICS = ("cycles", "latency_ms", "energy_pj", "utilization", "attention_cycles",
                   "dram_bytes", "pes", "area_mm2_proxy")
#: Always kept (DESIGN section 6: results.csv has at least these).
REQUIRED_METRICS = ("cycles", "energy_pj")


class SpecError(InputError):
    """A bad sweep spec; the message is one line naming the file, the line and the field."""


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class RandomAxis(Model):
    """A uniform (or log-uniform) range ``min``..``max``, or a list of ``choices``."""

    min: float | None = Field(None, description="lower bound (inclusive)")
    max: float | None = Field(None, description="upper bound (inclusive)")
    log: bool = Field(False, description="sample log-uniformly (needs min > 0)")
    int_: bool = Field(False, alias="int", description="round the sample to an integer")
    choices: list[Any] | None = Field(None, min_length=1, description="pick one of these")

    @model_validator(mode="after")
    def _check(self) -> RandomAxis:
        if self.choices is not None:
            if self.min is not None or self.max is not None or self.log or self.int_:
                raise ValueError("give either choices or min/max (with log/int), not both")
            return self
        if self.min is None or self.max is None:
            raise ValueError("a random axis needs min and max, or a list of choices")
        if self.min > self.max:
            raise ValueError(f"min {self.min:g} is greater than max {self.max:g}")
        if self.log and self.min <= 0:
            raise ValueError(f"log sampling needs min > 0, got {self.min:g}")
        return self

    def draw(self, rng: random_mod.Random) -> Any:
        if self.choices is not None:
            return self.choices[rng.randrange(len(self.choices))]
        lo, hi = float(self.min), float(self.max)  # type: ignore[arg-type]
        x = math.exp(rng.uniform(math.log(lo), math.log(hi))) if self.log else rng.uniform(lo, hi)
        if self.int_:
            return min(max(round(x), math.ceil(lo)), math.floor(hi))
        return float(f"{x:.6g}")  # short, round-trips through the CSV and --set unchanged


class RandomSpec(Model):
    samples: int = Field(gt=0, description="number of random samples")
    seed: int = Field(0, description="seed of the sampler (same seed, same samples)")
    axes: dict[str, RandomAxis] = Field(min_length=1, description="--set path -> range/choices")

    @field_validator("axes", mode="before")
    @classmethod
    def _choices(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"choices": v} if isinstance(v, list) else v for k, v in value.items()}
        return value


class Workload(Model):
    spec: str = Field(min_length=1, description="zoo name, graph .json, gemm:M,N,K, ...")
    attention: str | None = Field(None, description="attention variant (default: base's native)")
    img_size: int | None = Field(None, gt=0, description="image size of zoo models, unit: px")

    @field_validator("attention")
    @classmethod
    def _attention(cls, value: str | None) -> str | None:
        if value is not None and value not in ATTENTIONS:
            raise ValueError(f"unknown attention {value!r}; one of: {', '.join(ATTENTIONS)}")
        return value


def _same_lengths(group: dict[str, list[Any]]) -> dict[str, list[Any]]:
    if len({len(v) for v in group.values()}) > 1:
        sizes = ", ".join(f"{p} {len(v)}" for p, v in group.items())
        raise ValueError(f"the lists of a zip group must have the same length ({sizes})")
    return group


#: Paths whose values move together: step i takes the i-th value of every path.
ZipGroup = Annotated[dict[str, Annotated[list[Any], Field(min_length=1)]], Field(min_length=1),
                     AfterValidator(_same_lengths)]


class SweepSpec(Model):
    """A design-space sweep (see the module docstring)."""

    base: str = Field(min_length=1, description="base architecture: preset, file, scalesim:")
    fixed: dict[str, Any] = Field(default_factory=dict, alias="set",
                                  description="--set path -> value applied to every point")
    axes: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(
        default_factory=dict, description="grid: path -> values")
    zipped: list[ZipGroup] = Field(
        default_factory=list, alias="zip",
        description="groups of paths whose values move together (step i takes the i-th value "
        "of every path of the group), crossed with the grid")
    random: RandomSpec | None = Field(None, description="random samples crossed with the grid")
    workloads: list[Workload] = Field(min_length=1, description="workloads of every point")
    metrics: list[str] = Field(default_factory=lambda: list(DEFAULT_METRICS), min_length=1,
                               description="metrics kept as columns of results.csv")

    @field_validator("workloads", mode="before")
    @classmethod
    def _workload_strings(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"spec": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, value: list[str]) -> list[str]:
        for m in value:
            if m not in METRICS:
                raise ValueError(f"unknown metric {m!r}; known: {', '.join(METRICS)}")
        if len(set(value)) != len(value):
            raise ValueError("a metric is listed twice")
        return value

    # -- filled in by load_spec -------------------------------------------------------------
    _source: str = PrivateAttr("<spec>")
    _root: Path = PrivateAttr(default_factory=lambda: Path("."))
    _lines: dict = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> str:
        return self._source

    @property
    def axis_paths(self) -> list[str]:
        """Grid axes, zipped paths, then random axes, in file order: the parameter columns of
        results.csv."""
        return [*self.axes, *(p for g in self.zipped for p in g),
                *(self.random.axes if self.random else ())]

    @property
    def columns_metrics(self) -> list[str]:
        return [*self.metrics, *(m for m in REQUIRED_METRICS if m not in self.metrics)]

    def where(self, *path: Any) -> str:
        """``FILE:LINE: field: `` for a spec path (the nearest line the YAML reader saw)."""
        line = next((self._lines[path[:i]] for i in range(len(path), -1, -1)
                     if path[:i] in self._lines), None)
        head = f"{self._source}:{line}" if line else self._source
        return f"{head}: {show_path(path)}: " if path else f"{head}: "

    def resolve_path(self, text: str) -> str:
        """A relative file path in the spec, made relative to the spec file's directory."""
        prefix = "scalesim:" if text.startswith("scalesim:") else ""
        raw = text.removeprefix(prefix)
        if not prefix and not (Path(raw).suffix.lower() in (".yaml", ".yml", ".json", ".csv")
                               or "/" in raw):
            return text  # a preset, zoo, gemm: or package.module:factory name
        p = Path(raw)
        return prefix + str(p if p.is_absolute() else self._root / p)

    def grid(self) -> list[dict[str, Any]]:
        """Every combination of the grid axes and the steps of each zip group (one empty point
        if there are none)."""
        dims = [[{p: v} for v in values] for p, values in self.axes.items()]
        dims += [[dict(zip(g, step, strict=True)) for step in zip(*g.values(), strict=True)]
                 for g in self.zipped]
        return [{k: v for d in combo for k, v in d.items()} for combo in itertools.product(*dims)]

    def axis_locations(self) -> list[tuple[tuple[Any, ...], str]]:
        """``(spec location, path)`` of every axis path (grid, zip groups, random)."""
        return [*((("axes", p), p) for p in self.axes),
                *((("zip", i, p), p) for i, g in enumerate(self.zipped) for p in g),
                *((("random", "axes", p), p) for p in (self.random.axes if self.random else ()))]

    def samples(self) -> list[dict[str, Any]]:
        """``random.samples`` draws of the random axes from ``random.seed`` (axes in file order)."""
        if self.random is None:
            return [{}]
        rng = random_mod.Random(self.random.seed)
        return [{p: ax.draw(rng) for p, ax in self.random.axes.items()}
                for _ in range(self.random.samples)]

    def params(self) -> list[dict[str, Any]]:
        """The design points: the grid crossed with the random samples (each sample once per
        grid point), without duplicates, in a stable order."""
        seen, out, samples = set(), [], self.samples()
        for g in self.grid():
            for s in samples:
                p = {**g, **s}
                key = canonical(p)
                if key not in seen:
                    seen.add(key)
                    out.append(p)
        return out


def show_path(path: tuple[Any, ...]) -> str:
    """``axes[chunks.count]``, ``workloads[0].img_size``: dotted keys in brackets."""
    out = ""
    for seg in path:
        if isinstance(seg, int) or "." in str(seg):
            out += f"[{seg}]"
        else:
            out += f".{seg}" if out else str(seg)
    return out


def canonical(value: Any) -> str:
    """Canonical JSON (sorted keys, no spaces): the input of point IDs."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      default=str)


def point_id(arch_digest: str, fixed: dict[str, Any], params: dict[str, Any],
             workload_digest: str) -> str:
    """12 hex digits of the SHA-256 of the point's canonical description: the base
    architecture's content, the fixed overrides, the axis values and the workload graph's
    content. The same point always gets the same ID, whatever the order of the spec's keys."""
    text = canonical({"arch": arch_digest, "set": fixed, "params": params,
                      "workload": workload_digest})
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def override(path: str, value: Any) -> str:
    """``PATH=VALUE`` for ``arch.load``; the value as JSON, which its YAML parser reads back."""
    return f"{path}={json.dumps(value, default=str)}"


# -- loading -----------------------------------------------------------------------------------
def load_spec(path: str | os.PathLike[str]) -> SweepSpec:
    """Read and validate a sweep spec; raises a one-line ``SpecError``."""
    p = Path(path)
    return loads_spec(read_text(p, "sweep spec", SpecError), str(path), root=p.parent)


def loads_spec(text: str, source: str = "<spec>", root: str | Path = ".") -> SweepSpec:
    try:
        data, lines = parse(text, source)
    except ConfigError as exc:
        raise SpecError(str(exc)) from None
    if not isinstance(data, dict):
        raise SpecError(f"{source}:1: a sweep spec is a mapping (base, axes, workloads, ...)")
    try:
        spec = SweepSpec.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _one_error(exc, source, lines) from None
    spec._source, spec._root, spec._lines = source, Path(root), lines
    _check_paths(spec)
    _check_size(spec)
    return spec


def _check_size(spec: SweepSpec) -> None:
    """The number of points is bounded before any is drawn (``random.samples`` of 1e9 is an
    error even with ``--limit 1``)."""
    grid = (math.prod(len(v) for v in spec.axes.values())
            * math.prod(len(next(iter(g.values()))) for g in spec.zipped))
    samples = spec.random.samples if spec.random else 1
    where = spec.where("random", "samples") if spec.random else spec.where("axes")
    check_limit("points", grid * samples * len(spec.workloads),
                f"{where.rstrip(': ')}: design points (grid x samples x workloads)", SpecError)


def code_workloads(spec: SweepSpec) -> list[tuple[int, str]]:
    """``(index, spec)`` of the workloads that name a ``package.module:factory``: running them
    imports and calls Python code (``--allow-code``)."""
    return [(i, w.spec) for i, w in enumerate(spec.workloads)
            if ":" in w.spec and not w.spec.startswith(("gemm:", "scalesim:"))
            and not w.spec.endswith(".json")]


def _check_paths(spec: SweepSpec) -> None:
    """Paths are dotted names, each in one place (set, axes, a zip group or random.axes)."""
    locations = [*((("set", p), p) for p in spec.fixed), *spec.axis_locations()]
    found = [(spec._lines.get(loc, 0), ".".join(str(s) for s in loc[:-1]), p, spec.where(*loc))
             for loc, p in locations]
    seen: dict[str, str] = {}
    for _, section, p, where in sorted(found, key=lambda f: f[0]):
        if not p or any(not seg.strip() for seg in p.split(".")):
            raise SpecError(f"{where}bad path {p!r}: want dotted field names, e.g. chunks.count")
        if p in seen:
            raise SpecError(f"{where}already given in {seen[p]}; a path may appear once")
        seen[p] = section


def _one_error(exc: pydantic.ValidationError, source: str, lines: dict) -> SpecError:
    found = []
    for err in exc.errors():
        path = tuple(seg for seg in err["loc"] if seg != "[key]")
        line = next((lines[path[:i]] for i in range(len(path), -1, -1) if path[:i] in lines), 0)
        head = f"{source}:{line}" if line else source
        where = f"{head}: {show_path(path)}: " if path else f"{head}: "
        found.append((line, where + _problem(err, path)))
    line, message = min(found, key=lambda f: f[0])
    more = len(found) - 1
    return SpecError(" ".join(message.split())
                     + (f" (and {more} more error{'s' * (more > 1)})" if more else ""))


def _model_at(path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The spec model class a value at ``path`` is validated as (None if not a model)."""
    tp: Any = SweepSpec
    for seg in path:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = next((f for n, f in tp.model_fields.items() if (f.alias or n) == seg), None)
            tp = field.annotation if field else None
        elif typing.get_origin(tp) in (list, dict):
            tp = typing.get_args(tp)[-1]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    """``X | None`` -> ``X``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp


def _problem(err: Mapping[str, Any], path: tuple[Any, ...]) -> str:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    if kind == "missing":
        return "missing required field"
    if kind == "extra_forbidden":
        parent = _model_at(path[:-1])
        allowed = [f.alias or n for n, f in parent.model_fields.items()] if parent else []
        return f"unknown key; allowed: {', '.join(allowed)}" if allowed else "unknown key"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<",
              "less_than_equal": "<="}[kind]
        return f"must be {op} {next(iter(ctx.values()), '?')}, got {shown}"
    if kind == "too_short":
        return "must not be empty"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a mapping, got {type(value).__name__}"
    if kind == "list_type":
        return f"must be a list, got {type(value).__name__}"
    msg = err["msg"].removeprefix("Value error, ")
    msg = msg[:1].lower() + msg[1:]
    return msg if kind == "value_error" else f"{msg}, got {shown}"
