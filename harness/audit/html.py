"""The HTML report of ``metaharness audit``: one self-contained page for a set of audited files.

:func:`render` takes the JSON document of the command
(:meth:`harness.audit.batch.AuditSet.to_dict`), so a saved ``--json`` file can
be rendered again. Layout: the headline — the very counts of the command's
last line and exit status (consistent, inconsistent, cannot check, errors) —
then one row per file, the analyses by data type and status and the largest
differences; then per file its problems, the export's precision, its
analyses, and per re-verified analysis its forest plot in RevMan's layout and
a table of every compared quantity (RevMan's stored value, the Python and the
R recomputation, the relative difference, the tolerance, the verdict and the
explanation), what RevMan stored but does not display (TOTALS), notes and lint
findings. Published-results files show their findings. Styles and badges are
the project's report styles (:mod:`harness.reports.html`).

Forest plots. Each is drawn by the shared module :mod:`harness.reports.forest`
from the analysis's plain-data description
(:mod:`harness.cochrane.forestdata`, the ``forest`` key of the JSON): RevMan's
stored values and the Python recomputation as two series side by side, studies
under their subgroups, subtotal and total diamonds with the heterogeneity and
overall-effect lines, the test for subgroup differences, the file's "Favours"
labels, a log axis for ratio measures, only what the analysis's ``TOTALS``
displays. A row is marked "≠" where the comparison layer's verdict (each number
at the precision RevMan stored it with) is ``differ`` or ``missing``; the
metafor values are in the table.

Size. A plot is compact inline SVG (text stays text). Within each file the
analyses that need attention come first, then the explained ones, then those
that agree; the plots and tables of the first two are in the page, those of
agreeing analyses are stored compressed (:mod:`harness.reports.lazy`) and
unpacked by a few lines of script when the reader opens the analysis, or all
at once through the link ``#open-all``; a link to an analysis (``#a-...``)
opens it. The JSON
description of the plots is not repeated in the page.
"""
from __future__ import annotations

import datetime as _dt
from html import escape
from pathlib import Path

from ..reports import lazy
from ..reports.html import CSS, _badge, _num, generic_table

EXTRA_CSS = """
td.expl { max-width: 460px; font-size: 12px; color: #3d4752; }
details.analysis > summary { cursor: pointer; font-weight: 600; padding: 4px 0; }
p.hidden { color: var(--mut); font-size: 12px; }
figure.forest { overflow-x: auto; margin: 10px 0; } figure.forest svg { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
"""

#: order of the analysis sections within a file: what needs attention first, then explained, then agreeing
SECTION_ORDER = {"error": 0, "engine-error": 0, "differ": 1, "missing": 2, "explained": 5, "agree": 6}
_STATUS_BAD = ("inconsistent", "error", "errors")


def _anchor(*parts) -> str:
    return "a-" + "-".join("".join(ch if ch.isalnum() else "_" for ch in str(p)) for p in parts)


def _tol(t) -> str:
    if not t:
        return "—"
    rtol, atol = t.get("rtol") or 0.0, t.get("atol") or 0.0
    bits = []
    if atol:
        bits.append(f"± {_num(atol, 2)}")
    if rtol:
        bits.append(f"{_num(rtol, 2)} rel")
    return " + ".join(bits) or "exact"


def _headline(doc) -> str:
    s = doc.get("summary") or {}
    bad = (s.get("inconsistent") or 0) + (s.get("error") or 0) + bool(doc.get("interrupted"))
    cls = "bad" if bad else "ok"
    return f'<div class="banner {cls}">{escape(doc.get("headline") or "")}</div>'


def _counts(s: dict) -> str:
    return '<div class="counts">' + "".join(f'<div class="count"><b>{_num(v)}</b><span>{escape(str(k))}</span></div>' for k, v in s.items()) + "</div>"


def _summary(doc) -> str:
    out = ['<section id="summary"><h2>Summary</h2>', _headline(doc), _counts(doc.get("summary") or {})]
    files = doc.get("files") or []
    rows = []
    for f in files:
        name = f.get("path") or f.get("file") or "?"
        s = f.get("summary") or {}
        if f.get("kind") == "cochrane-review":
            rows.append({"file": name, "review": f.get("title") or "—", "format": f.get("format"), "analyses": s.get("analyses"), "re-verified": s.get("re_verified"),
                         "agree": s.get("agreeing"), "explained": s.get("explained"), "differ": s.get("differing"), "errors": s.get("errors"),
                         "not re-verified": s.get("not_re_verified"),
                         "verdict": "error" if s.get("errors") else "inconsistent" if s.get("inconsistent") else "consistent" if s.get("re_verified") else "cannot check"})
        elif f.get("kind") in ("unreadable", "failed"):
            rows.append({"file": name, "review": "—", "format": "—", "errors": 1, "verdict": "error", "problem": f.get("error")})
        else:
            rows.append({"file": name, "review": f.get("citation") or "—", "format": "published results", "findings": sum(v for v in s.values() if isinstance(v, int)),
                         "consistent": s.get("consistent"), "inconsistent": s.get("inconsistent"), "cannot check": s.get("cannot check"),
                         "verdict": "inconsistent" if s.get("inconsistent") else "consistent"})
    if rows:
        head = ["file", "review", "format", "analyses", "re-verified", "agree", "explained", "differ", "errors", "not re-verified", "findings", "consistent", "inconsistent", "cannot check", "verdict", "problem"]
        head = [h for h in head if any(h in r for r in rows)]
        body = []
        for r in rows:
            cells = []
            for h in head:
                v = r.get(h)
                if h == "file":
                    cells.append(f'<td><a href="#{_anchor(v)}">{escape(_short(v))}</a></td>')
                elif h == "verdict":
                    cells.append(f"<td>{_badge(v)}</td>")
                elif isinstance(v, (int, float)) or v is None:
                    cells.append(f'<td class="num">{"" if v is None else _num(v)}</td>')
                else:
                    cells.append(f"<td>{escape(str(v))}</td>")
            body.append(f'<tr class="v-{escape(str(r.get("verdict")))}">{"".join(cells)}</tr>')
        out.append("<h3>Files</h3><table class=\"files\"><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>" + "".join(body) + "</table>")
    by = doc.get("by_type") or {}
    if by:
        cols = list(next(iter(by.values())).keys())
        body = "".join(f"<tr><td>{escape(t)}</td>" + "".join(f'<td class="num">{d.get(c, 0)}</td>' for c in cols) + f'<td class="num">{sum(d.values())}</td></tr>' for t, d in by.items())
        out.append("<h3>Analyses of the RevMan files by data type and status</h3><table class=\"by-type\"><tr><th>data type</th>"
                   + "".join(f"<th>{escape(c)}</th>" for c in cols) + "<th>total</th></tr>" + body + "</table>")
    worst = doc.get("worst") or []
    if worst:
        body = "".join(
            f'<tr class="v-{escape(str(w.get("verdict")))}"><td><a href="#{_anchor(w.get("file"), w.get("analysis"))}">{escape(_short(w.get("file")))} {escape(str(w.get("analysis")))}</a></td>'
            f'<td>{escape(str(w.get("name")))}</td><td class="num">{_num(w.get("revman"))}</td><td class="num">{_num(w.get("python"))}</td><td class="num">{_num(w.get("r"))}</td>'
            f'<td class="num">{_num(w.get("rel_diff"), 2)}</td><td>{_badge(w.get("verdict"))}</td></tr>' for w in worst)
        out.append("<h3>Largest differences</h3><table class=\"worst\"><tr><th>analysis</th><th>quantity</th><th>RevMan</th><th>Python</th><th>R (metafor)</th><th>rel diff</th><th>verdict</th></tr>" + body + "</table>")
    out.append("</section>")
    return "\n".join(out)


def quantity_table(qs: list) -> str:
    """Every compared quantity of one analysis, readable: no raw dicts."""
    head = "<tr><th>quantity</th><th>RevMan</th><th>Python</th><th>R (metafor)</th><th>rel diff</th><th>tolerance</th><th>verdict</th><th>explanation</th></tr>"
    body = []
    for q in qs:
        v = str(q.get("verdict"))
        body.append(
            f'<tr class="v-{escape(v)}"><td>{escape(str(q.get("name")))}</td><td class="num">{_num(q.get("revman"))}</td><td class="num">{_num(q.get("python"))}</td>'
            f'<td class="num">{_num(q.get("r"))}</td><td class="num">{_num(q.get("rel_diff"), 2)}</td><td class="num">{escape(_tol(q.get("tolerance")))}</td>'
            f'<td>{_badge(v)}</td><td class="expl">{escape(str(q.get("explanation") or ""))}</td></tr>'
        )
    return f'<table class="quantities">{head}{"".join(body)}</table>'


def _messages(items, cls: str, prefix: str) -> list[str]:
    """One block per message: ``err``/``warn`` boxes, ``note`` paragraphs."""
    tag = "p" if cls == "note" else "div"
    return [f'<{tag} class="{cls}">{escape(prefix)}: {escape(str(m))}</{tag}>' for m in items or []]


def forest_figure(a: dict, preset: str | None = None) -> str:
    """The analysis's forest plot (RevMan's stored values beside the Python recomputation) as an inline SVG figure.

    ``preset``: the title of the convention preset the file was re-run under (None or "RevMan 5": RevMan 5's own)."""
    desc = a.get("forest")
    if not desc:
        return ""
    from ..cochrane.forestdata import SERIES_NAMES, to_forest_pair
    from ..reports import forest

    try:
        plot, other, labels = to_forest_pair(desc, "python")
        svg = forest.to_svg(plot, other, labels, differ_rtol=None)
    except (ValueError, KeyError, TypeError) as e:  # shown, never a broken page
        return f'<div class="err">the forest plot cannot be drawn: {escape(str(e))}</div>'
    cap = f"{SERIES_NAMES['revman']}: filled squares and diamonds; {SERIES_NAMES['python']}: open circles and diamonds."
    if preset and preset != "RevMan 5":
        cap += (f" Re-run under the preset {preset!r}: the recomputation follows its conventions and differs from RevMan 5's "
                "stored values by design (nothing is marked); the table compares Python with metafor.")
    else:
        cap += (" metafor's values are in the table." if "r" in (desc.get("series") or []) else "") + (
            " ≠ marks a row where the recomputation differs from RevMan's value beyond the precision RevMan stored it with.")
    if desc.get("totals") != "YES":
        cap += f" TOTALS={desc.get('totals')}: only what RevMan displays is drawn."
    return f'<figure class="forest">{svg}<figcaption>{escape(cap)}</figcaption></figure>'


def _analysis(f, a, packs: lazy.Packs, preset=None) -> str:
    aid = str(a.get("id"))
    v = a.get("verdict")
    bad = v not in ("agree", "explained", "not re-verified")
    head = [f'<summary>{escape(aid)} {escape(str(a.get("name") or ""))} {_badge(v)}</summary>']
    bits = [a.get("data_type"), f"{a.get('measure') or ''} {a.get('model') or ''}".strip(), f"{a.get('k')} studies" if a.get("k") else None, f"TOTALS={a.get('totals')}" if a.get("totals") else None]
    head.append(f'<p class="opts">{escape(" · ".join(str(b) for b in bits if b))}</p>')
    out = []
    if a.get("reason"):
        out.append(f"<p>{escape(str(a['reason']))}</p>")
    out += _messages(a.get("problems"), "err", "problem")
    out += _messages(a.get("notes"), "note", "note")
    out += _messages([f"[{x.get('code')}] {x.get('study')}: {x.get('message')}" for x in a.get("lint") or []], "warn", "lint")
    nd = a.get("not_displayed")
    if nd:
        out.append(f'<p class="hidden">{escape(str(nd.get("reason")))}: {escape(", ".join(nd.get("quantities") or []))}</p>')
    body = forest_figure(a, preset)
    qs = a.get("quantities") or []
    if qs:
        body += quantity_table(qs)
    anchor = _anchor(f, aid)
    if v == "agree" and body:  # the bulk of a large set: unpacked when opened
        return (f'<details class="analysis lazy" id="{anchor}" data-z="{packs.add(body)}">' + "\n".join(head + out)
                + '<div class="lazy-body"></div></details>')
    return f'<details class="analysis" id="{anchor}"{" open" if bad else ""}>' + "\n".join(head + out) + body + "</details>"


def _file(f, packs: lazy.Packs) -> str:
    name = str(f.get("path") or f.get("file") or "?")
    out = [f'<section class="audit" id="{_anchor(name)}"><h2>{escape(_short(name))}</h2>']
    if f.get("kind") in ("unreadable", "failed"):  # failed: the audit failed for good (its message says how)
        what = "cannot be read: " if f.get("kind") == "unreadable" else ""
        out.append(f'<div class="err">{what}{escape(str(f.get("error")))}</div></section>')
        return "\n".join(out)
    if f.get("kind") != "cochrane-review":  # published-results TOML
        for k in ("citation", "software", "engine_note"):
            if f.get(k):
                out.append(f"<p><b>{escape(k)}</b>: {escape(str(f[k]))}</p>")
        out.append(_counts(f.get("summary") or {}))
        if f.get("findings"):
            out.append("<h3>Findings</h3>" + generic_table(f["findings"], cls="findings"))
        out.append("</section>")
        return "\n".join(out)
    fmt = "RevMan 5 file (.rm5, full precision)" if f.get("format") == "rm5" else "RevMan analysis-data export (CSV, printed digits)"
    out.append(f'<p class="opts">{escape(str(f.get("title") or ""))} · {escape(fmt)} · preset {escape(str(f.get("preset")))}</p>')
    out += _messages([f["r_unavailable"]] if f.get("r_unavailable") else [], "err", "R engine unavailable")
    out += _messages(f.get("errors"), "err", "error")
    out += _messages(f.get("problems"), "warn", "problem")
    prec = f.get("precision") or {}
    if prec:
        kinds = {(c["kind"], c["digits"], c["source"]) for c in prec.values()}
        text = "; ".join(f"{', '.join(k for k, c in prec.items() if (c['kind'], c['digits'], c['source']) == kd)}: {kd[1]} {kd[0]} ({kd[2]})" for kd in sorted(kinds))
        out.append(f'<p class="note">export precision (trailing zeros dropped; established over the whole export): {escape(text)}</p>')
    out.append(_counts(f.get("summary") or {}))
    rows = [{"analysis": a.get("id"), "name": a.get("name"), "type": f"{a.get('data_type')} {a.get('measure') or ''} {a.get('model') or ''}".strip(),
             "studies": a.get("k") or None, "quantities": len(a.get("quantities") or []) or None, "verdict": a.get("verdict"), "reason": a.get("reason") or ""}
            for a in f.get("analyses") or []]
    if rows:
        out.append("<h3>Analyses</h3>" + generic_table(rows, cls="analyses"))
    shown = [a for a in f.get("analyses") or [] if a.get("status") != "not re-verified"]
    for a in sorted(shown, key=lambda a: SECTION_ORDER.get(str(a.get("verdict")), 3)):  # stable: RevMan's order within each verdict
        out.append(_analysis(name, a, packs, f.get("preset")))
    out.append("</section>")
    return "\n".join(out)


def _short(p) -> str:
    try:
        return str(Path(str(p)).resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(p)


def render(doc: dict, title: str = "metaharness audit") -> str:
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}{EXTRA_CSS}</style></head><body>",
        f"<header><h1>{escape(title)}</h1><p>Generated {now} · {len(doc.get('files') or [])} file(s) · RevMan's stored values against the Python and R (metafor) recomputations</p></header>",
        "<main>",
        _summary(doc),
    ]
    packs = lazy.Packs()
    files = [_file(f, packs) for f in doc.get("files") or []]
    if any('class="analysis' in x for x in files):
        parts.append('<p class="note">Each re-verified analysis: its forest plot and the table of its quantities (click its title to open '
                     'or fold it; those that agree are stored compressed until opened), or <a href="#open-all">open every analysis</a>.</p>')
    parts += files
    parts.append("</main>")
    parts.append(packs.html())
    parts.append("</body></html>")
    return "\n".join(parts)


def write(doc: dict, path, title: str = "metaharness audit") -> None:
    Path(path).write_text(render(doc, title), encoding="utf-8")
