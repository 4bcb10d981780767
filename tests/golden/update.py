"""Rewrite the golden summaries from the current code: ``python tests/golden/update.py``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import torch
from cases import CASES, headline, summary_text, write

if __name__ == "__main__":
    torch.set_num_threads(1)
    for name, arch_spec, overrides, workload, attention in CASES:
        text = summary_text(arch_spec, overrides, workload, attention)
        write(name, text)
        print(name, headline(text))
    import json
    import tempfile

    from cases import OUT_DIGESTS, out_digests

    with tempfile.TemporaryDirectory() as tmp:
        digests = out_digests(Path(tmp) / "out")
    OUT_DIGESTS.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")
    print(OUT_DIGESTS.name, digests)
