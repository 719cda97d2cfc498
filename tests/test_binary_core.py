"""Dichotomous outcomes: the Python core against metafor run for real, hand
computations, version rules and input errors.

References: metafor's escalc / rma.mh / rma.peto through the R engine (the
release the engine loaded: 3.8-1 on Debian 12, 4.8-0 or 5.0-1 with a CRAN
library), and arithmetic written out in the tests.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

import harness
from harness.core import effect_sizes_binary as eb
from harness.core import mh
from harness.errors import InputError

FIX = Path(__file__).resolve().parent.parent / "fixtures"


def _axfors():
    rows = list(csv.DictReader(open(FIX / "axfors2021" / "data.csv", encoding="utf-8")))
    f = lambda k: np.array([float(r[k]) for r in rows])  # noqa: E731
    a, n1, c, n2 = f("hcq_arm_event"), f("hcq_arm_total"), f("control_arm_event"), f("control_arm_total")
    return {"ai": a, "bi": n1 - a, "ci": c, "di": n2 - c}


AXF = _axfors()
BCG = dict(ai=[4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27], bi=[119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886],
           ci=[11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29], di=[128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825])


def rel_diff(a, b):
    a, b = np.atleast_1d(np.asarray(a, float)), np.atleast_1d(np.asarray(b, float))
    assert a.shape == b.shape
    assert np.array_equal(np.isnan(a), np.isnan(b)), (a, b)
    ok = ~np.isnan(a)
    d = np.abs(a[ok] - b[ok])
    s = np.abs(b[ok])
    return float(np.max(np.where(s > 0, d / np.where(s > 0, s, 1), d), initial=0.0))


def _engine_rules(r_engine):
    return eb.rules_of(r_engine.versions()["metafor"])


# ------------------------------------------------------------------------------ escalc against metafor


@pytest.mark.r
@pytest.mark.parametrize("measure", eb.BINARY_MEASURES)
def test_escalc_binary_matches_metafor_on_sparse_tables(r_engine, measure):
    """dat.axfors2021 (zero cells, double zeros, a 0/1 vs 0/1 trial): every zero-cell rule, drop00 and vtype."""
    rules = _engine_rules(r_engine)
    vtypes = rules.binary_vtype_options(measure) or ("LS",)
    n = 0
    for to in eb.TO_RULES:
        for drop00 in (False, True):
            for add in (0.5, 0.1):
                for vt in vtypes:
                    py = eb.escalc_binary(measure, AXF["ai"], AXF["bi"], AXF["ci"], AXF["di"], add=add, to=to, drop00=drop00, vtype=vt, metafor=rules)
                    r = r_engine.call("mh_escalc_binary", data=AXF, measure=measure, vtype=vt, add=add, to=to, drop00=drop00)
                    assert r.error is None, r.error
                    assert rel_diff(py.yi, r.value["yi"]) <= 1e-13
                    assert rel_diff(py.vi, r.value["vi"]) <= 1e-13
                    assert list(py.warnings) == list(r.warnings)
                    n += 1
    assert n >= 16


def test_escalc_hand_computation():
    """One table a=2, b=8, c=1, d=9, and the zero-cell rule on a=0, b=10, c=3, d=7."""
    yi, vi = eb.binary_effects("OR", [2], [8], [1], [9])
    assert yi[0] == pytest.approx(math.log(2 * 9 / (8 * 1)), rel=1e-15)
    assert vi[0] == pytest.approx(1 / 2 + 1 / 8 + 1 + 1 / 9, rel=1e-15)
    yi, vi = eb.binary_effects("RR", [2], [8], [1], [9])
    assert yi[0] == pytest.approx(math.log(0.2 / 0.1), rel=1e-15)
    assert vi[0] == pytest.approx(1 / 2 - 1 / 10 + 1 - 1 / 10, rel=1e-15)
    yi, vi = eb.binary_effects("PETO", [2], [8], [1], [9])
    E, V = 3 * 10 / 20, 3 * 17 * 0.5 * 0.5 / 19
    assert yi[0] == pytest.approx((2 - E) / V, rel=1e-15) and vi[0] == pytest.approx(1 / V, rel=1e-15)
    es = eb.escalc_binary("RD", [0, 2], [10, 8], [3, 1], [7, 9])  # only0: first table gets 0.5 in every cell
    assert es.yi[0] == pytest.approx(0.5 / 11 - 3.5 / 11, rel=1e-15)
    assert es.yi[1] == pytest.approx(0.2 - 0.1, rel=1e-15)
    es = eb.escalc_binary("OR", [0, 2], [10, 8], [3, 1], [7, 9], to="none")
    assert np.isnan(es.yi[0]) and es.warnings == (eb.INF_WARNING,)


def test_version_rules_for_vtype():
    """metafor 3.8-1 ignores vtype for OR/RR (always "LS"); from 4.8-0 "AV" and "H0" are
    (R/escalc.r of 4.8-0 and 5.0-1, measure blocks "RR" and "OR"), written out here."""
    a, b, c, d = np.array([2.0, 5.0]), np.array([8.0, 15.0]), np.array([1.0, 4.0]), np.array([9.0, 21.0])
    ls = eb.binary_effects("OR", a, b, c, d, vtype="LS", metafor="5.0-1")[1]
    assert np.allclose(eb.binary_effects("OR", a, b, c, d, vtype="AV", metafor="3.8-1")[1], ls, rtol=0, atol=0)
    n1, n2 = a + b, c + d
    m1, m2 = np.sum(a) / np.sum(n1), np.sum(c) / np.sum(n2)  # n-weighted mean proportions
    av = eb.binary_effects("OR", a, b, c, d, vtype="AV", metafor="5.0-1")[1]
    assert av == pytest.approx(1 / (m1 * (1 - m1) * n1) + 1 / (m2 * (1 - m2) * n2), rel=1e-15)
    p = (a + c) / (n1 + n2)
    h0 = eb.binary_effects("RR", a, b, c, d, vtype="H0", metafor="4.8-0")[1]
    assert h0 == pytest.approx((1 - p) / p * (1 / n1 + 1 / n2), rel=1e-15)
    with pytest.raises(ValueError, match="'vtype' must be one of"):
        eb.binary_effects("RD", a, b, c, d, vtype="H0", metafor="3.8-1")
    assert eb.rules_of("3.8-1").na_omitted(2) == "Studies with NAs omitted from model fitting."
    assert eb.rules_of("3.8-1").na_omitted(2, "tables") == "Tables with NAs omitted from model fitting."
    assert eb.rules_of("4.8-0").na_omitted(1, "tables") == "1 study with NAs omitted from model fitting."
    assert eb.rules_of("5.0-1").na_omitted(3) == "3 studies with NAs omitted from model fitting."


@pytest.mark.r
def test_version_rules_match_the_loaded_metafor(r_engine):
    """The rules of the loaded release: OR with vtype "AV" (LS in 3.8-1, AV later) and the NA warning of rma.uni."""
    rules = _engine_rules(r_engine)
    vt = "AV"
    py = eb.escalc_binary("OR", BCG["ai"], BCG["bi"], BCG["ci"], BCG["di"], vtype=vt, metafor=rules)
    r = r_engine.call("mh_escalc_binary", data=BCG, measure="OR", vtype=vt)
    assert r.error is None and rel_diff(py.vi, r.value["vi"]) <= 1e-13
    data = {k: np.asarray(AXF[k])[:8] for k in AXF}  # three double-zero tables among the first eight
    r = r_engine.call("mh_rma", data=data, measure="OR", drop00=True, method="FE")
    assert r.error is None
    n = int(np.sum(eb.double_zero(*(data[k] for k in ("ai", "bi", "ci", "di")))))
    assert rules.na_omitted(n, "studies") in r.warnings


# ------------------------------------------------------------------------------ rma.mh / rma.peto against metafor

SETS = {"bcg": BCG, "axfors2021": AXF}


@pytest.mark.r
@pytest.mark.parametrize("name", list(SETS))
@pytest.mark.parametrize("measure", mh.MH_MEASURES)
@pytest.mark.parametrize("zero", [dict(), dict(add=[0.5, 0.5], to=["only0", "only0"], drop00=[True, True]), dict(to="all", drop00=False)])
def test_rma_mh_matches_metafor(r_engine, name, measure, zero):
    data = SETS[name]
    py = mh.rma_mh_arrays(*(data[k] for k in ("ai", "bi", "ci", "di")), measure=measure, metafor=_engine_rules(r_engine),
                          **{k: tuple(v) if isinstance(v, list) else v for k, v in zero.items()})
    r = r_engine.call("mh_rma_mh", data=data, measure=measure, **zero)
    assert r.error is None, r.error
    v = r.value
    names = ["beta", "se", "zval", "pval", "ci_lb", "ci_ub", "QE", "QEp", "I2", "H2", "k", "k_yi", "yi", "vi", "weights"]
    if measure == "OR":
        names += ["CO", "COp", "MH", "MHp", "BD", "BDp", "TA", "TAp", "k_pos"]
    for n in names:
        assert rel_diff(py[n], v[n]) <= 1e-10, n
    assert sorted(py["warnings"]) == sorted(r.warnings)


@pytest.mark.r
@pytest.mark.parametrize("name", list(SETS))
@pytest.mark.parametrize("zero", [dict(), dict(add=[0.5, 0.5], to=["only0", "only0"], drop00=[True, True]), dict(to="none", drop00=False)])
def test_rma_peto_matches_metafor(r_engine, name, zero):
    data = SETS[name]
    py = mh.rma_peto_arrays(*(data[k] for k in ("ai", "bi", "ci", "di")), metafor=_engine_rules(r_engine),
                            **{k: tuple(v) if isinstance(v, list) else v for k, v in zero.items()})
    r = r_engine.call("mh_rma_peto", data=data, **zero)
    assert r.error is None, r.error
    for n in ("beta", "se", "zval", "pval", "ci_lb", "ci_ub", "QE", "QEp", "I2", "H2", "k", "k_yi", "k_pos", "yi", "vi", "weights"):
        assert rel_diff(py[n], r.value[n]) <= 1e-10, n
    assert sorted(py["warnings"]) == sorted(r.warnings)


@pytest.mark.r
def test_edge_cases_as_metafor(r_engine):
    """No events in any table (metafor tests/testthat/test_misc_handling_of_edge_cases_due_to_zeros.r):
    Peto refuses with metafor's message, MH OR and RR give NA, MH RD gives 0."""
    data = dict(ai=[0, 0, 0, 0], bi=[10, 15, 20, 25], ci=[0, 0, 0, 0], di=[10, 10, 30, 20])
    with pytest.raises(mh.MHError) as e:
        mh.rma_peto_arrays(*data.values())
    r = r_engine.call("mh_rma_peto", data=data)
    assert r.error == str(e.value) == mh.PETO_NO_EVENTS
    for measure, beta in (("OR", float("nan")), ("RR", float("nan")), ("RD", 0.0)):
        py = mh.rma_mh_arrays(*data.values(), measure=measure)
        rv = r_engine.call("mh_rma_mh", data=data, measure=measure)
        assert rv.error is None
        assert rel_diff(py["beta"], rv.value["beta"]) == 0.0
        assert (math.isnan(py["beta"]) and math.isnan(beta)) or py["beta"] == beta
        assert sorted(py["warnings"]) == sorted(rv.warnings)


def test_mh_hand_computation():
    """Two tables by hand: a/b/c/d = 8/98/5/115 and 22/76/16/69 (Rothman et al. 2008, Table 15-1)."""
    a, b, c, d = np.array([8.0, 22]), np.array([98.0, 76]), np.array([5.0, 16]), np.array([115.0, 69])
    N = a + b + c + d
    R, S = np.sum(a * d / N), np.sum(b * c / N)
    P, Q = (a + d) / N, (b + c) / N
    var = 0.5 * (np.sum(P * a * d / N) / R**2 + np.sum(P * b * c / N + Q * a * d / N) / (R * S) + np.sum(Q * b * c / N) / S**2)
    fit = harness.rma_mh(measure="OR", ai=a, bi=b, ci=c, di=d)
    assert fit.beta == pytest.approx(math.log(R / S), rel=1e-15)
    assert fit.se == pytest.approx(math.sqrt(var), rel=1e-14)
    assert list(fit.weights) == pytest.approx(list(100 * (b * c / N) / np.sum(b * c / N)), rel=1e-14)
    assert fit.pred == pytest.approx(R / S, rel=1e-15)
    V = (a + c) * (b + d) * (a + b) * (c + d) / (N**2 * (N - 1))
    E = (a + c) * (a + b) / N
    peto = harness.rma_peto(ai=a, bi=b, ci=c, di=d)
    assert peto.beta == pytest.approx(np.sum(a - E) / np.sum(V), rel=1e-14)
    assert peto.QE == pytest.approx(np.sum((a - E) ** 2 / V) - np.sum(a - E) ** 2 / np.sum(V), rel=1e-12)


# ------------------------------------------------------------------------------ API and input errors


def test_api_escalc_and_results():
    es = harness.escalc("OR", ai=[2, 0], n1i=[10, 10], ci=[1, 3], n2i=[10, 10], slab=["a", "b"])
    assert es.slab == ("a", "b") and es.measure == "OR"
    assert es.yi[1] == pytest.approx(math.log(0.5 * 7.5 / (10.5 * 3.5)), rel=1e-15)
    fit = harness.rma_mh(measure="RR", ai=[2, 4], n1i=[10, 20], ci=[1, 3], n2i=[10, 20])
    df = fit.summary_frame()
    assert list(df.columns) == ["estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "pred", "pred_ci_lb", "pred_ci_ub"]
    assert df["pred"].iloc[0] == pytest.approx(math.exp(fit.beta), rel=1e-15)
    assert "CO" not in fit.quantities() and "k_pos" not in fit.quantities()
    assert "TAp" in harness.rma_mh(measure="OR", ai=[2, 4], n1i=[10, 20], ci=[1, 3], n2i=[10, 20]).quantities()
    with pytest.raises(ValueError, match="larger than the corresponding group sizes"):
        harness.rma_mh(ai=[12], n1i=[10], ci=[1], n2i=[10])
    with pytest.raises(ValueError, match="not equal to 'ai \\+ bi'"):
        harness.escalc("RR", ai=[1], bi=[9], n1i=[11], ci=[1], di=[9])
    with pytest.raises(ValueError, match="Mantel-Haenszel method can only be used"):
        harness.rma_mh(measure="PETO", ai=[1], bi=[9], ci=[1], di=[9])


def _spec(tmp_path, data, analysis):
    (tmp_path / "data.csv").write_text(data, encoding="utf-8")
    (tmp_path / "spec.toml").write_text(f'[dataset]\ndata = "data.csv"\nsource = "test"\n\n[[analysis]]\n{analysis}\n', encoding="utf-8")
    return tmp_path / "spec.toml"


def test_kind_input_errors_name_file_line_column(tmp_path):
    from harness.spec import load_fixture

    p = _spec(tmp_path, "a,n1,c,n2\n1,10,2,10\n12,10,2,10\n", 'id = "x"\nmeasure = "OR"\nai = "a"\nn1i = "n1"\nci = "c"\nn2i = "n2"')
    with pytest.raises(InputError) as e:
        load_fixture(p)
    msg = str(e.value)
    assert "line 3" in msg and "n1" in msg and "cannot exceed the group size" in msg
    p = _spec(tmp_path, "a,b,c,d\n1,-1,2,10\n", 'id = "x"\nkind = "rma.mh"\nmeasure = "OR"\nai = "a"\nbi = "b"\nci = "c"\ndi = "d"')
    with pytest.raises(InputError, match="out of range"):
        load_fixture(p)
    p = _spec(tmp_path, "a,b,c,d\n1,3,2,10\n", 'id = "x"\nkind = "rma.mh"\nmeasure = "OR"\nai = "a"\nbi = "b"\nci = "c"')
    with pytest.raises(InputError, match="give both `bi` and `di`"):
        load_fixture(p)
    p = _spec(tmp_path, "a,b,c,d\n0,0,2,10\n", 'id = "x"\nkind = "rma.peto"\nai = "a"\nbi = "b"\nci = "c"\ndi = "d"')
    with pytest.raises(InputError, match="no participants"):
        load_fixture(p)
    p = _spec(tmp_path, "a,b,c,d\n1,3,2,10\n", 'id = "x"\nmeasure = "OR"\nvtype = "UB"\nai = "a"\nbi = "b"\nci = "c"\ndi = "d"')
    with pytest.raises(InputError, match="vtype 'UB'"):
        load_fixture(p)


@pytest.mark.r
def test_rma_kind_drops_na_studies_as_metafor(tmp_path, r_engine):
    """drop00 = true: double-zero studies leave the model with the warning of the loaded release; per-study
    yi/vi are NaN on both sides and the weights cover the fitted studies."""
    from harness.verify import verify

    rows = "\n".join(f"{int(AXF['ai'][i])},{int(AXF['bi'][i])},{int(AXF['ci'][i])},{int(AXF['di'][i])}" for i in range(12))
    p = _spec(tmp_path, "a,b,c,d\n" + rows + "\n", 'id = "x"\nmeasure = ["OR", "RD"]\nmethod = ["FE", "REML"]\ndrop00 = true\nai = "a"\nbi = "b"\nci = "c"\ndi = "d"')
    run = verify([p], engine_factory=lambda: r_engine)
    assert run.ok, [(a.id, a.verdict, [(r.name, r.verdict, r.explanation) for r in a.records if r.verdict not in ("agree", "explained")]) for a in run.analyses]
    a = run.analyses[0]
    names = {r.name for r in a.records}
    assert "weights[1]" in names and "weights[2]" not in names  # study 2 (PATCH, 0/15 vs 0/15) is a double zero


def test_api_tables_from_a_data_frame_and_strict_errors():
    """rma_mh / rma_peto take metafor's data= (column names), slab and na_action as the rest of the API; bad input
    is an error naming the argument and the studies, never a silently dropped or coerced study."""
    import pandas as pd

    df = pd.DataFrame({"tpos": [4, 6, 3, 62], "tneg": [119, 300, 228, 13536], "cpos": [11, 29, 11, 248], "cneg": [128, 274, 209, 12619],
                       "trial": ["Aronson", "Ferguson", "Rosenthal", "Hart"]})
    cols = dict(ai="tpos", bi="tneg", ci="cpos", di="cneg")
    by_name = harness.rma_mh(measure="OR", data=df, slab="trial", **cols)
    by_array = harness.rma_mh(measure="OR", **{k: df[v].to_numpy() for k, v in cols.items()})
    assert by_name.beta == by_array.beta and by_name.slab == ("Aronson", "Ferguson", "Rosenthal", "Hart")
    assert harness.rma_peto(data=df, **cols).beta == harness.rma_peto(**{k: df[v].tolist() for k, v in cols.items()}).beta
    with pytest.raises(ValueError, match=r"`ci`: column 'cpoz' is not in `data`.*did you mean 'cpos'"):
        harness.rma_mh(data=df, **{**cols, "ci": "cpoz"})
    bad = df.assign(tpos=[4, -6, 3, 62])
    with pytest.raises(ValueError, match=r"`ai` must not be negative .*study Ferguson \(-6\)"):
        harness.rma_mh(data=bad, slab="trial", **cols)
    with pytest.raises(ValueError, match=r"`ai` larger than `n1i` .*study Rosenthal \(300 > 231\)"):
        harness.rma_mh(ai=[4, 6, 300, 62], n1i=[123, 306, 231, 13598], ci=[11, 29, 11, 248], n2i=[139, 303, 220, 12867], slab=df["trial"])
    with pytest.raises(ValueError, match=r"`n1i` is not `ai` \+ `bi`.*study Aronson"):
        harness.rma_mh(ai=[4, 6], bi=[119, 300], n1i=[124, 306], ci=[11, 29], di=[128, 274], slab=["Aronson", "Ferguson"])
    with pytest.raises(ValueError, match=r"`di` has 3 values for 4 studies"):
        harness.rma_mh(**{k: df[v].tolist() for k, v in cols.items() if k != "di"}, di=[1, 2, 3])
    with pytest.raises(ValueError, match=r"needs `ai`, `ci` and either"):
        harness.rma_peto(ai=[1], ci=[2], di=[3])
    with pytest.raises(ValueError, match=r"`bi` must be numeric"):
        harness.rma_mh(data=df.assign(tneg=["a", "b", "c", "d"]), **cols)
    with pytest.raises(TypeError, match=r"unknown argument\(s\) dj"):
        harness.rma_mh(ai=[1], bi=[2], ci=[3], dj=[4])
    holes = df.assign(cneg=[128, None, 209, 12619])
    with pytest.raises(ValueError, match=r"Missing values in data.*Ferguson \(di\)"):
        harness.rma_mh(data=holes, slab="trial", **cols)
    omit = harness.rma_mh(data=holes, slab="trial", na_action="omit", **cols)  # as metafor's na.omit: NaN for the table, its warning
    assert omit.slab == ("Aronson", "Ferguson", "Rosenthal", "Hart") and omit.k == 3 and np.isnan(omit.weights[1])
    assert any("NAs omitted" in w for w in omit.warnings)
