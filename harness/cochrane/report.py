"""Terminal report of a re-verified review: one table per review, then details of what differs."""
from __future__ import annotations

import textwrap

from tabulate import tabulate

from ..reports.terminal import fmt


def _names(names, limit=6) -> str:
    """Quantity names, grouped by block: 'overall.* (11), study[*].WEIGHT (3)'."""
    groups: dict[str, int] = {}
    for n in names:
        prefix, q = n.rsplit(".", 1)
        key = "study[*]." + q if prefix.startswith("study[") else prefix + ".*"
        groups[key] = groups.get(key, 0) + 1
    items = [f"{k} ({v})" for k, v in groups.items()]
    return ", ".join(items[:limit]) + (f", … ({len(items) - limit} more)" if len(items) > limit else "")


def _worst(a) -> str:
    if a.status != "re-verified":
        return a.reason or ""
    bad = a.worst(3)
    if bad:
        return "; ".join(f"{c.name} (rel {fmt(c.rel_diff, 2)})" if c.verdict == "differ" else f"{c.name}: {c.verdict}" for c in bad)
    n_expl = sum(c.verdict == "explained" for c in a.records)
    hidden = f", {len(a.not_displayed)} not displayed ({a.totals and 'TOTALS=' + a.totals})" if a.not_displayed else ""
    return f"{len(a.records)} quantities" + (f", {n_expl} explained" if n_expl else "") + hidden


def _change(c) -> str:
    sv, pv = c.value("revman"), c.value("python")
    if sv is None or pv is None or pv != pv:
        return "—"
    ref = -sv if (c.name.endswith(".Z") and pv < 0) else sv  # RevMan stores |Z|
    return f"{pv - ref:+.4g}"


def _row(c):
    return (c.name, fmt(c.value("revman")), fmt(c.value("python")), fmt(c.value("r")), fmt(c.rel_diff, 2), c.verdict)


def render(result, detail: bool = False, width: int | None = None) -> str:
    """The review's table and the details of what differs, fitting ``width`` columns (default: the
    terminal's, 100 when piped)."""
    from ..audit.report import grid, terminal_width

    width = width or terminal_width()
    out = [f"### {result.path}" + (f" — {result.title}" if result.title else ""), f"    RevMan {'5 file (.rm5, full precision)' if result.fmt == 'rm5' else 'analysis-data export (CSV, printed digits)'}; preset: {result.preset}"]
    if result.r_unavailable:
        out.append(f"    R engine unavailable: {result.r_unavailable}")
    for p in result.problems:
        out += textwrap.wrap(p, width, initial_indent="    problem: ", subsequent_indent="             ")
    rows = []
    for a in result.analyses:
        rows.append((a.id, a.name or "—", "\n".join(textwrap.wrap(a.data_type, 14) + [f"{a.measure} {a.model}".strip()]), str(a.k) if a.status == "re-verified" else "", a.verdict, _worst(a)))
    out.append(grid(rows, ["analysis", "name", "type", "studies", "verdict", "details"], width, wrap=(1, 5)))
    for a in result.analyses:
        lines = []
        for p in a.problems:
            lines.append(f"   problem: {p}")
        for n in a.notes:
            lines.append(f"   note: {n}")
        for f in a.lint:
            lines.append(f"   lint [{f.code}] {f.study}" + (f" (line {f.line})" if f.line else "") + f": {f.message}")
        preset_run = result.preset != "RevMan 5"
        show = detail or preset_run or (a.status == "re-verified" and not a.ok)
        if a.not_displayed:
            lines += textwrap.wrap(f"{a.not_displayed_reason}: {_names(a.not_displayed)}", width, initial_indent="   ", subsequent_indent="     ")
        if show and a.records and preset_run:
            lines.append(tabulate([_row(c) + (_change(c),) for c in a.records],
                                  headers=["quantity", "RevMan 5 (stored)", "Python", "R (metafor)", "rel diff Py/R", "verdict", f"change under {result.preset}"], disable_numparse=True))
        elif show and a.records:
            cs = a.records if detail else [c for c in a.records if c.verdict not in ("agree",)]
            lines.append(tabulate([_row(c) for c in cs],
                                  headers=["quantity", "RevMan", "Python", "R (metafor)", "rel diff", "verdict"], disable_numparse=True))
            for c in cs:
                if c.explanation and c.verdict != "agree":
                    lines += textwrap.wrap(f"{c.name}: {c.explanation}", width, initial_indent="   · ", subsequent_indent="     ")
        if lines:
            out.append(f"-- {a.id} {a.name}")
            out += lines
    for e in result.errors:
        out += textwrap.wrap(e, width, initial_indent="    error: ", subsequent_indent="           ")
    for col in _precision_lines(result):
        out.append(col)
    s = result.summary()
    rs = result.reasons()
    reasons = "; ".join(f"{v} {k}" for k, v in rs["not_re_verified"].items())
    errors = "; ".join(f"{v} {k}" for k, v in rs["errors"].items())
    out += textwrap.wrap(
        f"{s['analyses']} analyses: {s['re_verified']} re-verified ({s['agreeing']} agree, {s['explained']} agree with explained quirks, {s['differing']} differ), "
        f"{s['not_re_verified']} not re-verified" + (f" ({reasons})" if reasons else "")
        + (f", {s['errors']} error{'s' if s['errors'] != 1 else ''} ({errors})" if s["errors"] else "")
        + f"; {s['quantities']} quantities compared" + (f", {s['not_displayed']} not displayed" if s["not_displayed"] else "")
        + f"; {s['lint_findings']} lint findings", width, subsequent_indent="  ")
    return "\n".join(out)


def _precision_lines(result) -> list[str]:
    """One line on how the export's numbers are printed (CSV only): the format and any column that differs."""
    if not result.precision:
        return []
    cols = list(result.precision.values())
    main = max({(c.kind, c.digits, c.source) for c in cols}, key=lambda k: sum((c.kind, c.digits, c.source) == k for c in cols))
    line = f"    export precision: computed values printed with {main[1]} {'decimals' if main[0] == 'decimals' else 'significant digits'}, trailing zeros dropped"
    line += " (RevMan 5's format, assumed: no cell shows its precision)" if main[2] == "assumed" else f" (established over {sum(c.informative for c in cols)} cells of the export)"
    out = [line]
    for c in cols:
        if (c.kind, c.digits, c.source) != main:
            out.append(f"      {c.column}: {c.describe()}")
    return out
