"""The function vocabulary: every ``Op.fn`` the tracer emits, each with its class.

One source of truth, shared by the IR (``workloads``) and the architecture schema (``arch``):
an architecture may declare exactly these functions on its units, and a vector unit may give
a default cost per *class* (``classes: {elementwise: {...}}``) so that it runs every function
of that class. Plain Python (no torch, no pydantic): ``arch`` imports it.

The table in docs/arch.md ("Function vocabulary") is generated from ``FUNCTIONS`` and checked
by tests/test_vocabulary.py.
"""

from __future__ import annotations

#: Systolic-array functions (``SystolicArray.fns``). ``matvec`` is a matmul with N = 1;
#: ``lowbit_matmul`` a matmul whose operands both come from quantize ops (Sanger's 4-bit
#: prediction). The mapper falls back to a ``matmul`` array for both when no array lists them.
SYSTOLIC_FNS: tuple[str, ...] = ("matmul", "matvec", "sparse_matmul", "lowbit_matmul")

#: Classes of vector functions, with what they have in common (the cost a general SIMD unit
#: may charge for the whole class).
CLASSES: dict[str, str] = {
    "elementwise": "one arithmetic, compare or select step per element (add, mul, where ...)",
    "transcendental": "an iterative or polynomial function per element (exp, log, sqrt, erf ...)",
    "activation": "a non-linear activation per element (gelu, relu, silu, tanh ...)",
    "reduction": "combines many elements into one (sum, mean, max, var ...)",
    "normalisation": "normalises along rows or channels (softmax, layernorm, batch_norm ...)",
    "logic": "mask and quantisation logic (threshold compare-and-mask, quantize)",
}

_BY_CLASS: dict[str, str] = {
    "elementwise": "add sub mul div neg abs sign where clamp round maximum minimum mod "
                   "addcmul addcdiv lerp interpolate unknown",
    "transcendental": "exp exp2 log sqrt rsqrt pow erf sin cos hypot atan2",
    "activation": "gelu relu elu silu tanh sigmoid hardtanh hardswish hardsigmoid leaky_relu "
                  "softplus mish relu6 selu celu logsigmoid prelu threshold_relu",
    "reduction": "sum mean max min prod var norm any all logsumexp",
    "normalisation": "softmax layernorm rmsnorm groupnorm batch_norm",
    "logic": "threshold quantize",
}

#: Every vector function -> its class (insertion order: by class, then as listed above).
FUNCTIONS: dict[str, str] = {fn: cls for cls, names in _BY_CLASS.items() for fn in names.split()}

#: Vector functions, in table order.
VECTOR_FNS: tuple[str, ...] = tuple(FUNCTIONS)

#: Function of an op the tracer could not classify: charged as one elementwise step per output
#: element (a conservative default), listed in the graph's ``meta["unknown_ops"]``.
UNKNOWN_FN = "unknown"


def class_of(fn: str) -> str | None:
    """The class of vector function ``fn`` (None for systolic or unknown names)."""
    return FUNCTIONS.get(fn)


def vocabulary_table() -> str:
    """The Markdown table of docs/arch.md: class, what it means, its functions."""
    rows = ["| class | functions | what they do |", "|---|---|---|",
            f"| (systolic) | {', '.join(f'`{f}`' for f in SYSTOLIC_FNS)} | matrix products on "
            "a systolic array (`fns: [...]` of a `systolic` unit) |"]
    for cls, what in CLASSES.items():
        fns = ", ".join(f"`{f}`" for f, c in FUNCTIONS.items() if c == cls)
        rows.append(f"| `{cls}` | {fns} | {what} |")
    return "\n".join(rows) + "\n"
