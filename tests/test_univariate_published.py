"""Published values reproduced by the Python core, at the precision they are printed.

Every number below is copied from the publication named next to it (the
tables metafor's own tests check, tests/testthat/test_analysis_example_*.r in
the metafor repository, point at the same pages). Log odds ratios are computed
here by hand, log((a d)/(b c)) with variance 1/a + 1/b + 1/c + 1/d, since the
odds ratio is not one of the harness's measures. No value comes from our own
output or from R.
"""
import csv
import math
from pathlib import Path

import numpy as np
import pytest

import harness

FIX = Path(__file__).resolve().parent.parent / "fixtures"


def _read(name):
    return list(csv.DictReader(open(FIX / name / "data.csv", encoding="utf-8")))


def _log_or(ai, n1i, ci, n2i):
    """Hand computation: log odds ratio and its large-sample variance."""
    ai, n1i, ci, n2i = map(lambda x: np.asarray(x, float), (ai, n1i, ci, n2i))
    bi, di = n1i - ai, n2i - ci
    return np.log(ai * di / (bi * ci)), 1 / ai + 1 / bi + 1 / ci + 1 / di


# --- Raudenbush (2009), Handbook of Research Synthesis and Meta-Analysis, 2nd ed., ch. 16 --------------
RAUD = _read("raudenbush1985")
RY = np.array([float(r["yi"]) for r in RAUD])
RV = np.array([float(r["vi"]) for r in RAUD])
WEEKS = np.array([float(r["weeks"]) for r in RAUD])


@pytest.mark.parametrize(
    "method, tau2, mu, se, z, lb, ub",
    # Table 16.3, p. 309, conventional (z) inference, 3 decimals
    [("FE", 0.0, 0.060, 0.036, 1.655, -0.011, 0.132),
     ("ML", 0.013, 0.078, 0.047, 1.637, -0.015, 0.171),
     ("REML", 0.019, 0.084, 0.052, 1.621, -0.018, 0.185),
     ("DL", 0.026, 0.089, 0.056, 1.601, -0.020, 0.199),
     ("HE", 0.080, 0.114, 0.079, 1.443, -0.041, 0.270)],
)
def test_raudenbush2009_table16_3_z(method, tau2, mu, se, z, lb, ub):
    fit = harness.rma(RY, RV, method=method)
    got = [round(fit.tau2, 3), round(fit.beta[0], 3), round(fit.se[0], 3), round(fit.zval[0], 3), round(fit.ci_lb[0], 3), round(fit.ci_ub[0], 3)]
    assert got == [tau2, mu, se, z, lb, ub]


@pytest.mark.parametrize(
    "method, se, t, lb, ub",
    # Table 16.3, p. 309, Knapp-Hartung (t) inference, 3 decimals
    [("FE", 0.051, 1.173, -0.048, 0.168),
     ("ML", 0.059, 1.311, -0.047, 0.202),
     ("REML", 0.062, 1.359, -0.046, 0.213),
     ("DL", 0.064, 1.405, -0.044, 0.223),
     ("HE", 0.071, 1.608, -0.035, 0.264)],
)
def test_raudenbush2009_table16_3_knha(method, se, t, lb, ub):
    fit = harness.rma(RY, RV, method=method, test="knha")
    got = [round(fit.se[0], 3), round(fit.zval[0], 3), round(fit.ci_lb[0], 3), round(fit.ci_ub[0], 3)]
    assert got == [se, t, lb, ub]


def test_raudenbush2009_table16_2_mixed_model():
    """Table 16.2, p. 301: weeks of prior contact recoded 0, 1, 2, 3+ (weeks > 3 -> 3)."""
    weeks_c = np.minimum(WEEKS, 3)
    fit = harness.rma(RY, RV, mods=weeks_c, coef_names=["weeks.c"], method="REML")
    assert round(fit.tau2, 3) == 0.0
    assert [round(b, 3) for b in fit.beta] == [0.407, -0.157]
    assert round(fit.QE, 2) == 16.57
    assert [round(z, 2) for z in fit.zval] == [4.68, -4.39]
    fe = harness.rma(RY, RV, method="FE")
    assert round(fe.QE, 2) == 35.83  # Table 16.2 homogeneity test


# --- Viechtbauer (2005), J Educ Behav Stat 30:261-293 ---------------------------------------------------
# The two example data sets are printed in the paper (3 decimals); tau2, I2, H2 on pp. 271-272.
V05_1 = (np.array([-0.581, 0.530, 0.771, 1.031, 0.553, 0.295, 0.078, 0.573, -0.176, -0.232]),
         np.array([0.023, 0.052, 0.060, 0.115, 0.095, 0.203, 0.200, 0.211, 0.051, 0.040]))
V05_2 = (np.array([0.100, -0.162, -0.090, -0.049, -0.046, -0.010, -0.431, -0.261, 0.134, 0.019, 0.175, 0.056, 0.045, 0.103, 0.121, -0.482, 0.290, 0.342]),
         np.array([0.016, 0.015, 0.050, 0.050, 0.032, 0.052, 0.036, 0.024, 0.034, 0.033, 0.031, 0.034, 0.039, 0.167, 0.134, 0.096, 0.016, 0.035]))
METHODS_05 = ("HS", "HE", "DL", "ML", "REML", "EB", "SJ")


@pytest.mark.parametrize(
    "data, tau2, I2, H2",
    [(V05_1, [0.228, 0.148, 0.277, 0.197, 0.223, 0.192, 0.199], [77.23, 68.80, 80.44, 74.51, 76.84, 74.05, 74.75], [4.39, 3.21, 5.11, 3.92, 4.32, 3.85, 3.96]),  # p. 271
     (V05_2, [0.010, 0.000, 0.013, 0.013, 0.016, 0.010, 0.025], [22.93, 0.00, 27.53, 28.45, 32.02, 23.72, 42.67], [1.30, 1.00, 1.38, 1.40, 1.47, 1.31, 1.74])],  # p. 272
    ids=["example1", "example2"],
)
def test_viechtbauer2005_estimators(data, tau2, I2, H2):
    fits = [harness.rma(*data, method=m) for m in METHODS_05]
    assert [round(f.tau2, 3) for f in fits] == tau2
    assert [round(f.I2, 2) for f in fits] == I2
    assert [round(f.H2, 2) for f in fits] == H2


# --- DerSimonian & Kacker (2007), Contemp Clin Trials 28:105-114, CLASP trials ---------------------------
# Counts from the paper (Table 2); log odds ratios by hand. Tables 3 and 4, pp. 111-112: tau, mu, se (4 dp).
CLASP = _log_or(ai=[5, 5, 12, 69, 9, 313], n1i=[156, 303, 565, 1570, 103, 4659], ci=[8, 17, 9, 94, 11, 352], n2i=[74, 303, 477, 1565, 105, 4650])
CLASP_EXPECTED = {  # name: (tau, mu, se)
    "PM": (0.3681, -0.3811, 0.2060),
    "CA": (0.4410, -0.4035, 0.2327),
    "DL": (0.2323, -0.3240, 0.1540),
    "CA2": (0.3831, -0.3861, 0.2115),
    "DL2": (0.3254, -0.3655, 0.1901),
    "EB": (0.3681, -0.3811, 0.2060),
    "ML": (0.0023, -0.1974, 0.0694),
    "REML": (0.1843, -0.2980, 0.1343),
    "HS": (0.1330, -0.2666, 0.1125),
    "SJ": (0.4572, -0.4079, 0.2386),
    "SJ2": (0.4084, -0.3941, 0.2208),
}


def _clasp_fit(name):
    y, v = CLASP
    if name == "CA":
        return harness.rma(y, v, method="HE")
    if name in ("CA2", "DL2"):
        # two-step estimators: GENQ with weights 1/(v + tau2 of step one), then tau2 fixed
        t1 = harness.rma(y, v, method="HE" if name == "CA2" else "DL").tau2
        t2 = harness.rma(y, v, method="GENQ", weights=1 / (v + t1)).tau2
        return harness.rma(y, v, tau2=t2)
    if name == "SJ2":
        return harness.rma(y, v, method="SJ", control={"tau2_init": harness.rma(y, v, method="HE").tau2})
    return harness.rma(y, v, method=name)


@pytest.mark.parametrize("name", list(CLASP_EXPECTED))
def test_dersimonian_kacker2007_tables_3_4(name):
    fit = _clasp_fit(name)
    got = (round(math.sqrt(fit.tau2), 4), round(fit.beta[0], 4), round(fit.se[0], 4))
    assert got == CLASP_EXPECTED[name]


# --- Viechtbauer (2007), Stat Med 26:37-52, Collins et al. (1985) diuretics in pregnancy ----------------
# Counts: metadat's dat.collins1985b (pre-eclampsia), as printed in the paper; Table II, p. 44.
COLLINS = _log_or(ai=[14, 21, 14, 6, 12, 138, 15, 6, 65], n1i=[131, 385, 57, 38, 1011, 1370, 506, 108, 153],
                  ci=[14, 17, 24, 18, 35, 175, 20, 2, 40], n2i=[136, 134, 48, 40, 760, 1336, 524, 103, 102])


def test_viechtbauer2007_table2_estimates():
    got = [round(harness.rma(*COLLINS, method=m).tau2, 3) for m in ("DL", "ML", "REML", "SJ")]
    assert got == [0.230, 0.239, 0.301, 0.456]


def test_viechtbauer2007_table2_q_profile_ci():
    from harness.core.confint import confint_tau2

    y, v = COLLINS
    fit = harness.rma(y, v, method="DL")
    ci = confint_tau2(y, v, np.ones((len(y), 1)), fit.tau2, fit.vt, tol=1e-12)
    assert [round(float(b), 3) for b in ci["tau2"]] == [0.072, 2.203]


# --- Normand (1999), Stat Med 18:321-359 ---------------------------------------------------------------
def test_normand1999_table8_study_variances():
    """Table VIII p. 351: per-study MD variances with the pooled SD (metafor vtype "HO"), 2 dp.
    (The paper prints no per-study CIs for these data, so none are asserted.)"""
    rows = _read("normand1999")
    col = lambda k: np.array([float(r[k]) for r in rows])
    es = harness.escalc("MD", vtype="HO", **{k: col(k) for k in ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")})
    assert list(es.yi) == [-20, -2, -55, -71, -4, 1, 11, -10, 7]
    assert [round(x, 2) for x in es.vi] == [40.59, 2.05, 15.28, 150.22, 20.19, 1.22, 95.38, 8.03, 20.69]
