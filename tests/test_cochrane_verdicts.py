"""Verdicts on RevMan files that used to be wrong: no false alarms (TOTALS, one non-empty subgroup,
p-values at RevMan's precision, P(Z) underflow), no false agreement (an export's dropped trailing
zeros), truncated and malformed exports as errors.

Reference values: the hand-made files tests/data/cochrane/totals.rm5, precision_CR.csv and
truncated_CR.csv, written by tests/data/cochrane/generate.py with RevMan 5's formulas (Deeks &
Higgins 2010) written out in standard-library arithmetic and RevMan's storage conventions as its
own files show them; the stored values are checked here by hand, then re-verified end to end by
the Python RevMan engine and by metafor run for real.
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness.cochrane import read_review
from harness.cochrane.export_csv import ColumnPrecision, cell_digits, export_precision
from harness.cochrane.reverify import reverify_review
from harness.cochrane.rm5 import Analysis

DATA = Path(__file__).resolve().parent / "data" / "cochrane"
TOTALS = DATA / "totals.rm5"


def by_id(x, aid):
    return next(a for a in x.analyses if a.id == aid)


def rec(a, name):
    return next(c for c in a.records if c.name == name)


def expl_id(c):
    return c.explanation.split(":", 1)[0] if c.explanation else None


@pytest.fixture(scope="module")
def totals_audit(r_engine):
    return reverify_review(read_review(TOTALS), r_engine)


# --------------------------------------------------------------------------- the hand-made file itself


def test_totals_file_stores_what_revman_stores():
    rev = read_review(TOTALS)
    yes, sub, no = by_id(rev, "CMP-001.01"), by_id(rev, "CMP-001.02"), by_id(rev, "CMP-001.04")
    assert [a.settings["TOTALS"] for a in (yes, sub, no)] == ["YES", "SUB", "NO"]
    # YES: study weights are percent of the whole analysis; a subgroup's weight is the sum of its studies'
    assert sum(r.stored["WEIGHT"] for r in yes.all_rows()) == pytest.approx(100, rel=1e-14)
    for sg in yes.subgroups:
        assert sg.stored["WEIGHT"] == pytest.approx(sum(r.stored["WEIGHT"] for r in sg.rows), rel=1e-14)
    # SUB: study weights sum to 100 within each subgroup and each subgroup's weight is 100
    for sg in sub.subgroups:
        assert sum(r.stored["WEIGHT"] for r in sg.rows) == pytest.approx(100, rel=1e-14)
        assert sg.stored["WEIGHT"] == pytest.approx(100, rel=1e-14)
    # Kim 2004 (Adults): MD -4, SE^2 = 64/40 + 81/42; under SUB its weight is w/sum(w) within Adults
    # with the Adults subgroup's own DL tau2 -- not its weight in the whole analysis
    kim_yes, kim_sub = yes.subgroups[0].rows[0], sub.subgroups[0].rows[0]
    assert kim_yes.stored["EFFECT_SIZE"] == -4.0 and kim_yes.stored["SE"] == pytest.approx(math.sqrt(64 / 40 + 81 / 42), rel=1e-15)
    assert kim_sub.stored["WEIGHT"] > kim_yes.stored["WEIGHT"]
    # the totals RevMan does not display are written as it writes hidden results
    assert (sub.stored["EFFECT_SIZE"], sub.stored["WEIGHT"], math.isnan(sub.stored["TAU2"])) == (0.0, 0.0, True)
    assert all(r.stored["WEIGHT"] == 0.0 for r in no.all_rows())
    # one non-empty subgroup: the other subgroup's studies are not estimable; RevMan writes Q 0, P 1, I2 0
    one = by_id(rev, "CMP-001.05")
    assert (one.stored["Q"], one.stored["P_Q"], one.stored["I2_Q"]) == (0.0, 1.0, 0.0)
    assert all(r.inputs["SD_1"] == 0 for r in one.subgroups[1].rows)
    # underflow: MD -1.87 (two studies, SE sqrt(0.02) each), pooled SE 0.1, |Z| = 18.7, P(Z) written 0.0
    uf = by_id(rev, "CMP-001.07")
    assert uf.stored["EFFECT_SIZE"] == pytest.approx(-1.87, rel=1e-14) and uf.stored["Z"] == pytest.approx(18.7, rel=1e-14)
    assert uf.stored["P_Z"] == 0.0 and math.erfc(18.7 / math.sqrt(2)) == pytest.approx(4.95e-78, rel=1e-2)
    # p-values at RevMan's precision: P(Z) 1.1e-7 relative above the exact tail of its own |Z|
    pp = by_id(rev, "CMP-001.08")
    assert pp.stored["P_Z"] == pytest.approx(math.erfc(pp.stored["Z"] / math.sqrt(2)) * (1 + 1.1e-7), rel=1e-13)


# --------------------------------------------------------------------------- TOTALS


@pytest.mark.r
def test_totals_yes_compares_everything(totals_audit):
    a = by_id(totals_audit, "CMP-001.01")
    assert a.ok and a.totals == "YES" and not a.not_displayed
    names = {c.name for c in a.records}
    assert {"overall.EFFECT_SIZE", "overall.WEIGHT", "subgroup[1: Adults].WEIGHT", "subgroups.Q", "study[Kim 2004].WEIGHT"} <= names


@pytest.mark.r
def test_totals_sub_compares_subtotals_within_subgroups(totals_audit):
    a = by_id(totals_audit, "CMP-001.02")
    assert a.ok, [(c.name, c.values, c.verdict) for c in a.records if not c.verdict in ("agree", "explained")]
    # the overall values RevMan wrote (zeros, WEIGHT 0.0, TAU2 NaN) are listed, never compared
    assert sorted(a.not_displayed) == sorted(f"overall.{q}" for q in ("EFFECT_SIZE", "CI_START", "CI_END", "WEIGHT", "Z", "P_Z", "CHI2", "DF", "P_CHI2", "I2", "TAU2"))
    assert "not displayed (TOTALS=SUB" in a.not_displayed_reason
    assert not any(c.name.startswith("overall.") for c in a.records)
    # study weights within the subgroup, the subgroup's weight 100, and the subgroup test (SUBGROUP_TEST=YES)
    w = rec(a, "subgroup[1: Adults].WEIGHT")
    assert w.verdict == "agree" and w.value("python") == pytest.approx(100, rel=1e-14) and w.value("r") == pytest.approx(100, rel=1e-14)
    assert rec(a, "study[Kim 2004].WEIGHT").verdict == "agree"
    assert rec(a, "subgroups.Q").verdict == "agree"
    off = by_id(totals_audit, "CMP-001.03")  # SUBGROUP_TEST=NO under SUB: the test is not displayed either
    assert off.ok and {"subgroups.Q", "subgroups.P_Q", "subgroups.I2_Q"} <= set(off.not_displayed)


@pytest.mark.r
def test_totals_sub_read_as_yes_would_be_false_alarms(r_engine, tmp_path):
    """What the first version did: the same analysis with TOTALS ignored differs (hidden totals,
    subgroup weights 100 compared with sums of overall weights)."""
    text = TOTALS.read_bytes().decode("iso-8859-1").replace('TOTALS="SUB"', 'TOTALS="YES"')
    f = tmp_path / "yes.rm5"
    f.write_bytes(text.encode("iso-8859-1"))
    a = by_id(reverify_review(read_review(f), r_engine), "CMP-001.02")
    bad = {c.name for c in a.records if c.verdict == "differ"}
    assert {"overall.EFFECT_SIZE", "overall.WEIGHT", "subgroup[1: Adults].WEIGHT", "study[Kim 2004].WEIGHT"} <= bad


@pytest.mark.r
def test_totals_no_compares_only_study_estimates(totals_audit):
    a = by_id(totals_audit, "CMP-001.04")
    assert a.verdict == "agree" and len(a.records) == 5 * 4  # EFFECT_SIZE, SE, CI_START, CI_END per study
    assert {c.name.rsplit(".", 1)[1] for c in a.records} == {"EFFECT_SIZE", "SE", "CI_START", "CI_END"}
    hidden = set(a.not_displayed)
    assert "study[Kim 2004].WEIGHT" in hidden and "subgroup[2: Children].EFFECT_SIZE" in hidden and "subgroups.Q" in hidden and "overall.Z" in hidden
    assert a.forest["overall"] is None and all(g["subtotal"] is None for g in a.forest["groups"])


# --------------------------------------------------------------------------- subgroup test, p-values


@pytest.mark.r
@pytest.mark.parametrize("aid", ["CMP-001.05", "CMP-001.06"])  # random and fixed effect
def test_one_non_empty_subgroup(totals_audit, aid):
    a = by_id(totals_audit, aid)
    assert a.ok and a.k == 3
    q, p, i2 = rec(a, "subgroups.Q"), rec(a, "subgroups.P_Q"), rec(a, "subgroups.I2_Q")
    assert q.verdict == "agree" and q.value("python") == 0.0 and q.value("r") == 0.0  # a single estimate cannot differ from itself
    assert i2.verdict == "agree"
    assert p.verdict == "explained" and expl_id(p) == "revman-df0-p"  # RevMan writes P = 1 for a test with df = 0
    assert not any(c.name.startswith("subgroup[2") for c in a.records)  # the empty subgroup shows no result


@pytest.mark.r
def test_p_z_underflow_is_revmans(totals_audit):
    a = by_id(totals_audit, "CMP-001.07")
    p = rec(a, "overall.P_Z")
    assert p.value("revman") == 0.0 and p.value("python") == pytest.approx(4.95e-78, rel=1e-2)
    assert p.verdict == "explained" and expl_id(p) == "revman-normal-p-underflow"


@pytest.mark.r
def test_p_values_at_revman_precision_are_explained(totals_audit):
    a = by_id(totals_audit, "CMP-001.08")
    assert a.ok
    pz, pc = rec(a, "overall.P_Z"), rec(a, "overall.P_CHI2")
    assert pz.verdict == "explained" and expl_id(pz) == "revman-normal-p-approximation" and pz.rel_diff == pytest.approx(1.1e-7, rel=1e-3)
    assert pc.verdict == "explained" and expl_id(pc) == "revman-chi2-p-approximation"
    assert pc.abs_diff == pytest.approx(2.5e-7 + 6e-7 * pc.value("python"), rel=1e-6)  # absolute error + the file's relative emulation


@pytest.mark.r
def test_wrong_p_values_are_not_explained(r_engine, tmp_path):
    rev = read_review(TOTALS)
    a = by_id(rev, "CMP-001.08")
    a.stored["P_Z"] *= 1 + 5e-5  # beyond RevMan's ~1e-7 relative
    a.stored["P_CHI2"] += 5e-5  # beyond its ~3e-7 absolute
    out = by_id(reverify_review(rev, r_engine), "CMP-001.08")
    assert rec(out, "overall.P_Z").verdict == "differ" and rec(out, "overall.P_CHI2").verdict == "differ"


# --------------------------------------------------------------------------- CSV precision


def test_cell_digits():
    assert cell_digits("0.00101033") == (8, 6)
    assert cell_digits("72.87984024") == (8, 10)
    assert cell_digits("100") == (0, 1) and cell_digits("-1.5") == (1, 2) and cell_digits("1.50") == (2, 3)
    assert cell_digits("") is None and cell_digits("NaN") is None and cell_digits("abc") is None


def _an(values):
    """An analysis whose study rows print ``values`` in the Weight column (the rest empty)."""
    from harness.cochrane.rm5 import Row

    rows = [Row(f"s{i}", f"s{i}", None, {}, {}, {"WEIGHT": v}) for i, v in enumerate(values)]
    return Analysis("1.1", "CONT", "", "", {}, {}, {}, rows=rows, fmt="csv")


def test_export_precision_from_the_whole_column():
    # RevMan's format: 8 decimals whatever the magnitude, trailing zeros dropped
    p = export_precision([_an(["72.87984024", "3.17649", "0.00101033", "38.6", "100", "0"])])["WEIGHT"]
    assert (p.kind, p.digits, p.source) == ("decimals", 8, "file")
    assert p.tolerance(38.6).atol == pytest.approx(5e-9)  # not the 0.05 of "38.6"'s one printed decimal
    # a writer with 6 significant digits shows it in small values' decimals
    p = export_precision([_an(["72.8798", "3.17649", "0.00101033", "0.000123457", "12345.6"])])["WEIGHT"]
    assert (p.kind, p.digits) == ("significant", 6)
    assert p.tolerance(0.000123457).atol == pytest.approx(5e-10) and p.tolerance(12345.6).atol == pytest.approx(0.05)
    # nothing shows the precision (0, 100, -1.5): RevMan 5's 8 decimals, assumed and said so
    p = export_precision([_an(["0", "100", "-1.5"])])["WEIGHT"]
    assert (p.kind, p.digits, p.source) == ("decimals", 8, "assumed") and "assumed" in p.describe()


@pytest.mark.r
def test_dropped_trailing_zeros_do_not_hide_a_wrong_value(r_engine):
    rev = read_review(DATA / "precision_CR.csv")
    assert all((c.kind, c.digits) == ("decimals", 8) for c in rev.precision.values())
    right, wrong = rev.analyses
    # printed without trailing zeros: MD -2, -0.5, -1; weight 100; tau2 0
    assert [r.raw["EFFECT_SIZE"] for r in right.rows] == ["-2", "-0.5", "-1"] and right.raw["WEIGHT"] == "100" and right.raw["TAU2"] == "0"
    assert wrong.rows[1].raw["WEIGHT"] == "23.1"  # Brown 2005: true weight 300/13 = 23.07692308
    audit = reverify_review(rev, r_engine)
    a1, a2 = audit.analyses
    assert a1.ok, [(c.name, c.values) for c in a1.records if c.verdict not in ("agree", "explained")]
    assert a2.verdict == "differ"
    assert [c.name for c in a2.records if c.verdict == "differ"] == ["study[Brown 2005].WEIGHT"]
    w = rec(a2, "study[Brown 2005].WEIGHT")
    assert w.value("python") == pytest.approx(300 / 13, rel=1e-14) and w.tolerance.atol == pytest.approx(5e-9)
    # the cell's own digits would have allowed +-0.05 and called it agreement (|23.1 - 23.0769| = 0.023)
    assert abs(23.1 - 300 / 13) < 0.05


def test_truncated_export_is_an_error(tmp_path):
    rev = read_review(DATA / "truncated_CR.csv")
    assert any("breaks off inside line 7" in p and "truncated" in p for p in rev.problems)
    audit = reverify_review(rev, None, r_unavailable="not needed here")
    a1, a2 = audit.analyses
    assert a1.status == "re-verified"
    assert a2.status == "error" and a2.reason == "truncated in the file" and "line 7" in a2.problems[0]
    assert a2.reason != "RevMan stored no results"
    assert audit.counts()["error"] == 1 and not audit.ok
    # cut before the numbers of the line can be read: a file-level error
    text = (DATA / "handmade_CR.csv").read_text(encoding="utf-8")
    f = tmp_path / "cut.csv"
    f.write_text(text[: text.index("1,2,0,Function") + 2], encoding="utf-8")
    audit = reverify_review(read_review(f), None, r_unavailable="not needed here")
    assert audit.errors and "truncated" in audit.errors[0] and audit.counts()["error"] >= 1 and not audit.ok


def test_malformed_export_line_is_an_error(tmp_path):
    lines = (DATA / "handmade_CR.csv").read_bytes().decode("utf-8").split("\r\n")
    i = next(k for k, line in enumerate(lines) if line.startswith("1,1,0,Brown"))
    lines[i] = lines[i] + ",extra"  # one field too many
    f = tmp_path / "bad.csv"
    f.write_bytes("\r\n".join(lines).encode("utf-8"))
    audit = reverify_review(read_review(f), None, r_unavailable="not needed here")
    a = by_id(audit, "1.1")
    assert a.status == "error" and a.reason == "malformed line in the file" and "malformed line" in a.problems[0]
    assert audit.counts()["error"] == 1
