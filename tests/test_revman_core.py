"""RevMan 5 engine (harness.core.revman) against hand computations and metafor.

Hand computations are written out with the formulas of Deeks & Higgins (2010)
(stats-reference.md section 1); metafor runs for real through ``r_engine``.
"""
import math

import numpy as np
import pytest
from scipy import stats

from harness.core import revman

Z975 = 1.959963984540054  # qnorm(0.975), RevMan's quantile (stats-reference 1.3)


def test_md_study_effect_by_hand():
    # Normand 1999, Edinburgh: n1=155, m1=55, sd1=47; n2=156, m2=75, sd2=64
    st = revman.study_effects("MD", [55], [47], [155], [75], [64], [156])
    assert st.yi[0] == -20
    assert st.sei[0] == pytest.approx(math.sqrt(47**2 / 155 + 64**2 / 156), rel=1e-15)
    assert st.sei[0] == pytest.approx(math.sqrt(40.50802315963606), rel=1e-12)  # 14.2516129 + 26.2564103


def test_smd_study_effect_by_hand():
    # same study, RevMan SMD: pooled SD, approximate J = 1 - 3/(4N - 9), SE with N - 3.94
    N = 311
    sp = math.sqrt((154 * 47**2 + 155 * 64**2) / 309)  # sqrt(975066/309) = 56.17431...
    g = -20 / sp * (1 - 3 / (4 * N - 9))  # J = 1 - 3/1235
    se = math.sqrt(N / (155 * 156) + g**2 / (2 * (N - 3.94)))
    st = revman.study_effects("SMD", [55], [47], [155], [75], [64], [156])
    assert st.yi[0] == pytest.approx(g, rel=1e-14)
    assert st.sei[0] == pytest.approx(se, rel=1e-14)
    assert g == pytest.approx(-0.35516976, abs=1e-8) and se == pytest.approx(0.11431220, abs=1e-8)


def test_pool_fixed_and_dl_by_hand():
    # yi = 0, 2, 5 with SE 1: w = 1 each; theta_FE = 7/3; Q = (49 + 1 + 64)/9 = 114/9; df = 2
    # I2 = (Q - df)/Q = 96/114; C = sum w - sum w^2/sum w = 3 - 1 = 2; tau2 = (114/9 - 2)/2 = 16/3
    yi, sei = [0.0, 2.0, 5.0], [1.0, 1.0, 1.0]
    fe = revman.pool(yi, sei, "fixed")
    assert fe.estimate == pytest.approx(7 / 3, rel=1e-15)
    assert fe.se == pytest.approx(1 / math.sqrt(3), rel=1e-15)
    assert fe.chi2 == pytest.approx(114 / 9, rel=1e-14)
    assert fe.df == 2 and fe.tau2 == 0
    assert fe.i2 == pytest.approx(100 * 96 / 114, rel=1e-14)
    assert fe.p_chi2 == pytest.approx(math.exp(-114 / 9 / 2), rel=1e-12)  # chi2 with 2 df: P = exp(-Q/2)
    re = revman.pool(yi, sei, "random")
    assert re.tau2 == pytest.approx(16 / 3, rel=1e-14)
    assert re.estimate == pytest.approx(7 / 3, rel=1e-15)  # equal weights
    se = math.sqrt((1 + 16 / 3) / 3)  # 1/sqrt(sum 1/(1 + tau2)) = sqrt(19/9)
    assert re.se == pytest.approx(se, rel=1e-14)
    assert re.ci_lb == pytest.approx(7 / 3 - Z975 * se, rel=1e-14)
    assert re.z == pytest.approx((7 / 3) / se, rel=1e-14)
    assert re.p == pytest.approx(2 * stats.norm.sf((7 / 3) / se), rel=1e-12)
    np.testing.assert_allclose(re.weights, [100 / 3] * 3, rtol=1e-14)
    assert re.chi2 == fe.chi2 and re.i2 == fe.i2  # heterogeneity is the IV Q in both models


def test_i2_zero_when_q_below_df():
    # yi = 1, 2, 4 with SE 1, 1, 2: w = 1, 1, 1/4; theta = 4/2.25; Q = 17/9 < df = 2 -> I2 = 0, tau2 = 0
    p = revman.pool([1.0, 2.0, 4.0], [1.0, 1.0, 2.0], "random")
    assert p.chi2 == pytest.approx(17 / 9, rel=1e-14)
    assert p.i2 == 0 and p.tau2 == 0
    assert p.estimate == pytest.approx(4 / 2.25, rel=1e-15)


def test_subgroup_tests_by_hand():
    # groups a = {0, 2}, b = {5}, all SE 1.
    # fixed: Q_total - Q_a - Q_b = 114/9 - 2 - 0 = 96/9 (= Q on FE subgroup estimates 1 (W=2) and 5 (W=1))
    # random: a has Q_a = 2, df 1, C = 1 -> tau2_a = 1, so theta_a = 1 with SE 1; b: 5 with SE 1;
    #         Q = (1 - 3)^2 + (5 - 3)^2 = 8, df = 1, I2 = 7/8
    yi, sei, g = [0.0, 2.0, 5.0], [1.0, 1.0, 1.0], ["a", "a", "b"]
    f = revman.subgroup_test(yi, sei, g, "fixed")
    assert f.chi2 == pytest.approx(96 / 9, rel=1e-14) and f.df == 1
    assert f.p == pytest.approx(stats.chi2.sf(96 / 9, 1), rel=1e-12)
    r = revman.subgroup_test(yi, sei, g, "random")
    assert r.chi2 == pytest.approx(8.0, rel=1e-14)
    assert r.i2 == pytest.approx(87.5, rel=1e-14)


# ---- metafor, where the conventions coincide (MD; any yi/sei pooled by FE/DL) ---------------
NORMAND = dict(
    m1i=[55, 27, 64, 66, 14, 19, 52, 21, 30], sd1i=[47, 7, 17, 20, 8, 7, 45, 16, 27], n1i=[155, 31, 75, 18, 8, 57, 34, 110, 60],
    m2i=[75, 29, 119, 137, 18, 18, 41, 31, 23], sd2i=[64, 4, 29, 48, 11, 4, 34, 27, 20], n2i=[156, 32, 71, 18, 13, 52, 33, 183, 52],
)  # Normand (1999) Table I, as in metadat::dat.normand1999


def _close(a, b, rtol=1e-10, atol=1e-13):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=rtol, atol=atol)


@pytest.mark.parametrize("method", ["FE", "DL"])
def test_md_pool_matches_metafor(r_engine, method):
    call = r_engine.call("mh_rma", data={k: np.asarray(v, float) for k, v in NORMAND.items()}, mods={}, measure="MD", vtype="LS",
                         method=method, test="z", level=95.0, intercept=True, threshold=1e-12, maxiter=1000)
    assert call.error is None
    v = call.value
    st = revman.study_effects("MD", *(np.asarray(NORMAND[k], float) for k in ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")))
    p = revman.pool(st.yi, st.sei, "fixed" if method == "FE" else "random")
    _close(st.yi, v["yi"])
    _close(st.sei**2, v["vi"])
    _close(p.estimate, v["beta"]); _close(p.se, v["se"]); _close(p.z, v["zval"]); _close(p.p, v["pval"])
    _close(p.ci_lb, v["ci_lb"]); _close(p.ci_ub, v["ci_ub"]); _close(p.tau2, v["tau2"])
    _close(p.chi2, v["QE"]); _close(p.p_chi2, v["QEp"]); _close(p.i2, v["I2"]); _close(p.weights, v["weights"])


@pytest.mark.parametrize("model", ["fixed", "random"])
def test_smd_revman_matches_r_twin(r_engine, model):
    """RevMan's SMD computed in R (r_scripts/revman.R) and pooled by metafor::rma(yi, sei=)."""
    data = {k: np.asarray(v, float) for k, v in NORMAND.items()}
    call = r_engine.call("mh_revman", data=data, measure="SMD", model=model)
    assert call.error is None
    v = call.value
    st = revman.study_effects("SMD", *(data[k] for k in ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")))
    p = revman.pool(st.yi, st.sei, model)
    _close(st.yi, v["yi"]); _close(st.sei, v["sei"])
    for ours, theirs in ((p.estimate, "estimate"), (p.se, "se"), (p.ci_lb, "ci_lb"), (p.ci_ub, "ci_ub"), (p.z, "z"), (p.p, "p"),
                         (p.tau2, "tau2"), (p.chi2, "chi2"), (p.p_chi2, "p_chi2"), (p.i2, "i2"), (p.weights, "weights")):
        _close(ours, v[theirs])
    if model == "random":
        # stats-reference.md 1.2 [verified]: RevMan SMD, DL: -0.5293 [-1.0355, -0.0231]
        assert round(p.estimate, 4) == -0.5293 and round(p.ci_lb, 4) == -1.0355 and round(p.ci_ub, 4) == -0.0231


def test_subgroup_tests_match_metafor_counterparts(r_engine):
    """Fixed: FE meta-regression QM; random: per-subgroup DL fits + rma(b, sei, FE)$QE; and the
    mixed-effects QM (common tau^2) is a different number."""
    data = {k: np.asarray(v, float) for k, v in NORMAND.items()}
    groups = ["Edinburgh", "Orpington", "Orpington", "Orpington", "Montreal", "Montreal", "other", "other", "other"]
    call = r_engine.call("mh_revman_subgroup", data=data, group=groups, measure="SMD")
    assert call.error is None
    v = call.value
    st = revman.study_effects("SMD", *(data[k] for k in ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")))
    f = revman.subgroup_test(st.yi, st.sei, groups, "fixed")
    r = revman.subgroup_test(st.yi, st.sei, groups, "random")
    _close(f.chi2, v["chi2_fixed"]); _close(f.p, v["p_fixed"]); _close(f.chi2, v["chi2_fixed_sep"])
    _close(r.chi2, v["chi2_random"]); _close(r.p, v["p_random"])
    assert f.df == r.df == 3
    assert abs(r.chi2 - v["QM_mixed"][0]) > 1e-3  # RevMan's random test is not metafor's mixed-effects QM


def test_subgroup_fixed_on_bcg_matches_published_check(r_engine):
    """stats-reference.md 1.7 [verified]: dat.bcg log RR by allocation, Q_between = 19.86537 (= metafor QM)."""
    # dat.bcg (metadat 1.2-0, printed with Rscript): tpos, tneg, cpos, cneg and alloc, Colditz et al. (1994)
    tpos = [4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27]
    tneg = [119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886]
    cpos = [11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29]
    cneg = [128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825]
    alloc = ["random", "random", "random", "random", "alternate", "alternate", "random", "random", "random", "systematic", "systematic", "systematic", "systematic"]
    a, b, c, d = (np.asarray(x, float) for x in (tpos, tneg, cpos, cneg))
    yi = np.log(a / (a + b)) - np.log(c / (c + d))  # log risk ratio
    sei = np.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))
    f = revman.subgroup_test(yi, sei, alloc, "fixed")
    assert round(f.chi2, 5) == 19.86537
    call = r_engine.call("mh_revman_subgroup", data={"yi": yi, "sei": sei}, group=alloc, measure="GEN")
    assert call.error is None
    _close(f.chi2, call.value["chi2_fixed"])
