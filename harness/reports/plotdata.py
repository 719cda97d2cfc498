"""What a forest plot needs, taken generically from an analysis's results.

:func:`plot_data` builds a plain, JSON-ready dict (``PLOT_VERSION`` 1) for one
analysis from what both engines returned. It works for any analysis kind,
in this order:

1. ``Outcome.info["forest"]`` of either engine, when a kind provides it: a dict
   with any of the keys below (``studies``, ``pooled``, ``reference``,
   ``coefficients``, ``measure``, ``level``, ``funnel``); what it gives wins.
2. The compared quantities themselves (so a kind needs to do nothing):
   per study ``yi[label]`` with ``vi[label]`` or ``sei[label]`` (and
   ``ci_lb[label]``/``ci_ub[label]`` when given), ``weights[label]``;
   pooled ``beta``/``b_r``/``estimate`` with ``ci_lb``/``CI_L`` and
   ``ci_ub``/``CI_U`` (bare, or indexed by an intercept name), and a
   prediction interval ``pi_lb``/``pi_ub`` where an engine computed one;
   meta-regression coefficients ``beta[name]`` ... otherwise.
3. The spec's data file, when the quantities carry no per-study effects but
   the spec names ``yi`` and ``vi``/``sei``/``var_eff_size`` columns (e.g. an
   RVE analysis): the effects are read as both engines received them.

For ``rma`` analyses of MD/SMD from arm-level data with a fixed-effect or DL
model, the RevMan 5 convention's pooled estimate (:mod:`harness.core.revman`)
is added as a *reference* row, so a reader sees where RevMan's numbers would
fall (for SMD they differ by design: approximate correction and variance).

The result::

    {"version": 1, "measure": "SMD", "level": 95.0, "model": "random effects (REML)",
     "engines": {"python": "Python", "r": "metafor"},
     "studies": [{"label": "Cote", "cluster": null,
                  "python": {"yi": .., "ci_lb": .., "ci_ub": .., "weight": ..},
                  "r": {...}, "differs": false}],
     "pooled": [{"engine": "python", "label": "Python", "estimate": .., "ci_lb": ..,
                 "ci_ub": .., "pi_lb": null, "pi_ub": null}, {"engine": "r", ...}],
     "reference": [{"engine": "revman", "label": "RevMan 5 convention", ...,
                    "note": "..."}],
     "coefficients": [{"name": "xi", "python": {...}, "r": {...}}],
     "funnel": false}

Missing numbers are ``None`` (never a made-up value).
"""
from __future__ import annotations

import math
from typing import Any

PLOT_VERSION = 1

#: quantity base names, by role, in the spellings the engines use
ESTIMATE = ("beta", "b_r", "estimate", "est", "TE", "pred")
CI_LB = ("ci_lb", "CI_L", "ci_lower", "lower")
CI_UB = ("ci_ub", "CI_U", "ci_upper", "upper")
PI_LB = ("pi_lb", "predict.pi_lb", "PI_L", "pi_lower")
PI_UB = ("pi_ub", "predict.pi_ub", "PI_U", "pi_upper")
INTERCEPT = ("intrcpt", "X.Intercept.", "(Intercept)", "Intercept", "intercept")
#: a quantity whose name starts with one of these means a publication-bias test ran
PUB_BIAS = ("regtest", "ranktest", "trimfill", "egger", "begg", "fsn", "pet", "peese")

#: who computes the R side, by kind (the R package the kind calls)
R_ENGINE = {"rma": "metafor", "robu": "robumeta", "rve": "robumeta", "cr2": "clubSandwich", "revman": "metafor"}


def split_name(name: str) -> tuple[str, str | None]:
    """``"weights[Cote (1999)]"`` -> ``("weights", "Cote (1999)")``; ``"beta"`` -> ``("beta", None)``."""
    if "[" in name and name.endswith("]"):
        base, rest = name.split("[", 1)
        return base, rest[:-1]
    return name, None


def _num(x) -> float | None:
    if x is None or isinstance(x, str) and x not in ("inf", "-inf"):
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _table(records, side):
    """{base: {index: value}} for one engine, from records (objects or dicts)."""
    out: dict[str, dict[str | None, float | None]] = {}
    for r in records:
        name = r["name"] if isinstance(r, dict) else r.name
        val = r[side] if isinstance(r, dict) else getattr(r, side)
        base, idx = split_name(name)
        out.setdefault(base, {})[idx] = _num(val)
    return out


def _pick(tab, bases, idx):
    for b in bases:
        if b in tab and idx in tab[b]:
            return tab[b][idx]
    return None


def _first_base(tab, bases):
    for b in bases:
        if b in tab:
            return b
    return None


def _z(level):
    from ..core import distributions as stats  # scipy.stats' functions, without importing scipy.stats

    lv = float(level)
    alpha = 1 - (lv / 100 if lv > 1 else lv)
    return float(stats.norm.isf(alpha / 2))


def _model_label(kind, options):
    method = options.get("method")
    if kind.startswith("revman") and options.get("model") in ("fixed", "random"):
        return "RevMan 5, IV " + ("fixed effect" if options["model"] == "fixed" else "random effects (DL)")
    if kind in ("robu", "rve"):
        mw = options.get("modelweights")
        return f"RVE ({mw})" if mw else "RVE"
    if method in ("FE", "EE", "CE"):
        return f"fixed effect ({method})"
    if method:
        test = options.get("test")
        extra = f", {test}" if test and test != "z" else ""
        return f"random effects ({method}{extra})"
    return kind


def _studies_from_tables(tabs, level):
    """Per-study rows from yi[...] / vi[...] / sei[...] / weights[...] quantities."""
    labels: list[str] = []
    for side in ("python", "r"):
        for idx in tabs[side].get("yi", {}):
            if idx is not None and idx not in labels:
                labels.append(idx)
    if not labels:
        return []
    z = _z(level)
    rows = []
    for lab in labels:
        row: dict[str, Any] = {"label": lab, "cluster": None}
        for side in ("python", "r"):
            t = tabs[side]
            yi = t.get("yi", {}).get(lab)
            vi = t.get("vi", {}).get(lab)
            sei = t.get("sei", {}).get(lab)
            if sei is None and vi is not None and vi >= 0:
                sei = math.sqrt(vi)
            # the engine's own per-study CI when it reports one (metafor's summary(escalc) CI)
            lb = _pick(t, ("yi_ci_lb", "ci_lb"), lab)
            ub = _pick(t, ("yi_ci_ub", "ci_ub"), lab)
            if lb is None and yi is not None and sei is not None:
                lb, ub = yi - z * sei, yi + z * sei
            row[side] = {"yi": yi, "sei": sei, "ci_lb": lb, "ci_ub": ub, "weight": t.get("weights", {}).get(lab)}
        rows.append(row)
    return rows


def _subgroup_rows(tabs, coefs, level):
    z = _z(level)
    rows = []
    for c in coefs:
        row: dict[str, Any] = {"label": f"subgroup {c['name']}", "cluster": None}
        for side in ("python", "r"):
            est = c[side].get("estimate")
            se = tabs[side].get("se", {}).get(c["name"])
            ok = est is not None and se is not None
            row[side] = {"yi": est, "sei": se, "ci_lb": est - z * se if ok else None, "ci_ub": est + z * se if ok else None, "weight": None}
        row["differs"] = any(_differs(row["python"].get(k), row["r"].get(k)) for k in ("yi", "sei"))
        rows.append(row)
    return rows


def _studies_from_spec(spec, level):
    """Per-study effects read from the spec's data file (kinds that compare no per-study quantity)."""
    ds = getattr(spec, "dataset", None)
    if ds is None or not spec.get("yi"):
        return []
    try:
        yi = ds.numeric(spec["yi"])
        sei = None
        for key, sq in (("sei", False), ("vi", True), ("var_eff_size", True), ("v", True)):
            col = spec.get(key)
            if isinstance(col, str) and col in ds.columns:
                x = ds.numeric(col)
                sei = [math.sqrt(v) if sq and v >= 0 else (v if not sq else float("nan")) for v in x]
                break
        labels = ds.labels(spec.slab) if spec.slab else None
        cluster_col = next((spec.get(k) for k in ("studynum", "cluster", "study") if isinstance(spec.get(k), str) and spec.get(k) in ds.columns), None)
        clusters = ds.text(cluster_col) if cluster_col else None
    except Exception:  # the report never fails an analysis; missing studies just aren't drawn
        return []
    z = _z(level)
    rows = []
    for i, y in enumerate(yi):
        lab = labels[i] if labels else (f"{clusters[i]} ({i + 1})" if clusters else str(i + 1))
        s = sei[i] if sei is not None else None
        s = None if s is None or (isinstance(s, float) and math.isnan(s)) else s
        d = {"yi": float(y), "sei": s, "ci_lb": None if s is None else y - z * s, "ci_ub": None if s is None else y + z * s, "weight": None}
        rows.append({"label": lab, "cluster": clusters[i] if clusters else None, "python": d, "r": dict(d), "from_data": True})
    return rows


def _pooled(tabs, engines):
    """Pooled rows (intercept-only models) and coefficient rows (meta-regressions)."""
    pooled, coefs = [], []
    est_base = _first_base(tabs["python"], ESTIMATE) or _first_base(tabs["r"], ESTIMATE)
    if est_base is None:
        return pooled, coefs
    idxs: list[str | None] = []
    for side in ("python", "r"):
        for i in tabs[side].get(est_base, {}):
            if i not in idxs:
                idxs.append(i)
    single = None
    if idxs == [None]:
        single = None
    elif len(idxs) == 1 and idxs[0] in INTERCEPT:
        single = idxs[0]
    else:
        for i in idxs:
            c = {"name": i if i is not None else "estimate"}
            for side in ("python", "r"):
                t = tabs[side]
                c[side] = {"estimate": _pick(t, (est_base,), i), "ci_lb": _pick(t, CI_LB, i), "ci_ub": _pick(t, CI_UB, i)}
            coefs.append(c)
        return pooled, coefs
    for side in ("python", "r"):
        t = tabs[side]
        pooled.append(
            {
                "engine": side,
                "label": engines[side],
                "estimate": _pick(t, (est_base,), single),
                "ci_lb": _pick(t, CI_LB, single),
                "ci_ub": _pick(t, CI_UB, single),
                "pi_lb": _pick(t, PI_LB, single),
                "pi_ub": _pick(t, PI_UB, single),
            }
        )
    return pooled, coefs


def revman_reference(kind, spec) -> dict | None:
    """RevMan 5's pooled estimate for an ``rma`` MD/SMD analysis from arm data (FE or DL, 95%)."""
    if kind != "rma" or spec is None:
        return None
    o = spec.options
    if o.get("measure") not in ("MD", "SMD") or o.get("mods") or o.get("method") not in ("FE", "EE", "DL") or o.get("test", "z") != "z" or float(o.get("level", 95)) != 95:
        return None
    try:
        from ..core import revman

        x = spec.dataset
        cols = [x.numeric(o[r]) for r in ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")]
        st = revman.study_effects(o["measure"], *cols)
        p = revman.pool(st.yi, st.sei, model="fixed" if o["method"] in ("FE", "EE") else "random")
    except Exception:
        return None
    note = "RevMan 5 (IV, " + ("fixed effect" if o["method"] in ("FE", "EE") else "DerSimonian-Laird") + ")"
    if o["measure"] == "SMD":
        note += ": Hedges' g with the approximate correction 1-3/(4N-9) and SE^2 = N/(n1 n2) + g^2/(2(N-3.94)); differs from metafor's SMD by design"
    else:
        note += ": the same formulas as metafor's MD"
    return {"engine": "revman", "label": "RevMan 5 convention", "estimate": float(p.estimate), "ci_lb": float(p.ci_lb), "ci_ub": float(p.ci_ub), "pi_lb": None, "pi_ub": None, "note": note}


def plot_data(kind: str, spec, records, py_info=None, r_info=None) -> dict | None:
    """Forest/funnel plot data for one analysis (see the module docstring), or None.

    Never raises: a report must not stop a verification. If the data cannot be
    assembled, the dict says why (``{"version": 1, "error": "..."}``) and the
    HTML report shows that message in place of the plot.
    """
    try:
        return _plot_data(kind, spec, records, py_info, r_info)
    except Exception as e:  # noqa: BLE001 - reported in the HTML, never swallowed silently
        return {"version": PLOT_VERSION, "error": f"{type(e).__name__}: {e}"}


def _plot_data(kind, spec, records, py_info, r_info):
    options = dict(getattr(spec, "options", {}) or {})
    level = options.get("level", 95.0)
    engines = {"python": "Python", "r": R_ENGINE.get(kind, "R")}
    if kind.startswith("revman"):  # both sides follow RevMan 5's formulas unless R is asked for metafor's own
        engines = {"python": "Python (RevMan 5)", "r": "metafor" if options.get("r_convention") == "metafor" else "R (RevMan 5 formulas, metafor)"}
    for info in (py_info or {}, r_info or {}):
        if isinstance(info.get("engine_label"), str):
            engines["r"] = info["engine_label"]
    tabs = {side: _table(records, side) for side in ("python", "r")}
    studies = _studies_from_tables(tabs, level)
    if not studies and spec is not None:
        studies = _studies_from_spec(spec, level)
    for s in studies:
        s["differs"] = any(_differs(s["python"].get(k), s["r"].get(k)) for k in ("yi", "sei", "weight"))
    pooled, coefs = _pooled(tabs, engines)
    if not studies and kind.startswith("revman") and coefs and "se" in tabs["python"]:
        # RevMan subgroup analyses: each subgroup's pooled estimate as a row, with RevMan's
        # normal-quantile CI (estimate +- z se, as RevMan prints it), both engines' numbers
        studies = _subgroup_rows(tabs, coefs, level)
        coefs = []
    names = [split_name(r["name"] if isinstance(r, dict) else r.name)[0].lower() for r in records]
    out = {
        "version": PLOT_VERSION,
        "measure": options.get("measure"),
        "level": level,
        "model": _model_label(kind, options),
        "engines": engines,
        "studies": studies,
        "pooled": pooled,
        "reference": [],
        "coefficients": coefs,
        "funnel": any(n.startswith(PUB_BIAS) for n in names) or bool(options.get("regtest")) or bool(options.get("trimfill")),
    }
    ref = revman_reference(kind, spec)
    if ref:
        out["reference"].append(ref)
    for info in (py_info or {}, r_info or {}):
        f = info.get("forest")
        if isinstance(f, dict):
            for k in ("studies", "pooled", "coefficients", "measure", "level", "model", "funnel"):
                if k in f:
                    out[k] = f[k]
            out["reference"].extend(f.get("reference", []))
    if not (out["studies"] or out["pooled"] or out["coefficients"]):
        return None
    return out


def _differs(a, b, rtol=1e-6):
    """Visibly different on a plot (the verdicts themselves come from the comparison)."""
    if a is None or b is None:
        return a is not b
    return abs(a - b) > rtol * max(abs(a), abs(b), 1e-300)


def from_analysis_dict(a: dict) -> dict | None:
    """Plot data for an analysis already in JSON form (uses its ``plot`` key, else its quantities)."""
    if a.get("plot"):
        return a["plot"]
    return plot_data(a.get("kind", ""), _Opts(a.get("options") or {}), a.get("quantities", []))


class _Opts:
    """Spec stand-in with options only (no data file): used when rendering saved JSON."""

    def __init__(self, options):
        self.options = options
        self.dataset = None
        self.slab = None

    def get(self, k, d=None):
        return self.options.get(k, d)
