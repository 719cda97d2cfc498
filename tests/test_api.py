"""The Python API as a user meets it: data frames in, strict input, typed results,
printing, the public RevMan engine, the stated defaults, Jackson's GENQ interval.

Reference values come from R run for real (written out here with the call that
gave them), published tables, or hand computations written out in the test.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import harness
from harness.api import ConfintResult, Leave1outResult, RegtestResult, RmaResult, RmaWarning, StudiesOmittedWarning, TrimfillResult

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RAUD = pd.read_csv(FIXTURES / "raudenbush1985" / "data.csv")
Y5 = np.array([0.1, 0.3, 0.35, 0.6, 0.2])
V5 = np.array([0.01, 0.02, 0.03, 0.02, 0.05])


def quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


# ---- scalar access and printing ----------------------------------------------------------------

def test_estimate_is_a_float_usable_in_an_f_string():
    fit = harness.rma(Y5, V5, method="FE")
    w = 1 / V5  # FE by hand: sum(w y) / sum(w)
    assert isinstance(fit.estimate, float)
    assert fit.estimate == pytest.approx(np.sum(w * Y5) / np.sum(w), rel=1e-14)
    assert f"{fit.estimate:.3f}" == f"{np.sum(w * Y5) / np.sum(w):.3f}"
    assert list(fit.coef().index) == ["intrcpt"]


def test_estimate_of_a_meta_regression_says_what_to_use():
    fit = harness.rma("yi", "vi", mods=["weeks"], data=RAUD)
    with pytest.raises(AttributeError, match="coef"):
        fit.estimate
    assert list(fit.coef().index) == ["intrcpt", "weeks"]


def test_print_never_dumps_fields():
    fit = harness.rma(Y5, V5)
    text = str(fit)
    assert "beta=" not in text and "array(" not in text and repr(fit) == text
    assert text.splitlines()[1] == "Random-Effects Model (k = 5; tau^2 estimator: REML)"
    rb = quiet(harness.robu, Y5, V5, [1, 1, 2, 3, 4])
    assert "array(" not in str(rb) and str(rb).startswith("RVE: Correlated Effects Model")
    html = fit._repr_html_()
    assert html.startswith("<pre") and "Model Results:" in html
    for obj in (fit.confint(), fit.regtest(), fit.leave1out(), fit.trimfill(), harness.escalc("GEN", yi=Y5, vi=V5)):
        assert "array(" not in str(obj) and obj._repr_html_().startswith("<pre")


# ---- data frames -------------------------------------------------------------------------------

def test_escalc_takes_column_names_as_metafor_data():
    df = pd.DataFrame({"study": ["a", "b"], "m1": [55.0, 27], "sd1": [47.0, 7], "n1": [155, 31], "m2": [75.0, 29], "sd2": [64.0, 4], "n2": [156, 32]})
    es = harness.escalc("MD", m1i="m1", sd1i="sd1", n1i="n1", m2i="m2", sd2i="sd2", n2i="n2", slab="study", data=df)
    # MD by hand: m1 - m2, sd1^2/n1 + sd2^2/n2
    assert es.yi.tolist() == [-20.0, -2.0]
    assert es.vi == pytest.approx([47**2 / 155 + 64**2 / 156, 7**2 / 31 + 4**2 / 32], rel=1e-15)
    assert es.slab == ("a", "b")
    with pytest.raises(ValueError, match="'m11' is not in `data`.*did you mean 'm1'"):
        harness.escalc("MD", m1i="m11", sd1i="sd1", n1i="n1", m2i="m2", sd2i="sd2", n2i="n2", data=df)
    with pytest.raises(ValueError, match="no `data` was given"):
        harness.escalc("MD", m1i="m1", sd1i="sd1", n1i="n1", m2i="m2", sd2i="sd2", n2i="n2")


def test_moderator_names_come_from_the_columns_and_text_is_dummy_coded():
    fit = harness.rma("yi", "vi", mods=["weeks", "tester"], data=RAUD, slab="author")
    # R's model.matrix(~ weeks + tester): treatment contrasts, first level (sorted) the reference
    assert fit.coef_names == ("intrcpt", "weeks", "testerblind")
    X = fit.X
    assert X[:, 2].tolist() == [1.0 if t == "blind" else 0.0 for t in RAUD["tester"]]
    assert fit.slab[:2] == ("Rosenthal et al.", "Conn et al.")


def test_same_coding_as_the_command_line():
    from harness.core.design import model_matrix

    d = model_matrix({"weeks": RAUD["weeks"].to_numpy(float), "tester": list(RAUD["tester"])}, len(RAUD), categorical={"tester"})
    fit = harness.rma("yi", "vi", mods=["weeks", "tester"], data=RAUD)
    assert d.names == fit.coef_names and np.array_equal(d.X, fit.X)


def test_a_categorical_keeps_its_level_order_and_no_intercept_codes_every_level():
    df = RAUD.assign(tester=pd.Categorical(RAUD["tester"], categories=["blind", "aware"]))
    assert harness.rma("yi", "vi", mods=["tester"], data=df).coef_names == ("intrcpt", "testeraware")
    assert harness.rma("yi", "vi", mods=["tester"], data=df, intercept=False).coef_names == ("testerblind", "testeraware")
    booleans = RAUD.assign(aware=RAUD["tester"] == "aware")
    assert harness.rma("yi", "vi", mods=["aware"], data=booleans).coef_names == ("intrcpt", "awareTRUE")  # R: logical -> xTRUE


def test_robu_and_cr2_take_data_frames():
    corr = pd.read_csv(FIXTURES / "corrdat" / "data.csv")
    fit = harness.robu("effectsize", "var", "studyid", mods=["males", "binge"], data=corr)
    assert fit.labels == ("X.Intercept.", "males", "binge") and fit.formula == "effectsize ~ males + binge"
    c = harness.cr2("effectsize", "var", "studyid", mods=["binge"], data=corr)
    assert c.coef_names == ("intrcpt", "binge")


# ---- strict input --------------------------------------------------------------------------

def test_negative_sampling_variance_is_an_error_not_a_number():
    with pytest.raises(ValueError, match="negative sampling variance.*study 2.*constrained to zero"):
        harness.rma([0.1, 0.2, 0.3], [0.01, -0.02, 0.03])


# metafor 3.8-1 and 5.0-1, run for real: y = (.1, .3, .35, .6, .2), vi = (.01, 0, .03, .02, .05)
VI0 = np.array([0.01, 0.0, 0.03, 0.02, 0.05])
R_VI0_ERRORS = {
    "FE": "Division by zero when computing the inverse variance weights.",
    "DL": "DL estimator cannot be used when there are non-positive sampling variances in the data.",
    "HS": "HS estimator cannot be used when there are non-positive sampling variances in the data.",
    "PM": "PM estimator cannot be used when there are non-positive sampling variances in the data.",
}
R_VI0_FITS = {"REML": (0.0183041, 0.302226), "HE": (0.0135, 0.300104), "SJ": (0.0217872, 0.303418), "EB": (0.0179611, 0.302094)}  # rma(y, v)$tau2, $beta


@pytest.mark.parametrize("method", sorted(R_VI0_ERRORS))
def test_zero_variance_is_refused_where_metafor_refuses_it(method):
    with pytest.raises(ValueError) as e:
        quiet(harness.rma, Y5, VI0, method=method)
    assert R_VI0_ERRORS[method] in str(e.value) and "study 2" in str(e.value)


@pytest.mark.parametrize("method", sorted(R_VI0_FITS))
def test_zero_variance_is_fitted_where_metafor_fits_it(method):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        fit = harness.rma(Y5, VI0, method=method)
    msgs = [str(x.message) for x in w if issubclass(x.category, RmaWarning)]
    assert "There are outcomes with non-positive sampling variances." in msgs
    assert "Cannot compute Q-test, I^2, or H^2 when there are non-positive sampling variances in the data." in msgs
    tau2, beta = R_VI0_FITS[method]
    assert fit.tau2 == pytest.approx(tau2, rel=1e-5) and fit.beta[0] == pytest.approx(beta, rel=1e-5)  # R printed 6 digits
    assert math.isnan(fit.QE) and math.isnan(fit.I2) and math.isnan(fit.H2)


def test_missing_values_fail_by_default_and_are_omitted_on_request():
    y = np.array([0.1, np.nan, 0.35, 0.6, 0.2])
    with pytest.raises(ValueError, match=r"Missing values in data.*study 2 \(yi\).*na_action=\"omit\""):
        harness.rma(y, V5)
    with pytest.warns(StudiesOmittedWarning, match="omitted.*2 \\(yi\\)"):
        fit = harness.rma(y, V5, method="FE", na_action="omit")
    keep = ~np.isnan(y)
    w = 1 / V5[keep]
    assert fit.k == 4 and fit.omitted == ("2",) and fit.slab == ("1", "3", "4", "5")
    assert fit.estimate == pytest.approx(np.sum(w * y[keep]) / np.sum(w), rel=1e-14)
    df = RAUD.assign(weeks=RAUD["weeks"].where(RAUD.index != 3))
    with pytest.raises(ValueError, match="mods"):
        harness.rma("yi", "vi", mods=["weeks"], data=df)
    with pytest.warns(StudiesOmittedWarning):
        assert harness.rma("yi", "vi", mods=["weeks"], data=df, na_action="omit").k == len(RAUD) - 1


def test_unknown_keywords_are_type_errors():
    with pytest.raises(TypeError, match="vtyp"):
        harness.escalc("MD", m1i=[1], sd1i=[1], n1i=[2], m2i=[1], sd2i=[1], n2i=[2], vtyp="UB")
    with pytest.raises(TypeError):
        harness.rma(Y5, V5, methd="DL")
    with pytest.raises(TypeError, match="thresold"):
        harness.rma(Y5, V5, control={"thresold": 1e-8})
    with pytest.raises(TypeError, match="m1"):
        harness.revman("MD", m1=[1])


def test_escalc_refuses_what_metafor_refuses():
    args = dict(m1i=[1.0, 2.0], m2i=[0.0, 0.0], n1i=[10, 10], n2i=[10, 10])
    with pytest.raises(ValueError, match="One or more standard deviations are negative"):
        harness.escalc("SMD", sd1i=[-1, 1], sd2i=[1, 1], **args)
    with pytest.raises(ValueError, match="One or more group sizes are <= 0"):
        harness.escalc("SMD", sd1i=[1, 1], sd2i=[1, 1], m1i=[1, 2], m2i=[0, 0], n1i=[0, 10], n2i=[10, 10])
    # both SDs 0: metafor's escalc gives NA (with a warning); here an error, or omitted on request
    with pytest.raises(ValueError, match="cannot be computed for study 1"):
        harness.escalc("SMD", sd1i=[0, 1], sd2i=[0, 1], **args)
    with pytest.warns(StudiesOmittedWarning):
        es = harness.escalc("SMD", sd1i=[0, 1], sd2i=[0, 1], na_action="omit", **args)
    assert es.k == 1 and es.slab == ("2",) and es.omitted == ("1",)


@pytest.mark.parametrize("release, text", [
    # rma.uni's warning, verbatim from each release's R/rma.uni.r
    ("3.8-1", "Knapp & Hartung method is not meant to be used in the context of FE models."),
    ("4.8-0", "Knapp and Hartung method is not meant to be used in the context of FE models."),
    ("5.0-1", "Knapp and Hartung method is not meant to be used in the context of 'FE' models."),
])
def test_knapp_hartung_on_an_fe_model_warns_as_metafor(release, text):
    import re

    with pytest.warns(RmaWarning, match=re.escape(text)):
        harness.rma(Y5, V5, method="FE", test="knha", metafor=release)


# ---- typed results ---------------------------------------------------------------------------

def test_post_fitting_functions_return_typed_results():
    fit = harness.rma("yi", "vi", data=RAUD, slab="author")
    ci = fit.confint()
    assert isinstance(ci, ConfintResult) and ci.type == "QP"
    assert list(ci.summary_frame().index) == ["tau^2", "tau", "I^2(%)", "H^2"]
    assert ci.tau.ci_ub == pytest.approx(math.sqrt(ci.tau2.ci_ub))
    rt = fit.regtest()
    assert isinstance(rt, RegtestResult) and list(rt.summary_frame().columns) == ["zval", "pval", "ddf", "est", "ci_lb", "ci_ub"]
    l1 = fit.leave1out()
    assert isinstance(l1, Leave1outResult) and l1.summary_frame().shape == (len(RAUD), 11)
    tf = fit.trimfill()
    assert isinstance(tf, TrimfillResult) and isinstance(tf.fit, RmaResult)
    assert tf.fit.k == len(RAUD) + tf.k0 and tf.summary_frame()["fill"].sum() == tf.k0


def test_trimfill_without_filled_studies_returns_the_model():
    y = np.array([-0.2, -0.1, 0.0, 0.1, 0.2])  # symmetric about 0 with equal variances: nothing to fill
    fit = harness.rma(y, np.full(5, 0.04), method="FE")
    tf = fit.trimfill()
    assert tf.k0 == 0 and tf.fit is fit and not tf.fill.any()
    assert "Estimated number of missing studies" in str(tf)


# ---- defaults --------------------------------------------------------------------------------

def test_one_set_of_defaults_metafors():
    import inspect

    from harness.core.tau2 import DEFAULT_CONTROL

    assert DEFAULT_CONTROL["threshold"] == 1e-5 and DEFAULT_CONTROL["maxiter"] == 100  # metafor rma.uni control
    sig = inspect.signature(RmaResult.confint)
    assert sig.parameters["tol"].default == np.finfo(float).eps ** 0.25 and sig.parameters["maxiter"].default == 1000  # confint.rma.uni
    # cr2 fits tau^2 with the same defaults as rma
    corr = pd.read_csv(FIXTURES / "corrdat" / "data.csv")
    c = harness.cr2("effectsize", "var", "studyid", data=corr)
    assert c.tau2 == harness.rma("effectsize", "var", data=corr).tau2


# ---- GENQ confint: Jackson, Turner, Rhodes & Viechtbauer (2014) ---------------------------------

JACKSON = {
    # BMC Med Res Methodol 14:103, examples 1 and 2 (the values metafor's tests assert, test_analysis_example_jackson2014.r)
    "ex1": (
        [0.0267, 0.8242, 0.3930, 2.4405, 2.1401, 1.2528, 2.4849, 0.3087, 1.4246, 0.1823, 1.1378, 1.2321, 2.0695, 4.0237, 1.4383, 1.6021],
        [0.1285, 0.0315, 0.0931, 2.0967, 1.0539, 0.1602, 1.0235, 0.0218, 0.5277, 0.0556, 0.3304, 0.1721, 0.4901, 2.0200, 0.3399, 0.1830],
        [0] * 10 + [1] * 6, {"1/vi": (0.0029, 0.6907), "1/sqrt(vi)": (0.0000, 1.1245)}),
    "ex2": (
        [0.54, 0.4, 0.64, 0.365, 0.835, 0.02, 0.12, 0.085, 1.18, 0.08, 0.18, 0.325, 0.06, 0.715, 0.065, 0.245, 0.24, 0.06, 0.19],
        [0.0176, 0.019, 0.0906, 0.0861, 0.0063, 0.0126, 0.0126, 0.0041, 0.0759, 0.0126, 0.0104, 0.0242, 0.0026, 0.2629, 0.0169, 0.0156, 0.0481, 0.0084, 0.0044],
        [1986, 1987, 1988, 1988, 1998, 1999, 2000, 2000, 2000, 2001, 2001, 2001, 2002, 2002, 2002, 2002, 2003, 2003, 2003],
        {"1/vi": (0.0170, 0.1393), "1/sqrt(vi)": (0.0180, 0.1375)}),
}


@pytest.mark.parametrize("example,weights", [(e, w) for e in JACKSON for w in ("1/vi", "1/sqrt(vi)")])
def test_genq_confint_is_jacksons(example, weights):
    yi, vi, xi, expected = JACKSON[example]
    vi = np.asarray(vi)
    w = 1 / vi if weights == "1/vi" else 1 / np.sqrt(vi)
    fit = harness.rma(yi, vi, mods=np.asarray(xi, float), coef_names=["xi"], method="GENQ", weights=w)
    ci = fit.confint(tol=1e-10)
    assert ci.type == "GENQ"
    # published to 4 decimals: within one unit of the last digit (their root finding and rounding)
    assert ci.tau2.ci_lb == pytest.approx(expected[weights][0], abs=1e-4)
    assert ci.tau2.ci_ub == pytest.approx(expected[weights][1], abs=1e-4)


def _ruben_sf(q, lam, terms=4000):
    """P(sum lam_j chi2_1 > q) by Ruben's (1962) series with beta = min(lam): P(Q <= q) =
    sum_k a_k P(chi2_{r+2k} <= q/beta), a_0 = prod sqrt(beta/lam_j),
    a_k = (1/k) sum_{m=1..k} G_m a_{k-m}, G_m = 1/2 sum_j (1 - beta/lam_j)^m."""
    lam = np.asarray(lam, float)
    beta = lam.min()
    g = 1 - beta / lam
    G = np.array([0.5 * np.sum(g**m) for m in range(1, terms + 1)])
    a = np.zeros(terms + 1)
    a[0] = np.prod(np.sqrt(beta / lam))
    for k in range(1, terms + 1):
        a[k] = np.dot(G[:k], a[k - 1::-1][:k]) / k
    r = len(lam)
    cdf = np.sum(a * stats.chi2.cdf(q / beta, r + 2 * np.arange(terms + 1)))
    return 1 - cdf


def test_quadratic_form_distribution():
    from harness.core.confint import quadform_sf

    for r in (1, 2, 5, 15):  # equal weights: a chi-square
        for q in (0.5, 3.0, 10.0, 40.0):
            assert quadform_sf(q, np.ones(r)) == pytest.approx(stats.chi2.sf(q, r), abs=1e-12)
    lam = [0.4, 1.0, 2.5, 3.0, 7.0]
    for q in (1.0, 5.0, 15.0, 40.0):
        assert quadform_sf(q, lam) == pytest.approx(_ruben_sf(q, lam), abs=1e-10)


def test_confint_on_fe_and_fixed_tau2_models_is_refused_as_metafor():
    with pytest.raises(ValueError, match="Model does not contain a random-effects component."):
        harness.rma(Y5, V5, method="FE").confint()
    with pytest.raises(ValueError, match="Model does not contain an estimated random-effects component."):
        harness.rma(Y5, V5, tau2=0.1).confint()


# ---- the RevMan engine ---------------------------------------------------------------------

def test_revman_fixed_effect_md_by_hand():
    m1, sd1, n1 = np.array([10.0, 12.0]), np.array([3.0, 4.0]), np.array([20.0, 25.0])
    m2, sd2, n2 = np.array([8.0, 11.0]), np.array([3.0, 4.0]), np.array([20.0, 25.0])
    res = harness.revman("MD", m1i=m1, sd1i=sd1, n1i=n1, m2i=m2, sd2i=sd2, n2i=n2, model="fixed")
    se2 = sd1**2 / n1 + sd2**2 / n2
    w = 1 / se2
    est = np.sum(w * (m1 - m2)) / np.sum(w)
    assert res.overall.estimate == pytest.approx(est, rel=1e-14)
    assert res.overall.se == pytest.approx(1 / np.sqrt(np.sum(w)), rel=1e-14)
    assert res.weights == pytest.approx(100 * w / w.sum(), rel=1e-14)
    q = np.sum(w * (m1 - m2 - est) ** 2)
    assert res.overall.chi2 == pytest.approx(q, rel=1e-12)
    assert "Test for overall effect: Z = " in str(res)


def test_revman_subgroups_and_their_test():
    df = pd.DataFrame({"yi": [0.2, 0.4, 0.1, 0.9, 1.1], "sei": [0.1, 0.2, 0.15, 0.2, 0.3], "g": ["a", "a", "a", "b", "b"]})
    res = harness.revman("GEN", yi="yi", sei="sei", subgroup="g", model="fixed", data=df)
    # fixed-effect test for subgroup differences: Q_total - sum of Q within (Deeks & Higgins 2010)
    def q(y, s):
        w = 1 / s**2
        return np.sum(w * (y - np.sum(w * y) / np.sum(w)) ** 2)
    y, s = df["yi"].to_numpy(), df["sei"].to_numpy()
    a, b = df["g"] == "a", df["g"] == "b"
    expected = q(y, s) - q(y[a], s[a]) - q(y[b], s[b])
    assert res.subgroup_test.chi2 == pytest.approx(expected, rel=1e-12) and res.subgroup_test.df == 1
    assert set(res.subgroups) == {"a", "b"}
    assert "Test for subgroup differences" in str(res)


def test_readme_shows_a_fit_as_it_prints():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Python API"):readme.index("## Univariate analyses")]
    blocks = section.split("```")
    printed = blocks[3]  # the block after the python example
    fit = harness.rma("yi", "vi", mods=["weeks", "tester"], data=RAUD, slab="author")
    assert printed == "\n" + str(fit) + "\n"
