"""Property-based tests of the Python core (hypothesis; deterministic profile in conftest.py).

Each property is a fact about the model, not about metafor's code: it must
hold for any data, so hypothesis searches for data where it does not.
"""
import math

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

import harness

METHODS = ["FE", "DL", "HE", "HS", "ML", "REML", "EB", "PM", "SJ"]
CTRL = {"threshold": 1e-12, "maxiter": 1000}


@st.composite
def meta_data(draw, min_k=2, max_k=25):
    """Effect sizes on a moderate scale and variances within four orders of magnitude."""
    k = draw(st.integers(min_k, max_k))
    yi = np.array(draw(st.lists(st.floats(-5, 5, allow_nan=False, allow_subnormal=False), min_size=k, max_size=k)))
    vi = np.array(draw(st.lists(st.floats(1e-3, 10, allow_nan=False), min_size=k, max_size=k)))
    return yi, vi


def fit(yi, vi, method, **kw):
    r = harness.rma(yi, vi, method=method, control=CTRL, **kw)
    assume(r.converged)
    return r


def close(a, b, rtol=1e-7, atol=1e-9):
    return math.isclose(a, b, rel_tol=rtol, abs_tol=atol)


@given(meta_data(), st.sampled_from(METHODS), st.randoms(use_true_random=False))
def test_invariant_to_study_order(data, method, rnd):
    yi, vi = data
    perm = list(range(len(yi)))
    rnd.shuffle(perm)
    a, b = fit(yi, vi, method), fit(yi[perm], vi[perm], method)
    for q in ("beta", "se", "tau2", "QE", "I2"):
        x, y = (np.atleast_1d(getattr(a, q))[0], np.atleast_1d(getattr(b, q))[0])
        assert close(x, y), (q, x, y)
    np.testing.assert_allclose(a.weights[perm], b.weights, rtol=1e-7, atol=1e-9)


@given(meta_data(), st.sampled_from(METHODS), st.floats(-100, 100, allow_nan=False))
def test_shifting_every_effect_shifts_the_estimate_only(data, method, c):
    yi, vi = data
    a, b = fit(yi, vi, method), fit(yi + c, vi, method)
    assert close(b.beta[0], a.beta[0] + c, atol=1e-7 * (1 + abs(c)))
    for q in ("se", "tau2", "QE", "I2"):
        x, y = np.atleast_1d(getattr(a, q))[0], np.atleast_1d(getattr(b, q))[0]
        assert close(x, y, rtol=1e-6, atol=1e-8 * (1 + abs(c))), (q, x, y)


@given(meta_data(), st.sampled_from(["FE", "DL", "REML", "ML"]), st.floats(0.1, 10))
def test_scaling_effects_scales_beta_and_tau2(data, method, s):
    yi, vi = data
    a, b = fit(yi, vi, method), fit(s * yi, s**2 * vi, method)
    assert close(b.beta[0], s * a.beta[0], atol=1e-8 * s)
    assert close(b.tau2, s**2 * a.tau2, rtol=1e-6, atol=1e-8 * s**2)
    assert close(b.QE, a.QE, rtol=1e-8, atol=1e-10)


@given(meta_data(min_k=2), st.sampled_from(["FE", "REML", "ML"]), st.floats(-5, 5))
def test_a_study_with_near_infinite_variance_changes_nothing(data, method, y_extra):
    """For FE and the likelihood estimators. (Moment estimators such as DL, PM, HE or EB count
    studies: Q gains nothing but its df gain 1, so their tau^2 moves by design.)

    The study adds a constant to the (restricted) log-likelihood, so the fit without it is a
    stationary point of the fit with it; Fisher scoring started there stays there. From
    metafor's default start (which does depend on the added study) the iteration may end
    elsewhere where the likelihood is flat or has several maxima: ML on yi = (0, 0, 0, 0, 0, 4,
    0), vi = (1, 1, 1, 1, 1, 1, 0.03125) gives tau^2 = 0.79, and with the study added tau^2 = 0
    from the default start, in metafor 3.8-1 as here."""
    yi, vi = data
    a = fit(yi, vi, method)
    start = {} if method == "FE" else {"tau2_init": float(a.tau2)}
    b = harness.rma(np.append(yi, y_extra), np.append(vi, 1e15), method=method, control={**CTRL, **start})
    assume(b.converged)
    assert close(b.beta[0], a.beta[0], rtol=1e-6, atol=1e-8)
    assert close(b.se[0], a.se[0], rtol=1e-6, atol=1e-8)
    assert close(b.tau2, a.tau2, rtol=1e-5, atol=1e-8)
    assert b.weights[-1] < 1e-9


@given(meta_data(), st.sampled_from(["z", "t", "knha"]))
def test_fe_equals_re_when_tau2_is_zero(data, test):
    yi, vi = data
    fe = harness.rma(yi, vi, method="FE", test=test)
    re = harness.rma(yi, vi, method="REML", tau2=0.0, test=test)
    for q in ("beta", "se", "ci_lb", "ci_ub", "pval"):
        assert close(getattr(re, q)[0], getattr(fe, q)[0], rtol=1e-12, atol=1e-14), q
    # and an estimator that truncates at 0 gives exactly the FE fit
    dl = harness.rma(yi, vi, method="DL")
    if dl.tau2 == 0:
        assert close(dl.beta[0], fe.beta[0], rtol=1e-13, atol=1e-15)


@given(st.integers(2, 30), st.floats(-5, 5), st.sampled_from(METHODS))
def test_identical_effects_are_homogeneous(k, y, method):
    vi = np.linspace(0.01, 1, k)
    r = fit(np.full(k, y), vi, method)
    assert close(r.beta[0], y, atol=1e-12)
    assert r.QE < 1e-20 and r.tau2 < 1e-10


@given(meta_data(), st.sampled_from(METHODS))
def test_estimate_within_range_and_ci_contains_it(data, method):
    yi, vi = data
    r = fit(yi, vi, method)
    assert yi.min() - 1e-9 <= r.beta[0] <= yi.max() + 1e-9  # a weighted mean with positive weights
    assert r.ci_lb[0] <= r.beta[0] <= r.ci_ub[0]
    assert r.tau2 >= 0 and 0 <= r.I2 <= 100
    assert r.H2 >= (0 if method == "FE" else 1 - 1e-12)  # FE: H2 = QE/(k-1), which may be below 1
    assert close(r.weights.sum(), 100.0, rtol=1e-12)


@given(meta_data(min_k=3))
def test_moment_estimator_is_the_fe_fit_plus_tau2(data):
    """DL's tau^2 solves Q = (k-1) + tau^2 (sum w - sum w^2/sum w) when positive (DerSimonian & Laird 1986)."""
    yi, vi = data
    r = fit(yi, vi, "DL")
    w = 1 / vi
    c = w.sum() - (w**2).sum() / w.sum()
    assume(r.tau2 > 0)
    assert close(r.QE, (len(yi) - 1) + r.tau2 * c, rtol=1e-10)
