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


#: what the fuzz campaign (and the rma kind's defaults) pass to both engines
CTRL = {"threshold": 1e-12, "maxiter": 1000}


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
    fit = harness.rma(Y2, V2, method="REML", control=CTRL)
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


def _solve(A, b):
    """Exact Gaussian elimination on Fractions."""
    n = len(b)
    M = [list(row) + [bb] for row, bb in zip(A, b)]
    for c in range(n):
        piv = next(r for r in range(c, n) if M[r][c] != 0)
        M[c], M[piv] = M[piv], M[c]
        for r in range(n):
            if r != c and M[r][c] != 0:
                f = M[r][c] / M[c][c]
                M[r] = [x - f * y for x, y in zip(M[r], M[c])]
    return [M[i][n] / M[i][i] for i in range(n)]


def _qe_exact(y, v, X):
    """QE = min_b sum w (y - Xb)^2 with w = 1/v, exactly."""
    y = [Fraction(x) for x in y]
    w = [1 / Fraction(x) for x in v]
    X = [[Fraction(x) for x in row] for row in X]
    p = len(X[0])
    A = [[sum(w[i] * X[i][a] * X[i][b] for i in range(len(y))) for b in range(p)] for a in range(p)]
    rhs = [sum(w[i] * X[i][a] * y[i] for i in range(len(y))) for a in range(p)]
    beta = _solve(A, rhs)
    return sum(w[i] * (y[i] - sum(X[i][a] * beta[a] for a in range(p))) ** 2 for i in range(len(y)))


def _rma_r(r_engine, y, v, method, mods=None):
    data = {"yi": y, "vi": v}
    names = []
    if mods is not None:
        for j, col in enumerate(np.atleast_2d(mods.T)):
            data[f"x{j + 1}"] = col
            names.append(f"x{j + 1}")
    r = r_engine.call("mh_rma", data=data, mods={n: data[n] for n in names}, factors={}, measure="GEN", vtype="LS", method=method,
                      test="z", level=95.0, intercept=True, threshold=1e-12, maxiter=1000, tol=None, weights=None, extras=[],
                      newmods=None, newmods_ncol=1, confint_tol=1e-12)
    assert r.error is None, r.error
    return r


# fuzz seed 1, dataset 20, model REML-mods, shrunk to 3 studies (x2 is constant there and dropped
# by both engines as redundant): variances 0.0018 to 12,169 (vi_ratio 6.8e6)
Y3 = np.array([-0.78682127979362215, 25.006210866207454, 19.202618633305949])
V3 = np.array([0.0017777834889161465, 12169.104458698515, 1777.7834889161466])
X3 = np.array([1.3462002068109775, 0.044626775305668338, 0.86958753040907177])


def test_qe_with_variances_far_apart_python_is_exact_metafor_within_the_bound(r_engine):
    from harness.compare.explained import EPS, load

    exact = float(_qe_exact(Y3, V3, np.column_stack([np.ones(3), X3])))
    py = harness.rma(Y3, V3, mods=X3[:, None], method="REML", control=CTRL).QE
    r = _rma_r(r_engine, Y3, V3, "REML", X3[:, None]).value["QE"][0]
    ratio = V3.max() / V3.min()
    assert abs(py - exact) <= 1e-13 * exact  # Python: exact to the last digits
    assert abs(r - exact) > 1e-6 * exact  # metafor's explicit P: off in the 4th significant digit here
    entry = next(e for e in load() if e.id == "explicit-p-variance-spread")
    bound = entry.rel_limit({"explicit_p_scale": 3 * ratio**2})
    assert bound == pytest.approx(3 * EPS * ratio**2)
    assert abs(r - py) / abs(r) <= bound  # ... and within the entry's bound, which is not loose by orders
    assert abs(r - py) / abs(r) >= bound / 1e3


# fuzz seed 1, dataset 3, model DL, shrunk to 2 studies: vi 1.96 and 1.8e-6 (vi_ratio 1.1e6)
Y2B = np.array([-225.2387261434443, -1011.1407347818111])
V2B = np.array([1.9575413942107285, 1.811587166729516e-06])


def test_dl_se_tau2_with_variances_far_apart(r_engine):
    """metafor's se.tau2 for DL: sqrt((2(k-p) + 4 tau2 trP + 2 tau2^2 sum(P*P)) / trP^2), w = 1/v.

    Here metafor was right: Python's tr P^2 = S2 - 2 S3/W + (S2/W)^2 cancelled (4e-5 relative,
    se_tau2 436720.87); tr P and tr P^2 are now sums of positive terms (wls.intercept_projection)."""
    w = [1 / Fraction(x) for x in V2B]
    y = [Fraction(x) for x in Y2B]
    W, S2 = sum(w), sum(x * x for x in w)
    P = [[(w[i] if i == j else 0) - w[i] * w[j] / W for j in range(2)] for i in range(2)]
    trP = W - S2 / W
    rss = sum(y[i] * P[i][j] * y[j] for i in range(2) for j in range(2))
    t2 = max(Fraction(0), (rss - 1) / trP)
    sPP = sum(P[i][j] ** 2 for i in range(2) for j in range(2))
    se2_exact = (2 + 4 * t2 * trP + 2 * t2**2 * sPP) / trP**2
    py = harness.rma(Y2B, V2B, method="DL", control=CTRL).se_tau2
    r = _rma_r(r_engine, Y2B, V2B, "DL").value["se_tau2"][0]
    exact = float(se2_exact) ** 0.5
    assert abs(py - exact) <= 1e-12 * exact
    assert abs(r - exact) <= 1e-10 * exact  # metafor's explicit P is accurate enough here
    assert abs(r - py) <= 1e-10 * r  # so they agree within the closed-form tolerance


# fuzz seed 1, dataset 25, model REML-mods, shrunk to 4 studies: Python R2 = 0, metafor 89.96
Y4 = np.array([3.2019138927263313, -2.0162085752287533, 13.839842191266047, 32.638981128389162])
V4 = np.array([60.05611916915403, 78.973465123617558, 74.755693656993273, 411.2328319426349])
X4 = np.array([-0.54904844589982138, -0.40542852002162566, -2.6931818137097041, 0.64656952416678448])


def test_r2_of_two_zero_tau2s_is_rounding(r_engine):
    """Both tau^2 are 0: the REML score at 0 is negative for the intercept-only and the moderator model
    (exact arithmetic); both engines stop within the threshold of 0, and R^2 is a ratio of the residues."""
    # REML score at tau^2 = 0 for X = 1, exactly: y'PPy - tr P < 0 -> the maximum is at the boundary 0
    assert _reml_step_exact(Y4, V4, 0.0) < 0
    full = harness.rma(Y4, V4, mods=X4[:, None], method="REML", control=CTRL)
    re = harness.rma(Y4, V4, method="REML", control=CTRL)
    r = _rma_r(r_engine, Y4, V4, "REML", X4[:, None]).value
    for t in (full.tau2, re.tau2, r["tau2"][0]):
        assert 0 <= t <= 1e-12
    from harness.compare.explained import find

    # the context a kind gives the registry carries the metafor release compared with (version_context)
    ctx = {"kind": "rma", "tau2_re_over_threshold": re.tau2 / 1e-12, "tau2_over_threshold": full.tau2 / 1e-12,
           "metafor": r_engine.versions()["metafor"]}
    diff = abs(full.R2 - r["R2"][0])
    assert diff > 1  # the numbers differ grossly ...
    assert find("R2", ctx, diff, diff / max(r["R2"][0], 1e-300)).id == "r2-of-zero-tau2"  # ... and the entry covers exactly this
    assert find("R2", {**ctx, "tau2_re_over_threshold": 2.0}, diff, 1.0) is None  # not when tau^2_RE is a real estimate
