"""The neutral records a capture produces and ``workloads._convert`` maps to an ``OpGraph``.

No torch here: the PyTorch capture (``workloads._capture``) and the ONNX reader
(``workloads.onnx_import``) both emit them. Tensors in arguments are ``Ref``s: a graph input, a
constant (parameter, buffer, initializer, lifted or factory-made tensor) or output ``index`` of an
earlier ``RawNode``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Ref:
    """A tensor argument: ``source`` is "input", "const" or "node" (output ``index`` of ``name``)."""

    source: str
    name: str
    index: int
    shape: tuple[int, ...]


@dataclass
class RawNode:
    name: str
    target: str  # "aten::linear", "vitality::masked_scores", "operator::getitem" ...
    args: dict[str, Any]  # bound by the op schema (defaults filled); tensors are Refs
    outputs: list[tuple[int, ...] | None]  # one shape per output (None: not a tensor)
    stack: tuple[tuple[str, str], ...]  # (module path, module class name), outermost first
    multi: bool = False  # the op returns a tuple/list (refs carry the index)
    density: float | None = None  # measured mask density (sparse ops, real tensors)

    @property
    def scope(self) -> str:
        return self.stack[-1][0] if self.stack else ""


@dataclass
class RawGraph:
    nodes: list[RawNode]
    inputs: list[tuple[str, tuple[int, ...]]]
    outputs: list[Ref]
    tracer: str
    notes: dict[str, Any] = field(default_factory=dict)
    #: the one value every element of a known constant equals, by (producer name, output
    #: index): factories and what is computed from them (``workloads._values``)
    uniform: dict[tuple[str, int], Any] = field(default_factory=dict)
