"""Terminal rendering of audit results: one table per outcome."""
from __future__ import annotations

import textwrap

from tabulate import tabulate

MARK = {"consistent": "consistent", "inconsistent": "INCONSISTENT", "cannot check": "cannot check"}


def render(result, width=100) -> str:
    p = result.publication
    out = [f"### {p.path}", f"    {p.citation}"]
    if p.software:
        out.append(f"    software: {p.software}")
    if p.data_note:
        out += textwrap.wrap(p.data_note, width, initial_indent="    data: ", subsequent_indent="          ")
    if result.engine_note:
        out.append(f"    R engine unavailable: {result.engine_note}")
    for o in p.outcomes:
        fs = [f for f in result.findings if f.outcome == o.id or f.outcome.startswith(o.id + "/")]
        b = o.reported
        ci = f" [{b.ci[0]}, {b.ci[1]}]" if b.ci else ""
        pv = f", p {b.get('p')}" if b.get("p") else ""
        out.append("")
        out.append(f"== {o.id}: {o.name} — {o.scale or o.measure} {b.get('estimate')}{ci}{pv} ({'model not stated' if o.model == 'unknown' else o.model}{', ' + o.estimator if o.model == 'random' else ''}; {o.convention} conventions)")
        rows = []
        for f in fs:
            where = f.outcome[len(o.id):].lstrip("/") or "·"
            rows.append((f.section, where, f.check, MARK[f.verdict], "\n".join(textwrap.wrap(f.reason, 70)) or ""))
        out.append(tabulate(rows, headers=["section", "part", "check", "verdict", "reason"], tablefmt="simple_grid", disable_numparse=True))
    c = result.counts()
    by = {sec: sum(1 for f in result.findings if f.verdict == "inconsistent" and f.section == sec) for sec in ("reported", "recomputed", "robustness")}
    detail = f" (reported numbers {by['reported']}, recomputation {by['recomputed']}, robustness {by['robustness']})" if c["inconsistent"] else ""
    out.append(f"{p.path.name}: {len(result.findings)} findings: {c['consistent']} consistent, {c['inconsistent']} inconsistent{detail}, {c['cannot check']} cannot check")
    return "\n".join(out)
