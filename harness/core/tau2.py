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
.. [6] Sidik K, Jonkman JN (2005). Simple heterogeneity variance estimation for
       meta-analysis. J R Stat Soc C 54:367-384.
.. [7] DerSimonian R, Kacker R (2007). Random-effects model for meta-analysis
       of clinical trials: an update. Contemp Clin Trials 28:105-114.
.. [8] Paule RC, Mandel J (1982). Consensus values and weighting factors.
       J Res Natl Bur Stand 87:377-385.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import distributions as stats  # scipy.stats' functions, without importing scipy.stats

from .wls import _intercept_pieces, intercept_projection, inv_xtwx, is_ones_column, rowdot, projection, tr_PA, tr_PAPB, wls

#: Use the O(k) closed forms for intercept-only models (DL, HE, ML, REML, EB and
#: rma_arrays); False forces the general QR path (the tests compare the two).
FAST_INTERCEPT = True

#: metafor's ``control`` defaults (R/rma.uni.r 3.8-1, lines 993-1011).
#: ``tau2_max`` None means metafor's ``max(100, 10 * mad(yi)^2)``.
DEFAULT_CONTROL = {"threshold": 1e-5, "maxiter": 100, "stepadj": 1.0, "tau2_min": 0.0, "tol": np.finfo(float).eps ** 0.25, "tau2_max": None}


@dataclass(frozen=True)
class Tau2Estimate:
    tau2: np.ndarray
    se_tau2: np.ndarray
    converged: np.ndarray = field(default=None)  # bool, same shape as tau2
    iterations: np.ndarray = field(default=None)
    #: True where metafor's ll0check set tau^2 to 0 (it warns "Fisher scoring
    #: algorithm may have gotten stuck at a local maximum. Setting tau^2 = 0.")
    ll0_reset: np.ndarray = field(default=None)


def _done(tau2, se, shape=None):
    tau2 = np.asarray(tau2, float)
    return Tau2Estimate(tau2, np.asarray(se, float), np.ones(tau2.shape, bool), np.zeros(tau2.shape, int))


def _trunc(t, tau2_min):
    return np.maximum(tau2_min, t)


def _se_moment(trP, k, p, t, trPP):
    """SE shared by DL and HS: sqrt((2(k-p) + 4 t trP + 2 t^2 sum(P*P)) / D^2), D given by caller."""
    t = np.maximum(t, 0)
    return 2 * (k - p) + 4 * t * trP + 2 * t**2 * trPP


def _flat(y, v, X):
    """(B, k), (B, k), (B, k, p) views of stacked inputs, and the batch shape."""
    k, p = X.shape[-2], X.shape[-1]
    shape = y.shape[:-1]
    X = np.broadcast_to(X, shape + (k, p))
    return y.reshape(-1, k), np.broadcast_to(v, y.shape).reshape(-1, k), X.reshape(-1, k, p), shape


def _p_fit(w, X):
    """(X'WX)^-1 for stacked problems."""
    return inv_xtwx(X, w)


def mad(x):
    """R's ``mad``: 1.4826 * median(|x - median(x)|), along the last axis."""
    med = np.median(x, axis=-1, keepdims=True)
    return 1.4826 * np.median(np.abs(x - med), axis=-1)


def default_tau2_max(y):
    """metafor's upper end of the root bracket: ``max(100, 10 * mad(yi)^2)``.

    mad is shift invariant, so the centred outcome gives the same value."""
    return np.maximum(100.0, 10 * mad(y) ** 2)


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
    if FAST_INTERCEPT and is_ones_column(X):
        _, _, _, _, yPy, _, trP, trPP = intercept_projection(y, 1 / v)
        tau2 = _trunc((yPy - (k - 1)) / trP, tau2_min)
        return _done(tau2, np.sqrt(_se_moment(trP, k, 1, tau2, trPP) / trP**2))
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


def _he_raw_intercept(y, v):
    """HE before truncation for X = 1: :math:`(\\sum (y-\\bar y)^2 - (1-1/k)\\sum v)/(k-1)`."""
    k = y.shape[-1]
    yc = y - y.sum(-1, keepdims=True) / k  # = y.mean(-1), bit for bit
    return (rowdot(yc, yc) - v.sum(-1) * (1 - 1 / k)) / (k - 1)


def _he_raw(y, v, X):
    """Hedges' (HE) moment estimate before truncation, and pieces for its SE.

    With :math:`P_{OLS} = I - X(X'X)^{-1}X'` (projection with unit weights):
    :math:`\\operatorname{tr}(P_{OLS}V) = \\sum v(1-h)`,
    :math:`\\operatorname{tr}(P_{OLS}VP_{OLS}V)` from :func:`tr_PAPB`."""
    k, p = X.shape[-2], X.shape[-1]
    ones = np.ones_like(y)
    Xb = np.broadcast_to(X, y.shape + (p,))
    vv = np.broadcast_to(v, y.shape)
    pr = projection(y, ones, Xb)
    trPV = tr_PA(ones, pr.Q, vv)
    return (pr.yPy - trPV) / (k - p), pr, trPV


def tau2_he(y, v, X, tau2_min=0.0, **control):
    """Hedges' unweighted method-of-moments estimator [2]_ (metafor ``"HE"``).

    .. math:: \\hat\\tau^2 = \\frac{y'P_{OLS}y - \\operatorname{tr}(P_{OLS}V)}{k-p},
              \\quad P_{OLS} = I - X(X'X)^{-1}X'

    SE: :math:`\\sqrt{2\\sum (PV)\\circ(PV)' + 4\\tau^2 \\operatorname{tr}(PV) + 2\\tau^4 (k-p)}/(k-p)`.
    """
    k, p = X.shape[-2], X.shape[-1]
    raw, pr, trPV = _he_raw(y, v, X)
    tau2 = _trunc(raw, tau2_min)
    ones = np.ones_like(y)
    vv = np.broadcast_to(v, y.shape)
    trPVPV = tr_PAPB(ones, pr.Q, vv, vv)
    t = np.maximum(tau2, 0)
    se = np.sqrt((2 * trPVPV + 4 * t * trPV + 2 * t**2 * (k - p)) / (k - p) ** 2)
    return _done(tau2, se)


#: a Fisher-scoring step no larger than its own rounding error has converged. The step is
#: adj = (a - b) / d (REML: a = y'PPy, b = tr P, whose terms are of the size of sum w,
#: d = tr PP; ML: y'PPy, sum w, sum w^2; EB: y'Py k/(k-p), k, sum w), and near the fixed
#: point a and b cancel: its rounding error is about eps * (|a| + scale of b) / d. metafor
#: stops only when |change| <= threshold (1e-12, absolute); where that noise exceeds the
#: threshold (large tau^2, or few studies with very unequal variances), whether R's steps
#: round to a zero change ("converged") or flip between neighbouring values until maxiter
#: ("did not converge") is chance. Python stops when |change| <= max(threshold, noise),
#: noise = STEP_NOISE * eps * (|a| + scale of b) / d; elsewhere the rule is metafor's exactly.
STEP_NOISE = 8.0
_EPS = np.finfo(float).eps
_MAX = np.finfo(float).max


#: a step stopped as rounding must also be negligible next to tau^2 (far inside the 1e-8
#: relative tolerance of iterative estimates): near tau^2 = 0 a real step can be below the noise
#: estimate, and the iteration must go on there as metafor's does
STEP_NOISE_REL = 1e-10


def _stops(change, threshold, noise, new):
    """metafor's |change| <= threshold, or a change that is rounding (see :data:`STEP_NOISE`).

    A NaN noise counts as 0 and an infinite one as the largest float (``np.nan_to_num``,
    written out: it is the cost of a whole step for one small problem)."""
    noise = np.minimum(np.maximum(noise, -_MAX), _MAX)
    noise = np.where(np.isnan(noise), 0.0, noise)
    return (change <= threshold) | ((change <= noise) & (change <= STEP_NOISE_REL * np.abs(new)))


def _stops_scalar(change, threshold, noise, new):
    """:func:`_stops` for one problem (Python floats): the same comparisons."""
    if noise != noise:
        noise = 0.0
    elif noise > _MAX:
        noise = _MAX
    elif noise < -_MAX:
        noise = -_MAX
    return change <= threshold or (change <= noise and change <= STEP_NOISE_REL * abs(new))


def _step_noise(a, b, d):
    """Rounding error of a step (a - b) / d (see :data:`STEP_NOISE`)."""
    return STEP_NOISE * _EPS * (np.abs(a) + np.abs(b)) / np.abs(d)


#: an iteration t -> t + adj(t) that contracts by rho = 1 + adj'(t) < 0 at its fixed point
#: oscillates: a rounding error delta per step then keeps it in a cycle whose changes reach
#: |1 - rho| delta / (1 - |rho|) (e_{n+1} = rho e_n + delta_n), so a change of that size is
#: rounding too. Bounded (|rho| >= 1 - 1/AMP_MAX is no contraction to speak of)
AMP_MAX = 64.0


def _contraction_amp(method, a, d, zPz, yPPy, k, p, w_sum, stepadj):
    """max(1, |1 - rho| / (1 - |rho|)) with rho = 1 + stepadj * adj'(t) at the fixed point
    (a = b there): REML and ML adj = (y'PPy - b)/d with (y'PPy)' = -2 y'PPPy and b' = -d (tr P' =
    -tr PP, (sum w)' = -sum w^2); EB adj = (y'Py k/(k-p) - k)/sum w with (y'Py)' = -y'PPy."""
    if method in ("REML", "ML"):
        rho = 1 + stepadj * (d - 2 * zPz) / d
    else:
        rho = 1 - stepadj * yPPy * k / (k - p) / w_sum
    if np.ndim(rho) == 0:  # one problem: the same operations on scalars (rho < 0 excludes NaN)
        if not rho < 0:
            return 1.0
        amp = abs(1 - rho) / max(1 - abs(rho), 1 / AMP_MAX)
        return min(max(amp, 1.0), 2 * AMP_MAX)
    r = np.abs(rho)
    amp = np.abs(1 - rho) / np.maximum(1 - r, 1 / AMP_MAX)
    return np.where(rho < 0, np.minimum(np.maximum(amp, 1.0), 2 * AMP_MAX), 1.0)


def step_noise(y, v, X, tau2, method) -> float:
    """Rounding error of the Fisher-scoring step at ``tau2`` (:data:`STEP_NOISE`; ML/REML/EB).

    What an engine that stops only when |change| <= threshold is up against: a
    threshold below this is met only by luck of rounding.
    """
    y, v = np.asarray(y, float), np.asarray(v, float)
    X = np.ones((len(y), 1)) if X is None else np.asarray(X, float)
    k, p = X.shape
    w = 1 / (v + tau2)
    pr = projection(y[None], w[None], X[None])
    if method == "ML":
        return float(_step_noise(pr.yPPy, w.sum(), (w**2).sum())[0])
    if method == "REML":
        return float(_step_noise(pr.yPPy, w.sum(), pr.trPP)[0])
    return float(_step_noise(pr.yPy * k / (k - p), k, w.sum())[0])


def _reml_loglik(y, v, X, tau2):
    k, p = X.shape[-2], X.shape[-1]
    w = 1 / (v + tau2)
    fit = wls(y, w, X)
    rss = (w * fit.resid**2).sum(-1)
    _, logdet = np.linalg.slogdet(fit.vb)
    logdet = -logdet  # log|X'WX| = -log|(X'WX)^-1|
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

    halved while tau2 + adj < tau2_min; stop when |change| <= threshold, or
    when the change is within the step's own rounding error (:data:`STEP_NOISE`;
    metafor's absolute threshold can be finer than that); more than
    ``maxiter`` iterations is non-convergence (metafor raises an error).
    Then, for ML/REML, metafor's ``ll0check``: if the log-likelihood at 0 beats
    the one at the estimate by more than ``tol`` (and tau2 > threshold), tau2 = 0.
    Batched: each problem stops on its own.
    """
    k, p = X.shape[-2], X.shape[-1]
    shape = y.shape[:-1]
    if FAST_INTERCEPT and is_ones_column(X) and k > 1:
        return _fisher_scoring_intercept(y, np.broadcast_to(v, y.shape), method, tau2_min, threshold, maxiter, stepadj, tol, tau2_init, ll0check)
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
        w_sum = w.sum(-1)
        if method == "ML":
            d = (w**2).sum(-1)
            adj = (pr.yPPy - w_sum) / d
            noise = _step_noise(pr.yPPy, w_sum, d)
        elif method == "REML":
            d = pr.trPP
            adj = (pr.yPPy - pr.trP) / d
            noise = _step_noise(pr.yPPy, w_sum, d)
        else:  # EB
            d = w_sum
            adj = (pr.yPy * k / (k - p) - k) / d
            noise = _step_noise(pr.yPy * k / (k - p), k, d)
        z = w * pr.resid  # P y
        sz = np.sqrt(w) * z
        zPz = (w * z * z).sum(-1) - (np.einsum("bkp,bk->bp", pr.Q, sz) ** 2).sum(-1)  # (Py)'P(Py) = y'PPPy
        one = a.size == 1  # one problem: the tests below on its scalars (the same operations, fewer numpy calls)
        if one:
            noise = noise * _contraction_amp(method, None, d[0], zPz[0], pr.yPPy[0], k, p, w_sum[0], stepadj)
        else:
            noise = noise * _contraction_amp(method, None, d, zPz, pr.yPPy, k, p, w_sum, stepadj)
        adj = adj * stepadj
        adj = np.where(np.isnan(adj), 0.0, adj)
        # a step of -inf cannot be halved above tau2_min (the loop below would
        # never end): NaN, so the problem runs out of iterations (non-convergence)
        adj = np.where(adj == -np.inf, np.nan, adj)
        adj = _halve_to_min(ta, adj, tau2_min)
        new = ta + adj
        if one:
            done = np.array([_stops_scalar(float(abs(ta[0] - new[0])), threshold, float(noise[0]), float(new[0]))])
        else:
            done = _stops(np.abs(ta - new), threshold, noise, new)
        # metafor checks the iteration count after the update, so a problem
        # still moving after maxiter steps has not converged (an error in R).
        over = iters[a] > maxiter
        tau2[a] = new
        converged[a[done & ~over]] = True
        active[a[done | over]] = False
    was_reset = np.zeros(B, bool)
    if ll0check and method in ("ML", "REML"):
        ll = _reml_loglik if method == "REML" else _ml_loglik
        ok = np.nonzero(converged)[0]
        if ok.size:
            ll0 = ll(yf[ok], vf[ok], Xf[ok], np.zeros(ok.size)[:, None])
            llt = ll(yf[ok], vf[ok], Xf[ok], tau2[ok][:, None])
            reset = (ll0 - llt > tol) & (tau2[ok] > threshold)
            tau2[ok[reset]] = 0.0
            was_reset[ok[reset]] = True
    tau2 = np.where(converged, np.maximum(tau2_min, tau2), np.nan)
    w = 1 / (vf + np.where(converged, tau2, 0.0)[:, None])
    if method == "ML":
        se = np.sqrt(2 / (w**2).sum(-1))
    elif method == "REML":
        se = np.sqrt(2 / projection(yf, w, Xf).trPP)
    else:
        se = np.sqrt(2 * k**2 / (k - p)) / w.sum(-1)
    se = np.where(converged, se, np.nan)
    return Tau2Estimate(tau2.reshape(shape), se.reshape(shape), converged.reshape(shape), iters.reshape(shape), was_reset.reshape(shape))


#: at most this many problems halve their steps one by one in Python (:func:`_halve_to_min`)
_HALVE_ONE_BY_ONE = 16


def _halve_to_min(ta, adj, tau2_min):
    """metafor's ``while (tau2 + adj < tau2.min) adj <- adj / 2`` for each problem (``ta``, ``adj``
    of shape (B,)): the steps that overshoot are halved, only where they do.

    A step towards tau2_min = 0 from tau2 = 0 is halved until it underflows to -0 (about 1075
    halvings); a few such problems run that loop on Python floats (one numpy call per halving
    for a batch of one is what made it slow), more of them on the batch's subset. Either way
    each halving is the same division by 2 and the same comparison, so the bits are the same."""
    low = ta + adj < tau2_min
    if not low.any():
        return adj
    li = np.nonzero(low)[0]
    adj = adj.copy()
    if li.size <= _HALVE_ONE_BY_ONE:
        lo = float(tau2_min)
        for i in li.tolist():
            t, step = float(ta[i]), float(adj[i])
            while t + step < lo:
                step = step / 2
            adj[i] = step
        return adj
    al, tl = adj[li], ta[li]
    m = low[li]
    while m.any():
        al = np.where(m, al / 2, al)
        m = tl + al < tau2_min
    adj[li] = al
    return adj


def _fs_step(y, v, t, method, k, noise=False, stepadj=1.0):
    """One Fisher-scoring adjustment for X = 1 (same formulas as :func:`_fisher_scoring`);
    with ``noise``: (adjustment, its rounding error: :data:`STEP_NOISE`, amplified by the
    iteration's oscillation, :func:`_contraction_amp`)."""
    w = 1 / (v + t)
    W, S2, _, r, yPy, yPPy, trP, trPP, *zPz = _intercept_pieces(y, w, noise)  # zPz = [y'PPPy] with noise
    if method == "REML":
        a, b, d = yPPy, trP, trPP
        scale = W
    elif method == "ML":
        a, b, d = yPPy, W, S2
        scale = W
    else:
        a, b, d = yPy * k / (k - 1), k, W
        scale = k
    adj = (a - b) / d
    if not noise:
        return adj
    return adj, _step_noise(a, scale, d) * _contraction_amp(method, a, d, zPz[0], yPPy, k, 1, W, stepadj)


def _io_loglik(y, v, t, method):
    """REML/ML log-likelihood for X = 1 (:math:`\\log|X'WX| = \\log\\sum w`)."""
    k = y.shape[-1]
    vt = v + t
    buf = np.empty((3,) + vt.shape)
    w = np.divide(1, vt, out=buf[0])
    np.multiply(w, y, out=buf[1])
    np.log(vt, out=buf[2])
    W, Swy, slog = np.add.reduce(buf, axis=-1)
    r = y - (Swy / W)[..., None]
    out = -0.5 * slog - 0.5 * rowdot(w * r, r)
    if method == "REML":
        return out - 0.5 * (k - 1) * np.log(2 * np.pi) - 0.5 * np.log(W)
    return out - 0.5 * k * np.log(2 * np.pi)


def _fs_scalar(y, v, method, tau2_min, threshold, maxiter, stepadj, tol, tau2_init, ll0check, se=True):
    """One intercept-only problem (1-d ``y``, ``v``): the steps of
    :func:`_fisher_scoring_intercept` as a scalar loop (``se=False``: NaN
    instead of the SE, for a caller that computes it from its own final fit)."""
    k = y.shape[-1]
    if tau2_init is None:
        t = max(max(0.0, float(_he_raw_intercept(y, v))), tau2_min)
    else:
        t = float(tau2_init)
    it, conv = 0, False
    while True:
        it += 1
        adj, noise = _fs_step(y, v, t, method, k, noise=True, stepadj=stepadj)
        adj, noise = float(adj) * stepadj, float(noise)
        if adj != adj:
            adj = 0.0
        elif adj == -np.inf:  # as in _fisher_scoring: no endless halving
            adj = np.nan
        while t + adj < tau2_min:
            adj = adj / 2
        new = t + adj
        done = _stops_scalar(abs(t - new), threshold, noise, new)
        t = new
        if done or it > maxiter:
            conv = done and not it > maxiter
            break
    if not conv:
        return np.nan, np.nan, False, it, False
    was_reset = False
    if ll0check and method in ("ML", "REML"):
        ll0, llt = _io_loglik(y, v, np.array([[0.0], [t]]), method)  # both rows at once
        if ll0 - llt > tol and t > threshold:
            t, was_reset = 0.0, True
    t = max(tau2_min, t)
    if not se:
        return t, np.nan, True, it, was_reset
    w = 1 / (v + t)
    if method == "ML":
        se = np.sqrt(2 / (w * w).sum())
    elif method == "REML":
        se = np.sqrt(2 / intercept_projection(y, w)[7])
    else:
        se = np.sqrt(2 * k**2 / (k - 1)) / w.sum()
    return t, float(se), True, it, was_reset


def _fisher_scoring_intercept(y, v, method, tau2_min, threshold, maxiter, stepadj, tol, tau2_init, ll0check, se=True):
    """:func:`_fisher_scoring` for intercept-only models in O(k) per iteration
    (:func:`harness.core.wls.intercept_projection`); one problem runs a scalar
    loop, a batch runs the same steps on the problems still iterating."""
    k = y.shape[-1]
    shape = y.shape[:-1]
    if y.ndim == 1:
        t, s, conv, it, rs = _fs_scalar(y, v, method, tau2_min, threshold, maxiter, stepadj, tol, tau2_init, ll0check, se)
        return Tau2Estimate(np.array(t), np.array(s), np.array(conv), np.array(it), np.array(rs))
    yf, vf = y.reshape(-1, k), v.reshape(-1, k)
    B = yf.shape[0]
    if tau2_init is None:
        tau2 = np.maximum(np.maximum(0.0, _he_raw_intercept(yf, vf)), tau2_min)
    else:
        tau2 = np.array(np.broadcast_to(np.asarray(tau2_init, float), shape).reshape(B), dtype=float)
    converged = np.zeros(B, bool)
    iters = np.zeros(B, int)
    # the problems still iterating: their indices and compacted copies of their data
    a, ya, va, ta, it = np.arange(B), yf, vf, tau2.copy(), 0
    while a.size:
        it += 1
        adj, noise = _fs_step(ya, va, ta[:, None], method, k, noise=True, stepadj=stepadj)
        adj = adj * stepadj
        adj = np.where(np.isnan(adj), 0.0, adj)
        adj = np.where(adj == -np.inf, np.nan, adj)  # as in _fisher_scoring
        adj = _halve_to_min(ta, adj, tau2_min)
        new = ta + adj
        done = _stops(np.abs(ta - new), threshold, noise, new)
        tau2[a] = new
        iters[a] = it
        # metafor checks the count after the update: still moving after maxiter
        # steps is non-convergence
        stop = np.ones_like(done) if it > maxiter else done
        converged[a[done & (it <= maxiter)]] = True
        if stop.any():
            keep = ~stop
            a, ya, va, ta = a[keep], ya[keep], va[keep], new[keep]
        else:
            ta = new
    was_reset = np.zeros(B, bool)
    if ll0check and method in ("ML", "REML"):
        ok = np.nonzero(converged)[0]
        if ok.size:
            ll0 = _io_loglik(yf[ok], vf[ok], 0.0, method)
            llt = _io_loglik(yf[ok], vf[ok], tau2[ok][:, None], method)
            reset = (ll0 - llt > tol) & (tau2[ok] > threshold)
            tau2[ok[reset]] = 0.0
            was_reset[ok[reset]] = True
    tau2 = np.where(converged, np.maximum(tau2_min, tau2), np.nan)
    w = 1 / (vf + np.where(converged, tau2, 0.0)[:, None])
    if method == "ML":
        se = np.sqrt(2 / (w * w).sum(-1))
    elif method == "REML":
        se = np.sqrt(2 / intercept_projection(yf, w)[7])
    else:
        se = np.sqrt(2 * k**2 / (k - 1)) / w.sum(-1)
    se = np.where(converged, se, np.nan)
    return Tau2Estimate(tau2.reshape(shape), se.reshape(shape), converged.reshape(shape), iters.reshape(shape), was_reset.reshape(shape))


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


def tau2_sj(y, v, X, tau2_min=0.0, tau2_init=None, **control):
    """Sidik-Jonkman estimator [6]_ (metafor ``"SJ"``), one step from a crude start.

    .. math:: \\tau_0^2 = \\frac1k\\sum (y_i - \\bar y)^2,\\qquad
              \\hat\\tau^2 = \\tau_0^2\\, \\frac{y'P(\\tau_0^2)y}{k-p}

    (the start ignores moderators, as metafor's ``var(ymci) * (k-1)/k``;
    ``tau2_init`` replaces it). SE, with P = P(tau0^2):
    :math:`\\tau_0^2\\sqrt{2\\operatorname{tr}(PVPV) + 4t\\sum_{ij}P_{ij}^2v_j + 2t^2\\sum P\\circ P}/(k-p)`.
    metafor: R/rma.uni.r 3.8-1, ``method == "SJ"`` branch and se.tau2.
    """
    k, p = X.shape[-2], X.shape[-1]
    if tau2_init is None:
        t0 = ((y - y.mean(-1, keepdims=True)) ** 2).sum(-1) / k
    else:
        t0 = np.broadcast_to(np.asarray(tau2_init, float), y.shape[:-1])
    w = 1 / (v + t0[..., None])
    Xb = np.broadcast_to(X, y.shape + (p,))
    pr = projection(y, w, Xb)
    tau2 = _trunc(t0 * pr.yPy / (k - p), tau2_min)
    Q = pr.Q
    t = np.maximum(tau2, 0)
    ones = np.ones_like(w)
    vv = np.broadcast_to(v, w.shape)
    inner = 2 * tr_PAPB(w, Q, vv, vv) + 4 * t * tr_PAPB(w, Q, vv, ones) + 2 * t**2 * pr.trPP
    se = np.sqrt(t0**2 / (k - p) ** 2 * inner)
    return _done(tau2, se)


def tau2_genq(y, v, X, weights=None, tau2_min=0.0, **control):
    """Generalised Q-statistic estimator [7]_ with user weights A (metafor ``"GENQ"``).

    .. math:: P_A = A - AX(X'AX)^{-1}X'A,\\qquad
              \\hat\\tau^2 = \\frac{y'P_Ay - \\operatorname{tr}(P_AV)}{\\operatorname{tr}P_A}

    SE: :math:`\\sqrt{2\\operatorname{tr}(P_AVP_AV) + 4t\\sum_{ij}P_{ij}^2v_j + 2t^2\\sum P_A\\circ P_A}/\\operatorname{tr}P_A`.
    With A = 1/v this is DL; with A = I it is HE.
    """
    if weights is None:
        raise ValueError("method GENQ needs user `weights`")
    k, p = X.shape[-2], X.shape[-1]
    a = np.broadcast_to(np.asarray(weights, float), y.shape)
    Xb = np.broadcast_to(X, y.shape + (p,))
    vv = np.broadcast_to(v, y.shape)
    ones = np.ones_like(a)
    pr = projection(y, a, Xb)
    trP = pr.trP
    trPV = tr_PA(a, pr.Q, vv)
    tau2 = _trunc((pr.yPy - trPV) / trP, tau2_min)
    t = np.maximum(tau2, 0)
    inner = 2 * tr_PAPB(a, pr.Q, vv, vv) + 4 * t * tr_PAPB(a, pr.Q, vv, ones) + 2 * t**2 * pr.trPP
    return _done(tau2, np.sqrt(inner / trP**2))


def _qe(y, v, X, tau2):
    """Q(tau^2) = y'P(tau^2)y for one problem (metafor ``.QE.func``)."""
    return projection(y, 1 / (v + tau2), X).yPy


def r_zeroin(f, a, b, fa, fb, tol, maxiter):
    """R's ``zeroin2`` (src/library/stats/src/zeroin.c, ``R_zeroin2``): Brent's method
    exactly as R steps it, so that a root found with a loose tolerance is the
    same point R finds, not merely another point within the tolerance.

    Brent (1973), Algorithms for Minimization without Derivatives, ch. 4: keep a
    bracket [b, c] with b the best point; try inverse quadratic (or linear)
    interpolation, fall back to bisection; stop when half the bracket is within
    ``2 eps |b| + tol/2`` or f(b) = 0. Returns ``(root, iterations, converged)``;
    like R, the last point with ``converged`` False after ``maxiter`` steps.

    Written out rather than calling scipy.optimize.brentq: brentq is also Brent's
    method but takes different interpolation steps, which matters where metafor's
    tolerance is uniroot's default ``eps^0.25`` (trimfill's final refit in metafor
    >= 4.8-0): both land within the tolerance, at different points.
    """
    eps = np.finfo(float).eps
    c, fc = a, fa
    if fa == 0.0:
        return a, 0, True
    if fb == 0.0:
        return b, 0, True
    n = maxiter + 1
    while n > 0:
        n -= 1
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * eps * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0.0:
            return b, maxiter + 1 - n - 1, True
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:  # two distinct points: linear interpolation
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:  # inverse quadratic interpolation
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b, maxiter, False


def brent_root(f, lower, upper, tol, maxiter):
    """``uniroot(f, c(lower, upper), tol=, maxiter=)``: R's zeroin (:func:`r_zeroin`) on
    a bracket with a sign change. Returns (root, converged); (NaN, False) without a
    sign change (uniroot: "f() values at end points not of opposite sign")."""
    fl, fu = f(lower), f(upper)
    if not (np.isfinite(fl) and np.isfinite(fu)) or np.sign(fl) * np.sign(fu) > 0:
        return np.nan, False
    root, _, ok = r_zeroin(f, float(lower), float(upper), float(fl), float(fu), float(tol), int(maxiter))
    return root, ok


def _paule_mandel(y, v, X, target_fn, tau2_min, tau2_max, tol, maxiter):
    yf, vf, Xf, shape = _flat(y, v, X)
    k, p = Xf.shape[-2], Xf.shape[-1]
    target = target_fn(k - p)
    tmax = default_tau2_max(yf) if tau2_max is None else np.broadcast_to(np.asarray(tau2_max, float), (yf.shape[0],))
    tau2 = np.empty(yf.shape[0])
    conv = np.ones(yf.shape[0], bool)
    iters = np.zeros(yf.shape[0], int)
    for b in range(yf.shape[0]):
        f = lambda t: float(_qe(yf[b], vf[b], Xf[b], t)) - target
        if f(tau2_min) < 0:
            tau2[b] = tau2_min
        elif f(tmax[b]) > 0:
            tau2[b], conv[b] = np.nan, False  # metafor: "Value of 'tau2.max' too low"
        else:
            tau2[b], conv[b] = brent_root(f, tau2_min, tmax[b], tol, maxiter)
    tau2 = np.where(conv, np.maximum(tau2_min, tau2), np.nan)
    w = 1 / (vf + np.where(conv, tau2, 0.0)[:, None])
    se = np.where(conv, np.sqrt(2 * k**2 / (k - p)) / w.sum(-1), np.nan)
    return Tau2Estimate(tau2.reshape(shape), se.reshape(shape), conv.reshape(shape), iters.reshape(shape))


def tau2_pm(y, v, X, tau2_min=0.0, tau2_max=None, tol=DEFAULT_CONTROL["tol"], maxiter=100, **control):
    """Paule-Mandel estimator [8]_ (metafor ``"PM"``/``"MP"``): the root of

    .. math:: y'P(\\tau^2)y = k - p

    on [tau2_min, tau2_max] (metafor's ``uniroot`` bracket, default
    ``max(100, 10 mad(y)^2)``), by Brent's method with R's tolerance rule
    (:func:`brent_root`). tau2_min when Q(tau2_min) < k - p already; no root
    below tau2_max is non-convergence (metafor: "Value of 'tau2.max' too low").
    SE (metafor's, as for EB): :math:`\\sqrt{2k^2/(k-p)}/\\sum w`.
    Not vectorised over problems: one root search per problem.
    """
    return _paule_mandel(y, v, X, lambda df: float(df), tau2_min, tau2_max, tol, maxiter)


def tau2_pmm(y, v, X, tau2_min=0.0, tau2_max=None, tol=DEFAULT_CONTROL["tol"], maxiter=100, **control):
    """Median-unbiased Paule-Mandel (metafor ``"PMM"``): as :func:`tau2_pm` with
    target :math:`\\chi^2_{0.5,\\,k-p}` (the median of the chi-square) instead of k - p."""
    return _paule_mandel(y, v, X, lambda df: float(stats.chi2.ppf(0.5, df)), tau2_min, tau2_max, tol, maxiter)


#: method name -> estimator. Issue-specific estimators register here.
ESTIMATORS = {
    "FE": tau2_fe,
    "EE": tau2_fe,
    "CE": tau2_fe,
    "DL": tau2_dl,
    "HE": tau2_he,
    # metafor >= 5.0-1: "CO" (Cochran) and "VC" (variance component) are other
    # names of the Hedges estimator (R/rma.uni.r 5.0-1, the HE branch)
    "CO": tau2_he,
    "VC": tau2_he,
    "HS": tau2_hs,
    "HSk": lambda y, v, X, **kw: tau2_hs(y, v, X, small_k=True, **kw),
    "ML": tau2_ml,
    "REML": tau2_reml,
    "EB": tau2_eb,
    "SJ": tau2_sj,
    "PM": tau2_pm,
    "MP": tau2_pm,
    "PMM": tau2_pmm,
    "GENQ": tau2_genq,
}


def se_tau2_fixed(method, v, X, tau2):
    """SE of tau^2 at a value the user fixed (metafor ``rma(..., tau2 = )`` still reports
    one): the information-based SE of ML, REML and EB evaluated there,

    :math:`\\sqrt{2/\\sum w_i^2}` (ML), :math:`\\sqrt{2/\\operatorname{tr}(PP)}` (REML),
    :math:`\\sqrt{2k^2/(k-p)}/\\sum w_i` (EB), :math:`w_i = 1/(v_i + \\tau^2)`
    (the same formulas as :func:`tau2_ml`, :func:`tau2_reml`, :func:`tau2_eb`).
    NaN for the other methods (metafor evaluates their own formulas; not reproduced)."""
    v = np.asarray(v, float)
    X = np.asarray(X, float)
    k, p = X.shape
    w = 1 / (v + tau2)
    if method == "ML":
        return float(np.sqrt(2 / np.sum(w**2)))
    if method == "REML":
        return float(np.sqrt(2 / projection(np.zeros(k), w, X).trPP))
    if method == "EB":
        return float(np.sqrt(2 * k**2 / (k - p)) / np.sum(w))
    return float("nan")
