"""Univariate fixed-, random- and mixed-effects models (metafor ``rma.uni``).

:func:`rma_arrays` fits one or many meta-analyses at once: ``yi`` and ``vi``
have shape ``(..., k)`` and ``X`` shape ``(..., k, p)`` (or ``(k, p)``, shared).
It returns a dict of arrays named as metafor names its output. The public,
single-analysis wrapper with a typed result is :func:`harness.rma`.

Model (Viechtbauer 2010; metafor R/rma.uni.r 3.8-1, lines 1600-1760):

* :math:`w_i = 1/(v_i + \\hat\\tau^2)`, :math:`\\hat\\beta = (X'WX)^{-1}X'Wy`,
  :math:`\\operatorname{Var}(\\hat\\beta) = (X'WX)^{-1}`.
* ``test="z"``: Wald z, normal p-values and CIs. ``test="t"``: t with k-p df.
  ``test="knha"`` (Knapp & Hartung 2003): vb scaled by
  :math:`s^2 = \\sum w_i r_i^2/(k-p)` (0 when that sum is <= machine epsilon; not
  truncated at 1, which is ``"adhoc"``), t with k-p df.
* Omnibus test QM of the coefficients ``btt`` (all but the intercept when
  there is one and p > 1): :math:`\\chi^2_m` under z, :math:`F_{m,k-p}` = QM/m otherwise.
* Heterogeneity with FE weights :math:`1/v_i` on centred y:
  :math:`Q_E = y'P(0)y`, :math:`Q_{E,p} = P(\\chi^2_{k-p} > Q_E)`;
  typical within-study variance :math:`\\tilde v = (k-p)/\\operatorname{tr}P(0)`;
  FE models :math:`I^2 = \\max(0, 100(Q_E-(k-p))/Q_E)`, :math:`H^2 = Q_E/(k-p)`;
  RE/ME models :math:`I^2 = 100\\tau^2/(\\tilde v + \\tau^2)`, :math:`H^2 = \\tau^2/\\tilde v + 1`.
"""
from __future__ import annotations

import numpy as np
from scipy import special

from . import distributions as stats  # scipy.stats' functions, without importing scipy.stats

from . import tau2 as _tau2
from .tau2 import DEFAULT_CONTROL, ESTIMATORS
from .wls import intercept_projection, is_ones_column, projection, wls, xtwx

#: metafor's method codes handled by the Python core.
FE_METHODS = ("FE", "EE", "CE")
#: the tests metafor offers for the fixed effects (``test=``).
TESTS = ("z", "t", "knha", "adhoc")
EPS = np.finfo(float).eps


def level_to_alpha(level):
    """metafor's ``.level()``: 95 -> 0.05, 0.95 -> 0.05, 0.05 -> 0.05."""
    if level >= 1:
        return (100 - level) / 100
    if level > 0.5:
        return 1 - level
    return level


def default_btt(p, intercept):
    """Coefficients tested by QM: all but the intercept when p > 1 (metafor ``.set.btt``)."""
    if p > 1 and intercept:
        return np.arange(1, p)
    return np.arange(p)


def rma_arrays(yi, vi, X=None, method="REML", test="z", level=95, intercept=True, btt=None, control=None, tau2=None, weights=None, r2=True, r2_when_nested=True):
    """Fit ``rma.uni`` models on stacked arrays; see the module docstring.

    Parameters
    ----------
    yi, vi : array_like, shape (..., k)
    X : array_like, shape (..., k, p) or (k, p), optional
        Model matrix including the intercept column if any; default: intercept only.
    method : str
        One of :data:`harness.core.tau2.ESTIMATORS`.
    test : {"z", "t", "knha", "adhoc"}
    level : float
        Confidence level in percent (or as a proportion), as metafor takes it.
    intercept : bool
        Whether X contains an intercept (affects the default ``btt``).
    control : dict, optional
        ``threshold``, ``maxiter``, ``stepadj``, ``tau2_min``, ``tol``, ``tau2_init``.
    tau2 : float, optional
        Fix tau^2 instead of estimating it.
    weights : array_like, shape (..., k), optional
        User weights A (metafor ``weights=``; needed by ``method="GENQ"``):
        :math:`\\hat\\beta = (X'AX)^{-1}X'Ay` with the sandwich
        :math:`(X'AX)^{-1}X'A(V+\\tau^2)AX(X'AX)^{-1}`; Knapp-Hartung's
        :math:`s^2` still comes from the inverse-variance fit, as in metafor.
    r2 : bool
        Compute R2 for meta-regressions (refits the intercept-only model, as
        metafor does; ``R2`` is NaN when not applicable).
    r2_when_nested : bool
        Which models get an R2. True (metafor >= 5.0-1): every model but the
        intercept-only one whose columns span the intercept (the intercept-only
        model is nested in it: rank [X, 1] = rank X), with or without an
        explicit intercept column. False (metafor 3.8-1, 4.8-0): only models
        with an intercept and p > 1.

    Returns
    -------
    dict of ndarray
        ``beta, se, zval, pval, ci_lb, ci_ub, vb, tau2, se_tau2, QE, QEp, I2,
        H2, vt, QM, QMp, QMdf1, QMdf2, ddf, R2, k, p, weights (percent),
        converged, iterations``.
    """
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    k = yi.shape[-1]
    if (
        _tau2.FAST_INTERCEPT and weights is None and k > 1 and method in _FAST_METHODS and test in TESTS
        and btt is None and (X is None or (np.ndim(X) == 2 and is_ones_column(np.asarray(X, float))))
    ):
        return _rma_intercept(yi, vi if vi.shape == yi.shape else np.broadcast_to(vi, yi.shape), method, test, level, control, tau2)
    if X is None:
        X = np.ones((k, 1))
    X = np.asarray(X, dtype=float)
    p = X.shape[-1]
    shape = yi.shape[:-1]
    Xb = np.broadcast_to(X, shape + (k, p))
    if method not in ESTIMATORS:
        raise ValueError(f"`method` must be one of {tuple(ESTIMATORS)}, not {method!r}")
    if test not in TESTS:
        raise ValueError(f"`test` must be one of {TESTS}, not {test!r}")
    ctrl = dict(DEFAULT_CONTROL)
    ctrl.update(control or {})
    alpha = level_to_alpha(level)
    is_fe = method in FE_METHODS
    if k == 1 and test != "z":
        test = "z"  # metafor warns and switches to z for k = 1
    ymc = yi - yi.mean(-1, keepdims=True)
    if weights is not None:
        weights = np.broadcast_to(np.asarray(weights, float), yi.shape)
        ctrl["weights"] = weights
    elif method == "GENQ":
        raise ValueError("method 'GENQ' needs user `weights`")

    # --- tau^2 ---------------------------------------------------------------
    if is_fe:
        est = ESTIMATORS["FE"](ymc, vi, Xb)
    elif tau2 is not None:
        t = np.full(shape, float(tau2))
        est = ESTIMATORS["FE"](ymc, vi, Xb)
        est = type(est)(t, np.full(shape, np.nan), est.converged, est.iterations)
    elif k == 1:
        est = ESTIMATORS["FE"](ymc, vi, Xb)  # metafor: tau2 = 0, estimation skipped
    else:
        est = ESTIMATORS[method](ymc, vi, Xb, **ctrl)
    t2 = np.where(est.converged, est.tau2, np.nan)

    # --- fixed effects -----------------------------------------------------------
    w = 1 / (vi + t2[..., None])
    fit = wls(yi, w, Xb)
    beta, vb = fit.beta, fit.vb
    if weights is not None:
        afit = wls(yi, weights, Xb)
        beta = afit.beta
        # sandwich (X'AX)^-1 X'A M A X (X'AX)^-1 with M = diag(v + tau2)
        meat = xtwx(Xb, weights**2 * (vi + t2[..., None]))
        vb = afit.vb @ meat @ afit.vb
    s2w = np.ones(shape)
    if test in ("knha", "adhoc"):
        rss = (w * fit.resid**2).sum(-1)
        s2w = np.where(rss <= EPS, 0.0, rss / (k - p))
        if test == "adhoc":
            s2w = np.maximum(s2w, 1.0)
        vb = s2w[..., None, None] * vb
    se = np.sqrt(np.diagonal(vb, axis1=-2, axis2=-1))
    with np.errstate(divide="ignore", invalid="ignore"):
        zval = beta / se
    if btt is None:
        btt = default_btt(p, intercept)
    btt = np.asarray(btt)
    m = len(btt)
    bb = beta[..., btt]
    vbb = vb[..., btt[:, None], btt[None, :]]
    with np.errstate(invalid="ignore", divide="ignore"):
        try:
            QM = np.einsum("...i,...ij,...j->...", bb, np.linalg.inv(vbb), bb)
        except np.linalg.LinAlgError:
            QM = np.full(shape, np.nan)
    if test in ("knha", "adhoc", "t"):
        ddf = k - p
        QM = QM / m
        QMdf = (m, k - p)
        if ddf > 0:
            QMp = stats.f.sf(QM, m, k - p)
            pval = 2 * stats.t.sf(np.abs(zval), ddf)
            crit = stats.t.isf(alpha / 2, ddf)
        else:
            QMp = np.full(shape, np.nan)
            pval = np.full(beta.shape, np.nan)
            crit = np.nan
    else:
        ddf = np.nan
        QMdf = (m, np.nan)
        QMp = stats.chi2.sf(QM, m)
        pval = 2 * stats.norm.sf(np.abs(zval))
        crit = stats.norm.isf(alpha / 2)
    ci_lb = beta - crit * se
    ci_ub = beta + crit * se

    # --- heterogeneity (FE weights, centred y) -----------------------------------
    if k > p:
        pr = projection(ymc, 1 / vi, Xb)
        QE = np.maximum(0.0, pr.yPy)
        QEp = stats.chi2.sf(QE, k - p)
        vt = (k - p) / pr.trP
        if is_fe:
            with np.errstate(divide="ignore", invalid="ignore"):
                I2 = np.maximum(0.0, 100 * (QE - (k - p)) / QE)
            H2 = QE / (k - p)
        else:
            I2 = 100 * t2 / (vt + t2)
            H2 = t2 / vt + 1
    else:
        QE = np.zeros(shape)
        QEp = np.ones(shape)
        I2 = np.zeros(shape)
        H2 = np.ones(shape)
        vt = np.zeros(shape)

    # --- R2 (mixed-effects / FE meta-regressions with an intercept) ------------
    R2 = np.full(shape, np.nan)
    if r2 and _r2_applies(X, intercept, r2_when_nested):
        R2 = _r2(yi, vi, ymc, Xb, t2, method, is_fe, ctrl, weights)

    return {
        "beta": beta,
        "se": se,
        "zval": zval,
        "pval": pval,
        "ci_lb": ci_lb,
        "ci_ub": ci_ub,
        "vb": vb,
        "tau2": t2,
        "se_tau2": est.se_tau2,
        "QE": QE,
        "QEp": QEp,
        "I2": I2,
        "H2": H2,
        "vt": vt,
        "QM": QM,
        "QMp": QMp,
        "QMdf1": np.full(shape, float(QMdf[0])),
        "QMdf2": np.full(shape, float(QMdf[1])),
        "ddf": np.full(shape, float(ddf)),
        "s2w": s2w,
        "R2": R2,
        "k": np.full(shape, k),
        "p": np.full(shape, p),
        "weights": 100 * (w if weights is None else weights) / (w if weights is None else weights).sum(-1, keepdims=True),
        "converged": est.converged,
        "iterations": est.iterations,
        "ll0_reset": np.zeros(shape, bool) if est.ll0_reset is None else np.asarray(est.ll0_reset, bool),
        "test": test,
        "alpha": alpha,
    }


#: methods whose intercept-only fit takes the O(k) path (:func:`_rma_intercept`).
_FAST_METHODS = ("FE", "EE", "CE", "DL", "ML", "REML", "EB")


def _rma_intercept(yi, vi, method, test, level, control, tau2):
    """:func:`rma_arrays` for intercept-only models (X = 1, no user weights, k > 1)
    by closed forms in O(k): the same formulas as the general path with
    :math:`X'WX = \\sum w`, :math:`\\hat\\beta = \\sum wy/\\sum w`,
    :math:`\\operatorname{Var}\\hat\\beta = 1/\\sum w`, QM = beta^2/vb, and the
    p-values/quantiles from scipy.special (the functions scipy.stats' normal,
    t, chi-square and F distributions call)."""
    k = yi.shape[-1]
    shape = yi.shape[:-1]
    ctrl = dict(DEFAULT_CONTROL)
    ctrl.update(control or {})
    alpha = level_to_alpha(level)
    is_fe = method in FE_METHODS
    single = False
    ymc = yi - yi.sum(-1, keepdims=True) / k  # = yi.mean(-1), bit for bit
    full = (lambda x: np.array(x)) if shape == () else (lambda x: np.full(shape, x))
    # heterogeneity pieces with FE weights (also DL's)
    W0, _, _, _, yPy0, _, trP0, trPP0 = intercept_projection(ymc, 1 / vi)
    if is_fe or tau2 is not None:
        t2 = full(0.0 if tau2 is None else float(tau2))
        se_tau2 = full(np.nan)
        conv, iters, reset = full(True), full(0), full(False)
    elif method == "DL":
        t2 = np.maximum(ctrl["tau2_min"], (yPy0 - (k - 1)) / trP0)
        se_tau2 = np.sqrt(_tau2._se_moment(trP0, k, 1, t2, trPP0) / trP0**2)
        conv, iters, reset = full(True), full(0), full(False)
    else:  # ML, REML, EB: tau2_ml/tau2_reml/tau2_eb's intercept-only path, called directly
        c = ctrl
        single = yi.ndim == 1  # then the SE comes from the final fit below (same w, same sums)
        est = _tau2._fisher_scoring_intercept(ymc, vi, method, c["tau2_min"], c["threshold"], c["maxiter"], c["stepadj"], c["tol"], c.get("tau2_init"), method != "EB", se=not single)
        t2 = np.where(est.converged, est.tau2, np.nan)
        se_tau2, conv, iters = est.se_tau2, est.converged, est.iterations
        reset = est.ll0_reset
    t2 = np.asarray(t2, float)
    w = 1 / (vi + t2[..., None])
    W, S2, beta, r, rss, _, _, trPP = intercept_projection(yi, w)
    if method in ("ML", "REML", "EB") and not is_fe and tau2 is None and single:
        # tau2_ml/tau2_reml/tau2_eb's SE at the estimate (w = 1/(v + tau2))
        s = np.sqrt(2 / S2) if method == "ML" else np.sqrt(2 / trPP) if method == "REML" else np.sqrt(2 * k**2 / (k - 1)) / W
        se_tau2 = np.where(conv, s, np.nan)
    vb = 1 / W
    s2w = full(1.0)
    if test in ("knha", "adhoc"):
        s2w = np.where(rss <= EPS, 0.0, rss / (k - 1))
        if test == "adhoc":
            s2w = np.maximum(s2w, 1.0)
        vb = s2w * vb
    se = np.sqrt(vb)
    with np.errstate(divide="ignore", invalid="ignore"):
        zval = beta / se
        QM = np.where(vb == 0, np.nan, beta * (1 / vb) * beta)
    if test in ("knha", "adhoc", "t"):
        ddf = k - 1
        QMp = special.fdtrc(1, ddf, QM)
        pval = 2 * special.stdtr(ddf, -np.abs(zval))
        crit = -special.stdtrit(ddf, alpha / 2)
    else:
        ddf = np.nan
        QMp = special.chdtrc(1, QM)
        pval = 2 * special.ndtr(-np.abs(zval))
        crit = -special.ndtri(alpha / 2)
    QE = np.maximum(0.0, yPy0)
    QEp = special.chdtrc(k - 1, QE)
    vt = (k - 1) / trP0
    if is_fe:
        with np.errstate(divide="ignore", invalid="ignore"):
            I2 = np.maximum(0.0, 100 * (QE - (k - 1)) / QE)
        H2 = QE / (k - 1)
    else:
        I2 = 100 * t2 / (vt + t2)
        H2 = t2 / vt + 1
    b1 = beta[..., None]
    se1 = se[..., None]
    return {
        "beta": b1,
        "se": se1,
        "zval": zval[..., None],
        "pval": pval[..., None],
        "ci_lb": b1 - crit * se1,
        "ci_ub": b1 + crit * se1,
        "vb": vb[..., None, None],
        "tau2": t2,
        "se_tau2": se_tau2,
        "QE": QE,
        "QEp": QEp,
        "I2": I2,
        "H2": H2,
        "vt": vt,
        "QM": QM,
        "QMp": QMp,
        "QMdf1": full(1.0),
        "QMdf2": full(float(ddf)),
        "ddf": full(float(ddf)),
        "s2w": s2w,
        "R2": full(np.nan),
        "k": full(k),
        "p": full(1),
        "weights": 100 * w / W[..., None],
        "converged": conv,
        "iterations": iters,
        "ll0_reset": np.asarray(reset, bool),
        "test": test,
        "alpha": alpha,
    }



def _r2_applies(X, intercept, when_nested):
    """Whether metafor reports R2 for the model matrix ``X`` (shape (..., k, p)).

    metafor 3.8-1/4.8-0 (R/rma.uni.r, ``Computing R^2``): ``!int.only && int.incl``.
    metafor 5.0-1: ``!int.only && .is.nested(X, 1)`` with ``.is.nested`` comparing
    ranks (``rankMatrix(cbind(X, 1)) == rankMatrix(X)``); ``int.only`` is a
    single column of ones.
    """
    p = X.shape[-1]
    if p == 1 and (intercept or is_ones_column(X)):
        return False
    if not when_nested:
        return bool(intercept)
    # every design of a stack (usually one, shared) must contain the intercept's span
    for Xj in np.asarray(X, float).reshape(-1, X.shape[-2], p):
        if np.linalg.matrix_rank(np.column_stack([Xj, np.ones(Xj.shape[0])])) != np.linalg.matrix_rank(Xj):
            return False
    return True


def _r2(yi, vi, ymc, Xb, t2, method, is_fe, ctrl, weights):
    """metafor's R2 (``r2def="1"``) for models with an intercept and p > 1.

    Random/mixed models: :math:`\\max(0, 100(\\hat\\tau^2_{RE} - \\hat\\tau^2_{ME})/\\hat\\tau^2_{RE})`
    with :math:`\\hat\\tau^2_{RE}` from the intercept-only model refitted with the same
    method and control (0 when that is 0; NaN when that refit fails).
    FE models: ``max(0, 100 * adjusted R^2)`` of the weighted ``lm(yi ~ X)``
    (weights 1/v or the user weights), 0 when all yi are equal.
    metafor 3.8-1 R/rma.uni.r (``Computing R^2``).
    """
    k, p = Xb.shape[-2], Xb.shape[-1]
    if is_fe:
        w = 1 / vi if weights is None else weights
        fit = wls(yi, w, Xb)
        f = yi - fit.resid
        fbar = (w * f).sum(-1, keepdims=True) / w.sum(-1, keepdims=True)
        mss = (w * (f - fbar) ** 2).sum(-1)
        rss = (w * fit.resid**2).sum(-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            r2 = mss / (mss + rss)
            adj = 1 - (1 - r2) * (k - 1) / (k - p)
        const = np.all(yi == yi[..., :1], axis=-1)
        return np.where(const, 0.0, np.maximum(0.0, 100 * adj))
    ones = np.ones(Xb.shape[:-1] + (1,))
    est = ESTIMATORS[method](ymc, vi, ones, **ctrl)
    t_re = np.where(est.converged, est.tau2, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(t_re == 0, 0.0, np.maximum(0.0, 100 * (t_re - t2) / t_re))
    return np.where(np.isnan(t_re), np.nan, r2)
