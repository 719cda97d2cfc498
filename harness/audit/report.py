"""Terminal rendering of audit results: one table per outcome."""
from __future__ import annotations

import textwrap

from tabulate import tabulate

MARK = {"consistent": "consistent", "inconsistent": "INCONSISTENT", "cannot check": "cannot check"}


def terminal_width() -> int:
    """Columns of the terminal (``$COLUMNS``, else the terminal's size), 100 when not a terminal; at least 80."""
    import shutil

    return max(80, shutil.get_terminal_size((100, 24)).columns)


def grid(rows, headers, width, wrap) -> str:
    """A ``simple_grid`` table at most ``width`` columns wide (when the unwrapped columns leave room):
    the columns in ``wrap`` share the room the others leave and are wrapped into it; the last of
    them takes what the first ones do not need."""
    n = len(headers)
    natural = [max([len(h) + 2] + [len(x) for r in rows for x in (str(r[j]).splitlines() or [""])]) for j, h in enumerate(headers)]
    room = width - (3 * n + 1) - sum(natural[j] for j in range(n) if j not in wrap)  # "│ a │ b │": 3 per column + 1
    last = wrap[-1]
    last_min = max(len(headers[last]) + 2, 20)  # tabulate pads a header by 2
    widths = {}
    for j in wrap[:-1]:  # e.g. the check name: its natural width, at most a third of the room
        widths[j] = max(len(headers[j]) + 2, min(natural[j], room // 3, room - last_min))
        room -= widths[j]
    widths[last] = max(last_min, min(natural[last], room))

    def cell(j, v):
        return "\n".join(textwrap.wrap(str(v), widths[j])) if j in widths else v

    return tabulate([[cell(j, v) for j, v in enumerate(r)] for r in rows], headers=headers, tablefmt="simple_grid", disable_numparse=True)


def render(result, width=None) -> str:
    """One table per outcome, fitting ``width`` columns (default: the terminal's, 100 when piped)."""
    width = width or terminal_width()
    p = result.publication
    out = [f"### {p.path}", *textwrap.wrap(p.citation, width, initial_indent="    ", subsequent_indent="    ")]
    if p.software:
        out += textwrap.wrap(p.software, width, initial_indent="    software: ", subsequent_indent="              ")
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
        out += textwrap.wrap(f"== {o.id}: {o.name} — {o.scale or o.measure} {b.get('estimate')}{ci}{pv} ({'model not stated' if o.model == 'unknown' else o.model}"
                             f"{', ' + o.estimator if o.model == 'random' else ''}; {o.convention} conventions)", width, subsequent_indent="   ")
        rows = []
        for f in fs:
            where = f.outcome[len(o.id):].lstrip("/") or "·"
            rows.append((f.section, where, f.check, MARK[f.verdict], f.reason or ""))
        out.append(grid(rows, ["section", "part", "check", "verdict", "reason"], width, wrap=(2, 4)))
    c = result.counts()
    by = {sec: sum(1 for f in result.findings if f.verdict == "inconsistent" and f.section == sec) for sec in ("reported", "recomputed", "robustness")}
    detail = f" (reported numbers {by['reported']}, recomputation {by['recomputed']}, robustness {by['robustness']})" if c["inconsistent"] else ""
    out += textwrap.wrap(f"{p.path.name}: {len(result.findings)} findings: {c['consistent']} consistent, {c['inconsistent']} inconsistent{detail}, "
                         f"{c['cannot check']} cannot check", width, subsequent_indent="  ")
    return "\n".join(out)


def _short(path: str, base: str | None) -> str:
    import os

    if base:
        try:
            return os.path.relpath(path, base)
        except ValueError:
            pass
    return path


def render_set(aset, width: int = 100) -> str:
    """The summary over a set of audited files: one row per file, analyses by type and status, the largest differences."""
    import os

    from ..reports.terminal import fmt

    rows = aset.file_rows()
    paths = [r["file"] for r in rows]
    base = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths]) if len(paths) > 1 else None
    out = ["=== Summary over all files"]
    table = [("\n".join(textwrap.wrap(_short(os.path.abspath(r["file"]), base), 22, break_on_hyphens=False)), textwrap.fill(r["title"] or "—", 18),
              f"{r['analyses']} ({r['re-verified']})", str(r["agree"]), str(r["explained"]), str(r["differ"]), str(r["errors"]), str(r["not re-verified"]),
              textwrap.fill(r["worst"], 22)) for r in rows]
    out.append(tabulate(table, headers=["file", "review", "analyses\n(re-verif.)", "agree", "expl.", "differ", "errors", "not re-\nverified", "worst difference"],
                        tablefmt="simple", disable_numparse=True))
    by = aset.by_type()
    if by:
        from .batch import STATUS_COLUMNS

        out.append("Analyses of the RevMan files by data type and status:")
        body = [(t, *(str(d[c]) for c in STATUS_COLUMNS), str(sum(d.values()))) for t, d in by.items()]
        body.append(("all", *(str(sum(d[c] for d in by.values())) for c in STATUS_COLUMNS), str(sum(sum(d.values()) for d in by.values()))))
        out.append(tabulate(body, headers=["data type", *STATUS_COLUMNS, "total"], tablefmt="simple", disable_numparse=True))
    worst = aset.worst(10)
    if worst:
        out.append("Largest differences (RevMan's value against the recomputations):")
        out.append(tabulate([(_short(os.path.abspath(f), base), a, q.name, fmt(q.value("revman")), fmt(q.value("python")), fmt(q.value("r")), fmt(q.rel_diff, 2), q.verdict)
                             for f, a, q in worst],
                            headers=["file", "analysis", "quantity", "RevMan", "Python", "R (metafor)", "rel diff", "verdict"], tablefmt="simple", disable_numparse=True))
    return "\n".join(out)
