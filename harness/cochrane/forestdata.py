"""The forest plot of a re-verified analysis, as plain data, and its conversion to the shared forest module.

:func:`describe` gives, for one re-verified analysis, everything its
RevMan-layout forest plot shows — studies under their subgroups (the
not-estimable ones too, as RevMan lists them), each with RevMan's stored and
the recomputed estimate, CI and weight, and the study data RevMan prints
beside them (mean, SD and total per group; events and total for dichotomous
data); subtotals and the overall total with their heterogeneity (τ², χ², df,
P, I²) and overall-effect (Z, P) numbers; the test for subgroup differences;
the "Favours …" labels of the file; per row, the verdict of each recomputation
against RevMan's value — as a JSON-ready dict (kept on
:attr:`~harness.cochrane.reverify.AnalysisAudit.forest`, so that it pickles,
travels in ``--json`` and is drawn by the audit HTML). Only what RevMan
displays is described (the analysis's ``TOTALS``: no overall diamond under
"subtotals only", no diamonds and no weights under "no totals").

Shape (every number may be None where a side has none)::

    {"analysis", "number", "title", "comparison", "measure", "method", "model",
     "level_study", "level_total", "log_scale", "favours": [left, right],
     "group_labels": [experimental, control], "column_headers": [...], "totals": "YES"|"SUB"|"NO",
     "series": ["revman", "python", "r"],
     "groups": [{"title": str | None, "number": "1.1.1" | None,
                 "studies": [{"label", "estimable", "columns": [...], "revman": POINT, "python": POINT, "r": POINT,
                              "verdict": {"python": v, "r": v}}],
                 "subtotal": {"columns", "events", "revman": POOLED, ..., "verdict": {...}} | None}],
     "overall": {"columns", "events", "revman": POOLED, ..., "verdict": {...}} | None,
     "subgroup_test": {"revman": TEST, ..., "verdict": {...}} | None}
    POINT  = {"estimate", "ci_lb", "ci_ub", "weight"}
    POOLED = POINT + {"tau2", "chi2", "df", "p_chi2", "i2", "z", "p_z"}
    TEST   = {"chi2", "df", "p", "i2"}

Numbers are on the scale RevMan stores them: the natural scale for ratio
measures (OR, RR, HR), drawn on a logarithmic axis. A row's ``verdict`` maps
each recomputing side to the worst verdict of its comparisons with RevMan's
values on that row (absent: nothing of the row was compared with RevMan).

:func:`to_forest` converts one series of a description into a ``ForestPlot``
of the shared RevMan-layout module :mod:`harness.reports.forest` (the one
module that draws forest plots); :func:`to_forest_pair` gives RevMan's series
and a recomputed one, for ``forest.to_svg(plot, other, labels, differ_rtol=None)``
to draw side by side, with the rows whose comparison differs marked "≠".
"""
from __future__ import annotations

import math
import re
from dataclasses import replace

from ..compare.compare import worst_verdict
from ..reports import forest as fm

#: ratio measures: estimates on the natural scale, the axis logarithmic (RevMan draws OR/RR so)
RATIO_MEASURES = ("OR", "RR", "HR", "PETO_OR", "RATIO")
SERIES = ("revman", "python", "r")
#: how the series are named in a plot's legend and headers
SERIES_NAMES = {"revman": "RevMan (stored)", "python": "recomputed (Python)", "r": "recomputed (metafor)"}
_POINT = {"estimate": "EFFECT_SIZE", "ci_lb": "CI_START", "ci_ub": "CI_END", "weight": "WEIGHT"}
_POOLED = {**_POINT, "tau2": "TAU2", "chi2": "CHI2", "df": "DF", "p_chi2": "P_CHI2", "i2": "I2", "z": "Z", "p_z": "P_Z"}
_TEST = {"chi2": "Q", "df": None, "p": "P_Q", "i2": "I2_Q"}
DEFAULT_FAVOURS = ("Favours [experimental]", "Favours [control]")
#: RevMan 5's names of its statistical methods, as its forest-plot headers print them ("IV, Random, 95% CI")
METHOD_NAMES = {"IV": "IV", "MH": "M-H", "PETO": "Peto"}
#: verdicts that mark a row "≠" (its recomputation differs from RevMan's value, or has none)
MARKED = ("differ", "missing")


def _num(x):
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def _block(prefix, fields, sides):
    return {side: {k: (_num(vals.get(f"{prefix}.{a}")) if a else None) for k, a in fields.items()} for side, vals in sides.items()}


def _verdicts(records) -> dict:
    """{row prefix: {side: worst verdict of that side's comparisons with RevMan on the row}}."""
    by: dict = {}
    for q in records:
        prefix = q.name.rsplit(".", 1)[0]
        for c in q.comparisons:
            side, ref = (tuple(c.sides) + (None, None))[:2]
            if ref == "revman":
                by.setdefault(prefix, {}).setdefault(side, []).append(c.verdict)
    return {p: {s: worst_verdict(v) for s, v in sides.items()} for p, sides in by.items()}


def number(analysis_id: str) -> str:
    """RevMan's analysis number: ``CMP-001.02`` (an .rm5 ID) or ``1.2`` (an export's) -> ``1.2``."""
    parts = re.findall(r"\d+", str(analysis_id))
    return ".".join(str(int(p)) for p in parts) if parts else str(analysis_id)


def _events(an):
    """The "Total events" cells of a pooled row (dichotomous data: RevMan's stored EVENTS_1/2 of the block), or ()."""
    if an.data_type != "DICH":
        return lambda el: []
    return lambda el: [(el.raw.get("EVENTS_1") or "").strip(), "", (el.raw.get("EVENTS_2") or "").strip(), ""]


def _columns(an):
    """(column headers, cells of a study row, cells of a pooled row from RevMan's stored totals) for the data type."""
    g1, g2 = (x or d for x, d in zip(an.group_labels, ("Experimental", "Control")))

    def raw(row, k):  # the file's own text
        return (row.raw.get(k) or "").strip()

    if an.data_type == "CONT":
        keys = ("MEAN_1", "SD_1", "TOTAL_1", "MEAN_2", "SD_2", "TOTAL_2")
        heads = (f"{g1}\nMean", "\nSD", "\nTotal", f"{g2}\nMean", "\nSD", "\nTotal")
        return heads, (lambda row: [raw(row, k) for k in keys]), (lambda el: ["", "", raw(el, "TOTAL_1"), "", "", raw(el, "TOTAL_2")])
    if an.data_type == "DICH":
        keys = ("EVENTS_1", "TOTAL_1", "EVENTS_2", "TOTAL_2")
        heads = (f"{g1}\nEvents", "\nTotal", f"{g2}\nEvents", "\nTotal")
        return heads, (lambda row: [raw(row, k) for k in keys]), (lambda el: ["", raw(el, "TOTAL_1"), "", raw(el, "TOTAL_2")])
    return (), (lambda row: []), (lambda el: [])


def describe(an, d, stored: dict, py: dict, r: dict | None, show, records=(), levels=(95.0, 95.0)) -> dict:
    """The forest plot of one re-verified analysis as plain data (see the module doc).

    ``d``: the recomputed studies (``d.rows``, their unique names ``d.labels``
    and subgroup labels ``d.group``: ``"NO: name"``, ``""`` without
    subgroups); studies of ``an`` not in ``d.rows`` are listed as not
    estimable. ``stored``: RevMan's displayed values by quantity name;
    ``py``/``r``: the recomputations (``r`` None when R did not run);
    ``show``: :class:`~harness.cochrane.reverify.Display`; ``records``: the
    analysis's :class:`~harness.compare.compare.QuantityRecord` comparisons
    (each row's verdicts); ``levels``: the confidence levels of the study
    CIs and of the pooled ones (``CI_STUDY``, ``CI_TOTAL``) as the
    recomputation used them.
    """
    sides = {"revman": stored, "python": py, "r": r or {}}
    verdicts = _verdicts(records)
    measure = an.settings.get("EFFECT_MEASURE", "")
    heads, study_cells, pooled_cells = _columns(an)
    events_cells = _events(an)
    label_of = {id(row): name for row, name in zip(d.rows, d.labels)}
    num = number(an.id)
    empty = {k: None for k in _POINT}

    def study(row):
        name = label_of.get(id(row))
        if name is None:  # not estimable: RevMan lists it, with no numbers
            return {"label": row.name, "estimable": False, "columns": study_cells(row), **{s: dict(empty) for s in sides}, "verdict": {}}
        pts = _block(f"study[{name}]", _POINT, sides)
        if not show.study_weights:
            for p in pts.values():
                p["weight"] = None
        return {"label": name, "estimable": True, "columns": study_cells(row), **pts, "verdict": verdicts.get(f"study[{name}]", {})}

    out_groups = []
    if an.has_subgroups:
        used = set(d.group)
        for sg in an.subgroups:
            lab = f"{sg.no}: {sg.name}"
            sub = None
            if show.subtotals:
                sub = _block(f"subgroup[{lab}]", _POOLED, sides) if lab in used else {s: {k: None for k in _POOLED} for s in sides}
                sub.update(columns=pooled_cells(sg), events=events_cells(sg), verdict=verdicts.get(f"subgroup[{lab}]", {}))
            out_groups.append({"title": sg.name or None, "number": f"{num}.{sg.no}", "studies": [study(row) for row in sg.rows], "subtotal": sub})
        if an.rows:  # studies outside any subgroup (RevMan does not write these beside subgroups; listed if a file does)
            out_groups.append({"title": None, "number": None, "studies": [study(row) for row in an.rows], "subtotal": None})
    else:
        out_groups.append({"title": None, "number": None, "studies": [study(row) for row in an.all_rows()], "subtotal": None})
    overall = None
    if show.overall:
        overall = _block("overall", _POOLED, sides)
        overall.update(columns=pooled_cells(an), events=events_cells(an), verdict=verdicts.get("overall", {}))
    test = None
    if show.test:
        test = _block("subgroups", _TEST, sides)
        for t in test.values():
            t["df"] = float(len(set(d.group)) - 1)
        test["verdict"] = verdicts.get("subgroups", {})
    favours = tuple(x or dflt for x, dflt in zip(an.graph_labels, DEFAULT_FAVOURS))
    return {
        "analysis": an.id,
        "number": num,
        "title": an.name,
        "comparison": an.comparison,
        "measure": measure,
        "method": an.settings.get("METHOD", ""),
        "model": "random" if an.settings.get("RANDOM", "NO").upper() == "YES" else "fixed",
        "level_study": float(levels[0]),
        "level_total": float(levels[1]),
        "log_scale": measure.upper() in RATIO_MEASURES,
        "favours": list(favours),
        "group_labels": list(an.group_labels),
        "column_headers": list(heads),
        "totals": show.totals,
        "series": [s for s in SERIES if s != "r" or r is not None],
        "groups": out_groups,
        "overall": overall,
        "subgroup_test": test,
    }


def _flag(row, mark):
    """``differs`` of a row: True/False from the marked side's verdict against RevMan, None when not compared."""
    v = (row.get("verdict") or {}).get(mark) if mark else None
    return None if v is None else v in MARKED


def _pooled(label, p, random, level, columns=(), differs=None, events=()):
    events = tuple(events) if any(events) else ()
    if p.get("estimate") is None:  # a subgroup without an estimable study: RevMan prints "Not estimable" and these
        return fm.ForestPooled(f"{label} ({level:g}% CI)", None, None, None, heterogeneity="Heterogeneity: Not applicable",
                               overall="Test for overall effect: Not applicable", columns=tuple(columns), differs=differs, events=events)
    het = None
    if p.get("chi2") is not None and p.get("df") is not None:
        het = fm.heterogeneity_text(p.get("tau2") if random else None, p["chi2"], p["df"], p.get("p_chi2"), p.get("i2"))
    ov = fm.overall_text(abs(p["z"]), p.get("p_z")) if p.get("z") is not None else None
    return fm.ForestPooled(f"{label} ({level:g}% CI)", p.get("estimate"), p.get("ci_lb"), p.get("ci_ub"), weight=p.get("weight"),
                           heterogeneity=het, overall=ov, columns=tuple(columns), differs=differs, events=events)


def to_forest(desc: dict, series: str = "revman", mark: str | None = None) -> fm.ForestPlot:
    """One series of a :func:`describe` description as a :class:`~harness.reports.forest.ForestPlot`.

    ``mark``: a recomputing side (``"python"``, ``"r"``) whose verdicts
    against RevMan set each row's ``differs`` (a row is marked "≠" where that
    comparison differs or is missing); None leaves rows unmarked.
    """
    if series not in desc["series"]:
        raise ValueError(f"series {series!r} is not in this description (it has {', '.join(desc['series'])})")
    random = desc["model"] == "random"
    lt = desc.get("level_total", 95.0)
    groups = []
    for g in desc["groups"]:
        studies = tuple(fm.ForestStudy(s["label"], s[series]["estimate"], s[series]["ci_lb"], s[series]["ci_ub"], weight=s[series]["weight"],
                                       columns=tuple(s.get("columns") or ()), differs=_flag(s, mark)) for s in g["studies"])
        sub = g.get("subtotal")
        sub = _pooled("Subtotal", sub[series], random, lt, sub.get("columns") or (), _flag(sub, mark), sub.get("events") or ()) if sub else None
        title = " ".join(x for x in (g.get("number"), g.get("title")) if x) or None
        groups.append(fm.ForestGroup(title, studies, sub))
    ov = desc.get("overall")
    overall = _pooled("Total", ov[series], random, lt, ov.get("columns") or (), _flag(ov, mark), ov.get("events") or ()) if ov else None
    test = None
    t = (desc.get("subgroup_test") or {}).get(series)
    if t and t.get("chi2") is not None:
        test = fm.subgroup_test_text(t["chi2"], t["df"], t.get("p"), t.get("i2"))
    method = desc.get("method") or ("IV" if desc.get("measure") in ("MD", "SMD") else "")
    model = ", ".join(x for x in (METHOD_NAMES.get(method.upper(), method), "Random" if random else "Fixed") if x)
    num = desc.get("number") or desc["analysis"]
    comparison = f"Comparison {num.split('.')[0]} {desc['comparison']}, " if desc.get("comparison") and "." in num else ""
    outcome = f"Outcome {num.split('.', 1)[1]} " if comparison else ""
    return fm.ForestPlot(
        tuple(groups), overall=overall, subgroup_test=test, measure=desc["measure"], model=model,
        level=desc.get("level_study", 95.0), log_scale=desc["log_scale"], favours=tuple(desc["favours"]),
        column_headers=tuple(desc.get("column_headers") or ()),
        title=f"Analysis {num}. {comparison}{outcome}{desc['title'] or ''}".strip(), series=SERIES_NAMES[series],
    )


def to_forest_pair(desc: dict, recomputed: str = "python"):
    """(RevMan's plot, the recomputed plot, labels) for ``forest.to_svg(plot, other, labels, differ_rtol=None)``.

    Rows are marked "≠" by the comparison layer's verdicts (each number
    against RevMan's at the precision RevMan stored it with), never by a
    relative threshold of the drawing: the first plot's ``notes`` say so when
    a row is marked.
    """
    a, b = to_forest(desc, "revman", mark=recomputed), to_forest(desc, recomputed, mark=recomputed)
    rows = [s for g in b.groups for s in g.studies] + list(b.diamonds)
    if any(x.differs for x in rows):
        note = f"≠ : {SERIES_NAMES[recomputed]} differs from RevMan's stored value on this row (see the table of quantities)"
        a = replace(a, notes=a.notes + (note,))
    return a, b, (a.series, b.series)
