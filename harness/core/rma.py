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
from scipy import stats

from .tau2 import DEFAULT_CONTROL, ESTIMATORS
from .wls import projection, wls

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


def rma_arrays(yi, vi, X=None, method="REML", test="z", level=95, intercept=True, btt=None, control=None, tau2=None):
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

    Returns
    -------
    dict of ndarray
        ``beta, se, zval, pval, ci_lb, ci_ub, vb, tau2, se_tau2, QE, QEp, I2,
        H2, vt, QM, QMp, QMdf1, QMdf2, ddf, k, p, weights (percent), converged,
        iterations``.
    """
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    k = yi.shape[-1]
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
        "k": np.full(shape, k),
        "p": np.full(shape, p),
        "weights": 100 * w / w.sum(-1, keepdims=True),
        "converged": est.converged,
        "iterations": est.iterations,
        "test": test,
        "alpha": alpha,
    }
