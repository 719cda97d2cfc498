"""The version-aware core: each behaviour that changed between metafor 3.8-1, 4.8-0 and 5.0-1.

Two kinds of test, for every behaviour:

* an independent value: the formula of the release written out by hand (from
  metafor's R/escalc.r or R/rma.uni.r of that release, cited per test) or a
  published table value;
* agreement with the R engine at *its* release (whatever stack the suite runs
  on): Python is asked for the engine's release, and where that release lacks a
  feature both engines must refuse it. Expectations branch on the engine's
  release (``r_engine.versions()["metafor"]``), never assume one.
"""
import math
import textwrap

import numpy as np
import pytest

import harness
from harness.analyses import KINDS
from harness.analyses.base import follow_engine, metafor_of
from harness.core import effect_sizes as es
from harness.core.versions import (CHANGES, DEFAULT_METAFOR, SUPPORTED_METAFOR, Version, VersionMismatch, conventions, follow,
                                   supported_metafor)
from harness.errors import InputError
from harness.spec import load_fixture
from harness.verify import verify

# n1 = n2 = 10, means 12 and 10, SDs 2 and 4 (the by-hand example of tests/test_effect_sizes.py)
SMALL = dict(m1i=[12.0], sd1i=[2.0], n1i=[10.0], m2i=[10.0], sd2i=[4.0], n2i=[10.0])
J18 = math.gamma(9) / (math.sqrt(9) * math.gamma(8.5))  # Hedges' exact J(m) for m = 18
# six two-group studies (means positive, so ROM is defined)
DATA = dict(m1i=[55.0, 27, 64, 66, 14, 9.5], sd1i=[47.0, 7, 17, 20, 8, 3], n1i=[155.0, 31, 75, 18, 8, 40],
            m2i=[75.0, 29, 119, 137, 18, 7.1], sd2i=[64.0, 4, 29, 48, 11, 2.2], n2i=[156.0, 32, 71, 18, 13, 35])


def engine_release(r_engine) -> str:
    return r_engine.versions()["metafor"]


# --- the table: releases and what each one does ---------------------------------------------------


def test_supported_releases_and_default():
    assert SUPPORTED_METAFOR == ("3.8-1", "4.8-0", "5.0-1")
    assert DEFAULT_METAFOR == "5.0-1"  # current CRAN
    assert Version("3.8-1") < Version("4.8-0") < Version("5.0-1") < Version("5.0-10")
    assert supported_metafor(None) == Version("5.0-1")
    assert supported_metafor("4.8.0").text == "4.8-0"  # R prints both spellings
    with pytest.raises(ValueError, match="not a supported release"):
        supported_metafor("4.6-0")
    with pytest.raises(ValueError, match="not an R package version"):
        supported_metafor("latest")


def test_each_release_behaves_as_its_sources_say():
    # values read from each release's NEWS.md and R sources (see CHANGES[*].source)
    old, mid, new = conventions("3.8-1"), conventions("4.8-0"), conventions("5.0-1")
    assert (old.rom_bias_correction, mid.rom_bias_correction, new.rom_bias_correction) == (False, False, True)
    assert (old.smdh_legacy_variances, mid.smdh_legacy_variances, new.smdh_legacy_variances) == (True, False, False)
    assert (old.escalc_correct, mid.escalc_correct) == (False, True)
    assert (old.escalc_pi, mid.escalc_pi) == (False, True)
    assert (old.test_hksj, mid.test_hksj) == (False, True)
    assert (old.r2_when_nested, mid.r2_when_nested, new.r2_when_nested) == (False, False, True)
    assert (old.he_aliases, mid.he_aliases, new.he_aliases) == ((), (), ("CO", "VC"))
    assert (old.trimfill_final_default_control, mid.trimfill_final_default_control) == (False, True)
    assert "H0" not in old.smd_vtypes and "H0" in mid.smd_vtypes
    assert "LS3" not in old.smdh_vtypes and "LS3" in mid.smdh_vtypes
    assert "LS2" not in mid.rom_vtypes and "LS2" in new.rom_vtypes
    # 2x2 tables (R/escalc.r, measures OR, RR, RD): 3.8-1 ignores vtype for OR and RR
    assert (old.binary_vtype_options("OR"), old.binary_vtype_options("RD")) == (None, ("UB", "LS", "AV"))
    assert mid.binary_vtype_options("RR") == new.binary_vtype_options("RR") == ("LS", "AV", "H0")
    assert "H0" in mid.binary_vtype_options("RD") and new.binary_vtype_options("PETO") is None
    # NEWS 4.2-0: the NA-omission warning counts the studies
    assert old.na_omitted(2, "tables") == "Tables with NAs omitted from model fitting."
    assert (mid.na_omitted(1), new.na_omitted(2)) == ("1 study with NAs omitted from model fitting.", "2 studies with NAs omitted from model fitting.")
    assert conventions("4.2-0").counted_na_warning and not conventions("4.1-0").counted_na_warning
    assert (old.print_wording_480, mid.print_wording_480, new.print_wording_480) == (False, True, True)
    # the warning for Knapp-Hartung asked for an FE model, verbatim from R/rma.uni.r of each release
    assert old.knha_fe_warning("FE") == "Knapp & Hartung method is not meant to be used in the context of FE models."
    assert mid.knha_fe_warning("EE") == "Knapp and Hartung method is not meant to be used in the context of EE models."
    assert new.knha_fe_warning("FE") == "Knapp and Hartung method is not meant to be used in the context of 'FE' models."
    assert all(c.supported for c in (old, mid, new))


def test_an_untested_release_follows_the_dates_and_says_so():
    c = conventions("4.6-0")  # between the tested releases: SMDH's change (4.6-0) yes, the 4.8-0 ones not
    assert not c.supported
    assert c.smdh_legacy_variances is False and c.escalc_correct is False
    summary = conventions("5.0-1").summary()
    assert len(summary) == len(CHANGES) and all(b["applies"] for b in summary)
    assert {b["field"] for b in summary} == {ch.field for ch in CHANGES}


def test_follow_the_engine_the_spec_or_the_default():
    assert follow(None, "4.8-0") == (Version("4.8-0"), "R engine")
    assert follow("4.8-0", "4.8-0") == (Version("4.8-0"), "R engine")
    assert follow("3.8-1", None) == (Version("3.8-1"), "spec")
    assert follow(None, None) == (Version("5.0-1"), "default")
    with pytest.raises(VersionMismatch, match="asks for metafor 3.8-1's behaviour but the R engine has metafor 5.0-1"):
        follow("3.8-1", "5.0-1")


# --- escalc: independent values ---------------------------------------------------------------------


def test_rom_bias_correction_by_hand():
    # metafor 5.0-1 R/escalc.r, measure ROM, correct = TRUE:
    #   yi = log(m1/m2) + 1/2 (sd1^2/(n1 m1^2) - sd2^2/(n2 m2^2))
    r1, r2 = 47**2 / (155 * 55**2), 64**2 / (156 * 75**2)
    corrected = math.log(55 / 75) + (r1 - r2) / 2
    row = {k: v[:1] for k, v in DATA.items()}
    assert harness.escalc("ROM", metafor="5.0-1", **row).yi[0] == pytest.approx(corrected, rel=1e-14)
    assert harness.escalc("ROM", metafor="5.0-1", correct=False, **row).yi[0] == pytest.approx(math.log(55 / 75), rel=1e-15)
    # 3.8-1 and 4.8-0: no correction for ROM (4.8-0's `correct` does not reach ROM)
    for release in ("3.8-1", "4.8-0"):
        assert harness.escalc("ROM", metafor=release, **row).yi[0] == pytest.approx(math.log(55 / 75), rel=1e-15)
    assert harness.escalc("ROM", metafor="4.8-0", correct=True, **row).yi[0] == pytest.approx(math.log(55 / 75), rel=1e-15)
    with pytest.raises(ValueError, match="metafor 3.8-1's escalc has no `correct` argument"):
        harness.escalc("ROM", metafor="3.8-1", correct=True, **row)
    # the correction uses each group's own SD whatever vtype; vi is unchanged by it
    ho = harness.escalc("ROM", vtype="HO", metafor="5.0-1", **row)
    assert ho.yi[0] == pytest.approx(corrected, rel=1e-14)
    assert ho.vi[0] == harness.escalc("ROM", vtype="HO", metafor="4.8-0", **row).vi[0]


def test_rom_ls2_by_hand():
    # metafor 5.0-1, vtype "LS2": sd1^2/(n1 m1^2) + sd2^2/(n2 m2^2) + sd1^4/(2 n1^2 m1^4) + sd2^4/(2 n2^2 m2^4)
    row = {k: v[:1] for k, v in DATA.items()}
    want = 47**2 / (155 * 55**2) + 64**2 / (156 * 75**2) + 47**4 / (2 * 155**2 * 55**4) + 64**4 / (2 * 156**2 * 75**4)
    assert harness.escalc("ROM", vtype="LS2", metafor="5.0-1", **row).vi[0] == pytest.approx(want, rel=1e-14)
    with pytest.raises(ValueError, match="'LS2' is not a vtype of measure ROM in metafor 4.8-0"):
        harness.escalc("ROM", vtype="LS2", metafor="4.8-0", **row)


def test_smdh_variances_by_release_by_hand():
    # s^2 = (4 + 16)/2 = 10, m = 18, g = J(18) * 2/sqrt(10)
    g = J18 * 2 / math.sqrt(10)
    ls_new = g**2 * (16 / 9 + 256 / 9) / (8 * 10**2) + (4 / 9 + 16 / 9) / 10          # >= 4.6-0, R/escalc.r SMDH "LS"
    ls2_new = 4 / (10 * 10) + 16 / (10 * 10) + g**2 / (8 * 10**2) * (16 / 10 + 256 / 10)  # "LS2"
    ls3_new = 4 / (10 * 10) + 16 / (10 * 10) + g**2 / (8 * 10**2) * (16 / 9 + 256 / 9)    # "LS3"
    ls2_old = g**2 * 4 / (2 * 10 * 20**2) + g**2 * 16 / (2 * 10 * 20**2) + 2 * 4 / (10 * 20) + 2 * 16 / (10 * 20)  # 3.8-1 "LS2"
    for release in ("4.8-0", "5.0-1"):
        out = {vt: harness.escalc("SMDH", vtype=vt, metafor=release, **SMALL) for vt in ("LS", "LS2", "LS3")}
        assert out["LS"].yi[0] == pytest.approx(g, rel=1e-14)
        assert out["LS"].vi[0] == pytest.approx(ls_new, rel=1e-14)
        assert out["LS2"].vi[0] == pytest.approx(ls2_new, rel=1e-14)
        assert out["LS3"].vi[0] == pytest.approx(ls3_new, rel=1e-14)
    old = harness.escalc("SMDH", vtype="LS", metafor="3.8-1", **SMALL)
    assert old.vi[0] == pytest.approx(J18**2 * ls_new, rel=1e-14)  # 3.8-1 multiplies "LS" by J^2
    assert harness.escalc("SMDH", vtype="LS2", metafor="3.8-1", **SMALL).vi[0] == pytest.approx(ls2_old, rel=1e-14)
    with pytest.raises(ValueError, match="'LS3' is not a vtype of measure SMDH in metafor 3.8-1"):
        harness.escalc("SMDH", vtype="LS3", metafor="3.8-1", **SMALL)
    # correct = FALSE (>= 4.8-0): J = 1
    d = 2 / math.sqrt(10)
    nc = harness.escalc("SMDH", correct=False, metafor="4.8-0", **SMALL)
    assert nc.yi[0] == pytest.approx(d, rel=1e-15)
    assert nc.vi[0] == pytest.approx(d**2 * (16 / 9 + 256 / 9) / 800 + (4 / 9 + 16 / 9) / 10, rel=1e-14)


def test_smd_h0_and_uncorrected_by_hand():
    # pooled SD sqrt((9*4 + 9*16)/18) = sqrt(10); d = 2/sqrt(10); m = 18
    d = 2 / math.sqrt(10)
    h0 = harness.escalc("SMD", vtype="H0", metafor="4.8-0", **SMALL)
    assert h0.vi[0] == pytest.approx(J18**2 * (1 / 10 + 1 / 10) * 18 / 16, rel=1e-14)  # R/escalc.r 4.8-0 SMD "H0"
    with pytest.raises(ValueError, match="'H0' is not a vtype of measure SMD in metafor 3.8-1"):
        harness.escalc("SMD", vtype="H0", metafor="3.8-1", **SMALL)
    nc = harness.escalc("SMD", correct=False, metafor="5.0-1", **SMALL)
    assert nc.yi[0] == pytest.approx(d, rel=1e-15)
    assert nc.vi[0] == pytest.approx(0.2 + d**2 / 40, rel=1e-14)  # LS: 1/n1 + 1/n2 + d^2/(2N)


def test_smd_from_p_values_with_a_t_table():
    # two-sided p = 0.05 with 18 df: t = 2.100922 (t tables, e.g. Abramowitz & Stegun table 26.10)
    yi = harness.escalc("SMD", pi=[0.05, -0.05], n1i=[10, 10], n2i=[10, 10], metafor="4.8-0").yi
    assert yi[0] == pytest.approx(J18 * 2.100922 * math.sqrt(0.2), rel=5e-7)
    assert yi[1] == -yi[0]  # the sign of pi is the sign of the effect
    assert np.isnan(es.t_from_p(1.5, 18))  # |p| > 1: NA, as metafor's .convp2t
    with pytest.raises(ValueError, match="metafor 3.8-1's escalc has no p-value input"):
        harness.escalc("SMD", pi=[0.05], n1i=[10], n2i=[10], metafor="3.8-1")
    # di: the standardised difference itself (all releases)
    assert harness.escalc("SMD", di=[2 / math.sqrt(10)], n1i=[10], n2i=[10], metafor="3.8-1").yi[0] == pytest.approx(J18 * 2 / math.sqrt(10), rel=1e-14)


# --- rma.uni: independent values ------------------------------------------------------------------------

Y = [0.10, 0.35, -0.05, 0.60, 0.22, 0.41, 0.05, 0.80, 0.30, 0.15]
V = [0.020, 0.050, 0.011, 0.090, 0.030, 0.015, 0.070, 0.100, 0.025, 0.040]
GRP = ["lo", "lo", "hi", "hi", "mid", "mid", "lo", "hi", "mid", "lo"]


def _dummies(levels, intercept):
    cols = [[1.0 if g == lev else 0.0 for g in GRP] for lev in (levels[1:] if intercept else levels)]
    return np.array(cols).T


def test_r2_when_the_intercept_model_is_nested_5_0_1():
    """metafor 5.0-1 gives R2 for a model without intercept whose columns span it (all
    levels of a factor); its R2 must equal that of the same model written with an
    intercept (the same column space, the same fit), which every release reports."""
    levels = ["lo", "mid", "hi"]
    for method in ("REML", "FE"):
        with_int = harness.rma(Y, V, mods=_dummies(levels, True), method=method, metafor="3.8-1")
        assert not math.isnan(with_int.R2)
        noint = harness.rma(Y, V, mods=_dummies(levels, False), intercept=False, method=method, metafor="5.0-1")
        assert noint.R2 == pytest.approx(with_int.R2, rel=1e-10, abs=1e-12)
        for release in ("3.8-1", "4.8-0"):
            assert math.isnan(harness.rma(Y, V, mods=_dummies(levels, False), intercept=False, method=method, metafor=release).R2)
    # a no-intercept model that does not span the intercept: no R2 in any release
    x = np.array([1.0, 2, 2.5, 4, 5.5, 6, 7.5, 8, 9, 9.5])
    assert math.isnan(harness.rma(Y, V, mods=x, intercept=False, metafor="5.0-1").R2)


def test_co_and_vc_are_the_hedges_estimator_in_5_0_1():
    he = harness.rma(Y, V, method="HE")
    for m in ("CO", "VC"):
        fit = harness.rma(Y, V, method=m, metafor="5.0-1")
        assert fit.tau2 == he.tau2 and fit.se_tau2 == he.se_tau2 and fit.method == m
        with pytest.raises(ValueError, match=f"'{m}' is not a tau\\^2 estimator of metafor 4.8-0"):
            harness.rma(Y, V, method=m, metafor="4.8-0")


def test_hksj_is_knha_from_4_8_0():
    kh = harness.rma(Y, V, test="knha")
    for release in ("4.8-0", "5.0-1"):
        fit = harness.rma(Y, V, test="hksj", metafor=release)
        assert fit.se[0] == kh.se[0] and fit.test == "knha"
    with pytest.raises(ValueError, match='"hksj" is not a test of metafor 3.8-1'):
        harness.rma(Y, V, test="hksj", metafor="3.8-1")


# --- agreement with the R engine at its own release ---------------------------------------------------


def _both(r_engine, call_r, call_py):
    """R's call and Python's: (r, py) with py an exception when Python refused."""
    r = call_r()
    try:
        py = call_py()
    except ValueError as e:
        py = e
    return r, py


@pytest.mark.parametrize("measure, vtype, correct", [
    ("ROM", "LS", None), ("ROM", "HO", None), ("ROM", "AV", None), ("ROM", "AVHO", None), ("ROM", "LS2", None), ("ROM", "LS", False),
    ("SMDH", "LS", None), ("SMDH", "LS2", None), ("SMDH", "LS3", None), ("SMDH", "LS", False),
    ("SMD", "H0", None), ("SMD", "LS", False), ("SMD", "UB", False), ("SMD", "LS2", False),
])
def test_escalc_agrees_with_the_engines_release(r_engine, measure, vtype, correct):
    release = engine_release(r_engine)
    r, py = _both(r_engine, lambda: r_engine.call("mh_escalc", data=DATA, measure=measure, vtype=vtype, correct=correct),
                  lambda: harness.escalc(measure, vtype=vtype, correct=correct, metafor=release, **DATA))
    conv = conventions(release)
    offered = conv.escalc_correct or correct is None
    offered = offered and vtype in {"ROM": conv.rom_vtypes, "SMDH": conv.smdh_vtypes, "SMD": conv.smd_vtypes}[measure]
    if not offered:  # this release has no such option: both refuse it
        assert isinstance(py, ValueError) and r.error is not None, (release, r.error, py)
        return
    assert r.error is None, r.error
    np.testing.assert_allclose(py.yi, r.value["yi"], rtol=1e-13, err_msg=f"{release} {measure} {vtype}")
    np.testing.assert_allclose(py.vi, r.value["vi"], rtol=1e-13, err_msg=f"{release} {measure} {vtype}")


@pytest.mark.parametrize("inp", ["pi", "di"])
def test_smd_alternative_inputs_agree_with_the_engines_release(r_engine, inp):
    release = engine_release(r_engine)
    data = {inp: [0.03, -0.4, 0.0012, 0.7] if inp == "pi" else [0.5, -0.2, 1.1, 0.05], "n1i": [20.0, 35, 12, 50], "n2i": [22.0, 30, 12, 48]}
    r, py = _both(r_engine, lambda: r_engine.call("mh_escalc", data=data, measure="SMD", vtype="LS"),
                  lambda: harness.escalc("SMD", metafor=release, **data))
    if inp == "pi" and not conventions(release).escalc_pi:
        assert isinstance(py, ValueError) and r.error is not None
        return
    assert r.error is None, r.error
    np.testing.assert_allclose(py.yi, r.value["yi"], rtol=1e-12)
    np.testing.assert_allclose(py.vi, r.value["vi"], rtol=1e-12)


def test_rma_behaviours_agree_with_the_engines_release(r_engine):
    release = engine_release(r_engine)
    conv = conventions(release)
    data = {"yi": Y, "vi": V}
    # R2 of a model without intercept spanning it (all levels of a factor)
    r = r_engine.call("mh_rma", data=data, mods={"grp": GRP}, factors={"grp": ["lo", "mid", "hi"]}, measure="GEN", method="REML", intercept=False)
    assert r.error is None, r.error
    py = harness.rma(Y, V, mods=_dummies(["lo", "mid", "hi"], False), intercept=False, method="REML", metafor=release)
    r2 = r.value["R2"][0]
    if conv.r2_when_nested:
        assert py.R2 == pytest.approx(r2, rel=1e-8)
    else:
        assert math.isnan(py.R2) and (r2 is None or math.isnan(r2))
    # CO / VC and hksj: the same numbers where the release has them, refused by both where not
    for method, test in (("CO", "z"), ("VC", "z"), ("REML", "hksj")):
        r, py = _both(r_engine, lambda: r_engine.call("mh_rma", data=data, measure="GEN", method=method, test=test),
                      lambda: harness.rma(Y, V, method=method, test=test, metafor=release, control={"threshold": 1e-12, "maxiter": 1000}))
        if isinstance(py, ValueError):
            assert r.error is not None, (release, method, test)
            continue
        assert r.error is None, r.error
        assert py.tau2 == pytest.approx(r.value["tau2"][0], rel=1e-10)
        assert py.se[0] == pytest.approx(r.value["se"][0], rel=1e-10)
    # the warning for Knapp-Hartung asked for an FE model, verbatim
    r = r_engine.call("mh_rma", data=data, measure="GEN", method="FE", test="knha")
    assert conv.knha_fe_warning("FE") in r.warnings


# --- specs: naming a release, and a mismatch with the engine --------------------------------------------

CSV = "study,yi,vi\n" + "".join(f"s{i},{y},{v}\n" for i, (y, v) in enumerate(zip(Y, V)))


def _spec(tmp_path, extra=""):
    (tmp_path / "data.csv").write_text(CSV)
    (tmp_path / "spec.toml").write_text(textwrap.dedent(f"""
        [dataset]
        name = "toy"
        data = "data.csv"
        slab = "study"
        source = "made up for the test"

        [[analysis]]
        id = "toy"
        measure = "GEN"
        yi = "yi"
        vi = "vi"
        {extra}
    """))
    return tmp_path / "spec.toml"


def test_a_spec_may_name_a_supported_release_only(tmp_path):
    fx = load_fixture(_spec(tmp_path, 'metafor = "4.8-0"'))
    assert metafor_of(fx.analyses[0]).version == Version("4.8-0")
    with pytest.raises(InputError, match="metafor 4.6-0 is not a supported release"):
        load_fixture(_spec(tmp_path, 'metafor = "4.6-0"'))
    spec = load_fixture(_spec(tmp_path)).analyses[0]
    assert metafor_of(spec).version == Version(DEFAULT_METAFOR)  # no R, nothing named: the default
    followed = follow_engine(spec, {"metafor": "3.8-1", "robumeta": "2.0", "clubSandwich": "0.5.8"})
    assert followed["metafor"] == "3.8-1" and followed["r_versions"] == {"robumeta": "2.0", "clubSandwich": "0.5.8"}


def test_verify_follows_the_engine_and_reports_a_mismatch(r_engine, tmp_path):
    release = engine_release(r_engine)
    other = next(v for v in SUPPORTED_METAFOR if Version(v) != Version(release))
    run = verify([_spec(tmp_path)])
    assert run.conventions["metafor"] == release and run.conventions["source"] == "R engine"
    assert run.analyses[0].options["metafor"] == release and run.analyses[0].verdict == "agree"
    same = verify([_spec(tmp_path, f'metafor = "{release}"')])
    assert same.analyses[0].verdict == "agree"
    run = verify([_spec(tmp_path, f'metafor = "{other}"')])
    a = run.analyses[0]
    assert a.verdict == "engine-error" and not run.ok  # never compared, never agreement
    assert f"asks for metafor {other}'s behaviour but the R engine has metafor {release}" in a.python_error
    assert "version mismatch" in a.records[0].explanation


# --- the Wald-type CI of tau^2 and its truncation (unchanged across the releases) ---------------------


def test_wald_tau2_ci_by_hand():
    from harness.core.confint import confint_tau2_wald

    z = 1.959963984540054  # qnorm(0.975)
    c = confint_tau2_wald(0.01, 0.02, vt=0.05)
    assert c["tau2"][0] == 0.0  # 0.01 - z 0.02 < 0: truncated at tau2.min = 0 (R/confint.rma.uni.r, type "Wald")
    assert c["tau2"][1] == pytest.approx(0.01 + z * 0.02, rel=1e-15)
    assert c["I2"][1] == pytest.approx(100 * (0.01 + z * 0.02) / (0.05 + 0.01 + z * 0.02), rel=1e-14)
    assert confint_tau2_wald(0.3, 0.1, vt=0.05)["tau2"][0] == pytest.approx(0.3 - z * 0.1, rel=1e-15)  # not truncated
    assert confint_tau2_wald(0.01, 0.02, vt=0.05, tau2_min=-0.01)["tau2"][0] == -0.01


def test_wald_tau2_ci_agrees_with_the_engine(r_engine, tmp_path):
    spec = _spec(tmp_path, 'method = ["DL", "REML", "SJ", "PM"]\nextras = ["confint_wald"]')
    run = verify([spec])
    bad = [(a.id, [(r.name, r.python, r.r) for r in a.records if r.verdict != "agree"][:3]) for a in run.analyses if a.verdict != "agree"]
    assert not bad, bad
    dl = next(a for a in run.analyses if a.id == "toy-DL")
    lb = next(r for r in dl.records if r.name == "confint_wald.tau2_lb")
    assert lb.python == 0.0 and lb.r == 0.0  # the truncation, in both engines


def test_swapped_behaviours_and_what_differs_between_releases():
    """The snapshot check's tools: which behaviours differ between two releases (from CHANGES), and one
    release's conventions with a behaviour of another, inside the block only."""
    from harness.core.versions import changed_fields, changes_of, swapped

    assert changed_fields("4.8-0", "4.8-0") == []
    assert changed_fields("4.8-0", "5.0-1") == ["kh_fe_warning", "rom_bias_correction", "rom_vtypes", "r2_when_nested", "he_aliases"]
    assert "smdh_legacy_variances" in changed_fields("3.8-1", "5.0-1") and "rom_bias_correction" not in changed_fields("3.8-1", "4.8-0")
    assert [c.since for c in changes_of("kh_fe_warning", "3.8-1", "5.0-1")] == ["4.8-0", "5.0-1"]
    with swapped("3.8-1", rom_bias_correction=True):
        assert conventions("3.8-1").rom_bias_correction and conventions("3.8-1").smdh_legacy_variances is True  # the rest is 3.8-1's
        assert conventions("4.8-0").rom_bias_correction is False  # another release is untouched
    assert conventions("3.8-1").rom_bias_correction is False
    with pytest.raises(ValueError, match="not behaviours"):
        with swapped("3.8-1", no_such_field=1):
            pass
