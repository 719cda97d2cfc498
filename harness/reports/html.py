"""HTML report: one self-contained file (inline CSS, plots embedded as data URIs; no network).

:func:`render` takes the JSON document of a run (``result.to_dict()``, the
schema of :mod:`harness.reports.json`) so any command whose result has that
shape (``verify``, and ``audit``/``fuzz`` results with ``analyses``) renders
the same way, and a saved JSON file can be rendered again later.

Layout: a summary (engines and versions, counts by verdict, the worst
differences, one line per analysis with a link), then per analysis its
options, errors and warnings, the forest plot (both engines side by side,
:mod:`harness.reports.plots`), a coefficient plot for meta-regressions, a
funnel plot where publication-bias tests ran, the pooled estimates of every
engine side by side (Python, the R package, RevMan 5's convention where it
applies), the explanation of each explained difference, the per-quantity table
(non-agreeing rows highlighted; folded when everything agrees) and any other
table the kind reports (e.g. an audit's ``findings``).
"""
from __future__ import annotations

import datetime as _dt
import math
from html import escape
from pathlib import Path

from . import plots
from .plotdata import from_analysis_dict

OK = ("agree", "explained", "consistent", "pass", "ok")
BAD = ("differ", "missing", "engine-error", "warning", "inconsistent", "error", "fail")
#: keys of an analysis entry that have their own rendering (others become generic tables)
KNOWN = {"id", "kind", "fixture", "verdict", "options", "python_error", "r_error", "python_warnings", "r_warnings", "max_rel_diff", "seconds", "plot", "quantities"}

CSS = """
:root { --ok:#2e7d32; --okbg:#e8f5e9; --bad:#c62828; --badbg:#fdecea; --ex:#8a6d00; --exbg:#fff8e1;
        --mut:#5f6b7a; --line:#d9dee5; --py:#1f4e99; --r:#d9730d; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", "DejaVu Sans", Arial, sans-serif; color:#1b1f24;
       margin:0; background:#f6f8fa; }
header { background:#1f2a37; color:#fff; padding:18px 28px; }
header h1 { margin:0; font-size:22px; } header p { margin:4px 0 0; color:#c9d1d9; font-size:13px; }
main { max-width: 1180px; margin: 0 auto; padding: 18px 28px 60px; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:16px 20px; margin:18px 0; }
h2 { margin:0 0 10px; font-size:18px; } h3 { margin:18px 0 8px; font-size:15px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { border-bottom:1px solid var(--line); padding:4px 10px; text-align:left; vertical-align:top; }
th { background:#f0f3f6; font-weight:600; }
td.num { text-align:right; font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; white-space:nowrap; }
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
.counts { display:flex; flex-wrap:wrap; gap:10px; margin: 8px 0; }
.count { border:1px solid var(--line); border-radius:6px; padding:6px 12px; min-width:92px; background:#fbfcfd; }
.count b { display:block; font-size:20px; } .count span { color:var(--mut); font-size:12px; }
.opts { color:var(--mut); font-size:12.5px; } .opts code { background:#f0f3f6; padding:0 4px; border-radius:3px; color:#1b1f24; }
figure { margin: 10px 0; } figure img { max-width:100%; height:auto; border:1px solid var(--line); border-radius:4px; background:#fff; }
figcaption { color:var(--mut); font-size:12px; }
.err { background:var(--badbg); color:var(--bad); padding:8px 12px; border-radius:6px; margin:6px 0; white-space:pre-wrap; }
.warn { background:var(--exbg); color:var(--ex); padding:8px 12px; border-radius:6px; margin:6px 0; white-space:pre-wrap; }
.eng-python { color:var(--py); font-weight:600; } .eng-r { color:var(--r); font-weight:600; } .eng-ref { color:#2e7d32; font-weight:600; }
details > summary { cursor:pointer; font-weight:600; margin: 10px 0 4px; }
a { color:#0b57d0; text-decoration:none; } a:hover { text-decoration:underline; }
.note { color:var(--mut); font-size:12.5px; }
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
def _summary(doc: dict, title: str) -> str:
    analyses = doc.get("analyses") or []
    s = doc.get("summary") or {}
    n_bad = sum(1 for a in analyses if a.get("verdict") not in OK)
    out = ['<section id="summary"><h2>Summary</h2>']
    if analyses:
        if n_bad:
            out.append(f'<div class="banner bad">{n_bad} of {len(analyses)} analyses need attention (differences, missing quantities, engine errors or warnings).</div>')
        else:
            out.append(f'<div class="banner ok">All {len(analyses)} analyses agree (explained differences are listed with their reasons).</div>')
    if doc.get("r_unavailable"):
        out.append(f'<div class="err">R engine unavailable: {escape(str(doc["r_unavailable"]))}</div>')
    if s:
        out.append('<div class="counts">')
        for k, v in s.items():
            out.append(f'<div class="count"><b>{_num(v)}</b><span>{escape(str(k))}</span></div>')
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
    worst = []
    for a in analyses:
        for q in a.get("quantities") or []:
            rd = q.get("rel_diff")
            if isinstance(rd, (int, float)):
                worst.append((rd, a, q))
            elif rd == "inf":
                worst.append((math.inf, a, q))
    worst.sort(key=lambda t: -t[0])
    if worst:
        out.append('<h3>Largest differences</h3><table class="worst"><tr><th>analysis</th><th>quantity</th><th>Python</th><th>R</th><th>rel diff</th><th>tolerance</th><th>verdict</th></tr>')
        for rd, a, q in worst[:10]:
            tol = q.get("tolerance") or {}
            tol_s = f"rtol {_num(tol.get('rtol'), 2)}, atol {_num(tol.get('atol'), 2)}" if tol else "—"
            out.append(
                f'<tr class="v-{escape(q.get("verdict", ""))}"><td><a href="#{_anchor(a.get("id"))}">{escape(str(a.get("id")))}</a></td><td>{escape(q.get("name", ""))}</td>'
                f'<td class="num">{_num(q.get("python"))}</td><td class="num">{_num(q.get("r"))}</td><td class="num">{_num(rd, 2)}</td><td>{tol_s}</td><td>{_badge(q.get("verdict"))}</td></tr>'
            )
        out.append("</table>")
    if analyses:
        out.append('<h3>Analyses</h3><table class="overview"><tr><th>analysis</th><th>kind</th><th>quantities</th><th>verdict</th><th>largest rel diff</th><th>in</th></tr>')
        for a in analyses:
            qs = a.get("quantities") or []
            w = max((q for q in qs if isinstance(q.get("rel_diff"), (int, float))), key=lambda q: q["rel_diff"], default=None)
            out.append(
                f'<tr class="v-{escape(str(a.get("verdict")))}"><td><a href="#{_anchor(a.get("id"))}">{escape(str(a.get("id")))}</a></td><td>{escape(str(a.get("kind", "")))}</td>'
                f'<td class="num">{len(qs)}</td><td>{_badge(a.get("verdict"))}</td><td class="num">{_num(w["rel_diff"], 2) if w else "—"}</td><td>{escape(w["name"]) if w else ""}</td></tr>'
            )
        out.append("</table>")
    for k, v in doc.items():
        if k in ("schema", "engines", "r_unavailable", "conventions", "summary", "analyses", "files"):
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


def _figure(fig, cls, alt, caption, fmt) -> str:
    uri = plots.data_uri(fig, fmt)
    return f'<figure><img class="plot {cls}" alt="{escape(alt)}" src="{uri}"><figcaption>{escape(caption)}</figcaption></figure>'


def _pooled_table(plot) -> str:
    rows = list(plot.get("pooled") or []) + list(plot.get("reference") or [])
    if not rows:
        return ""
    has_pi = any(r.get("pi_lb") is not None for r in rows)
    lvl = plot.get("level", 95)
    head = f"<tr><th>engine</th><th>model</th><th>estimate</th><th>{_num(lvl)}% CI</th>" + ("<th>prediction interval</th>" if has_pi else "") + "</tr>"
    body = []
    for r in rows:
        eng = r.get("engine", "")
        cls = {"python": "eng-python", "r": "eng-r"}.get(eng, "eng-ref")
        model = plot.get("model", "") if eng in ("python", "r") else "reference"
        pi = f'<td class="num">[{_num(r.get("pi_lb"), 6)}, {_num(r.get("pi_ub"), 6)}]</td>' if has_pi else ""
        body.append(f'<tr><td class="{cls}">{escape(str(r.get("label", eng)))}</td><td>{escape(str(model))}</td><td class="num">{_num(r.get("estimate"))}</td><td class="num">[{_num(r.get("ci_lb"))}, {_num(r.get("ci_ub"))}]</td>{pi}</tr>')
    py = next((r for r in rows if r.get("engine") == "python"), None)
    rr = next((r for r in rows if r.get("engine") == "r"), None)
    if py and rr and py.get("estimate") is not None and rr.get("estimate") is not None:
        d = abs(py["estimate"] - rr["estimate"])
        body.append(f'<tr><td colspan="2" class="note">|Python − R|</td><td class="num">{_num(d, 2)}</td><td></td>' + ("<td></td>" if has_pi else "") + "</tr>")
    notes = "".join(f'<p class="note">{escape(str(r.get("label")))}: {escape(str(r["note"]))}</p>' for r in rows if r.get("note"))
    return f'<h3>Pooled estimates, engines side by side</h3><table class="pooled">{head}{"".join(body)}</table>{notes}'


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
            body.append(
                f'<tr class="fam v-{escape(worst_v)}"><td>{escape(base)}[…] <span class="note">({len(members)}; {n_ok} agree)</span></td><td class="num">…</td><td class="num">…</td>'
                f'<td class="num">max {_num(max(ab) if ab else None, 2)}</td><td class="num">max {_num(max(rel) if rel else None, 2)}</td><td class="num"></td><td>{_badge(worst_v)}</td></tr>'
            )
            continue
        tol = q.get("tolerance") or {}
        tol_s = f"{_num(tol.get('rtol'), 2)} / {_num(tol.get('atol'), 2)}" if tol else "—"
        v = str(q.get("verdict"))
        body.append(
            f'<tr class="v-{escape(v)}"><td>{escape(str(q.get("name")))}</td><td class="num">{_num(q.get("python"))}</td><td class="num">{_num(q.get("r"))}</td>'
            f'<td class="num">{_num(q.get("abs_diff"), 2)}</td><td class="num">{_num(q.get("rel_diff"), 2)}</td><td class="num">{tol_s}</td><td>{_badge(v)}</td></tr>'
        )
    note = '<p class="note">Indexed quantities (per study, per coefficient, ...) are summarised per family with their largest differences; every one that does not agree is listed. The JSON report has every record.</p>' if grouped else ""
    return f'{note}<table class="quantities">{head}{"".join(body)}</table>'


def figures(plot: dict | None, aid: str, fmt: str = "svg", max_study_rows: int = 50) -> str:
    """The HTML of one analysis's plots (forest, coefficients, funnel); runs in worker processes too."""
    if not plot:
        return ""
    if plot.get("error"):
        return f'<div class="warn">plot unavailable: {escape(plot["error"])}</div>'
    out = []
    try:
        if plot.get("studies") or plot.get("pooled"):
            p, n = plot, len(plot.get("studies") or [])
            caption = f"Forest plot: {plot.get('model', '')}; Python (blue, filled squares sized by weight) and {plot.get('engines', {}).get('r', 'R')} (orange, open circles) side by side"
            if any(x.get("from_data") for x in plot.get("studies") or []):
                caption += "; the study effects (grey) are the data both engines received, this kind compares no per-study number"
            if n > max_study_rows:
                p = dict(plot, studies=plot["studies"][:max_study_rows])
                caption += f"; the first {max_study_rows} of {n} studies are drawn (every study is in the quantity table and the JSON)"
            out.append(_figure(plots.forest(p), "forest", f"forest plot of {aid}", caption + ".", fmt))
        if plot.get("coefficients"):
            out.append(_figure(plots.coefficients(plot), "coefficients", f"coefficients of {aid}", "Meta-regression coefficients with their CIs, both engines.", fmt))
        if plot.get("funnel") and plot.get("studies"):
            out.append(_figure(plots.funnel(plot), "funnel", f"funnel plot of {aid}", "Funnel plot (publication-bias tests were run): effect against standard error, with the pooled estimate's pseudo 95% CI.", fmt))
    except Exception as e:  # noqa: BLE001 - shown in the report, never hides the tables
        out.append(f'<div class="warn">plot failed: {escape(type(e).__name__)}: {escape(str(e))}</div>')
    return "\n".join(out)


def _figures_job(args):
    return figures(*args)


def _all_figures(analyses, fmt, max_study_rows, workers):
    """Plots of every analysis; in ``workers`` spawned processes when there are many."""
    jobs = [(from_analysis_dict(a), str(a.get("id")), fmt, max_study_rows) for a in analyses]
    if workers > 1 and len(jobs) > 16:
        try:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as ex:
                return list(ex.map(_figures_job, jobs, chunksize=8)), jobs
        except (OSError, RuntimeError, ImportError):  # no processes here: draw them in this one
            pass
    return [figures(*j) for j in jobs], jobs


def _analysis(a: dict, figs: str, plot: dict | None) -> str:
    aid = str(a.get("id"))
    out = [f'<section class="analysis" id="{_anchor(aid)}"><h2>{escape(aid)} {_badge(a.get("verdict"))}</h2>']
    opts = a.get("options") or {}
    bits = [f"kind <code>{escape(str(a.get('kind', '')))}</code>", f"fixture <code>{escape(_short_path(a.get('fixture', '')))}</code>"]
    bits += [f"{escape(str(k))} <code>{escape(', '.join(map(str, v)) if isinstance(v, list) else str(v))}</code>" for k, v in opts.items() if v not in (None, [], "")]
    out.append(f'<p class="opts">{" · ".join(bits)}</p>')
    for side, key in (("Python", "python_error"), ("R", "r_error")):
        if a.get(key):
            out.append(f'<div class="err">{side} error: {escape(str(a[key]))}</div>')
    for side, key in (("Python", "python_warnings"), ("R", "r_warnings")):
        for w in a.get(key) or []:
            out.append(f'<div class="warn">{side} warning: {escape(str(w))}</div>')
    if figs:
        out.append(figs)
    if plot and not plot.get("error"):
        out.append(_pooled_table(plot))
    qs = a.get("quantities") or []
    expl = [q for q in qs if q.get("verdict") == "explained" or (q.get("verdict") not in ("agree",) and q.get("explanation"))]
    if expl:
        out.append("<h3>Explanations</h3><ul class=\"explanations\">")
        for q in expl:
            out.append(f"<li><b>{escape(str(q.get('name')))}</b> {_badge(q.get('verdict'))}: {escape(str(q.get('explanation') or ''))}</li>")
        out.append("</ul>")
    for k, v in a.items():
        if k not in KNOWN:
            out.append(_generic(k, v))
    if qs:
        n_bad = sum(1 for q in qs if q.get("verdict") != "agree")
        open_ = " open" if n_bad else ""
        label = f"All {len(qs)} quantities" + (f" ({n_bad} not agreeing)" if n_bad else " (all agree)")
        out.append(f"<details{open_}><summary>{label}</summary>{_quantity_table(qs)}</details>")
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


def render(doc: dict, title: str = "metaharness report", fmt: str = "svg", max_study_rows: int = 50, workers: int = 1) -> str:
    """The whole report as one HTML string (no external resources).

    ``workers`` > 1 draws the plots in that many spawned processes (the
    command line does; a script that asks for it needs the usual
    ``if __name__ == "__main__":`` guard, as for any spawned multiprocessing).
    """
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f'<header><h1>{escape(title)}</h1><p>Generated {now} · JSON schema {escape(str(doc.get("schema", "—")))} · Python core vs R (metafor / robumeta / clubSandwich)</p></header>',
        "<main>",
        _summary(doc, title),
    ]
    for f in doc.get("files") or []:
        parts.append(_file_section(f))
    analyses = doc.get("analyses") or []
    figs, jobs = _all_figures(analyses, fmt, max_study_rows, workers)
    for a, f, j in zip(analyses, figs, jobs):
        parts.append(_analysis(a, f, j[0]))
    parts.append("</main></body></html>")
    return "\n".join(parts)


def write(run_or_doc, path, title: str = "metaharness report", fmt: str = "svg", workers: int = 1) -> None:
    doc = run_or_doc if isinstance(run_or_doc, dict) else run_or_doc.to_dict()
    Path(path).write_text(render(doc, title=title, fmt=fmt, workers=workers), encoding="utf-8")
