"""Regenerate docs/report.png, the README's screenshot of the HTML report.

    make screenshot                     # or: .venv/bin/python scripts/screenshot.py
    .venv/bin/python scripts/screenshot.py --out docs/report.png --height 2200 [SPEC ...]

Without SPEC it verifies two analyses of the bundled Normand (1999) data
(MD with REML, with its prediction interval and Egger's test, so the funnel
plot appears; SMD with DerSimonian-Laird, which notes RevMan 5's SMD
convention beside metafor's) through both engines for real, writes the HTML
report and photographs it in headless Chromium. With SPEC files or folders it
reports those instead. Also writes the HTML next to the PNG (``--keep-html``).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SPEC = """[dataset]
name = "normand1999"
data = "data.csv"
slab = "source"
source = "Normand S-LT (1999). Statistics in Medicine 18(3):321-359, Table I (length of stay); metadat::dat.normand1999"

[defaults]
favours = ["Favours specialist care", "Favours routine care"]

[[analysis]]
id = "normand1999-MD-REML"
measure = "MD"
method = "REML"
extras = ["predict", "regtest"]    # prediction interval on the forest plot; funnel plot

[[analysis]]
id = "normand1999-SMD-DL"
measure = "SMD"
method = "DL"
"""


def main(argv=None) -> int:
    from harness.reports import browser, html
    from harness.verify import verify

    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("paths", nargs="*", help="spec files or folders (default: two Normand 1999 analyses)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "report.png"))
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=2300)
    ap.add_argument("--keep-html", action="store_true", help="keep the HTML beside the PNG")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mh-shot-") as tmp:
        tmp = Path(tmp)
        paths = args.paths
        if not paths:
            shutil.copy(ROOT / "fixtures" / "normand1999" / "data.csv", tmp / "data.csv")
            (tmp / "spec.toml").write_text(SPEC, encoding="utf-8")
            paths = [str(tmp / "spec.toml")]
        run = verify(paths)
        page = tmp / "report.html"
        html.write(run, page, title="metaharness verify")
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        # "#open-all": the page's script unpacks every analysis's plots (agreeing ones are stored compressed)
        browser.screenshot(page, out, width=args.width, height=args.height, fragment="open-all", script_ms=10000)
        if args.keep_html:
            shutil.copy(page, out.with_suffix(".html"))
    print(f"wrote {out} ({len(run.analyses)} analyses, all agree: {run.ok})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
