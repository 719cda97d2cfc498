"""Funnel and bubble plots, and the coefficient plot of a meta-regression, for the HTML report.

Each function takes the plot data of one analysis (:mod:`harness.reports.plotdata`)
and returns drawing primitives (:class:`harness.reports.forest.Canvas`), which
:func:`svg` writes as compact SVG (text stays text) and :func:`figure` as a
matplotlib Figure (PNG, or for a notebook). They share the forest plot's
primitives and renderers, so every plot of a report looks alike and costs
milliseconds; the coefficient plot *is* a forest plot (one row per
coefficient, both engines side by side) drawn by :mod:`harness.reports.forest`.

Both engines are always drawn and named in the legend: Python in blue,
the R package in orange (the forest plot's two series).

* :func:`funnel` -- effect against standard error (inverted), the pooled
  estimate and its pseudo 95% CI (metafor's ``funnel.rma``), where
  publication-bias tests ran.
* :func:`bubble` -- a meta-regression on one continuous moderator
  (metafor's ``regplot``): studies as circles with area proportional to
  their weight, each engine's fitted line, Python's 95% CI band.
* :func:`coefficients` -- the coefficients of a meta-regression with their CIs.
"""
from __future__ import annotations

import math

from . import forest as F

COLOURS = {"python": F.SERIES_COLOURS[0], "r": F.SERIES_COLOURS[1], "data": "#555555"}
BAND = "#d5def0"  # Python's CI band: its blue, light
Z975 = 1.959963984540054


def svg(cv: F.Canvas) -> str:
    return F.canvas_svg(cv)


def figure(cv: F.Canvas):
    return F.canvas_figure(cv)


def _ticks(lo, hi, n=5):
    from matplotlib.ticker import MaxNLocator

    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        lo, hi = (lo - 1, lo + 1) if math.isfinite(lo) else (-1, 1)
    t = [float(v) for v in MaxNLocator(nbins=n).tick_values(lo, hi)]
    return [v for v in t if lo - 1e-12 * abs(hi - lo) <= v <= hi + 1e-12 * abs(hi - lo)] or [lo, hi]


def _label(v) -> str:
    s = f"{v:.6g}"
    return "0" if s in ("-0", "0") else s


class _Axes:
    """A plot frame in inches on a canvas: data -> inches, ticks, labels."""

    def __init__(self, cv, x0, y0, w, h, xlim, ylim, invert_y=False):
        self.cv, self.x0, self.y0, self.w, self.h = cv, x0, y0, w, h
        self.xlim, self.ylim, self.inv = xlim, ylim, invert_y

    def X(self, v):
        a, b = self.xlim
        return self.x0 + (v - a) / (b - a) * self.w

    def Y(self, v):
        a, b = self.ylim
        f = (v - a) / (b - a)
        return self.y0 + (f if self.inv else 1 - f) * self.h

    def frame(self, xticks, yticks, xlabel, ylabel):
        cv, x0, y0, w, h = self.cv, self.x0, self.y0, self.w, self.h
        for a, b, c, d in ((x0, y0 + h, x0 + w, y0 + h), (x0, y0, x0, y0 + h)):
            cv.add(F.Line(a, b, c, d, lw=0.6))
        for t in xticks:
            cv.add(F.Line(self.X(t), y0 + h, self.X(t), y0 + h + 0.04, lw=0.6))
            cv.text(self.X(t), y0 + h + 0.06, _label(t), anchor="middle", valign="top")
        for t in yticks:
            cv.add(F.Line(x0 - 0.04, self.Y(t), x0, self.Y(t), lw=0.6))
            cv.text(x0 - 0.06, self.Y(t), _label(t), anchor="end")
        cv.text(x0 + w / 2, y0 + h + 0.25, xlabel, anchor="middle", valign="top")
        cv.text(x0 - 0.5, y0 + h / 2, ylabel, anchor="middle", rotate=90)


def _legend(cv, x, y, items):
    """items: (kind, colour, text); kind is "circle", "open", "line", "dash", "cross", "band"."""
    for kind, colour, text in items:
        if kind in ("circle", "open"):
            cv.add(F.Circle(x + 0.05, y, 0.035, colour if kind == "circle" else "none", colour, 1.0))
        elif kind == "cross":
            cv.add(F.Line(x + 0.01, y, x + 0.09, y, colour, 1.0))
            cv.add(F.Line(x + 0.05, y - 0.04, x + 0.05, y + 0.04, colour, 1.0))
        elif kind == "band":
            cv.add(F.Rect(x, y - 0.04, 0.1, 0.08, colour))
        else:
            cv.add(F.Line(x, y, x + 0.25, y, colour, 1.0, (3.0, 2.0) if kind == "dash" else None))
        cv.text(x + 0.32, y, text)
        y += 0.17
    return y


def _title(cv, title, y=0.1):
    if title:
        cv.text(0.1, y, title, bold=True, size=9, valign="top")
        return y + 0.25
    return y


def funnel(plot: dict, title: str | None = None) -> F.Canvas:
    """Funnel plot: effect against standard error (inverted), with the pooled estimate's pseudo 95% CI."""
    studies = plot.get("studies") or []
    pooled = next((p for p in plot.get("pooled") or [] if p.get("engine") == "python"), None)
    r_name = (plot.get("engines") or {}).get("r", "R")
    pts = {side: [((s.get(side) or {}).get("yi"), (s.get(side) or {}).get("sei")) for s in studies] for side in ("python", "r")}
    pts = {k: [(x, y) for x, y in v if x is not None and y is not None] for k, v in pts.items()}
    ses = [y for v in pts.values() for _, y in v] or [1.0]
    smax = max(ses) * 1.05 or 1.0
    est = pooled.get("estimate") if pooled else None
    xs = [x for v in pts.values() for x, _ in v]
    if est is not None:
        xs += [est - Z975 * smax, est + Z975 * smax]
    xlo, xhi = (min(xs), max(xs)) if xs else (-1.0, 1.0)
    pad = 0.04 * (xhi - xlo or 1.0)
    cv = F.Canvas()
    top = _title(cv, title)
    ax = _Axes(cv, 0.75, top + 0.1, 4.2, 2.7, (xlo - pad, xhi + pad), (0.0, smax), invert_y=True)
    if est is not None:
        cv.add(F.Line(ax.X(est), ax.Y(0), ax.X(est), ax.Y(smax), COLOURS["python"], 0.9))
        for sign in (-1, 1):
            cv.add(F.Line(ax.X(est), ax.Y(0), ax.X(est + sign * Z975 * smax), ax.Y(smax), "#777777", 0.9, (4.0, 3.0)))
    for x, y in pts["python"]:
        cv.add(F.Circle(ax.X(x), ax.Y(y), 0.035, "none", COLOURS["python"], 1.1))
    for x, y in pts["r"]:
        cv.add(F.Line(ax.X(x) - 0.04, ax.Y(y), ax.X(x) + 0.04, ax.Y(y), COLOURS["r"], 0.9))
        cv.add(F.Line(ax.X(x), ax.Y(y) - 0.04, ax.X(x), ax.Y(y) + 0.04, COLOURS["r"], 0.9))
    ax.frame(_ticks(*ax.xlim), _ticks(0.0, smax), F.measure_name(plot.get("measure") or "") if plot.get("measure") else "Effect size", "Standard error")
    items = [("open", COLOURS["python"], "studies (Python)"), ("cross", COLOURS["r"], f"studies ({r_name})")]
    if est is not None:
        items += [("line", COLOURS["python"], "pooled estimate (Python)"), ("dash", "#777777", "pseudo 95% CI: estimate ± 1.96 SE")]
    y = _legend(cv, 5.15, top + 0.2, items)
    cv.width, cv.height = 7.6, max(top + 3.45, y + 0.1)
    return cv


def bubble(plot: dict, title: str | None = None) -> F.Canvas | None:
    """metafor's ``regplot``: effect against the moderator, circles sized by weight, each engine's fitted line."""
    b = plot.get("bubble")
    if not b:
        return None
    studies = plot.get("studies") or []
    x = b["x"]
    y = [(s.get("python") or {}).get("yi") for s in studies]
    w = [(s.get("python") or {}).get("weight") for s in studies]
    ok = [(xi, yi, wi) for xi, yi, wi in zip(x, y, w) if yi is not None]
    if not ok:
        return None
    r_name = (plot.get("engines") or {}).get("r", "R")
    xlo, xhi = min(v[0] for v in ok), max(v[0] for v in ok)
    xpad = 0.05 * (xhi - xlo or 1.0)
    xlim = (xlo - xpad, xhi + xpad)
    grid = [xlim[0] + i * (xlim[1] - xlim[0]) / 40 for i in range(41)]
    lines = {}
    band = None
    for side in ("python", "r"):
        ln = b["line"].get(side) or {}
        if ln.get("b0") is None or ln.get("b1") is None:
            continue
        lines[side] = [(g, ln["b0"] + ln["b1"] * g) for g in grid]
        if side == "python" and ln.get("vb"):
            from scipy import stats

            q = Z975 if b.get("test", "z") == "z" else float(stats.t.ppf(0.975, b.get("df", len(ok) - 2)))
            v00, v01, v11 = ln["vb"]
            se = [math.sqrt(max(v00 + 2 * g * v01 + g * g * v11, 0.0)) for g in grid]
            band = [(g, yy - q * s, yy + q * s) for (g, yy), s in zip(lines[side], se)]
    ys = [v[1] for v in ok] + [v for _, lo, hi in (band or []) for v in (lo, hi)] + [yy for ln in lines.values() for _, yy in ln]
    ylo, yhi = min(ys), max(ys)
    ypad = 0.06 * (yhi - ylo or 1.0)
    cv = F.Canvas()
    top = _title(cv, title)
    ax = _Axes(cv, 0.75, top + 0.1, 4.2, 2.7, xlim, (ylo - ypad, yhi + ypad))
    if band:
        pts = [(ax.X(g), ax.Y(hi)) for g, _, hi in band] + [(ax.X(g), ax.Y(lo)) for g, lo, _ in reversed(band)]
        cv.add(F.Poly(tuple(pts), BAND, behind=True))
    ws = [v[2] for v in ok if v[2] is not None]
    wmax = max(ws) if ws else None
    for xi, yi, wi in ok:
        r = 0.025 + 0.09 * math.sqrt(wi / wmax) if wmax and wi is not None else 0.05
        cv.add(F.Circle(ax.X(xi), ax.Y(yi), r, "#9aa9c7", COLOURS["python"], 0.6, alpha=0.6))
    for side, dash in (("python", None), ("r", (4.0, 3.0))):
        if side in lines:
            ln = lines[side]
            cv.add(F.Line(ax.X(ln[0][0]), ax.Y(ln[0][1]), ax.X(ln[-1][0]), ax.Y(ln[-1][1]), COLOURS[side], 1.2, dash))
    ax.frame(_ticks(*xlim), _ticks(ylo - ypad, yhi + ypad), b["moderator"], F.measure_name(plot.get("measure") or "") if plot.get("measure") else "Effect size")
    items = [("circle", "#9aa9c7", "studies (area ∝ Python's weight)" if wmax else "studies")]
    if "python" in lines:
        items.append(("line", COLOURS["python"], "fitted line (Python)"))
    if band:
        items.append(("band", BAND, f"its 95% CI ({'normal' if b.get('test', 'z') == 'z' else 't'} quantile)"))
    if "r" in lines:
        items.append(("dash", COLOURS["r"], f"fitted line ({r_name})"))
    y = _legend(cv, 5.15, top + 0.2, items)
    cv.width, cv.height = 7.8, max(top + 3.45, y + 0.1)
    return cv


def coefficients(plot: dict, title: str | None = None) -> F.Canvas | None:
    """Meta-regression coefficients with their CIs, both engines: a forest plot, one row per coefficient."""
    coefs = plot.get("coefficients") or []
    if not coefs:
        return None
    engines = plot.get("engines") or {}
    lvl = plot.get("level", 95)
    series = []
    for side in ("python", "r"):
        rows = tuple(F.ForestStudy(str(c["name"]), (c.get(side) or {}).get("estimate"), (c.get(side) or {}).get("ci_lb"), (c.get(side) or {}).get("ci_ub")) for c in coefs)
        series.append(F.ForestPlot((F.ForestGroup(None, rows),), measure="Coefficient", model=plot.get("model", ""), level=float(lvl),
                                   title=title, series=engines.get(side, side), label_header="Coefficient"))
    return F.layout(series[0], series[1], (engines.get("python", "Python"), engines.get("r", "R")))
