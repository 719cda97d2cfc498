"""Classes of differences found by `metaharness fuzz`, each fixed or explained, with its evidence.

Every reference value here is computed independently: metafor run for real, or the
quantity evaluated in exact rational arithmetic (``fractions.Fraction``) on the
same double-precision inputs.
"""
from fractions import Fraction

import numpy as np
import pytest

import harness
from harness.core import tau2 as T


def _reml_step_exact(y, v, t):
    """REML Fisher-scoring step (y'PPy - tr P) / tr PP for X = 1, exactly, at tau^2 = t."""
    t = Fraction(t)
    w = [1 / (Fraction(vi) + t) for vi in v]
    W = sum(w)
    ybar = sum(wi * Fraction(yi) for wi, yi in zip(w, y)) / W
    py = [wi * (Fraction(yi) - ybar) for wi, yi in zip(w, y)]  # P y
    yPPy = sum(x * x for x in py)
    k = len(w)
    # P = W - w w'/W; tr P = W - sum w^2/W; tr PP = sum w^2 - 2 sum w^3/W + (sum w^2/W)^2
    S2, S3 = sum(x * x for x in w), sum(x ** 3 for x in w)
    trP = W - S2 / W
    trPP = S2 - 2 * S3 / W + (S2 / W) ** 2
    assert k == len(y)
    return (yPPy - trP) / trPP


# fuzz campaign seed 1, dataset 36, shrunk to its 2 studies (model REML): Python did not
# converge in 1,001 iterations at threshold 1e-12, metafor 3.8-1 returned tau^2 = 345.53
Y2 = np.array([-2.3884753673161088, -80.576458888414422])
V2 = np.array([163.32841176142284, 5258.9798616964599])


def test_reml_two_studies_converges_at_the_resolution_of_its_step(r_engine):
    fit = harness.rma(Y2, V2, method="REML")
    assert fit.converged
    # exact arithmetic: Python's tau^2 is the REML fixed point to 1e-13 relative (the exact step there is 5e-12)
    step = _reml_step_exact(Y2, V2, fit.tau2)
    assert abs(float(step)) <= 1e-13 * fit.tau2
    # while the double-precision step there is rounding noise several times the 1e-12 threshold:
    # around the fixed point it flips sign from one neighbouring double to the next
    ts = [fit.tau2 + j * np.spacing(fit.tau2) for j in range(-40, 41)]
    steps = np.array([float(T._fs_step(Y2, V2, t, "REML", 2)) for t in ts])
    exact = np.array([float(_reml_step_exact(Y2, V2, t)) for t in ts])
    assert np.max(np.abs(steps - exact)) > 1e-12  # the threshold is finer than the step's rounding error
    _, noise = T._fs_step(Y2, V2, fit.tau2, "REML", 2, noise=True)
    assert np.max(np.abs(steps - exact)) <= noise  # ... and within the noise bound Python stops at
    r = r_engine.call("mh_rma", data={"yi": Y2, "vi": V2}, mods=[], factors={}, measure="GEN", vtype="LS", method="REML", test="z",
                      level=95.0, intercept=True, threshold=1e-12, maxiter=1000, tol=None, weights=None, extras=[], newmods=None,
                      newmods_ncol=1, confint_tol=1e-12)
    assert r.error is None
    assert abs(r.value["tau2"][0] - fit.tau2) <= 1e-13 * fit.tau2  # metafor's value, which it reached by luck of rounding
