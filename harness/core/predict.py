"""Predicted values with confidence and prediction intervals (metafor ``predict.rma``).

For a row :math:`x` of new moderator values (the intercept included),

.. math::
    \\hat\\mu = x'\\hat\\beta,\\qquad SE = \\sqrt{x'\\,V_\\beta\\,x},\\qquad
    CI = \\hat\\mu \\pm c\\,SE,\\qquad PI = \\hat\\mu \\pm c\\sqrt{SE^2 + \\hat\\tau^2 + v_{new}}

where :math:`V_\\beta` is the model's ``vb`` (already scaled by :math:`s^2`
under Knapp-Hartung) and the critical value :math:`c` is the model's:
:math:`z_{1-\\alpha/2}` under ``test="z"`` and :math:`t_{1-\\alpha/2,\\,k-p}`
under ``"t"``, ``"knha"`` and ``"adhoc"`` -- the same value for the CI and
the PI (metafor's default ``pi.type``; the Higgins-Thompson-Spiegelhalter
:math:`t_{k-2}` interval is metafor's ``pi.type="riley"``, not done here).
FE models have :math:`\\hat\\tau^2 = 0`, so PI = CI.

Reference: metafor 3.8-1 R/predict.rma.r (lines 264-330, 394-399).
"""
from __future__ import annotations

import numpy as np

from . import distributions as stats  # scipy.stats' functions, without importing scipy.stats


def critical_value(test, alpha, ddf):
    """metafor's crit: qnorm(1 - alpha/2) for z, qt(1 - alpha/2, ddf) otherwise (NaN for ddf <= 0)."""
    if test == "z":
        return stats.norm.isf(alpha / 2)
    ddf = np.asarray(ddf, float)
    with np.errstate(invalid="ignore"):
        return np.where(ddf > 0, stats.t.isf(alpha / 2, np.where(ddf > 0, ddf, 1.0)), np.nan)


def predict_arrays(beta, vb, tau2, Xnew, test="z", alpha=0.05, ddf=None, newvi=0.0):
    """Predictions for stacked models.

    Parameters
    ----------
    beta : (..., p); vb : (..., p, p); tau2 : (...,)
    Xnew : (m, p) rows of the model matrix to predict at (intercept column included)
    test : the model's test; ddf : its k - p (used for t-based tests)

    Returns
    -------
    dict of (..., m) arrays: ``pred, se, ci_lb, ci_ub, pi_lb, pi_ub``.
    """
    beta = np.asarray(beta, float)
    vb = np.asarray(vb, float)
    Xnew = np.atleast_2d(np.asarray(Xnew, float))
    pred = np.einsum("mp,...p->...m", Xnew, beta)
    vpred = np.einsum("mp,...pq,mq->...m", Xnew, vb, Xnew)
    vpred = np.where(vpred < 0, np.nan, vpred)
    se = np.sqrt(vpred)
    crit = critical_value(test, alpha, np.nan if ddf is None else ddf)
    crit = np.asarray(crit)[..., None] if np.ndim(crit) else crit
    t2 = np.asarray(tau2, float)[..., None]
    spi = np.sqrt(vpred + t2 + newvi)
    return {"pred": pred, "se": se, "ci_lb": pred - crit * se, "ci_ub": pred + crit * se, "pi_lb": pred - crit * spi, "pi_ub": pred + crit * spi}
