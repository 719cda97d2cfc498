"""Analysis kind ``robu``: robust variance estimation, in Python and through robumeta.

Python fits with :func:`harness.api.robu` (:mod:`harness.core.rve`); R
calls ``robumeta::robu`` (``r_scripts/robumeta.R``) on the same columns.
Every coefficient quantity (``b_r``, ``SE``, ``t``, ``dfs``, ``prob``,
``CI_L``, ``CI_U``, ``VR_r``), every model quantity (``tau_sq``, ``I_2``,
``QE``, ``term1``, ``term2`` for CORR; ``tau_sq``, ``omega_sq``, ``QE`` for
HIER; ``N``, ``M``, mean/median/min/max effects per study) and the per-row
``r_weights`` and ``e_r`` are compared.

Options
-------
``sensitivity = true``
    the CORR model over robumeta's rho grid; compared with ``robu()`` refitted
    at each rho in R (numbers), and the R side checks that robumeta's printed
    ``sensitivity()`` table equals those refits formatted as it formats them
    (a mismatch is an R warning, so it is reported).
``reference = "clubSandwich"``
    the R side is ``clubSandwich::coef_test``/``conf_int`` (CR2, Satterthwaite)
    on robumeta's fit instead of robumeta's own table: this shows where the two
    disagree, and :meth:`RobuKind.explain` says why.
``measure = "SMD"`` (or MD, SMDH, ROM) with the arm columns ``m1i`` ... ``n2i``
    the effect sizes are computed from arm-level data as the ``rma`` kind does
    (Python :func:`harness.api.escalc`, R ``metafor::escalc`` with ``vtype``),
    and their ``yi[row]``/``vi[row]`` are compared too; without ``measure``,
    ``yi`` and ``vi`` are columns of effect sizes and sampling variances.
``mods``
    moderator columns; one with any non-number cell is categorical and is
    dummy-coded as R's ``model.matrix`` does (as the ``rma`` kind does), as is
    a numeric one listed in ``factors``.
``slab``
    the study label column for the report's forest plot (one label per row;
    default [dataset] ``slab``, else "Study 3, effect 2" from ``studynum``).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ..api import rve as rve_api  # robu, sensitivity and robumeta's messages
from ..compare.tolerance import CLOSED
from ..core.distributions import t as t_dist  # scipy.stats.t's density, bit for bit
from ..errors import InputError
from .base import METAFOR_KEY, AnalysisKind, Key, Outcome, check_r_name, require_columns, check_moderators, FAVOURS, arm_inputs, is_categorical, design_with_intercept, weighted_condition

COEF_Q = ("b_r", "SE", "t", "dfs", "prob", "CI_L", "CI_U")
TWO_GROUP = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
#: measures computed from arm-level columns (metafor escalc), as the rma kind takes them
MEASURES = ("MD", "SMD", "SMDH", "ROM")


def categorical_design(spec, mods, factors, intercept):
    """Moderator columns as R's ``model.matrix`` builds them: numeric columns as
    they are; a factor -- a moderator listed in ``factors``, or one with any
    cell that is not a number -- gets treatment-coded dummies ``<name><level>``
    (levels in sorted code-point order, the first is the reference), except
    that the first factor of a model without intercept gets one column per
    level. ``levels`` (returned) holds every factor's levels."""
    ds = spec.dataset
    cols, names, levels = [], [], {}
    full_first = not intercept
    for m in mods:
        if m in factors or is_categorical(ds, m):
            vals = ds.text(m, what="a category")
            lev = sorted(set(vals))
            levels[m] = lev
            use = lev if full_first else lev[1:]
            full_first = False
            for lv in use:
                cols.append(np.array([1.0 if s == lv else 0.0 for s in vals]))
                names.append(f"{m}{lv}")
        else:
            cols.append(ds.numeric(m))
            names.append(m)
    M = np.column_stack(cols) if cols else None
    return M, names, levels


class RobuKind(AnalysisKind):
    name = "robu"
    keys = {
        "yi": Key(str, default="yi", check=check_r_name, help="column of effect sizes (without measure)"),
        "vi": Key(str, default="vi", check=check_r_name, help="column of sampling variances (robumeta var.eff.size; without measure)"),
        "measure": Key(str, choices=MEASURES, expand=True, help="effect sizes from the arm columns m1i ... n2i (metafor escalc), as the rma kind computes them"),
        "vtype": Key(str, default="LS", expand=True, help="metafor escalc `vtype` (with measure)"),
        **{role: Key(str, default=role, check=check_r_name, help=f"column holding {role} (with measure)") for role in TWO_GROUP},
        "slab": Key(str, check=check_r_name, help="study label column for the plots (one label per row; default [dataset] slab)"),
        "studynum": Key(str, required=True, check=check_r_name, help="study identifier column (robumeta studynum)"),
        "userweights": Key(str, check=check_r_name, help="column of user weights (modelweights becomes USER)"),
        "modelweights": Key(str, default="CORR", choices=("CORR", "HIER"), expand=True),
        "rho": Key(float, default=0.8, expand=True, requires={"modelweights": ("CORR",)}, help="CORR within-study correlation (robumeta ignores it for HIER: given with HIER it is an error)"),
        "small": Key(bool, default=True, expand=True, help="small-sample corrections (robumeta small)"),
        "mods": Key(list, default=[], check=check_r_name, help="moderator columns"),
        "factors": Key(list, default=[], check=check_r_name, help="moderators that are categorical (dummy-coded as R does)"),
        "intercept": Key(bool, default=True),
        "sensitivity": Key(bool, default=False, help="run sensitivity() over robumeta's rho grid (CORR, no user weights)"),
        "reference": Key(str, default="robumeta", choices=("robumeta", "clubSandwich"), expand=True, help="R side: robumeta's table, or clubSandwich CR2 on robumeta's fit"),
        "metafor": METAFOR_KEY,
        "favours": FAVOURS,
    }

    def unused_keys(self, o):
        """Arm columns without ``measure``; ``yi``/``vi`` with it."""
        return {"yi", "vi"} if o.get("measure") else set(TWO_GROUP)

    def shown_options(self, o):
        """Options that apply: ``rho`` for CORR weights only (not over sensitivity's grid), ``intercept`` when false,
        the input columns of the measure given."""
        drop = self.unused_keys(o) | (set() if o.get("measure") else {"vtype"})
        if o.get("modelweights") != "CORR" or o.get("sensitivity") or o.get("userweights"):
            drop.add("rho")
        if o.get("userweights"):
            drop.add("modelweights")
        if not o.get("sensitivity"):
            drop.add("sensitivity")
        if o.get("intercept", True):
            drop.add("intercept")
        return {k: v for k, v in super().shown_options(o).items() if k not in drop}

    # ---- validation -----------------------------------------------------------
    def check(self, spec):
        require_columns(spec, ["studynum", *(TWO_GROUP if spec.get("measure") else ("yi", "vi"))])
        if spec.get("userweights"):
            require_columns(spec, ["userweights"])
        check_moderators(spec)
        if not 0 <= spec["rho"] <= 1:
            raise InputError(f"analysis {spec.id}: `rho` must be between 0 and 1", spec.fixture)
        if spec["sensitivity"] and (spec["modelweights"] != "CORR" or spec.get("userweights")):
            raise InputError(f"analysis {spec.id}: sensitivity is available for CORR weights without user weights only (as in robumeta)", spec.fixture)
        if spec["sensitivity"] and spec["reference"] != "robumeta":
            raise InputError(f"analysis {spec.id}: sensitivity compares with robumeta only", spec.fixture)
        self.inputs(spec)

    def inputs(self, spec):
        ds = spec.dataset
        if spec.get("measure"):
            arms = arm_inputs(spec, TWO_GROUP)
            es = _escalc(spec, arms)
            x = {"yi": es.yi, "vi": es.vi, "arms": arms}
        else:
            x = {"yi": ds.numeric(spec["yi"]), "vi": ds.numeric(spec["vi"], lower=0, lower_inclusive=False, what="a sampling variance")}
        x["study"] = ds.text(spec["studynum"], what="a study identifier")
        if spec.get("slab"):
            ds.labels(spec["slab"])  # one label per row: unique, none empty
        if spec.get("userweights"):
            x["uw"] = ds.numeric(spec["userweights"], lower=0, what="a weight")
        M, names, levels = categorical_design(spec, spec["mods"], spec["factors"], spec["intercept"])
        return x, M, names, levels

    def _study_ids(self, study):
        """Numbers stay numbers (R's as.factor on a numeric column sorts numerically)."""
        try:
            return [float(s) for s in study], True
        except ValueError:
            return list(study), False

    # ---- engines ----------------------------------------------------------------
    def run_python(self, spec) -> Outcome:
        x, M, names, _ = self.inputs(spec)
        study, _ = self._study_ids(x["study"])
        kw = dict(mods=M, coef_names=names or None, intercept=spec["intercept"], small=spec["small"])
        es_vals = self._effect_sizes(spec, x["yi"], x["vi"])
        try:
            if spec["sensitivity"]:
                res = rve_api.sensitivity(x["yi"], x["vi"], study, **kw)
                return Outcome(values={**es_vals, **res.quantities()}, info={"fit": res})
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", rve_api.RobuWarning)
                fit = rve_api.robu(x["yi"], x["vi"], study, modelweights=spec["modelweights"], rho=spec["rho"], userweights=x.get("uw"), **kw)
        except (rve_api.SingularDesignError, rve_api.UndefinedVarianceComponents) as e:
            return Outcome(error=str(e))
        return Outcome(values={**es_vals, **fit.quantities()}, warnings=list(fit.warnings), info={"fit": fit})

    def row_labels(self, spec, study=None):
        """One label per row, for the per-row quantities and the plots: ``slab`` (the key, else
        [dataset] slab), else from the study identifiers ("Study 3, effect 2")."""
        from ..reports.plotdata import cluster_labels

        col = spec.get("slab") or spec.slab
        if col:
            return list(spec.dataset.labels(col))
        return cluster_labels(study if study is not None else spec.dataset.text(spec["studynum"]))

    def _effect_sizes(self, spec, yi, vi):
        """``yi[row]``, ``vi[row]`` when they were computed from arm-level data (``measure``)."""
        if not spec.get("measure"):
            return {}
        out = {}
        for lab, y, v in zip(self.row_labels(spec), yi, vi):
            out[f"yi[{lab}]"], out[f"vi[{lab}]"] = float(y), float(v)
        return out

    def _r_args(self, spec, x, levels):
        study, numeric = self._study_ids(x["study"])
        if spec.get("measure"):
            data = {**x["arms"], "study": np.array(study) if numeric else np.array(study, dtype=object)}
        else:
            data = {"yi": x["yi"], "vi": x["vi"], "study": np.array(study) if numeric else np.array(study, dtype=object)}
        if "uw" in x:
            data["uw"] = x["uw"]
        mods = {}
        for m in spec["mods"]:
            mods[m] = np.array(spec.dataset.text(m), dtype=object) if m in levels else spec.dataset.numeric(m)
        return dict(data=data, mods=mods, factors=np.array(list(levels), dtype=object), levels={f: np.array(lv, dtype=object) for f, lv in levels.items()},
                    intercept=spec["intercept"], small=spec["small"], measure=spec.get("measure") or "", vtype=spec["vtype"])

    def run_r(self, spec, engine) -> Outcome:
        x, _, _, levels = self.inputs(spec)
        args = self._r_args(spec, x, levels)
        if spec["sensitivity"]:
            call = engine.call("mh_robu_sensitivity", **args)
            if call.error is not None:
                return Outcome(error=call.error, warnings=call.warnings)
            v = call.value
            vals = {}
            if spec.get("measure"):
                for lab, y, e in zip(self.row_labels(spec), v["yi"], v["vi"]):
                    vals[f"yi[{lab}]"], vals[f"vi[{lab}]"] = float(y), float(e)
            for g in v["grid"]:
                r = g["rho"][0]
                for lab, b, s in zip(v["labels"], g["b_r"], g["SE"]):
                    vals[f"sens_b_r[rho={r:g}][{lab}]"] = b
                    vals[f"sens_SE[rho={r:g}][{lab}]"] = s
                vals[f"sens_tau_sq[rho={r:g}]"] = g["tau_sq"][0]
            return Outcome(values=vals, warnings=call.warnings, info={"r": v})
        fname = "mh_robu" if spec["reference"] == "robumeta" else "mh_robu_clubsandwich"
        mw = "USER" if "uw" in x else spec["modelweights"]
        call = engine.call(fname, modelweights=mw, rho=spec["rho"], **args)
        if call.error is not None:
            return Outcome(error=call.error, warnings=call.warnings)
        v = call.value
        labels = v["labels"]
        vals = {}
        if spec.get("measure"):
            for lab, y, e in zip(self.row_labels(spec), v["yi"], v["vi"]):
                vals[f"yi[{lab}]"], vals[f"vi[{lab}]"] = float(y), float(e)
        for q in COEF_Q:
            for lab, a in zip(labels, v[q]):
                vals[f"{q}[{lab}]"] = a
        VR = np.asarray(v["VR_r"], float).reshape(len(labels), len(labels), order="F")
        for i, a in enumerate(labels):
            for j, b in enumerate(labels):
                vals[f"VR_r[{a},{b}]"] = float(VR[i, j])
        for q in ("tau_sq", "I_2", "QE", "term1", "term2", "omega_sq"):
            if q in v and v[q] is not None:
                vals[q] = float(v[q][0])
        for q in ("N", "M", "k_mean", "k_median", "k_min", "k_max"):
            vals[q] = float(v[q][0])
        for i, (w, e) in enumerate(zip(v["r_weights"], v["e_r"])):
            vals[f"r_weights[{i + 1}]"] = w
            vals[f"e_r[{i + 1}]"] = e
        warns, raw = [], []
        singular = [s for s in (v.get("singular_studies") or []) if s is not None]
        for w in call.warnings:
            # robu's ifelse(eigenval < 1e-10, 0, 1/sqrt(eigenval)) evaluates sqrt() of a
            # negative rounding-level eigenvalue before discarding it: R says "NaNs
            # produced". That event is the singular block reported just below, so the
            # raw text is kept in info and replaced by the explicit message.
            (raw if (w == "NaNs produced" and singular) else warns).append(w)
        if spec["small"] and singular:
            warns.append(rve_api.singular_block_message(singular))
        if spec["small"]:
            # robumeta prints its note with every small-sample fit; like the Python
            # side, report it as a warning only where a df is actually below 4.
            w = rve_api.df_warning(labels, v["dfs"])
            if w:
                warns.append(w)
        return Outcome(values=vals, warnings=warns, info={"r": v, "r_raw_warnings": raw})

    # ---- tolerances / explanations ---------------------------------------------
    def tolerance_class(self, spec, quantity):
        return CLOSED

    def explain_context(self, spec):
        """Spec options plus ``yi_range``: (max yi - min yi) / max |yi| (0: identical effects), and
        ``corr_denom_scale``: sumW / denom of CORR's tau^2 denominator ``denom = sumW - tr((X'WX)^-1
        X'WJWX)`` for the intercept (study weights s_j = 1/vbar_j: S^2 / sum_j s_j S_-j), by which
        robumeta's subtraction amplifies the rounding of sumW."""
        x = self.inputs(spec)[0]
        y = x["yi"]
        scale = float(np.max(np.abs(y))) if len(y) else 0.0
        out = {**super().explain_context(spec), "yi_range": float(np.ptp(y)) / scale if scale > 0 else 0.0}
        if spec.get("modelweights") == "CORR" and len(y):
            from ..core.wls import sum_of_others

            study = np.array(x["study"], dtype=object)
            vi = np.asarray(x["vi"], float)
            sj = np.array([1.0 / vi[study == u].mean() for u in dict.fromkeys(study.tolist())])
            S = sj.sum()
            inner = float((sj * sum_of_others(sj)).sum())
            out["corr_denom_scale"] = S * S / inner if inner > 0 else math.inf
        return out

    def corr_intercept_bounds(self, spec):
        """{quantity: absolute bound of robumeta's rounding error} for an intercept-only CORR fit, or None.

        Measured on Python's fit (:func:`corr_intercept_error_bounds`); cached per data."""
        if spec.get("modelweights") != "CORR" or spec.get("userweights") or spec["mods"] or not spec["intercept"] or not spec["small"] or spec["sensitivity"]:
            return None
        x = self.inputs(spec)[0]
        study, _ = self._study_ids(x["study"])
        ctx = self.explain_context(spec)
        key = (np.asarray(x["yi"], float).tobytes(), np.asarray(x["vi"], float).tobytes(), tuple(study), float(spec["rho"]), ctx.get("corr_denom_scale"))
        return _bounds_cached(key)

    def explain(self, spec, record):
        """robumeta's table: the registry, and for an intercept-only CORR fit with ``case =
        "corr-intercept"`` and ``corr_intercept_error`` = robumeta's error bound for this quantity
        (:meth:`corr_intercept_bounds`) relative to the larger value, in units of eps."""
        if spec["reference"] != "clubSandwich":
            why = super().explain(spec, record)
            if why is not None or record.python is None or record.r is None:
                return why
            bounds = self.corr_intercept_bounds(spec)
            if not bounds or record.name not in bounds:
                return None
            big = max(abs(float(record.python)), abs(float(record.r)))
            from ..compare.explained import EPS, explain

            scale = bounds[record.name] / (EPS * big) if big > 0 else 0.0
            return explain({**self.explain_context(spec), "case": "corr-intercept", "corr_intercept_error": scale}, record)
        return self._explain_clubsandwich(spec, record)

    def condition_number(self, spec):
        x, M, _, _ = self.inputs(spec)
        return weighted_condition(design_with_intercept(M, spec["intercept"], len(x["yi"])), x["vi"])

    def _explain_clubsandwich(self, spec, record):
        """robumeta's table against clubSandwich CR2 on the same fit: which known
        difference this record is (its ``case``), then the registry entry for that
        case and the run's robumeta/clubSandwich releases, with its bound."""
        base = record.name.split("[", 1)[0]
        if not spec["small"] and base in ("SE", "t", "dfs", "prob", "CI_L", "CI_U", "VR_r"):
            case = "small-false"
        elif spec.get("userweights") and base in ("dfs", "prob", "CI_L", "CI_U"):
            case = "userweights"
        elif base == "prob" and record.r is not None and abs(record.r) < 1e-13:
            case = "p-underflow"
        else:
            return None
        from ..compare.explained import explain

        return explain({**self.explain_context(spec), "case": case}, record)


#: rounding of robumeta's residual y - b_r per row, in eps * (|y| + |b_r|) (subtraction and b_r's own error)
C_RESIDUAL = 2.0
#: robumeta's eigenvalue of (I - H)_jj: absolute error in eps (the matrix's entries, then LAPACK's
#: symmetric eigensolver, whose error is a small multiple of eps ||I - H_jj|| = eps)
C_EIGEN = 8.0
#: robumeta's chain of matrix products for the adjusted score's square, in eps (sum of absolute
#: terms / sum)^2 -- a first-order rounding model; robumeta's largest difference on fuzz #8216 is 0.13 of it
C_PRODUCT = 2.0


@lru_cache(maxsize=64)
def _bounds_cached(key):
    y, v, study, rho, denom_scale = key
    return corr_intercept_error_bounds(np.frombuffer(y), np.frombuffer(v), list(study), rho, denom_scale)


def corr_intercept_error_bounds(y, v, study, rho, denom_scale, h=1e-6):
    """Absolute bounds of robumeta's rounding error in an intercept-only CORR fit (small = TRUE),
    per quantity, measured on Python's fit (whose tau^2 denominator, eigenvalues and residual sums
    are formed without cancellation, :mod:`harness.core.rve`).

    1. tau^2: robumeta's ``denom = sumW - tr(...)`` carries 4 eps corr_denom_scale relative into
       term1, term2 and so tau^2 (the ``robu-corr-denominator-cancellation`` bound); every later
       quantity q moves by |dq/dtau^2| times that (central difference of Python's second stage
       at tau^2 (1 +- h)).
    2. the small-sample adjustment: robumeta takes lam_j = S_-j/S (study weights s_j = k_j wr_j)
       as the eigenvalue of ``I - X Q X'W`` (C_EIGEN eps absolute, so C_EIGEN eps / lam_j relative)
       and the residual sums E_j = sum_i (y_ij - b_r) by subtraction (C_RESIDUAL eps k_j sum_i
       (|y_ij| + |b_r|) absolute), then squares the adjusted score in a chain of products
       (C_PRODUCT eps (1'|A_j||e_j|)^2 absolute, wr_j^2/S^2 aside). VR = sum_j (s_j/k_j)^2 E_j^2 /
       (lam_j S^2); its bound is the largest change of that sum under those errors, carried to SE,
       t, p and the CI. A block below robumeta's pseudo-inverse threshold (lam_j < 1e-10) adds
       nothing on either side.
    """
    from ..core import rve
    from ..core.wls import sum_of_others
    from ..compare.explained import EPS

    B = rve.StudyBlocks.from_ids(study)
    yb, vb = rve.pad_rows(B, y), rve.pad_rows(B, v)
    X = B.mask[..., None].astype(float)

    def fit(tau=None):
        o = rve.robu_blocks(yb, vb, X, B.mask, rho=rho, tau_sq=tau)
        out = {f"{q}[X.Intercept.]": float(o[q][0]) for q in COEF_Q}
        out["VR_r[X.Intercept.,X.Intercept.]"] = float(o["VR_r"][0, 0])
        out["tau_sq"] = float(o["tau_sq"])
        for name in ("e_r", "r_weights"):
            for i, a in enumerate(B.rows(o[name]), start=1):
                out[f"{name}[{i}]"] = float(a)
        return o, out

    o, base = fit()
    bounds = dict.fromkeys(base, 0.0)
    tau = float(o["tau_sq"])
    if tau > 0 and denom_scale is not None and math.isfinite(denom_scale):
        dtau = 4 * EPS * denom_scale * tau
        _, hi = fit(tau * (1 + h))
        _, lo = fit(tau * (1 - h))
        for q in bounds:
            bounds[q] += abs(hi[q] - lo[q]) / (2 * h * tau) * dtau
        bounds["tau_sq"] = dtau
    mask = B.mask
    k = mask.sum(-1).astype(float)
    s = np.where(mask, o["r_weights"], 0.0).sum(-1)
    S = s.sum()
    lam = sum_of_others(s) / S
    ybar = np.where(mask, yb, 0.0).sum(-1) / k
    E = k * ((ybar[:, None] - ybar[None, :]) * s[None, :]).sum(-1) / S
    b = float(o["b_r"][0])
    dE = C_RESIDUAL * EPS * k * np.where(mask, np.abs(yb) + abs(b), 0.0).sum(-1)
    live = lam >= rve.ROBU_EIG_TOL  # robumeta's pseudo-inverse drops the others (both sides: 0)
    pre = np.where(live, (s / k) ** 2 / (S * S * np.where(live, lam, 1.0)), 0.0)
    # robumeta's product t(X) W A (e e') A W X with A_j = I + (f_j - 1) J/k_j rounds to about
    # C_PRODUCT eps wr_j^2 (1'|A_j||e_j|)^2 / S^2 absolute: the dominant study's residuals nearly
    # cancel in 1'A_j e_j = f_j E_j, and the chain of products carries each term's rounding
    f = 1.0 / np.sqrt(np.where(live, lam, 1.0))
    c = np.abs(f - 1.0) / k
    abs_sum = np.where(mask, np.abs(yb - b), 0.0).sum(-1) * (np.abs(1.0 + (f - 1.0) / k) + (k - 1) * c)  # 1'|A_j||e_j|
    product = np.where(live, (s / k / S) ** 2 * abs_sum**2, 0.0)
    grow = 1.0 / (1.0 - C_EIGEN * EPS / np.where(live, lam, 1.0))  # lam_j (1 - C_EIGEN eps / lam_j) at the least
    VR = float((pre * E * E).sum())
    dVR = float((pre * ((np.abs(E) + dE) ** 2 * grow - E * E)).sum() + C_PRODUCT * EPS * product.sum())
    dSE = math.sqrt(VR + dVR) - math.sqrt(VR)
    SE, t, df = base["SE[X.Intercept.]"], base["t[X.Intercept.]"], base["dfs[X.Intercept.]"]
    bounds["VR_r[X.Intercept.,X.Intercept.]"] += dVR
    bounds["SE[X.Intercept.]"] += dSE
    crit = float(rve.t_quantile(0.975, df))
    bounds["CI_L[X.Intercept.]"] += crit * dSE
    bounds["CI_U[X.Intercept.]"] += crit * dSE
    if SE > dSE:
        dt = abs(t) * dSE / (SE - dSE)
        bounds["t[X.Intercept.]"] += dt
        dens = float(t_dist.pdf(abs(t), df))  # t density: dp = 2 f(|t|) dt
        bounds["prob[X.Intercept.]"] += 2 * dens * dt
    else:
        bounds["t[X.Intercept.]"] = bounds["prob[X.Intercept.]"] = math.inf
    return bounds


def _escalc(spec, arms):
    """Effect sizes from arm-level data, as the rma kind computes them (harness.api.escalc)."""
    from ..api import univariate

    return univariate.escalc(spec["measure"], vtype=spec["vtype"], **arms)


KIND = RobuKind()
