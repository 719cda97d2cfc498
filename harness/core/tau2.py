"""Estimators of the between-study variance tau^2 (metafor ``rma.uni``).

Each estimator is a pure function of stacked arrays ``y (..., k)``,
``v (..., k)``, ``X (..., k, p)`` and returns a :class:`Tau2Estimate`.
As in metafor 3.8-1 (R/rma.uni.r), ``y`` is the *mean-centred* outcome
(``ymci``): it changes nothing when X has an intercept, and it is what metafor
uses for models without one. Every estimate is truncated at ``tau2_min``
(0 by default), as ``tau2 <- max(con$tau2.min, tau2)`` does.

References
----------
.. [1] DerSimonian R, Laird N (1986). Meta-analysis in clinical trials.
       Control Clin Trials 7:177-188.
.. [2] Hedges LV (1983). A random effects model for effect sizes.
       Psychol Bull 93:388-395.
.. [3] Hunter JE, Schmidt FL (2004). Methods of meta-analysis. Sage.
.. [4] Viechtbauer W (2005). Bias and efficiency of meta-analytic variance
       estimators in the random-effects model. J Educ Behav Stat 30:261-293.
.. [5] Morris CN (1983). Parametric empirical Bayes inference. JASA 78:47-55.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .wls import projection, wls

#: metafor's ``control`` defaults (R/rma.uni.r 3.8-1, lines 993-1011).
DEFAULT_CONTROL = {"threshold": 1e-5, "maxiter": 100, "stepadj": 1.0, "tau2_min": 0.0, "tol": np.finfo(float).eps ** 0.25}


@dataclass(frozen=True)
class Tau2Estimate:
    tau2: np.ndarray
    se_tau2: np.ndarray
    converged: np.ndarray = field(default=None)  # bool, same shape as tau2
    iterations: np.ndarray = field(default=None)


def _done(tau2, se, shape=None):
    tau2 = np.asarray(tau2, float)
    return Tau2Estimate(tau2, np.asarray(se, float), np.ones(tau2.shape, bool), np.zeros(tau2.shape, int))


def _trunc(t, tau2_min):
    return np.maximum(tau2_min, t)


def _se_moment(trP, k, p, t, trPP):
    """SE shared by DL and HS: sqrt((2(k-p) + 4 t trP + 2 t^2 sum(P*P)) / D^2), D given by caller."""
    t = np.maximum(t, 0)
    return 2 * (k - p) + 4 * t * trP + 2 * t**2 * trPP


def tau2_fe(y, v, X, **control):
    """Equal/fixed effect: tau^2 = 0 (metafor ``method="FE"``/``"EE"``)."""
    z = np.zeros(y.shape[:-1])
    return Tau2Estimate(z, np.full(z.shape, np.nan), np.ones(z.shape, bool), np.zeros(z.shape, int))


def tau2_dl(y, v, X, tau2_min=0.0, **control):
    """DerSimonian-Laird method-of-moments estimator [1]_.

    .. math:: \\hat\\tau^2 = \\max\\left(0, \\frac{y'P(0)y - (k-p)}{\\operatorname{tr}P(0)}\\right)

    Intercept-only: :math:`(Q - (k-1))/(\\sum w - \\sum w^2/\\sum w)`.
    SE: :math:`\\sqrt{(2(k-p) + 4\\tau^2 \\operatorname{tr}P + 2\\tau^4 \\sum P\\circ P)}/\\operatorname{tr}P`.
    metafor: ``rma(method="DL")``.
    """
    k, p = X.shape[-2], X.shape[-1]
    pr = projection(y, 1 / v, X)
    tau2 = _trunc((pr.yPy - (k - p)) / pr.trP, tau2_min)
    se = np.sqrt(_se_moment(pr.trP, k, p, tau2, pr.trPP) / pr.trP**2)
    return _done(tau2, se)


def tau2_hs(y, v, X, tau2_min=0.0, small_k=False, **control):
    """Hunter-Schmidt estimator [3]_: :math:`(y'P(0)y - k)/\\sum w`.

    ``small_k=True`` gives metafor's ``"HSk"``: :math:`(k/(k-p)\\, y'P(0)y - k)/\\sum w`
    and its SE multiplied by k/(k-p).
    """
    k, p = X.shape[-2], X.shape[-1]
    w = 1 / v
    pr = projection(y, w, X)
    rss = pr.yPy * (k / (k - p) if small_k else 1.0)
    tau2 = _trunc((rss - k) / w.sum(-1), tau2_min)
    se = np.sqrt(_se_moment(pr.trP, k, p, tau2, pr.trPP) / w.sum(-1) ** 2)
    if small_k:
        se = k / (k - p) * se
    return _done(tau2, se)


def _he_raw(y, v, X):
    """Hedges' (HE) moment estimate before truncation, and pieces for its SE."""
    k, p = X.shape[-2], X.shape[-1]
    ones = np.ones_like(v)
    fit = wls(y, ones, X)
    rss = (fit.resid**2).sum(-1)
    # tr(P_OLS V) = sum v - tr((X'X)^-1 X'VX)
    XtVX = np.einsum("...ki,...k,...kj->...ij", X, v, X)
    trPV = v.sum(-1) - np.trace(fit.vb @ XtVX, axis1=-2, axis2=-1)
    return (rss - trPV) / (k - p), fit, trPV


def tau2_he(y, v, X, tau2_min=0.0, **control):
    """Hedges' unweighted method-of-moments estimator [2]_ (metafor ``"HE"``).

    .. math:: \\hat\\tau^2 = \\frac{y'P_{OLS}y - \\operatorname{tr}(P_{OLS}V)}{k-p},
              \\quad P_{OLS} = I - X(X'X)^{-1}X'

    SE: :math:`\\sqrt{2\\sum (PV)\\circ(PV)' + 4\\tau^2 \\operatorname{tr}(PV) + 2\\tau^4 (k-p)}/(k-p)`.
    """
    k, p = X.shape[-2], X.shape[-1]
    raw, fit, trPV = _he_raw(y, v, X)
    tau2 = _trunc(raw, tau2_min)
    # sum((PV) * t(PV)) = tr(PV PV); P_OLS V = V - H V with H = X (X'X)^-1 X'
    # tr(PVPV) = sum v^2 - 2 tr((X'X)^-1 X'V^2X) + tr((X'X)^-1 X'VX (X'X)^-1 X'VX)
    XtVX = np.einsum("...ki,...k,...kj->...ij", X, v, X)
    XtV2X = np.einsum("...ki,...k,...kj->...ij", X, v**2, X)
    B = fit.vb @ XtVX
    trPVPV = (v**2).sum(-1) - 2 * np.trace(fit.vb @ XtV2X, axis1=-2, axis2=-1) + np.trace(B @ B, axis1=-2, axis2=-1)
    t = np.maximum(tau2, 0)
    se = np.sqrt((2 * trPVPV + 4 * t * trPV + 2 * t**2 * (k - p)) / (k - p) ** 2)
    return _done(tau2, se)


def _reml_loglik(y, v, X, tau2):
    k, p = X.shape[-2], X.shape[-1]
    w = 1 / (v + tau2)
    fit = wls(y, w, X)
    rss = (w * fit.resid**2).sum(-1)
    _, logdet = np.linalg.slogdet(np.linalg.inv(fit.vb))
    return -0.5 * (k - p) * np.log(2 * np.pi) - 0.5 * np.log(v + tau2).sum(-1) - 0.5 * logdet - 0.5 * rss


def _ml_loglik(y, v, X, tau2):
    k = X.shape[-2]
    w = 1 / (v + tau2)
    fit = wls(y, w, X)
    rss = (w * fit.resid**2).sum(-1)
    return -0.5 * k * np.log(2 * np.pi) - 0.5 * np.log(v + tau2).sum(-1) - 0.5 * rss


def _fisher_scoring(y, v, X, method, tau2_min, threshold, maxiter, stepadj, tol, tau2_init=None, ll0check=True):
    """Fisher scoring for ML, REML and EB exactly as metafor 3.8-1 iterates.

    Start at max(0, tau2_HE, tau2_min) (or ``tau2_init``); each step
    ``adj`` is

    * ML:   :math:`(y'PPy - \\sum w)/\\sum w^2`
    * REML: :math:`(y'PPy - \\operatorname{tr}P)/\\operatorname{tr}(PP)`
    * EB:   :math:`(y'Py\\,k/(k-p) - k)/\\sum w`

    halved while tau2 + adj < tau2_min; stop when |change| <= threshold; more
    than ``maxiter`` iterations is non-convergence (metafor raises an error).
    Then, for ML/REML, metafor's ``ll0check``: if the log-likelihood at 0 beats
    the one at the estimate by more than ``tol`` (and tau2 > threshold), tau2 = 0.
    Batched: each problem stops on its own.
    """
    k, p = X.shape[-2], X.shape[-1]
    shape = y.shape[:-1]
    X = np.broadcast_to(X, shape + (k, p))
    # work on a flat batch (B, k); reshape back at the end
    yf, vf, Xf = y.reshape(-1, k), v.reshape(-1, k), X.reshape(-1, k, p)
    B = yf.shape[0]
    if tau2_init is None:
        he, _, _ = _he_raw(yf, vf, Xf)
        tau2 = np.maximum(np.maximum(0.0, he), tau2_min)
    else:
        tau2 = np.broadcast_to(np.asarray(tau2_init, float), shape).reshape(B).copy()
    tau2 = np.array(tau2, dtype=float).reshape(B)
    active = np.ones(B, bool)
    converged = np.zeros(B, bool)
    iters = np.zeros(B, int)
    while active.any():
        a = np.nonzero(active)[0]
        ta = tau2[a]
        iters[a] += 1
        w = 1 / (vf[a] + ta[:, None])
        pr = projection(yf[a], w, Xf[a])
        if method == "ML":
            adj = (pr.yPPy - w.sum(-1)) / (w**2).sum(-1)
        elif method == "REML":
            adj = (pr.yPPy - pr.trP) / pr.trPP
        else:  # EB
            adj = (pr.yPy * k / (k - p) - k) / w.sum(-1)
        adj = adj * stepadj
        adj = np.where(np.isnan(adj), 0.0, adj)
        low = ta + adj < tau2_min
        while low.any():
            adj = np.where(low, adj / 2, adj)
            low = ta + adj < tau2_min
        new = ta + adj
        done = np.abs(ta - new) <= threshold
        # metafor checks the iteration count after the update, so a problem
        # still moving after maxiter steps has not converged (an error in R).
        over = iters[a] > maxiter
        tau2[a] = new
        converged[a[done & ~over]] = True
        active[a[done | over]] = False
    if ll0check and method in ("ML", "REML"):
        ll = _reml_loglik if method == "REML" else _ml_loglik
        ok = np.nonzero(converged)[0]
        if ok.size:
            ll0 = ll(yf[ok], vf[ok], Xf[ok], np.zeros(ok.size)[:, None])
            llt = ll(yf[ok], vf[ok], Xf[ok], tau2[ok][:, None])
            reset = (ll0 - llt > tol) & (tau2[ok] > threshold)
            tau2[ok[reset]] = 0.0
    tau2 = np.where(converged, np.maximum(tau2_min, tau2), np.nan)
    w = 1 / (vf + np.where(converged, tau2, 0.0)[:, None])
    if method == "ML":
        se = np.sqrt(2 / (w**2).sum(-1))
    elif method == "REML":
        se = np.sqrt(2 / projection(yf, w, Xf).trPP)
    else:
        se = np.sqrt(2 * k**2 / (k - p)) / w.sum(-1)
    se = np.where(converged, se, np.nan)
    return Tau2Estimate(tau2.reshape(shape), se.reshape(shape), converged.reshape(shape), iters.reshape(shape))


def tau2_reml(y, v, X, tau2_min=0.0, threshold=1e-5, maxiter=100, stepadj=1.0, tol=DEFAULT_CONTROL["tol"], tau2_init=None, **control):
    """Restricted maximum likelihood [4]_ by Fisher scoring (metafor ``"REML"``).

    SE from the Fisher information: :math:`\\sqrt{2/\\sum_{ij}P_{ij}^2}`.
    """
    return _fisher_scoring(y, v, X, "REML", tau2_min, threshold, maxiter, stepadj, tol, tau2_init)


def tau2_ml(y, v, X, tau2_min=0.0, threshold=1e-5, maxiter=100, stepadj=1.0, tol=DEFAULT_CONTROL["tol"], tau2_init=None, **control):
    """Maximum likelihood [4]_ by Fisher scoring (metafor ``"ML"``); SE :math:`\\sqrt{2/\\sum w^2}`."""
    return _fisher_scoring(y, v, X, "ML", tau2_min, threshold, maxiter, stepadj, tol, tau2_init)


def tau2_eb(y, v, X, tau2_min=0.0, threshold=1e-5, maxiter=100, stepadj=1.0, tol=DEFAULT_CONTROL["tol"], tau2_init=None, **control):
    """Empirical Bayes [5]_ (metafor ``"EB"``); SE :math:`\\sqrt{2k^2/(k-p)}/\\sum w`."""
    return _fisher_scoring(y, v, X, "EB", tau2_min, threshold, maxiter, stepadj, tol, tau2_init, ll0check=False)


#: method name -> estimator. Issue-specific estimators register here.
ESTIMATORS = {
    "FE": tau2_fe,
    "EE": tau2_fe,
    "CE": tau2_fe,
    "DL": tau2_dl,
    "HE": tau2_he,
    "HS": tau2_hs,
    "HSk": lambda y, v, X, **kw: tau2_hs(y, v, X, small_k=True, **kw),
    "ML": tau2_ml,
    "REML": tau2_reml,
    "EB": tau2_eb,
}
