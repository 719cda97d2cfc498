"""HTML report: one self-contained file (inline CSS, inline SVG plots; no network).

:func:`render` takes the JSON document of a run (``result.to_dict()``, the
schema of :mod:`harness.reports.json`) so any command whose result has that
shape (``verify``, and ``audit``/``fuzz`` results with ``analyses``) renders
the same way, and a saved JSON file can be rendered again later.

Layout: a summary (the headline "N agree, M explained" or what needs
attention, counts, engines and versions, the largest differences, one row per
analysis with both engines' pooled estimate [CI], tau^2 and I^2 and a link),
then one section per analysis -- those that need attention first, then the
explained ones, then the rest -- with the options that apply to it, errors,
warnings and dropped studies, the pooled estimates of every engine side by
side (estimate, CI, p, tau^2, I^2), the explanation of each explained
difference, and its plots and quantity table: the forest plot in RevMan's
layout (:mod:`harness.reports.forest`: Python and the R package as two
series; RevMan subgroup analyses with their subgroups, subtotals and the test
for subgroup differences), the coefficients of a meta-regression, a bubble
plot for a meta-regression on one continuous moderator, a funnel plot where
publication-bias tests ran (:mod:`harness.reports.plots`).

Size. The plots are compact inline SVG (text stays text: searchable,
selectable). For analyses that need attention or are explained, the plots
and the quantity table are in the page; for the others -- all agree, the
bulk of a large run -- they are stored compressed in the page, neighbours
together (:mod:`harness.reports.lazy`), and unpacked by a few lines of
script when the reader opens them, or all at once through the link
``#open-all``. Every analysis stays in the page
and reachable from the summary; the JSON report has every record. The
bundled fixtures' report: 67 MB before this layout (660 analyses then: one
base64 matplotlib SVG per plot, every table inline); 9.5 MB for the 1,576
analyses they hold now, the engines' pooled rows printed once where they read
the same.
"""
from __future__ import annotations

import base64
import datetime as _dt
import math
from html import escape
from pathlib import Path

from . import forest, lazy, plots
from .plotdata import forests, from_analysis_dict, pooled_numbers

OK = ("agree", "explained", "consistent", "pass", "ok")
BAD = ("differ", "missing", "engine-error", "warning", "inconsistent", "error", "fail")
#: keys of an analysis entry that have their own rendering (others become generic tables)
KNOWN = {"id", "kind", "fixture", "verdict", "options", "python_error", "r_error", "python_warnings", "r_warnings", "max_rel_diff", "seconds", "plot", "quantities", "dropped"}
#: order of the analysis sections: what needs attention first, then explained, then agreeing
SECTION_ORDER = {"engine-error": 0, "differ": 1, "missing": 2, "warning": 3, "explained": 5, "agree": 6}

CSS = """
:root { --ok:#2e7d32; --okbg:#e8f5e9; --bad:#c62828; --badbg:#fdecea; --ex:#8a6d00; --exbg:#fff8e1;
        --mut:#5f6b7a; --line:#d9dee5; --py:#1f4e99; --r:#d9730d; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", "DejaVu Sans", Arial, sans-serif; color:#1b1f24;
       margin:0; background:#f6f8fa; }
header { background:#1f2a37; color:#fff; padding:18px 28px; }
header h1 { margin:0; font-size:22px; } header p { margin:4px 0 0; color:#c9d1d9; font-size:13px; }
main { max-width: 1240px; margin: 0 auto; padding: 18px 28px 60px; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:16px 20px; margin:18px 0; }
h2 { margin:0 0 10px; font-size:18px; } h3 { margin:18px 0 8px; font-size:15px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { border-bottom:1px solid var(--line); padding:4px 10px; text-align:left; vertical-align:top; }
th { background:#f0f3f6; font-weight:600; }
td.num, table.q td, table.overview td.n { text-align:right; font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; white-space:nowrap; }
table.q td:first-child, table.q td:last-child { text-align:left; font-family:inherit; }
tr.v-differ td, tr.v-missing td, tr.v-engine-error td, tr.v-warning td, tr.v-inconsistent td { background: var(--badbg); }
tr.v-explained td { background: var(--exbg); }
.badge { display:inline-block; padding:1px 9px; border-radius:10px; font-size:12px; font-weight:600;
         border:1px solid transparent; white-space:nowrap; }
.b-ok { color:var(--ok); background:var(--okbg); border-color:#b7dfb9; }
.b-bad { color:var(--bad); background:var(--badbg); border-color:#f5c2bd; }
.b-ex { color:var(--ex); background:var(--exbg); border-color:#f0dc9b; }
.b-mut { color:var(--mut); background:#eef1f4; border-color:#d9dee5; }
.banner { padding:10px 14px; border-radius:6px; font-weight:600; margin:4px 0 12px; }
.banner.ok { background:var(--okbg); color:var(--ok); } .banner.bad { background:var(--badbg); color:var(--bad); }
.banner.ex { background:var(--exbg); color:var(--ex); }
.counts { display:flex; flex-wrap:wrap; gap:10px; margin: 8px 0; }
.count { border:1px solid var(--line); border-radius:6px; padding:6px 12px; min-width:92px; background:#fbfcfd; }
.count b { display:block; font-size:20px; } .count span { color:var(--mut); font-size:12px; }
.opts { color:var(--mut); font-size:12.5px; } .opts code { background:#f0f3f6; padding:0 4px; border-radius:3px; color:#1b1f24; }
figure { margin: 10px 0; overflow-x:auto; } figure svg, figure img { max-width:100%; height:auto; border:1px solid var(--line); border-radius:4px; background:#fff; }
figcaption { color:var(--mut); font-size:12px; }
.err { background:var(--badbg); color:var(--bad); padding:8px 12px; border-radius:6px; margin:6px 0; white-space:pre-wrap; }
.warn { background:var(--exbg); color:var(--ex); padding:8px 12px; border-radius:6px; margin:6px 0; white-space:pre-wrap; }
.eng-python { color:var(--py); font-weight:600; } .eng-r { color:var(--r); font-weight:600; } .eng-both { font-weight:600; } .eng-ref { color:#2e7d32; font-weight:600; }
details > summary { cursor:pointer; font-weight:600; margin: 10px 0 4px; }
a { color:#0b57d0; text-decoration:none; } a:hover { text-decoration:underline; }
.note { color:var(--mut); font-size:12.5px; }
.two span { display:block; } .two .r { color:var(--r); } .two .py { color:var(--py); }
"""



# ---- formatting helpers ------------------------------------------------------------
def _num(x, digits=10):
    if x is None:
        return "—"
    if isinstance(x, str):
        return escape(x)
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def _badge(verdict) -> str:
    v = str(verdict)
    cls = "b-ok" if v in ("agree", "consistent", "pass", "ok") else "b-ex" if v == "explained" else "b-bad" if v in BAD else "b-mut"
    return f'<span class="badge {cls}">{escape(v)}</span>'


def _anchor(aid) -> str:
    return "a-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in str(aid))


def _cell(v) -> str:
    if isinstance(v, (int, float)) and not isinstance(v, bool) or v is None:
        return f'<td class="num">{_num(v)}</td>'
    if isinstance(v, (list, tuple)):
        return f"<td>{escape(', '.join(map(str, v)))}</td>"
    if isinstance(v, dict):
        return f"<td>{escape(', '.join(f'{k}={x}' for k, x in v.items()))}</td>"
    return f"<td>{escape(str(v))}</td>"


def generic_table(rows, cls="generic") -> str:
    """A table of dicts (columns = union of keys, in first-seen order); verdict-like columns badged."""
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    head = "".join(f"<th>{escape(str(c))}</th>" for c in cols)
    body = []
    for r in rows:
        v = r.get("verdict", r.get("status"))
        tds = "".join(f"<td>{_badge(r.get(c))}</td>" if c in ("verdict", "status") and r.get(c) is not None else _cell(r.get(c)) for c in cols)
        body.append(f'<tr class="v-{escape(str(v)).replace(" ", "-")}">{tds}</tr>')
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _kv_table(d: dict, cls="kv") -> str:
    rows = "".join(f"<tr><th>{escape(str(k))}</th>{_cell(v)}</tr>" for k, v in d.items())
    return f'<table class="{cls}">{rows}</table>'



# ---- sections ------------------------------------------------------------------------
def _analysis_counts(analyses) -> dict:
    c: dict = {}
    for a in analyses:
        v = str(a.get("verdict"))
        c[v] = c.get(v, 0) + 1
    return c


def headline(analyses) -> tuple[str, str]:
    """(css class, text) of the summary's first line: "N analyses: A agree, E explained", or what needs attention.

    Never "All N analyses agree" when some are explained."""
    n = len(analyses)
    c = _analysis_counts(analyses)
    bad = {k: v for k, v in c.items() if k not in OK}
    if bad:
        parts = ", ".join(f"{v} {k}" for k, v in sorted(bad.items(), key=lambda kv: SECTION_ORDER.get(kv[0], 4)))
        return "bad", f"{sum(bad.values())} of {n} analyses need attention ({parts}); {c.get('agree', 0)} agree, {c.get('explained', 0)} explained."
    if c.get("explained"):
        return "ex", f"{n} analyses: {c.get('agree', 0)} agree, {c['explained']} explained (each explained difference is listed with its reason)."
    return "ok", f"All {n} analyses agree."


def _fmt(x, digits=4) -> str:
    if x is None:
        return "—"
    if isinstance(x, str):
        return escape(x)
    x = float(x)
    if math.isnan(x):
        return "NaN"
    return f"{x:.{digits}g}"


def _est_ci(p) -> str:
    if not p or p.get("estimate") is None:
        return "—"
    return f"{_fmt(p.get('estimate'))} [{_fmt(p.get('ci_lb'))}, {_fmt(p.get('ci_ub'))}]"


def _two(py, r) -> str:
    if py == r:
        return f'<span class="both">{py}</span>'
    return f'<span class="py">{py}</span><span class="r">{r}</span>'


def _summary(doc: dict, title: str, analyses, plot_of) -> str:
    s = doc.get("summary") or {}
    out = ['<section id="summary"><h2>Summary</h2>']
    if analyses:
        cls, text = headline(analyses)
        out.append(f'<div class="banner {cls}">{escape(text)}</div>')
    if doc.get("interrupted"):
        out.append('<div class="err">The run was interrupted: this report covers the analyses that finished.</div>')
    if doc.get("r_unavailable"):
        out.append(f'<div class="err">R engine unavailable: {escape(str(doc["r_unavailable"]))}</div>')
    if s:
        out.append('<div class="counts">')
        for k, v in s.items():
            out.append(f'<div class="count"><b>{_num(v)}</b><span>{escape("quantities " + k if k not in ("analyses", "quantities") else k)}</span></div>')
        out.append("</div>")
    eng = doc.get("engines") or {}
    if eng:
        out.append('<h3>Engines and versions</h3><table class="engines"><tr><th>side</th><th>components and versions</th></tr>')
        for side, comps in eng.items():
            if isinstance(comps, dict):
                items = " · ".join(f"{escape(str(k))} <code>{escape(str(v))}</code>" for k, v in comps.items() if k != "R_string")
            else:
                items = escape(str(comps))
            out.append(f'<tr><td>{escape({"python": "Python", "r": "R"}.get(str(side), str(side)))}</td><td class="opts">{items}</td></tr>')
        out.append("</table>")
    conv = doc.get("conventions") or {}
    if conv.get("metafor"):
        why = "the R engine's release" if conv.get("source") == "R engine" else "the default: no R engine"
        tested = "" if conv.get("supported", True) else " — an untested release"
        applied = [b for b in conv.get("behaviours") or [] if b.get("applies")]
        lst = " · ".join(escape(str(b.get("behaviour"))) for b in applied) or "none of the changes since 3.8-1"
        out.append(f'<p class="conventions">Python side: metafor <code>{escape(str(conv["metafor"]))}</code> conventions ({escape(why)}{escape(tested)}). '
                   f'Release-dependent behaviours in effect: {lst}.</p>')
    if doc.get("engine_faults"):
        out.append(_generic("R worker crashes and timeouts", doc["engine_faults"]))
    worst = []
    for a in analyses:
        for q in a.get("quantities") or []:
            if not isinstance(q.get("r"), (int, float)) or abs(q["r"]) < 1e-8:
                continue  # zero up to rounding: atol decides, a relative difference means nothing (as in the terminal)
            rd = q.get("rel_diff")
            if isinstance(rd, (int, float)):
                worst.append((rd, a, q))
            elif rd == "inf":
                worst.append((math.inf, a, q))
    worst.sort(key=lambda t: -t[0])
    if worst:
        out.append('<h3>Largest relative differences</h3><p class="note">Among values with |R| ≥ 1e-8 (below that a value is zero up to rounding and the absolute tolerance decides).</p><table class="worst"><tr><th>analysis</th><th>quantity</th><th>Python</th><th>R</th><th>rel diff</th><th>tolerance</th><th>verdict</th></tr>')
        for rd, a, q in worst[:10]:
            tol = q.get("tolerance") or {}
            tol_s = f"rtol {_num(tol.get('rtol'), 2)}, atol {_num(tol.get('atol'), 2)}" if tol else "—"
            out.append(
                f'<tr class="v-{escape(q.get("verdict", ""))}"><td><a href="#{_anchor(a.get("id"))}">{escape(str(a.get("id")))}</a></td><td>{escape(q.get("name", ""))}</td>'
                f'<td class="num">{_num(q.get("python"))}</td><td class="num">{_num(q.get("r"))}</td><td class="num">{_num(rd, 2)}</td><td>{tol_s}</td><td>{_badge(q.get("verdict"))}</td></tr>'
            )
        out.append("</table>")
    if analyses:
        out.append('<h3>Analyses</h3><p class="note">Needing attention first, then explained, then agreeing. Pooled estimates, τ² and I²: '
                   '<span class="eng-python">Python</span> above <span class="eng-r">R</span> where they differ at 4 significant digits, once where they do not. '
                   'Each analysis links to its section; <a href="#open-all">open every analysis\'s plots and tables</a> (a large run takes a moment).</p>')
        out.append('<table class="overview"><tr><th>analysis</th><th>kind</th><th>verdict</th><th>pooled estimate [CI]</th><th>τ²</th><th>I² (%)</th><th>largest rel diff</th><th>in</th></tr>')
        for a in analyses:
            qs = a.get("quantities") or []
            w = max((q for q in qs if isinstance(q.get("rel_diff"), (int, float))), key=lambda q: q["rel_diff"], default=None)
            nums = pooled_numbers(plot_of.get(id(a)), qs)
            py, rr = ({"estimate": v[0], "ci_lb": v[1], "ci_ub": v[2]} for v in (nums["python"], nums["r"]))
            est = _two(_est_ci(py), _est_ci(rr))
            t2 = _two(_fmt(nums["python"][3]), _fmt(nums["r"][3]))
            i2 = _two(_fmt(nums["python"][4]), _fmt(nums["r"][4]))
            out.append(
                f'<tr class="v-{escape(str(a.get("verdict")))}"><td><a href="#{_anchor(a.get("id"))}">{escape(str(a.get("id")))}</a></td><td>{escape(str(a.get("kind", "")))}</td>'
                f'<td>{_badge(a.get("verdict"))}</td><td class="n two">{est}</td><td class="n two">{t2}</td><td class="n two">{i2}</td>'
                f'<td class="n">{_num(w["rel_diff"], 2) if w else "—"}</td><td>{escape(w["name"]) if w else ""}</td></tr>'
            )
        out.append("</table>")
    for k, v in doc.items():
        if k in ("schema", "engines", "r_unavailable", "conventions", "summary", "analyses", "files", "interrupted", "engine_faults"):
            continue
        out.append(_generic(k, v))
    files = doc.get("files") or []
    if files:  # audit documents: one entry per audited file, each with its findings
        total: dict = {}
        for f in files:
            for k, v in (f.get("summary") or {}).items():
                if isinstance(v, (int, float)):
                    total[k] = total.get(k, 0) + v
        bad = total.get("inconsistent", 0)
        cls, msg = ("bad", f"{bad} inconsistent findings") if bad else ("ok", "No inconsistent finding")
        out.append(f'<div class="banner {cls}">{msg} in {len(files)} audited file(s).</div>')
        out.append('<div class="counts">' + "".join(f'<div class="count"><b>{_num(v)}</b><span>{escape(str(k))}</span></div>' for k, v in total.items()) + "</div>")
    out.append("</section>")
    return "\n".join(out)


def _generic(name, v, depth=0) -> str:
    """Any other value of a document: lists of dicts and dicts of dicts as tables, dicts as key/value tables."""
    if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
        return f"<h3>{escape(str(name))}</h3>" + generic_table(v, cls=f"generic {escape(str(name))}")
    if isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values()) and depth < 3:
        # e.g. a campaign's per-model figures: one row per key; nested tables after it
        rows, nested = [], []
        for k, inner in v.items():
            row = {"": k}
            for ik, iv in inner.items():
                if isinstance(iv, dict) and iv and all(isinstance(x, dict) for x in iv.values()):
                    nested.append((f"{name} › {k} › {ik}", iv))
                else:
                    row[ik] = iv
            rows.append(row)
        return f"<h3>{escape(str(name))}</h3>" + generic_table(rows, cls="generic") + "".join(_generic(n, x, depth + 1) for n, x in nested)
    if isinstance(v, dict) and v and all(isinstance(x, list) for x in v.values()) and depth < 3:
        return "".join(_generic(f"{name} › {k}", x, depth + 1) for k, x in v.items())
    if isinstance(v, dict) and v:
        return f"<h3>{escape(str(name))}</h3>" + _kv_table(v)
    if v in (None, [], {}, ""):
        return ""
    return f"<p><b>{escape(str(name))}</b>: {escape(str(v))}</p>"



def _pooled_table(plot) -> str:
    """Each engine's pooled estimate side by side: estimate, CI, p, tau^2, I^2 (and the prediction interval, reference rows)."""
    rows = list(plot.get("pooled") or []) + list(plot.get("reference") or [])
    coefs = plot.get("coefficients") or []
    lvl = plot.get("level", 95)
    if not rows and not coefs:
        return ""
    out = []
    if rows:
        has_pi = any(r.get("pi_lb") is not None for r in rows)
        head = (f"<tr><th>engine</th><th>model</th><th>estimate</th><th>{_num(lvl)}% CI</th><th>test</th><th>p</th><th>τ²</th><th>I² (%)</th>"
                + ("<th>prediction interval</th>" if has_pi else "") + "</tr>")
        def cells(r):
            eng = r.get("engine", "")
            model = plot.get("model", "") if eng in ("python", "r") else "reference"
            test = f"{r.get('stat') or 'Z'} = {_num(r.get('value'), 6)}" + (f", df = {_num(r.get('test_df'), 6)}" if r.get("test_df") is not None else "") if r.get("value") is not None else "—"
            pi = f'<td class="num">[{_num(r.get("pi_lb"), 6)}, {_num(r.get("pi_ub"), 6)}]</td>' if has_pi else ""
            return (f'<td>{escape(str(model))}</td><td class="num">{_num(r.get("estimate"))}</td>'
                    f'<td class="num">[{_num(r.get("ci_lb"))}, {_num(r.get("ci_ub"))}]</td><td class="num">{test}</td><td class="num">{_num(r.get("p"), 6)}</td>'
                    f'<td class="num">{_num(r.get("tau2"), 6)}</td><td class="num">{_num(r.get("i2"), 6)}</td>{pi}')

        py = next((r for r in rows if r.get("engine") == "python"), None)
        rr = next((r for r in rows if r.get("engine") == "r"), None)
        # the engines' rows once when they read the same at the digits shown (as the terminal's "both")
        same = py is not None and rr is not None and cells(py) == cells(rr)
        body = []
        for r in rows:
            eng = r.get("engine", "")
            if same and r is rr:
                continue
            cls = {"python": "eng-python", "r": "eng-r"}.get(eng, "eng-ref")
            label = escape(str(r.get("label", eng)))
            if same and r is py:
                cls, label = "eng-both", f'{label} = {escape(str(rr.get("label", "r")))}'
            body.append(f'<tr><td class="{cls}">{label}</td>{cells(r)}</tr>')
        if py and rr and py.get("estimate") is not None and rr.get("estimate") is not None:
            d = abs(py["estimate"] - rr["estimate"])
            body.append(f'<tr><td colspan="2" class="note">|Python − R|, estimate</td><td class="num">{_num(d, 2)}</td><td colspan="{6 if has_pi else 5}"></td></tr>')
        notes = "".join(f'<p class="note">{escape(str(r.get("label")))}: {escape(str(r["note"]))}</p>' for r in rows if r.get("note"))
        out.append(f'<h3>Pooled estimates, engines side by side</h3><table class="pooled">{head}{"".join(body)}</table>{notes}')
    if coefs:
        eng = plot.get("engines") or {}
        head = f'<tr><th>coefficient</th><th class="eng-python">{escape(eng.get("python", "Python"))}</th><th class="eng-r">{escape(eng.get("r", "R"))}</th><th>p (Python)</th><th>p (R)</th></tr>'
        body = "".join(f'<tr><td>{escape(str(c["name"]))}</td><td class="num">{_est_ci(c.get("python"))}</td><td class="num">{_est_ci(c.get("r"))}</td>'
                       f'<td class="num">{_num((c.get("python") or {}).get("p"), 4)}</td><td class="num">{_num((c.get("r") or {}).get("p"), 4)}</td></tr>' for c in coefs)
        out.append(f'<h3>Model coefficients, engines side by side ({_num(lvl)}% CI)</h3><table class="pooled coefs">{head}{body}</table>')
    return "".join(out)


RANK = {"agree": 0, "explained": 1, "warning": 2, "missing": 3, "differ": 4, "engine-error": 5}


def _grouped(qs, limit):
    """Rows to show: all when few; else scalar quantities, indexed families as one summary row, and every non-agreeing one."""
    if len(qs) <= limit:
        return [("row", q) for q in qs], False
    out, fams, order = [], {}, []
    for q in qs:
        name = str(q.get("name"))
        if "[" in name and name.endswith("]"):
            base = name.split("[", 1)[0]
            if base not in fams:
                fams[base] = []
                order.append(("fam", base))
            fams[base].append(q)
        else:
            order.append(("row", q))
    for kind, x in order:
        if kind == "row":
            out.append(("row", x))
            continue
        members = fams[x]
        out.append(("fam", (x, members)))
        out.extend(("row", q) for q in members if q.get("verdict") != "agree")
    return out, True


def _quantity_table(qs, limit=150) -> str:
    """Every quantity (indexed families summarised beyond ``limit`` rows); numbers right-aligned by the table's CSS."""
    head = "<tr><th>quantity</th><th>Python</th><th>R</th><th>abs diff</th><th>rel diff</th><th>tolerance</th><th>verdict</th></tr>"
    body = []
    rows, grouped = _grouped(qs, limit)
    for kind, q in rows:
        if kind == "fam":
            base, members = q
            worst_v = max((str(m.get("verdict")) for m in members), key=lambda v: RANK.get(v, 6))
            rel = [m.get("rel_diff") for m in members if isinstance(m.get("rel_diff"), (int, float))]
            ab = [m.get("abs_diff") for m in members if isinstance(m.get("abs_diff"), (int, float))]
            n_ok = sum(1 for m in members if m.get("verdict") == "agree")
            body.append(f'<tr class="fam v-{escape(worst_v)}"><td>{escape(base)}[…] ({len(members)}; {n_ok} agree)</td><td>…</td><td>…</td>'
                        f'<td>max {_num(max(ab) if ab else None, 2)}</td><td>max {_num(max(rel) if rel else None, 2)}</td><td></td><td>{_badge(worst_v)}</td></tr>')
            continue
        tol = q.get("tolerance") or {}
        tol_s = f"{_num(tol.get('rtol'), 2)} / {_num(tol.get('atol'), 2)}" if tol else "—"
        v = str(q.get("verdict"))
        cls = "" if v == "agree" else f' class="v-{escape(v)}"'
        badge = "agree" if v == "agree" else _badge(v)
        body.append(f'<tr{cls}><td>{escape(str(q.get("name")))}</td><td>{_num(q.get("python"))}</td><td>{_num(q.get("r"))}</td>'
                    f'<td>{_num(q.get("abs_diff"), 2)}</td><td>{_num(q.get("rel_diff"), 2)}</td><td>{tol_s}</td><td>{badge}</td></tr>')
    note = '<p class="note">Indexed quantities (per study, per coefficient, ...) are summarised per family with their largest differences; every one that does not agree is listed. The JSON report has every record.</p>' if grouped else ""
    return f'{note}<table class="quantities q">{head}{"".join(body)}</table>'


def _figure(content: str, cls: str, caption: str) -> str:
    return f'<figure class="plot {cls}">{content}<figcaption>{escape(caption)}</figcaption></figure>'


def _image(cv, cls, caption, fmt) -> str:
    """A plot as inline SVG (default) or as a PNG image (``fmt="png"``, 110 dpi)."""
    if fmt == "png":
        import io

        buf = io.BytesIO()
        forest.canvas_figure(cv).savefig(buf, format="png", dpi=110)
        content = f'<img alt="{escape(caption)}" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode("ascii")}">'
    else:
        content = forest.canvas_svg(cv)
    return _figure(content, cls, caption)


def figures(plot: dict | None, aid: str, fmt: str = "svg") -> str:
    """The HTML of one analysis's plots: forest (RevMan's layout), coefficients, bubble, funnel."""
    if not plot:
        return ""
    if plot.get("error"):
        return f'<div class="warn">plot unavailable: {escape(plot["error"])}</div>'
    out = []
    try:
        fp = forests(plot)
        if fp is not None:
            a, b, labels = fp
            if plot.get("groups"):
                cap = "Forest plot in RevMan's layout: the studies under each subgroup, subtotals, the total and the test for subgroup differences"
            else:
                cap = f"Forest plot: {plot.get('model', '')}"
            if b is not None:
                sized = " sized by weight" if any(st.weight is not None for st in a.studies) else ""
                cap += f"; {labels[0]} (blue, filled squares{sized}) and {labels[1]} (orange, open circles) side by side"
            out.append(_image(forest.layout(a, b, labels), "forest", cap + ".", fmt))
        coef = plots.coefficients(plot)
        if coef is not None:
            out.append(_image(coef, "coefficients", "Meta-regression coefficients with their CIs, both engines.", fmt))
        bub = plots.bubble(plot)
        if bub is not None:
            out.append(_image(bub, "bubble", f"Bubble plot (metafor's regplot): effect against {plot['bubble']['moderator']}, each engine's fitted line.", fmt))
        if plot.get("funnel") and plot.get("studies"):
            out.append(_image(plots.funnel(plot), "funnel", "Funnel plot (publication-bias tests were run): effect against standard error, with the pooled estimate's pseudo 95% CI.", fmt))
    except Exception as e:  # noqa: BLE001 - shown in the report, never hides the tables
        out.append(f'<div class="warn">plot failed: {escape(type(e).__name__)}: {escape(str(e))}</div>')
    return "\n".join(out)


def shown_options(kind: str, options: dict) -> dict:
    """The options that apply to an analysis (its kind decides; e.g. no arm columns for yi/vi input)."""
    try:
        from ..analyses import KINDS

        k = KINDS.get(kind)
    except Exception:  # noqa: BLE001 - a report of another kind of run: show what is there
        k = None
    if k is not None:
        return k.shown_options(options)
    return {key: v for key, v in options.items() if v not in (None, [], {}, "")}


def _analysis(a: dict, fmt: str, plot: dict | None, packs: lazy.Packs) -> str:
    aid = str(a.get("id"))
    verdict = str(a.get("verdict"))
    out = [f'<section class="analysis" id="{_anchor(aid)}"><h2>{escape(aid)} {_badge(verdict)}</h2>']
    opts = shown_options(str(a.get("kind", "")), a.get("options") or {})
    bits = [f"kind <code>{escape(str(a.get('kind', '')))}</code>", f"fixture <code>{escape(_short_path(a.get('fixture', '')))}</code>"]
    # r_versions: the R engine's package releases, in the report's header once
    bits += [f"{escape(str(k))} <code>{escape(', '.join(map(str, v)) if isinstance(v, list) else str(v))}</code>" for k, v in opts.items() if k != "r_versions"]
    out.append(f'<p class="opts">{" · ".join(bits)}</p>')
    for side, key in (("Python", "python_error"), ("R", "r_error")):
        if a.get(key):
            out.append(f'<div class="err">{side} error: {escape(str(a[key]))}</div>')
    for side, key in (("Python", "python_warnings"), ("R", "r_warnings")):
        for w in a.get(key) or []:
            out.append(f'<div class="warn">{side} warning: {escape(str(w))}</div>')
    for d in a.get("dropped") or []:
        out.append(f'<div class="warn">dropped study {escape(repr(d.get("study")))} (line {escape(str(d.get("line")))}): {escape(str(d.get("reason")))}</div>')
    if plot and not plot.get("error"):
        out.append(_pooled_table(plot))
    qs = a.get("quantities") or []
    expl = [q for q in qs if q.get("verdict") == "explained" or (q.get("verdict") not in ("agree",) and q.get("explanation"))]
    if expl:
        # one item per distinct explanation, naming every quantity it covers
        groups: dict = {}
        for q in expl:
            groups.setdefault((str(q.get("verdict")), str(q.get("explanation") or "")), []).append(str(q.get("name")))
        out.append("<h3>Explanations</h3><ul class=\"explanations\">")
        for (v, text), names in groups.items():
            out.append(f"<li><b>{escape(', '.join(names))}</b> {_badge(v)}: {escape(text)}</li>")
        out.append("</ul>")
    for k, v in a.items():
        if k not in KNOWN:
            out.append(_generic(k, v))
    n_bad = sum(1 for q in qs if q.get("verdict") != "agree")
    label = f"All {len(qs)} quantities" + (f" ({n_bad} not agreeing)" if n_bad else " (all agree)")
    body = figures(plot, aid, fmt) + (f"<h3>{label}</h3>{_quantity_table(qs)}" if qs else "")
    if verdict == "agree" and body:
        what = "plots and " if plot else ""
        out.append(f'<details class="lazy" data-z="{packs.add(body)}"><summary>{what}{label[0].lower() + label[1:]}</summary><div class="lazy-body"></div></details>')
    elif body:
        out.append(body)
    out.append("</section>")
    return "\n".join(out)


def _file_section(f: dict) -> str:
    """One audited file: what it is, its counts, and its findings (and any other table) as tables."""
    name = str(f.get("file") or f.get("citation") or "audited file")
    out = [f'<section class="audit" id="{_anchor(name)}"><h2>{escape(_short_path(name))}</h2>']
    scalars = {k: v for k, v in f.items() if not isinstance(v, (list, dict)) and v not in (None, "") and k != "file"}
    if scalars:
        out.append(_kv_table(scalars))
    if isinstance(f.get("summary"), dict):
        out.append('<div class="counts">' + "".join(f'<div class="count"><b>{_num(v)}</b><span>{escape(str(k))}</span></div>' for k, v in f["summary"].items()) + "</div>")
    for k, v in f.items():
        if k == "summary" or k in scalars or k == "file":
            continue
        if k == "findings" and isinstance(v, list) and v:
            out.append("<h3>Findings</h3>" + generic_table(v, cls="findings"))
        else:
            out.append(_generic(k, v))
    out.append("</section>")
    return "\n".join(out)


def _short_path(p) -> str:
    """A fixture path relative to the working folder when it lies below it."""
    try:
        return str(Path(str(p)).resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(p)


def render(doc: dict, title: str = "metaharness report", fmt: str = "svg") -> str:
    """The whole report as one HTML string (no external resources)."""
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    analyses = sorted(doc.get("analyses") or [], key=lambda a: SECTION_ORDER.get(str(a.get("verdict")), 4))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f'<header><h1>{escape(title)}</h1><p>Generated {now} · JSON schema {escape(str(doc.get("schema", "—")))} · Python core vs R (metafor / robumeta / clubSandwich)</p></header>',
        "<main>",
    ]
    plot_of = {id(a): from_analysis_dict(a) for a in analyses}
    parts.append(_summary(doc, title, analyses, plot_of))
    for f in doc.get("files") or []:
        parts.append(_file_section(f))
    packs = lazy.Packs()
    for a in analyses:
        parts.append(_analysis(a, fmt, plot_of[id(a)], packs))
    parts.append("</main>")
    parts.append(packs.html())
    parts.append("</body></html>")
    return "\n".join(parts)


def write(run_or_doc, path, title: str = "metaharness report", fmt: str = "svg") -> None:
    doc = run_or_doc if isinstance(run_or_doc, dict) else run_or_doc.to_dict()
    Path(path).write_text(render(doc, title=title, fmt=fmt), encoding="utf-8")
