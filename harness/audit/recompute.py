"""Recomputation from study-level data, and robustness re-runs.

For an outcome with a ``data`` file, the pooled result is recomputed

* under the authors' convention (``convention``: RevMan 5's, metafor's, or
  MD with a pooled-SD variance) by two engines: the Python core
  (:mod:`harness.core.revman` for RevMan; IV/DL pooling is the same formula
  for every convention) and R (``mh_revman``: RevMan's effect sizes computed
  in R, pooled by ``metafor::rma(yi, sei=, method="FE"/"DL")``; or
  ``mh_rma``: ``metafor::escalc`` + ``rma``);
* for an SMD, under the *other* SMD convention too (metafor's for a RevMan
  analysis and vice versa); a mismatch it causes is looked up in the
  explained-differences registry (:mod:`harness.compare.explained`).

Each recomputed number is compared with the reported one at reporting
precision: the reported ``-0.37`` matches anything in [-0.375, -0.365];
``p < 0.0001`` matches anything below 0.0001.

Robustness: the same effect sizes refitted with REML (z), REML with the
Knapp-Hartung adjustment, and DL with Knapp-Hartung (the Python core, which
``verify`` checks against metafor), and with RVE (:mod:`harness.core.rve`)
when a study contributes several rows. A robustness finding is
``inconsistent`` when the conclusion (CI above 0 / below 0 / containing 0)
differs from the reported one.
"""
from __future__ import annotations

import math

import numpy as np

from ..api import univariate as api
from ..core import effect_sizes as es
from ..core import revman
from ..data import read_csv
from .consistency import direction_of_ci, reported_interval
from .findings import Finding, fmt
from .published import TWO_GROUP

CONVENTION_NAMES = {"revman": "RevMan 5 conventions", "metafor": "metafor conventions", "pooled-sd": "MD with pooled-SD variance"}


# ---- data ---------------------------------------------------------------------
def load_data(outcome, path):
    """Study-level columns for one outcome: dict of arrays, labels, extra columns."""
    ds = read_csv(outcome.data)
    col = lambda role: outcome.columns.get(role, role)  # noqa: E731
    cols = {}
    if outcome.measure == "GEN":
        cols["yi"] = ds.numeric(col("yi"))
        if col("sei") in ds.columns:
            cols["sei"] = ds.numeric(col("sei"), lower=0, lower_inclusive=False, what="a standard error")
        else:
            cols["vi"] = ds.numeric(col("vi"), lower=0, lower_inclusive=False, what="a sampling variance")
    else:
        for role in TWO_GROUP:
            if role.startswith("sd"):
                cols[role] = ds.numeric(col(role), lower=0, lower_inclusive=False, what="a standard deviation")
            elif role.startswith("n"):
                cols[role] = ds.numeric(col(role), lower=1, what="a sample size")
            else:
                cols[role] = ds.numeric(col(role))
    labels = ds.labels(outcome.slab)
    groups = {}
    for s in outcome.subgroups:
        if s.column is not None:
            ds.require(s.column, f"subgroup {s.id!r}: the column")
            groups[s.id] = np.array(ds.text(s.column), dtype=object)
    cluster = np.array(ds.text(outcome.cluster), dtype=object) if outcome.cluster else None
    return cols, labels, groups, cluster


def effects(outcome, cols, convention):
    """(yi, vi) under a convention, from the raw columns."""
    if outcome.measure == "GEN":
        vi = cols["vi"] if "vi" in cols else cols["sei"] ** 2
        return cols["yi"], vi
    x = [cols[r] for r in TWO_GROUP]
    if convention == "revman":
        st = revman.study_effects(outcome.measure, *x)
        return st.yi, st.sei**2
    if convention == "pooled-sd":
        return es.md(*x, vtype="HO")
    return (es.md if outcome.measure == "MD" else es.smd)(*x)


# ---- fits ---------------------------------------------------------------------
def _methods(outcome):
    if outcome.model == "fixed":
        return ["FE"]
    if outcome.model == "unknown":  # not stated: RevMan 5's two models
        return ["FE", "DL"]
    return ["DL", "REML"] if outcome.estimator == "unknown" else [outcome.estimator]


def python_fit(yi, vi, method):
    """Pooled result as a dict of the quantities a paper reports."""
    if method in ("FE", "DL"):
        r = revman.pool(yi, np.sqrt(vi), "fixed" if method == "FE" else "random")
        return {"estimate": r.estimate, "se": r.se, "ci_lb": r.ci_lb, "ci_ub": r.ci_ub, "z": r.z, "p": r.p, "tau2": r.tau2, "chi2": r.chi2, "p_het": r.p_chi2, "i2": r.i2, "k": r.k}
    f = api.rma(yi, vi, method=method, control={"threshold": 1e-12, "maxiter": 1000})
    q, df, ph, i2 = revman.heterogeneity(yi, np.sqrt(vi))
    return {"estimate": float(f.beta[0]), "se": float(f.se[0]), "ci_lb": float(f.ci_lb[0]), "ci_ub": float(f.ci_ub[0]), "z": float(f.zval[0]), "p": float(f.pval[0]), "tau2": f.tau2, "chi2": q, "p_het": ph, "i2": float(f.I2), "k": f.k}


def r_fit(engine, outcome, cols, convention, method):
    """The same through R; returns (dict, None) or (None, error text)."""
    data = {k: np.asarray(v, float) for k, v in cols.items()}
    if convention == "revman":
        model = "fixed" if method == "FE" else "random"
        call = engine.call("mh_revman", data=data, measure=outcome.measure, model=model, method=method)
        if call.error:
            return None, call.error
        v = call.value
        g = lambda k: float(np.asarray(v[k], float).ravel()[0]) if v.get(k) is not None else math.nan  # noqa: E731
        i2 = g("i2") if method in ("FE", "DL") else g("i2_metafor")
        return {"estimate": g("estimate"), "se": g("se"), "ci_lb": g("ci_lb"), "ci_ub": g("ci_ub"), "z": g("z"), "p": g("p"), "tau2": g("tau2"), "chi2": g("chi2"), "p_het": g("p_chi2"), "i2": i2, "k": int(g("k"))}, None
    measure = outcome.measure
    if measure == "GEN":
        data = {"yi": data["yi"], "vi": data["vi"] if "vi" in data else data["sei"] ** 2}
    call = engine.call("mh_rma", data=data, mods={}, measure=measure, vtype="HO" if convention == "pooled-sd" else "LS", method=method, test="z", level=95.0, intercept=True, threshold=1e-12, maxiter=1000)
    if call.error:
        return None, call.error
    v = call.value
    g = lambda k: float(np.asarray(v[k], float).ravel()[0])  # noqa: E731
    df = int(g("k")) - 1
    qe = g("QE")
    i2 = (max(0.0, (qe - df) / qe) * 100 if qe > 0 else 0.0) if method in ("FE", "DL") else g("I2")
    return {"estimate": g("beta"), "se": g("se"), "ci_lb": g("ci_lb"), "ci_ub": g("ci_ub"), "z": g("zval"), "p": g("pval"), "tau2": g("tau2"), "chi2": qe, "p_het": g("QEp"), "i2": i2, "k": int(g("k"))}, None


# ---- comparison at reporting precision --------------------------------------------
def compare_reported(block, fit):
    """Per reported quantity: (name, reported text, computed value, matches)."""
    rows = []
    for key in ("estimate", "se", "z", "p", "tau2", "tau", "chi2", "p_het", "i2"):
        rep = block.get(key)
        if rep is None:
            continue
        val = math.sqrt(fit["tau2"]) if key == "tau" else fit[key]
        if key == "z":
            ok = rep.contains(val) or rep.contains(-val)
        else:
            ok = rep.contains(val)
        rows.append((key, rep.text, val, ok))
    if block.ci is not None:
        rows.append(("ci_lb", block.ci[0].text, fit["ci_lb"], block.ci[0].contains(fit["ci_lb"])))
        rows.append(("ci_ub", block.ci[1].text, fit["ci_ub"], block.ci[1].contains(fit["ci_ub"])))
    if block.k is not None:
        rows.append(("k", str(block.k), fit["k"], block.k == fit["k"]))
    return rows


def _summary(rows, only_bad=False):
    parts = [f"{k} {fmt(v)}{'' if ok else ' ≠ ' + t}" for k, t, v, ok in rows if (not ok or not only_bad)]
    return ", ".join(parts)


def _max_rel(a, b):
    out = 0.0
    for k in a:
        x, y = a[k], b.get(k)
        if y is None or not all(map(math.isfinite, (x, y))):
            continue
        out = max(out, abs(x - y) / max(abs(y), 1e-300) if abs(x - y) > 1e-14 else 0.0)
    return out


def recompute(outcome, engine, engine_error=None) -> list[Finding]:
    oid = outcome.id
    out: list[Finding] = []
    if outcome.data is None:
        why = "no study-level data supplied"
        return [Finding(oid, "recomputed", "recomputation", "cannot check", f"{why}: RevMan and metafor recomputation need per-study data"),
                Finding(oid, "robustness", "REML / Knapp–Hartung", "cannot check", f"{why}: the re-runs need per-study effects"),
                Finding(oid, "robustness", "RVE", "cannot check", f"{why}: RVE needs per-study effects and study ids")]
    cols, labels, groups, cluster = load_data(outcome, outcome.data)
    conv = outcome.convention
    yi, vi = effects(outcome, cols, conv)
    k = len(yi)
    methods = _methods(outcome)
    start = len(out)
    for method in methods:
        label = f"{CONVENTION_NAMES[conv]}, {method}"
        py = python_fit(yi, vi, method)
        rows = compare_reported(outcome.reported, py)
        bad = [r for r in rows if not r[3]]
        out.append(Finding(oid, "recomputed", f"{label} (Python)", "inconsistent" if bad else "consistent", _summary(rows, only_bad=False)))
        if engine is None:
            out.append(Finding(oid, "recomputed", f"{label} (R metafor)", "cannot check", f"R engine unavailable: {engine_error}"))
        else:
            rf, err = r_fit(engine, outcome, cols, conv, method)
            if err:
                out.append(Finding(oid, "recomputed", f"{label} (R metafor)", "cannot check", f"R error: {err}"))
            else:
                rrows = compare_reported(outcome.reported, rf)
                rbad = [r for r in rrows if not r[3]]
                out.append(Finding(oid, "recomputed", f"{label} (R metafor)", "inconsistent" if rbad else "consistent", f"{_summary(rrows)}; Python vs R max rel diff {_max_rel(py, rf):.1e}"))
        if outcome.measure == "SMD" and conv in ("revman", "metafor"):
            out.append(_other_smd(outcome, cols, conv, method, py))
    if len(methods) > 1:
        out[start:] = _unstated_method(out[start:], methods)
    out += robustness(outcome, yi, vi, cluster)
    for s in outcome.subgroups:
        if s.column is not None:
            out += subgroup_recompute(outcome, s, yi, vi, groups[s.id], engine, engine_error, cols)
    return out


def _unstated_method(findings, methods):
    """The paper does not state its model/estimator: the report is consistent if one of the
    candidates reproduces it; the candidates that do not are ruled out (``cannot check``), not errors."""
    ok = {m for m in methods if any(f.verdict == "consistent" and f"{m} (" in f.check for f in findings)
            and not any(f.verdict == "inconsistent" and f"{m} (" in f.check for f in findings)}
    if not ok:
        return findings
    out = []
    for f in findings:
        if f.verdict == "inconsistent":
            f = Finding(f.outcome, f.section, f.check, "cannot check", f"model not stated; this candidate does not reproduce the report (matched by {', '.join(sorted(ok))}): {f.reason}")
        out.append(f)
    return out


def _other_smd(outcome, cols, conv, method, own):
    """The other SMD convention, with the registry explaining what it moves."""
    from ..compare.explained import find

    other = "metafor" if conv == "revman" else "revman"
    yo, vo = effects(outcome, cols, other)
    fit = python_fit(yo, vo, method)
    rows = compare_reported(outcome.reported, fit)
    name = f"{CONVENTION_NAMES[other]}, {method}"
    bad = [r for r in rows if not r[3]]
    if not bad:
        return Finding(outcome.id, "recomputed", name, "consistent", f"also matches at reporting precision: {_summary(rows)}")
    from ..core.versions import DEFAULT_METAFOR

    # both fits are the Python core's, at its default metafor release (the registry is version-conditioned)
    ctx = {"measure": "SMD", "conventions": [conv, other], "metafor": DEFAULT_METAFOR}
    why = []
    for key, text, val, _ in bad:
        ref = own[key]
        ad = abs(val - ref)
        rd = ad / abs(ref) if ref != 0 else math.inf
        e = find(key, ctx, ad, rd)
        if e is None:
            return Finding(outcome.id, "recomputed", name, "inconsistent", f"{key} {fmt(val)} ≠ {text}, {fmt(ad)} away from the {CONVENTION_NAMES[conv]} value: more than any registered explanation covers")
        why.append(f"{key} {fmt(val)} vs {fmt(ref)} ({rd:.1e} rel)")
    return Finding(outcome.id, "recomputed", name, "consistent", f"explained ({e.id}): differs from the authors' convention by design — {'; '.join(why)}")


def _direction_text(d):
    return {"increase": "CI above 0", "decrease": "CI below 0", "none": "CI contains 0"}[d]


def robustness(outcome, yi, vi, cluster) -> list[Finding]:
    oid = outcome.id
    b = outcome.reported
    iv = reported_interval(b)
    if iv is None:
        return [Finding(oid, "robustness", "robustness", "cannot check", "neither a CI nor an SE reported: no conclusion to compare with")]
    reported = direction_of_ci(iv[0], iv[1])
    out = []
    runs = [("REML", "z"), ("REML", "knha"), ("DL", "knha")]
    for method, test in runs:
        f = api.rma(yi, vi, method=method, test=test, control={"threshold": 1e-12, "maxiter": 1000})
        lo, hi = float(f.ci_lb[0]), float(f.ci_ub[0])
        d = direction_of_ci(lo, hi)
        name = f"{method}{' + Knapp–Hartung' if test == 'knha' else ''}"
        txt = f"{fmt(f.beta[0])} [{fmt(lo)}, {fmt(hi)}], p = {fmt(f.pval[0], 3)}, tau² = {fmt(f.tau2)} ({_direction_text(d)}; reported: {_direction_text(reported)})"
        out.append(Finding(oid, "robustness", name, "consistent" if d == reported else "inconsistent", ("conclusion unchanged: " if d == reported else "conclusion changes: ") + txt))
    out.append(rve_finding(outcome, yi, vi, cluster, reported))
    return out


def rve_finding(outcome, yi, vi, cluster, reported) -> Finding:
    """RVE (robumeta ``robu``, CORR weights, rho = 0.8, small-sample corrected) when studies repeat."""
    oid = outcome.id
    if cluster is None or len(set(cluster)) == len(cluster):
        return Finding(oid, "robustness", "RVE", "cannot check", "one effect per study (no `cluster` column with repeated studies): RVE is for several effects per study")
    from ..api.rve import robu
    try:
        r = robu(np.asarray(yi, float), np.asarray(vi, float), [str(c) for c in cluster], modelweights="CORR", rho=0.8, small=True)
        lo, hi = float(np.ravel(r.CI_L)[0]), float(np.ravel(r.CI_U)[0])
    except Exception as e:  # an API mismatch or a numerical failure is reported, not hidden
        return Finding(oid, "robustness", "RVE", "cannot check", f"RVE failed: {type(e).__name__}: {e}")
    d = direction_of_ci(lo, hi)
    txt = (f"{fmt(np.ravel(r.b_r)[0])} [{fmt(lo)}, {fmt(hi)}], df = {fmt(np.ravel(r.dfs)[0], 3)}, {r.N} studies / {r.M} effects "
           f"(CORR, rho 0.8, small-sample corrected) ({_direction_text(d)}; reported: {_direction_text(reported)})")
    return Finding(oid, "robustness", "RVE", "consistent" if d == reported else "inconsistent", ("conclusion unchanged: " if d == reported else "conclusion changes: ") + txt)


# ---- subgroups ------------------------------------------------------------------
def subgroup_recompute(outcome, s, yi, vi, groups, engine, engine_error, cols) -> list[Finding]:
    sid = f"{outcome.id}/{s.id}"
    out = []
    sei = np.sqrt(vi)
    model = outcome.model
    labels = list(dict.fromkeys(groups.tolist()))
    if len(labels) < 2:
        return [Finding(sid, "recomputed", "subgroup test", "cannot check", f"column {s.column!r} has a single subgroup")]
    t = revman.subgroup_test(yi, sei, groups, model)
    per = {g: revman.pool(yi[groups == g], sei[groups == g], model) for g in labels}
    desc = "; ".join(f"{g}: {fmt(p.estimate)} [{fmt(p.ci_lb)}, {fmt(p.ci_ub)}] k={p.k}" for g, p in per.items())
    out.append(Finding(sid, "recomputed", f"subgroups ({model}, RevMan)", "consistent", desc))
    head = f"RevMan {model}-effect test: Chi² = {fmt(t.chi2)}, df = {t.df}, P = {fmt(t.p, 3)}, I² = {fmt(t.i2, 3)}%"
    extra = ""
    if engine is not None:
        if outcome.convention == "revman":  # R computes RevMan's effect sizes itself from the raw columns
            rdata, rmeasure = {k: np.asarray(v, float) for k, v in cols.items()}, outcome.measure
        else:  # another convention: R gets the effect sizes and SEs
            rdata, rmeasure = {"yi": np.asarray(yi, float), "sei": np.asarray(sei, float)}, "GEN"
        call = engine.call("mh_revman_subgroup", data=rdata, group=[str(g) for g in groups], measure=rmeasure)
        if call.error:
            extra = f"; R error: {call.error}"
        else:
            v = call.value
            g1 = lambda k: float(np.asarray(v[k], float).ravel()[0])  # noqa: E731
            r_same = g1("chi2_random") if model == "random" else g1("chi2_fixed")
            agree = abs(r_same - t.chi2) <= 1e-10 * max(1.0, abs(t.chi2))
            which = "separate DL fits + rma(b_j, sei=se_j, method=\"FE\")$QE" if model == "random" else "FE meta-regression QM"
            extra = (f"; metafor {which} = {fmt(r_same)} ({'agrees' if agree else 'DIFFERS'}: this is RevMan's number)"
                     f"; FE meta-regression QM = {fmt(g1('chi2_fixed'))}; mixed-effects QM with one common tau² (DL) = {fmt(g1('QM_mixed'))} (not RevMan's test)")
            if not agree:
                out.append(Finding(sid, "recomputed", "subgroup test: Python vs metafor", "inconsistent", f"Python {fmt(t.chi2)} vs metafor {fmt(r_same)}"))
    else:
        extra = f"; metafor counterparts not run: {engine_error}"
    rep = s.test.get("chi2")
    if rep is None:
        out.append(Finding(sid, "recomputed", "subgroup test", "cannot check", f"no test reported by the source; recomputed: {head}{extra}"))
    else:
        ok = rep.contains(t.chi2)
        for key, val in (("p", t.p), ("i2", t.i2)):
            r = s.test.get(key)
            if r is not None:
                ok = ok and r.contains(val)
        out.append(Finding(sid, "recomputed", "subgroup test", "consistent" if ok else "inconsistent", f"{head} vs reported Chi² = {rep}{extra}"))
    for g in s.groups:
        if g.label not in per:
            out.append(Finding(f"{sid}={g.label}", "recomputed", "subgroup", "inconsistent", f"label {g.label!r} is not in column {s.column!r} ({', '.join(labels)})"))
            continue
        p = per[g.label]
        fit = {"estimate": p.estimate, "se": p.se, "ci_lb": p.ci_lb, "ci_ub": p.ci_ub, "z": p.z, "p": p.p, "tau2": p.tau2, "chi2": p.chi2, "p_het": p.p_chi2, "i2": p.i2, "k": p.k}
        rows = compare_reported(g, fit)
        out.append(Finding(f"{sid}={g.label}", "recomputed", "subgroup (RevMan)", "inconsistent" if any(not r[3] for r in rows) else "consistent", _summary(rows)))
    return out
