"""Published results for dichotomous outcomes reproduced by the Python core.

Every reference number below is a published value at the precision it is
printed (the tolerance is half a unit of its last digit), copied as metafor's
own tests transcribe them (metafor repository, tests/testthat/, file named at
each test). Nothing comes from our own output or from R.
"""
import csv
import math
from pathlib import Path

import numpy as np
import pytest

import harness
from harness.core import revman_binary as rb

FIX = Path(__file__).resolve().parent.parent / "fixtures"


def _cols(name, *cols, skip_empty=True):
    rows = list(csv.DictReader(open(FIX / name / "data.csv", encoding="utf-8")))
    if skip_empty:
        rows = [r for r in rows if all(r[c] != "" for c in cols)]
    return [np.array([float(r[c]) for r in rows]) for c in cols]


def half_unit(x):
    """Half a unit in the last printed digit of the decimal text ``x``."""
    d = len(x.split(".")[1]) if "." in x else 0
    return 0.5 * 10 ** (-d)


def close(value, printed):
    assert abs(value - float(printed)) <= half_unit(printed) + 1e-12, (value, printed)


# --- Yusuf et al. (1985), Prog Cardiovasc Dis 27:335-371, p. 107: Table 6 (short-term beta blockade) ----------
# metafor tests/testthat/test_analysis_example_yusuf1985.r
YUSUF = _cols("yusuf1985", "ai", "n1i", "ci", "n2i")


def test_yusuf1985_peto_odds_ratio():
    ai, n1i, ci, n2i = YUSUF
    fit = harness.rma_peto(ai=ai, n1i=n1i, ci=ci, n2i=n2i)
    close(fit.pred, "0.9332")
    close(fit.pred_ci.low, "0.7385")
    close(fit.pred_ci.high, "1.1792")
    # three tables without deaths (Pitt, Hutton, Yusuf): no Peto log OR, as metafor warns
    assert fit.warnings == ("Some yi/vi values are NA.",)
    assert fit.k == 21 and fit.k_yi == 18


def test_yusuf1985_peto_by_inverse_variance():
    """The same odds ratio by IV pooling of escalc's Peto log ORs without a correction (add = 0)."""
    ai, n1i, ci, n2i = YUSUF
    with pytest.warns(RuntimeWarning, match=r"\+-Inf"):
        es = harness.escalc("PETO", ai=ai, n1i=n1i, ci=ci, n2i=n2i, add=0)
    ok = ~np.isnan(es.yi)
    fit = harness.rma(es.yi[ok], es.vi[ok], method="EE")
    close(math.exp(fit.beta[0]), "0.9332")
    close(math.exp(fit.ci_lb[0]), "0.7385")
    close(math.exp(fit.ci_ub[0]), "1.1792")


# --- Normand (1999), Stat Med 18:321-359: lidocaine trials (dat.hine1989), risk differences in percent ---------
# metafor tests/testthat/test_analysis_example_normand1999.r
HINE = _cols("hine1989", "ai", "n1i", "ci", "n2i")


def test_normand1999_table3_risk_differences():
    """Table III (p. 330): study RDs and variances in percentage points, and 95% CIs."""
    ai, n1i, ci, n2i = HINE
    es = harness.escalc("RD", ai=ai, n1i=n1i, ci=ci, n2i=n2i)
    for got, want in zip(100 * es.yi, ["2.8026", "0.0000", "1.9711", "1.7961", "3.5334", "4.4031"]):
        close(got, want)
    for got, want in zip(100**2 * es.vi, ["17.7575", "37.5657", "8.1323", "10.8998", "8.0114", "6.1320"]):
        close(got, want)
    lb, ub = es.ci()
    for got, want in zip(100 * lb, ["-5.4566", "-12.0128", "-3.6182", "-4.6747", "-2.0141", "-0.4503"]):
        close(got, want)
    for got, want in zip(100 * ub, ["11.0618", "12.0128", "7.5604", "8.2669", "9.0810", "9.2566"]):
        close(got, want)


@pytest.mark.parametrize("method", ["EE", "REML", "DL"])
def test_normand1999_table7_pooled(method):
    """Table VII (p. 349): 2.9444 [0.3831, 5.5058] for the fixed- and both random-effects models (tau^2 = 0)."""
    ai, n1i, ci, n2i = HINE
    es = harness.escalc("RD", ai=ai, n1i=n1i, ci=ci, n2i=n2i)
    fit = harness.rma(100 * es.yi, 100**2 * es.vi, method=method)
    close(fit.beta[0], "2.9444")
    close(fit.ci_lb[0], "0.3831")
    close(fit.ci_ub[0], "5.5058")
    if method != "EE":
        close(fit.tau2, "0.0000")


# --- Rothman, Greenland & Lash (2008), Modern Epidemiology, 3rd ed., ch. 15, Table 15-1 (tolbutamide, two age strata)
# metafor tests/testthat/test_analysis_example_rothman2008.r (its comments note where the chapter rounds further)
ROTHMAN = dict(ai=[8, 22], bi=[98, 76], ci=[5, 16], di=[115, 69])


def test_rothman2008_mh_risk_difference():
    fit = harness.rma_mh(measure="RD", level=90, **ROTHMAN)
    close(fit.beta, "0.0349")
    close(fit.ci_lb, "-0.0176")
    close(fit.ci_ub, "0.0874")  # 0.088 in the chapter
    close(fit.QE, "0.0017")  # 0.001 in the chapter
    close(fit.QEp, "0.9669")


def test_rothman2008_mh_risk_ratio():
    fit = harness.rma_mh(measure="RR", level=90, **ROTHMAN)
    close(fit.beta, "0.2818")
    close(fit.ci_lb, "-0.1442")
    close(fit.ci_ub, "0.7078")
    close(fit.QE, "0.4472")
    close(fit.QEp, "0.5037")
    close(fit.pred, "1.3256")
    close(fit.pred_ci.low, "0.8658")
    close(fit.pred_ci.high, "2.0296")


def test_rothman2008_mh_odds_ratio_and_tests():
    fit = harness.rma_mh(measure="OR", correct=False, level=90, **ROTHMAN)
    for name, want in (("beta", "0.3387"), ("ci_lb", "-0.1731"), ("ci_ub", "0.8505"), ("QE", "0.3474"), ("QEp", "0.5556"),
                       ("CO", "1.1976"), ("COp", "0.2738"), ("MH", "1.1914"), ("MHp", "0.2750"), ("TA", "0.3489"), ("TAp", "0.5547")):
        close(getattr(fit, name), want)
    close(fit.pred, "1.4031")
    close(fit.pred_ci.low, "0.8411")
    close(fit.pred_ci.high, "2.3409")


# --- Stata's metan on dat.bcg (Colditz et al. 1994), as printed by `metan tpos tneg cpos cneg, fixed nograph ...` --
# metafor tests/testthat/test_misc_metan_vs_rma.mh_with_dat.bcg.r and ..._rma.peto_with_dat.bcg.r
BCG = dict(zip(("ai", "bi", "ci", "di"), _cols("bcg", "tpos", "tneg", "cpos", "cneg")))


@pytest.mark.parametrize("measure, est, lb, ub, z, qe, pred, plb, pub", [
    ("RR", "-0.4537", "-0.5308", "-0.3766", "-11.5338", "152.5676", "0.6353", "0.5881", "0.6862"),
    ("OR", "-0.4734", "-0.5538", "-0.3930", "-11.5444", "163.9426", "0.6229", "0.5748", "0.6750"),
])
def test_metan_bcg_mantel_haenszel(measure, est, lb, ub, z, qe, pred, plb, pub):
    fit = harness.rma_mh(measure=measure, **BCG)
    for got, want in ((fit.beta, est), (fit.ci_lb, lb), (fit.ci_ub, ub), (fit.zval, z), (fit.QE, qe), (fit.pred, pred),
                      (fit.pred_ci.low, plb), (fit.pred_ci.high, pub)):
        close(got, want)


def test_metan_bcg_mh_risk_difference_two_variances():
    """metafor's RD (Sato-Greenland-Robins variance) gives z = -11.4708; Stata's metan prints 11.56 because,
    like RevMan, it uses Greenland & Robins' (1985) variance -- reproduced by the RevMan engine."""
    fit = harness.rma_mh(measure="RD", **BCG)
    close(fit.beta, "-0.0033")
    close(fit.ci_lb, "-0.0039")
    close(fit.ci_ub, "-0.0027")
    close(fit.QE, "386.7759")
    a, b, c, d = (BCG[k] for k in ("ai", "bi", "ci", "di"))
    rev = rb.pool_dichotomous("RD", a, a + b, c, c + d, method="MH", model="fixed")
    close(abs(rev.z), "11.56")
    close(rev.estimate, "-0.0033")


def test_metan_bcg_peto():
    fit = harness.rma_peto(**BCG)
    for got, want in ((fit.beta, "-0.4744"), (fit.ci_lb, "-0.5541"), (fit.ci_ub, "-0.3948"), (fit.zval, "-11.6689"),
                      (fit.QE, "167.7302"), (fit.pred, "0.6222"), (fit.pred_ci.low, "0.5746"), (fit.pred_ci.high, "0.6738")):
        close(got, want)
