"""Univariate parity with metafor 3.8-1, run for real through the R engine.

* every tau^2 estimator x every test, intercept-only, meta-regression and a
  no-intercept model (metafor's mean-centring of yi for tau^2 and QE);
* the post-fitting functions through the harness (predict, confint,
  leave1out, regtest, trimfill) on a fixture written here, compared per study;
* non-convergence reported alike by both engines;
* spec validation for the new keys.
"""
import math
import textwrap

import numpy as np
import pytest

import harness
from harness.errors import InputError
from harness.spec import load_fixture
from harness.verify import verify

METHODS = ["FE", "DL", "HE", "HS", "HSk", "SJ", "ML", "REML", "EB", "PM", "PMM", "GENQ"]
ITER = ("ML", "REML", "EB", "PM", "PMM")
NAMES = ("beta", "se", "zval", "pval", "ci_lb", "ci_ub", "vb", "tau2", "se_tau2", "QE", "QEp", "I2", "H2", "QM", "QMp", "R2", "weights")

RNG = np.random.default_rng(2024)
K = 15
YI = RNG.normal(0.3, 0.4, K)
VI = RNG.uniform(0.01, 0.2, K)
X1 = RNG.uniform(0, 10, K)
W = RNG.uniform(1, 5, K)


def _compare(r, fit, method):
    rtol = 1e-8 if method in ITER else 1e-10
    for name in NAMES:
        a = np.ravel(np.asarray(getattr(fit, name), float))
        b = np.ravel(np.asarray(r[name], float))
        assert a.shape == b.shape, name
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-10, equal_nan=True, err_msg=name)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("test", ["z", "t", "knha", "adhoc"])
@pytest.mark.parametrize("model", ["intercept", "metareg", "no-intercept"])
def test_rma_matches_metafor(r_engine, method, test, model):
    tol = 1e-12 if method in ("PM", "PMM") else None
    mods = {} if model == "intercept" else {"x": X1}
    intercept = model != "no-intercept"
    w = W if method == "GENQ" else None
    r = r_engine.call("mh_rma", data={"yi": YI, "vi": VI}, mods=mods, measure="GEN", method=method, test=test,
                      intercept=intercept, threshold=1e-12, maxiter=1000, tol=tol, weights=w)
    assert r.error is None, r.error
    ctrl = {"threshold": 1e-12, "maxiter": 1000, **({"tol": tol} if tol else {})}
    fit = harness.rma(YI, VI, mods=X1 if mods else None, coef_names=["x"] if mods else None, intercept=intercept,
                      method=method, test=test, control=ctrl, weights=w)
    assert list(r.value["coef_names"]) == list(fit.coef_names)
    _compare(r.value, fit, method)


def test_no_intercept_uses_centred_yi_like_metafor(r_engine):
    """metafor 3.8-1 computes QE and tau^2 on yi - mean(yi) even without an intercept
    (stats-reference §3.1); the uncentred textbook QE is different, and Python follows metafor."""
    r = r_engine.call("mh_rma", data={"yi": YI, "vi": VI}, mods={"x": X1}, measure="GEN", method="DL", intercept=False)
    fit = harness.rma(YI, VI, mods=X1, coef_names=["x"], intercept=False, method="DL")
    assert fit.QE == pytest.approx(r.value["QE"][0], rel=1e-12)
    w = 1 / VI
    b = np.sum(w * X1 * YI) / np.sum(w * X1**2)
    textbook = np.sum(w * (YI - b * X1) ** 2)  # uncentred QE, written out
    assert abs(textbook - fit.QE) > 1e-3


@pytest.mark.parametrize("measure, vtypes", [("SMDH", ["LS", "LS2"]), ("ROM", ["LS", "HO", "AV", "AVHO"]), ("SMD", ["LS", "UB", "LS2", "AV"]), ("MD", ["LS", "UB", "HO"])])
def test_escalc_measures_match_metafor(r_engine, measure, vtypes):
    data = dict(m1i=[55.0, 27, 64, 66, 14, 9.5], sd1i=[47.0, 7, 17, 20, 8, 3], n1i=[155.0, 31, 75, 18, 8, 40],
                m2i=[75.0, 29, 119, 137, 18, 7.1], sd2i=[64.0, 4, 29, 48, 11, 2.2], n2i=[156.0, 32, 71, 18, 13, 35])
    for vtype in vtypes:
        r = r_engine.call("mh_escalc", data=data, measure=measure, vtype=vtype)
        assert r.error is None, r.error
        # Python at the engine's metafor release (ROM's correction and SMDH's variances depend on it)
        py = harness.escalc(measure, vtype=vtype, metafor=r_engine.versions()["metafor"], **data)
        np.testing.assert_allclose(py.yi, r.value["yi"], rtol=1e-13, err_msg=vtype)
        np.testing.assert_allclose(py.vi, r.value["vi"], rtol=1e-13, err_msg=vtype)
        lb, ub = py.ci()
        np.testing.assert_allclose(lb, r.value["ci_lb"], rtol=1e-13)
        np.testing.assert_allclose(ub, r.value["ci_ub"], rtol=1e-13)


@pytest.mark.parametrize("vtype", ["LS", "UB", "LS2"])
def test_smd_from_t_statistics_matches_metafor(r_engine, vtype):
    data = dict(ti=[2.1, -0.4, 3.3, 1.0], n1i=[20.0, 35, 12, 50], n2i=[22.0, 30, 12, 48])
    r = r_engine.call("mh_escalc", data=data, measure="SMD", vtype=vtype)
    assert r.error is None, r.error
    py = harness.escalc("SMD", vtype=vtype, metafor=r_engine.versions()["metafor"], **data)
    np.testing.assert_allclose(py.yi, r.value["yi"], rtol=1e-13)
    np.testing.assert_allclose(py.vi, r.value["vi"], rtol=1e-13)


def test_pm_bracket_too_small_is_nonconvergence_in_both(r_engine):
    """Two outliers far beyond max(100, 10 mad^2): metafor stops with "Value of 'tau2.max' too low"."""
    y, v = [0, 0.01, 0, 0.02, 0, 0, 30, -30.0], [0.01] * 8
    r = r_engine.call("mh_rma", data={"yi": y, "vi": v}, measure="GEN", method="PM", tol=1e-12)
    assert "tau2.max' too low" in r.error
    assert not harness.rma(y, v, method="PM").converged


# --- through the harness: a fixture written here ------------------------------------------------

DATA = """study,yi,vi,x,grp,n
a,0.10,0.020,1.0,lo,40
b,0.35,0.050,2.0,lo,25
c,-0.05,0.011,2.5,hi,80
d,0.60,0.090,4.0,hi,20
e,0.22,0.030,5.5,mid,35
f,0.41,0.015,6.0,mid,60
g,0.05,0.070,7.5,lo,18
h,0.80,0.100,8.0,hi,15
i,0.30,0.025,9.0,mid,45
j,0.15,0.040,9.5,lo,30
"""


def _write(tmp_path, body):
    (tmp_path / "data.csv").write_text(DATA)
    head = '[dataset]\nname = "toy"\ndata = "data.csv"\nslab = "study"\nsource = "made up for the test"\n\n[defaults]\nmeasure = "GEN"\nyi = "yi"\nvi = "vi"\n\n'
    (tmp_path / "spec.toml").write_text(head + textwrap.dedent(body))
    return tmp_path / "spec.toml"


@pytest.mark.r  # verify() starts the R engine itself
def test_extras_agree_per_study(tmp_path):
    spec = _write(tmp_path, """
        [[analysis]]
        id = "toy"
        method = ["FE", "DL", "SJ", "REML", "PM", "EB"]
        test = ["z", "knha"]
        extras = ["predict", "confint", "leave1out", "regtest", "trimfill_L0", "trimfill_R0"]

        [[analysis]]
        id = "toy-genq"
        method = "GENQ"
        weights = "n"
        extras = ["predict", "leave1out", "regtest", "trimfill_L0"]

        [[analysis]]
        id = "toy-mods"
        mods = ["grp", "x"]
        levels = { grp = ["lo", "mid", "hi"] }
        method = ["DL", "REML", "PMM"]
        test = ["z", "t"]
        extras = ["predict", "confint", "regtest"]
        newmods = ["0,0,3", "1,0,5", "0,1,7"]

        [[analysis]]
        id = "toy-noint"
        mods = ["grp"]
        intercept = false
        method = ["FE", "HE", "ML"]
        extras = ["predict", "confint", "regtest"]
    """)
    run = verify([spec])
    bad = [(a.id, [(r.name, r.python, r.r, r.explanation) for r in a.records if r.verdict != "agree"][:3]) for a in run.analyses if a.verdict != "agree"]
    assert not bad, bad
    rec = {a.id: {r.name for r in a.records} for a in run.analyses}
    names = rec["toy-REML-knha"]
    for q in ("predict.pi_lb", "confint.tau2_ub", "confint.I2_lb", "confint.H2_ub", "leave1out.estimate[c]", "leave1out.tau2[j]",
              "leave1out.Qp[a]", "regtest.zval", "regtest.ddf", "regtest.est", "trimfill_L0.k0", "trimfill_R0.p_k0", "yi_ci_lb[a]"):
        assert q in names, q
    mods = rec["toy-mods-REML-z"]
    assert {"beta[grpmid]", "beta[grphi]", "beta[x]", "R2", "predict.pred[new3]", "predict.pi_ub[new1]"} <= mods
    assert {"beta[grplo]", "beta[grpmid]", "beta[grphi]"} <= rec["toy-noint-ML"]
    assert "predict.pi_lb" not in rec["toy-FE-z"]  # metafor gives no PI for FE models


def test_trimfill_fills_mirror_images():
    """Hand check of the fill step (Duval & Tweedie 2000): with side "left" the k0 largest
    values are mirrored about the FE estimate of the k - k0 smallest, 2*beta - y."""
    from harness.core.bias import trimfill_arrays

    y = np.array([0.9, 0.8, 0.75, 0.6, 0.5, 0.45, 0.4, 0.3, 0.2, 0.1])
    v = np.array([0.2, 0.15, 0.12, 0.08, 0.06, 0.04, 0.03, 0.02, 0.015, 0.01])
    t = trimfill_arrays(y, v, method="FE")
    k0 = t["k0"]
    assert k0 > 0 and t["side"] == "left"
    order = np.argsort(y, kind="stable")
    ys, vs = y[order], v[order]
    w = 1 / vs[: len(y) - k0]
    beta = np.sum(w * ys[: len(y) - k0]) / np.sum(w)  # FE estimate of the trimmed data
    np.testing.assert_allclose(t["yi_fill"][len(y):], 2 * beta - ys[len(y) - k0:], rtol=1e-13)
    np.testing.assert_array_equal(t["vi_fill"][len(y):], vs[len(y) - k0:])


@pytest.mark.parametrize("body, message", [
    ('[[analysis]]\nid = "x"\nmethod = "GENQ"\n', "needs a `weights` column"),
    ('[[analysis]]\nid = "x"\nmods = ["grp"]\nlevels = { grp = ["lo", "hi"] }\n', "must list each value"),
    ('[[analysis]]\nid = "x"\nmods = ["x"]\nnewmods = ["1,2"]\n', "needs 1 finite value"),
    ('[[analysis]]\nid = "x"\nextras = ["funnel"]\n', "unknown value"),
    ('[[analysis]]\nid = "x"\nmods = ["x"]\nlevels = { x = ["1"] }\n', "not a categorical moderator"),
])
def test_spec_errors(tmp_path, body, message):
    spec = _write(tmp_path, body)
    with pytest.raises(InputError, match=message.replace("`", ".").replace("(", ".")):
        load_fixture(spec)


def test_categorical_coding_is_model_matrix(tmp_path):
    """Treatment coding with the given level order; without an intercept the first factor gets every level."""
    from harness.analyses import KINDS

    spec = _write(tmp_path, '[[analysis]]\nid = "x"\nmods = ["grp", "x"]\nlevels = { grp = ["mid", "lo", "hi"] }\n')
    a = load_fixture(spec).analyses[0]
    d = KINDS["rma"].design(a)
    assert d["names"] == ["intrcpt", "grplo", "grphi", "x"]
    grp = [line.split(",")[4] for line in DATA.strip().splitlines()[1:]]
    np.testing.assert_array_equal(d["X"][:, 1], [g == "lo" for g in grp])
    assert d["factors"] == {"grp": ["mid", "lo", "hi"]}
    spec = _write(tmp_path, '[[analysis]]\nid = "x"\nmods = ["x", "grp"]\nintercept = false\n')
    d = KINDS["rma"].design(load_fixture(spec).analyses[0])
    assert d["names"] == ["x", "grphi", "grplo", "grpmid"]  # sorted levels, all coded (as model.matrix(~ x + grp - 1))
    assert not math.isnan(d["X"].sum())
