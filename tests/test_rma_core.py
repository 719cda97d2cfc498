"""The Python rma core: hand computations written out, published values, and metafor run for real."""
import math

import numpy as np
import pytest
from scipy import stats

import harness

# three studies, chosen so that the arithmetic is easy to follow
Y = np.array([1.0, 2.0, 4.0])
V = np.array([1.0, 0.5, 0.25])


def test_fixed_effect_by_hand():
    # w = 1/v = (1, 2, 4), sum w = 7; beta = (1*1 + 2*2 + 4*4)/7 = 21/7 = 3
    fit = harness.rma(Y, V, method="FE")
    assert fit.beta[0] == pytest.approx(3.0, rel=1e-15)
    assert fit.se[0] == pytest.approx(1 / math.sqrt(7), rel=1e-15)
    # Q = 1*(1-3)^2 + 2*(2-3)^2 + 4*(4-3)^2 = 4 + 2 + 4 = 10, df = 2
    assert fit.QE == pytest.approx(10.0, rel=1e-14)
    assert fit.QEp == pytest.approx(math.exp(-10 / 2), rel=1e-12)  # chi2(2) survival = exp(-x/2)
    # I2 = (Q - df)/Q = 80%, H2 = Q/df = 5
    assert fit.I2 == pytest.approx(80.0, rel=1e-14)
    assert fit.H2 == pytest.approx(5.0, rel=1e-14)
    z = 3 * math.sqrt(7)
    assert fit.zval[0] == pytest.approx(z, rel=1e-14)
    assert fit.ci_lb[0] == pytest.approx(3 - stats.norm.ppf(0.975) / math.sqrt(7), rel=1e-14)


def test_dersimonian_laird_by_hand():
    # tau2 = (Q - df)/(sum w - sum w^2/sum w) = (10 - 2)/(7 - 21/7) = 8/4 = 2
    fit = harness.rma(Y, V, method="DL")
    assert fit.tau2 == pytest.approx(2.0, rel=1e-14)
    w = 1 / (V + 2)  # (1/3, 1/2.5, 1/2.25)
    beta = np.sum(w * Y) / np.sum(w)
    assert fit.beta[0] == pytest.approx(beta, rel=1e-14)
    assert fit.se[0] == pytest.approx(1 / math.sqrt(w.sum()), rel=1e-14)
    # metafor's I2 for RE models: tau2/(vt + tau2) with vt = (k-1)/(sum w - sum w^2/sum w) = 2/4
    assert fit.I2 == pytest.approx(100 * 2 / 2.5, rel=1e-14)
    # weights in percent
    np.testing.assert_allclose(fit.weights, 100 * w / w.sum(), rtol=1e-14)


def test_reml_solves_its_estimating_equation():
    # At the REML optimum (tau2 > 0): y'PPy = tr(P), with P = W - W 1 1'W / sum w.
    fit = harness.rma(Y, V, method="REML", control={"threshold": 1e-14})
    w = 1 / (V + fit.tau2)
    P = np.diag(w) - np.outer(w, w) / w.sum()
    assert Y @ P @ P @ Y == pytest.approx(np.trace(P), rel=1e-10)


def test_normand1999_published_values():
    """Normand (1999), Table IX p. 352: MD with pooled SDs (metafor vtype HO), printed to 2 dp."""
    import csv
    from pathlib import Path

    rows = list(csv.DictReader(open(Path(__file__).parent.parent / "fixtures/normand1999/data.csv")))
    col = lambda k: np.array([float(r[k]) for r in rows])
    es = harness.escalc("MD", vtype="HO", **{k: col(k) for k in ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")})
    fe = harness.rma(es, method="FE")
    assert [round(fe.beta[0], 2), round(fe.ci_lb[0], 2), round(fe.ci_ub[0], 2)] == [-3.49, -5.03, -1.96]
    dl = harness.rma(es, method="DL")
    assert [round(dl.beta[0], 2), round(dl.ci_lb[0], 2), round(dl.ci_ub[0], 2), round(dl.tau2, 2)] == [-14.10, -24.45, -3.75, 218.72]
    reml = harness.rma(es, method="REML")
    assert [round(reml.beta[0], 2), round(reml.ci_lb[0], 2), round(reml.ci_ub[0], 2), round(reml.tau2, 2)] == [-15.12, -32.67, 2.43, 685.20]


def test_nonconvergence_is_reported_not_a_number():
    fit = harness.rma(Y, V, method="REML", control={"maxiter": 1, "threshold": 1e-300})
    assert not fit.converged
    assert math.isnan(fit.tau2) and math.isnan(fit.beta[0])


@pytest.mark.parametrize("method", ["FE", "DL", "HE", "HS", "HSk", "ML", "REML", "EB"])
@pytest.mark.parametrize("test", ["z", "knha"])
def test_rma_matches_metafor(agreement, method, test):
    rng = np.random.default_rng(11)
    yi = rng.normal(0.3, 0.4, 12)
    vi = rng.uniform(0.01, 0.2, 12)
    r = agreement.r("mh_rma", data={"yi": yi, "vi": vi}, measure="GEN", method=method, test=test, threshold=1e-12, maxiter=1000)
    fit = harness.rma(yi, vi, method=method, test=test, control={"threshold": 1e-12, "maxiter": 1000})
    rtol = 1e-8 if method in ("ML", "REML", "EB") else 1e-11
    names = ("beta", "se", "zval", "pval", "ci_lb", "ci_ub", "tau2", "QE", "QEp", "I2", "H2", "weights")
    agreement.check({n: getattr(fit, n) for n in names}, r, default=(rtol, 1e-12))


def test_meta_regression_matches_metafor(r_engine):
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 10, 15)
    yi = 0.2 + 0.05 * x + rng.normal(0, 0.2, 15)
    vi = rng.uniform(0.02, 0.1, 15)
    r = r_engine.call("mh_rma", data={"yi": yi, "vi": vi}, mods={"x": x}, measure="GEN", method="REML", threshold=1e-12)
    assert r.error is None, r.error
    fit = harness.rma(yi, vi, mods=x, coef_names=["x"], method="REML", control={"threshold": 1e-12})
    assert list(r.value["coef_names"]) == ["intrcpt", "x"]
    np.testing.assert_allclose(fit.beta, r.value["beta"], rtol=1e-8)
    np.testing.assert_allclose(fit.se, r.value["se"], rtol=1e-8)
    assert fit.QM == pytest.approx(r.value["QM"][0], rel=1e-8)
    assert fit.QE == pytest.approx(r.value["QE"][0], rel=1e-10)


# Fisher scoring oscillates on these data (REML optimum near 0.0004, steps
# overshoot): metafor 3.8-1 stops with "did not converge" and so must Python.
OSC_Y = [0.300492061342993, 0.41949821500338796, 0.19034485785511296, -0.056236735502909696, 0.11813168593131096, -0.09665862199858499,
         0.3240574410389754, 0.8360860982218135, 0.10311739257946811, 0.051810040072023805, 0.4959368200740793, 0.4427548032640243]
OSC_V = [0.058425221654283675, 0.09456449811770284, 0.10586416920201112, 0.11516449689415356, 0.19914505385253461, 0.1606057646506131,
         0.1282140535938209, 0.19790242805955813, 0.050908652664763805, 0.04044028643299046, 0.12638252481187584, 0.01834898151266284]


def test_nonconvergence_matches_metafor(r_engine):
    r = r_engine.call("mh_rma", data={"yi": OSC_Y, "vi": OSC_V}, measure="GEN", method="REML", threshold=1e-5, maxiter=100)
    assert "did not converge" in r.error
    fit = harness.rma(OSC_Y, OSC_V, method="REML")
    assert not fit.converged and fit.iterations == 101


def test_sidik_jonkman_by_hand():
    # tau0^2 = mean((y - 7/3)^2) = (16/9 + 1/9 + 25/9)/3 = 14/9; w = 1/(v + 14/9)
    t0 = 14 / 9
    w = 1 / (V + t0)
    mu = np.sum(w * Y) / np.sum(w)
    q = np.sum(w * (Y - mu) ** 2)
    fit = harness.rma(Y, V, method="SJ")
    assert fit.tau2 == pytest.approx(t0 * q / 2, rel=1e-13)  # tau0^2 Q(tau0^2)/(k - 1)


def test_paule_mandel_solves_its_equation():
    # at the PM estimate, sum w (y - mu)^2 = k - 1 with w = 1/(v + tau2)
    fit = harness.rma(Y, V, method="PM", control={"tol": 1e-14})
    w = 1 / (V + fit.tau2)
    mu = np.sum(w * Y) / np.sum(w)
    assert np.sum(w * (Y - mu) ** 2) == pytest.approx(2.0, rel=1e-10)
    # PMM: the target is the chi-square median with 2 df, 2 ln 2
    fit = harness.rma(Y, V, method="PMM", control={"tol": 1e-14})
    w = 1 / (V + fit.tau2)
    mu = np.sum(w * Y) / np.sum(w)
    assert np.sum(w * (Y - mu) ** 2) == pytest.approx(2 * math.log(2), rel=1e-10)


def test_genq_with_inverse_variance_weights_is_dl():
    # GENQ with A = W = 1/v is the DerSimonian-Laird estimator (same formula)
    assert harness.rma(Y, V, method="GENQ", weights=1 / V).tau2 == pytest.approx(harness.rma(Y, V, method="DL").tau2, rel=1e-13)


def test_prediction_interval_by_hand():
    from harness.core.predict import predict_arrays

    fit = harness.rma(Y, V, method="DL")  # tau2 = 2 (test_dersimonian_laird_by_hand)
    p = predict_arrays(fit.beta, fit.vb, fit.tau2, np.ones((1, 1)))
    z = stats.norm.ppf(0.975)
    assert p["pi_lb"][0] == pytest.approx(fit.beta[0] - z * math.sqrt(fit.se[0] ** 2 + 2.0), rel=1e-13)


def test_variance_ratio_warning_matches_metafor(r_engine, tmp_path):
    """metafor warns when max(vi)/min(vi) >= 1e7; the Python side warns alike, so the
    warnings record agrees instead of standing as an R-only warning (found by fuzz)."""
    from harness.analyses import KINDS
    from harness.spec import load_fixture

    (tmp_path / "data.csv").write_text("yi,vi\n0.1,1e-9\n0.5,0.02\n0.3,0.05\n-0.2,0.3\n")
    (tmp_path / "spec.toml").write_text('[dataset]\ndata = "data.csv"\nsource = "hand-made"\n'
                                        '[[analysis]]\nid = "vr"\nmeasure = "GEN"\nyi = "yi"\nvi = "vi"\nmethod = "FE"\n')
    spec = load_fixture(tmp_path / "spec.toml").analyses[0]
    kind = KINDS["rma"]
    py, r = kind.run_python(spec), kind.run_r(spec, r_engine)
    assert any("Ratio of largest to smallest sampling variance" in w for w in r.warnings)
    assert sorted(py.warnings) == sorted(r.warnings)


def test_ll0check_reset_warns_like_metafor(r_engine):
    """metafor's ll0check: when the log-likelihood at tau^2 = 0 beats the converged
    estimate, tau^2 is set to 0 with a warning. Data: fuzz campaign seed 1, dataset 8967
    (three studies), where R warned and Python, before this fix, silently reset."""
    yi = [-1.907470350328492, 9.0085154242036367, -1.1944105763116912]
    vi = [0.0083574688633336544, 18.884359917691903, 0.55523241738302331]
    r = r_engine.call("mh_rma", data={"yi": yi, "vi": vi}, measure="GEN", method="REML", threshold=1e-12, maxiter=1000)
    assert any("stuck at a local maximum" in w for w in r.warnings)
    assert r.value["tau2"][0] == 0
    fit = harness.rma(yi, vi, method="REML", control={"threshold": 1e-12, "maxiter": 1000})
    assert fit.ll0_reset and fit.tau2 == 0
    assert not harness.rma(Y, V, method="REML").ll0_reset


def test_too_many_parameters_refused_like_metafor(r_engine, tmp_path):
    """k = 3 studies, intercept + 2 moderators + tau^2: metafor refuses ("Number of
    parameters to be estimated is larger than the number of observations"); Python
    refuses too instead of fitting (fuzz campaign seed 1, dataset 37)."""
    from harness.analyses import KINDS
    from harness.spec import load_fixture

    (tmp_path / "data.csv").write_text("yi,vi,x1,x2\n-1.7,1.97,0.33,0.28\n0.38,4.7,0.36,0.20\n-0.12,0.79,0.33,-0.69\n")
    (tmp_path / "spec.toml").write_text('[dataset]\ndata = "data.csv"\nsource = "hand-made"\n[[analysis]]\nid = "p"\n'
                                        'measure = "GEN"\nyi = "yi"\nvi = "vi"\nmethod = "REML"\nmods = ["x1", "x2"]\n')
    spec = load_fixture(tmp_path / "spec.toml").analyses[0]
    kind = KINDS["rma"]
    py, r = kind.run_python(spec), kind.run_r(spec, r_engine)
    assert r.error == py.error == "Number of parameters to be estimated is larger than the number of observations."
