"""The JSON Schema (``arch.schema()``, generated from the same pydantic models) and ``arch
validate`` agree on a corpus of good and bad files: every preset and example design is good for
both, and each mutation below is bad for both.

JSON Schema's data model (draft 6 on) counts ``128.0`` as an integer, so a JSON-Schema
validator run on parsed data cannot tell ``rows: 128.0`` from ``rows: 128``; the validator
(strict pydantic) refuses the float. The corpus is checked by the draft 2020-12 validator with
Python's types (an integer is an ``int``, a bool is neither integer nor number), which is what
``arch validate`` applies, and by the plain draft 2020-12 validator on every mutation but the
integer-valued floats."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from jsonschema import Draft202012Validator, validators

import arch
from arch.loader import preset_path

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = arch.schema()
_TYPES = Draft202012Validator.TYPE_CHECKER.redefine_many({
    "integer": lambda _, x: isinstance(x, int) and not isinstance(x, bool),
    "number": lambda _, x: isinstance(x, int | float) and not isinstance(x, bool)})
STRICT = validators.extend(Draft202012Validator, type_checker=_TYPES)(SCHEMA)
PLAIN = Draft202012Validator(SCHEMA)

GOOD = [*(preset_path(p) for p in arch.presets()),
        *sorted((ROOT / "examples" / "arch").glob("*.yaml"))]

_DROP = object()
#: (field path, bad value or _DROP to delete the field); an integer-valued float last in a row
BAD = [
    ("chunks.units.sa.rows", ["128", True, 0, -3, _DROP, 128.0]),
    ("chunks.units.sa.dataflow", ["xs", _DROP]),
    ("chunks.units.sa.type", [_DROP, "tpu"]),
    ("chunks.units.sa.fns", [["warp_drive"], []]),
    ("chunks.units.sa.mac_energy_pj", [_DROP, -1, "1"]),
    ("chunks.units.sa.colour", ["red"]),
    ("chunks.units.post.fns", [{"warp_drive": {"energy_pj": 1}}, {"gelu": {}},
                               {"gelu": {"energy_pj": 1, "speed": 2}}]),
    ("chunks.units.post.classes", [{"magic": {"energy_pj": 1}}]),
    ("chunks.units.post.lanes", [1.5, 0, 65.0]),
    ("chunks.count", [0, "4", 2.0]),
    ("memories.sram_act.holds", [[], ["scratch"]]),
    ("memories.sram_act.type", [_DROP, "flash"]),
    ("memories.sram_act.capacity_kib", [0, "512"]),
    ("memories.sram_act.local", ["yes", 1, True]),  # True: it holds outputs
    ("memories.dram.bandwidth_gbps", [0, _DROP]),
    ("mapping.weight_buffer_fraction", [1.0, 0]),
    ("mapping.bindings", [[{"unit": "sa", "group": "nope"}], [{"kind": "matmul"}],
                          [{"unit": "sa", "kind": "matmull"}], [{"unit": "sa", "fn": "softmx"}],
                          [{"unit": "sa", "kind": "exp", "fn": "matmul"}],
                          [{"unit": "sa", "kind": "matmul", "fn": "add"}]]),
    ("chunks.units.sa.chunks", [[-1], [], [0, 0]]),
    ("mapping.prefetch_depth", [0, 2.0]),
    ("clock_mhz", [_DROP, "fast", -500]),
    ("name", [_DROP, 3]),
    ("precision.operand_bits", [0, 8.0]),
]
CASES = [(p, v) for p, vs in BAD for v in vs]


def _data(path: Path):
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_good_files_are_good_for_both(path):
    arch.load(str(path))
    STRICT.validate(_data(path))
    PLAIN.validate(_data(path))


def _mutated(path: str, value):
    raw = copy.deepcopy(arch.load("systolic").model_dump(mode="json"))
    *head, last = path.split(".")
    cur = raw
    for seg in head:
        cur = cur[seg]
    if value is _DROP:
        del cur[last]
    else:
        cur[last] = value
    return raw


@pytest.mark.parametrize(("path", "value"), CASES, ids=[f"{p}={v!r}" for p, v in CASES])
def test_bad_files_are_bad_for_both(path, value):
    raw = _mutated(path, value)
    with pytest.raises(arch.ConfigError):
        arch.loads(json.dumps(raw), "bad.json", json_=True)
    with pytest.raises(jsonschema.ValidationError):
        STRICT.validate(raw)
    if not (isinstance(value, float) and value.is_integer()):
        with pytest.raises(jsonschema.ValidationError):
            PLAIN.validate(raw)


@pytest.mark.parametrize(("where", "old", "new"), [
    ("memories", "sram_act", "bad name!"), ("memories", "sram_act", "chunk"),
    ("units", "sa", "s a"), ("units", "sa", "9sa")])
def test_bad_names_are_bad_for_both(where, old, new):
    """A memory or unit name the validator refuses (``arch.graph``) is refused by the schema's
    ``propertyNames`` too (connections renamed with it, so only the name is wrong)."""
    raw = copy.deepcopy(arch.load("systolic").model_dump(mode="json"))
    table = raw["memories"] if where == "memories" else raw["chunks"]["units"]
    table[new] = table.pop(old)
    ref = old if where == "memories" else f"chunk.{old}"
    for c in raw["connections"]:
        for end in ("src", "dst"):
            if c[end] == ref:
                c[end] = new if where == "memories" else f"chunk.{new}"
    with pytest.raises(arch.ConfigError):
        arch.loads(json.dumps(raw), "bad.json", json_=True)
    with pytest.raises(jsonschema.ValidationError):
        STRICT.validate(raw)


@pytest.mark.parametrize("rule", [{"unit": "sa", "kind": "matmul", "fn": None},
                                  {"unit": "sa", "kind": None, "fn": "matmul"},
                                  {"unit": "sa", "kind": None, "fn": None, "scope": None}])
def test_a_binding_with_explicit_nulls_is_good_for_both(rule):
    """``model_dump`` / ``arch show`` write every field, unset ones as null: the schema's
    kind-matches-fn rule must not read a null as a name."""
    raw = _mutated("mapping.bindings", [rule])
    arch.loads(json.dumps(raw), "good.json", json_=True)
    STRICT.validate(raw)
    PLAIN.validate(raw)
    dumped = arch.loads(json.dumps(raw), "good.json", json_=True).model_dump(mode="json")
    STRICT.validate(dumped)
