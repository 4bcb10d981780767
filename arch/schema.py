"""The architecture schema (pydantic v2): every field has a description and a unit.

An ``Architecture`` is a set of memory-side components (DRAM, SRAM buffers, a NoC), a number of
identical *chunks* each holding compute units (systolic arrays, vector arrays) and register
files, and the connections between them. Chunk units are named ``chunk.<unit>`` in connections;
the simulator instantiates them once per chunk (``chunk0.sa_general``, ``chunk1.sa_general`` ...).

Energy is never defaulted: every action a component can perform has a required energy field,
and every component a required leakage power, so a config cannot silently cost nothing.
"""

from __future__ import annotations

import warnings
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_serializer,
    field_validator,
    model_validator,
)

from workloads.ir import OpKind
from workloads.vocabulary import CLASSES, FUNCTIONS, SYSTOLIC_FNS, VECTOR_FNS

#: The function vocabulary is the IR's (``workloads.vocabulary``: every ``Op.fn`` the tracer
#: emits, each with its class); an architecture can declare exactly these functions.
#: (``VECTOR_FNS``, ``SYSTOLIC_FNS`` and ``CLASSES`` are re-exported from here.)
DATAFLOWS = ("os", "ws", "is", "down_forward")


class ArchWarning(UserWarning):
    """An architecture file uses something accepted but without effect (shown on stderr)."""


def _tag_required(schema: dict[str, Any]) -> None:
    """JSON Schema of a tagged component: its ``type`` tag is required, as the validator's
    discriminated unions require it (an editor must not accept a unit without one)."""
    if "type" in schema.get("properties", {}):
        required = schema.setdefault("required", [])
        if "type" not in required:
            required.insert(0, "type")


class Model(BaseModel):
    """Base of every schema class: unknown keys are errors, assignments are validated, and
    types are strict (``true`` is not a count, ``"65"`` is not a size)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True,
                              allow_inf_nan=False, json_schema_extra=_tag_required)


def _leakage() -> Any:
    return Field(ge=0, description="static (leakage) power of the component, unit: mW")


_Role = Literal["input", "weight", "output", "psum"]
_SystolicFn = Literal["matmul", "matvec", "sparse_matmul", "lowbit_matmul"]


def _placement() -> Any:
    # the JSON Schema says what it can (non-empty, distinct, >= 0); an index below
    # chunks.count is the validator's (arch.graph.validate)
    return Field(None, description="the chunks that hold this unit, by index (0 .. count-1): "
                 "a chunk group, e.g. [0, 1]; one index: local to one chunk; default: every "
                 "chunk", json_schema_extra={"minItems": 1, "uniqueItems": True,
                                             "items": {"minimum": 0}})


#: Names of memories and units (``arch.graph`` checks them; the JSON Schema says the same).
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"


def _all_roles() -> list[_Role]:
    return ["input", "weight", "output"]


def _matmul_only() -> list[_SystolicFn]:
    return ["matmul"]


class Precision(Model):
    """Global bit widths; a systolic array may override ``operand_bits`` (e.g. 4-bit prediction)."""

    operand_bits: int = Field(
        default=8, gt=0, description="bits of an activation or weight operand"
    )
    accumulator_bits: int = Field(
        default=32, gt=0, description="bits of a partial sum / accumulator"
    )


class Dram(Model):
    """Off-chip memory: ``channels`` share ``bandwidth_gbps`` equally; addresses interleave
    across them every ``interleave_bytes``, so one long transfer streams from all channels at
    once and concurrent transfers share them. Every request pays ``latency_ns`` once (time to
    its first byte), then moves at the bandwidth its channels give it."""

    type: Literal["dram"] = Field("dram", description="component kind (the YAML tag)")
    description: str = Field("", description="free text: part, standard, source")
    bandwidth_gbps: float = Field(gt=0, description="total bandwidth, unit: GB/s (1e9 bytes/s)")
    channels: int = Field(1, gt=0, description="independent channels, each bandwidth/channels")
    interleave_bytes: int = Field(
        256, gt=0, description="address interleaving granularity across channels (consecutive "
        "blocks of this size go to consecutive channels), unit: bytes")
    latency_ns: float = Field(ge=0, description="access latency added to every request, unit: ns")
    read_energy_pj_per_bit: float = Field(ge=0, description="energy per bit read, unit: pJ/bit")
    write_energy_pj_per_bit: float = Field(ge=0, description="energy per bit written, unit: pJ/bit")
    leakage_mw: float = _leakage()


def _sram_schema(schema: dict[str, Any]) -> None:
    """A chunk-local SRAM cannot hold outputs (``arch.graph``): with ``local: true`` the JSON
    Schema wants ``holds`` written out, without ``output`` (the default holds it)."""
    _tag_required(schema)
    schema["if"] = {"properties": {"local": {"const": True}}, "required": ["local"]}
    schema["then"] = {"required": ["holds"],
                      "properties": {"holds": {"not": {"contains": {"const": "output"}}}}}


class Sram(Model):
    """On-chip buffer. ``holds`` says which tensors it stages (SCALE-Sim has three SRAMs).

    Its capacity is enforced while the simulation runs: resident outputs, operands staged from
    DRAM, partial sums and staged weights hold bytes here, and a request that does not fit
    waits (a ``capacity`` stall). ``bandwidth_bytes_per_cycle`` is the whole buffer's (all
    banks interleaved); a ``banks`` key of older files is accepted with a warning and ignored,
    since without addresses banks have no effect the bandwidth does not already give.

    ``local: true`` makes it a chunk-local buffer: every chunk has its own instance (capacity,
    bandwidth, leakage and area count once per chunk), placed between the NoC and the chunk's
    units; a multicast writes it in every destination chunk."""

    model_config = ConfigDict(json_schema_extra=lambda schema: _sram_schema(schema))

    type: Literal["sram"] = Field("sram", description="component kind (the YAML tag)")
    description: str = Field("", description="free text")
    capacity_kib: float = Field(gt=0, description="capacity, unit: KiB (1024 bytes)")
    bandwidth_bytes_per_cycle: float = Field(
        gt=0, description="total read+write bandwidth over all banks, unit: bytes/cycle"
    )
    holds: list[_Role] = Field(
        default_factory=_all_roles,
        min_length=1,
        description="operand roles staged here: input activations, weights, outputs, partial "
        "sums of folded reductions (psum; when no SRAM lists it, the output SRAM holds them)",
    )
    local: bool = Field(
        False, description="false: one buffer all chunks share; true: one instance in every "
        "chunk, each of this capacity and bandwidth, serving only its chunk's units (connect "
        "it below the NoC; it stages inputs, weights and partial sums, not resident outputs)")
    read_energy_pj_per_byte: float = Field(ge=0, description="energy per byte read, unit: pJ/B")
    write_energy_pj_per_byte: float = Field(ge=0, description="energy per byte written, unit: pJ/B")
    leakage_mw: float = _leakage()

    @model_validator(mode="before")
    @classmethod
    def _drop_banks(cls, data: Any) -> Any:
        if isinstance(data, dict) and "banks" in data:
            data = {k: v for k, v in data.items() if k != "banks"}
            warnings.warn("sram 'banks' has no effect (bandwidth_bytes_per_cycle covers all "
                          "banks) and is ignored; remove it", ArchWarning, stacklevel=2)
        return data

    @property
    def capacity_bytes(self) -> int:
        return int(self.capacity_kib * 1024)


class Noc(Model):
    """On-chip network between the buffers and the chunks: one link per chunk (or one shared
    link), each of ``bandwidth_bytes_per_cycle``. A multicast sends one transfer down every
    destination chunk's link at once: read from the buffer once, carried by each link."""

    type: Literal["noc"] = Field("noc", description="component kind (the YAML tag)")
    description: str = Field("", description="free text")
    bandwidth_bytes_per_cycle: float = Field(
        gt=0, description="width of one link, unit: bytes/cycle")
    links: Literal["per_chunk", "shared"] = Field(
        "per_chunk", description="per_chunk: a link of its own to every chunk; shared: one link "
        "all chunks take turns on")
    hops: int = Field(1, gt=0, description="average hops from a buffer to a chunk")
    latency_cycles_per_hop: int = Field(1, ge=0, description="router+link delay, unit: cycles/hop")
    energy_pj_per_byte_hop: float = Field(ge=0, description="energy per byte per hop, unit: pJ")
    multicast: bool = Field(
        True, description="one transfer can deliver the same data to several chunks (a shared "
        "operand read from the buffer once and carried by every destination link; energy per "
        "link)"
    )
    leakage_mw: float = _leakage()


class RegisterFile(Model):
    """Registers of a chunk (PE operand and psum registers, lane registers, divisor chain).

    Every operand byte a unit of the chunk consumes is read once from it, every result byte
    written once. With ``holds: [psum]`` it also holds the partial sums of folded reductions
    (read-modify-written there, one copy per chunk) instead of the buffer.
    """

    type: Literal["regfile"] = Field("regfile", description="component kind (the YAML tag)")
    description: str = Field("", description="free text")
    capacity_bytes: int = Field(gt=0, description="total register capacity, unit: bytes")
    holds: list[Literal["psum"]] = Field(
        default_factory=list, description="what it keeps besides operands in flight: psum = the "
        "partial sums of folded reductions of the chunk's arrays (accumulator registers; "
        "capacity enforced per chunk, no buffer or NoC traffic)")
    read_energy_pj_per_byte: float = Field(ge=0, description="energy per byte read, unit: pJ/B")
    write_energy_pj_per_byte: float = Field(ge=0, description="energy per byte written, unit: pJ/B")
    leakage_mw: float = _leakage()


class SystolicArray(Model):
    """A rows x cols PE array. ``down_forward`` is the paper's accumulation: one operand
    stationary, the other streaming, partial sums flowing down each column (ws's fold
    structure; its own timing with double-buffered folds, ``accelsim.timing``)."""

    type: Literal["systolic"] = Field("systolic", description="component kind (the YAML tag)")
    description: str = Field("", description="free text")
    rows: int = Field(gt=0, description="PE rows, unit: PEs")
    cols: int = Field(gt=0, description="PE columns, unit: PEs")
    dataflow: Literal["os", "ws", "is", "down_forward"] = Field(
        description="os: output-, ws: weight-, is: input-stationary; down_forward: the paper's"
    )
    fns: list[_SystolicFn] = Field(
        default_factory=_matmul_only,
        min_length=1,
        description="what it runs: dense matmul, matrix-vector (N = 1), sparse matmul, "
        "low-bit matmul (operands from quantize ops)",
    )
    mac_energy_pj: float = Field(ge=0, description="energy per MAC performed, unit: pJ")
    fold_overlap: Literal["none", "double_buffered"] = Field(
        "none", description="none: every fold pays its fill, skew and drain (SCALE-Sim's "
        "timing); double_buffered: the next fold's resident block loads into shadow registers "
        "while the current one streams (see accelsim.timing)")
    sparse_overhead: float = Field(
        0.0, ge=0, description="extra cycles of a sparse matmul for load imbalance, unit: fraction"
    )
    operand_bits: int | None = Field(
        None, gt=0, description="operand width of this array if not precision.operand_bits, unit: bits"
    )
    leakage_mw: float = _leakage()
    chunks: list[int] | None = _placement()

    @property
    def pes(self) -> int:
        return self.rows * self.cols


class VectorFn(Model):
    """Timing and energy of one function on a vector array (per element, per lane)."""

    cycles_per_element: float = Field(
        1.0, gt=0, description="initiation interval per element per lane, unit: cycles"
    )
    latency_cycles: int = Field(
        0, ge=0, description="pipeline depth, added once per op slice on a chunk (the tiles of a "
        "slice stream through the pipeline), unit: cycles")
    energy_pj: float = Field(ge=0, description="energy per element processed, unit: pJ")


class VectorArray(Model):
    """``lanes`` parallel lanes executing the listed functions (accumulate, divide, add...).

    ``fns`` costs named functions; ``classes`` gives a default cost per class of function
    (``workloads.vocabulary.CLASSES``), so a general SIMD unit runs every function of a class
    it declares. An explicit ``fns`` entry overrides its class default. After validation
    ``fns`` holds every function the unit runs (the class-derived ones too; they are not
    written back when the architecture is dumped)."""

    type: Literal["vector"] = Field("vector", description="component kind (the YAML tag)")
    description: str = Field("", description="free text")
    lanes: int = Field(gt=0, description="parallel lanes, unit: elements/cycle at II = 1")
    fns: dict[str, VectorFn] = Field(
        default_factory=dict,
        description="function name (the IR's vocabulary) -> its timing and energy",
        json_schema_extra={"propertyNames": {"enum": list(VECTOR_FNS)}},
    )
    classes: dict[str, VectorFn] = Field(
        default_factory=dict,
        description="class of functions -> the default timing and energy of every function of "
        "that class (elementwise, transcendental, activation, reduction, normalisation, logic)",
        json_schema_extra={"propertyNames": {"enum": list(CLASSES)}},
    )
    leakage_mw: float = _leakage()
    chunks: list[int] | None = _placement()
    _derived: frozenset[str] = PrivateAttr(default=frozenset())

    @model_validator(mode="after")
    def _known_fns(self) -> VectorArray:
        unknown = sorted(set(self.fns) - set(VECTOR_FNS) - self._derived)
        if unknown:
            raise ValueError(f"unknown vector function(s) {unknown}; known: the IR's "
                             f"vocabulary {list(VECTOR_FNS)} (docs/arch.md)")
        bad = sorted(set(self.classes) - set(CLASSES))
        if bad:
            raise ValueError(f"unknown function class(es) {bad}; known: {list(CLASSES)}")
        if not self.fns and not self.classes:
            raise ValueError("a vector array must run at least one function (fns or classes)")
        derived = {fn: self.classes[cls] for fn, cls in FUNCTIONS.items()
                   if cls in self.classes and (fn not in self.fns or fn in self._derived)}
        self.fns.update(derived)
        self._derived = frozenset(derived)
        return self

    def by_class(self, fn: str) -> bool:
        """True when the unit runs ``fn`` only through its class default (not by name)."""
        return fn in self._derived

    @field_serializer("fns")
    def _declared_fns(self, fns: dict[str, VectorFn]) -> dict[str, VectorFn]:
        return {k: v for k, v in fns.items() if k not in self._derived}


Memory = Annotated[Dram | Sram | Noc, Field(discriminator="type")]
Unit = Annotated[SystolicArray | VectorArray | RegisterFile, Field(discriminator="type")]


class Chunks(Model):
    """``count`` sub-processors; heads and row tiles are spread across them. Every unit is in
    every chunk unless it lists the chunks that hold it (``chunks``): chunks of different kinds
    (groups) in one design."""

    count: int = Field(1, gt=0, description="number of chunks")
    units: dict[str, Unit] = Field(
        description="unit name -> systolic array, vector array or regfile",
        json_schema_extra={"propertyNames": {"pattern": NAME_PATTERN}})

    def holders(self, unit: str) -> list[int]:
        """The chunks that hold ``unit`` (every chunk unless it names some)."""
        held = getattr(self.units[unit], "chunks", None)
        return sorted(held) if held is not None else list(range(self.count))


class Connection(Model):
    """A directed link data can flow along: ``src`` -> ``dst`` (names of components; chunk
    units as ``chunk.<unit>``). Data returns along the same links in reverse."""

    src: str = Field(description="upstream component (nearer DRAM)")
    dst: str = Field(description="downstream component (nearer the compute units)")


#: Op kinds a binding may name (``workloads.ir.OpKind``; views are free, never bound).
BINDING_KINDS = tuple(k.value for k in OpKind if not k.is_free)
#: Functions a binding may name: the IR's, and the mapper's names of matmuls.
BINDING_FNS = tuple(dict.fromkeys([*SYSTOLIC_FNS, *FUNCTIONS, *VECTOR_FNS]))


def _binding_schema(schema: dict[str, Any]) -> None:
    """The JSON Schema's form of ``Binding._kind_matches_fn``: with both ``kind`` and ``fn``,
    a matrix kind wants a matrix function and any other kind a vector one."""
    _tag_required(schema)
    matrix = [k for k in BINDING_KINDS if OpKind(k).is_matmul]
    both = ["kind", "fn"]
    named = {"type": "string"}  # an explicit null (``arch show``'s output) sets nothing
    schema["allOf"] = [
        {"if": {"required": both, "properties": {"kind": {**named, "enum": matrix},
                                                 "fn": named}},
         "then": {"properties": {"fn": {"enum": list(SYSTOLIC_FNS)}}}},
        {"if": {"required": both, "properties": {"kind": {**named, "not": {"enum": matrix}},
                                                 "fn": named}},
         "then": {"properties": {"fn": {"not": {"enum": list(SYSTOLIC_FNS)}}}}},
    ]


class Binding(Model):
    """Send the ops that match every given criterion to ``unit`` (first matching rule wins).
    ``kind`` and ``fn`` must be names the IR has (a typo would silently match nothing); that
    ``unit`` is a compute unit able to run them is checked with the component graph."""

    model_config = ConfigDict(json_schema_extra=lambda schema: _binding_schema(schema))

    unit: str = Field(description="name of a compute unit of the chunks (systolic or vector)")
    kind: str | None = Field(None, description="op kind (matmul, elementwise, softmax, ...)",
                             json_schema_extra={"enum": [*BINDING_KINDS, None]})
    fn: str | None = Field(None, description="op function as the mapper names it (matmul, "
                           "matvec, add, softmax, ...; the IR's vocabulary)",
                           json_schema_extra={"enum": [*BINDING_FNS, None]})
    scope: str | None = Field(None, description="glob over the op's module scope, e.g. "
                              "'blocks.*.attn'")
    group: Literal["attention", "projection", "mlp", "other"] | None = Field(
        None, description="op group: attention core, its projections, MLP, other")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str | None) -> str | None:
        if kind is not None and kind not in BINDING_KINDS:
            raise ValueError(f"unknown op kind {kind!r} in a binding; kinds: "
                             f"{', '.join(BINDING_KINDS)}")
        return kind

    @field_validator("fn")
    @classmethod
    def _known_fn(cls, fn: str | None) -> str | None:
        if fn is not None and fn not in BINDING_FNS:
            raise ValueError(f"unknown op function {fn!r} in a binding; functions: the "
                             "IR's vocabulary (docs/arch.md)")
        return fn

    @model_validator(mode="after")
    def _kind_matches_fn(self) -> Binding:
        """A matrix kind selects only matrix functions and the other kinds only vector ones:
        ``{kind: exp, fn: matmul}`` could never match an op, so it is an error, not a no-op."""
        if self.kind is not None and self.fn is not None and (
                OpKind(self.kind).is_matmul != (self.fn in SYSTOLIC_FNS)):
            raise ValueError(f"kind {self.kind!r} and fn {self.fn!r} never select the same op "
                             "(matrix kinds have matrix functions, the others vector ones)")
        return self


class Mapping(Model):
    """How the mapper places and orders work."""

    bindings: list[Binding] = Field(
        default_factory=list,
        description="rules binding ops to units; unbound ops go to the capable unit where they "
        "would finish first (docs/arch.md, Bindings)",
    )

    intra_layer_pipeline: bool = Field(
        default=True,
        description="on: an op starts when the tiles it needs are done; off: ops in order",
    )
    prefetch_depth: int = Field(
        default=2, gt=0,
        description="tiles whose operands may be staged ahead (2 = double buffering)",
    )
    tile_rows: int = Field(
        default=0, ge=0,
        description="rows per tile of every op (matmul and vector); 0 = automatic: at "
        "most 8 tiles of at least 64 rows per chunk slice, unit: rows",
    )
    streaming: Literal["tiles", "folds"] = Field(
        default="folds",
        description="tiles: a tile computes once all its operands have arrived and its "
        "result leaves after it has computed; folds: cut-through at the array's fold "
        "granularity, so a tile starts once its first fold's operands are in and its result "
        "drains while it computes (docs/engine.md, Streaming)",
    )
    reduction_split: Literal["auto", "double_buffered", "fewest_bytes"] = Field(
        default="auto",
        description="when one fold of weights over the whole reduction exceeds half the weight "
        "buffer: double_buffered splits the reduction into blocks of half the buffer (fetch "
        "overlaps compute); fewest_bytes keeps it whole in one single-buffered block if it "
        "fits the buffer and splitting would move more DRAM bytes (weights again per band, "
        "spilled partial sums), exposing the fetch; auto keeps it whole only where the "
        "mapper's estimate of the op's time (compute against bytes over each memory's "
        "bandwidth, the exposed fetch) is no longer (docs/engine.md, Reduction split)",
    )
    activation_b_room: Literal["all_tiles", "first_tile"] = Field(
        default="all_tiles",
        description="input-buffer room for a matmul's B that is not a weight and is staged "
        "from DRAM or the far level (attention's K^T and V once they spill): all_tiles holds "
        "it while any row tile of its column block, all of which read it, is in flight; "
        "first_tile only while the tile that fetched it is (optimistic: the buffer holds "
        "less than is read from it; the default before 2026-12-05) (docs/engine.md, Known "
        "simplifications)",
    )
    weight_buffer_fraction: float = Field(
        default=0.5, gt=0, lt=1,
        description="share of an SRAM holding both weights and outputs given to weights, unit: fraction",
    )


class Architecture(Model):
    """A complete accelerator: memories, chunks of compute units, their connections."""

    name: str = Field(description="short identifier, used in reports")
    description: str = Field("", description="what this architecture is and where it comes from")
    clock_mhz: float = Field(gt=0, description="clock frequency of the whole chip, unit: MHz")
    precision: Precision = Field(default_factory=Precision, description="operand/accumulator bits")
    memories: dict[str, Memory] = Field(
        description="name -> DRAM, SRAM or NoC",
        json_schema_extra={"propertyNames": {"pattern": NAME_PATTERN, "not": {"const": "chunk"}}})
    chunks: Chunks = Field(description="the replicated sub-processors")
    connections: list[Connection] = Field(description="directed links from DRAM towards units")
    mapping: Mapping = Field(default_factory=Mapping, description="mapper options")
    sources: dict[str, str] = Field(
        default_factory=dict, description="citation for each default: field -> source"
    )

    def instances(self, memory: str) -> int:
        """Physical copies of memory ``memory``: one per chunk for a chunk-local SRAM, else 1."""
        mem = self.memories[memory]
        return self.chunks.count if isinstance(mem, Sram) and mem.local else 1

    @property
    def pes(self) -> int:
        """Processing elements of all systolic arrays of all chunks."""
        return sum(len(self.chunks.holders(n)) * u.pes for n, u in self.chunks.units.items()
                   if isinstance(u, SystolicArray))
