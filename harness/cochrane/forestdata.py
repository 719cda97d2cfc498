"""The forest plot of a re-verified analysis, as plain data, and its conversion to the shared forest module.

:func:`describe` gives, for one re-verified analysis, everything its
RevMan-layout forest plot shows — studies under their subgroups, each with
RevMan's stored and the recomputed estimate, CI and weight; subtotals and the
overall total with their heterogeneity (τ², χ², df, P, I²) and overall-effect
(Z, P) numbers; the test for subgroup differences; the "Favours …" labels of
the file — as a JSON-ready dict (kept on
:attr:`~harness.cochrane.reverify.AnalysisAudit.forest`, so that it pickles,
travels in ``--json`` and can be drawn later). Only what RevMan displays is
described (the analysis's ``TOTALS``: no overall diamond under "subtotals
only", no diamonds at all under "no totals").

Shape (every number may be None where a side has none)::

    {"analysis", "title", "measure", "model", "log_scale", "favours": [left, right],
     "group_labels": [experimental, control], "totals": "YES"|"SUB"|"NO",
     "series": ["revman", "python", "r"],
     "groups": [{"title": str | None,
                 "studies": [{"label", "revman": POINT, "python": POINT, "r": POINT}],
                 "subtotal": {"revman": POOLED, "python": POOLED, "r": POOLED} | None}],
     "overall": {"revman": POOLED, ...} | None,
     "subgroup_test": {"revman": TEST, ...} | None}
    POINT  = {"estimate", "ci_lb", "ci_ub", "weight"}
    POOLED = POINT + {"tau2", "chi2", "df", "p_chi2", "i2", "z", "p_z"}
    TEST   = {"chi2", "df", "p", "i2"}

:func:`to_forest` converts one series of a description into a
``ForestPlot`` of the shared RevMan-layout module
:mod:`harness.reports.forest` (the one module that draws forest plots);
:func:`to_forest_pair` gives RevMan's series and a recomputed one, for
``forest.draw(plot, other, labels=...)`` to draw side by side.
"""
from __future__ import annotations

import math

#: ratio measures: estimates on the natural scale, the axis logarithmic (RevMan draws OR/RR so)
RATIO_MEASURES = ("OR", "RR", "HR", "PETO_OR", "RATIO")
SERIES = ("revman", "python", "r")
_POINT = {"estimate": "EFFECT_SIZE", "ci_lb": "CI_START", "ci_ub": "CI_END", "weight": "WEIGHT"}
_POOLED = {**_POINT, "tau2": "TAU2", "chi2": "CHI2", "df": "DF", "p_chi2": "P_CHI2", "i2": "I2", "z": "Z", "p_z": "P_Z"}
_TEST = {"chi2": "Q", "df": None, "p": "P_Q", "i2": "I2_Q"}
DEFAULT_FAVOURS = ("Favours [experimental]", "Favours [control]")


def _num(x):
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def _block(prefix, fields, sides):
    return {side: {k: (_num(vals.get(f"{prefix}.{a}")) if a else None) for k, a in fields.items()} for side, vals in sides.items()}


def describe(an, labels, groups, stored: dict, py: dict, r: dict | None, show) -> dict:
    """The forest plot of one re-verified analysis as plain data (see the module doc).

    ``labels``/``groups``: the recomputed studies' names and subgroup labels
    (``"NO: name"``, ``""`` without subgroups); ``stored``: RevMan's displayed
    values by quantity name; ``py``/``r``: the recomputations (``r`` None when
    R did not run); ``show``: :class:`~harness.cochrane.reverify.Display`.
    """
    sides = {"revman": stored, "python": py, "r": r or {}}
    measure = an.settings.get("EFFECT_MEASURE", "")
    out_groups, order = [], list(dict.fromkeys(groups))
    for g in order:
        studies = []
        for name, gg in zip(labels, groups):
            if gg != g:
                continue
            pts = _block(f"study[{name}]", _POINT, sides)
            if not show.study_weights:
                for p in pts.values():
                    p["weight"] = None
            studies.append({"label": name, **pts})
        sub = None
        if g and show.subtotals:
            sub = _block(f"subgroup[{g}]", _POOLED, sides)
        out_groups.append({"title": (g.split(": ", 1)[1] if ": " in g else g) or None, "studies": studies, "subtotal": sub})
    overall = _block("overall", _POOLED, sides) if show.overall else None
    test = None
    if show.test:
        test = _block("subgroups", _TEST, sides)
        for t in test.values():
            t["df"] = float(len(order) - 1)
    favours = tuple(x or d for x, d in zip(an.graph_labels, DEFAULT_FAVOURS))
    return {
        "analysis": an.id,
        "title": an.name,
        "measure": measure,
        "model": "random" if an.settings.get("RANDOM", "NO").upper() == "YES" else "fixed",
        "log_scale": measure.upper() in RATIO_MEASURES,
        "favours": list(favours),
        "group_labels": list(an.group_labels),
        "totals": show.totals,
        "series": [s for s in SERIES if s != "r" or r is not None],
        "groups": out_groups,
        "overall": overall,
        "subgroup_test": test,
    }


def _forest_module(forest):
    if forest is not None:
        return forest
    from ..reports import forest as mod  # the shared RevMan-layout forest plot

    return mod


def _pooled(fm, label, p, random, level=95):
    if p is None or p.get("estimate") is None:
        return None
    het = None
    if p.get("chi2") is not None and p.get("df") is not None:
        het = fm.heterogeneity_text(p.get("tau2") if random else None, p["chi2"], int(p["df"]), p.get("p_chi2"), p.get("i2"))
    ov = fm.overall_text(abs(p["z"]), p.get("p_z")) if p.get("z") is not None else None
    return fm.ForestPooled(f"{label} ({level:g}% CI)", p["estimate"], p["ci_lb"], p["ci_ub"], weight=p.get("weight"), heterogeneity=het, overall=ov)


def to_forest(desc: dict, series: str = "revman", forest=None):
    """One series of a :func:`describe` description as a ``ForestPlot`` of :mod:`harness.reports.forest`.

    ``forest``: the module providing the interface (``ForestStudy``,
    ``ForestPooled``, ``ForestGroup``, ``ForestPlot`` and the text helpers);
    :mod:`harness.reports.forest` by default.
    """
    fm = _forest_module(forest)
    if series not in desc["series"]:
        raise ValueError(f"series {series!r} is not in this description (it has {', '.join(desc['series'])})")
    random = desc["model"] == "random"
    groups = []
    for g in desc["groups"]:
        studies = tuple(fm.ForestStudy(s["label"], s[series]["estimate"], s[series]["ci_lb"], s[series]["ci_ub"], weight=s[series]["weight"]) for s in g["studies"])
        sub = _pooled(fm, "Subtotal", g["subtotal"][series], random) if g.get("subtotal") else None
        groups.append(fm.ForestGroup(g["title"], studies, sub))
    overall = _pooled(fm, "Total", desc["overall"][series], random) if desc.get("overall") else None
    test = None
    t = (desc.get("subgroup_test") or {}).get(series)
    if t and t.get("chi2") is not None:
        test = fm.subgroup_test_text(t["chi2"], int(t["df"]), t.get("p"), t.get("i2"))
    name = {"revman": "RevMan (stored)", "python": "recomputed (Python)", "r": "recomputed (metafor)"}[series]
    return fm.ForestPlot(
        tuple(groups), overall=overall, subgroup_test=test,
        measure=f"{desc['measure']}, {'Random' if random else 'Fixed'}, 95% CI" if desc["measure"] else "",
        log_scale=desc["log_scale"], favours=tuple(desc["favours"]), title=f"{desc['analysis']} {desc['title']}".strip(), series=name,
    )


def to_forest_pair(desc: dict, recomputed: str = "python", forest=None):
    """(RevMan's plot, the recomputed plot, labels) for ``forest.draw(plot, other, labels=labels)``."""
    a, b = to_forest(desc, "revman", forest), to_forest(desc, recomputed, forest)
    return a, b, (a.series, b.series)
