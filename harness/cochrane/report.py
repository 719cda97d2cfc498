"""Terminal report of a re-verified review: one table per review, then details of what differs."""
from __future__ import annotations

import textwrap

from tabulate import tabulate

from ..reports.terminal import fmt


def _worst(a) -> str:
    if a.status != "re-verified":
        return a.reason or ""
    bad = a.worst(3)
    if bad:
        return "; ".join(f"{c.name} (rel {fmt(c.rel_diff, 2)})" if c.verdict == "differ" else f"{c.name}: {c.verdict}" for c in bad)
    n_expl = sum(c.verdict == "explained" for c in a.checks)
    return f"{len(a.checks)} quantities" + (f", {n_expl} explained" if n_expl else "")


def _change(c) -> str:
    if c.revman is None or c.python is None or c.python != c.python:
        return "—"
    ref = -c.revman if (c.name.endswith(".Z") and c.python < 0) else c.revman  # RevMan stores |Z|
    return f"{c.python - ref:+.4g}"


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
        if show and a.checks and preset_run:
            lines.append(tabulate([(c.name, fmt(c.revman), fmt(c.python), fmt(c.r), fmt(c.rel_diff, 2), c.verdict, _change(c)) for c in a.checks],
                                  headers=["quantity", "RevMan 5 (stored)", "Python", "R (metafor)", "rel diff Py/R", "verdict", f"change under {result.preset}"], disable_numparse=True))
        elif show and a.checks:
            cs = a.checks if detail else [c for c in a.checks if c.verdict not in ("agree",)]
            lines.append(tabulate([(c.name, fmt(c.revman), fmt(c.python), fmt(c.r), fmt(c.rel_diff, 2), c.verdict) for c in cs],
                                  headers=["quantity", "RevMan", "Python", "R (metafor)", "rel diff", "verdict"], disable_numparse=True))
            for c in cs:
                if c.explanation and c.verdict != "agree":
                    lines += textwrap.wrap(f"{c.name}: {c.explanation}", width, initial_indent="   · ", subsequent_indent="     ")
        if lines:
            out.append(f"-- {a.id} {a.name}")
            out += lines
    s = result.summary()
    rs = result.reasons()
    reasons = "; ".join(f"{v} {k}" for k, v in rs["not_re_verified"].items())
    errors = "; ".join(f"{v} {k}" for k, v in rs["errors"].items())
    out += textwrap.wrap(
        f"{s['analyses']} analyses: {s['re_verified']} re-verified ({s['agreeing']} agree, {s['explained']} agree with explained quirks, {s['differing']} differ), "
        f"{s['not_re_verified']} not re-verified" + (f" ({reasons})" if reasons else "")
        + (f", {s['errors']} unreadable ({errors})" if s["errors"] else "")
        + f"; {s['quantities']} quantities compared; {s['lint_findings']} lint findings", width, subsequent_indent="  ")
    return "\n".join(out)
