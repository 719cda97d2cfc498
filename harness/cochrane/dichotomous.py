"""Re-verify dichotomous, generic inverse-variance and O − E analyses of a Cochrane review.

The data types of :mod:`.rm5` other than continuous and "other data", each
recomputed by two engines, independently, as :mod:`.reverify` does for
continuous analyses (it calls :func:`collect`, :func:`compute_python` and
:func:`compute_r`, and compares the result with RevMan's values through the
same :class:`~harness.compare.compare.QuantityRecord` layer, TOTALS rules,
tolerances and registry):

* **Python** — the RevMan 5 engine :mod:`harness.core.revman_binary`
  (Deeks & Higgins 2010: RevMan's zero-cell and "not estimable" rules;
  Mantel–Haenszel fixed effect and "M-H random" for OR, RR, RD;
  inverse-variance fixed and random; Peto; generic IV; O − E; subgroups and
  the test for subgroup differences; totals of events and participants);
* **R** — metafor: ``mh_cochrane_dich`` (``r_scripts/binary.R``: RevMan's
  rules with ``rma.mh`` for the Mantel–Haenszel OR and RR and ``rma.uni``
  for the inverse-variance and DerSimonian–Laird pooling) and
  ``mh_cochrane_generic`` (``r_scripts/cochrane.R``: ``rma.uni`` on the
  given estimates, or on Peto's (O − E)/V with SE 1/√V).

What is compared, beyond the continuous quantities, is what RevMan writes
for these data types:

========  ===========================================================  ==========================
type      per study                                                    per subgroup and overall
========  ===========================================================  ==========================
DICH      ESTIMABLE, EFFECT_SIZE, SE, VAR, CI_START, CI_END,           the continuous ones, LOG_*,
          LOG_EFFECT_SIZE, LOG_CI_START, LOG_CI_END, WEIGHT            EVENTS_1/2, TOTAL_1/2
IV        ESTIMABLE, CI_START, CI_END, LOG_CI_*, WEIGHT (EFFECT_SIZE   the continuous ones, LOG_*
          and SE are the study's inputs)
IPD       ESTIMABLE, EFFECT_SIZE, SE, CI_START, CI_END, LOG_*, WEIGHT  the continuous ones, LOG_*
          (O_E and VAR are the inputs)
========  ===========================================================  ==========================

Ratio measures are stored on the ratio scale (``EFFECT_SIZE``, ``CI_*``) and
as log10 (``LOG_*``); both engines pool on the natural-log scale and the
display transform (exp, ÷ ln 10) is applied to each engine's own numbers.
``ESTIMABLE`` is compared as 1 (``YES``) or 0 (``NO``) for every study; a
study that is not estimable has no results (RevMan writes zeros for them and
lists it as "Not estimable"), nor has a block without an estimable study
(its stored zeros are not compared; its totals are). Totals of events and
participants count every study, estimable or not.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from ..core import distributions as stats  # scipy.stats' functions, without importing scipy.stats

from ..core import revman_binary as rb
from .rm5 import INPUTS, Analysis, ci_level, empty_inputs, unique_names

#: the data types re-verified here (rm5.DATA_TYPES codes)
TYPES = ("DICH", "IV", "IPD")
#: RevMan's dichotomous effect measures and the statistical methods it offers for them
DICH_MEASURES = {"OR": "OR", "RR": "RR", "RD": "RD", "PETO_OR": "OR"}
#: generic IV / O − E measures whose scale is known: ratio (entered and pooled on the log scale) or difference
RATIO = ("OR", "RR", "HR", "PETO_OR", "RATIO")
DIFFERENCE = ("MD", "SMD", "RD")
LOG_Q = ("LOG_EFFECT_SIZE", "LOG_CI_START", "LOG_CI_END")
TOTALS_Q = ("EVENTS_1", "TOTAL_1", "EVENTS_2", "TOTAL_2")


@dataclass(frozen=True)
class Quantities:
    """What RevMan writes for one data type: compared per study, per pooled block, and always written."""

    study: tuple
    pooled: tuple
    study_expected: tuple
    pooled_expected: tuple


def quantities(an: Analysis) -> Quantities:
    """The stored quantities compared for ``an`` (see the module doc's table)."""
    from .reverify import POOLED_EXPECTED, POOLED_Q

    ratio = _is_ratio(an)
    log = LOG_Q if ratio else ()
    if an.data_type == "DICH":
        study = ("EFFECT_SIZE", "SE", "VAR", "CI_START", "CI_END") + log + ("WEIGHT",)
        return Quantities(study, POOLED_Q + log + TOTALS_Q, ("EFFECT_SIZE", "SE", "CI_START", "CI_END", "WEIGHT"), POOLED_EXPECTED + TOTALS_Q)
    if an.data_type == "IV":
        study = ("CI_START", "CI_END") + (LOG_Q[1:] if ratio else ()) + ("WEIGHT",)
        return Quantities(study, POOLED_Q + log, ("CI_START", "CI_END", "WEIGHT"), POOLED_EXPECTED)
    study = ("EFFECT_SIZE", "SE", "CI_START", "CI_END") + log + ("WEIGHT",)
    return Quantities(study, POOLED_Q + log, ("EFFECT_SIZE", "SE", "CI_START", "CI_END", "WEIGHT"), POOLED_EXPECTED)


def _measure(an: Analysis) -> str:
    return an.settings.get("EFFECT_MEASURE", "").strip().upper()


def _method(an: Analysis) -> str:
    m = an.settings.get("METHOD", "").strip().upper()
    return {"DICH": m, "IV": "IV", "IPD": "PETO"}[an.data_type]


def _is_ratio(an: Analysis) -> bool:
    if an.data_type == "DICH":
        return _measure(an) != "RD"
    return _measure(an) in RATIO or an.data_type == "IPD"


def unsupported(an: Analysis) -> str | None:
    """Why ``an`` cannot be recomputed (settings outside RevMan 5's methods for its data type), or None."""
    measure, method = _measure(an), _method(an)
    if an.data_type == "DICH":
        if measure not in DICH_MEASURES:
            return f"dichotomous outcome with effect measure {measure!r}: only OR, RR, RD and PETO_OR are re-verified"
        if method not in rb.METHODS:
            return f"dichotomous outcome with statistical method {method!r}: only MH, IV and PETO are re-verified"
        if (method == "PETO") != (measure == "PETO_OR"):
            return f"dichotomous outcome with effect measure {measure!r} and method {method!r}: Peto's method gives PETO_OR only"
        return None
    if an.data_type == "IV" and measure not in RATIO + DIFFERENCE:
        return f"generic IV outcome with effect measure {measure!r}: its scale (ratio, on the log scale, or difference) is not known here"
    return None


@dataclass
class OutcomeData:
    """One analysis's studies: inputs of every study (``x``), and the estimable ones (``rows``) for the forest plot."""

    dtype: str
    x: dict  # input attribute -> array over every study (the file's order)
    all_rows: list
    all_group: list  # subgroup label per study ("" without subgroups)
    all_labels: list  # unique display names of every study
    estimable: np.ndarray  # the Python engine's
    rows: list  # estimable studies (as reverify._Data: forestdata lists the others as not estimable)
    group: list
    labels: list


def collect(an: Analysis, audit) -> OutcomeData | None:
    """Every study's inputs; None (with problems on ``audit``) when a study's input is empty or not a number."""
    rows, groups = an.grouped_rows()
    keys = INPUTS[an.data_type]
    if empty_inputs(rows, keys, audit.problems):
        return None
    x = {k: np.array([r.inputs[k] for r in rows], float) for k in keys}
    if an.data_type == "DICH":
        for g in (1, 2):
            e, n = x[f"EVENTS_{g}"], x[f"TOTAL_{g}"]
            for i in np.flatnonzero((e < 0) | (n < 0) | (e > n) | (e != np.round(e)) | (n != np.round(n))):
                audit.problems.append(f"{rows[i].where()}: EVENTS_{g} = {e[i]:g} and TOTAL_{g} = {n[i]:g} are not counts with events <= total")
            for i in np.flatnonzero(n == 0):
                audit.problems.append(f"{rows[i].where()}: TOTAL_{g} = 0 (an empty group)")
        if audit.problems and any("not counts" in p or "an empty group" in p for p in audit.problems):
            return None
    names = unique_names(rows)
    est = _study_effects(an, x)[2]
    keep = np.flatnonzero(est)
    return OutcomeData(an.data_type, x, rows, groups, names, est, [rows[i] for i in keep], [groups[i] for i in keep], [names[i] for i in keep])


def _study_effects(an: Analysis, x: dict):
    """(yi, sei, estimable, pooling function of a study mask) of the Python RevMan engine."""
    model = "random" if an.settings.get("RANDOM", "NO").upper() == "YES" else "fixed"
    level = ci_level(an.settings.get("CI_TOTAL"))
    if an.data_type == "DICH":
        st = rb.study_effects(DICH_MEASURES[_measure(an)], x["EVENTS_1"], x["TOTAL_1"], x["EVENTS_2"], x["TOTAL_2"], method=_method(an))
        return st.yi, st.sei, st.estimable, lambda m: rb.pool_studies(rb.subset(st, m), model, level)
    if an.data_type == "IV":
        yi, sei = x["EFFECT_SIZE"], x["SE"]
    else:
        yi, sei = rb.peto_from_oe(x["O_E"], x["VAR"])
    est = np.isfinite(yi) & np.isfinite(sei) & (sei > 0)
    return yi, sei, est, lambda m: rb.pool_generic(yi[m], sei[m], model, level)


def _display(an: Analysis):
    """(RevMan's displayed value of a log-scale number, its LOG_* value or None) for ``an``'s measure."""
    if _is_ratio(an):
        return (lambda v: math.exp(v) if math.isfinite(v) else math.nan), (lambda v: v / math.log(10))
    return (lambda v: v), None


def _pooled_block(an, est, se, lb, ub, z, p, chi2, df, p_chi2, i2, tau2) -> dict:
    disp, log10 = _display(an)
    out = {"EFFECT_SIZE": disp(est), "SE": se, "CI_START": disp(lb), "CI_END": disp(ub), "Z": z, "P_Z": p, "CHI2": chi2, "DF": df,
           "P_CHI2": p_chi2, "I2": i2, "TAU2": tau2}
    if log10 is not None:
        out.update({"LOG_EFFECT_SIZE": log10(est), "LOG_CI_START": log10(lb), "LOG_CI_END": log10(ub)})
    return out


def _study_block(an, name, yi, sei, lb, ub, weight) -> dict:
    disp, log10 = _display(an)
    out = {"EFFECT_SIZE": disp(yi), "SE": sei, "VAR": sei**2, "CI_START": disp(lb), "CI_END": disp(ub), "WEIGHT": weight}
    if log10 is not None:
        out.update({"LOG_EFFECT_SIZE": log10(yi), "LOG_CI_START": log10(lb), "LOG_CI_END": log10(ub)})
    return {f"study[{name}].{k}": v for k, v in out.items()}


def _totals(d: OutcomeData, mask) -> dict:
    if d.dtype != "DICH":
        return {}
    return {k: float(np.sum(d.x[k][mask])) for k in TOTALS_Q}


def compute_python(an: Analysis, d: OutcomeData, level_study, subgroups, weights_within) -> dict:
    """All quantities of one analysis from the Python RevMan engine, as {name: value}."""
    model = "random" if an.settings.get("RANDOM", "NO").upper() == "YES" else "fixed"
    yi, sei, est, pool_fn = _study_effects(an, d.x)
    z = stats.norm.isf((1 - level_study / 100) / 2)
    n = len(d.all_rows)
    out: dict[str, float] = {}
    g = np.array(d.all_group, dtype=object)
    sa = rb.subgroup_analysis(pool_fn, g if subgroups else np.zeros(n, object), model)
    weights = np.array(sa.overall.weights, float)
    if subgroups and weights_within:
        for lab, p in sa.subgroups.items():
            weights[g == lab] = p.weights

    def block(p):
        return {} if p.k == 0 else _pooled_block(an, p.estimate, p.se, p.ci_lb, p.ci_ub, p.z, p.p, p.chi2, float(p.df), p.p_chi2, p.i2, p.tau2)

    for i, name in enumerate(d.all_labels):
        out[f"study[{name}].ESTIMABLE"] = float(est[i])
        if est[i]:
            out.update(_study_block(an, name, yi[i], sei[i], yi[i] - z * sei[i], yi[i] + z * sei[i], weights[i]))
    overall = block(sa.overall)
    if overall:
        overall["WEIGHT"] = 100.0
    out.update({f"overall.{k}": v for k, v in {**overall, **_totals(d, np.ones(n, bool))}.items()})
    if subgroups:
        for lab, p in sa.subgroups.items():
            b = block(p)
            if b:
                b["WEIGHT"] = float(np.sum(weights[g == lab]))
            out.update({f"subgroup[{lab}].{k}": v for k, v in {**b, **_totals(d, g == lab)}.items()})
        have = [lab for lab, p in sa.subgroups.items() if p.k > 0]
        if len(have) == 1:  # one non-empty subgroup: Q = 0 on df = 0 (P undefined), I² = 0, as for continuous data
            out.update({"subgroups.Q": 0.0, "subgroups.P_Q": math.nan, "subgroups.I2_Q": 0.0})
        elif len(have) >= 2:
            out.update({"subgroups.Q": sa.chi2, "subgroups.P_Q": sa.p, "subgroups.I2_Q": sa.i2})
    return {k: float(v) for k, v in out.items()}


def _first(x):
    if isinstance(x, list):
        x = x[0] if x else None
    return math.nan if x is None else float(x)


def compute_r(engine, an: Analysis, d: OutcomeData, level_study, subgroups, weights_within):
    """The same quantities from metafor (R); raises HarnessError with R's message on failure."""
    from ..errors import HarnessError

    model = "random" if an.settings.get("RANDOM", "NO").upper() == "YES" else "fixed"
    level_total = ci_level(an.settings.get("CI_TOTAL"))
    common = dict(group=list(d.all_group), level_study=float(level_study), level_total=float(level_total), subgroups=bool(subgroups),
                  weights_within=bool(weights_within))
    if an.data_type == "DICH":
        x = d.x
        call = engine.call("mh_cochrane_dich", ai=x["EVENTS_1"], n1i=x["TOTAL_1"], ci=x["EVENTS_2"], n2i=x["TOTAL_2"],
                           measure=DICH_MEASURES[_measure(an)], method=_method(an), model=model, **common)
        names = dict(est="estimate", se="se", lb="ci_lb", ub="ci_ub", z="z", p="p", chi2="chi2", df="df", p_chi2="p_chi2", i2="i2", tau2="tau2")
    else:
        data = dict(yi=d.x["EFFECT_SIZE"], sei=d.x["SE"]) if an.data_type == "IV" else dict(o_e=d.x["O_E"], var=d.x["VAR"])
        call = engine.call("mh_cochrane_generic", method="FE" if model == "fixed" else "DL", subgroup_test=model, **data, **common)
        names = dict(est="EFFECT_SIZE", se="SE", lb="CI_START", ub="CI_END", z="Z", p="P_Z", chi2="CHI2", df="DF", p_chi2="P_CHI2", i2="I2", tau2="TAU2")
    if call.error:
        raise HarnessError(f"metafor: {call.error}")
    v = call.value
    out: dict[str, float] = {}
    est = [bool(e) for e in v["estimable"]]

    def col(key, i):
        x = v.get(key)
        return math.nan if x is None or x[i] is None else float(x[i])

    for i, name in enumerate(d.all_labels):
        out[f"study[{name}].ESTIMABLE"] = float(est[i])
        if est[i]:
            out.update(_study_block(an, name, col("yi", i), col("sei", i), col("ci_lb", i), col("ci_ub", i), col("weight", i)))

    def pooled(prefix, p, weight):
        if p is None:
            return
        if p.get(names["est"]) is not None:
            b = _pooled_block(an, *(_first(p.get(names[k])) for k in ("est", "se", "lb", "ub", "z", "p", "chi2", "df", "p_chi2", "i2", "tau2")))
            b["WEIGHT"] = weight if weight is not None else _first(p.get("WEIGHT"))
            out.update({f"{prefix}.{k}": x for k, x in b.items()})
        out.update({f"{prefix}.{k}": _first(p[k]) for k in TOTALS_Q if k in p})

    pooled("overall", v.get("overall"), 100.0)
    for lab, p in (v.get("subgroups") or {}).items():
        pooled(f"subgroup[{lab}]", p, None)
    if v.get("test"):
        out.update({f"subgroups.{k}": _first(x) for k, x in v["test"].items() if k != "DF"})
    return out, call.warnings


def stored_extra(an: Analysis, d: OutcomeData, show, out: dict, hidden: list):
    """What the generic stored-value reader does not know: ``ESTIMABLE`` of every study, totals of blocks
    without an estimable study, and RevMan's zeros of such blocks removed (they are not results)."""
    for r, name in zip(d.all_rows, d.all_labels):
        flag = (r.raw.get("ESTIMABLE") or "").strip().upper()
        if flag in ("YES", "NO"):
            out[f"study[{name}].ESTIMABLE"] = 1.0 if flag == "YES" else 0.0
    if not d.rows:
        for k in list(out):
            if k.startswith("overall.") and k.split(".", 1)[1] not in TOTALS_Q:
                del out[k]
    if d.dtype == "DICH" and an.has_subgroups and show.subtotals:
        used = set(d.group)
        for sg in an.subgroups:
            lab = f"{sg.no}: {sg.name}"
            if lab not in used:
                for q in TOTALS_Q:
                    if q in sg.stored:
                        out[f"subgroup[{lab}].{q}"] = sg.stored[q]
    if d.dtype == "DICH" and not show.overall:
        for q in TOTALS_Q:
            out.pop(f"overall.{q}", None)
