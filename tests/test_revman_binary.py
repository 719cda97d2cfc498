"""RevMan 5's dichotomous methods (harness.core.revman_binary) against RevMan's own stored numbers,
and the registered differences between RevMan and metafor.

References: the real Cochrane review CD000023 (antibiotics for sore throat, RevMan 5.2.11; 21
Mantel-Haenszel risk-ratio analyses with RevMan's computed values) and Fleiss1993.rm5 (RevMan 5,
one MH odds-ratio analysis), read from the shared RevMan samples beside the repository through the
project's .rm5 reader; metafor run for real. RevMan stores full doubles: the tolerance is rounding
(summation order; I^2 = 100(Q - df)/Q amplifies it by Q/(Q - df)), except for RevMan's p-values,
which are approximations (bounds of the registry entries revman-normal-p-approximation and
revman-chi2-p-*).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import harness
from harness.cochrane.rm5 import read_rm5
from harness.compare import explained
from harness.core import revman_binary as rb

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = next((p for p in (ROOT.parent / "shared" / "reference" / "revman-samples", Path("/work/shared/reference/revman-samples")) if p.is_dir()), None)
RTOL = 1e-12
ATOL = 1e-15


def _review(name):
    if SAMPLES is None:
        pytest.skip("shared/reference/revman-samples is not present beside the repository")
    return read_rm5(SAMPLES / name)


def _entry(eid):
    return next(e for e in explained.load() if e.id == eid)


CHECKED = []  # every stored number compared (name), for the counts asserted below


def _close(name, mine, stored, rtol=RTOL):
    CHECKED.append(name)
    assert stored is not None, name
    assert abs(mine - stored) <= ATOL + rtol * abs(stored), f"{name}: {mine!r} vs RevMan {stored!r}"


def _p_z(name, mine, stored):
    """RevMan's normal p-value: within the bounds of the registry entry revman-normal-p-approximation."""
    e = _entry("revman-normal-p-approximation")
    CHECKED.append(name + ".P_Z")
    ad = abs(mine - stored)
    assert e.within(ad, ad / stored if stored else math.inf), f"{name}: P_Z {mine!r} vs RevMan {stored!r}"


def _p_chi2(name, mine, stored):
    """RevMan's chi-squared p-value: within the registry entry revman-chi2-p-approximation (an
    absolute bound: RevMan's approximation is accurate to ~3e-7 absolute at every p; on CD000023
    its relative error reaches 1.28e-5 at p = 0.0018, df = 1, and 2.3e-4 at p = 2e-12)."""
    e = _entry("revman-chi2-p-approximation")
    CHECKED.append(name + ".P_CHI2")
    ad = abs(mine - stored)
    assert e.within(ad, ad / abs(stored) if stored else math.inf), f"{name}: P_CHI2 {mine!r} vs RevMan {stored!r}"


def _check_pooled(tag, p, s, measure, method):
    if p.k == 0:  # RevMan: not estimable, writes zeros (and TAU2 NaN)
        assert s["EFFECT_SIZE"] == 0.0 and s.get("Z") == 0.0
        return 0
    _close(tag + ".EFFECT_SIZE", rb.display(p.estimate, measure, method), s["EFFECT_SIZE"])
    _close(tag + ".CI_START", rb.display(p.ci_lb, measure, method), s["CI_START"])
    _close(tag + ".CI_END", rb.display(p.ci_ub, measure, method), s["CI_END"])
    _close(tag + ".Z", abs(p.z), s["Z"])  # RevMan stores |Z| (registry entry revman-abs-z)
    _p_z(tag, p.p, s["P_Z"])
    _close(tag + ".CHI2", p.chi2, s["CHI2"], rtol=1e-11)
    assert p.df == s["DF"]
    _close(tag + ".TAU2", p.tau2, s["TAU2"], rtol=1e-11)
    if p.df > 0:
        _close(tag + ".I2", p.i2, s["I2"], rtol=1e-11)
        _p_chi2(tag, p.p_chi2, s["P_CHI2"])
    return 1


def _reproduce(an):
    """Every stored number of one dichotomous analysis from the pure functions; returns the count checked."""
    measure, method = an.settings["EFFECT_MEASURE"], an.settings["METHOD"]
    model = "random" if an.settings["RANDOM"] == "YES" else "fixed"
    rows = an.all_rows()
    x = np.array([[r.inputs[k] for k in ("EVENTS_1", "TOTAL_1", "EVENTS_2", "TOTAL_2")] for r in rows]).T
    st = rb.study_effects(measure, *x, method=method)
    overall = rb.pool_studies(st, model)
    lb, ub = st.ci()
    n = 0
    for i, r in enumerate(rows):
        assert (r.raw["ESTIMABLE"] == "YES") == bool(st.estimable[i]), r.name
        _close(f"{r.name}.WEIGHT", overall.weights[i], r.stored["WEIGHT"])
        if not st.estimable[i]:
            assert r.stored["EFFECT_SIZE"] == 0.0 and r.stored["SE"] == 0.0
            continue
        _close(f"{r.name}.EFFECT_SIZE", rb.display(st.yi[i], measure, method), r.stored["EFFECT_SIZE"])
        _close(f"{r.name}.SE", st.sei[i], r.stored["SE"])
        _close(f"{r.name}.VAR", st.sei[i] ** 2, r.stored["VAR"])
        _close(f"{r.name}.CI_START", rb.display(lb[i], measure, method), r.stored["CI_START"])
        _close(f"{r.name}.CI_END", rb.display(ub[i], measure, method), r.stored["CI_END"])
        if "LOG_EFFECT_SIZE" in r.raw:  # log10 of ratio measures
            _close(f"{r.name}.LOG_EFFECT_SIZE", rb.log10_display(st.yi[i], measure, method), float(r.raw["LOG_EFFECT_SIZE"]))
        n += 6
    n += _check_pooled(an.id, overall, an.stored, measure, method)
    for k, v in zip(("EVENTS_1", "TOTAL_1", "EVENTS_2", "TOTAL_2"), rb.totals(*x)):
        assert v == float(an.raw[k]), k
    if an.has_subgroups:
        groups = [sg.name for sg in an.subgroups for _ in sg.rows]
        sa = rb.subgroup_analysis(lambda m: rb.pool_studies(rb.subset(st, m), model), groups, model)
        for sg in an.subgroups:
            n += _check_pooled(f"{an.id}/{sg.name}", sa.subgroups[sg.name], sg.stored, measure, method)
            m = np.array([g == sg.name for g in groups])
            _close(f"{sg.name}.WEIGHT", overall.weights[m].sum(), sg.stored["WEIGHT"])
            sx = x[:, m]
            for k, v in zip(("EVENTS_1", "TOTAL_1", "EVENTS_2", "TOTAL_2"), rb.totals(*sx)):
                assert v == float(sg.raw[k])
        if sa.df > 0:
            _close(an.id + ".Q", sa.chi2, an.stored["Q"], rtol=1e-11)
            _close(an.id + ".I2_Q", sa.i2, an.stored["I2_Q"], rtol=1e-11)
            _p_chi2(an.id + ".P_Q", sa.p, an.stored["P_Q"])
            n += 3
    return n


def test_sore_throat_review_every_dichotomous_analysis():
    """CD000023: all 21 analyses (MH RR random; subgroups; zero cells; double zeros; one analysis
    without any estimable study), every study, subgroup and overall number RevMan stored."""
    rev = _review("antibiotics-for-sore-throat.rm5")
    dich = [a for a in rev.analyses if a.data_type == "DICH"]
    assert len(dich) == 21
    assert {(a.settings["EFFECT_MEASURE"], a.settings["METHOD"], a.settings["RANDOM"]) for a in dich} == {("RR", "MH", "YES")}
    CHECKED.clear()
    for a in dich:
        _reproduce(a)
    assert len(CHECKED) >= 1603
    corrected = sum(int(rb.study_effects("RR", *np.array([[r.inputs[k] for k in ("EVENTS_1", "TOTAL_1", "EVENTS_2", "TOTAL_2")] for r in a.all_rows()]).T).corrected.sum()) for a in dich)
    assert corrected >= 20  # the zero-cell rule is exercised (0.5 added to every cell, also in the MH sums)


def test_fleiss1993_mh_odds_ratio():
    rev = _review("Fleiss1993.rm5")
    (an,) = [a for a in rev.analyses if a.data_type == "DICH"]
    assert (an.settings["EFFECT_MEASURE"], an.settings["METHOD"], an.settings["RANDOM"]) == ("OR", "MH", "NO")
    CHECKED.clear()
    _reproduce(an)
    assert len(CHECKED) >= 58


def test_mh_correction_is_revmans_choice():
    """Without 0.5 in the MH sums (meta's MH.exact = TRUE, metafor's rma.mh default) analysis 1.5 of
    CD000023 would not match RevMan: the correction inside the MH sums is what RevMan does."""
    an = next(a for a in _review("antibiotics-for-sore-throat.rm5").analyses if a.id == "CMP-001.05")
    x = np.array([[r.inputs[k] for k in ("EVENTS_1", "TOTAL_1", "EVENTS_2", "TOTAL_2")] for r in an.all_rows()]).T
    st = rb.study_effects("RR", *x)
    exact = rb.DichStudies(st.measure, st.method, st.events_1, st.total_1, st.events_2, st.total_2, st.yi, st.sei, st.estimable,
                           st.corrected, (st.events_1, st.total_1 - st.events_1, st.events_2, st.total_2 - st.events_2))
    q_exact = rb.pool_studies(exact, "random").chi2
    assert abs(q_exact - an.stored["CHI2"]) / an.stored["CHI2"] > 1e-3
    assert rb.pool_studies(st, "random").chi2 == pytest.approx(an.stored["CHI2"], rel=1e-12)


@pytest.mark.r
def test_metafor_with_revmans_zero_cell_rule_reproduces_revman(r_engine):
    """metafor's rma.mh told RevMan's rule (add = 0.5 to tables with a zero, also in the MH sums;
    double zeros dropped) gives RevMan's stored MH estimate and MH-centred Chi² on CD000023."""
    rev = _review("antibiotics-for-sore-throat.rm5")
    n = 0
    for an in rev.analyses:
        x = np.array([[r.inputs[k] for k in ("EVENTS_1", "TOTAL_1", "EVENTS_2", "TOTAL_2")] for r in an.all_rows()]).T
        a, n1, c, n2 = x
        if np.all((a == 0) & (c == 0)):
            continue
        call = r_engine.call("mh_rma_mh", data=dict(ai=a, n1i=n1, ci=c, n2i=n2), measure="RR", add=[0.5, 0.5], to=["only0", "only0"], drop00=[True, True])
        assert call.error is None
        st = rb.study_effects("RR", *x)
        theta, se, _ = rb.mh_estimate(st)
        assert call.value["beta"][0] == pytest.approx(theta, rel=1e-12)
        assert call.value["se"][0] == pytest.approx(se, rel=1e-12)
        assert call.value["QE"][0] == pytest.approx(an.stored["CHI2"], rel=1e-11)
        n += 1
    assert n == 20


def test_normal_p_approximation_entry_still_holds():
    """revman-normal-p-approximation: RevMan's P_Z differs from the exact normal tail (not rounding)
    and stays within the entry's bounds on every pooled result of CD000023."""
    e = _entry("revman-normal-p-approximation")
    rev = _review("antibiotics-for-sore-throat.rm5")
    biggest = 0.0
    for an in rev.analyses:
        for s in [an.stored] + [sg.stored for sg in an.subgroups]:
            if not s.get("Z"):
                continue
            exact = 2 * stats.norm.sf(s["Z"])
            ad = abs(exact - s["P_Z"])
            assert e.within(ad, ad / s["P_Z"])
            biggest = max(biggest, ad)
    assert biggest > 1e-8


# ------------------------------------------------------------------------------ the hand-made file

HANDMADE = ROOT / "tests" / "data" / "cochrane" / "handmade_dichotomous.rm5"


def _reproduce_iv_ipd(an):
    """Generic IV (inputs EFFECT_SIZE, SE: log scale for ratio measures) and O − E (O_E, VAR) analyses."""
    measure = an.settings["EFFECT_MEASURE"]
    model = "random" if an.settings["RANDOM"] == "YES" else "fixed"
    rows = an.all_rows()
    if an.data_type == "IV":
        yi = np.array([r.inputs["EFFECT_SIZE"] for r in rows])
        sei = np.array([r.inputs["SE"] for r in rows])
        p = rb.pool_generic(yi, sei, model)
        method = "IV"
    else:
        yi, sei = rb.peto_from_oe([r.inputs["O_E"] for r in rows], [r.inputs["VAR"] for r in rows])
        p = rb.pool_oe([r.inputs["O_E"] for r in rows], [r.inputs["VAR"] for r in rows], model)
        method = "PETO"
    z = stats.norm.isf(0.025)
    for i, r in enumerate(rows):
        _close(f"{r.name}.WEIGHT", p.weights[i], r.stored["WEIGHT"])
        _close(f"{r.name}.CI_START", rb.display(yi[i] - z * sei[i], measure, method), r.stored["CI_START"])
        _close(f"{r.name}.CI_END", rb.display(yi[i] + z * sei[i], measure, method), r.stored["CI_END"])
        if an.data_type == "IPD":
            _close(f"{r.name}.EFFECT_SIZE", rb.display(yi[i], measure, method), r.stored["EFFECT_SIZE"])
            _close(f"{r.name}.SE", sei[i], r.stored["SE"])
    _check_pooled(an.id, p, an.stored, measure, method)


def test_handmade_dichotomous_file():
    """tests/data/cochrane/handmade_dichotomous.rm5 (generate_dichotomous.py, formulas written out with the
    standard library): MH OR/RR/RD fixed and random, IV OR/RR, Peto, generic IV, O − E, zero cells,
    double zeros, subgroups with both tests -- every stored number from the RevMan engine."""
    rev = read_rm5(HANDMADE)
    assert not rev.problems and all(not a.problems for a in rev.analyses)
    kinds = {(a.data_type, a.settings["EFFECT_MEASURE"], a.settings.get("METHOD"), a.settings["RANDOM"]) for a in rev.analyses}
    assert {("DICH", "OR", "MH", "NO"), ("DICH", "RR", "MH", "YES"), ("DICH", "RD", "MH", "NO"), ("DICH", "OR", "IV", "YES"), ("DICH", "RR", "IV", "NO"),
            ("DICH", "PETO_OR", "PETO", "NO"), ("DICH", "RD", "MH", "YES"), ("IV", "HR", "IV", "NO"), ("IV", "MD", "IV", "YES"),
            ("IPD", "PETO_OR", "PETO", "NO"), ("IPD", "PETO_OR", "PETO", "YES"), ("DICH", "OR", "MH", "YES"), ("DICH", "PETO_OR", "PETO", "YES"),
            ("DICH", "RD", "IV", "NO")} == kinds
    CHECKED.clear()
    for an in rev.analyses:
        (_reproduce if an.data_type == "DICH" else _reproduce_iv_ipd)(an)
    assert len(CHECKED) >= 400
    rd = next(a for a in rev.analyses if a.id == "CMP-001.03")
    eriksen = next(r for r in rd.all_rows() if r.name.startswith("Eriksen"))
    assert eriksen.raw["ESTIMABLE"] == "YES" and eriksen.stored["WEIGHT"] > 0  # RD includes a double zero
    rr = next(a for a in rev.analyses if a.id == "CMP-001.02")
    assert next(r for r in rr.all_rows() if r.name.startswith("Eriksen")).raw["ESTIMABLE"] == "NO"


def test_handmade_file_is_what_the_generator_writes():
    import importlib.util

    spec = importlib.util.spec_from_file_location("generate_dichotomous", HANDMADE.parent / "generate_dichotomous.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.rm5_text() == HANDMADE.read_text(encoding="utf-8")


# ------------------------------------------------------------------------------ GIV and O − E


def test_generic_iv_and_o_minus_e_by_hand():
    """GIV: IV pooling of given log estimates; O − E: Peto's Σ(O-E)/ΣV, SE 1/√ΣV, Q = Σ(O-E)²/V - (Σ(O-E))²/ΣV."""
    oe, v = np.array([-3.0, -1.5, 2.0]), np.array([10.0, 6.0, 8.0])
    p = rb.pool_oe(oe, v, "fixed")
    assert p.estimate == pytest.approx(-2.5 / 24, rel=1e-15)
    assert p.se == pytest.approx(1 / math.sqrt(24), rel=1e-15)
    assert p.chi2 == pytest.approx(9 / 10 + 2.25 / 6 + 4 / 8 - 2.5**2 / 24, rel=1e-14)
    assert list(p.weights) == pytest.approx([100 * 10 / 24, 100 * 6 / 24, 100 * 8 / 24], rel=1e-14)
    g = rb.pool_generic([0.1, -0.2, 0.3, 0.0], [0.1, 0.2, 0.3, 0.0], "random")  # SE 0: not estimable
    assert g.k == 3 and g.weights[3] == 0.0
    w = np.array([100.0, 25.0, 100 / 9])
    fe = np.sum(w * [0.1, -0.2, 0.3]) / w.sum()
    q = np.sum(w * (np.array([0.1, -0.2, 0.3]) - fe) ** 2)
    t2 = max(0.0, (q - 2) / (w.sum() - np.sum(w**2) / w.sum()))
    assert g.tau2 == pytest.approx(t2, rel=1e-14)


# ------------------------------------------------------------------------------ registered RevMan-vs-metafor differences


def _run_kind(tmp_path, r_engine, csv_text, analysis):
    from harness.verify import verify

    (tmp_path / "d.csv").write_text(csv_text, encoding="utf-8")
    (tmp_path / "spec.toml").write_text('[dataset]\ndata = "d.csv"\nsource = "test"\n\n[[analysis]]\nkind = "revman-dich"\n' + analysis, encoding="utf-8")
    return verify([tmp_path / "spec.toml"], engine_factory=lambda: r_engine)


BCG_CSV = "a,b,c,d\n" + "\n".join(f"{a},{b},{c},{d}" for a, b, c, d in zip(
    [4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27], [119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886],
    [11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29], [128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825])) + "\n"


@pytest.mark.r
@pytest.mark.parametrize("measure, method, model, entry", [
    ("OR", "MH", "random", "revman-mh-random-heterogeneity"),
    ("RR", "MH", "random", "revman-mh-random-heterogeneity"),
    ("RD", "MH", "fixed", "revman-mh-rd-variance"),
])
def test_revman_vs_metafor_entries_hold_on_bcg(tmp_path, r_engine, measure, method, model, entry):
    """dat.bcg (no zero cells): the difference exists, is explained by the named entry, and metafor's
    value is exactly what its convention gives (the kind's structural check); nothing else differs."""
    run = _run_kind(tmp_path, r_engine, BCG_CSV, f'id = "x"\nai = "a"\nbi = "b"\nci = "c"\ndi = "d"\nmeasure = "{measure}"\nmethod = "{method}"\nmodel = "{model}"\nr_convention = "metafor"\n')
    (a,) = run.analyses
    assert a.ok, [(r.name, r.verdict) for r in a.records if r.verdict not in ("agree", "explained")]
    ex = [r for r in a.records if r.verdict == "explained"]
    assert ex and all(r.explanation.startswith(entry) for r in ex)
    assert max(r.rel_diff for r in ex) > 1e-4  # a real difference, not rounding


COLLINS_NO_DOUBLE_ZERO = "a,n1,c,n2\n8,50,16,50\n11,56,12,53\n5,18,1,12\n4,30,9,30\n0,39,4,39\n15,49,11,48\n6,43,4,42\n8,69,14,71\n"


@pytest.mark.r
@pytest.mark.parametrize("method, model", [("MH", "fixed"), ("IV", "random")])
def test_rd_zero_cell_entry_holds(tmp_path, r_engine, method, model):
    """A table with a zero cell (0/39 vs 4/39; the first eight trials of dat.collins1985a): RevMan's
    uncorrected RD of it and what is pooled from it differ from metafor's corrected one, as registered."""
    run = _run_kind(tmp_path, r_engine, COLLINS_NO_DOUBLE_ZERO,
                    f'id = "x"\nai = "a"\nn1i = "n1"\nci = "c"\nn2i = "n2"\nmeasure = "RD"\nmethod = "{method}"\nmodel = "{model}"\nr_convention = "metafor"\n')
    (a,) = run.analyses
    assert a.ok, [(r.name, r.verdict, r.python, r.r) for r in a.records if r.verdict not in ("agree", "explained")]
    yi5 = next(r for r in a.records if r.name == "yi[5]")
    assert yi5.verdict == "explained" and yi5.explanation.startswith("revman-rd-zero-cell-estimate")
    assert yi5.python == pytest.approx(0 - 4 / 39, rel=1e-15)
    assert yi5.r == pytest.approx(0.5 / 40 - 4.5 / 40, rel=1e-15)


@pytest.mark.r
def test_wrong_number_is_not_explained(tmp_path, r_engine):
    """The structural check: a metafor value that is not what its convention gives stays a difference."""
    from harness.analyses import KINDS
    from harness.compare.compare import Record
    from harness.compare.tolerance import CLOSED
    from harness.spec import load_fixture

    (tmp_path / "d.csv").write_text(BCG_CSV, encoding="utf-8")
    (tmp_path / "spec.toml").write_text('[dataset]\ndata = "d.csv"\nsource = "t"\n\n[[analysis]]\nkind = "revman-dich"\nid = "x"\nai = "a"\nbi = "b"\nci = "c"\ndi = "d"\n'
                                        'measure = "OR"\nmethod = "MH"\nmodel = "random"\nr_convention = "metafor"\n', encoding="utf-8")
    spec = load_fixture(tmp_path / "spec.toml").analyses[0]
    kind = KINDS["revman-dich"]
    right = kind.metafor_counterpart(spec)["tau2"]
    py = kind.run_python(spec).values["tau2"]
    assert kind.explain(spec, Record("tau2", py, right, abs(py - right), abs(py - right) / right, CLOSED, "differ")).startswith("revman-mh-random-heterogeneity")
    wrong = right * 1.01
    assert kind.explain(spec, Record("tau2", py, wrong, abs(py - wrong), abs(py - wrong) / wrong, CLOSED, "differ")) is None


def test_revman_api_reproduces_a_real_dichotomous_analysis():
    """harness.revman("RR", method="MH", model="random", subgroup=...) on CD000023 analysis 1.2 (zero cells,
    two subgroups) gives RevMan's stored overall, subgroup and subgroup-test numbers and its study weights."""
    an = next(a for a in _review("antibiotics-for-sore-throat.rm5").analyses if a.id == "CMP-001.02")
    rows = an.all_rows()
    cols = {k: [r.inputs[c] for r in rows] for k, c in (("ai", "EVENTS_1"), ("n1i", "TOTAL_1"), ("ci", "EVENTS_2"), ("n2i", "TOTAL_2"))}
    groups = [sg.name for sg in an.subgroups for _ in sg.rows]
    res = harness.revman("RR", model="random", subgroup=groups, slab=[r.name for r in rows], **cols)
    assert res.method == "MH" and res.estimable.tolist() == [r.raw["ESTIMABLE"] == "YES" for r in rows]
    s = an.stored
    assert res.pred == pytest.approx(s["EFFECT_SIZE"], rel=1e-13)
    assert math.exp(res.overall.ci_lb) == pytest.approx(s["CI_START"], rel=1e-13)
    assert res.overall.tau2 == pytest.approx(s["TAU2"], rel=1e-12) and res.overall.chi2 == pytest.approx(s["CHI2"], rel=1e-12)
    assert res.weights.tolist() == pytest.approx([r.stored["WEIGHT"] for r in rows], rel=1e-12, abs=1e-15)
    for sg in an.subgroups:
        assert math.exp(res.subgroups[sg.name].estimate) == pytest.approx(sg.stored["EFFECT_SIZE"], rel=1e-13)
    assert res.subgroup_test.chi2 == pytest.approx(s["Q"], rel=1e-12) and res.subgroup_test.i2 == pytest.approx(s["I2_Q"], rel=1e-11)
    text = str(res)
    assert "RR M-H, Random, 95% CI" in text and "0.68 [0.59, 0.79]" in text  # RevMan: 0.6838 [0.5896, 0.7930]
    with pytest.raises(ValueError, match="method"):
        harness.revman("RR", method="PETO", **cols)
    with pytest.raises(ValueError, match=r"`ai` larger than `n1i`"):
        harness.revman("OR", ai=[5], n1i=[4], ci=[1], n2i=[4])
    with pytest.raises(TypeError, match="unexpected keyword"):
        harness.revman("OR", ai=[1], bi=[4], ci=[1], n2i=[4])
