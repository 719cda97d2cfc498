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


def _profile_bounds(stat, crit_ub, crit_lb, tmin, tmax, tol, maxiter):
    """metafor's boundary rules for a statistic that *decreases* in tau^2: the upper
    bound solves ``stat = crit_ub``, the lower bound ``stat = crit_lb`` (crit_ub < crit_lb);
    returns ``(lb, ub, lb_sign, ub_sign, ci_null)`` (R/confint.rma.uni.r, both types)."""
    s_max, s_min = stat(tmax), stat(tmin)
    lb = ub = np.nan
    lb_sign = ub_sign = ""
    ci_null = False
    if s_min < crit_ub:
        lb = ub = tmin
        lb_sign = ub_sign = "<"
        ci_null = tmin <= 0
    elif s_max > crit_ub:
        ub, ub_sign = tmax, ">"
    else:
        ub, _ = brent_root(lambda t: stat(t) - crit_ub, tmin, tmax, tol, maxiter)
    if s_max > crit_lb:
        lb = ub = tmax
        lb_sign = ub_sign = ">"
    elif s_min < crit_lb:
        lb = tmin
        if tmin > 0:
            lb_sign = "<"
    else:
        lb, _ = brent_root(lambda t: stat(t) - crit_lb, tmin, tmax, tol, maxiter)
    return lb, ub, lb_sign, ub_sign, ci_null


def _bracket(tau2_hat, tau2_min, tau2_max):
    tmin = min(0.0, tau2_hat) if tau2_min is None else tau2_min
    tmax = max(100.0, 10 * tau2_hat, 10 * tmin) if tau2_max is None else tau2_max
    return tmin, tmax


def _result(lb, ub, lb_sign, ub_sign, ci_null, vt):
    bounds = np.array([lb, ub])
    return {
        "tau2": bounds,
        "I2": 100 * bounds / (vt + bounds),
        "H2": bounds / vt + 1,
        "lb_sign": lb_sign,
        "ub_sign": ub_sign,
        "ci_null": ci_null,
    }


def confint_tau2(yi, vi, X, tau2_hat, vt, alpha=0.05, tol=np.finfo(float).eps ** 0.25, maxiter=1000, tau2_min=None, tau2_max=None):
    """Q-profile CI of one model. Returns a dict with ``tau2, I2, H2`` (each
    ``(estimate-free) (lb, ub)``), ``lb_sign``, ``ub_sign`` ("", "<" or ">") and ``ci_null``."""
    yi, vi, X = np.asarray(yi, float), np.asarray(vi, float), np.asarray(X, float)
    k, p = X.shape
    tmin, tmax = _bracket(tau2_hat, tau2_min, tau2_max)
    crit_u = stats.chi2.isf(alpha / 2, k - p)  # qchisq(alpha/2, lower = FALSE)
    crit_l = stats.chi2.ppf(alpha / 2, k - p)
    q = lambda t: float(qe_profile(yi, vi, X, t))
    return _result(*_profile_bounds(q, crit_l, crit_u, tmin, tmax, tol, maxiter), vt)


def quadform_sf(q, lambdas):
    """:math:`P(\\sum_j \\lambda_j \\chi^2_{1,j} > q)` for positive weights, by Imhof's (1961)
    inversion of the characteristic function:

    .. math:: P(Q > q) = \\frac12 + \\frac1\\pi\\int_0^\\infty \\frac{\\sin\\theta(u)}{u\\,\\rho(u)}\\,du,\\quad
              \\theta(u) = \\tfrac12\\sum_j \\arctan(\\lambda_j u) - \\tfrac12 qu,\\quad
              \\rho(u) = \\prod_j (1 + \\lambda_j^2u^2)^{1/4}.

    The integrand oscillates with frequency q/2 and decays only like
    :math:`u^{-1-r/2}` (r weights), so the tail is integrated as two Fourier
    integrals, :math:`\\int f_1(u)\\cos(qu/2)\\,du - \\int f_2(u)\\sin(qu/2)\\,du` with the
    smooth :math:`f_1 = \\sin\\varphi/(u\\rho)`, :math:`f_2 = \\cos\\varphi/(u\\rho)`,
    :math:`\\varphi = \\tfrac12\\sum\\arctan(\\lambda_j u)`: QUADPACK's QAWF (scipy's
    ``quad(weight="cos"/"sin", b=inf)``), which is built for such integrals; the first
    period is integrated directly. Accuracy ~1e-12 absolute.

    Why not Farebrother's algorithm (AS 204, Ruben's chi-square series, what
    metafor calls through CompQuadForm): its number of terms grows with the
    spread of the weights (about :math:`\\log\\epsilon/\\log(1-\\lambda_{min}/\\lambda_{max})`), and the
    weights here spread as the sampling variances do once tau^2 is large (the
    search goes up to tau^2 = 100), so thousands of terms; Imhof's integral costs
    the same whatever the spread. Reference: Imhof JP (1961). Computing the
    distribution of quadratic forms in normal variables. Biometrika 48:419-426.
    """
    from scipy import integrate

    lam = np.asarray(lambdas, float)
    lam = lam[lam > 0]
    if q <= 0:
        return 1.0
    if lam.size == 0:
        return 0.0
    w = q / 2

    def phi(u):
        return 0.5 * np.sum(np.arctan(lam * u))

    def urho(u):
        return u * np.exp(0.25 * np.sum(np.log1p((lam * u) ** 2)))

    def full(u):
        if u == 0:
            return 0.5 * (lam.sum() - q)
        return np.sin(phi(u) - w * u) / urho(u)

    a = 2 * np.pi / w
    kw = dict(epsabs=1e-13, epsrel=1e-12, limit=500)
    i0, _ = integrate.quad(full, 0.0, a, **kw)
    i1, _ = integrate.quad(lambda u: np.sin(phi(u)) / urho(u), a, np.inf, weight="cos", wvar=w, limlst=200, epsabs=1e-13)
    i2, _ = integrate.quad(lambda u: np.cos(phi(u)) / urho(u), a, np.inf, weight="sin", wvar=w, limlst=200, epsabs=1e-13)
    return float(min(1.0, max(0.0, 0.5 + (i0 + i1 - i2) / np.pi)))


def genq_lambdas(vi, P, tau2, r):
    """The weights of the generalised Q's distribution at tau^2: the r = k - p largest
    eigenvalues of :math:`S P S`, :math:`S = \\operatorname{diag}(\\sqrt{v_i + \\tau^2})`
    (metafor ``.GENQ.func``)."""
    s = np.sqrt(vi + tau2)
    ev = np.linalg.eigvalsh(s[:, None] * P * s[None, :])
    return ev[::-1][:r]


def confint_tau2_genq(yi, vi, X, weights, tau2_hat, vt, alpha=0.05, tol=np.finfo(float).eps ** 0.25, maxiter=1000, tau2_min=None, tau2_max=None):
    """Generalised Q-statistic CI of tau^2 (Jackson, Turner, Rhodes & Viechtbauer 2014;
    metafor ``confint`` on a ``method="GENQ"`` model, type ``"GENQ"``).

    With the user weights A, :math:`P = A - AX(X'AX)^{-1}X'A` and the observed
    :math:`Q_A = y'Py`; under the model :math:`Q_A \\sim \\sum_j \\lambda_j(\\tau^2)\\chi^2_1`
    (:func:`genq_lambdas`). :math:`F(\\tau^2) = P(Q_A > Q_{obs}; \\tau^2)` increases
    in tau^2; the bounds solve :math:`F(\\tau^2_{lb}) = \\alpha/2` and
    :math:`1 - F(\\tau^2_{ub}) = \\alpha/2`, with the same bracket and boundary rules
    as the Q-profile interval. Distribution: :func:`quadform_sf` (Imhof).
    metafor 3.8-1's uniroot here runs at R's default tolerance eps^0.25.
    """
    yi, vi, X = np.asarray(yi, float), np.asarray(vi, float), np.asarray(X, float)
    a = np.asarray(weights, float)
    k, p = X.shape
    AX = a[:, None] * X
    P = np.diag(a) - AX @ np.linalg.solve(X.T @ AX, AX.T)
    q_obs = float(yi @ P @ yi)
    tmin, tmax = _bracket(tau2_hat, tau2_min, tau2_max)
    # u(t) = P(Q <= q_obs; t) decreases in t: the Q-profile rules with thresholds alpha/2, 1 - alpha/2
    u = lambda t: 1.0 - quadform_sf(q_obs, genq_lambdas(vi, P, t, k - p))
    return _result(*_profile_bounds(u, alpha / 2, 1 - alpha / 2, tmin, tmax, tol, maxiter), vt)


def confint_tau2_wald(tau2_hat, se_tau2, vt, alpha=0.05, tau2_min=0.0):
    """Wald-type CI of tau^2 (metafor ``confint.rma.uni(type="Wald")``), truncated below.

    .. math:: \\hat\\tau^2 \\pm z_{1-\\alpha/2}\\, SE(\\hat\\tau^2),\\qquad
              \\tau^2_{lb} \\leftarrow \\max(\\tau^2_{min}, \\tau^2_{lb})

    with ``tau2_min`` metafor's ``control$tau2.min`` (0 when not given; R/confint.rma.uni.r,
    type "Wald": ``tau2.lb <- max(ifelse(is.null(x$control$tau2.min), 0, x$control$tau2.min), tau2.lb)``,
    the same in metafor 3.8-1, 4.8-0 and 5.0-1; 3.8-1 spells the type "Wald" only, later
    releases take any case). The upper bound is not truncated. I^2 and H^2 bounds as in
    :func:`confint_tau2`.
    """
    z = stats.norm.isf(alpha / 2)
    bounds = np.array([max(tau2_min, tau2_hat - z * se_tau2), tau2_hat + z * se_tau2])
    return {"tau2": bounds, "I2": 100 * bounds / (vt + bounds), "H2": bounds / vt + 1}

