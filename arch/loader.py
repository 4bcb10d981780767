"""Load an ``Architecture``: a preset name, a ``.yaml``/``.yml``/``.json`` file or
``scalesim:PATH.cfg``, with ``--set PATH=VALUE`` overrides applied to the raw data first.

Every problem is a ``ConfigError`` of one line, ``FILE:LINE: field.path: problem``: YAML syntax
(line of the parser's mark), unknown keys, wrong types, out-of-range numbers, missing energy
entries (pydantic errors, located through a ``{path: line}`` table the YAML reader records for
every mapping key and list item), dangling connections and unreachable units (``arch.graph``),
missing files and unknown presets. An error in an overridden field names the ``--set`` instead.
"""

from __future__ import annotations

import copy
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeGuard

import yaml
from pydantic import BaseModel, ValidationError

from safeio import Yaml12Loader, fast_loader_for, loads_json, read_text, yaml_scalar

from .errors import ConfigError
from .graph import GraphError, validate
from .schema import Architecture

PRESET_DIR = Path(__file__).with_name("presets")
SUFFIXES = (".yaml", ".yml", ".json")
#: Guards against alias bombs and recursive aliases in YAML input.
MAX_NODES, MAX_DEPTH = 200_000, 64

Loc = tuple[Any, ...]


def presets() -> list[str]:
    """Names of the shipped presets (``arch/presets/*.yaml``)."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def preset_path(name: str) -> Path:
    if name not in presets():
        raise ConfigError(f"unknown architecture {_show(name)}: not a preset ({', '.join(presets())}), "
                          f"a {'/'.join(SUFFIXES)} file or scalesim:PATH.cfg")
    return PRESET_DIR / f"{name}.yaml"


def load(name_or_path: str | Path, overrides: Iterable[str] = ()) -> Architecture:
    """Load and validate an architecture (see the module docstring); raises ``ConfigError``."""
    try:
        return _load(str(name_or_path), list(overrides))
    except ConfigError as exc:
        raise _one_line(exc) from None


def loads(text: str, source: str = "<string>", overrides: Iterable[str] = (), *,
          json_: bool = False) -> Architecture:
    """Load an architecture from YAML (or JSON) text; ``source`` names it in errors."""
    try:
        data, lines = parse(text, source, json_=json_)
        return build(data, source, lines, list(overrides))
    except ConfigError as exc:
        raise _one_line(exc) from None


def _one_line(exc: ConfigError) -> ConfigError:
    return ConfigError(" ".join(str(exc).split()))


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _load(spec: str, overrides: list[str]) -> Architecture:
    return build(*_parse_spec(spec), overrides)


def loader_for(spec: str | Path) -> Callable[[Iterable[str]], Architecture]:
    """``load(spec, overrides)`` with the file read and parsed once: the returned function
    validates a copy of the parsed data with each call's overrides (a sweep worker's many
    points on one base architecture). Raises ``ConfigError`` as ``load`` does."""
    try:
        parsed = _parse_spec(str(spec))
    except ConfigError as exc:
        raise _one_line(exc) from None

    def load_with(overrides: Iterable[str] = ()) -> Architecture:
        try:
            return build(*parsed, list(overrides))
        except ConfigError as exc:
            raise _one_line(exc) from None

    return load_with


def _parse_spec(spec: str) -> tuple[Any, str, dict[Loc, int]]:
    """(raw data, source name for errors, line of every key) of a preset, file or cfg."""
    if spec.startswith("scalesim:"):
        from .scalesim import cfg_to_dict

        cfg = spec.removeprefix("scalesim:")
        return cfg_to_dict(cfg), cfg, {}
    path = Path(spec)
    if path.suffix.lower() in SUFFIXES or _is_file(path) or "/" in spec:
        if path.suffix.lower() not in SUFFIXES:
            raise ConfigError(f"{spec}: unsupported file type (want {', '.join(SUFFIXES)}, "
                              "or scalesim:PATH.cfg)")
    else:
        path = preset_path(spec)
    text = read_text(path, "architecture", ConfigError)
    source = path.name if path.parent == PRESET_DIR else spec
    data, lines = parse(text, source, json_=path.suffix.lower() == ".json")
    return data, source, lines


def build(data: Any, source: str, lines: dict[Loc, int],
          overrides: Iterable[str] = ()) -> Architecture:
    """Apply ``overrides`` to a copy of the raw ``data``, validate it, check its graph."""
    if data is None:
        raise ConfigError(f"{source}: empty file")
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: top level must be a mapping, got {_kind(data)}")
    data = copy.deepcopy(data)
    sets = {tuple(p): _show_item(item) for item in overrides
            for p in [apply_override(data, item)]}
    try:
        arch = Architecture.model_validate(data)
    except ValidationError as exc:
        raise _from_pydantic(exc, data, source, lines, sets) from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply") from None
    try:
        validate(arch)
    except GraphError as exc:
        raise ConfigError(_where(source, lines, exc.loc, sets) + exc.problem) from None
    return arch


# -- YAML with line numbers ------------------------------------------------------------------
def parse(text: str, source: str, *, json_: bool = False) -> tuple[Any, dict[Loc, int]]:
    """Parse YAML 1.2 (or strict JSON) into plain data plus ``{path: line}`` for every key and
    item. Duplicate keys are errors in both."""
    if json_:
        try:
            data = loads_json(text, source, ConfigError)
        except ConfigError as exc:
            if "duplicate key" in str(exc):  # the YAML reader names the line
                _parse_yaml(text, source)
            raise
        try:  # line numbers from the YAML reader when it agrees (JSON is almost YAML)
            return data, _parse_yaml(text, source)[1]
        except ConfigError:
            return data, {}
    return _parse_yaml(text, source)


def _parse_yaml(text: str, source: str) -> tuple[Any, dict[Loc, int]]:
    """Read with libyaml (``safeio.fast_loader_for``) where it reads as PyYAML does; a document
    it cannot read is read again by the pure-Python ``Yaml12Loader``, whose error is the
    answer, so messages and line numbers do not depend on libyaml."""
    fast = fast_loader_for(text)
    if fast is not None:
        try:
            return _parse_yaml_with(fast, text, source)
        except Exception:  # reported by the pure-Python reader below
            pass
    return _parse_yaml_with(Yaml12Loader, text, source)


def _parse_yaml_with(loader_type: Any, text: str, source: str) -> tuple[Any, dict[Loc, int]]:
    lines: dict[Loc, int] = {(): 1}
    budget = [MAX_NODES]
    loader = None
    try:
        loader = loader_type(text)
        node = loader.get_single_node()
        data = None if node is None else _build(loader, node, (), lines, budget, source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        raise ConfigError(f"{source}:{line}: YAML error: {exc.reason} "
                          f"(character {exc.character!r})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: YAML error: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise ConfigError(f"{source}: document nested too deeply (at most {MAX_DEPTH} "
                          "levels)") from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines


def _build(loader: Yaml12Loader, node: yaml.Node, path: Loc, lines: dict[Loc, int],
           budget: list[int], source: str) -> Any:
    budget[0] -= 1
    if budget[0] < 0 or len(path) > MAX_DEPTH:
        raise ConfigError(f"{source}:{node.start_mark.line + 1}: document too large or too "
                          "deeply nested (recursive alias?)")
    if isinstance(node, yaml.CollectionNode) and node.tag not in (
            "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
        raise ConfigError(f"{source}:{node.start_mark.line + 1}: {_dotted(path) or 'top level'}: "
                          f"unsupported YAML tag {node.tag!r}")
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for knode, vnode in node.value:
            key = loader.construct_object(knode, deep=True)
            line = knode.start_mark.line + 1
            try:
                duplicate = key in out
            except TypeError:
                raise ConfigError(f"{source}:{line}: {_dotted(path) or 'top level'}: "
                                  f"a key must be a plain value, got {_kind(key)}") from None
            if duplicate:
                raise ConfigError(f"{source}:{line}: {_dotted((*path, key))}: duplicate key")
            lines[(*path, key)] = line
            out[key] = _build(loader, vnode, (*path, key), lines, budget, source)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            lines[(*path, i)] = item.start_mark.line + 1
            items.append(_build(loader, item, (*path, i), lines, budget, source))
        return items
    return loader.construct_object(node, deep=True)


# -- the schema as a tree of types -----------------------------------------------------------
def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``X | None`` down to the type that matters."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _members(tp: Any) -> dict[str, type[BaseModel]] | None:
    """``{type tag: model}`` when ``tp`` is a union of models with a ``type`` tag."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return None
    return {m.model_fields["type"].default: m for m in typing.get_args(tp)
            if isinstance(m, type) and issubclass(m, BaseModel) and "type" in m.model_fields}


def _is_model(tp: Any) -> TypeGuard[type[BaseModel]]:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _child(tp: Any, seg: Any) -> Any:
    """The type of ``seg`` inside a value of type ``tp`` (None when it has no such child)."""
    if _is_model(tp):
        field = tp.model_fields.get(seg) if isinstance(seg, str) else None
        return field.annotation if field else None
    origin = typing.get_origin(tp)
    if origin is dict:
        return typing.get_args(tp)[1]
    if origin is list:
        return typing.get_args(tp)[0]
    return None


def _resolve(tp: Any, value: Any) -> Any:
    """Unwrap ``tp`` and pick the union member the raw ``value``'s ``type`` tag names."""
    tp = _unwrap(tp)
    members = _members(tp)
    if members is not None:
        tag = value.get("type") if isinstance(value, dict) else None
        tp = members.get(tag) if isinstance(tag, str) else None
    return tp


def _clean(loc: Loc, data: Any) -> tuple[Loc, list[Any]]:
    """Drop the union tags and ``[key]`` markers pydantic puts in an error's location; also
    return the type at each prefix of the cleaned path (``types[i]`` holds ``path[:i]``)."""
    tp: Any = Architecture
    tps: list[Any] = [Architecture]
    cur, out = data, []
    for seg in loc:
        members = _members(_unwrap(tp))
        if members is not None and seg in members:
            tp = members[seg]
            tps[-1] = tp
            continue
        if seg == "[key]":
            continue
        tp = _resolve(tp, cur)
        tps[-1] = tp
        out.append(seg)
        tp = _child(tp, seg) if tp is not None else None
        tps.append(tp)
        cur = _get(cur, seg)
    return tuple(out), tps


def _get(cur: Any, seg: Any) -> Any:
    if isinstance(cur, dict):
        return cur.get(seg)
    if isinstance(cur, list) and isinstance(seg, int) and 0 <= seg < len(cur):
        return cur[seg]
    return None


# -- overrides -------------------------------------------------------------------------------
def apply_override(data: dict, item: str) -> list[Any]:
    """Apply one ``PATH=VALUE`` (VALUE parsed as YAML 1.2, as files are) to the raw ``data``; return the path.

    Every segment must be a schema field, an existing key of a mapping (memories, units, fns)
    or an index of a list; a missing section that is a schema model is created.
    """
    path_s, sep, value_s = item.partition("=")
    item = _show_item(item)
    path_s = path_s.strip()
    if not sep or not path_s:
        raise ConfigError(f"--set {item!r}: want PATH=VALUE, e.g. --set clock_mhz=1000")
    try:
        value = yaml_scalar(value_s)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"--set {item}: cannot parse the value as YAML: {problem}") from None
    segs, out = path_s.split("."), []
    tp: Any = Architecture
    cur = data
    for i, seg in enumerate(segs):
        done = ".".join(segs[:i]) or "the top level"
        tp = _resolve(tp, cur)
        if not isinstance(cur, (dict, list)):
            raise ConfigError(f"--set {item}: {done} is a {_kind(cur)}, it has no {seg!r}")
        key: Any = seg
        if _is_model(tp):
            if not isinstance(cur, dict) or seg not in tp.model_fields:
                raise ConfigError(f"--set {item}: unknown field {'.'.join(segs[:i + 1])!r}; "
                                  f"{done} has: {', '.join(tp.model_fields)}")
        elif isinstance(cur, dict):
            if seg not in cur:
                have = ", ".join(str(k) for k in cur) or "nothing"
                raise ConfigError(f"--set {item}: unknown key {'.'.join(segs[:i + 1])!r}; "
                                  f"{done} has: {have}")
        else:
            if not seg.isdigit() or int(seg) >= len(cur):
                raise ConfigError(f"--set {item}: {done} is a list of {len(cur)}; "
                                  f"{seg!r} is not an index of it")
            key = int(seg)
        tp = _child(tp, key) if tp is not None else None
        out.append(key)
        if i == len(segs) - 1:
            cur[key] = value
        else:
            if isinstance(cur, dict) and key not in cur:
                cur[key] = {}
            cur = cur[key]
    return out


def _show_item(item: str) -> str:
    """A ``--set`` item as errors show it (long values cut)."""
    return item if len(item) <= 80 else item[:77] + "..."


# -- error messages --------------------------------------------------------------------------
def _dotted(path: Loc) -> str:
    return ".".join(str(p) for p in path)


def _kind(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "integer",
            float: "number", type(None): "null"}.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _where(source: str, lines: dict[Loc, int], path: Loc, sets: dict[Loc, str]) -> str:
    """``FILE:LINE: path: `` (or ``--set ITEM: path: `` for an overridden field)."""
    for p, item in sets.items():
        if path[: len(p)] == p:
            return f"--set {item}: {_dotted(path)}: "
    for p, item in sets.items():  # a field beside an override (a type changed by --set ...)
        if len(p) > 1 and path[: len(p) - 1] == p[:-1]:
            return f"--set {item}: {_dotted(path)}: "
    line = next((lines[path[:i]] for i in range(len(path), -1, -1) if path[:i] in lines), None)
    head = f"{source}:{line}" if line else source
    if sets:  # the file's line, but the file as changed by the overrides
        head += f" (with --set {', '.join(sets.values())})"
    return f"{head}: {_dotted(path)}: " if path else f"{head}: "


def _problem(err: Mapping[str, Any], path: Loc, tps: list[Any]) -> str:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    parent = tps[-2] if len(tps) >= 2 else None
    if kind == "missing":
        field = parent.model_fields.get(path[-1]) if _is_model(parent) and path else None
        desc = f" ({field.description})" if field and field.description else ""
        if "energy" in str(path[-1] if path else ""):
            return f"missing energy entry{desc}; every action needs one, there is no default"
        if str(path[-1] if path else "") == "leakage_mw":
            return f"missing leakage power{desc}; give 0 if it is negligible"
        return f"missing required field{desc}"
    if kind == "extra_forbidden":
        allowed = ", ".join(parent.model_fields) if _is_model(parent) else ""
        return f"unknown key; allowed: {allowed}" if allowed else "unknown key"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<",
              "less_than_equal": "<="}[kind]
        bound = next(iter(ctx.values()), "?")
        bound = f"{bound:g}" if isinstance(bound, (int, float)) else bound
        return f"must be {op} {bound}, got {_show(value)}"
    if kind == "literal_error":
        return f"must be {ctx.get('expected', 'one of the allowed values')}, got {_show(value)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be an integer, got {_show(value)}"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return f"must be a finite number, got {_show(value)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false, got {_show(value)}"
    if kind == "string_type":
        what = "key" if err["loc"] and err["loc"][-1] == "[key]" else "value"
        return f"{what} must be a string, got {_show(value)}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a mapping, got {_kind(value)}"
    if kind == "list_type":
        return f"must be a list, got {_kind(value)}"
    if kind == "too_short":
        return f"must not be empty, got {_show(value)}"
    if kind == "union_tag_not_found":
        tags = ", ".join(_members(_unwrap(tps[-1])) or ())
        return f"missing 'type' (one of: {tags})" if tags else "missing 'type'"
    if kind == "union_tag_invalid":
        return f"unknown type {ctx.get('tag')!r}; one of: {ctx.get('expected_tags')}"
    msg = err["msg"].removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:]


def _from_pydantic(exc: ValidationError, data: Any, source: str, lines: dict[Loc, int],
                   sets: dict[Loc, str]) -> ConfigError:
    """One ``ConfigError`` for the error on the earliest line (with a count of the others)."""
    found = []
    for err in exc.errors():
        path, tps = _clean(err["loc"], data)
        where = _where(source, lines, path, sets)
        line = next((lines[path[:i]] for i in range(len(path), -1, -1) if path[:i] in lines), 0)
        found.append((line, where + _problem(err, path, tps)))
    line, message = min(found, key=lambda f: f[0])
    more = len(found) - 1
    return ConfigError(message + (f" (and {more} more error{'s' * (more > 1)})" if more else ""))
