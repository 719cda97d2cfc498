"""The HTML report opened for real in headless Chromium (Debian's ``chromium``).

A real run (both engines, through R) of a small fixture is written as HTML;
Chromium builds its DOM (``--dump-dom``: sections, plot images, tables are
counted) and takes a screenshot, whose plot regions must hold the plots'
colours (Python blue, metafor orange) in quantity — and a control page whose
images are removed must not, so the pixel check really sees the plots.
Chromium is installed by ``scripts/setup.sh --browser`` (``make test``).
"""
from __future__ import annotations

import base64
import re
import zlib
from html.parser import HTMLParser

import numpy as np
import pytest

from harness.reports import browser, html
from harness.reports.plots import COLOURS

pytestmark = pytest.mark.r_bridge  # chromium renders the report: once per R (tests/conftest.py)

CSV = """study,m1i,sd1i,n1i,m2i,sd2i,n2i
Alpha,10.2,3.1,25,12.0,3.4,24
Beta,8.9,2.7,40,9.6,2.9,41
Gamma,11.5,4.0,18,13.9,4.2,20
Delta,9.8,3.3,60,10.1,3.0,58
Epsilon,10.9,3.6,33,12.7,3.8,30
Zeta,12.1,3.9,22,12.4,4.1,21
"""
SPEC = """[dataset]
name = "browserdemo"
data = "data.csv"
slab = "study"
source = "made-up numbers for testing the HTML report (not a real study)"

[[analysis]]
id = "browserdemo"
measure = ["MD", "SMD"]
method = ["DL", "REML"]
"""
N_ANALYSES = 4


class Counter(HTMLParser):
    """Counts elements by tag and class in the DOM Chromium built."""

    def __init__(self):
        super().__init__()
        self.tags: dict[str, int] = {}
        self.classes: dict[str, int] = {}
        self.img_src: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        a = dict(attrs)
        for c in (a.get("class") or "").split():
            self.classes[c] = self.classes.get(c, 0) + 1
        if tag == "img":
            self.img_src.append(a.get("src") or "")


@pytest.fixture(scope="module")
def chromium():
    try:
        return browser.find_chromium()
    except browser.BrowserUnavailable as e:
        pytest.fail(f"{e}", pytrace=False)  # never silently skipped: `make test` installs it


@pytest.fixture(scope="module")
def report(tmp_path_factory, r_engine):
    from harness.verify import verify

    d = tmp_path_factory.mktemp("browser")
    (d / "data.csv").write_text(CSV)
    (d / "spec.toml").write_text(SPEC)
    run = verify([d / "spec.toml"])
    assert len(run.analyses) == N_ANALYSES and run.ok
    page = d / "report.html"
    html.write(run, page, title="metaharness verify")
    return page


def colour_pixels(img: np.ndarray, hex_colour: str, tol: int = 40) -> int:
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(img[..., :3].astype(int) - rgb).max(axis=-1) <= tol).sum())


def test_dom_has_every_analysis_with_its_plot_and_tables(chromium, report):
    dom = browser.dump_dom(report)
    c = Counter()
    c.feed(dom)
    assert c.classes.get("analysis") == N_ANALYSES
    assert c.classes.get("pooled") == N_ANALYSES  # engines side by side, always in the page
    assert c.classes.get("forest") is None and c.classes.get("lazy") == N_ANALYSES  # all agree: plots on demand
    assert c.classes.get("overview") == 1 and c.classes.get("worst") == 1 and c.classes.get("engines") == 1
    # opened (#open-all), the page's script unpacks every analysis's plots and tables
    dom = browser.dump_dom(report, fragment="open-all", script_ms=10000)
    c = Counter()
    c.feed(dom)
    assert c.classes.get("forest") == N_ANALYSES  # one forest plot per analysis
    assert c.classes.get("forest-plot") == N_ANALYSES  # ... each an inline SVG
    assert c.classes.get("quantities") == N_ANALYSES
    assert c.tags.get("svg", 0) >= N_ANALYSES and not c.img_src
    # every study row of the overview links to its section
    assert len(re.findall(r'<a href="#a-browserdemo-', dom)) >= N_ANALYSES
    # the SMD analyses with DL carry RevMan 5's convention as a reference row
    assert dom.count("RevMan 5 convention") >= 1


def test_screenshot_shows_rendered_plots(chromium, report, tmp_path):
    from PIL import Image

    shot = browser.screenshot(report, tmp_path / "shot.png", width=1280, height=5000, fragment="open-all", script_ms=10000)
    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape[:2] == (5000, 1280)
    blank = (img.min(axis=-1) > 245).mean()
    assert blank < 0.9  # the page is not empty
    blue, orange = colour_pixels(img, COLOURS["python"]), colour_pixels(img, COLOURS["r"])
    # Control: the same page with its plots removed (the tables still carry a few coloured words).
    text = report.read_text()
    bare = tmp_path / "bare.html"
    empty = base64.b64encode(zlib.compress(b"")).decode("ascii")  # every stored part empty (pack part 0: "")
    bare.write_text(re.sub(r'data-z="[^"]+"', lambda m: 'data-z="' + m.group(0)[8:].split(":")[0] + ':0"',
                           re.sub(r'(<script type="application/octet-stream" id="[^"]+">)[^<]*', lambda m: m.group(1) + empty, text)))
    ctrl = np.asarray(Image.open(browser.screenshot(bare, tmp_path / "bare.png", width=1280, height=5000, fragment="open-all", script_ms=10000)).convert("RGB"))
    blue0, orange0 = colour_pixels(ctrl, COLOURS["python"]), colour_pixels(ctrl, COLOURS["r"])
    assert blue > blue0 + 2000 and orange > orange0 + 2000, (blue, blue0, orange, orange0)
    # the plots are where the images are: some 200-pixel band holds both colours in quantity
    bands = [(colour_pixels(img[y : y + 200], COLOURS["python"]), colour_pixels(img[y : y + 200], COLOURS["r"])) for y in range(0, 4800, 100)]
    assert any(b > 300 and o > 300 for b, o in bands), bands


def test_forest_plot_renders_in_chromium(chromium, tmp_path):
    """The shared RevMan-layout forest plot (harness.reports.forest) inline in a page, as Chromium draws it."""
    from PIL import Image

    from harness.reports import forest
    from test_forest import subgroup_plot  # the hand-made subgroup plot of the forest tests

    one = forest.to_svg(subgroup_plot())
    two = forest.to_svg(subgroup_plot(series="RevMan"), subgroup_plot(series="recomputed", shift=0.05))
    page = tmp_path / "forest.html"
    page.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">{one}<br>{two}</body></html>', encoding="utf-8")
    dom = browser.dump_dom(page)
    assert dom.count("<svg") == 2
    for text in ("1.1.1 Adults", "1.1.2 Children", "Favours exercise", "Favours usual care", "Test for subgroup differences: Chi²"):
        assert dom.count(text) == 2, text
    assert dom.count("Subtotal (95% CI)") == 4 and dom.count("Total (95% CI)") == 2
    img = np.asarray(Image.open(browser.screenshot(page, tmp_path / "forest.png", width=1100, height=1600)).convert("RGB"))
    blue, orange = colour_pixels(img, forest.SERIES_COLOURS[0]), colour_pixels(img, forest.SERIES_COLOURS[1])
    assert blue > 400 and orange > 150, (blue, orange)  # squares of both plots; the second series' circles and lines
    black_rows = np.where((img.max(axis=-1) < 60).sum(axis=1) > 0)[0]
    assert len(black_rows) > 300  # text, CI lines, diamonds: the plot is drawn, not an empty box
