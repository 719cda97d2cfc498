"""Re-verifying Cochrane reviews: RevMan 5 files (.rm5) and RevMan CSV exports (issue 10).

Reference values: the hand-made files tests/data/cochrane/handmade.rm5 and
handmade_CR.csv (written by tests/data/cochrane/generate.py with plain
arithmetic) are checked here against RevMan 5's formulas written out by hand
(Deeks & Higgins 2010, "Statistical algorithms in Review Manager 5"), then
re-verified end to end by the Python RevMan engine and by metafor run for real.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness.cochrane import read_review
from harness.cochrane.reverify import P_VALUES, reverify_review
from harness.compare.tolerance import STORED_DOUBLE, STORED_DOUBLE_P
from harness.errors import InputError

DATA = Path(__file__).resolve().parent / "data" / "cochrane"
RM5 = DATA / "handmade.rm5"
CSV = DATA / "handmade_CR.csv"
Z975 = 1.959963984540054  # qnorm(0.975)
ROOT = Path(__file__).resolve().parent.parent
SAMPLES = next((p for p in (ROOT.parent / "shared" / "reference" / "revman-samples", Path("/work/shared/reference/revman-samples")) if p.is_dir()), None)


def by_id(review_or_audit, aid):
    return next(a for a in review_or_audit.analyses if a.id == aid)


# --------------------------------------------------------------------------- the hand-made file itself


def test_handmade_md_analysis_matches_revman_arithmetic():
    """CMP-001.01 (MD, fixed): every stored value from RevMan 5's formulas, by hand."""
    an = by_id(read_review(RM5), "CMP-001.01")
    adams, brown, chen = an.rows
    # MD_i = m1 - m2; SE_i^2 = sd1^2/n1 + sd2^2/n2
    assert adams.stored["EFFECT_SIZE"] == -2.0
    assert adams.stored["SE"] == pytest.approx(math.sqrt(16 / 20 + 25 / 25), rel=1e-15)  # sqrt(1.8)
    assert brown.stored["SE"] == pytest.approx(math.sqrt(9 / 30 + 9 / 30), rel=1e-15)  # sqrt(0.6)
    assert chen.stored["SE"] == pytest.approx(math.sqrt(4 / 40 + 4 / 40), rel=1e-15)  # sqrt(0.2)
    assert adams.stored["CI_START"] == pytest.approx(-2 - Z975 * math.sqrt(1.8), rel=1e-15)
    # w = 1/SE^2 = 5/9, 5/3, 5; sum 65/9 -> weights 100/13, 300/13, 900/13 %
    assert [r.stored["WEIGHT"] for r in an.rows] == pytest.approx([100 / 13, 300 / 13, 900 / 13], rel=1e-14)
    # theta = (5/9*-2 + 5/3*-0.5 + 5*-1) / (65/9) = -25/26 ; SE = sqrt(9/65)
    assert an.stored["EFFECT_SIZE"] == pytest.approx(-25 / 26, rel=1e-15)
    assert an.stored["CI_END"] == pytest.approx(-25 / 26 + Z975 * math.sqrt(9 / 65), rel=1e-14)
    # RevMan stores |Z|
    assert an.stored["Z"] == pytest.approx(25 / 26 / math.sqrt(9 / 65), rel=1e-14)
    # Q = (5/9*(27/26)^2 + 5/3*(12/26)^2 + 5*(1/26)^2) = 650/676 = 25/26 ; df 2 ; I2 = 0 (Q < df)
    assert an.stored["CHI2"] == pytest.approx(25 / 26, rel=1e-14)
    assert an.stored["DF"] == 2 and an.stored["I2"] == 0.0 and an.stored["TAU2"] == 0.0
    # chi2(2) upper tail = exp(-Q/2), with RevMan's approximation error emulated (+6e-7 relative: 2.5e-7 absolute)
    assert an.stored["P_CHI2"] == pytest.approx(math.exp(-25 / 52) * (1 + 6e-7), rel=1e-14)


def test_handmade_smd_analysis_matches_revman_arithmetic():
    """CMP-001.02 (SMD, random, subgroups): first study, one-study subgroup, subgroup test, by hand."""
    an = by_id(read_review(RM5), "CMP-001.02")
    diaz = an.subgroups[0].rows[0]
    # Diaz: 20 (6) n=15 vs 24 (7) n=15; N = 30; s_p^2 = (14*36 + 14*49)/28 = 42.5
    g = -4 / math.sqrt(42.5) * (1 - 3 / (4 * 30 - 9))
    assert diaz.stored["EFFECT_SIZE"] == pytest.approx(g, rel=1e-14)
    assert diaz.stored["SE"] == pytest.approx(math.sqrt(30 / 225 + g**2 / (2 * (30 - 3.94))), rel=1e-14)
    # the one-study subgroup: estimate = the study's g, Q is rounding residue, I2 as RevMan writes it
    garcia = an.subgroups[1].rows[0]
    sp2 = (49 * 16 + 47 * 4.5**2) / 96
    g2 = 1 / math.sqrt(sp2) * (1 - 3 / (4 * 98 - 9))
    assert garcia.stored["EFFECT_SIZE"] == pytest.approx(g2, rel=1e-14)
    long_ = an.subgroups[1].stored
    assert long_["EFFECT_SIZE"] == pytest.approx(g2, rel=1e-14)
    assert long_["DF"] == 0 and long_["CHI2"] < 1e-25 and long_["I2"] == 99.99999999999999
    assert long_["P_CHI2"] == 1.0  # RevMan writes P = 1 for df = 0 (antibiotics-for-sore-throat.rm5 CMP-002.03.01)
    # totals at 99%: CI half-width / SE = qnorm(0.995)
    half = (an.stored["CI_END"] - an.stored["CI_START"]) / 2
    assert half / (an.stored["EFFECT_SIZE"] / -an.stored["Z"]) == pytest.approx(2.5758293035489004, rel=1e-12)
    # subgroup test: Q = sum_j (b_j - b)^2 / se_j^2 on the subgroup estimates, df = 1
    b = [sg.stored["EFFECT_SIZE"] for sg in an.subgroups]
    se = [abs(sg.stored["EFFECT_SIZE"]) / sg.stored["Z"] for sg in an.subgroups]
    w = [1 / s**2 for s in se]
    bbar = sum(wi * bi for wi, bi in zip(w, b)) / sum(w)
    assert an.stored["Q"] == pytest.approx(sum(wi * (bi - bbar) ** 2 for wi, bi in zip(w, b)), rel=1e-12)
    assert an.stored["I2_Q"] == pytest.approx((an.stored["Q"] - 1) / an.stored["Q"] * 100, rel=1e-14)
    # subgroup weight = sum of its studies' weights in the overall random-effects analysis
    assert an.subgroups[0].stored["WEIGHT"] == pytest.approx(sum(r.stored["WEIGHT"] for r in an.subgroups[0].rows), rel=1e-14)


def test_reader_lists_every_analysis_with_settings_and_names():
    rev = read_review(RM5)
    assert rev.fmt == "rm5" and "café" in rev.title
    assert [(a.id, a.data_type) for a in rev.analyses] == [
        ("CMP-001.01", "CONT"), ("CMP-001.02", "CONT"), ("CMP-001.03", "DICH"), ("CMP-001.04", "IV"),
        ("CMP-001.05", "IPD"), ("CMP-001.06", "CONT"), ("CMP-001.07", "CONT")]
    an = rev.analyses[1]
    assert an.settings["RANDOM"] == "YES" and an.settings["CI_TOTAL"] == "99" and an.settings["SUBGROUPS"] == "YES"
    assert an.group_labels == ("Exercise", "Usual care")
    assert [sg.name for sg in an.subgroups] == ["Short programmes", "Long programmes"]
    assert [r.name for r in an.all_rows()] == ["Diaz 2003", "Evans 2008", "Fischer 2012", "Garcia 2015"]
    assert an.all_rows()[0].line is not None
    assert rev.analyses[5].stored["EFFECT_SIZE"] is None  # empty computed value
    assert any("MEAN_2" in p and "line" in p for p in rev.analyses[6].problems)


# --------------------------------------------------------------------------- end to end, with metafor


@pytest.mark.r
def test_handmade_rm5_reverified_end_to_end(r_engine):
    audit = reverify_review(read_review(RM5), r_engine)
    md, smd = by_id(audit, "CMP-001.01"), by_id(audit, "CMP-001.02")
    for a in (md, smd):
        assert a.status == "re-verified" and a.ok, [(c.name, c.verdict) for c in a.records if c.verdict not in ("agree", "explained")]
        assert all(c.value("python") is not None and c.value("r") is not None for c in a.records)
        # .rm5 holds full doubles; p-values without an absolute floor (an underflow to 0 must show)
        assert all(c.tolerance == (STORED_DOUBLE_P if c.name.rsplit(".", 1)[1] in P_VALUES else STORED_DOUBLE) for c in a.records)
        # each quantity is RevMan's value against both recomputations: two comparisons, three sides
        assert all([x.sides for x in c.comparisons] == [("python", "revman"), ("r", "revman")] for c in a.records)
    assert md.k == 3 and smd.k == 4
    assert len(md.records) == 3 * 5 + 11  # 5 per study + the pooled quantities RevMan writes
    explained = {c.name: c.explanation.split(":", 1)[0] for a in (md, smd) for c in a.records if c.verdict == "explained"}
    assert explained == {
        "overall.Z": "revman-abs-z", "overall.P_CHI2": "revman-chi2-p-approximation",
        "subgroup[1: Short programmes].Z": "revman-abs-z", "subgroup[1: Short programmes].P_CHI2": "revman-chi2-p-approximation",
        "subgroup[2: Long programmes].I2": "revman-one-study-i2", "subgroup[2: Long programmes].P_CHI2": "revman-df0-p",
        "subgroups.P_Q": "revman-chi2-p-approximation",
    }
    # the subgroup test, the subgroups' tau2 and the 99% CI were compared too
    names = {c.name for c in smd.records}
    assert {"subgroups.Q", "subgroups.I2_Q", "subgroup[1: Short programmes].TAU2", "overall.CI_START"} <= names
    s = audit.summary()
    # the dichotomous, generic IV and O − E analyses (1.3-1.5) are re-verified too (tests/test_cochrane_dichotomous.py)
    assert (s["re_verified"], s["differing"], s["not_re_verified"], s["errors"]) == (5, 0, 1, 1)
    assert audit.reasons()["errors"] == {"malformed study data": 1}
    assert audit.counts() == {"consistent": 5, "inconsistent": 0, "cannot check": 1, "error": 1}
    assert audit.reasons()["not_re_verified"] == {
        "RevMan stored no results (empty computed values: RevMan did not compute this analysis)": 1,
    }
    bad = by_id(audit, "CMP-001.07")
    assert bad.status == "error" and any("MEAN_2" in p and "line 92" in p for p in bad.problems)
    assert not audit.ok  # a malformed analysis is never agreement (an error, not "inconsistent")
    json.dumps(audit.to_dict(), allow_nan=False)


@pytest.mark.r
def test_handmade_csv_export_reverified_with_printed_digits(r_engine):
    rev = read_review(CSV)
    assert rev.fmt == "csv" and [a.id for a in rev.analyses] == ["1.1", "1.2", "1.3"]
    an = rev.analyses[1]
    assert [sg.name for sg in an.subgroups] == ["Short programmes", "Long programmes"] and len(an.all_rows()) == 4
    # printed to 8 decimals: MD Adams SE = sqrt(1.8) = 1.34164079 (rounded)
    assert rev.analyses[0].rows[0].stored["SE"] == round(math.sqrt(1.8), 8)
    audit = reverify_review(rev, r_engine)
    for aid in ("1.1", "1.2"):
        a = by_id(audit, aid)
        assert a.status == "re-verified" and a.ok, [(c.name, c.verdict, c.rel_diff) for c in a.records if not c.verdict in ("agree", "explained")]
    se = next(c for c in by_id(audit, "1.1").records if c.name == "study[Adams 2001].SE")
    assert se.tolerance.atol == pytest.approx(5e-9)
    dich = by_id(audit, "1.3")  # RR Mantel-Haenszel, printed digits as the continuous ones
    assert dich.status == "re-verified" and dich.ok and dich.k == 2
    assert next(c for c in dich.records if c.name == "study[Brown 2005].WEIGHT").tolerance.atol == pytest.approx(5e-9)
    assert audit.ok


@pytest.mark.r
def test_a_wrong_stored_value_is_a_difference(r_engine, tmp_path):
    text = RM5.read_bytes().decode("iso-8859-1")
    # Brown 2005's MD is -0.5; write -0.6 instead, and a Z of the wrong size for the MD analysis
    text = text.replace('EFFECT_SIZE="-0.5"', 'EFFECT_SIZE="-0.6"', 1)
    bad = tmp_path / "bad.rm5"
    bad.write_bytes(text.replace('Z="2.5840569706085095"', 'Z="2.6"').encode("iso-8859-1"))
    assert 'Z="2.6"' in bad.read_text(encoding="iso-8859-1")
    a = by_id(reverify_review(read_review(bad), r_engine), "CMP-001.01")
    assert a.verdict == "differ"
    differ = {c.name for c in a.records if c.verdict == "differ"}
    assert {"study[Brown 2005].EFFECT_SIZE", "overall.Z"} <= differ  # |Z| quirk does not cover a wrong size
    assert a.worst(1)[0].verdict == "differ"


@pytest.mark.r
def test_truncated_file_keeps_complete_analyses(r_engine, tmp_path):
    data = RM5.read_bytes()
    cut = data.index(b"<CONT_SUBGROUP", data.index(b'ID="CMP-001.02"')) + 40  # inside analysis 2
    f = tmp_path / "truncated.rm5"
    f.write_bytes(data[:cut])
    rev = read_review(f)
    assert rev.problems and "XML error" in rev.problems[0] and "line" in rev.problems[0]
    audit = reverify_review(rev, r_engine)
    assert by_id(audit, "CMP-001.01").ok
    trunc = by_id(audit, "CMP-001.02")
    assert trunc.status == "error" and "truncated" in trunc.reason and "breaks off" in trunc.problems[0]
    assert audit.counts()["error"] == 1 and audit.counts()["inconsistent"] == 0 and not audit.ok


def test_rm5_cut_between_analyses_is_a_file_error(tmp_path):
    data = RM5.read_bytes()
    cut = data.index(b"</CONT_OUTCOME>") + len(b"</CONT_OUTCOME>\n")  # after analysis 1, before analysis 2
    f = tmp_path / "cut.rm5"
    f.write_bytes(data[:cut])
    audit = reverify_review(read_review(f), None, r_unavailable="not needed")
    assert [a.id for a in audit.analyses] == ["CMP-001.01"]
    assert audit.errors and "breaks off after analysis CMP-001.01" in audit.errors[0]
    assert audit.counts()["error"] == 1 and not audit.ok


def test_bad_files_raise_input_errors(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("Name,Foo\nA,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 1.*Comparison Number"):
        read_review(f)
    g = tmp_path / "x.rm5"
    g.write_text("<OTHER/>", encoding="utf-8")
    with pytest.raises(InputError, match="COCHRANE_REVIEW"):
        read_review(g)
    h = tmp_path / "x.rm5"
    h.write_text("not xml at all", encoding="utf-8")
    with pytest.raises(InputError, match="XML error"):
        read_review(h)
    with pytest.raises(InputError, match="unknown review format"):
        read_review(tmp_path / "x.xlsx")


# --------------------------------------------------------------------------- the shared RevMan samples


def test_revman_samples_read_without_error():
    if SAMPLES is None:
        pytest.skip("shared/reference/revman-samples is not present beside the repository")
    rm5 = read_review(SAMPLES / "Fleiss1993.rm5")
    csv = read_review(SAMPLES / "Fleiss1993_CR.csv")
    for rev in (rm5, csv):
        assert not rev.problems and len(rev.analyses) == 2
        assert all(not a.problems for a in rev.analyses)
        assert [a.data_type for a in rev.analyses] == ["DICH", "CONT"]
    assert len(rm5.analyses[0].rows) == 7 and len(csv.analyses[1].rows) == 5
    assert rm5.studies["STD-ISIS_x002d_2"] == ("ISIS-2", "1988")


@pytest.mark.r
def test_revman_sample_export_reverified(r_engine):
    """RevMan's own MD analysis (Fleiss 1993, CSV export) agrees once its quirks are explained."""
    if SAMPLES is None:
        pytest.skip("shared/reference/revman-samples is not present beside the repository")
    audit = reverify_review(read_review(SAMPLES / "Fleiss1993_CR.csv"), r_engine)
    a = by_id(audit, "1.2")
    assert a.status == "re-verified" and a.ok and a.k == 5
    assert {c.name for c in a.records if c.verdict == "explained"} == {"overall.Z", "overall.P_CHI2"}
    rm5 = reverify_review(read_review(SAMPLES / "Fleiss1993.rm5"), r_engine)
    assert [a.status for a in rm5.analyses] == ["re-verified", "not re-verified"]  # 1.1: MH odds ratio (tests/test_cochrane_dichotomous.py)
    assert "did not compute" in rm5.analyses[1].reason
