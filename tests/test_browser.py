"""report.html in a real headless Chromium: the page loads without console errors, the
interactive timeline draws its lanes, the wheel zooms and a drag pans. Skipped with a reason
when Chromium (Debian's ``chromium``) or the ``playwright`` package is missing."""

from __future__ import annotations

import shutil

import pytest

from accelsim.api import simulate
from accelsim.report import write_outputs

from engine_helpers import tiny_arch
from test_engine import attention_like_graph

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)"),
    pytest.mark.skipif(sync_playwright is None, reason="playwright not installed "
                       "(pip install -e '.[test]')"),
]

INK = """() => { const c = document.getElementById('tl');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 0; i < d.length; i += 4)
    if (d[i + 3] > 0 && (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200)) n++;
  return n; }"""


@pytest.fixture(scope="module")
def page_path(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser") / "out"
    result = simulate(tiny_arch(chunks=2, dram_bytes_per_cycle=8, noc_bytes_per_cycle=16),
                      attention_like_graph(heads=3, n=40, d=16, layers=2))
    write_outputs(result, out)
    return out / "report.html", result


def test_report_timeline_loads_draws_and_zooms(page_path):
    path, result = page_path
    errors: list[str] = []
    assert sync_playwright is not None and CHROMIUM is not None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        page.wait_for_function("window.accelsimTimeline !== undefined")
        state = page.evaluate("window.accelsimTimeline")
        units = sum(1 for r in result.record.units.values() if r.busy_cycles or r.stall_cycles)
        assert state["lanes"] == 1 + units + len(result.record.servers)
        assert state["drawn"] + state["aggregated"] > 0
        assert page.evaluate(INK) > 1000  # lanes, labels and intervals are on the canvas
        before = page.evaluate("[window.accelsimTimeline.view.t0, window.accelsimTimeline.view.t1]")
        assert before == [0, result.summary["cycles"]]
        box = page.locator("#tl").bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + 40)
        page.mouse.wheel(0, -600)  # zoom in around the cursor
        zoomed = page.evaluate("[window.accelsimTimeline.view.t0, window.accelsimTimeline.view.t1]")
        assert zoomed[1] - zoomed[0] < 0.5 * (before[1] - before[0])
        assert before[0] <= zoomed[0] < zoomed[1] <= before[1]
        page.mouse.down()  # drag right: earlier times come into view
        page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + 40, steps=4)
        page.mouse.up()
        panned = page.evaluate("[window.accelsimTimeline.view.t0, window.accelsimTimeline.view.t1]")
        assert panned[0] < zoomed[0]
        page.mouse.move(box["x"] + 200, box["y"] + 22 + 19 * 1 + 8)  # hover the first unit lane
        page.click("#tl-reset")
        assert page.evaluate("window.accelsimTimeline.view.t1") == result.summary["cycles"]
        browser.close()
    assert errors == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
