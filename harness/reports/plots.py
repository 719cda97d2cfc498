"""Forest, coefficient and funnel plots (matplotlib, Agg/SVG backends; no screen needed).

Each function takes the plot data of one analysis (:mod:`harness.reports.plotdata`)
and returns a :class:`Figure`; :func:`encode` turns it into SVG (default, text
kept as text) or PNG bytes for embedding in the HTML report.

The forest plot follows the standard layout of meta-analysis forest plots
(metafor's ``forest.rma``, RevMan 5): study labels on the left; per study a
square (area proportional to its weight) and the study's CI; on the right the
estimate with its CI and the weight columns; a diamond per pooled estimate
(its width the CI), the prediction interval as a line through it where an
engine computed one, and a reference line at 0 (no effect for MD/SMD and
log-scale ratio measures). Both engines are drawn side by side: Python in
blue (filled square, upper line) and R in orange (open circle, lower line) on
each study row, and one diamond row per engine, so coinciding results look
identical and a difference stands out. A row whose numbers differ between the
engines is labelled in red with a "≠".
"""
from __future__ import annotations

import base64
import io
import math

import matplotlib

matplotlib.use("Agg", force=False)
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Polygon  # noqa: E402
from matplotlib.transforms import blended_transform_factory  # noqa: E402

COLOURS = {"python": "#1f4e99", "r": "#d9730d", "revman": "#2e7d32", "other": "#6a1b9a", "data": "#555555"}
DIFF = "#c62828"
MEASURES = {
    "MD": "Mean difference (MD)",
    "SMD": "Standardised mean difference (SMD)",
    "SMDH": "Standardised mean difference, heteroscedastic (SMDH)",
    "ROM": "Log ratio of means (ROM)",
    "GEN": "Effect size",
}
RC = {"svg.fonttype": "none", "svg.hashsalt": "metaharness", "font.size": 9, "font.family": "DejaVu Sans"}


def _fmt(x, digits=2):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:.{digits}f}"


def _digits(values):
    """Decimals so that the estimates read well: 2 for SMD-size numbers, fewer for large MDs."""
    xs = [abs(v) for v in values if v is not None and v != 0 and math.isfinite(v)]
    if not xs:
        return 2
    m = max(xs)
    return 2 if m < 100 else 1 if m < 1000 else 0


def _est_ci(d, digits):
    if d is None or d.get("estimate", d.get("yi")) is None:
        return "—"
    est = d.get("estimate", d.get("yi"))
    return f"{_fmt(est, digits)} [{_fmt(d.get('ci_lb'), digits)}, {_fmt(d.get('ci_ub'), digits)}]"


def _limits(values):
    xs = [v for v in values if v is not None and math.isfinite(v)] + [0.0]
    lo, hi = min(xs), max(xs)
    pad = 0.05 * (hi - lo or 1.0)
    return lo - pad, hi + pad


def _diamond(ax, y, lb, est, ub, colour, h=0.32):
    if None in (lb, est, ub):
        return
    ax.add_patch(Polygon([(lb, y), (est, y + h), (ub, y), (est, y - h)], closed=True, facecolor=colour, edgecolor=colour, lw=0.8, zorder=3))


def _pooled_differs(rows):
    py = next((p for p in rows if p.get("engine") == "python"), None)
    r = next((p for p in rows if p.get("engine") == "r"), None)
    if py is None or r is None:
        return False
    for k in ("estimate", "ci_lb", "ci_ub", "pi_lb", "pi_ub"):
        a, b = py.get(k), r.get(k)
        if (a is None) != (b is None) or (a is not None and abs(a - b) > 1e-6 * max(abs(a), abs(b), 1e-300)):
            return True
    return False


def forest(plot: dict, title: str | None = None) -> Figure:
    """The forest plot of one analysis, both engines side by side."""
    studies = plot.get("studies") or []
    pooled = list(plot.get("pooled") or [])
    refs = list(plot.get("reference") or [])
    level = plot.get("level", 95)
    lvl = f"{level:g}" if isinstance(level, (int, float)) else str(level)
    n = len(studies)
    diamonds = pooled + refs
    n_rows = n + (1 if diamonds and n else 0) + len(diamonds)
    height = 1.25 + 0.24 * (n_rows + 1) + (0.3 if title else 0)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(10, height))
        top = 1 - (0.5 + (0.3 if title else 0)) / height
        bottom = 0.75 / height
        ax = fig.add_axes((0.27, bottom, 0.33, top - bottom))
        fx = blended_transform_factory(fig.transFigure, ax.transData)
        ys = list(range(n_rows, 0, -1))
        values = []
        differs_any = False
        # ---- studies ------------------------------------------------------------
        any_weight = any((s.get("python") or {}).get("weight") is not None for s in studies)
        maxw = max([((s.get("python") or {}).get("weight") or 0.0) for s in studies] + [1e-300])
        # one collection per engine (fast to draw, small SVG): CI segments and markers
        segs = {"python": [], "r": [], "data": []}
        pts = {"python": ([], [], []), "r": ([], [], []), "data": ([], [], [])}
        for s, y in zip(studies, ys):
            py, r = s.get("python") or {}, s.get("r") or {}
            bad = bool(s.get("differs"))
            differs_any |= bad
            # rows read from the data file (kinds that compare no per-study number) are one input, drawn once in grey
            pairs = (("data", py, 0.0),) if s.get("from_data") else (("python", py, 0.12), ("r", r, -0.12))
            for side, d, dy in pairs:
                lb, ub, yi = d.get("ci_lb"), d.get("ci_ub"), d.get("yi")
                values += [lb, ub, yi]
                if lb is not None and ub is not None:
                    segs[side].append([(lb, y + dy), (ub, y + dy)])
                if yi is not None:
                    w = d.get("weight")
                    ms = 3.5 + 7.5 * math.sqrt(max(w, 0.0) / maxw) if (w is not None and side == "python") else (4.5 if side == "r" else 5)
                    pts[side][0].append(yi)
                    pts[side][1].append(y + dy)
                    pts[side][2].append(ms**2)
            col = DIFF if bad else "black"
            ax.text(0.012, y, ("≠ " if bad else "") + _clip(str(s.get("label", "")), 38), transform=fx, ha="left", va="center", color=col)
        for side in ("python", "r", "data"):
            if segs[side]:
                ax.add_collection(LineCollection(segs[side], colors=COLOURS[side], linewidths=1.1, capstyle="butt", zorder=2))
        if pts["python"][0]:
            ax.scatter(pts["python"][0], pts["python"][1], s=pts["python"][2], marker="s", color=COLOURS["python"], zorder=3, linewidths=0)
        if pts["data"][0]:
            ax.scatter(pts["data"][0], pts["data"][1], s=pts["data"][2], marker="s", color=COLOURS["data"], zorder=3, linewidths=0)
        if pts["r"][0]:
            ax.scatter(pts["r"][0], pts["r"][1], s=pts["r"][2], marker="o", facecolors="white", edgecolors=COLOURS["r"], linewidths=1.2, zorder=4)
        dg = _digits(values + [p.get("estimate") for p in diamonds])
        for s, y in zip(studies, ys):
            py, r = s.get("python") or {}, s.get("r") or {}
            col = DIFF if s.get("differs") else "black"
            ax.text(0.615, y, _est_ci(py, dg), transform=fx, ha="left", va="center", color=col)
            if any_weight:
                ax.text(0.965, y, _mono(f"{_fmt(py.get('weight'), 1):>6}{_fmt(r.get('weight'), 1):>9}"), transform=fx, ha="right", va="center", color=col, family="DejaVu Sans Mono")
        # ---- pooled estimates: one diamond per engine ---------------------------
        py_differs = _pooled_differs(pooled)
        differs_any |= py_differs
        dys = ys[n + 1:] if n else ys
        for p, y in zip(diamonds, dys):
            eng = p.get("engine", "other")
            colour = COLOURS.get(eng, COLOURS["other"])
            values += [p.get("ci_lb"), p.get("ci_ub"), p.get("pi_lb"), p.get("pi_ub")]
            if p.get("pi_lb") is not None and p.get("pi_ub") is not None:
                ax.plot([p["pi_lb"], p["pi_ub"]], [y, y], color=colour, lw=1.0, ls=(0, (3, 2)), zorder=2)
                ax.plot([p["pi_lb"], p["pi_ub"]], [y, y], color=colour, marker="|", ms=7, ls="none", zorder=2)
            _diamond(ax, y, p.get("ci_lb"), p.get("estimate"), p.get("ci_ub"), colour)
            bad = py_differs and eng in ("python", "r")
            label = p.get("label", eng)
            if eng in ("python", "r"):
                label = f"{label}: {plot.get('model', '')}".rstrip(": ")
            if eng not in ("python", "r"):
                label = f"{label} (reference)"
            ax.text(0.012, y, ("≠ " if bad else "") + _clip(label, 40), transform=fx, ha="left", va="center", color=DIFF if bad else colour, fontweight="bold")
            txt = _est_ci(p, dg)  # the prediction interval's numbers are in the pooled table under the plot
            ax.text(0.615, y, txt, transform=fx, ha="left", va="center", color=DIFF if bad else colour, fontweight="bold")
            if any_weight and eng in ("python", "r"):
                ax.text(0.965, y, _mono(f"{'100.0':>6}{'':>9}") if eng == "python" else "100.0", transform=fx, ha="right", va="center", color=colour, family="DejaVu Sans Mono")
        # ---- axes, header, legend -----------------------------------------------
        lo, hi = _limits(values)
        ax.set_xlim(lo, hi)
        ax.set_ylim(0.4, n_rows + 0.8)
        ax.axvline(0.0, color="#555555", lw=0.8, ls=(0, (4, 3)), zorder=1)
        if pooled and pooled[0].get("estimate") is not None:
            ax.axvline(pooled[0]["estimate"], color=COLOURS["python"], lw=0.6, ls=":", zorder=1)
        ax.set_yticks([])
        for sp in ("left", "right", "top"):
            ax.spines[sp].set_visible(False)
        ax.set_xlabel(MEASURES.get(plot.get("measure") or "", plot.get("measure") or "Estimate"))
        hy = n_rows + 0.75
        head = dict(transform=fx, va="bottom", fontweight="bold")
        ax.text(0.012, hy, "Study" if n else "Model", ha="left", **head)
        ax.text(0.615, hy, f"Estimate [{lvl}% CI]", ha="left", **head)
        if any_weight:
            ax.text(0.965, hy + 0.55, "Weight (%)", ha="right", **head)
            ax.text(0.965, hy, _mono(f"{'Python':>6}{'R':>9}"), ha="right", family="DejaVu Sans Mono", **head)
        if title:
            fig.text(0.012, 1 - 0.12 / height, title, ha="left", va="top", fontsize=10.5, fontweight="bold")
        handles = [
            ax.plot([], [], marker="s", color=COLOURS["python"], ls="-", lw=1.1, ms=5)[0],
            ax.plot([], [], marker="o", mfc="white", mec=COLOURS["r"], color=COLOURS["r"], ls="-", lw=1.1, ms=5)[0],
        ]
        names = ["Python", (plot.get("engines") or {}).get("r", "R")]
        if any(s.get("from_data") for s in studies):
            handles.append(ax.plot([], [], marker="s", color=COLOURS["data"], ls="-", lw=1.1, ms=5)[0])
            names.append("study data (input to both)")
        if refs:
            handles.append(ax.plot([], [], marker="D", color=COLOURS["revman"], ls="none", ms=5)[0])
            names.append("reference")
        if any(p.get("pi_lb") is not None for p in diamonds):
            handles.append(ax.plot([], [], color="#444444", ls=(0, (3, 2)), lw=1)[0])
            names.append("prediction interval")
        fig.legend(handles, names, loc="lower left", bbox_to_anchor=(0.005, 0.0), ncol=len(names), frameon=False, fontsize=8)
        if differs_any:
            fig.text(0.99, 0.01, "≠ : the engines differ on this row", ha="right", va="bottom", color=DIFF, fontsize=8)
    return fig


def coefficients(plot: dict, title: str | None = None) -> Figure:
    """Meta-regression coefficients with their CIs, Python and R side by side."""
    coefs = plot.get("coefficients") or []
    n = len(coefs)
    height = 1.1 + 0.34 * n + (0.3 if title else 0)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(10, height))
        top = 1 - (0.45 + (0.3 if title else 0)) / height
        bottom = 0.6 / height
        ax = fig.add_axes((0.27, bottom, 0.33, top - bottom))
        fx = blended_transform_factory(fig.transFigure, ax.transData)
        values = []
        for c in coefs:
            for side in ("python", "r"):
                d = c.get(side) or {}
                values += [d.get("ci_lb"), d.get("ci_ub"), d.get("estimate")]
        dg = _digits(values)
        for i, c in enumerate(coefs):
            y = n - i
            py, r = c.get("python") or {}, c.get("r") or {}
            bad = any(_diff(py.get(k), r.get(k)) for k in ("estimate", "ci_lb", "ci_ub"))
            for side, d, dy in (("python", py, 0.1), ("r", r, -0.1)):
                if d.get("ci_lb") is not None and d.get("ci_ub") is not None:
                    ax.plot([d["ci_lb"], d["ci_ub"]], [y + dy] * 2, color=COLOURS[side], lw=1.2)
                if d.get("estimate") is not None:
                    if side == "python":
                        ax.plot([d["estimate"]], [y + dy], marker="s", ms=6, color=COLOURS[side], ls="none")
                    else:
                        ax.plot([d["estimate"]], [y + dy], marker="o", ms=5, mfc="white", mec=COLOURS[side], mew=1.2, ls="none")
            col = DIFF if bad else "black"
            ax.text(0.012, y, ("≠ " if bad else "") + _clip(str(c.get("name")), 38), transform=fx, ha="left", va="center", color=col)
            ax.text(0.615, y, "Py " + _est_ci(py, dg), transform=fx, ha="left", va="center", color=col)
            ax.text(0.80, y, "R " + _est_ci(r, dg), transform=fx, ha="left", va="center", color=col)
        lo, hi = _limits(values)
        ax.set_xlim(lo, hi)
        ax.set_ylim(0.4, n + 0.7)
        ax.axvline(0.0, color="#555555", lw=0.8, ls=(0, (4, 3)))
        ax.set_yticks([])
        for sp in ("left", "right", "top"):
            ax.spines[sp].set_visible(False)
        ax.set_xlabel("Coefficient")
        ax.text(0.012, n + 0.65, "Coefficient", transform=fx, ha="left", va="bottom", fontweight="bold")
        ax.text(0.615, n + 0.65, f"Estimate [{plot.get('level', 95):g}% CI]", transform=fx, ha="left", va="bottom", fontweight="bold")
        if title:
            fig.text(0.012, 1 - 0.12 / height, title, ha="left", va="top", fontsize=10.5, fontweight="bold")
    return fig


def funnel(plot: dict, title: str | None = None) -> Figure:
    """Funnel plot: effect against standard error (inverted), with the pooled estimate's pseudo-CI."""
    studies = plot.get("studies") or []
    pooled = next((p for p in plot.get("pooled") or [] if p.get("engine") == "python"), None)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(5.2, 4.0))
        ax = fig.add_axes((0.14, 0.13, 0.82, 0.75 if title else 0.82))
        ses = []
        for side, mk in (("python", "o"), ("r", "+")):
            xs = [(s.get(side) or {}).get("yi") for s in studies]
            ys = [(s.get(side) or {}).get("sei") for s in studies]
            pts = [(x, y) for x, y in zip(xs, ys) if x is not None and y is not None]
            ses += [y for _, y in pts]
            if pts:
                kw = dict(color=COLOURS[side], ls="none", label="Python" if side == "python" else (plot.get("engines") or {}).get("r", "R"))
                if side == "python":
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=mk, ms=6, mfc="none", mew=1.2, **kw)
                else:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=mk, ms=7, mew=1.0, **kw)
        smax = max(ses + [1e-12]) * 1.05
        if pooled and pooled.get("estimate") is not None:
            est = pooled["estimate"]
            ax.axvline(est, color=COLOURS["python"], lw=0.9)
            ax.plot([est - 1.959963984540054 * smax, est, est + 1.959963984540054 * smax], [smax, 0, smax], color="#777777", ls=(0, (4, 3)), lw=0.9)
        ax.set_ylim(smax, 0)
        ax.set_ylabel("Standard error")
        ax.set_xlabel(MEASURES.get(plot.get("measure") or "", "Effect size"))
        ax.legend(frameon=False, fontsize=8, loc="lower right")
        if title:
            fig.text(0.02, 0.98, title, ha="left", va="top", fontsize=10, fontweight="bold")
    return fig


def _diff(a, b):
    if a is None or b is None:
        return (a is None) != (b is None)
    return abs(a - b) > 1e-6 * max(abs(a), abs(b), 1e-300)


def _mono(s: str) -> str:
    """Spaces that SVG viewers do not collapse (no-break spaces), for monospaced columns."""
    return s.replace(" ", "\u00a0")


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def encode(fig: Figure, fmt: str = "svg", dpi: int = 110) -> tuple[str, bytes]:
    """(mime type, bytes) of a figure: SVG with text kept as text, or PNG."""
    buf = io.BytesIO()
    with matplotlib.rc_context(RC):
        if fmt == "svg":
            fig.savefig(buf, format="svg", metadata={"Date": None})
            mime = "image/svg+xml"
        else:
            fig.savefig(buf, format="png", dpi=dpi)
            mime = "image/png"
    return mime, buf.getvalue()


def data_uri(fig: Figure, fmt: str = "svg") -> str:
    mime, data = encode(fig, fmt)
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
