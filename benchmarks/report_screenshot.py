"""Screenshot of report.html's interactive timeline in headless Chromium (docs/img), and the
time it takes to load and draw, zoomed out and zoomed in.

    python benchmarks/report_screenshot.py [--workload deit_tiny] [--arch vitality]
        [--png docs/img/report_timeline.png]

Needs Debian's ``chromium`` and the ``playwright`` package (never downloads a browser).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from accelsim.api import simulate
from accelsim.report import write_outputs
from arch import load, native_attention
from workloads import resolve


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", default="deit_tiny")
    ap.add_argument("--arch", default="vitality")
    ap.add_argument("--png", default="")
    args = ap.parse_args()
    arch = load(args.arch)
    result = simulate(arch, resolve(args.workload, attention=native_attention(arch)))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        write_outputs(result, out)
        html = out / "report.html"
        print(f"{args.workload} on {args.arch}: {len(result.plan.tiles):,} tiles, "
              f"report.html {html.stat().st_size / 1e6:.1f} MB")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                        args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            t0 = time.perf_counter()
            page.goto(html.as_uri())
            page.wait_for_function("window.accelsimTimeline !== undefined")
            print(f"  load + first draw: {time.perf_counter() - t0:.2f} s")
            box = page.locator("#tl").bounding_box()
            assert box is not None
            page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + 40)
            for label in ("zoomed in", "zoomed in more"):
                t0 = time.perf_counter()
                page.mouse.wheel(0, -800)
                page.evaluate("window.accelsimTimeline.drawn")
                print(f"  {label}: {time.perf_counter() - t0:.3f} s per redraw")
            t0 = time.perf_counter()
            page.click("#tl-reset")
            page.evaluate("window.accelsimTimeline.drawn")
            print(f"  zoomed out again: {time.perf_counter() - t0:.3f} s")
            if args.png:
                page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + 40)
                page.mouse.wheel(0, -500)
                lane = box["y"] + 22 + 19 * 1 + 8
                page.mouse.move(box["x"] + box["width"] * 0.45, lane)
                page.wait_for_timeout(100)
                page.locator("#tl-wrap").screenshot(path=args.png)
                print(f"  wrote {args.png}")
            browser.close()


if __name__ == "__main__":
    main()
