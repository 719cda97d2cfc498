"""Terminal report: a table per analysis (tabulate) and one summary line."""
from __future__ import annotations

import math

from tabulate import tabulate


def fmt(x, digits=10):
    if x is None:
        return "—"
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def analysis_table(a) -> str:
    rows = [(r.name, fmt(r.python), fmt(r.r), fmt(r.abs_diff, 2), fmt(r.rel_diff, 2), r.verdict) for r in a.records]
    return tabulate(rows, headers=["quantity", "Python", "R", "abs diff", "rel diff", "verdict"], disable_numparse=True)


def render(run, detail=True) -> str:
    out = []
    if run.r_unavailable:
        out.append(f"R engine unavailable: {run.r_unavailable}")
    for a in run.analyses:
        w = a.worst()
        head = f"== {a.id} [{a.kind}] {a.verdict}" + (f" (largest rel diff {fmt(w.rel_diff, 2)} in {w.name})" if w else "")
        out.append(head)
        if a.python_error:
            out.append(f"   Python error: {a.python_error}")
        if a.r_error:
            out.append(f"   R error: {a.r_error}")
        for side, ws in (("Python", a.python_warnings), ("R", a.r_warnings)):
            for msg in ws:
                out.append(f"   {side} warning: {msg}")
        if detail or not a.ok:
            out.append(analysis_table(a))
        out.append("")
    out.append(summary_line(run))
    return "\n".join(out)


def summary_line(run) -> str:
    c = run.counts()
    worst = max((a.worst() for a in run.analyses if a.worst() is not None), key=lambda r: r.rel_diff, default=None)
    extra = f"; largest rel diff {fmt(worst.rel_diff, 2)}" if worst else ""
    parts = [f"{c['agree']} agree"]
    if c["explained"]:
        parts.append(f"{c['explained']} explained")
    parts.append(f"{c['differ'] + c['missing'] + c['warning']} differ")
    parts.append(f"{c['engine-error']} errors")
    return f"{len(run.analyses)} analyses, {run.n_quantities} quantities: {', '.join(parts)}{extra}"
