"""`accelsim arch list | show NAME | validate FILE | schema`.

``show`` prints YAML that ``validate`` accepts (every field explicit, ``--set`` applied);
``validate`` prints ``ok: NAME (N PEs, C chunks)`` or exits 2 with the one-line error.
"""

from __future__ import annotations

import argparse
import sys

from ._options import add_model_options, load_workload, warn_unknown_ops


def add_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="arch_command", metavar="ACTION",
                                parser_class=type(parser))
    sub.required = True
    text = "preset names with one-line descriptions"
    sub.add_parser("list", help=text, description=text)
    for name, help_text in (("show", "print an architecture as YAML"),
                            ("validate", "check an architecture file")):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("arch", metavar="NAME" if name == "show" else "FILE",
                       help="preset name, .yaml/.yml/.json file, or scalesim:PATH.cfg")
        p.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                       help="override a field by its dotted path, e.g. clock_mhz=1000")
        if name == "validate":
            p.add_argument("--workload", metavar="W",
                           help="also check that the design runs this workload (zoo name, graph "
                                ".json, gemm:M,N,K, ...): every missing function in one "
                                "message, then the bindings and buffer fits, by mapping it "
                                "(no simulation)")
            add_model_options(p, "attention variant for zoo/factory models (default: the "
                                 "architecture's native one)")
    text = ("print the JSON Schema of an architecture file (every field with its description "
            "and unit), for editors that validate YAML")
    sub.add_parser("schema", help=text, description=text)


def handle(args: argparse.Namespace) -> int:
    import arch

    if args.arch_command == "list":
        names = arch.presets()
        width = max(map(len, names), default=0)
        for name in names:
            a = arch.load(name)
            print(f"{name:<{width}}  {_first_sentence(a.description)} ({a.pes} PEs, "
                  f"{a.chunks.count} chunks, {a.clock_mhz:g} MHz)")
    elif args.arch_command == "show":
        sys.stdout.write(arch.to_yaml(arch.load(args.arch, overrides=args.set)))
    elif args.arch_command == "validate":
        a = arch.load(args.arch, overrides=args.set)
        if args.workload:
            from accelsim.mapper import map_graph
            from arch.graph import workload_fns

            graph = load_workload(args.workload, attention=args.attention,
                                  img_size=args.img_size,
                                  default_attention=arch.native_attention(a))
            warn_unknown_ops(graph)
            arch.check_runnable(a, workload_fns(graph))  # every missing function at once
            map_graph(a, graph)  # bindings, buffer fits: what `run` checks before simulating
        print(f"ok: {a.name} ({a.pes} PEs, {a.chunks.count} chunk{'s' * (a.chunks.count != 1)})")
    else:
        sys.stdout.write(arch.schema_json())
    return 0


def _first_sentence(text: str) -> str:
    line = " ".join(text.split())
    head, sep, _ = line.partition(": ")
    return head if sep and len(head) > 8 else line[:100]
