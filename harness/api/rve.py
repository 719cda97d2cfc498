"""Public Python API for robust variance estimation: ``robu``, ``sensitivity``, ``cr2``.

Examples
--------
>>> import harness
>>> fit = harness.robu(yi, vi, studynum, mods=x, coef_names=["x"])      # doctest: +SKIP
>>> fit.summary_frame()                                                # doctest: +SKIP
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core import rve
from ..core.rve import RHO_GRID, SingularDesignError, UndefinedVarianceComponents
from ..core.tau2 import DEFAULT_CONTROL
from . import _inputs as inp
from . import printing
from .results import _Printed

DF_NOTICE = "If df < 4, do not trust the results"


class RobuWarning(UserWarning):
    """robumeta's small-sample note applies: a Satterthwaite df is below 4."""


def r_make_names(names):
    """R's ``make.names(names, unique = TRUE)``, which robumeta's ``data.frame()`` applies
    to the model-matrix columns ("(Intercept)" -> "X.Intercept.")."""
    out = []
    for n in names:
        if not n or not (n[0].isalpha() or (n[0] == "." and not (len(n) > 1 and n[1].isdigit()))):
            n = "X" + n
        out.append(re.sub(r"[^A-Za-z0-9._]", ".", n))
    seen: dict[str, int] = {}
    res = []
    for s in out:
        if s in seen:
            seen[s] += 1
            cand = f"{s}.{seen[s]}"
            while cand in out or cand in res:
                seen[s] += 1
                cand = f"{s}.{seen[s]}"
            res.append(cand)
        else:
            seen[s] = 0
            res.append(s)
    return res


#: a df counts as below 4 only when it is below by more than rounding: an intercept-only fit of
#: 5 studies with equal weights has df = N - 1 = 4 exactly, and each engine lands within an ulp or
#: two of it, on either side; the margin is the closed-form relative tolerance the dfs themselves
#: are compared with (harness.compare.tolerance.CLOSED)
DF_NOTICE_MARGIN = 1e-10


def df_warning(labels, dfs):
    """robumeta's small-sample note ("If df < 4, do not trust the results", printed by robu() with
    every small = TRUE fit: robumeta 2.1 R/robu.R line 576) as a warning naming the coefficients
    whose Satterthwaite df is below 4 -- by more than :data:`DF_NOTICE_MARGIN` relative -- or None."""
    low = [lab for lab, d in zip(labels, dfs) if d < 4 * (1 - DF_NOTICE_MARGIN)]
    return f"Satterthwaite df < 4 for {', '.join(low)} (robumeta: {DF_NOTICE})" if low else None


def _id_text(s):
    return f"{s:g}" if isinstance(s, float) else str(s)


def singular_block_message(study_ids):
    """Reported (by both engines) when a study's small-sample adjustment block is
    singular, so that robumeta's pseudo-inverse (eigenvalues < 1e-10 set to 0)
    is used; typically a coefficient estimated from that study alone."""
    ids = sorted(_id_text(s) for s in study_ids)
    return f"singular small-sample adjustment block (pseudo-inverse, eigenvalues < 1e-10 set to 0) for study {', '.join(ids)}"


@dataclass(frozen=True, repr=False)
class RobuResult(_Printed):
    """Result of :func:`robu` (robumeta ``robu``); names follow robumeta's
    (``b.r`` -> ``b_r``, ``CI.L`` -> ``CI_L``, ``tau.sq`` -> ``tau_sq``, ``I.2`` -> ``I_2``).
    ``print(fit)`` prints as robumeta's ``print.robu``."""

    labels: tuple[str, ...]
    b_r: np.ndarray
    SE: np.ndarray
    t: np.ndarray
    dfs: np.ndarray
    prob: np.ndarray
    CI_L: np.ndarray
    CI_U: np.ndarray
    sig: tuple[str, ...]
    VR_r: np.ndarray
    modelweights: str  # "CORR", "HIER" or "USER"
    small: bool
    rho: float
    tau_sq: float  # NaN for user weights
    omega_sq: float  # HIER only
    I_2: float  # CORR only (percent)
    QE: float  # sum w e^2 with the first-stage weights (not returned by robumeta)
    term1: float
    term2: float
    N: int  # studies
    M: int  # effect sizes
    k: np.ndarray  # effects per study (robumeta's study order)
    r_weights: np.ndarray  # final weights, original row order
    e_r: np.ndarray  # residuals, original row order
    warnings: tuple[str, ...] = ()
    #: the model as robumeta prints it ("effectsize ~ males + college")
    formula: str = "yi ~ 1"
    #: labels of the rows left out (``na_action="omit"``)
    omitted: tuple[str, ...] = ()

    def _lines(self, digits=3):
        return printing.robu_lines(self, digits)

    @property
    def estimate(self) -> float:
        """The intercept-only model's pooled estimate (robumeta's "Estimate"), as a float."""
        if len(self.labels) != 1 or self.labels[0] != "X.Intercept.":
            raise AttributeError(f"`estimate` is the pooled estimate of an intercept-only model; this model has {', '.join(self.labels)}: use fit.b_r or fit.summary_frame()")
        return float(self.b_r[0])

    @property
    def k_mean(self):
        return float(np.mean(self.k))

    @property
    def k_median(self):
        return float(np.median(self.k))

    @property
    def k_min(self):
        return float(np.min(self.k))

    @property
    def k_max(self):
        return float(np.max(self.k))

    def summary_frame(self) -> pd.DataFrame:
        """robumeta's ``reg_table`` (one row per coefficient)."""
        return pd.DataFrame(
            {"b_r": self.b_r, "SE": self.SE, "t": self.t, "dfs": self.dfs, "prob": self.prob, "CI_L": self.CI_L, "CI_U": self.CI_U, "sig": self.sig},
            index=pd.Index(self.labels, name="labels"),
        )

    def quantities(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for name in ("b_r", "SE", "t", "dfs", "prob", "CI_L", "CI_U"):
            for lab, x in zip(self.labels, getattr(self, name)):
                out[f"{name}[{lab}]"] = float(x)
        for i, a in enumerate(self.labels):
            for j, b in enumerate(self.labels):
                out[f"VR_r[{a},{b}]"] = float(self.VR_r[i, j])
        if self.modelweights == "CORR":
            for name in ("tau_sq", "I_2", "QE", "term1", "term2"):
                out[name] = float(getattr(self, name))
        elif self.modelweights == "HIER":
            for name in ("tau_sq", "omega_sq", "QE"):
                out[name] = float(getattr(self, name))
        out["N"] = float(self.N)
        out["M"] = float(self.M)
        for name in ("k_mean", "k_median", "k_min", "k_max"):
            out[name] = getattr(self, name)
        for i, (w, e) in enumerate(zip(self.r_weights, self.e_r)):
            out[f"r_weights[{i + 1}]"] = float(w)
            out[f"e_r[{i + 1}]"] = float(e)
        return out

    def forest(self, yi=None, vi=None, slab=None, *, measure: str = "", favours=None, title=None, digits: int = 2):
        """A forest plot, a matplotlib Figure (:func:`harness.reports.fitplots.robu_forest`): with the
        effect sizes ``yi``, ``vi`` (and labels ``slab``) of an intercept-only model, the studies and
        the pooled estimate with its t test; otherwise the coefficients with their CIs."""
        from ..reports.fitplots import robu_forest

        return robu_forest(self, yi, vi, slab, measure=measure, favours=favours, title=title, digits=digits)


def _formula(yname, names, intercept):
    """The model as R deparses ``mh_formula``'s call: ``y ~ a + b``, ``y ~ 1``, ``y ~ a - 1``."""
    rhs = " + ".join(names) if names else "1"
    return f"{yname} ~ {rhs}" + ("" if intercept else " - 1")


def _prepare(yi, vi, cluster, mods, coef_names, intercept, data, na_action, *, extra=None, intercept_name="(Intercept)", vi_zero_ok=False, cluster_arg="studynum"):
    """Resolve and check the arguments shared by robu, sensitivity and cr2.

    Returns (yi, vi, cluster ids, X, coefficient names, extra arrays, formula, omitted)."""
    inp.check_na_action(na_action)
    y = inp.numeric("yi", yi, data)
    v = inp.numeric("vi", vi, data)
    cl = inp.raw(cluster_arg, cluster, data)
    if y is None or v is None or cl is None:
        raise ValueError(f"`yi`, `vi` and `{cluster_arg}` are required")
    y, v = np.atleast_1d(y), np.atleast_1d(v)
    k = len(y)
    if y.ndim != 1 or v.shape != y.shape or len(cl) != k:
        raise ValueError(f"yi, vi and {cluster_arg} must be 1-d and of the same length")
    ids = list(cl.tolist() if hasattr(cl, "tolist") else cl)
    cl_missing = np.array([x is None or (isinstance(x, float) and np.isnan(x)) or x is pd.NA for x in ids])
    ex = {n: inp.numeric(n, a, data) for n, a in (extra or {}).items()}
    inp.length_check(k, **ex)
    M = inp.moderators(mods, data, k, coef_names)
    labs = tuple(str(i + 1) for i in range(k))
    for name, x in (("yi", y), ("vi", v), *ex.items()):
        inp.finite_check(name, x, labs)
    bad_v = (v < 0) if vi_zero_ok else (v <= 0)
    if np.any(bad_v):
        raise ValueError(f"`vi` must be {'>= 0' if vi_zero_ok else '> 0'} (a sampling variance); row {', '.join(labs[i] for i in np.flatnonzero(bad_v))} is not")
    for name, x in ex.items():
        if x is not None and np.any(x < 0):
            raise ValueError(f"`{name}`: negative weights are not allowed (row {', '.join(labs[i] for i in np.flatnonzero(x < 0))})")
    masks = {"yi": np.isnan(y), "vi": np.isnan(v), cluster_arg: cl_missing, "mods": M.missing, **{n: (None if x is None else np.isnan(x)) for n, x in ex.items()}}
    keep, omitted = inp.handle_missing(masks, labs, na_action)
    if not keep.all():
        y, v, M = y[keep], v[keep], M.subset(keep)
        ids = [i for i, kp in zip(ids, keep) if kp]
        ex = {n: (None if x is None else x[keep]) for n, x in ex.items()}
    d = M.design(len(y), intercept=intercept, intercept_name=intercept_name)
    if d.X.shape[1] == 0:
        raise ValueError("the model has no coefficients (no intercept and no moderators)")
    yname = yi if isinstance(yi, str) else "yi"
    return y, v, ids, d.X, d.names, ex, _formula(yname, list(M.columns), intercept), omitted


def robu(yi, vi, studynum, *, mods=None, coef_names=None, intercept=True, modelweights="CORR", rho=0.8, small=True, userweights=None, data=None, na_action="fail") -> RobuResult:
    """Robust variance estimation meta-regression (robumeta ``robu``).

    Parameters
    ----------
    yi, vi : array_like (M,) or column names
        Effect sizes and their sampling variances (robumeta ``var.eff.size``; > 0).
    studynum : sequence (M,) or column name
        Study identifier of each effect size (robumeta ``studynum``).
    mods : list of column names, DataFrame, mapping, or array (M,) / (M, m), optional
        Moderators; text, boolean and categorical columns are dummy-coded as R's
        ``model.matrix`` does (the command line's coding). An array is numeric,
        named by ``coef_names``.
    modelweights : {"CORR", "HIER"}
        Correlated- or hierarchical-effects working weights; ignored (reported
        as "USER") when ``userweights`` is given.
    rho : float
        CORR's assumed within-study correlation (0..1), robumeta's default 0.8.
    small : bool
        Tipton's (2015) small-sample correction (CR2-type adjustment,
        Satterthwaite df) as robumeta ``small = TRUE``.
    data : pandas.DataFrame, optional
        Where column names are looked up.
    na_action : {"fail", "omit"}
        Missing values: an error naming the rows, or leave them out with a warning.

    Formulas: :mod:`harness.core.rve` (Hedges, Tipton & Johnson 2010;
    Tipton 2015; robumeta 2.0 ``R/robu.R``).

    Raises
    ------
    SingularDesignError
        sum X'WX is singular (robumeta: ``solve()`` error).
    UndefinedVarianceComponents
        HIER with one effect size per study (robumeta errors or returns a
        rounding-driven number).

    A :class:`RobuWarning` is issued (and kept in ``.warnings``) when
    ``small=True`` and a df is below 4, where robumeta prints
    "Note: If df < 4, do not trust the results".
    """
    if modelweights not in ("CORR", "HIER", "USER"):
        raise ValueError(f"modelweights must be 'CORR' or 'HIER', not {modelweights!r}")
    if userweights is not None:
        modelweights = "USER"
    elif modelweights == "USER":
        raise ValueError("modelweights 'USER' needs userweights")
    if (modelweights == "CORR" and rho > 1) or rho < 0:
        raise ValueError("Rho must be a value between 0 and 1.")  # robumeta's message (and its precedence: rho < 0 always checked)
    yi, vi, ids, X, names, ex, formula, omitted = _prepare(yi, vi, studynum, mods, coef_names, intercept, data, na_action, extra={"userweights": userweights})
    labels = tuple(r_make_names(names))
    B = rve.StudyBlocks.from_ids(ids)
    uw = None if ex["userweights"] is None else rve.pad_rows(B, ex["userweights"])
    o = rve.robu_blocks(rve.pad_rows(B, yi), rve.pad_rows(B, vi), rve.pad_design(B, X), B.mask, modelweights=modelweights, rho=rho, small=small, userweights=uw)
    msgs = []
    if small and np.any(o["singular_block"]):
        msgs.append(singular_block_message([sid for sid, bad in zip(B.study_ids, o["singular_block"]) if bad]))
        warnings.warn(msgs[-1], RobuWarning, stacklevel=2)
    if small:
        w = df_warning(labels, o["dfs"])
        if w:
            msgs.append(w)
            warnings.warn(w, RobuWarning, stacklevel=2)
    return RobuResult(
        labels=labels,
        b_r=o["b_r"], SE=o["SE"], t=o["t"], dfs=o["dfs"], prob=o["prob"], CI_L=o["CI_L"], CI_U=o["CI_U"],
        sig=rve.sig_stars(o["prob"]), VR_r=o["VR_r"], modelweights=modelweights, small=bool(small), rho=float(rho),
        tau_sq=float(o["tau_sq"]), omega_sq=float(o["omega_sq"]), I_2=float(o["I_2"]), QE=float(o["QE"]),
        term1=float(o["term1"]), term2=float(o["term2"]), N=int(o["N"]), M=int(o["M"]), k=B.k.copy(),
        r_weights=B.rows(o["r_weights"]), e_r=B.rows(o["e_r"]), warnings=tuple(msgs), formula=formula, omitted=omitted,
    )


@dataclass(frozen=True, repr=False)
class SensitivityResult(_Printed):
    """:func:`sensitivity`: the CORR model over a grid of rho (robumeta ``sensitivity``)."""

    labels: tuple[str, ...]
    rho: np.ndarray  # (R,)
    b_r: np.ndarray  # (R, P)
    SE: np.ndarray  # (R, P)
    tau_sq: np.ndarray  # (R,)
    dfs: np.ndarray  # (R, P): computed by robumeta too, but not shown there

    def _lines(self, digits=3):
        """The table robumeta's ``sensitivity()`` prints (each cell to ``digits`` significant digits)."""
        f = self.summary_frame()
        rows = [[a, b] + [printing.format_real([x], digits)[0] for x in f.loc[(a, b)]] for a, b in f.index]
        return printing.print_frame(rows, ["", ""] + list(f.columns), gap=1, right=False)

    def summary_frame(self) -> pd.DataFrame:
        """Rows as robumeta prints them (coefficient, its SE, ..., tau^2), one column per rho."""
        rows, index = [], []
        for j, lab in enumerate(self.labels):
            rows.append(self.b_r[:, j])
            index.append((lab, "Coefficient"))
            rows.append(self.SE[:, j])
            index.append((lab, "Std. Error"))
        rows.append(self.tau_sq)
        index.append(("Tau.sq", "Estimate"))
        return pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index), columns=[f"Rho = {r:g}" for r in self.rho])

    def quantities(self) -> dict[str, float]:
        out = {}
        for i, r in enumerate(self.rho):
            for j, lab in enumerate(self.labels):
                out[f"sens_b_r[rho={r:g}][{lab}]"] = float(self.b_r[i, j])
                out[f"sens_SE[rho={r:g}][{lab}]"] = float(self.SE[i, j])
            out[f"sens_tau_sq[rho={r:g}]"] = float(self.tau_sq[i])
        return out


def sensitivity(yi, vi, studynum, *, mods=None, coef_names=None, intercept=True, rho=RHO_GRID, small=True, threshold=True, data=None, na_action="fail") -> SensitivityResult:
    """CORR results over a grid of rho (robumeta ``sensitivity``; default grid 0, .2, ..., 1).

    robumeta's ``sensitivity()`` refits the second stage for each rho with
    ``tau^2 = max(0, term1 + rho term2)``; so does this function, in one
    batched call. ``threshold=True`` uses ``robu``'s pseudo-inverse (eigenvalues
    < 1e-10 -> 0); ``threshold=False`` reproduces ``sensitivity()`` exactly,
    which has no threshold (only different when some (I-H)_jj is singular:
    robumeta then shows NaN/Inf standard errors). robumeta prints the table
    formatted to 3 significant digits; numbers are returned here (``print`` shows the table).
    Arguments as :func:`robu`.
    """
    yi, vi, ids, X, names, _, _, _ = _prepare(yi, vi, studynum, mods, coef_names, intercept, data, na_action)
    labels = tuple(r_make_names(names))
    B = rve.StudyBlocks.from_ids(ids)
    rhos = np.asarray(rho, float)
    if np.any(rhos < 0) or np.any(rhos > 1):
        raise ValueError("Rho must be a value between 0 and 1.")
    R = len(rhos)
    y = np.broadcast_to(rve.pad_rows(B, yi), (R,) + B.mask.shape)
    v = np.broadcast_to(rve.pad_rows(B, vi), (R,) + B.mask.shape)
    Xb = np.broadcast_to(rve.pad_design(B, X), (R,) + B.mask.shape + (X.shape[1],))
    o = rve.robu_blocks(y, v, Xb, B.mask, modelweights="CORR", rho=rhos, small=small, eig_tol=rve.ROBU_EIG_TOL if threshold else None)
    return SensitivityResult(labels, rhos, o["b_r"], o["SE"], o["tau_sq"], o["dfs"])


@dataclass(frozen=True, repr=False)
class Cr2Result(_Printed):
    """:func:`cr2`: clubSandwich-style CR2 inference (names as clubSandwich's
    ``coef_test``/``conf_int``/``Wald_test`` columns)."""

    coef_names: tuple[str, ...]
    beta: np.ndarray
    SE: np.ndarray
    tstat: np.ndarray
    df_Satt: np.ndarray
    p_Satt: np.ndarray
    CI_L: np.ndarray
    CI_U: np.ndarray
    vcov: np.ndarray
    model: str  # "rma.uni" or "rma.mv"
    tau2: float  # rma.uni
    sigma2: float  # rma.mv
    Fstat: float = float("nan")  # HTZ Wald test of the non-intercept coefficients
    delta: float = float("nan")
    df_num: float = float("nan")
    df_denom: float = float("nan")
    p_val: float = float("nan")
    omitted: tuple[str, ...] = ()

    def _lines(self, digits=4):
        """The coefficient table as clubSandwich's ``coef_test`` prints it (Coef., Estimate,
        SE, t-stat, d.f. (Satt), p-val (Satt), Sig.), then the CIs and the HTZ Wald test."""
        heads = ["Coef.", "Estimate", "SE", "t-stat", "d.f. (Satt)", "p-val (Satt)", "Sig.", "CI_L", "CI_U"]
        rows = []
        for j, c in enumerate(self.coef_names):
            p = float(self.p_Satt[j])
            stars = "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "." if p < 0.1 else ""
            rows.append([c] + [printing.fcf(x, digits) for x in (self.beta[j], self.SE[j], self.tstat[j], self.df_Satt[j])]
                        + [printing.fmt_p(p, digits), stars, printing.fcf(self.CI_L[j], digits), printing.fcf(self.CI_U[j], digits)])
        head = f"CR2 cluster-robust tests ({self.model}; " + (f"tau^2 = {printing.fcf(self.tau2, digits)})" if self.model == "rma.uni" else f"sigma^2 = {printing.fcf(self.sigma2, digits)})")
        out = [head, ""] + printing.print_frame(rows, heads, [str(j + 1) for j in range(len(rows))], gap=1)
        if not np.isnan(self.Fstat):
            out += ["", f"HTZ Wald test (all but the intercept): F = {printing.fcf(self.Fstat, digits)}, df_num = {printing.r_num(self.df_num)}, "
                        f"df_denom = {printing.fcf(self.df_denom, 2)}, p-val {printing.fmt_p(self.p_val, digits, True, ' ')}"]
        return out

    def summary_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"beta": self.beta, "SE": self.SE, "tstat": self.tstat, "df_Satt": self.df_Satt, "p_Satt": self.p_Satt, "CI_L": self.CI_L, "CI_U": self.CI_U},
            index=pd.Index(self.coef_names, name="Coef"),
        )


def cr2(yi, vi, cluster, *, mods=None, coef_names=None, intercept=True, model="rma.uni", method="REML", weights=None, sigma2=None, level=95, wald=True, control=None, data=None, na_action="fail") -> Cr2Result:
    """Cluster-robust CR2 tests for a meta-regression (clubSandwich 0.5.8 ``coef_test``
    with ``vcov = "CR2"``, ``test = "Satterthwaite"``, ``conf_int`` and, when
    ``wald`` and there are moderators, ``Wald_test(test = "HTZ")`` of all
    non-intercept coefficients).

    ``model="rma.uni"`` fits metafor's ``rma.uni`` (tau^2 by ``method``,
    optional user ``weights``) with metafor's default ``control`` (threshold
    1e-5, maxiter 100: the tau^2 a user of metafor gets); ``model="rma.mv"`` a
    random intercept per cluster (``rma.mv(random = ~ 1 | cluster)``) with
    ``sigma2`` given or estimated by REML. Arguments, data frames and missing
    values as :func:`robu`. Formulas: :mod:`harness.core.cr2`.
    """
    from ..core.cr2 import cr2_fit, cr2_fit_mv, reml_sigma2
    from ..core.rma import rma_arrays

    yi, vi, ids, X, names, ex, _, omitted = _prepare(yi, vi, cluster, mods, coef_names, intercept, data, na_action, extra={"weights": weights},
                                                   intercept_name="intrcpt", vi_zero_ok=True, cluster_arg="cluster")
    w = ex["weights"]
    if control is not None:
        from .univariate import CONTROL_KEYS

        unknown = sorted(set(control) - CONTROL_KEYS)
        if unknown:
            raise TypeError(f"unknown `control` entries {', '.join(map(repr, unknown))}; known: {', '.join(sorted(CONTROL_KEYS))}")
    C = np.eye(X.shape[1])[int(intercept):] if (wald and X.shape[1] > int(intercept) and mods is not None) else None
    tau2 = s2 = float("nan")
    if model == "rma.uni":
        fit = rma_arrays(yi, vi, X, method=method, intercept=intercept, control={**DEFAULT_CONTROL, **(control or {})}, weights=w, r2=False)
        if not bool(fit["converged"]):
            raise ArithmeticError(f"tau^2 iteration ({method}) did not converge")
        tau2 = float(fit["tau2"])
        r = cr2_fit(yi, vi, X, ids, tau2=tau2, weights=w, level=level, constraints=C)
    elif model == "rma.mv":
        if w is not None:
            raise ValueError("user weights are supported for model 'rma.uni' only")
        s2 = float(reml_sigma2(yi, vi, X, ids) if sigma2 is None else sigma2)
        r = cr2_fit_mv(yi, vi, X, ids, sigma2=s2, level=level, constraints=C)
    else:
        raise ValueError(f"model must be 'rma.uni' or 'rma.mv', not {model!r}")
    extra = {q: float(r[q]) for q in ("Fstat", "delta", "df_num", "df_denom", "p_val")} if C is not None else {}
    return Cr2Result(tuple(names), r["beta"], r["SE"], r["tstat"], r["df_Satt"], r["p_Satt"], r["CI_L"], r["CI_U"], r["vcov"], model, tau2, s2, **extra, omitted=omitted)


__all__ = ["robu", "sensitivity", "cr2", "Cr2Result", "RobuResult", "SensitivityResult", "RobuWarning", "SingularDesignError", "UndefinedVarianceComponents", "RHO_GRID"]
