"""The forest plot of the project, in RevMan 5's layout: one module draws them all.

The verify HTML report, the audit HTML of Cochrane reviews and ``fit.forest()``
in the Python API all describe their plot with the plain frozen dataclasses
below (no harness objects: any caller can fill them) and call :func:`draw`
(a matplotlib :class:`~matplotlib.figure.Figure`) or :func:`to_svg` (compact
SVG text for a report).

Data model
----------
``ForestStudy(label, estimate, ci_lb, ci_ub, weight=None, columns=(), differs=None)``
    one study row. ``estimate`` and the CI on the scale the axis shows: the
    natural scale for ratio measures (``log_scale=True`` makes the axis
    logarithmic, as RevMan draws OR/RR). ``estimate=None`` prints "Not
    estimable". ``weight`` in percent. ``columns`` are extra text cells
    (e.g. events/total per arm, mean/SD/N), headed by
    ``ForestPlot.column_headers``. ``differs``: see "Two series" below.
``ForestPooled(label, estimate, ci_lb, ci_ub, weight=None, heterogeneity=None, overall=None, pi_lb=None, pi_ub=None, columns=(), differs=None)``
    a diamond (a subtotal or the total) and the lines RevMan prints under it:
    ``heterogeneity`` ("Heterogeneity: Tau² = 0.02; Chi² = 5.31, df = 4
    (P = 0.26); I² = 25%") and ``overall`` ("Test for overall effect:
    Z = 2.53 (P = 0.01)"), made with :func:`heterogeneity_text` and
    :func:`overall_text`. A prediction interval, when given, is drawn as a
    dashed line through the diamond. ``columns``: text cells of the row
    (e.g. the total numbers of participants).
``ForestGroup(title, studies, subtotal=None)``
    a subgroup: its title row, its studies, its subtotal diamond. A single
    group with ``title=None`` is a plot without subgroups.
``ForestPlot(groups, overall=None, subgroup_test=None, measure="", log_scale=False, favours=None, column_headers=(), title=None, series=None, model="", level=95.0, digits=2, notes=(), label_header="Study or Subgroup")``
    ``measure``: RevMan's name of the effect measure, or its code (``"MD"``
    is printed "Mean Difference"); ``model`` e.g. ``"IV, Random"`` for the
    header "Mean Difference / IV, Random, 95% CI"; ``favours`` =
    ``("Favours [experimental]", "Favours [control]")``, printed under the
    axis left and right of the line of no effect; ``subgroup_test`` the line
    "Test for subgroup differences: Chi² = ..., df = ... (P = ...), I² = ...%"
    (:func:`subgroup_test_text`); ``series`` names what the numbers are
    (e.g. ``"RevMan"``: the legend of a two-series plot); ``digits`` the
    decimals of the printed estimates; ``notes`` footnote lines under the
    plot; ``label_header`` the first column's header. A ``column_headers``
    entry may hold a newline (two header lines).

Lists given for tuple fields are converted to tuples; non-finite numbers
become ``None`` (nothing drawn, "Not estimable" printed).

Two series side by side
-----------------------
``draw(plot, other)`` draws a second :class:`ForestPlot` of the same shape
(the same groups and studies: e.g. RevMan's stored values and the recomputed
ones, or Python and R) as a second marker on every row, slightly below the
first, in a second colour (open circles, open diamonds), with its own
estimate and weight columns, and a legend that names exactly the two series
drawn (``labels``; default the plots' ``series``, else "RevMan" and
"recomputed"). A row whose numbers differ between the series by more than
``differ_rtol`` (relative) is labelled in red with "≠" -- unless the caller
compared the two series itself and says so on the row (``differs=True`` or
``False`` on either series' row: then that decides, e.g. a comparison with
each stored number's own precision; the caller's ``notes`` say what "≠"
means, with ``differ_rtol=None``). A text line under a
diamond that reads the same for both series is printed once; one that
differs is printed for each, prefixed by its series' name.

Layout
------
RevMan 5's (Higgins & Green (eds), Cochrane Handbook 5.1, section 11.3.2,
"Forest plots in RevMan"): study labels and extra columns on the left, then
"Weight", then the estimate with its CI as text, then the plot: per study a
square whose area is proportional to its weight and its CI as a line (an
arrow where the CI leaves the axis range); per subgroup its title, its
studies, "Subtotal (95% CI)" with a diamond (its width the CI) and the
heterogeneity and overall-effect lines; then "Total (95% CI)", its lines, and
the test for subgroup differences; the axis symmetric about the line of no
effect (0, or 1 on a log axis), with the "Favours" labels under it.

Numbers in the text lines are printed as RevMan 5 prints them (Deeks &
Higgins, "Statistical algorithms in Review Manager 5", 2010, and the printed
forest plots of the Cochrane Database of Systematic Reviews): Tau², Chi² and
Z with two decimals, df as an integer, I² as a whole percentage (the
subgroup test's I² with one decimal), P with two decimals, or one significant
digit below 0.01, and "P < 0.00001" below 0.00001.

Rendering
---------
The layout is computed once, as a list of drawing primitives in inches
(text, lines, squares, diamonds, circles). :func:`draw` renders them with
matplotlib; :func:`to_svg` of a plot writes them as SVG directly: text stays
text (no embedded fonts), coordinates rounded to 0.1 pt, the CI lines of a
series one path. Written directly because matplotlib's SVG of the same
figure is about three times larger (a group, a clip path and a full style
per text) and takes about a second per plot, which for the hundreds of
plots of a verify report is minutes and megabytes. Text widths come from
matplotlib's metrics of the font drawn (DejaVu Sans).

matplotlib is imported inside the functions: importing this module is cheap
(the command line starts fast).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from html import escape

__all__ = [
    "ForestStudy", "ForestPooled", "ForestGroup", "ForestPlot",
    "draw", "to_svg", "p_text", "heterogeneity_text", "overall_text", "subgroup_test_text", "measure_name",
]


# ---- data model ----------------------------------------------------------------------
def _tuples(obj, *names):
    for n in names:
        v = getattr(obj, n)
        if v is not None and not isinstance(v, tuple):
            object.__setattr__(obj, n, tuple(v))


def _floats(obj, *names):
    for n in names:
        v = getattr(obj, n)
        if v is not None:
            v = float(v)
            object.__setattr__(obj, n, v if math.isfinite(v) else None)


@dataclass(frozen=True)
class ForestStudy:
    label: str
    estimate: float | None
    ci_lb: float | None
    ci_ub: float | None
    weight: float | None = None
    columns: tuple = ()
    differs: bool | None = None

    def __post_init__(self):
        _tuples(self, "columns")
        _floats(self, "estimate", "ci_lb", "ci_ub", "weight")


@dataclass(frozen=True)
class ForestPooled:
    label: str
    estimate: float | None
    ci_lb: float | None
    ci_ub: float | None
    weight: float | None = None
    heterogeneity: str | None = None
    overall: str | None = None
    pi_lb: float | None = None
    pi_ub: float | None = None
    columns: tuple = ()
    differs: bool | None = None
    #: text cells of the "Total events" row RevMan prints under a dichotomous subtotal or total, under ``columns``
    #: (e.g. ``("287", "", "299", "")`` beneath events/total per group); empty: no such row
    events: tuple = ()

    def __post_init__(self):
        _tuples(self, "columns", "events")
        _floats(self, "estimate", "ci_lb", "ci_ub", "weight", "pi_lb", "pi_ub")


@dataclass(frozen=True)
class ForestGroup:
    title: str | None
    studies: tuple
    subtotal: ForestPooled | None = None

    def __post_init__(self):
        _tuples(self, "studies")


@dataclass(frozen=True)
class ForestPlot:
    groups: tuple
    overall: ForestPooled | None = None
    subgroup_test: str | None = None
    measure: str = ""
    log_scale: bool = False
    favours: tuple | None = None
    column_headers: tuple = ()
    title: str | None = None
    series: str | None = None
    model: str = ""
    level: float = 95.0
    digits: int = 2
    notes: tuple = ()
    label_header: str = "Study or Subgroup"

    def __post_init__(self):
        _tuples(self, "groups", "favours", "column_headers", "notes")
        if self.favours is not None and len(self.favours) != 2:
            raise ValueError("ForestPlot.favours must be two labels (left and right of the line of no effect)")

    @property
    def studies(self) -> tuple:
        return tuple(s for g in self.groups for s in g.studies)

    @property
    def diamonds(self) -> tuple:
        return tuple(d for d in [g.subtotal for g in self.groups] + [self.overall] if d is not None)


# ---- RevMan's number formats -----------------------------------------------------------
def _dec(x: float, d: int) -> str:
    s = f"{x:.{d}f}"
    return s[1:] if s.startswith("-") and float(s) == 0 else s  # never "-0.00"


def p_text(p: float | None) -> str:
    """``P = 0.26``, ``P = 0.003``, ``P = 0.0006``, ``P < 0.00001``: RevMan 5's P values.

    Two decimals from 0.01 up; below that one significant digit (a value
    that rounds up to the next power of ten takes fewer decimals: 0.0096 is
    "P = 0.01"); below 0.00001, "P < 0.00001".
    """
    if p is None or not math.isfinite(p):
        return "P = NA"
    if p < 0.00001:
        return "P < 0.00001"
    d = 2 if p >= 0.01 else min(5, -math.floor(math.log10(p)))
    while d > 2 and round(p, d) >= 10.0 ** (1 - d):
        d -= 1
    return f"P = {_dec(min(p, 1.0), d)}"


def _i2(i2, one_decimal: bool) -> str:
    if i2 is None or not math.isfinite(i2):
        return "NA"
    i2 = max(0.0, float(i2))
    if one_decimal and round(i2, 1) != 0:
        return f"{i2:.1f}%"
    return f"{i2:.0f}%"


def _df(df) -> str:
    return str(int(round(df))) if abs(df - round(df)) < 1e-9 else _dec(df, 2)


def _ok(x) -> bool:
    return x is not None and math.isfinite(x)


def heterogeneity_text(tau2, chi2, df, p, i2) -> str:
    """RevMan's heterogeneity line: ``Heterogeneity: Tau² = 0.02; Chi² = 5.31, df = 4 (P = 0.26); I² = 25%``.

    ``tau2=None`` for a fixed-effect analysis (RevMan prints no Tau² there);
    ``i2`` in percent; ``p=None`` leaves out "(P = ...)". No test (one study:
    ``chi2=None`` or ``df`` < 1): "Heterogeneity: Not applicable", as RevMan
    prints it. A model that reports Tau² and I² without a Chi² test (robust
    variance estimation: ``chi2=None, df=None``) gets "Heterogeneity:
    Tau² = 0.05; I² = 40%".
    """
    if chi2 is None and df is None and (_ok(tau2) or _ok(i2)):
        parts = ([f"Tau² = {_dec(tau2, 2)}"] if _ok(tau2) else []) + ([f"I² = {_i2(i2, False)}"] if _ok(i2) else [])
        return f"Heterogeneity: {'; '.join(parts)}"
    if not _ok(chi2) or not _ok(df) or df < 1:
        return "Heterogeneity: Not applicable"
    head = f"Tau² = {_dec(tau2, 2)}; " if _ok(tau2) else ""
    ptxt = f" ({p_text(p)})" if _ok(p) else ""
    i2txt = f"; I² = {_i2(i2, False)}" if _ok(i2) else ""
    return f"Heterogeneity: {head}Chi² = {_dec(chi2, 2)}, df = {_df(df)}{ptxt}{i2txt}"


def overall_text(z, p, stat: str = "Z", df=None) -> str:
    """``Test for overall effect: Z = 2.53 (P = 0.01)`` (RevMan prints |Z|).

    ``stat="t"`` with ``df`` for a t test (Knapp-Hartung, robust variance
    estimation): ``Test for overall effect: t = 2.10, df = 9.31 (P = 0.06)``.
    """
    if not _ok(z):
        return "Test for overall effect: Not applicable"
    dtxt = f", df = {_df(df)}" if _ok(df) else ""
    ptxt = f" ({p_text(p)})" if _ok(p) else ""
    return f"Test for overall effect: {stat} = {_dec(abs(z), 2)}{dtxt}{ptxt}"


def subgroup_test_text(chi2, df, p, i2) -> str:
    """``Test for subgroup differences: Chi² = 1.41, df = 2 (P = 0.49), I² = 0%`` (I² with one decimal, as RevMan prints it)."""
    if not _ok(chi2) or not _ok(df) or df < 1:
        return "Test for subgroup differences: Not applicable"
    return f"Test for subgroup differences: Chi² = {_dec(chi2, 2)}, df = {_df(df)} ({p_text(p)}), I² = {_i2(i2, True)}"


#: RevMan 5's names of its effect measures (by the codes metafor and RevMan's files use)
MEASURE_NAMES = {
    "MD": "Mean Difference", "SMD": "Std. Mean Difference", "RR": "Risk Ratio", "OR": "Odds Ratio",
    "RD": "Risk Difference", "PETO_OR": "Peto Odds Ratio", "HR": "Hazard Ratio", "ROM": "Ratio of Means",
    "SMDH": "Std. Mean Difference (heteroscedastic)", "GEN": "Effect size", "IV": "Effect size",
}


def measure_name(measure: str) -> str:
    """RevMan's name of a measure code (``"MD"`` -> ``"Mean Difference"``); other text as given."""
    if not measure:
        return "Effect size"
    return MEASURE_NAMES.get(str(measure).upper().replace(" ", "_"), str(measure))


# ---- layout: primitives in inches ---------------------------------------------------------
SERIES_COLOURS = ("#1f4e99", "#d9730d")
DIFF = "#c62828"
GREY = "#555555"
FAMILY = "DejaVu Sans"
SIZE = 8.0  # points
ROW = 0.19  # inches per row
GAP = 0.14  # inches between columns
PANEL = 2.5  # width of the plot panel, inches
MAX_LABEL = 70  # characters of a study label (longer ones keep both ends)
#: symmetric log-axis scales as RevMan offers them: (upper limit, ticks)
LOG_SCALES = (
    (2.0, (0.5, 0.7, 1, 1.5, 2)), (5.0, (0.2, 0.5, 1, 2, 5)), (10.0, (0.1, 0.2, 0.5, 1, 2, 5, 10)),
    (100.0, (0.01, 0.1, 1, 10, 100)), (1000.0, (0.001, 0.1, 1, 10, 1000)),
)


@dataclass(frozen=True)
class Text:
    x: float
    y: float  # baseline
    s: str
    anchor: str = "start"  # start | middle | end
    bold: bool = False
    colour: str = "#000000"
    size: float = SIZE
    rotate: float = 0.0  # degrees, counter-clockwise (an axis title)


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    colour: str = "#000000"
    lw: float = 0.6  # points
    dash: tuple | None = None  # points on, off


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str


@dataclass(frozen=True)
class Poly:
    points: tuple
    fill: str
    edge: str | None = None
    lw: float = 0.0
    behind: bool = False  # drawn below the lines (a CI band), not above them (a diamond, an arrow)


@dataclass(frozen=True)
class Circle:
    x: float
    y: float
    r: float
    fill: str
    edge: str
    lw: float
    alpha: float = 1.0


class Canvas:
    def __init__(self):
        self.items: list = []
        self.width = 0.0
        self.height = 0.0

    def text(self, x, y_centre, s, anchor="start", bold=False, colour="#000000", size=SIZE, valign="centre", rotate=0.0):
        """A text (one line per newline); ``y_centre`` the middle of the first line's digits, or its top.
        Control characters (a mis-encoded label) are shown as U+FFFD, never written into the SVG."""
        s = _CONTROL.sub("\ufffd", str(s))
        lines = s.split("\n")
        up = 0.36 * size / 72 if valign == "centre" else 0.76 * size / 72
        if rotate:  # a vertical axis title: the baseline to the right of x
            self.items.append(Text(x + up, y_centre, str(s), anchor, bold, colour, size, rotate))
            return
        for i, line in enumerate(lines):
            self.items.append(Text(x, y_centre + up + i * 1.18 * size / 72, line, anchor, bold, colour, size))

    def add(self, item):
        self.items.append(item)


_CONTROL = __import__("re").compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


class TextWidths:
    """Text widths in inches from the font's advance widths (matplotlib's metrics of DejaVu Sans), per character, cached."""

    _cache: dict = {}

    def __init__(self):
        self.props = None
        self._strings: dict = {}

    def _char(self, ch, bold):
        key = (ch, bold)
        w = TextWidths._cache.get(key)
        if w is None:
            from matplotlib.font_manager import FontProperties
            from matplotlib.textpath import TextToPath

            if self.props is None:
                self.props = {b: FontProperties(family=FAMILY, size=SIZE, weight="bold" if b else "normal") for b in (False, True)}
                self.t2p = TextToPath()
            # "x" + ch + "x" minus "xx": the advance of ch, whitespace included (a glyph the font
            # lacks is drawn by the viewer's fallback font: its width here is the font's missing-glyph box)
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                w3 = self.t2p.get_text_width_height_descent("x" + ch + "x", self.props[bold], ismath=False)[0]
            w2 = self.t2p.get_text_width_height_descent("xx", self.props[bold], ismath=False)[0]
            w = (w3 - w2) / 72.0 / SIZE  # per point of font size
            TextWidths._cache[key] = w
        return w

    def __call__(self, s, bold=False, size=SIZE) -> float:
        key = (s, bold)
        w = self._strings.get(key)
        if w is None:
            w = 0.0
            for line in str(s).split("\n"):
                t = 0.0
                for c in line:
                    a = _TextWidthsCache.get((c, bold))
                    t += a if a is not None else self._char(c, bold)
                w = max(w, t)
            self._strings[key] = w
        return w * size


_TextWidthsCache = TextWidths._cache


def _clip(s: str, n: int = MAX_LABEL) -> str:
    s = str(s)
    if len(s) <= n:
        return s
    head = (n - 1) // 2
    return s[:head] + "…" + s[len(s) - (n - 1 - head):]


def _est_text(e, digits) -> str:
    if e is None or e.estimate is None:
        return "Not estimable"
    lb = "—" if e.ci_lb is None else _dec(e.ci_lb, digits)
    ub = "—" if e.ci_ub is None else _dec(e.ci_ub, digits)
    return f"{_dec(e.estimate, digits)} [{lb}, {ub}]"


def _weight_text(w) -> str:
    return "" if w is None else f"{w:.1f}%"


def _check_shape(a: ForestPlot, b: ForestPlot):
    if len(a.groups) != len(b.groups) or any(len(x.studies) != len(y.studies) for x, y in zip(a.groups, b.groups)):
        raise ValueError("the second series must have the same groups and studies as the first (one marker per row each)")
    if (a.overall is None) != (b.overall is None) or any((x.subtotal is None) != (y.subtotal is None) for x, y in zip(a.groups, b.groups)):
        raise ValueError("the second series must have the same subtotals and total as the first")


def _differs(x, y, rtol) -> bool:
    flags = [e.differs for e in (x, y) if e is not None and e.differs is not None]
    if flags:  # the caller compared the two series itself (e.g. with each number's own tolerance)
        return any(flags)
    if rtol is None or x is None or y is None:
        return False
    for k in ("estimate", "ci_lb", "ci_ub"):
        a, b = getattr(x, k), getattr(y, k)
        if (a is None) != (b is None):
            return True
        if a is not None and abs(a - b) > rtol * max(abs(a), abs(b), 1e-300):
            return True
    return False


def _scale(series, log):
    """(value -> axis units, limit M, [(tick, label)]): symmetric about the line of no effect, as RevMan draws it."""
    f = (lambda v: math.log10(v) if v is not None and v > 0 else None) if log else (lambda v: v)
    pts, cis = [], []
    for p in series:
        for s in p.studies:
            pts.append(f(s.estimate))
            cis += [f(s.ci_lb), f(s.ci_ub)]
        for d in p.diamonds:
            pts += [f(d.estimate), f(d.ci_lb), f(d.ci_ub)]
            cis += [f(d.pi_lb), f(d.pi_ub)]
    pts = [abs(v) for v in pts if v is not None and math.isfinite(v)]
    cis = [abs(v) for v in cis if v is not None and math.isfinite(v)]
    ext_pts = max(pts, default=0.0)
    ext = max(pts + cis, default=0.0)
    if ext_pts > 0:  # a very wide CI is clipped (with an arrow) rather than squashing every other row
        ext = min(ext, 3.0 * ext_pts)
    if log:
        for m, ticks in LOG_SCALES:
            if math.log10(m) >= ext * (1 - 1e-12):
                return f, math.log10(m), [(math.log10(t), f"{t:g}") for t in ticks]
        m = 10.0 ** math.ceil(ext)
        return f, math.log10(m), [(math.log10(t), f"{t:g}") for t in (1 / m, 1, m)]
    ext = ext or 1.0
    k = math.floor(math.log10(ext))
    for c in (1, 2, 4, 5, 10):
        m = c * 10.0**k
        if m >= ext * (1 - 1e-12):
            break
    return f, m, [(t, f"{t:g}") for t in (-m, -m / 2, 0.0, m / 2, m)]


def _text_rows(items, attrs, labels):
    """Text lines under a diamond (or the plot): once when both series print the same, else each, labelled."""
    out = []
    for a in attrs:
        vals = [getattr(it, a, None) if it is not None else None for it in items]
        if not any(vals):
            continue
        if len(vals) == 1 or len(set(vals)) == 1:
            out.append(("text", ("#000000", vals[0])))
        else:
            for i, v in enumerate(vals):
                if v:
                    out.append(("text", (SERIES_COLOURS[i], f"{labels[i]}: {v}")))
    return out


def layout(plot: ForestPlot, other: ForestPlot | None = None, labels=None, differ_rtol: float | None = 1e-6) -> Canvas:
    """The plot as drawing primitives in inches (y downwards), for :func:`draw` and :func:`to_svg`."""
    if other is not None:
        _check_shape(plot, other)
        labels = tuple(labels) if labels else (plot.series or "RevMan", other.series or "recomputed")
    series = [plot] if other is None else [plot, other]
    two = other is not None
    W = TextWidths()
    cv = Canvas()
    digits = plot.digits
    ci_label = f"{plot.level:g}% CI"
    model = f"{plot.model}, " if plot.model else ""

    # ---- rows, top to bottom ---------------------------------------------------------------
    rows: list[tuple] = []
    for gi, g in enumerate(plot.groups):
        if g.title is not None:
            rows.append(("title", g.title))
        for si, _ in enumerate(g.studies):
            rows.append(("study", [p.groups[gi].studies[si] for p in series]))
        if g.subtotal is not None:
            subs = [p.groups[gi].subtotal for p in series]
            rows.append(("pooled", subs))
            rows += [("events", subs[0])] if subs[0].events else []
            rows += _text_rows(subs, ("heterogeneity", "overall"), labels)
        if g.title is not None and (gi < len(plot.groups) - 1 or plot.overall is not None):
            rows.append(("blank", None))
    if plot.overall is not None:
        tots = [p.overall for p in series]
        rows.append(("pooled", tots))
        rows += [("events", tots[0])] if tots[0].events else []
        rows += _text_rows(tots, ("heterogeneity", "overall"), labels)
    rows += _text_rows(series, ("subgroup_test",), labels)

    # ---- columns (inches) ---------------------------------------------------------------------
    indent = 0.06 if any(g.title is not None for g in plot.groups) else 0.0
    pooled_rows = [r[1][0] for r in rows if r[0] == "pooled"]
    label_w = max([W(_clip(s.label)) + indent for s in plot.studies] + [W(d.label, True) for d in pooled_rows]
                  + [W(plot.label_header, True), 0.9])
    ncol = max([len(s.columns) for s in plot.studies] + [max(len(d.columns), len(d.events)) for d in pooled_rows] + [len(plot.column_headers)])
    col_w = []
    for j in range(ncol):
        cells = [W(str(s.columns[j])) for s in plot.studies if j < len(s.columns)]
        cells += [W(str(d.columns[j]), True) for d in pooled_rows if j < len(d.columns)]
        cells += [W(str(d.events[j])) for d in pooled_rows if j < len(d.events)]
        head = plot.column_headers[j] if j < len(plot.column_headers) else ""
        col_w.append(max(cells + [W(head, True), 0.2]))
    has_w = [any(s.weight is not None for s in p.studies) or any(d.weight is not None for d in p.diamonds) for p in series]
    w_head = ["Weight" for _ in series]  # two series: told apart by colour, named in the legend and the estimate headers
    weight_w = [max(W(w_head[i], True), W("100.0%", True)) if has_w[i] else 0.0 for i in range(len(series))]
    est_head = [f"{labels[0]}\n{model}{ci_label}", f"{labels[1]}\n{ci_label}"] if two else [f"{measure_name(plot.measure)}\n{model}{ci_label}"]
    est_w = []
    for i, p in enumerate(series):
        ests = [W(_est_text(s, digits)) for s in p.studies] + [W(_est_text(r[1][i], digits), True) for r in rows if r[0] == "pooled"]
        est_w.append(max(ests + [W(est_head[i], True)]))
    text_w = max([W(r[1][1]) + 0.06 for r in rows if r[0] == "text"] + [0.0])  # notes go under the axis: the width at the end
    x_label = 0.08
    x = x_label + label_w + GAP
    x_cols = []
    for w in col_w:
        x_cols.append(x + w)  # right-aligned cells
        x += w + GAP
    x_weight = []
    for w in weight_w:
        x_weight.append(x + w if w else None)
        x += (w + GAP) if w else 0.0
    x_est = []
    for w in est_w:
        x_est.append(x)
        x += w + GAP
    x = max(x, x_label + text_w + GAP)  # the lines under the diamonds end before the panel
    x_panel = x + 0.05
    panel_head = f"{measure_name(plot.measure)}\n{model}{ci_label}"
    cv.width = x_panel + max(PANEL, W(panel_head, True)) + 0.12
    if plot.favours:
        cv.width = max(cv.width, x_panel + PANEL / 2 + 0.08 + W(plot.favours[1]) + 0.1)
    if plot.title:  # a title wider than the plot widens it (an SVG cuts off what leaves its width)
        cv.width = max(cv.width, x_label + W(plot.title, True, size=10) + 0.1)

    # ---- vertical positions --------------------------------------------------------------------
    title_h = 0.28 if plot.title else 0.0
    y_head = 0.1 + title_h  # top of the header
    y0 = y_head + 2 * 1.18 * SIZE / 72 + 0.1  # first row's top
    ys = [y0 + (i + 0.5) * ROW for i in range(len(rows))]
    y_axis = y0 + len(rows) * ROW + 0.08

    f, m, ticks = _scale(series, plot.log_scale)

    def X(v):  # axis units -> inches
        return x_panel + (v + m) / (2 * m) * PANEL

    def clip(v):
        t = f(v)
        if t is None:
            return None, False
        return max(-m, min(m, t)), abs(t) > m * (1 + 1e-12)

    # ---- header ------------------------------------------------------------------------------
    if plot.title:
        cv.text(x_label, 0.1, plot.title, bold=True, size=10, valign="top")
    def head(x_, s, anchor="start", colour="#000000"):
        n = s.count("\n")
        cv.text(x_, y_head + (1 - n) * 1.18 * SIZE / 72, s, anchor=anchor, bold=True, colour=colour, valign="top")
    head(x_label, plot.label_header)
    for j, xr in enumerate(x_cols):
        if j < len(plot.column_headers):
            head(xr, plot.column_headers[j], "end")
    for i, xr in enumerate(x_weight):
        if xr is not None:
            head(xr, w_head[i], "end", SERIES_COLOURS[i] if two else "#000000")
    for i, xe in enumerate(x_est):
        head(xe, est_head[i], "start", SERIES_COLOURS[i] if two else "#000000")
    head(x_panel + PANEL / 2, panel_head, "middle")
    cv.add(Line(x_label, y0 - 0.04, cv.width - 0.08, y0 - 0.04, lw=0.6))

    # ---- rows ------------------------------------------------------------------------------------
    dy = [0.0] if not two else [-0.045, 0.045]
    weights = [s.weight for s in plot.studies if s.weight is not None]
    maxw = max(weights + [1e-300])
    any_diff = False
    for (kind, payload), y in zip(rows, ys):
        if kind == "title":
            cv.text(x_label, y, _clip(payload, 2 * MAX_LABEL), bold=True)
        elif kind == "text":
            cv.text(x_label + indent, y, payload[1], colour=payload[0])
        elif kind == "events":
            cv.text(x_label, y, "Total events")
            for j, c in enumerate(payload.events):
                if c:
                    cv.text(x_cols[j], y, str(c), anchor="end")
        elif kind in ("study", "pooled"):
            pooled = kind == "pooled"
            bad = two and _differs(payload[0], payload[1], differ_rtol)
            any_diff |= bad
            col = DIFF if bad else "#000000"
            label = payload[0].label if pooled else _clip(payload[0].label)
            cv.text(x_label + (0 if pooled else indent), y, ("≠ " if bad else "") + label, bold=pooled, colour=col)
            for j, c in enumerate(payload[0].columns):
                cv.text(x_cols[j], y, str(c), anchor="end", bold=pooled, colour=col)
            for i, e in enumerate(payload):
                c_i = SERIES_COLOURS[i] if two else col
                if x_weight[i] is not None:
                    cv.text(x_weight[i], y, _weight_text(e.weight), anchor="end", bold=pooled, colour=c_i)
                cv.text(x_est[i], y, _est_text(e, digits), bold=pooled, colour=c_i)
                yy = y + dy[i]
                colour = SERIES_COLOURS[i]
                if pooled:
                    _diamond(cv, e, yy, i, two, X, clip)
                    continue
                lb, lcl = clip(e.ci_lb)
                ub, ucl = clip(e.ci_ub)
                line_col = colour if two else "#000000"
                if lb is not None and ub is not None:
                    cv.add(Line(X(lb), yy, X(ub), yy, line_col, 0.8))
                    for v, cl, sign in ((lb, lcl, -1), (ub, ucl, 1)):
                        if cl:
                            cv.add(Poly(((X(v) + sign * 0.06, yy), (X(v), yy - 0.035), (X(v), yy + 0.035)), line_col))
                est, out = clip(e.estimate)
                if est is None or out:
                    continue
                if i == 0:
                    side = 0.05 + 0.075 * math.sqrt(max(e.weight, 0.0) / maxw) if e.weight is not None and weights else 0.08
                    if two:
                        side = min(side, 0.085)
                    cv.add(Rect(X(est) - side / 2, yy - side / 2, side, side, colour))
                else:
                    cv.add(Circle(X(est), yy, 0.03, "#ffffff", colour, 1.0))

    # ---- the line of no effect, the axis, its ticks, the favours labels ---------------------------
    cv.add(Line(X(0.0), y0, X(0.0), y_axis, lw=0.6))
    cv.add(Line(X(-m), y_axis, X(m), y_axis, lw=0.6))
    for t, lab in ticks:
        cv.add(Line(X(t), y_axis, X(t), y_axis + 0.04, lw=0.6))
        cv.text(X(t), y_axis + 0.05, lab, anchor="middle", valign="top")
    yb = y_axis + 0.24
    if plot.favours:
        cv.text(X(0.0) - 0.08, yb, plot.favours[0], anchor="end", valign="top")
        cv.text(X(0.0) + 0.08, yb, plot.favours[1], valign="top")
        yb += 0.2
    any_pi = any(d.pi_lb is not None and d.pi_ub is not None for p in series for d in p.diamonds)
    if two or any_pi:
        yl = yb + 0.1
        lx = x_label
        if two:
            for i, name in enumerate(labels):
                if i == 0:
                    cv.add(Rect(lx, yl - 0.035, 0.07, 0.07, SERIES_COLOURS[0]))
                else:
                    cv.add(Circle(lx + 0.035, yl, 0.03, "#ffffff", SERIES_COLOURS[1], 1.0))
                cv.text(lx + 0.12, yl, name)
                lx += 0.12 + W(name) + 0.25
        if any_pi:
            cv.add(Line(lx, yl, lx + 0.3, yl, GREY, 0.9, (3.0, 2.0)))
            cv.text(lx + 0.36, yl, "prediction interval")
        yb = yl + 0.12
    notes = list(plot.notes)
    if two and differ_rtol is not None and any_diff:
        notes.append(f"≠ : the two series differ on this row (relative difference > {differ_rtol:g})")
    for n in notes:
        cv.text(x_label, yb + 0.08, n, colour=DIFF if n.startswith("≠") else GREY, size=7.5)
        yb += 0.15
    cv.height = yb + 0.1
    cv.width = max(cv.width, x_label + max([W(n, size=7.5) for n in notes] + [0.0]) + 0.1)
    return cv


def _diamond(cv, d, yy, i, two, X, clip):
    if d.pi_lb is not None and d.pi_ub is not None:
        pl, _ = clip(d.pi_lb)
        pu, _ = clip(d.pi_ub)
        if pl is not None and pu is not None:
            cv.add(Line(X(pl), yy, X(pu), yy, SERIES_COLOURS[i] if two else GREY, 0.9, (3.0, 2.0)))
    lb, _ = clip(d.ci_lb)
    ub, _ = clip(d.ci_ub)
    e, _ = clip(d.estimate)
    if None in (lb, ub, e):
        return
    h = 0.04 if two else 0.055
    pts = ((X(lb), yy), (X(e), yy - h), (X(ub), yy), (X(e), yy + h))
    if i == 0:
        cv.add(Poly(pts, SERIES_COLOURS[0] if two else "#000000"))
    else:
        cv.add(Poly(pts, "#ffffff", SERIES_COLOURS[1], 1.0))


# ---- renderers -------------------------------------------------------------------------------------
def draw(plot: ForestPlot, other: ForestPlot | None = None, labels=None, differ_rtol: float | None = 1e-6):
    """The forest plot as a matplotlib Figure (its size in inches follows the content).

    ``other``: a second series of the same shape, drawn beside the first (see
    the module docstring); ``labels`` names the two series in the legend.
    """
    return canvas_figure(layout(plot, other, labels, differ_rtol))


def canvas_figure(cv: Canvas):
    """A matplotlib Figure of drawing primitives (inches, y downwards)."""
    import matplotlib
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle as MplCircle, Polygon, Rectangle

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "metaharness", "font.family": FAMILY}):
        fig = Figure(figsize=(cv.width, cv.height))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, cv.width)
        ax.set_ylim(cv.height, 0)
        ax.set_axis_off()
        lines: dict = {}
        for it in cv.items:
            if isinstance(it, Text):
                ax.text(it.x, it.y, it.s, ha={"start": "left", "middle": "center", "end": "right"}[it.anchor], va="baseline",
                        fontsize=it.size, fontweight="bold" if it.bold else "normal", color=it.colour, clip_on=False, rotation=it.rotate, rotation_mode="anchor")
            elif isinstance(it, Line):
                lines.setdefault((it.colour, it.lw, it.dash), []).append([(it.x1, it.y1), (it.x2, it.y2)])
            elif isinstance(it, Rect):
                ax.add_patch(Rectangle((it.x, it.y), it.w, it.h, facecolor=it.fill, edgecolor="none", zorder=3, clip_on=False))
            elif isinstance(it, Poly):
                ax.add_patch(Polygon(it.points, closed=True, facecolor=it.fill, edgecolor=it.edge or "none", lw=it.lw, zorder=1 if it.behind else 4, clip_on=False))
            elif isinstance(it, Circle):
                ax.add_patch(MplCircle((it.x, it.y), it.r, facecolor=it.fill, edgecolor=it.edge, lw=it.lw, zorder=5, clip_on=False, alpha=it.alpha))
        for (colour, lw, dash), segs in lines.items():
            ls = (0, dash) if dash else "solid"
            ax.add_collection(LineCollection(segs, colors=colour, linewidths=lw, linestyles=[ls], capstyle="butt", zorder=2, clip_on=False))
    return fig


def _n(v: float) -> str:
    """A coordinate in points, 0.1 pt precision, shortest text."""
    s = f"{v:.1f}"
    if s.endswith(".0"):
        s = s[:-2]
    return "0" if s == "-0" else s


def canvas_svg(cv: Canvas) -> str:
    P = 72.0  # points per inch
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="forest-plot" width="{_n(cv.width * P)}pt" height="{_n(cv.height * P)}pt" '
           f'viewBox="0 0 {_n(cv.width * P)} {_n(cv.height * P)}" font-family="{FAMILY}, Verdana, sans-serif" font-size="{SIZE:g}">',
           f'<rect width="100%" height="100%" fill="#ffffff"/>']
    lines: dict = {}
    rects: dict = {}
    for it in cv.items:
        if isinstance(it, Poly) and it.behind:
            out.append(_poly_svg(it, P))
    for it in cv.items:
        if isinstance(it, Line):
            x1, y1, x2, y2 = (_n(v * P) for v in (it.x1, it.y1, it.x2, it.y2))
            seg = f"M{x1} {y1}" + (f"H{x2}" if y1 == y2 else f"V{y2}" if x1 == x2 else f"L{x2} {y2}")
            lines.setdefault((it.colour, it.lw, it.dash), []).append(seg)
        elif isinstance(it, Rect):
            rects.setdefault(it.fill, []).append(f"M{_n(it.x * P)} {_n(it.y * P)}h{_n(it.w * P)}v{_n(it.h * P)}h-{_n(it.w * P)}z")
    for (colour, lw, dash), segs in lines.items():
        da = f' stroke-dasharray="{_n(dash[0])} {_n(dash[1])}"' if dash else ""
        out.append(f'<path d="{"".join(segs)}" fill="none" stroke="{colour}" stroke-width="{lw:g}"{da}/>')
    for fill, paths in rects.items():
        out.append(f'<path d="{"".join(paths)}" fill="{fill}"/>')
    for it in cv.items:
        if isinstance(it, Poly) and not it.behind:
            out.append(_poly_svg(it, P))
        elif isinstance(it, Circle):
            op = f' fill-opacity="{it.alpha:g}"' if it.alpha != 1 else ""
            out.append(f'<circle cx="{_n(it.x * P)}" cy="{_n(it.y * P)}" r="{_n(it.r * P)}" fill="{it.fill}"{op} stroke="{it.edge}" stroke-width="{it.lw:g}"/>')
    for it in cv.items:
        if isinstance(it, Text) and it.s:
            attrs = f'x="{_n(it.x * P)}" y="{_n(it.y * P)}"'
            if it.anchor != "start":
                attrs += f' text-anchor="{it.anchor}"'
            if it.bold:
                attrs += ' font-weight="bold"'
            if it.colour != "#000000":
                attrs += f' fill="{it.colour}"'
            if it.size != SIZE:
                attrs += f' font-size="{it.size:g}"'
            if it.rotate:
                attrs += f' transform="rotate({-it.rotate:g} {_n(it.x * P)} {_n(it.y * P)})"'
            out.append(f"<text {attrs}>{escape(it.s, quote=False)}</text>")
    out.append("</svg>")
    return "".join(out)


def _poly_svg(it: Poly, P: float) -> str:
    d = "M" + "L".join(f"{_n(x * P)} {_n(y * P)}" for x, y in it.points) + "Z"
    stroke = f' stroke="{it.edge}" stroke-width="{it.lw:g}"' if it.edge else ""
    return f'<path d="{d}" fill="{it.fill}"{stroke}/>'


def compact_svg(svg: str) -> str:
    """matplotlib's SVG made smaller for a report (used for the plots drawn by matplotlib):
    no XML header, comments or metadata, coordinates rounded to 0.1 pt, no indentation.
    Text between tags (the plot's words and numbers) is left exactly as drawn."""
    import re

    num = re.compile(r"-?\d+\.\d+")
    svg = re.sub(r"<!--.*?-->|<metadata>.*?</metadata>|<\?xml[^>]*\?>|<!DOCTYPE[^>]*>", "", svg, flags=re.S)
    svg = re.sub(r"<[^>]+>", lambda m: num.sub(lambda n: _n(float(n.group(0))), m.group(0)), svg)
    svg = re.sub(r">\s+<", "><", svg)
    svg = re.sub(r"\s*\n\s*", " ", svg)
    return svg.strip()


def to_svg(fig_or_plot, other: ForestPlot | None = None, labels=None, differ_rtol: float | None = 1e-6) -> str:
    """Compact SVG text: of a :class:`ForestPlot` (written directly, see "Rendering" above), or of any matplotlib Figure."""
    if isinstance(fig_or_plot, ForestPlot):
        return canvas_svg(layout(fig_or_plot, other, labels, differ_rtol))
    import io

    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "metaharness"}):
        fig_or_plot.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    return compact_svg(buf.getvalue())


# ---- plain dicts (JSON) ------------------------------------------------------------------------------
def to_dict(plot: ForestPlot) -> dict:
    """A plot as plain dicts and lists (JSON-ready); :func:`from_dict` reads it back."""
    from dataclasses import asdict

    def lists(v):
        if isinstance(v, (tuple, list)):
            return [lists(x) for x in v]
        if isinstance(v, dict):
            return {k: lists(x) for k, x in v.items()}
        return v

    return lists(asdict(plot))


def from_dict(d: dict) -> ForestPlot:
    """The :class:`ForestPlot` of :func:`to_dict`'s form (e.g. read back from a JSON report)."""
    def pooled(x):
        return None if x is None else ForestPooled(**x)

    groups = [ForestGroup(g.get("title"), [ForestStudy(**s) for s in g.get("studies", [])], pooled(g.get("subtotal"))) for g in d.get("groups", [])]
    known = {f.name for f in fields(ForestPlot)} - {"groups", "overall"}
    return ForestPlot(groups, overall=pooled(d.get("overall")), **{k: v for k, v in d.items() if k in known})
