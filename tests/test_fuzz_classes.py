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


def _p_exact(v, X, t=0):
    """P = W - WX(X'WX)^-1X'W with w = 1/(v + t), exactly (Fractions), as a list of rows."""
    w = [1 / (Fraction(x) + Fraction(t)) for x in v]
    X = [[Fraction(a) for a in row] for row in X]
    k, p = len(w), len(X[0])
    A = [[sum(w[i] * X[i][a] * X[i][b] for i in range(k)) for b in range(p)] for a in range(p)]
    M = [_solve(A, [Fraction(int(a == b)) for a in range(p)]) for b in range(p)]  # columns of A^-1
    H = [[sum(X[i][a] * M[b][a] * X[j][b] for a in range(p) for b in range(p)) for j in range(k)] for i in range(k)]
    return [[(w[i] if i == j else 0) - w[i] * H[i][j] * w[j] for j in range(k)] for i in range(k)]


# fuzz seed 1, dataset 178, model REML-mods (k = 4, p = 3, tau^2 = 0 in both engines): variances
# 0.24 to 6,117 (vi_ratio 2.6e4, below the 1e5 the explicit-P entries first asked for)
Y178 = np.array([-448.22336099484534, 604.0633969246381, -716.9745361462635, 741.2196623405667])
V178 = np.array([0.39682351449828673, 6116.580524381301, 280.81338763612536, 0.2394696520432095])
X178 = np.array([[2.476247609441168, 1.1576360008984672], [0.013834806110879018, -0.3022516681000459],
                 [-1.5506931243085846, 0.8419626144785257], [0.4382151856115917, -0.4714049939713873]])


def test_general_path_se_tau2_with_a_dominant_weight_is_exact(r_engine):
    """REML se.tau2 = sqrt(2 / sum(P*P)). metafor was right here (1.3e-10 from exact): Python's
    expanded tr P^2 = sum w^2 - 2 sum w^2 h + ||Q'WQ||^2 cancelled to 2e-8 relative; tr P^2 is now
    a sum of squares (wls.projection)."""
    Xd = np.column_stack([np.ones(4), X178])
    fit = harness.rma(Y178, V178, mods=X178, method="REML", control=CTRL)
    assert fit.tau2 == 0.0
    P = _p_exact(V178, Xd)
    exact = float(2 / sum(x * x for row in P for x in row)) ** 0.5  # 4878.951203905984
    assert abs(fit.se_tau2 - exact) <= 1e-12 * exact
    r = _rma_r(r_engine, Y178, V178, "REML", X178).value
    assert r["tau2"][0] <= 1e-12
    assert abs(r["se_tau2"][0] - exact) <= 1e-9 * exact  # metafor's explicit P: 1.3e-10 here
    assert abs(r["se_tau2"][0] - fit.se_tau2) <= 1e-8 * r["se_tau2"][0]  # within the iterative tolerance


def test_qe_with_a_dominant_weight_metafor_within_the_explicit_p_bound(r_engine):
    """QE on the same data: Python exact to 1e-14, metafor 6.7e-8 off -- at vi_ratio 2.6e4, inside
    the entry's bound k eps vi_ratio^2 (5.8e-7): the entry's gate now starts at 1e3."""
    from harness.compare.explained import find

    Xd = np.column_stack([np.ones(4), X178])
    exact = float(_qe_exact(Y178, V178, Xd))
    py = harness.rma(Y178, V178, mods=X178, method="REML", control=CTRL).QE
    r = _rma_r(r_engine, Y178, V178, "REML", X178).value["QE"][0]
    assert abs(py - exact) <= 1e-14 * exact
    assert abs(r - exact) > 1e-8 * exact
    ratio = V178.max() / V178.min()
    ctx = {"kind": "rma", "vi_ratio": ratio, "explicit_p_scale": 4 * ratio**2, "metafor": r_engine.versions()["metafor"]}
    rel = abs(r - py) / abs(r)
    assert find("QE", ctx, abs(r - py), rel, rel_sym=rel).id == "explicit-p-variance-spread"
    assert find("QE", {**ctx, "vi_ratio": 999.0}, abs(r - py), rel, rel_sym=rel) is None  # below the gate: not explained
    assert find("QE", ctx, 1e3 * abs(r - py), 1e3 * rel, rel_sym=1e3 * rel) is None  # nor a difference beyond the bound


def test_intercept_only_reml_se_tau2_with_a_dominant_weight_is_exact():
    """RR of the tables 610,0,5168,0 and 8,307,1,33 (metafor's 1/2 added to the first table's cells):
    vi 1.4e-6 and 1.09, REML tau^2 = 0. Exact se.tau2 = sqrt(2 / sum(P*P)) = 0.7724540481910477
    (metafor 3.8-1: 0.7724540482); the closed form S2 - 2 S3/W + (S2/W)^2 gave 0.7724521124."""
    es = harness.escalc("RR", ai=[610, 8], bi=[0, 307], ci=[5168, 1], di=[0, 33])
    fit = harness.rma(es.yi, es.vi, method="REML", control=CTRL)
    assert fit.tau2 == 0.0
    P = _p_exact(es.vi, [[1.0], [1.0]])
    exact = float(2 / sum(x * x for row in P for x in row)) ** 0.5
    assert exact == pytest.approx(0.7724540481910477, rel=1e-15)
    assert abs(fit.se_tau2 - exact) <= 1e-13 * exact


# fuzz seed 1, dataset 120, model REML-mods (k = 9, binary moderators): Python R^2 = 100, metafor NA
Y120 = np.array([-18546.29777822004, -37.03402583150081, 9301.44874541482, -9.64806147144464, -16.153168217689434,
                 -31.064518514590016, -9.1062050038699, -6820.802025792241, 38134.380354570094])
V120 = np.array([897957488.8259267, 6174.237601826748, 38872245.629117884, 7794.390102013154, 86.40393274623108,
                 134.111038428304, 13.429870469904582, 40047708.495634675, 247269383.3179455])
X120 = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])


def test_r2_undefined_in_metafor_when_its_refit_cannot_meet_the_threshold(r_engine):
    """metafor's R^2 refits the intercept-only model in try() and returns NA when the refit fails.
    Here that refit stops at maxiter ("Fisher scoring did not converge"): its step's rounding error
    exceeds the 1e-12 threshold. Python's refit is the REML fixed point (exact arithmetic), and with a
    threshold its steps can meet (1e-8) metafor's refit converges to it and R^2 is Python's."""
    from harness.analyses.rma import RmaKind
    from harness.compare.compare import Record
    from harness.fuzz import dataset, resolve
    from harness.fuzz.batch import make_spec

    re = harness.rma(Y120, V120, method="REML", control=CTRL)
    full = harness.rma(Y120, V120, mods=X120, method="REML", control=CTRL)
    assert re.converged and abs(float(_reml_step_exact(Y120, V120, re.tau2))) <= 1e-13 * re.tau2
    r_re = _rma_r_err(r_engine, Y120, V120, 1e-12)
    assert r_re.error is not None and "did not converge" in r_re.error
    r = _rma_r(r_engine, Y120, V120, "REML", X120).value
    assert np.isnan(r["R2"][0]) and not np.isnan(full.R2)
    loose = _rma_r_err(r_engine, Y120, V120, 1e-8)
    assert loose.error is None and abs(loose.value["tau2"][0] - re.tau2) <= 1e-10 * re.tau2
    loose_full = _rma_r_err(r_engine, Y120, V120, 1e-8, X120)
    assert abs(loose_full.value["R2"][0] - full.R2) <= 1e-8 * full.R2  # metafor's R^2 once its refit converges
    # the kind explains exactly this record (the campaign's dataset, its REML-mods spec)
    ds = dataset(1, 120, "uni")
    assert np.array_equal(np.asarray(ds.columns["yi"], float), Y120)
    model = next(m for m in resolve(None) if m.name == "REML-mods")
    spec = make_spec(ds, model, "fuzz-s1-d120-uni")
    kind = RmaKind()
    why = kind.explain(spec, Record("R2", full.R2, float("nan"), None, None, None, "differ"))
    assert why is not None and why.startswith("r2-refit-threshold-below-rounding")
    # the case is R^2 undefined in R only (a number in R is for the size-bounded entries: here, with
    # vi_ratio 6.7e7, explicit-p-variance-spread's bound exceeds 1 and covers it)
    assert kind._explain_r2_undefined_in_r(spec, Record("R2", full.R2, 50.0, abs(full.R2 - 50.0), 1.0, None, "differ")) is None
    assert kind._explain_r2_undefined_in_r(spec, Record("R2", float("nan"), float("nan"), None, None, None, "differ")) is None
    from harness.compare.explained import find

    ctx = {"kind": "rma", "method": "REML", "case": "r2-undefined-in-r", "metafor": r_engine.versions()["metafor"]}
    assert find("R2", {**ctx, "re_step_noise_over_threshold": 2.0}).id == "r2-refit-threshold-below-rounding"
    assert find("R2", {**ctx, "re_step_noise_over_threshold": 0.5}) is None  # a refit that can converge: not explained


def _rma_r_err(r_engine, y, v, threshold, mods=None):
    data = {"yi": y, "vi": v}
    if mods is not None:
        data.update({f"x{j + 1}": col for j, col in enumerate(mods.T)})
    return r_engine.call("mh_rma", data=data, mods={n: data[n] for n in data if n.startswith("x")}, factors={}, measure="GEN",
                         vtype="LS", method="REML", test="z", level=95.0, intercept=True, threshold=threshold, maxiter=1000, tol=None,
                         weights=None, extras=[], newmods=None, newmods_ncol=1, confint_tol=1e-12)


def test_reml_that_oscillates_at_its_rounding_converges(r_engine):
    """fuzz seed 1, dataset 744 (k = 45, vi 6.8e-5 .. 624), model REML: metafor converged
    (tau^2 = 0.0492046795123847), Python ran out of its 1,000 iterations. Fisher scoring contracts
    by rho ~ -0.85 there: on the centred y both engines iterate on, each step's rounding (~5e-13) keeps
    the double-precision iteration in a cycle whose changes (~5e-12) never meet the 1e-12 threshold.
    Python now counts a change within |1 - rho| / (1 - |rho|) times the step noise as rounding."""
    from harness.fuzz import dataset

    ds = dataset(1, 744, "uni")
    y, v = np.asarray(ds.columns["yi"], float), np.asarray(ds.columns["vi"], float)
    assert (y[0], v[0], len(y)) == (3.1952620824471936, 326.8274755221674, 45)
    fit = harness.rma(y, v, method="REML", control=CTRL)
    assert fit.converged
    exact_step = float(_reml_step_exact(y, v, fit.tau2))  # the fixed point is tau^2 + step, to first order
    assert abs(exact_step) <= 1e-10 * fit.tau2
    r = _rma_r_err(r_engine, y, v, 1e-12)
    assert r.error is None and abs(r.value["tau2"][0] - fit.tau2) <= 1e-10 * fit.tau2
    # without the amplification: the plain double-precision steps on the centred y cycle above the threshold
    yc = y - y.mean()
    t = fit.tau2
    changes = []
    for _ in range(200):
        adj = float(T._fs_step(yc, v, t, "REML", len(y)))
        changes.append(abs(adj))
        t += adj
    assert min(changes[100:]) > 1e-12
    assert max(changes[100:]) <= 2e-10 * fit.tau2  # ... at the resolution the iteration has (far inside 1e-8)


def test_robu_corr_terms_with_one_dominant_study(r_engine):
    """fuzz seed 1, dataset 855, robu-CORR (intercept only): study 1 one effect (vi 2.3), study 2 three
    (vi ~1e7); study weights s_j = 1/vbar_j 3.9e6 apart. Exactly: term2 = termB/denom with
    termB = sum_j w_j (k_j - 1) / S, denom = S - sum_j s_j^2 / S (w_j = 1/(k_j vbar_j), S = sum s_j).
    Python was 1.2e-9 off (it summed t t' and X'X over studies before subtracting); robumeta, which
    subtracts per study, is off 1.8e-10 through its own denom = sumW - tr(...), inside the entry's bound."""
    from harness.analyses.robu import RobuKind
    from harness.compare.explained import find
    from harness.fuzz import dataset, resolve
    from harness.fuzz.batch import make_spec

    ds = dataset(1, 855, "clustered")
    v = [Fraction(x) for x in np.asarray(ds.columns["vi"], float)]
    st = list(np.asarray(ds.columns["study"], float))
    assert st == [1.0, 2.0, 2.0, 2.0] and float(v[0]) == 2.2955535792308064
    k = {u: st.count(u) for u in set(st)}
    vbar = {u: sum(x for x, s in zip(v, st) if s == u) / k[u] for u in k}
    w = {u: 1 / (k[u] * vbar[u]) for u in k}
    S = sum(k[u] * w[u] for u in k)
    denom = S - sum((k[u] * w[u]) ** 2 for u in k) / S
    term2 = float(sum(w[u] * (k[u] - 1) for u in k) / S / denom)
    model = next(m for m in resolve(None) if m.name == "robu-CORR")
    spec = make_spec(ds, model, "fuzz-s1-d855-clustered")
    kind = RobuKind()
    py = kind.run_python(spec).values["term2"]
    r = kind.run_r(spec, r_engine).values["term2"]
    assert abs(py - term2) <= 1e-14 * term2
    assert 1e-10 * term2 < abs(r - term2) <= 1e-9 * term2
    ctx = kind.explain_context(spec)
    scale = ctx["corr_denom_scale"]
    assert scale == pytest.approx(float(S / denom), rel=1e-12)  # 1.95e6
    rel = abs(r - py) / abs(r)
    ctx = {**ctx, "robumeta": r_engine.versions()["robumeta"]}
    assert find("term2", ctx, abs(r - py), rel, rel_sym=rel).id == "robu-corr-denominator-cancellation"
    assert rel >= 4 * 2.0**-52 * scale / 10  # the bound is not loose by orders
    assert find("term2", ctx, 10 * abs(r - py), 10 * rel, rel_sym=10 * rel) is None


def test_stacked_projection_gives_the_one_by_one_bits():
    """tr P^2's off-diagonal sum is formed row by row whatever the block size, so a stack of
    problems (the batched fits) and each problem alone give the same bits."""
    from harness.core.wls import projection

    rng = np.random.default_rng(3)
    for k, B in ((344, 100), (7, 5)):
        X = np.column_stack([np.ones(k), rng.normal(size=(k, 2))])
        y, w = rng.normal(size=(B, k)), 1 / rng.uniform(0.01, 10, size=(B, k))
        stacked = projection(y, w, np.broadcast_to(X, (B, k, 3))).trPP
        assert all(stacked[i] == projection(y[i], w[i], X).trPP for i in range(B))


def _reml_mods_case(i):
    """fuzz seed 1 dataset ``i`` (family uni), model REML-mods: the spec, the kind, y, v, X."""
    from harness.analyses.rma import RmaKind
    from harness.fuzz import dataset, resolve
    from harness.fuzz.batch import make_spec

    ds = dataset(1, i, "uni")
    model = next(m for m in resolve(None) if m.name == "REML-mods")
    spec = make_spec(ds, model, f"fuzz-s1-d{i}-uni")
    c = ds.columns
    y, v = np.asarray(c["yi"], float), np.asarray(c["vi"], float)
    X = np.column_stack([np.asarray(c["x1"], float), np.asarray(c["x2"], float)])
    return spec, RmaKind(), y, v, X


@pytest.mark.parametrize("i, yi0, rel_r, slack", [
    # dataset, its first yi (the generator's data is what is checked), metafor's measured relative
    # error in QE (metafor 3.8-1 and 5.0-1 alike), and how far the entry's bound is above it
    (1474, -0.15112003350864583, 0.116, 85),    # k = 4, p = 3; vi 5.6e-9 .. 5.6e-3 (one dominant weight)
    (4257, 9.963716612926772, 1.16e-9, 29),     # vi_ratio 386: below the explicit-p-variance-spread gate
    (7721, 1.0724956999599171, 1.49e-3, 56),    # equal vi: QE = 4.1e-11 next to y_c'W y_c = 5.0e1
])
def test_qe_that_cancels_in_metafors_explicit_p(r_engine, i, yi0, rel_r, slack):
    """metafor's QE = y_c'P y_c with an explicit P is the difference of y_c'W y_c and
    y_c'WX(X'WX)^-1X'W y_c: with QE small next to them, or the weighted design ill-conditioned,
    it loses up to k eps kappa(W^1/2 X)^2 (y_c'W y_c)/QE. Exact rational arithmetic sides with
    Python (its QE: squared QR residuals); metafor within the entry's measured bound."""
    from harness.compare.explained import EPS, find

    spec, kind, y, v, X = _reml_mods_case(i)
    assert y[0] == yi0 and len(y) == 4
    Xd = np.column_stack([np.ones(4), X])
    exact = float(_qe_exact(y, v, Xd))
    py = kind.run_python(spec).values["QE"]
    r = kind.run_r(spec, r_engine).values["QE"]
    assert abs(py - exact) <= (2e-10 if i == 7721 else 1e-13) * exact  # 7721: Python 1.1e-10 (kappa eps ||y_c||/||r||)
    assert abs(r - exact) / exact == pytest.approx(rel_r, rel=0.02)  # metafor: far beyond rounding
    ctx = kind.explain_context(spec)
    scale = ctx["explicit_p_qe_scale"]
    w = 1 / v
    yc = y - y.mean()
    s = np.linalg.svd(Xd * np.sqrt(w)[:, None], compute_uv=False)
    assert scale == pytest.approx(4 * (s[0] / s[-1]) ** 2 * float(yc @ (w * yc)) / exact, rel=1e-9)
    ctx = {**ctx, "metafor": r_engine.versions()["metafor"]}
    rel = abs(r - py) / max(abs(r), abs(py))
    assert find("QE", ctx, abs(r - py), rel, rel_sym=rel).id == "explicit-p-qe-cancellation"
    assert EPS * scale / rel == pytest.approx(slack, rel=0.1)  # the bound: above the error, not by orders
    assert find("QE", ctx, 1e3 * abs(r - py), 1e3 * rel, rel_sym=1e3 * rel) is None  # a larger difference is not explained
    assert find("QE", {**ctx, "explicit_p_qe_scale": 999.0}, abs(r - py), rel, rel_sym=rel) is None  # below the gate


def test_qep_of_a_cancelling_qe(r_engine):
    """fuzz seed 1 dataset 7721: QE = 4.1e-11 exactly (df = 1); metafor's QE 1.5e-3 off moves
    QEp = P(chi2_1 > QE) by rel(QE) * QE f(QE) = 1.5e-3 * sqrt(QE / 2 pi) = 3.8e-9: explained by the
    QEp entry (its bound: the QE bound times QE f(QE)/QEp = 2.5e-6 here), and Python's QEp is the exact QE's."""
    from harness.compare.explained import find
    from harness.core.distributions import chi2

    spec, kind, y, v, X = _reml_mods_case(7721)
    exact = float(_qe_exact(y, v, np.column_stack([np.ones(4), X])))
    py = kind.run_python(spec).values["QEp"]
    r = kind.run_r(spec, r_engine).values["QEp"]
    assert abs(py - float(chi2.sf(exact, 1))) <= 1e-15
    assert 1e-9 < abs(r - py) / py < 1e-8
    ctx = {**kind.explain_context(spec), "metafor": r_engine.versions()["metafor"]}
    rel = abs(r - py) / max(abs(r), abs(py))
    assert find("QEp", ctx, abs(r - py), rel, rel_sym=rel).id == "explicit-p-qe-cancellation-qep"
    assert find("QEp", ctx, 1e3 * abs(r - py), 1e3 * rel, rel_sym=1e3 * rel) is None

def _fuzz_spec(index, model_name):
    from harness.fuzz import dataset, resolve
    from harness.fuzz.batch import make_spec

    ds = dataset(1, index, "uni")
    model = next(m for m in resolve(None) if m.name == model_name)
    return ds, make_spec(ds, model, f"fuzz-s1-d{index}-uni")


def test_i2_of_a_zero_tau2_takes_tau2s_tolerance_through_its_slope(r_engine):
    """fuzz seed 1, dataset 1100, REML-mods (k = 4; x2 constant, dropped by both engines): the exact REML
    score at tau^2 = 0 is negative, so the estimate is 0 and so is I^2. Both engines stop within the
    threshold of 0 (Python 5.3e-13, metafor 1.2e-14), each I^2 is 100 tau^2/(vt + tau^2) of its own tau^2,
    and the I^2 difference (1.2e-10) is tau^2's allowed difference times the slope 100/vt (vt = 0.447):
    I^2's absolute tolerance is tau^2's (ITERATIVE.atol) times 100/vt, not ITERATIVE.atol itself."""
    from harness.analyses.rma import RmaKind
    from harness.compare.tolerance import ITERATIVE

    ds, spec = _fuzz_spec(1100, "REML-mods")
    y, v = np.asarray(ds.columns["yi"], float), np.asarray(ds.columns["vi"], float)
    x2 = np.asarray(ds.columns["x2"], float)
    assert np.ptp(x2) == 0  # redundant next to the intercept
    X = np.column_stack([np.ones(len(y)), np.asarray(ds.columns["x1"], float)])
    P = _p_exact(v, X)
    k = len(y)
    Py = [sum(P[i][j] * Fraction(y[j]) for j in range(k)) for i in range(k)]
    trP = sum(P[i][i] for i in range(k))
    assert sum(a * a for a in Py) - trP < 0  # REML score at 0, exactly: the maximum is at the boundary 0
    vt = float((k - 2) / trP)  # metafor's typical sampling variance, exactly (0.4472...)
    kind = RmaKind()
    py, r = kind.run_python(spec).values, kind.run_r(spec, r_engine).values
    for side in (py, r):
        assert 0 <= side["tau2"] <= 1e-12  # both stop within the threshold of the exact 0
        assert side["I2"] == pytest.approx(100 * side["tau2"] / (vt + side["tau2"]), rel=1e-9)
    diff = abs(py["I2"] - r["I2"])
    assert diff > ITERATIVE.atol  # what the campaign reported as a difference
    tol = kind.tolerance(spec, "I2")
    assert tol.atol == pytest.approx(100 * ITERATIVE.atol / vt, rel=1e-12) and tol.rtol == ITERATIVE.rtol
    assert tol.allows(py["I2"], r["I2"])
    assert kind.tolerance(spec, "H2").atol == pytest.approx(ITERATIVE.atol / vt, rel=1e-12)
    # not looser than tau^2's own tolerance: a tau^2 difference of twice its atol is not covered in I^2
    assert not tol.allows(100 * 2 * ITERATIVE.atol / (vt + 2 * ITERATIVE.atol), 0.0)
    assert kind.tolerance(spec, "tau2") == ITERATIVE


def test_coefficient_of_identical_effects_is_within_the_normal_equations_bound(r_engine):
    """fuzz seed 1, dataset 6531, REML-mods (k = 5, all effects -0.855, variances 5.7e-6 to 20): with an
    intercept the weighted least-squares moderators are exactly 0 at any weights (exact arithmetic
    below). Python's are ~1e-16; metafor's explicit inverse leaves ~1.2e-10, within the componentwise
    forward-error bound b = k eps |(X'WX)^-1| (|X|'W|X| |beta| + |X|'W|y|) (1.8e-9 to 3.6e-9 here)."""
    from harness.analyses.rma import RmaKind
    from harness.compare.compare import Record

    ds, spec = _fuzz_spec(6531, "REML-mods")
    y, v = np.asarray(ds.columns["yi"], float), np.asarray(ds.columns["vi"], float)
    assert np.ptp(y) == 0
    X = np.column_stack([np.ones(len(y)), np.asarray(ds.columns["x1"], float), np.asarray(ds.columns["x2"], float)])
    w = [1 / Fraction(x) for x in v]
    Xf = [[Fraction(a) for a in row] for row in X]
    A = [[sum(w[i] * Xf[i][a] * Xf[i][b] for i in range(len(y))) for b in range(3)] for a in range(3)]
    exact = _solve(A, [sum(w[i] * Xf[i][a] * Fraction(y[i]) for i in range(len(y))) for a in range(3)])
    assert exact == [Fraction(y[0]), 0, 0]  # tau^2 = 0 on both sides here; the zeros hold at any weights
    kind = RmaKind()
    py, r = kind.run_python(spec).values, kind.run_r(spec, r_engine).values
    assert py["tau2"] == 0 and r["tau2"] == 0
    bounds = kind._coefficient_bounds(spec)
    for name in ("x1", "x2"):
        b, se = bounds[name]
        assert abs(py[f"beta[{name}]"]) <= 1e-14
        assert 1e-11 < abs(r[f"beta[{name}]"]) <= b  # metafor's error is real and within the bound ...
        assert abs(r[f"beta[{name}]"]) >= b / 100  # ... which is not loose by orders (0.03-0.07 of it)
        for q, scale in ((f"beta[{name}]", 1.0), (f"zval[{name}]", 1 / se)):
            a, c = py[q], r[q]
            rec = Record(q, a, c, abs(a - c), abs(a - c) / abs(c), None, "differ")
            why = kind.explain(spec, rec)
            assert why is not None and why.startswith("coefficient-rounding"), q
            far = Record(q, a, a + 2 * b * scale, 2 * b * scale, 1.0, None, "differ")
            assert kind._explain_coefficient_rounding(spec, far) is None  # beyond the bound: a difference


def _robu_corr_intercept_exact(y, v, study, rho=0.8):
    """robumeta robu(yi ~ 1, modelweights = "CORR", small = TRUE), exactly (Fractions).

    With CORR weights constant within a study (w_j = 1/(k_j vbar_j), s_j = k_j w_j, S = sum s_j):
    termA = sum w_j / S, termB = sum w_j (k_j - 1) / S, denom = S - sum s_j^2 / S; second stage with
    wr_j = 1/(k_j (vbar_j + tau^2)); (I - H)_jj = I - (wr_j/S_r) J has eigenvalue lam_j = 1 - s_j/S_r
    on 1 and 1 elsewhere, so X_j'W_jA_je_j = wr_j lam_j^-1/2 E_j (E_j = sum_i e_ij) and
    VR = sum_j wr_j^2 E_j^2 / (lam_j S_r^2); Satterthwaite: Omega[j,l] = c_j c_l (delta_jl k_j/wr_j -
    k_j k_l/S_r) with c_j^2 = wr_j^2 / (lam_j S_r^2), dfs = (tr Omega)^2 / sum Omega^2 (robumeta
    R/robu.R 329-361, 378-545). SE = sqrt(VR) is rounded once."""
    y = [Fraction(float(a)) for a in y]
    v = [Fraction(float(a)) for a in v]
    ids = sorted(set(study))
    rows = {u: [i for i, s in enumerate(study) if s == u] for u in ids}
    k = {u: len(r) for u, r in rows.items()}
    vbar = {u: sum(v[i] for i in rows[u]) / k[u] for u in ids}
    w = {u: 1 / (k[u] * vbar[u]) for u in ids}
    S = sum(k[u] * w[u] for u in ids)
    b = sum(w[u] * sum(y[i] for i in rows[u]) for u in ids) / S
    Qe = sum(w[u] * sum((y[i] - b) ** 2 for i in rows[u]) for u in ids)
    termA = sum(w[u] for u in ids) / S
    termB = sum(w[u] * (k[u] - 1) for u in ids) / S
    denom = S - sum((k[u] * w[u]) ** 2 for u in ids) / S
    tau = max(Fraction(0), (Qe - len(ids) + termA) / denom + Fraction(rho) * termB / denom)
    wr = {u: 1 / (k[u] * (vbar[u] + tau)) for u in ids}
    Sr = sum(k[u] * wr[u] for u in ids)
    br = sum(wr[u] * sum(y[i] for i in rows[u]) for u in ids) / Sr
    E = {u: sum(y[i] - br for i in rows[u]) for u in ids}
    lam = {u: 1 - k[u] * wr[u] / Sr for u in ids}
    VR = sum(wr[u] ** 2 * E[u] ** 2 / lam[u] for u in ids) / Sr**2
    c2 = {u: wr[u] ** 2 / (lam[u] * Sr**2) for u in ids}
    tr = sum(c2[u] * (k[u] / wr[u] - Fraction(k[u] ** 2) / Sr) for u in ids)
    ss = sum(c2[a] * c2[c] * ((k[a] / wr[a] if a == c else 0) - Fraction(k[a] * k[c]) / Sr) ** 2 for a in ids for c in ids)
    return {"tau_sq": tau, "b_r": br, "VR": VR, "SE": float(VR) ** 0.5, "dfs": tr**2 / ss, "lam_min": min(lam.values())}


#: fuzz seed 1, robu-CORR (intercept only): the campaign's datasets of the classes closed below
ROBU_CLASSES = {2519: "tau", 6480: "tau", 2918: "tau", 7285: "tau", 3792: "adjustment", 8216: "adjustment",
                8318: "adjustment", 5780: "identical effects", 6336: "df at 4"}


def _robu_fuzz(i, engine=None):
    from harness.analyses.base import follow_engine
    from harness.analyses.robu import RobuKind
    from harness.fuzz import dataset, resolve
    from harness.fuzz.batch import make_spec

    ds = dataset(1, i, "clustered")
    model = next(m for m in resolve(None) if m.name == "robu-CORR")
    c = ds.columns
    spec = make_spec(ds, model, f"fuzz-s1-d{i}-clustered")
    if engine is not None:  # the R releases of the run, as the campaign's runner gives them to the registry
        spec = follow_engine(spec, engine.versions())
    return RobuKind(), spec, np.asarray(c["yi"], float), np.asarray(c["vi"], float), list(np.asarray(c["study"], float))


@pytest.mark.parametrize("i", sorted(ROBU_CLASSES))
def test_robu_corr_intercept_python_is_exact(i):
    """Python's tau^2, b_r, VR, SE and dfs are exact to 1e-13 (rational arithmetic) on every dataset of
    the robu-CORR classes: the tau^2 denominator as sum_j s_j S_-j / S, the adjustment's eigenvalue as
    S_-j/S_r and the residual sums from differences of study means (before: SE 1.1e-8 off on #8318)."""
    kind, spec, y, v, st = _robu_fuzz(i)
    ex = _robu_corr_intercept_exact(y, v, st)
    out = kind.run_python(spec).values
    for q, e in (("tau_sq", ex["tau_sq"]), ("b_r[X.Intercept.]", ex["b_r"]), ("VR_r[X.Intercept.,X.Intercept.]", ex["VR"]),
                 ("SE[X.Intercept.]", ex["SE"]), ("dfs[X.Intercept.]", ex["dfs"])):
        e = float(e)
        if e == 0:  # identical effects (#5780): SE and VR are exactly 0; Python's are residues far below robumeta's
            assert abs(out[q]) <= 1e-18
        else:
            assert abs(out[q] - e) <= 1e-13 * abs(e), q


def test_robu_corr_intercept_robumeta_within_the_measured_bound(r_engine):
    """robumeta's side on the same datasets: off by up to 2e-8 (SE, #8318) from exact; each of its
    differences lies within the bound measured for that quantity (RobuKind.corr_intercept_bounds:
    its tau^2 denominator carried on, the adjustment's eigenvalue, residual sums and product chain),
    the bound is not loose by orders (the largest difference of each dataset is >= 1/10 of it), and a
    difference 10 times larger is not explained."""
    from harness.compare.compare import compare_outcomes, Record
    from harness.compare.explained import EPS, find

    for i, cls in ROBU_CLASSES.items():
        if cls == "df at 4":
            continue
        kind, spec, y, v, st = _robu_fuzz(i, r_engine)
        ex = _robu_corr_intercept_exact(y, v, st)
        py, r = kind.run_python(spec), kind.run_r(spec, r_engine)
        cmp = compare_outcomes(kind, spec, py, r)
        assert not [rec.name for rec in cmp.records if rec.verdict not in ("agree", "explained")], i
        if cls != "identical effects":  # robumeta's own error from exact, for the record
            q = "tau_sq" if cls == "tau" else "SE[X.Intercept.]"
            e = float(ex["tau_sq"] if cls == "tau" else ex["SE"])
            assert 1e-11 * e < abs(r.values[q] - e) <= 1e-7 * e, (i, q)
        bounds = kind.corr_intercept_bounds(spec)
        worst = 0.0
        ctx = {**kind.explain_context(spec), "case": "corr-intercept"}
        explained = [rec.name for rec in cmp.records if rec.verdict == "explained" and rec.name in bounds and np.isfinite(bounds[rec.name])]
        assert explained, i
        for q in explained:  # the differences beyond the comparison's tolerance
            a, c, b = py.values[q], r.values[q], bounds[q]
            d = abs(a - c)
            assert d <= b, (i, q)
            if d / b > worst:
                worst, wq = d / b, q
        assert worst >= 0.1, i
        a, c, b = py.values[wq], r.values[wq], bounds[wq]
        c10 = a + 10 * (c - a)  # robumeta's value 10 times as far off in its tightest quantity: not explained
        big10 = max(abs(a), abs(c10))
        rel = abs(c10 - a) / big10
        assert find(wq, {**ctx, "corr_intercept_error": b / (EPS * big10)}, abs(c10 - a), rel, rel_sym=rel) is None, (i, wq)


def test_df_note_needs_a_df_below_4_by_more_than_rounding():
    """The harness's reading of robumeta's note: a df 1 ulp below 4 is 4 (no note), 3.9 is below."""
    from harness.api.rve import df_warning

    assert df_warning(["a"], [4 - np.spacing(4.0)]) is None and df_warning(["a"], [4.0]) is None
    assert df_warning(["a", "b"], [4 - np.spacing(4.0), 3.9]).startswith("Satterthwaite df < 4 for b ")


@pytest.mark.parametrize("i", [6336, 7367])
def test_robu_df_note_at_the_threshold_4(r_engine, i):
    """#6336, #7367 (N = 5 studies, tau^2 far above the sampling variances: the study weights are
    equal to ~1e-8). Satterthwaite df <= N - 1 = 4, with equality for equal study weights; exactly,
    dfs = 4 - 4.7e-16 (#6336) and 4 (#7367). Each engine lands within 2 ulps of it, on either side
    (at 3eadbbe Python had 4 - 1 ulp on #6336, after the closed-form adjustment 4 - 1 ulp on #7367;
    robumeta 4.0 on both), so "df < 4" taken literally made a warning on one side only. The note
    now needs a df below 4 by more than the dfs' own closed-form tolerance: no warning on either
    side. robumeta itself prints its note with every small = TRUE fit (R/robu.R 576)."""
    from harness.compare.compare import compare_outcomes

    kind, spec, y, v, st = _robu_fuzz(i, r_engine)
    ex = _robu_corr_intercept_exact(y, v, st)
    assert abs(float(ex["dfs"] - 4)) < 1e-15
    py, r = kind.run_python(spec), kind.run_r(spec, r_engine)
    for d in (py.values["dfs[X.Intercept.]"], r.values["dfs[X.Intercept.]"]):
        assert abs(d - float(ex["dfs"])) <= 2 * np.spacing(4.0)
    assert py.warnings == r.warnings == []
    assert all(rec.verdict == "agree" for rec in compare_outcomes(kind, spec, py, r).records)
