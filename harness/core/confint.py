"""Q-profile confidence interval for tau^2, and the derived CIs for I^2 and H^2
(Viechtbauer 2007; metafor ``confint.rma.uni``, type ``"QP"``).

The generalised Q statistic :math:`Q(\\tau^2) = \\sum_i w_i(\\tau^2)(y_i - x_i'\\hat\\beta(\\tau^2))^2`,
:math:`w_i = 1/(v_i + \\tau^2)`, computed on the *uncentred* y (unlike the
estimators, see :mod:`harness.core.tau2`), is decreasing in :math:`\\tau^2`.
The bounds solve

.. math:: Q(\\tau^2_{lb}) = \\chi^2_{1-\\alpha/2,\\,k-p},\\qquad Q(\\tau^2_{ub}) = \\chi^2_{\\alpha/2,\\,k-p}

on [tau2_min, tau2_max] = [min(0, tau2_hat), max(100, 10 tau2_hat)] with
``uniroot`` (here Brent with the same stopping rule; metafor's default
``tol`` is eps^0.25, the harness asks both engines for 1e-12). Boundary
rules, as metafor 3.8-1 applies them (R/confint.rma.uni.r lines 100-165):

* Q(tau2_min) < chi2_{alpha/2}: both bounds tau2_min (a "null set" when tau2_min <= 0);
* otherwise Q(tau2_max) > chi2_{alpha/2}: upper bound tau2_max (printed "> tau2_max");
* Q(tau2_max) > chi2_{1-alpha/2}: both bounds tau2_max;
* otherwise Q(tau2_min) < chi2_{1-alpha/2}: lower bound tau2_min.

I^2 and H^2 bounds use the model's typical within-study variance vt:
:math:`I^2 = 100\\tau^2/(vt + \\tau^2)`, :math:`H^2 = \\tau^2/vt + 1`.
"""
from __future__ import annotations

import numpy as np

from . import distributions as stats  # scipy.stats' functions, without importing scipy.stats

from .tau2 import brent_root
from .wls import projection


def qe_profile(y, v, X, tau2):
    """:math:`Q(\\tau^2)` on the uncentred outcome (metafor ``.QE.func`` with ``Y = yi``)."""
    return projection(y, 1 / (v + tau2), X).yPy


def confint_tau2(yi, vi, X, tau2_hat, vt, alpha=0.05, tol=np.finfo(float).eps ** 0.25, maxiter=1000, tau2_min=None, tau2_max=None):
    """Q-profile CI of one model. Returns a dict with ``tau2, I2, H2`` (each
    ``(estimate-free) (lb, ub)``), ``lb_sign``, ``ub_sign`` ("", "<" or ">") and ``ci_null``."""
    yi, vi, X = np.asarray(yi, float), np.asarray(vi, float), np.asarray(X, float)
    k, p = X.shape
    tmin = min(0.0, tau2_hat) if tau2_min is None else tau2_min
    tmax = max(100.0, 10 * tau2_hat, 10 * tmin) if tau2_max is None else tau2_max
    crit_u = stats.chi2.isf(alpha / 2, k - p)  # qchisq(alpha/2, lower = FALSE)
    crit_l = stats.chi2.ppf(alpha / 2, k - p)
    q = lambda t: float(qe_profile(yi, vi, X, t))
    q_max, q_min = q(tmax), q(tmin)
    lb = ub = np.nan
    lb_sign = ub_sign = ""
    ci_null = False
    if q_min < crit_l:
        lb = ub = tmin
        lb_sign = ub_sign = "<"
        ci_null = tmin <= 0
    elif q_max > crit_l:
        ub, ub_sign = tmax, ">"
    else:
        ub, _ = brent_root(lambda t: q(t) - crit_l, tmin, tmax, tol, maxiter)
    if q_max > crit_u:
        lb = ub = tmax
        lb_sign = ub_sign = ">"
    elif q_min < crit_u:
        lb = tmin
        if tmin > 0:
            lb_sign = "<"
    else:
        lb, _ = brent_root(lambda t: q(t) - crit_u, tmin, tmax, tol, maxiter)
    bounds = np.array([lb, ub])
    return {
        "tau2": bounds,
        "I2": 100 * bounds / (vt + bounds),
        "H2": bounds / vt + 1,
        "lb_sign": lb_sign,
        "ub_sign": ub_sign,
        "ci_null": ci_null,
    }
