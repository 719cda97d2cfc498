"""RVE (robumeta robu/sensitivity): published values, robumeta's own test values,
hand computations, and robumeta run for real at the edges."""
import csv
import warnings
from pathlib import Path

import numpy as np
import pytest

import harness
from harness.core import rve
from harness.api.rve import RobuWarning, r_make_names

FIX = Path(__file__).resolve().parent.parent / "fixtures"


def _read(path):
    rows = list(csv.DictReader(open(path)))
    return {k: [r[k] for r in rows] for k in rows[0]}


def _num(d, k):
    return np.array([float(x) for x in d[k]])


@pytest.fixture(scope="module")
def corrdat():
    return _read(FIX / "corrdat/data.csv")


@pytest.fixture(scope="module")
def hierdat():
    return _read(FIX / "hierdat/data.csv")


def _fit(d, mods=(), **kw):
    M = np.column_stack([_num(d, m) for m in mods]) if mods else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RobuWarning)
        return harness.robu(_num(d, "effectsize"), _num(d, "var"), _num(d, "studyid"), mods=M, coef_names=list(mods) or None, **kw)


# --- robumeta's own test suite (zackfisher/robumeta, tests/testthat/*.R), values as
# --- written there; asserted to half a unit of the last digit given ----------------------
def test_robumeta_testCorrelated(corrdat):
    """tests/testthat/testCorrelated.R: corrdat, effectsize ~ followup, CORR, rho = 1."""
    fit = _fit(corrdat, ["followup"], rho=1.0, small=True)
    assert fit.tau_sq == pytest.approx(0.12361242975, rel=0, abs=1e-11)  # written truncated: ...2975(9)
    np.testing.assert_allclose(fit.b_r, [0.334200417, -0.002179469], rtol=0, atol=5e-10)
    np.testing.assert_allclose(fit.dfs, [22.946909551160, 1.853700618431], rtol=0, atol=5e-13)
    assert list(_fit(corrdat, ["followup"], rho=1.0, small=False).dfs) == [37, 37]


def test_robumeta_testHierarchical(hierdat):
    """tests/testthat/testHierarchical.R: hierdat, effectsize ~ followup, HIER."""
    fit = _fit(hierdat, ["followup"], modelweights="HIER", small=True)
    assert fit.tau_sq == pytest.approx(0.06541402, rel=0, abs=5e-9)
    assert fit.omega_sq == pytest.approx(0.16360794, rel=0, abs=5e-9)
    np.testing.assert_allclose(fit.b_r, [0.2610277292, -0.0001810645], rtol=0, atol=5e-11)
    np.testing.assert_allclose(fit.dfs, [3.1683243, 1.5765336], rtol=0, atol=5e-8)
    assert list(_fit(hierdat, ["followup"], modelweights="HIER", small=False).dfs) == [13, 13]


def test_robumeta_testUserWeights(corrdat):
    """tests/testthat/testUserWeights.R: user weights = the CORR (rho = 1) final weights
    (corrdat is already sorted by study, so robumeta's sorted r.weights line up)."""
    uw = _fit(corrdat, ["followup"], rho=1.0).r_weights
    fit = _fit(corrdat, ["followup"], userweights=uw, small=True)
    np.testing.assert_allclose(fit.b_r, [0.334200417, -0.002179469], rtol=0, atol=5e-10)
    np.testing.assert_allclose(fit.dfs, [9.88413624629, 1.32957029417], rtol=0, atol=5e-12)
    assert list(_fit(corrdat, ["followup"], userweights=uw, small=False).dfs) == [37, 37]


# --- Fisher & Tipton (2015), robumeta vignette (robumeta/doc/robumetaVignette.pdf) ---------
def test_fisher_tipton_2015_intercept_and_sensitivity():
    """Section 6.2-6.3: oswald2013.ex1, intercept only, CORR rho = .8, small = TRUE.
    Printed: I.sq = 82.05272, Tau.Sq = 0.1849812; estimate 0.277, SE 0.181, t 1.53,
    df 7.84, p 0.164, CI -0.141 0.695; sensitivity: estimate/SE 0.277/0.181 at every rho,
    Tau.Sq 0.184 0.184 0.184 0.185 0.185 0.185."""
    d = _read(FIX / "oswald2013/ex1.csv")
    fit = harness.robu(_num(d, "effect.size"), _num(d, "var.eff.size"), d["Study"], rho=0.8, small=True)
    assert round(fit.I_2, 5) == 82.05272
    assert round(fit.tau_sq, 7) == 0.1849812
    assert (fit.N, fit.M, round(fit.k_mean, 2), fit.k_median, fit.k_min, fit.k_max) == (9, 32, 3.56, 2, 1, 11)
    assert [round(fit.b_r[0], 3), round(fit.SE[0], 3), round(fit.t[0], 2), round(fit.dfs[0], 2), round(fit.prob[0], 3)] == [0.277, 0.181, 1.53, 7.84, 0.164]
    assert [round(fit.CI_L[0], 3), round(fit.CI_U[0], 3)] == [-0.141, 0.695]
    assert fit.labels == ("X.Intercept.",)
    s = harness.sensitivity(_num(d, "effect.size"), _num(d, "var.eff.size"), d["Study"])
    assert list(np.round(s.b_r[:, 0], 3)) == [0.277] * 6
    assert list(np.round(s.SE[:, 0], 3)) == [0.181] * 6
    assert list(np.round(s.tau_sq, 3)) == [0.184, 0.184, 0.184, 0.185, 0.185, 0.185]


def test_fisher_tipton_2015_hierarchical(hierdat):
    """Section 6.7: hierdat, effectsize ~ followup_c + followup_m + binge, HIER, small.
    Printed: Omega.sq = 0.1650524, Tau.Sq = 0.02479249, 15 clusters, 68 outcomes, and the table."""
    with pytest.warns(RobuWarning, match="df < 4 for followup_c, followup_m"):
        fit = harness.robu(_num(hierdat, "effectsize"), _num(hierdat, "var"), _num(hierdat, "studyid"),
                           mods=np.column_stack([_num(hierdat, m) for m in ("followup_c", "followup_m", "binge")]),
                           coef_names=["followup_c", "followup_m", "binge"], modelweights="HIER")
    assert round(fit.omega_sq, 7) == 0.1650524 and round(fit.tau_sq, 8) == 0.02479249
    assert (fit.N, fit.M) == (15, 68)
    np.testing.assert_array_equal(np.round(fit.b_r, 6), [-0.154226, -0.000162, 0.003467, 0.666645])
    np.testing.assert_array_equal(np.round(fit.SE, 6), [0.147671, 0.000695, 0.002320, 0.115623])
    np.testing.assert_array_equal(np.round(fit.dfs, 2), [6.07, 1.30, 3.28, 4.33])
    np.testing.assert_array_equal(np.round(fit.prob, 4), [0.3361, 0.8470, 0.2243, 0.0035])
    np.testing.assert_array_equal(np.round(fit.CI_U, 5), [0.20615, 0.00502, 0.01050, 0.97815])
    assert fit.sig == ("", "", "", "***")


def test_tanner_smith_tipton_corrdat_small_false(corrdat):
    """robumeta's print of corrdat, effectsize ~ males + college + binge, CORR rho = .8,
    small = FALSE (the Tanner-Smith & Tipton 2014 example, as reproduced in
    J. Pustejovsky's 'Another meta-sandwich', jepusto.com): I.sq = 75.08352,
    Tau.sq = 0.1557714; estimates 0.31936 -0.00331 0.41226 0.13774; SEs 0.27784
    0.00376 0.18685 0.12586; df 35; college p 0.034 (**)."""
    fit = _fit(corrdat, ["males", "college", "binge"], small=False)
    assert round(fit.I_2, 5) == 75.08352 and round(fit.tau_sq, 7) == 0.1557714
    np.testing.assert_array_equal(np.round(fit.b_r, 5), [0.31936, -0.00331, 0.41226, 0.13774])
    np.testing.assert_array_equal(np.round(fit.SE, 5), [0.27784, 0.00376, 0.18685, 0.12586])
    assert list(fit.dfs) == [35] * 4 and round(fit.prob[2], 3) == 0.034 and fit.sig[2] == "**"


# --- hand computations -------------------------------------------------------------------
def test_corr_one_effect_per_study_is_dersimonian_laird():
    """k_j = 1: CORR weights are 1/v, termB = 0, and tau^2 = (Qe - (N-1))/(sum w - sum w^2/sum w),
    DerSimonian-Laird (written out); rho has no effect."""
    y = np.array([0.1, 0.5, 0.9, -0.2, 0.4])
    v = np.array([0.04, 0.09, 0.05, 0.1, 0.02])
    w = 1 / v
    mu = (w * y).sum() / w.sum()
    Q = (w * (y - mu) ** 2).sum()
    dl = (Q - 4) / (w.sum() - (w**2).sum() / w.sum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RobuWarning)
        fits = [harness.robu(y, v, [1, 2, 3, 4, 5], rho=r) for r in (0.0, 0.8, 1.0)]
    for f in fits:
        assert f.tau_sq == pytest.approx(dl, rel=1e-13)
        assert f.I_2 == pytest.approx(100 * (Q - 4) / Q, rel=1e-13)
        wr = 1 / (v + dl)
        assert f.b_r[0] == pytest.approx((wr * y).sum() / wr.sum(), rel=1e-13)


def test_negative_tau2_is_truncated_to_zero():
    # identical effects: Qe = 0 < N - termA, tau^2 = max(0, negative) = 0; I^2 = 0/0 -> NaN in robumeta too
    fit = harness.robu([0.3, 0.3, 0.3, 0.3], [0.1, 0.2, 0.1, 0.3], [1, 1, 2, 3], small=False)
    assert fit.tau_sq == 0.0 and fit.term1 + 0.8 * fit.term2 < 0


def test_make_names_and_sig_stars():
    assert r_make_names(["(Intercept)", "deltype overt", "x", "x", "1a"]) == ["X.Intercept.", "deltype.overt", "x", "x.1", "X1a"]
    # robumeta: exactly .01 and .05 get no star
    assert rve.sig_stars([0.009, 0.01, 0.02, 0.05, 0.07, 0.1, 0.5]) == ("***", "", "**", "", "*", "", "")


def test_batched_matches_single(corrdat):
    """Stacked datasets with a shared study layout give the single-fit numbers."""
    B = rve.StudyBlocks.from_ids(_num(corrdat, "studyid"))
    y, v = _num(corrdat, "effectsize"), _num(corrdat, "var")
    X = np.column_stack([np.ones(len(y)), _num(corrdat, "males")])
    ys = np.stack([y, y * 0.5 + 0.1, -y])
    out = rve.robu_blocks(rve.pad_rows(B, ys), rve.pad_rows(B, np.stack([v] * 3)), rve.pad_design(B, np.stack([X] * 3)), B.mask)
    for i in range(3):
        one = rve.robu_blocks(rve.pad_rows(B, ys[i]), rve.pad_rows(B, v), rve.pad_design(B, X), B.mask)
        for q in ("b_r", "SE", "dfs", "tau_sq"):
            np.testing.assert_allclose(out[q][i], one[q], rtol=1e-12)


# --- the edges, both engines run for real -------------------------------------------------
@pytest.mark.r
def test_singular_design_errors_in_both_engines(r_engine, corrdat):
    males = _num(corrdat, "males")
    with pytest.raises(rve.SingularDesignError, match="singular"):
        _fit(corrdat, ["males", "college"], rho=0.8) if False else harness.robu(
            _num(corrdat, "effectsize"), _num(corrdat, "var"), _num(corrdat, "studyid"),
            mods=np.column_stack([males, 2 * males]), coef_names=["males", "m2"])
    r = r_engine.call("mh_robu", data={"yi": _num(corrdat, "effectsize"), "vi": _num(corrdat, "var"), "study": _num(corrdat, "studyid")},
                      mods={"males": males, "m2": 2 * males})
    assert r.error is not None and "singular" in r.error  # robumeta: solve() 'system is exactly singular'


@pytest.mark.r
def test_hier_one_effect_per_study(r_engine, corrdat):
    """HIER with one effect per study: omega^2 = 0/0. robumeta errors (intercept only) or
    returns a rounding-driven number (with a moderator); Python always raises."""
    first = np.unique(_num(corrdat, "studyid"), return_index=True)[1]
    y, v, s = _num(corrdat, "effectsize")[first], _num(corrdat, "var")[first], _num(corrdat, "studyid")[first]
    with pytest.raises(rve.UndefinedVarianceComponents):
        harness.robu(y, v, s, modelweights="HIER")
    r = r_engine.call("mh_robu", data={"yi": y, "vi": v, "study": s}, modelweights="HIER")
    assert r.error is not None and "singular" in r.error


@pytest.mark.r
def test_hier_single_effect_studies_and_one_per_study_corr(r_engine, corrdat):
    """Mixed k_j (some studies with one effect) under HIER, and k_j = 1 under CORR, against robumeta."""
    first = np.unique(_num(corrdat, "studyid"), return_index=True)[1]
    cases = [(np.arange(len(corrdat["studyid"])), "HIER"), (first, "CORR")]
    for idx, mw in cases:
        y, v, s = _num(corrdat, "effectsize")[idx], _num(corrdat, "var")[idx], _num(corrdat, "studyid")[idx]
        m = _num(corrdat, "males")[idx]
        for small in (True, False):
            py = harness.robu(y, v, s, mods=m, coef_names=["males"], modelweights=mw, small=small)
            r = r_engine.call("mh_robu", data={"yi": y, "vi": v, "study": s}, mods={"males": m}, modelweights=mw, small=small).value
            for q in ("b_r", "SE", "dfs", "prob", "CI_L", "CI_U"):
                np.testing.assert_allclose(getattr(py, q), r[q], rtol=1e-10)
            np.testing.assert_allclose(py.tau_sq, r["tau_sq"][0], rtol=1e-10)


@pytest.mark.r
def test_sensitivity_prints_what_robumeta_prints(r_engine, corrdat):
    """Python's sensitivity numbers, formatted by R's format(digits = 3) as
    robumeta::sensitivity() does, equal robumeta's printed table string for string."""
    mods = ["males", "college", "binge"]
    s = harness.sensitivity(_num(corrdat, "effectsize"), _num(corrdat, "var"), _num(corrdat, "studyid"),
                            mods=np.column_stack([_num(corrdat, m) for m in mods]), coef_names=mods)
    r = r_engine.call("mh_robu_sensitivity", data={"yi": _num(corrdat, "effectsize"), "vi": _num(corrdat, "var"), "study": _num(corrdat, "studyid")},
                      mods={m: _num(corrdat, m) for m in mods})
    assert r.error is None and not r.warnings
    for i, g in enumerate(r.value["grid"]):
        vals = [x for j in range(4) for x in (s.b_r[i, j], s.SE[i, j])] + [s.tau_sq[i]]
        mine = r_engine.call("mh_format_sensitivity", x=np.array(vals)).value
        assert mine == g["printed"]
