"""Terminal report: compact tables (tabulate) that fit the terminal (100 columns off a terminal).

By default one summary row per analysis (a table: analysis, kind, verdict,
each engine's pooled estimate [CI], tau^2 and I^2 -- printed once where the
engines agree at the digits shown, on a row per engine where they do not --
and the largest relative difference); long analysis ids wrap within their
column, so every row stays distinguishable. The full per-quantity table
follows for every analysis that does not agree, and for all of them with
``detail=True``. Explanations of explained differences, the engines' errors
and warnings and dropped studies are printed under the analysis's table.

Colour (verdicts green/yellow/red) only when asked for: :func:`use_color`
decides from the stream (a terminal), ``NO_COLOR`` (https://no-color.org: any
non-empty value turns colour off) and ``TERM=dumb``. :class:`Progress` shows
analyses done, rate and time left on a terminal; it stays silent when the
stream is not a terminal or ``CI`` is set (CI logs get no carriage returns).
"""
from __future__ import annotations

import math
import os
import sys
import textwrap
import time

from tabulate import tabulate

WIDTH = 100
#: significant digits of the pooled estimates in the summary table
DIGITS = 4


def terminal_width(stream=None, default: int = WIDTH) -> int:
    """Columns to fill: the terminal's width on a terminal (``COLUMNS`` wins), else ``default``;
    kept between 60 and 250."""
    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit():
        return max(60, min(250, int(cols)))
    stream = stream if stream is not None else sys.stdout
    try:
        if stream.isatty():
            return max(60, min(250, os.get_terminal_size(stream.fileno()).columns))
    except (AttributeError, ValueError, OSError):
        pass
    return default

GREEN, YELLOW, RED, DIM, BOLD, RESET = "\033[32m", "\033[33m", "\033[31m", "\033[2m", "\033[1m", "\033[0m"
VERDICT_COLOUR = {"agree": GREEN, "explained": YELLOW, "differ": RED, "missing": RED, "engine-error": RED, "warning": YELLOW}


def fmt(x, digits=10):
    """A number for a table: ``—`` for absent, ``NaN``, ``inf``, else ``digits`` significant digits."""
    if x is None:
        return "—"
    if isinstance(x, str):
        return x
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def use_color(stream=None, mode: str = "auto") -> bool:
    """Whether to colour output on ``stream``: ``always``/``never``, or ``auto`` (a terminal, no NO_COLOR)."""
    if mode == "always":
        return True
    if mode == "never":
        return False
    if os.environ.get("NO_COLOR", "") != "" or os.environ.get("TERM") == "dumb":
        return False
    stream = stream if stream is not None else sys.stdout
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _c(text, code, color):
    return f"{code}{text}{RESET}" if color and code else text


def verdict(v, color=False):
    return _c(v, VERDICT_COLOUR.get(v, ""), color)


def clip(s: str, n: int) -> str:
    """Shorten ``s`` to ``n`` characters, keeping its end (study labels end in the informative part)."""
    s = str(s)
    if len(s) <= n:
        return s
    if n <= 1:
        return s[:n]
    keep = n - 1
    head = keep // 2
    return s[:head] + "…" + s[len(s) - (keep - head):]


def _fit(rows, headers, flex: int, width: int):
    """Clip column ``flex`` so the tabulated table fits ``width`` columns."""
    # tabulate makes each column at least its header + 2 wide (MIN_PADDING) and separates columns by 2 spaces
    others = [max([len(str(headers[j])) + 2] + [len(str(r[j])) for r in rows]) for j in range(len(headers)) if j != flex]
    room = width - sum(others) - 2 * (len(headers) - 1)
    room = max(room, len(str(headers[flex])) + 2, 10)
    return [tuple(clip(v, room) if j == flex else v for j, v in enumerate(r)) for r in rows]


def analysis_table(a, color=False, width=WIDTH, records=None) -> str:
    """The per-quantity table of one analysis (quantity, both values, differences, verdict).

    ``records`` restricts it to some of the analysis's records (default: all).
    """
    recs = a.records if records is None else records
    rows = [(r.name, fmt(r.python), fmt(r.r), fmt(r.abs_diff, 2), fmt(r.rel_diff, 2), r.verdict) for r in recs]
    headers = ["quantity", "Python", "R", "abs diff", "rel diff", "verdict"]
    rows = _fit(rows, headers, 0, width)
    if color:
        rows = [(*r[:-1], verdict(r[-1], True)) for r in rows]
    return tabulate(rows, headers=headers, disable_numparse=True)


def pooled_numbers(a) -> dict:
    """Each engine's pooled estimate, CI, tau^2 and I^2 of an analysis (:func:`harness.reports.plotdata.pooled_numbers`)."""
    from .plotdata import pooled_numbers as numbers

    return numbers(getattr(a, "plot", None), a.records)


def _est(v, digits=DIGITS) -> str:
    est, lb, ub = v[:3]
    if est is None:
        return "—"
    return f"{fmt(est, digits)} [{fmt(lb, digits)}, {fmt(ub, digits)}]"


def summary_table(run, color=False, width=WIDTH) -> str:
    """One row per analysis: id, kind, verdict, both engines' pooled estimate [CI], tau^2, I^2, largest relative difference.

    The engines' numbers are printed once (engines "both") where they agree
    at the digits shown, else on a row each ("Py", then "R"); analysis ids wrap
    within their column to fit ``width`` (on a narrow terminal the kind
    column goes, then a digit)."""
    longest = max((len(a.id) for a in run.analyses), default=0)
    for digits, with_kind, need in ((DIGITS, True, 24), (DIGITS - 1, True, 20), (DIGITS - 1, False, 0)):
        rows, headers = _summary_rows(run, digits, with_kind)
        # tabulate makes a column at least its header + 2 wide and puts 2 spaces between columns
        others = [max([len(h) + 2] + [len(str(r[j])) for r in rows]) for j, h in enumerate(headers) if j]
        room = width - sum(others) - 2 * (len(headers) - 1)
        if room >= min(need, longest):
            break
    room = max(room, 10)
    rows = [(_wrap_id(r[0], room), *r[1:]) for r in rows]
    vcol = headers.index("verdict")
    if color:
        rows = [tuple(verdict(c, True) if j == vcol and c else c for j, c in enumerate(r)) for r in rows]
    align = tuple("right" if h in ("estimate [CI]", "τ²", "I² %", "rel diff") else "left" for h in headers)
    return tabulate(rows, headers=headers, disable_numparse=True, colalign=align)


def _summary_rows(run, digits, with_kind):
    rows = []
    for a in run.analyses:
        w = a.worst()
        cells = {side: (_est(v, digits), fmt(v[3], digits), fmt(v[4], digits)) for side, v in pooled_numbers(a).items()}
        rel = fmt(w.rel_diff, 2) if w else "—"
        kind = (a.kind,) if with_kind else ()
        if cells["python"] == cells["r"]:
            rows.append((a.id, *kind, a.verdict, "both", *cells["python"], rel))
        else:
            rows.append((a.id, *kind, a.verdict, "Py", *cells["python"], rel))
            rows.append(("", *("",) * len(kind), "", "R", *cells["r"], ""))
    headers = ["analysis", *(["kind"] if with_kind else []), "verdict", "eng.", "estimate [CI]", "τ²", "I² %", "rel diff"]
    return rows, headers


def _wrap_id(aid: str, room: int) -> str:
    """An analysis id in lines of at most ``room`` characters, broken after a hyphen where it can be."""
    if len(aid) <= room:
        return aid
    return "\n".join(textwrap.wrap(aid, room, break_on_hyphens=True, break_long_words=True))


def _notes(a, width):
    out = []
    wrap = lambda s, ind="   ": textwrap.fill(s, width=width, initial_indent=ind, subsequent_indent=ind + "  ")  # noqa: E731
    if a.python_error:
        out.append(wrap(f"Python error: {a.python_error}"))
    if a.r_error:
        out.append(wrap(f"R error: {a.r_error}"))
    for side, ws in (("Python", a.python_warnings), ("R", a.r_warnings)):
        for msg in ws:
            out.append(wrap(f"{side} warning: {msg}"))
    for d in getattr(a, "dropped", ()):  # studies left out before both engines ran ([dataset] na = "omit")
        out.append(wrap(f"dropped study {d['study']!r} (line {d['line']}): {d['reason']}"))
    seen = set()
    for r in a.records:
        if r.verdict != "agree" and r.explanation and r.verdict != "engine-error" and (r.verdict, r.explanation) not in seen:
            seen.add((r.verdict, r.explanation))
            out.append(wrap(f"{r.verdict} {r.name}: {r.explanation}"))
    return out


def render(run, detail=False, color=False, width=WIDTH, max_rows=40) -> str:
    """The whole terminal report of a :class:`~harness.verify.VerifyRun`.

    The summary table always; then, with ``detail``, every analysis's full
    per-quantity table; without it, for each analysis that does not agree,
    its errors, warnings and explanations and the table of the quantities that
    do not agree (at most ``max_rows`` rows; the JSON report has them all).
    An analysis where an engine failed shows the failure, not a table of
    values that were never compared.
    """
    out = []
    if run.r_unavailable:
        out.append(_c(f"R engine unavailable: {run.r_unavailable}", RED, color))
    if run.analyses:
        out.append(summary_table(run, color, width))
        out.append("")
    for a in run.analyses:
        if not (detail or not a.ok or getattr(a, "dropped", None)):  # dropped studies are always shown
            continue
        tail = f" [{a.kind}] {a.verdict}"
        out.append(_c(f"── {clip(a.id, width - 3 - len(tail))} [{a.kind}] ", BOLD, color) + verdict(a.verdict, color))
        out.extend(_notes(a, width))
        if detail:
            out.append(analysis_table(a, color, width))
        elif a.verdict == "engine-error":
            out.append(f"   {len(a.records)} quantities not compared (the engine failed)")
        else:
            bad = [r for r in a.records if r.verdict != "agree"]
            if bad:  # an analysis shown for its dropped studies may agree everywhere: no empty table
                out.append(analysis_table(a, color, width, records=bad[:max_rows]))
            more = len(bad) - max_rows
            n_ok = len(a.records) - len(bad)
            tail = []
            if more > 0:
                tail.append(f"{more} more not agreeing (--json has every record)")
            if n_ok:
                tail.append(f"{n_ok} {'other ' if bad else ''}quantities agree (--detail shows them)")
            if tail:
                out.append("   " + "; ".join(tail))
        out.append("")
    vl = versions_line(run)
    if vl:
        out.append(vl)
    out.append(summary_line(run, color, width))
    return "\n".join(out)


def versions_line(run) -> str:
    """Which R releases ran, and which metafor release's conventions the Python side followed."""
    conv = getattr(run, "conventions", None) or {}
    r = (getattr(run, "engines", None) or {}).get("r") or {}
    lines = []
    if r:
        pk = ", ".join(f"{p} {r[p]}" for p in ("metafor", "robumeta", "clubSandwich") if r.get(p))
        lines.append(clip(f"R {r.get('R', '?')}: {pk}", WIDTH))
    if conv.get("metafor"):
        why = "the R engine's release" if conv.get("source") == "R engine" else "the default, no R engine"
        tested = "" if conv.get("supported", True) else "; an untested release"
        lines.append(clip(f"Python side: metafor {conv['metafor']}'s conventions ({why}{tested})", WIDTH))
    return "\n".join(lines)


def _worst(run, verdict):
    """Largest relative difference among records with ``verdict``, over values with
    |R| >= 1e-8 (below that a value is zero up to rounding and atol decides)."""
    best = None
    for a in run.analyses:
        for r in a.records:
            if r.verdict != verdict or r.rel_diff is None or math.isnan(r.rel_diff) or r.r is None or abs(r.r) < 1e-8:
                continue
            if best is None or r.rel_diff > best.rel_diff:
                best = r
    return best


def summary_line(run, color=False, width=WIDTH) -> str:
    """Counts, then the largest relative difference among agreeing quantities (and,
    separately, among explained ones, whose size is expected)."""
    c = run.counts()
    parts = [f"{c['agree']} agree"]
    if c["explained"]:
        parts.append(f"{c['explained']} explained")
    parts.append(f"{c['differ'] + c['missing'] + c['warning']} differ")
    parts.append(f"{c['engine-error']} errors")
    line = f"{len(run.analyses)} analyses, {run.n_quantities} quantities: {', '.join(parts)}"
    agree, expl = _worst(run, "agree"), _worst(run, "explained")
    extra = []
    if agree:
        extra.append(f"largest rel diff where agreeing {fmt(agree.rel_diff, 2)} ({agree.name})")
    if expl:
        extra.append(f"where explained {fmt(expl.rel_diff, 2)} ({expl.name})")
    tail = "; ".join(extra)
    if tail and len(line) + 2 + len(tail) <= width:
        line = f"{line}; {tail}"
    elif tail:  # keep within the width: the differences on a line of their own, counts last
        line = f"{tail}\n{line}"
    if color:
        line = _c(line, GREEN if run.ok else RED, True)
    return line


class Progress:
    """``done/total analyses, rate, time left`` on one terminal line (stderr); silent elsewhere.

    Call it as ``progress(done, total, *_)`` after each analysis (the
    ``progress`` callback of :func:`harness.verify.verify`). Enabled when the
    stream is a terminal and ``CI`` is unset, unless forced with ``enabled``.
    """

    def __init__(self, stream=None, enabled: bool | None = None, unit: str = "analyses", width: int = WIDTH):
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            try:
                enabled = self.stream.isatty() and not os.environ.get("CI")
            except (AttributeError, ValueError):
                enabled = False
        self.enabled = bool(enabled)
        self.unit = unit
        self.width = width
        self.t0 = time.monotonic()
        self.shown = False

    def line(self, done: int, total: int, now: float | None = None, label: str = "") -> str:
        secs = (now if now is not None else time.monotonic()) - self.t0
        rate = done / secs if secs > 0 else 0.0
        left = (total - done) / rate if rate > 0 else float("nan")
        eta = "—" if math.isnan(left) else f"{int(left // 60)}:{int(left % 60):02d}"
        pct = 100.0 * done / total if total else 100.0
        s = f"{done}/{total} {self.unit} ({pct:3.0f}%)  {rate:.1f}/s  {eta} left"
        if label:
            s += f"  {label}"
        return s[: self.width - 1]

    def __call__(self, done: int, total: int, item=None, *rest) -> None:
        label = getattr(item, "id", "") if item is not None else ""
        self.show(done, total, str(label))
        if done >= total:
            self.close()

    def show(self, done: int, total: int, label: str = "") -> None:
        """Write the line for ``done`` of ``total`` with ``label`` (e.g. the item or a count) after it."""
        if not self.enabled:
            return
        self.stream.write("\r\033[K" + self.line(done, total, label=label))
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.enabled and self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.shown = False
