"""Printed results of the Python API against what R prints, run for real.

The reference for every line is R's own ``print()`` of the same model
(``capture.output(print(fit))`` through ``mh_print_rma`` / ``mh_print_robu`` in
r_scripts/printing.R): metafor's print.rma.uni, print.confint.rma, print.regtest,
print.list.rma (leave1out), trimfill, and robumeta's print.robu. The lines must be
identical -- layout, rounding and every number shown -- except for the quotes of
the significance legend, which R writes as ‘’ or '' depending on its locale.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import harness

pytestmark = pytest.mark.r

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RAUD = pd.read_csv(FIXTURES / "raudenbush1985" / "data.csv")


def _norm(lines):
    return [ln.replace("\u2018", "'").replace("\u2019", "'") for ln in lines]


def _r_lines(r_engine, fname, **kw):
    call = r_engine.call(fname, **kw)
    assert call.error is None, call.error
    v = call.value
    lines = v["lines"]
    return _norm([lines] if isinstance(lines, str) else list(lines)), (v["version"][0] if isinstance(v["version"], list) else v["version"])


def _py_lines(obj, version, **kw):
    return _norm(obj.format(metafor=version, **kw).split("\n")) if "metafor" in obj._lines.__code__.co_varnames else _norm(obj.format(**kw).split("\n"))


def _mods_for_r(df, cols):
    mods, factors = {}, {}
    for c in cols:
        if not pd.api.types.is_numeric_dtype(df[c]):
            mods[c] = np.array(df[c].astype(str), dtype=object)
            factors[c] = np.array(sorted(set(df[c])), dtype=object)
        else:
            mods[c] = df[c].to_numpy(float)
    return mods, factors


def _fit(*a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return harness.rma(*a, **k)


CASES = [
    dict(),
    dict(method="FE"),
    dict(method="DL", test="knha"),
    dict(method="EE"),
    dict(mods=["weeks"]),
    dict(mods=["weeks", "tester"], test="knha"),
    dict(mods=["weeks"], method="FE"),
    dict(mods=["weeks"], intercept=False, method="DL"),
    dict(tau2=0.02),
    dict(mods=["weeks"], tau2=0.02),
    dict(method="HE", test="t"),
    dict(mods=["weeks", "tester", "setting"], btt=[2]),
]


@pytest.mark.parametrize("case", CASES, ids=[",".join(f"{k}={v}" for k, v in c.items()) or "REML" for c in CASES])
def test_print_rma_is_metafors(r_engine, case):
    kw = dict(case)
    mods = kw.pop("mods", [])
    fit = _fit("yi", "vi", mods=mods or None, data=RAUD, slab="author", **{k: v for k, v in kw.items()})
    rmods, factors = _mods_for_r(RAUD, mods)
    rk = {k: v for k, v in kw.items() if k in ("method", "test", "intercept", "tau2")}
    if "btt" in kw:
        rk["btt"] = [b + 1 for b in kw["btt"]]  # R counts from 1
    ref, version = _r_lines(r_engine, "mh_print_rma", yi=RAUD["yi"].to_numpy(float), vi=RAUD["vi"].to_numpy(float), mods=rmods, factors=factors, **rk)
    assert _py_lines(fit, version) == ref


def test_print_rma_with_zero_variance_is_metafors(r_engine):
    """vi = 0 with REML: no Q-test, I^2, H^2 (metafor cannot compute them)."""
    y = np.array([0.1, 0.3, 0.35, 0.6, 0.2])
    v = np.array([0.01, 0.0, 0.03, 0.02, 0.05])
    fit = _fit(y, v)
    ref, version = _r_lines(r_engine, "mh_print_rma", yi=y, vi=v)
    assert _py_lines(fit, version) == ref


@pytest.mark.parametrize("what", ["confint", "confint_fixed", "regtest", "trimfill", "leave1out"])
def test_print_post_fitting_is_metafors(r_engine, what):
    fit = _fit("yi", "vi", data=RAUD)
    ref, version = _r_lines(r_engine, "mh_print_rma", yi=RAUD["yi"].to_numpy(float), vi=RAUD["vi"].to_numpy(float), what=what)
    obj = {"confint": lambda: fit.confint(), "confint_fixed": lambda: fit.confint(fixed=True), "regtest": fit.regtest,
           "trimfill": fit.trimfill, "leave1out": fit.leave1out}[what]()
    assert _py_lines(obj, version) == ref


def test_print_trimfill_r0_fe_is_metafors(r_engine):
    fit = _fit("yi", "vi", data=RAUD, method="FE")
    ref, version = _r_lines(r_engine, "mh_print_rma", yi=RAUD["yi"].to_numpy(float), vi=RAUD["vi"].to_numpy(float), method="FE", what="trimfill", estimator="R0")
    assert _py_lines(fit.trimfill(estimator="R0"), version) == ref


def test_print_regtest_with_moderator_t_test_is_metafors(r_engine):
    fit = _fit("yi", "vi", mods=["weeks"], data=RAUD, test="knha")
    rmods, _ = _mods_for_r(RAUD, ["weeks"])
    ref, version = _r_lines(r_engine, "mh_print_rma", yi=RAUD["yi"].to_numpy(float), vi=RAUD["vi"].to_numpy(float), mods=rmods, test="knha", what="regtest")
    assert _py_lines(fit.regtest(), version) == ref


CORR = pd.read_csv(FIXTURES / "corrdat" / "data.csv")
HIER = pd.read_csv(FIXTURES / "hierdat" / "data.csv")

ROBU_CASES = [
    (CORR, dict(mods=["males", "college", "binge"])),
    (CORR, dict()),
    (CORR, dict(small=False)),
    (CORR, dict(mods=["binge"], rho=0.3)),
    (HIER, dict(mods=["binge"], modelweights="HIER")),
    (CORR, dict(mods=["binge"], userweights="uw_invvar")),
]


@pytest.mark.parametrize("data,case", ROBU_CASES, ids=[",".join(f"{k}={v}" for k, v in c.items()) or "CORR" for _, c in ROBU_CASES])
def test_print_robu_is_robumetas(r_engine, data, case):
    kw = dict(case)
    mods = kw.pop("mods", [])
    uw = kw.pop("userweights", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = harness.robu("effectsize", "var", "studyid", mods=mods or None, userweights=uw, data=data, **kw)
    rdata = {"yi": data["effectsize"].to_numpy(float), "vi": data["var"].to_numpy(float), "study": data["studyid"].to_numpy(float)}
    if uw:
        rdata["uw"] = data[uw].to_numpy(float)
    rk = {"modelweights": "USER" if uw else kw.get("modelweights", "CORR"), "rho": kw.get("rho", 0.8), "small": kw.get("small", True)}
    ref, _ = _r_lines(r_engine, "mh_print_robu", data=rdata, mods={m: data[m].to_numpy(float) for m in mods}, ylab="effectsize", **rk)
    assert _norm(str(fit).split("\n")) == ref


BCG_TABLES = dict(ai=[4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27], bi=[119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886],
                  ci=[11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29], di=[128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825])
#: Fleiss (1993), as in metafor's dat.fleiss1993 (aspirin after myocardial infarction): few tables, a
#: non-significant heterogeneity test and a p-value printed with "= " (not "< 0.0001")
FLEISS_TABLES = dict(ai=[49, 44, 102, 32, 85, 246, 1570], bi=[566, 714, 730, 285, 640, 2021, 7017],
                     ci=[67, 64, 126, 38, 52, 219, 1720], di=[557, 707, 724, 271, 673, 2038, 6880])


@pytest.mark.parametrize("tables", ["bcg", "fleiss"])
@pytest.mark.parametrize("measure", ["OR", "RR", "RD", "PETO"])
def test_print_rma_mh_and_peto_as_metafor(r_engine, measure, tables):
    """``print(harness.rma_mh(...))`` / ``rma_peto`` is ``capture.output(print(rma.mh(...)))``, line for line
    (log and OR/RR scale tables, the Cochran-Mantel-Haenszel and Tarone lines for OR)."""
    t = BCG_TABLES if tables == "bcg" else FLEISS_TABLES
    ref, version = _r_lines(r_engine, "mh_print_tables", **{k: np.asarray(v, float) for k, v in t.items()}, measure=measure)
    fit = harness.rma_peto(**t) if measure == "PETO" else harness.rma_mh(measure=measure, **t)
    assert _py_lines(fit, version) == ref
