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

#: measures whose effects are log ratios: drawn on the ratio scale with a logarithmic axis
RATIO_MEASURES = ("ROM", "OR", "RR", "PETO", "HR", "IRR")

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


def _revman_groups(tabs, spec, engines, options, level):
    """A RevMan subgroup analysis: its subgroups (title, study labels, each engine's subtotal with its
    heterogeneity and test), the total over all studies, and the test for subgroup differences."""
    z = _z(level)
    fixed = options.get("model") == "fixed"
    labels = list(spec.dataset.labels(spec.slab)) if getattr(spec, "dataset", None) is not None else []
    member = spec.dataset.text(spec["group"]) if labels else []
    titles = list(dict.fromkeys(member)) if member else [i for i in tabs["python"].get("estimate", {}) if i is not None]
    groups = []
    for g in titles:
        row = {"title": g, "labels": [lab for lab, m in zip(labels, member) if m == g], "pooled": []}
        for side in ("python", "r"):
            t = tabs[side]
            est, se = _pick(t, ("estimate",), g), _pick(t, ("se",), g)
            ok = est is not None and se is not None
            row["pooled"].append({"engine": side, "label": engines[side], "estimate": est,
                                  "ci_lb": est - z * se if ok else None, "ci_ub": est + z * se if ok else None, "pi_lb": None, "pi_ub": None,
                                  "weight": _pick(t, ("weight",), g),
                                  "tau2": None if fixed else _pick(t, ("tau2",), g), "chi2": _pick(t, ("chi2",), g), "df": _pick(t, ("df",), g),
                                  "p_chi2": _pick(t, ("p_chi2",), g), "i2": _pick(t, ("i2",), g), "stat": "Z", "value": _pick(t, ("z",), g),
                                  "test_df": None, "p": _pick(t, ("p",), g)})
        groups.append(row)
    pooled = []
    for side in ("python", "r"):
        t = tabs[side]
        g = lambda n: _pick(t, (f"total.{n}",), None)  # noqa: E731
        if g("estimate") is None:
            continue
        pooled.append({"engine": side, "label": engines[side], "estimate": g("estimate"), "ci_lb": g("ci_lb"), "ci_ub": g("ci_ub"),
                       "pi_lb": None, "pi_ub": None, "tau2": None if fixed else g("tau2"), "chi2": g("chi2"), "df": g("df"),
                       "p_chi2": g("p_chi2"), "i2": g("i2"), "stat": "Z", "value": g("z"), "test_df": None, "p": g("p")})
    test = {side: {k: _pick(tabs[side], (f"subgroup_{k}",), None) for k in ("chi2", "df", "p", "i2")} for side in ("python", "r")}
    return groups, pooled, test


def _arm_columns(spec, studies):
    """RevMan's per-study columns (mean, SD, total per arm) as written in the data file."""
    ds = getattr(spec, "dataset", None)
    if ds is None:
        return
    try:
        labels = ds.labels(spec.slab)
        cells = [ds.text(spec[c]) for c in ARM_COLUMNS]
    except Exception:  # noqa: BLE001 - columns are decoration; the plot is drawn without them
        return
    row = {lab: i for i, lab in enumerate(labels)}
    for s in studies:
        i = row.get(s["label"])
        if i is not None:
            s["columns"] = [c[i] for c in cells]


def _bubble(kind, spec, tabs, coefs, studies):
    """Bubble-plot data of a meta-regression on one continuous moderator (metafor's ``regplot``):
    the moderator's values per study and each engine's intercept, slope and their covariance."""
    o = getattr(spec, "options", None) or {}
    mods = o.get("mods") or []
    if kind != "rma" or len(mods) != 1 or mods[0] in (o.get("factors") or []) or not o.get("intercept", True) or len(coefs) != 2 or not studies:
        return None
    m = mods[0]
    names = [c["name"] for c in coefs]
    if m not in names or names[0] not in INTERCEPT:
        return None  # a categorical moderator (dummy-coded: other names)
    ds = getattr(spec, "dataset", None)
    if ds is None:
        return None
    try:
        x = [float(v) for v in ds.numeric(m)]
    except Exception:  # noqa: BLE001 - no bubble plot, nothing else lost
        return None
    if len(x) != len(studies):
        return None
    line = {}
    for side in ("python", "r"):
        t = tabs[side]
        b0, b1 = _pick(t, ESTIMATE, names[0]), _pick(t, ESTIMATE, m)
        vb = [_pick(t, ("vb",), f"{a},{b}") for a, b in ((names[0], names[0]), (names[0], m), (m, m))]
        line[side] = {"b0": b0, "b1": b1, "vb": vb if None not in vb else None}
    return {"moderator": m, "x": x, "line": line, "test": o.get("test", "z"), "df": len(x) - 2}


def _slab_labels(spec, ds):
    """Study labels for rows read from the data file: the analysis's ``slab`` key, else [dataset] slab."""
    col = spec.get("slab") if isinstance(spec.get("slab"), str) else getattr(spec, "slab", None)
    return ds.labels(col) if col else None


def cluster_labels(clusters) -> list[str]:
    """Row labels from study identifiers: ``"Study 3"`` (a number) or the identifier itself, with
    ``", effect j"`` (j-th row of that study) where a study has several effect sizes."""
    counts: dict = {}
    for c in clusters:
        counts[c] = counts.get(c, 0) + 1
    seen: dict = {}
    out = []
    for c in clusters:
        seen[c] = seen.get(c, 0) + 1
        name = f"Study {c}" if _numeric_text(c) else str(c)
        out.append(name if counts[c] == 1 else f"{name}, effect {seen[c]}")
    return out


def _numeric_text(s) -> bool:
    try:
        float(s)
        return True
    except (TypeError, ValueError):
        return False


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
        labels = _slab_labels(spec, ds)
        cluster_col = next((spec.get(k) for k in ("studynum", "cluster", "study") if isinstance(spec.get(k), str) and spec.get(k) in ds.columns), None)
        clusters = ds.text(cluster_col) if cluster_col else None
    except Exception:  # the report never fails an analysis; missing studies just aren't drawn
        return []
    if labels is None:
        labels = cluster_labels(clusters) if clusters else [str(i + 1) for i in range(len(yi))]
    z = _z(level)
    rows = []
    for i, y in enumerate(yi):
        lab = labels[i]
        s = sei[i] if sei is not None else None
        s = None if s is None or (isinstance(s, float) and math.isnan(s)) else s
        d = {"yi": float(y), "sei": s, "ci_lb": None if s is None else y - z * s, "ci_ub": None if s is None else y + z * s, "weight": None}
        rows.append({"label": lab, "cluster": clusters[i] if clusters else None, "python": d, "r": dict(d), "from_data": True})
    return rows


def _val(t, names, idx):
    """The first of ``names`` in table ``t`` at ``idx`` (or bare, for intercept-only models)."""
    for n in names:
        if n in t:
            if idx in t[n]:
                return t[n][idx]
            if None in t[n]:
                return t[n][None]
    return None


def _stats(kind, t, idx, options) -> dict:
    """Heterogeneity and the test of the pooled estimate of one engine, as each kind names them:
    ``{"tau2", "chi2", "df", "p_chi2", "i2", "stat", "value", "test_df", "p"}`` (None where absent)."""
    out = dict.fromkeys(("tau2", "chi2", "df", "p_chi2", "i2", "stat", "value", "test_df", "p"))
    if kind == "rma":
        fe = options.get("method") in ("FE", "EE", "CE")
        k, p = _val(t, ("k",), None), _val(t, ("p",), None)
        out.update(tau2=None if fe else _val(t, ("tau2",), None), chi2=_val(t, ("QE",), None), p_chi2=_val(t, ("QEp",), None), i2=_val(t, ("I2",), None),
                   df=(k - p) if k is not None and p is not None else None, value=_val(t, ("zval",), idx), p=_val(t, ("pval",), idx))
        t_test = options.get("test", "z") != "z"
        out.update(stat="t" if t_test else "Z", test_df=out["df"] if t_test else None)
    elif kind.startswith("revman"):
        out.update(tau2=None if options.get("model") == "fixed" else _val(t, ("tau2",), None), chi2=_val(t, ("chi2",), None), df=_val(t, ("df",), None),
                   p_chi2=_val(t, ("p_chi2",), None), i2=_val(t, ("i2",), None), stat="Z", value=_val(t, ("z",), None), p=_val(t, ("p",), None))
    elif kind in ("robu", "rve"):
        out.update(tau2=_val(t, ("tau_sq",), None), i2=_val(t, ("I_2",), None), stat="t", value=_val(t, ("t",), idx), test_df=_val(t, ("dfs",), idx), p=_val(t, ("prob",), idx))
    elif kind == "cr2":
        out.update(tau2=_val(t, ("tau2",), None), stat="t", value=_val(t, ("tstat",), idx), test_df=_val(t, ("df_Satt",), idx), p=_val(t, ("p_Satt",), idx))
    return out


def _pooled(tabs, engines, kind="", options=None):
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
                c[side] = {"estimate": _pick(t, (est_base,), i), "ci_lb": _pick(t, CI_LB, i), "ci_ub": _pick(t, CI_UB, i), "p": _pick(t, ("pval", "prob", "p_Satt"), i)}
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
                **_stats(kind, t, single, options or {}),
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
    if kind in ("robu", "rve") and options.get("reference") == "clubSandwich":
        engines["r"] = "clubSandwich"  # the R side is clubSandwich's CR2 on robumeta's fit
    for info in (py_info or {}, r_info or {}):
        if isinstance(info.get("engine_label"), str):
            engines["r"] = info["engine_label"]
    tabs = {side: _table(records, side) for side in ("python", "r")}
    studies = _studies_from_tables(tabs, level)
    if not studies and spec is not None:
        studies = _studies_from_spec(spec, level)
    for s in studies:
        s["differs"] = any(_differs(s["python"].get(k), s["r"].get(k)) for k in ("yi", "sei", "weight"))
    if kind.startswith("revman") and options.get("measure") in ("MD", "SMD"):
        _arm_columns(spec, studies)
    groups, subgroup_test = [], None
    if kind == "revman-subgroup":
        groups, pooled, subgroup_test = _revman_groups(tabs, spec, engines, options, level)
        coefs = []
    else:
        pooled, coefs = _pooled(tabs, engines, kind, options)
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
        "favours": list(options["favours"]) if options.get("favours") else None,
        "log_scale": options.get("measure") in RATIO_MEASURES,
        "groups": groups,
        "subgroup_test": subgroup_test,
        "bubble": _bubble(kind, spec, tabs, coefs, studies),
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


#: quantity names of tau^2 and I^2, in each kind's spelling
TAU2_NAMES = ("tau2", "tau_sq")
I2_NAMES = ("I2", "I_2", "i2")


def pooled_numbers(plot: dict | None, records) -> dict:
    """Each engine's pooled estimate, CI, tau^2 and I^2 of an analysis: ``{"python": (est, lb, ub, tau2, i2), "r": ...}``.

    The estimate and CI from the plot data (intercept-only models; None for a
    meta-regression); tau^2 and I^2 from the records (objects or dicts; the
    residual ones of a meta-regression), else from the plot data."""
    pooled = {p.get("engine"): p for p in ((plot or {}).get("pooled") or [])}
    rec = {}
    for r in records:
        name = r["name"] if isinstance(r, dict) else r.name
        rec[name] = r
    val = lambda r, side: _num(r[side] if isinstance(r, dict) else getattr(r, side))  # noqa: E731
    out = {}
    for side in ("python", "r"):
        p = pooled.get(side) or {}
        t2 = next((val(rec[n], side) for n in TAU2_NAMES if n in rec), p.get("tau2"))
        i2 = next((val(rec[n], side) for n in I2_NAMES if n in rec), p.get("i2"))
        out[side] = (p.get("estimate"), p.get("ci_lb"), p.get("ci_ub"), t2, i2)
    return out


# ---- plot data -> the shared forest plot (harness.reports.forest) -------------------------------
#: RevMan's arm columns (continuous outcomes): the data file's columns shown per study
ARM_COLUMNS = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
ARM_HEADERS = ("Experimental\nMean", "SD", "Total", "Control\nMean", "SD", "Total")


def _het_line(p) -> str | None:
    from .forest import heterogeneity_text

    if not any(p.get(k) is not None for k in ("chi2", "tau2", "i2")):
        return None
    return heterogeneity_text(p.get("tau2"), p.get("chi2"), p.get("df"), p.get("p_chi2"), p.get("i2"))


def _test_line(p) -> str | None:
    from .forest import overall_text

    if p.get("value") is None:
        return None
    return overall_text(p.get("value"), p.get("p"), stat=p.get("stat") or "Z", df=p.get("test_df"))


def forests(plot: dict, title: str | None = None):
    """``(first, second, labels)`` for :func:`harness.reports.forest.draw` / ``to_svg``: the forest
    plot of plot data in RevMan's layout, Python and the R side as two series (``second`` is None
    where the study rows are the data both engines received, and the diamonds are then one per
    engine); None when there is nothing to draw (a meta-regression: see :func:`harness.reports.plots.coefficients`)."""
    from . import forest as F

    studies = plot.get("studies") or []
    pooled = {p.get("engine"): p for p in plot.get("pooled") or []}
    groups = plot.get("groups") or []
    if not (studies or pooled or groups):
        return None
    log = bool(plot.get("log_scale"))
    tr = (lambda v: math.exp(v) if v is not None else None) if log else (lambda v: v)  # noqa: E731
    lvl = float(plot.get("level", 95) or 95)
    ci = f"{lvl:g}% CI"
    engines = plot.get("engines") or {"python": "Python", "r": "R"}
    labels = (engines.get("python", "Python"), engines.get("r", "R"))
    from_data = any(s.get("from_data") for s in studies)
    has_cols = any(s.get("columns") for s in studies)
    common = dict(measure=plot.get("measure") or "", log_scale=log, favours=tuple(plot["favours"]) if plot.get("favours") else None,
                  column_headers=ARM_HEADERS if has_cols else (), title=title, model=plot.get("model", ""), level=lvl)
    notes = [f"{r.get('label')}: {_est_ci_text(r, tr)} ({r.get('note', 'reference')})" for r in plot.get("reference") or []]

    def study(s, side):
        d = s.get(side) or {}
        return F.ForestStudy(s["label"], tr(d.get("yi")), tr(d.get("ci_lb")), tr(d.get("ci_ub")), weight=d.get("weight"), columns=tuple(s.get("columns") or ()))

    weighted = any((s.get("python") or {}).get("weight") is not None for s in studies)

    def diamond(p, label, columns=(), total=False):
        if p is None:
            return None
        w = p.get("weight", 100.0 if total and weighted else None)
        return F.ForestPooled(label, tr(p.get("estimate")), tr(p.get("ci_lb")), tr(p.get("ci_ub")), weight=w,
                              heterogeneity=_het_line(p), overall=_test_line(p), pi_lb=tr(p.get("pi_lb")), pi_ub=tr(p.get("pi_ub")), columns=columns)

    by_label = {s["label"]: s for s in studies}
    if from_data:
        # the rows are data (one series); the diamonds are each engine's pooled estimate
        rows = tuple(study(s, "python") for s in studies)
        py, rr = pooled.get("python"), pooled.get("r")
        notes.insert(0, "Study rows: the effect sizes and their normal-quantile CIs as in the data file (both engines received them; "
                        "this kind compares no per-study number); diamonds: each engine's pooled estimate.")
        grp = F.ForestGroup(None, rows, diamond(py, f"{labels[0]}: {plot.get('model', '')} ({ci})") if py else None)
        one = F.ForestPlot((grp,), overall=diamond(rr, f"{labels[1]}: {plot.get('model', '')} ({ci})") if rr else None,
                           series="study data", notes=tuple(notes), **common)
        return one, None, None
    series = []
    for i, side in enumerate(("python", "r")):
        if groups:
            gs = []
            for g in groups:
                rows = tuple(study(by_label[lab], side) for lab in g.get("labels", []) if lab in by_label)
                sub = next((p for p in g.get("pooled", []) if p.get("engine") == side), None)
                gs.append(F.ForestGroup(str(g["title"]), rows, diamond(sub, f"Subtotal ({ci})")))
            t = (plot.get("subgroup_test") or {}).get(side) or {}
            test = F.subgroup_test_text(t.get("chi2"), t.get("df"), t.get("p"), t.get("i2")) if t.get("chi2") is not None else None
        else:
            gs = [F.ForestGroup(None, tuple(study(s, side) for s in studies))]
            test = None
        tot_cols = _totals(studies) if has_cols else ()
        series.append(F.ForestPlot(tuple(gs), overall=diamond(pooled.get(side), f"Total ({ci})", tot_cols, total=True), subgroup_test=test,
                                   series=labels[i], notes=tuple(notes) if i == 0 else (), **common))
    return series[0], series[1], labels


def _totals(studies):
    """The Total row's arm columns: the participants per arm, summed (RevMan prints them)."""
    tot = [0.0, 0.0]
    for s in studies:
        c = s.get("columns") or ()
        for j, k in ((2, 0), (5, 1)):
            try:
                tot[k] += float(c[j])
            except (IndexError, ValueError):
                return ()
    return ("", "", f"{tot[0]:g}", "", "", f"{tot[1]:g}")


def _est_ci_text(r, tr):
    def f(v):
        return "—" if v is None else f"{tr(v):.2f}"

    return f"{f(r.get('estimate'))} [{f(r.get('ci_lb'))}, {f(r.get('ci_ub'))}]"
