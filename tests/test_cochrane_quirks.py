"""RevMan's quirks as explained differences, convention presets, input lint and the audit command (issue 10)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness.cli import main
from harness.cochrane import quirks, read_review
from harness.cochrane.lint import grim_consistent, lint_analysis
from harness.cochrane.presets import PRESETS, get_preset
from harness.cochrane.reverify import reverify_review
from harness.cochrane.rm5 import Analysis, Row, Subgroup
from harness.compare import explained
from harness.compare.compare import compare_values
from harness.compare.tolerance import STORED_DOUBLE, STORED_DOUBLE_P
from harness.errors import InputError
from scipy import stats

DATA = Path(__file__).resolve().parent / "data" / "cochrane"


# --------------------------------------------------------------------------- quirks
#
# Each registry entry of RevMan's quirks, tested on RevMan's own output: the stored values of
# antibiotics-for-sore-throat.rm5 (a Cochrane review, CD000023.pub4, RevMan 5.2.11; 21 dichotomous
# analyses) and Fleiss1993.rm5 / Fleiss1993_CR.csv (RevMan 5.0). The p-values are checked against
# their exact tails (scipy) from RevMan's own stored statistics (Z, CHI2, DF), which needs no
# recomputation of the dichotomous analyses themselves.

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = next((p for p in (ROOT.parent / "shared" / "reference" / "revman-samples", Path("/work/shared/reference/revman-samples")) if p.is_dir()), None)
REG = {e.id: e for e in explained.load()}


def _samples():
    if SAMPLES is None:
        pytest.skip("shared/reference/revman-samples is not present beside the repository")
    return read_review(SAMPLES / "antibiotics-for-sore-throat.rm5")


def _blocks(rev):
    """(name, stored) of every pooled block RevMan computed (estimable: a weight above 0)."""
    for a in rev.analyses:
        for name, st in [(f"{a.id}.overall", a.stored)] + [(f"{sg.id}.subgroup", sg.stored) for sg in a.subgroups]:
            if st.get("WEIGHT"):
                yield a, name, st


def _record(name, recomputed, stored, tol):
    return compare_values(name, recomputed, stored, tol, ("python", "revman"))


def test_every_quirk_is_registered_in_the_explained_registry():
    for q in quirks.QUIRK_IDS:
        assert q in REG, q
        assert REG[q].when.get("source") == "revman5"


def test_abs_z_explains_only_the_sign():
    z = 2.5840569706085095
    rec = _record("overall.Z", -z, z, STORED_DOUBLE)
    assert rec.verdict == "differ" and quirks.explain(rec, 2).startswith("revman-abs-z")
    assert quirks.explain(_record("overall.Z", -z, 2.6, STORED_DOUBLE), 2) is None  # wrong size: not a quirk
    assert quirks.explain(_record("overall.Z", 2.50, 2.58, STORED_DOUBLE), 2) is None  # positive Z: nothing to explain
    # RevMan's own file: Z stored positive for a pooled RR below 1 (log RR < 0)
    rev = _samples()
    a = rev.analyses[0]
    assert a.stored["EFFECT_SIZE"] < 1 and a.stored["Z"] > 0  # CMP-001.01: RR 0.684, Z 5.027


def test_normal_p_approximation_on_revman_values():
    """revman-normal-p-approximation: every P_Z RevMan stored within 1e-6 relative of the exact
    two-sided tail of its own |Z|; some beyond the stored-double tolerance (the entry is needed)."""
    entry = REG["revman-normal-p-approximation"]
    rels = []
    for a, name, st in _blocks(_samples()):
        exact = 2 * stats.norm.sf(abs(st["Z"]))
        rec = _record(f"{name}.P_Z", exact, st["P_Z"], STORED_DOUBLE_P)
        rels.append(rec.rel_diff)
        if rec.verdict == "differ":
            assert quirks.explain(rec, int(st["DF"])).startswith("revman-normal-p-approximation"), (name, rec)
    assert len(rels) == 41 and max(rels) < entry.max_rel_diff
    assert max(rels) == pytest.approx(1.1531383e-07, rel=1e-4)  # CMP-002.03: P_Z 0.2109290228760643 at Z 1.2510150173052699
    assert sum(r > STORED_DOUBLE_P.rtol for r in rels) == 7
    # a P(Z) wrong by 1e-5 relative is not RevMan's approximation
    assert quirks.explain(_record("overall.P_Z", 0.21092899855 * (1 + 1e-5), 0.21092899855, STORED_DOUBLE_P), 2) is None


def test_normal_p_underflow():
    """revman-normal-p-underflow: P(Z) stored as 0 for |Z| = 18.7 (exact 5e-78); RevMan still stores
    8.23e-15 correctly at Z = 7.76 (antibiotics CMP-001.03.02), which bounds where it underflows."""
    rev = _samples()
    sg = next(sg for a in rev.analyses for sg in a.subgroups if sg.id == "CMP-001.03.02")
    assert sg.stored["P_Z"] == pytest.approx(2 * stats.norm.sf(sg.stored["Z"]), rel=1e-9) and sg.stored["P_Z"] < 1e-14
    exact = 2 * stats.norm.sf(18.7)
    rec = _record("overall.P_Z", exact, 0.0, STORED_DOUBLE_P)
    assert rec.verdict == "differ"  # no absolute floor: an underflow is a difference ...
    assert quirks.explain(rec, 1).startswith("revman-normal-p-underflow")  # ... RevMan's, explained
    # a P(Z) of 0 where the exact p is 1e-10 is no underflow: a real difference
    assert quirks.explain(_record("overall.P_Z", 1e-10, 0.0, STORED_DOUBLE_P), 1) is None


def test_chi2_p_approximation_is_absolute_on_revman_values():
    """revman-chi2-p-approximation: every P_CHI2 and P_Q RevMan stored within 1e-6 absolute of the
    exact upper tail of its own CHI2/Q and df, including p = 2.25e-12 (2.3e-4 relative off)."""
    entry = REG["revman-chi2-p-approximation"]
    rev = _samples()
    errs, rels = [], []
    for a, name, st in _blocks(rev):
        if st["DF"] > 0:
            exact = stats.chi2.sf(st["CHI2"], st["DF"])
            rec = _record(f"{name}.P_CHI2", exact, st["P_CHI2"], STORED_DOUBLE_P)
            errs.append(rec.abs_diff)
            rels.append(rec.rel_diff)
            assert rec.verdict == "agree" or quirks.explain(rec, int(st["DF"])).startswith("revman-chi2-p-approximation"), (name, rec)
    for a in rev.analyses:
        groups = [sg for sg in a.subgroups if sg.stored.get("WEIGHT")]
        if a.has_subgroups and len(groups) > 1:
            exact = stats.chi2.sf(a.stored["Q"], len(groups) - 1)
            rec = _record(f"{a.id}.subgroups.P_Q", exact, a.stored["P_Q"], STORED_DOUBLE_P)
            errs.append(rec.abs_diff)
            assert rec.verdict == "agree" or quirks.explain(rec, len(groups) - 1).startswith("revman-chi2-p-approximation")
    assert len(errs) == 48 and max(errs) < entry.max_abs_diff
    assert max(errs) == pytest.approx(2.7041e-07, rel=1e-3)  # CMP-004.06: P_CHI2 0.2166818532544632, exact 0.21668158284066458
    assert max(rels) > 2e-4  # CMP-001.01, p = 2.25e-12: a relative bound would not hold
    # Fleiss1993.rm5 CMP-001.01 (RevMan 5.0): CHI2 9.946055983220074, df 6, P_CHI2 0.1269422521561745
    f = read_review(SAMPLES / "Fleiss1993.rm5").analyses[0].stored
    rec = _record("overall.P_CHI2", stats.chi2.sf(f["CHI2"], 6), f["P_CHI2"], STORED_DOUBLE_P)
    assert rec.abs_diff == pytest.approx(7.4e-8, rel=0.02) and quirks.explain(rec, 6).startswith("revman-chi2-p-approximation")
    # 1e-5 absolute is beyond RevMan's approximation
    assert quirks.explain(_record("overall.P_CHI2", 0.3, 0.3 + 1e-5, STORED_DOUBLE_P), 4) is None


def test_df0_conventions_on_revman_values():
    """revman-df0-p and revman-one-study-i2: one estimable study (CMP-002.03.01, CMP-003.02.02) is
    stored CHI2 0, DF 0, P_CHI2 1, I2 0; one non-empty subgroup (CMP-004.03) Q 0, P_Q 1, I2_Q 0."""
    rev = _samples()
    ones = [sg.stored for a in rev.analyses for sg in a.subgroups if sg.id in ("CMP-002.03.01", "CMP-003.02.02")]
    assert len(ones) == 2
    for st in ones:
        assert (st["CHI2"], st["DF"], st["P_CHI2"], st["I2"]) == (0.0, 0.0, 1.0, 0.0)
        rec = _record("subgroup[1: x].P_CHI2", math.nan, st["P_CHI2"], STORED_DOUBLE_P)  # the Python engine: undefined
        assert rec.verdict == "differ" and quirks.explain(rec, 0).startswith("revman-df0-p")
        rec = _record("subgroup[1: x].I2", math.nan, st["I2"], STORED_DOUBLE)
        assert quirks.explain(rec, 0).startswith("revman-one-study-i2")
    a = next(a for a in rev.analyses if a.id == "CMP-004.03")
    assert [sg.stored["WEIGHT"] > 0 for sg in a.subgroups] == [True, False]
    assert (a.stored["Q"], a.stored["P_Q"], a.stored["I2_Q"]) == (0.0, 1.0, 0.0)
    assert quirks.explain(_record("subgroups.P_Q", math.nan, 1.0, STORED_DOUBLE_P), 0).startswith("revman-df0-p")
    # not with df > 0, and not for a stored value other than 1
    assert quirks.explain(_record("subgroups.P_Q", math.nan, 1.0, STORED_DOUBLE_P), 1) is None
    assert quirks.explain(_record("subgroups.P_Q", math.nan, 0.3, STORED_DOUBLE_P), 0) is None
    # RevMan 5's handmade-file emulation of a one-study I2 written on a rounding-residue Q
    assert quirks.explain(_record("subgroup[2: B].I2", math.nan, 99.99999999999999, STORED_DOUBLE), 0).startswith("revman-one-study-i2")
    assert quirks.explain(_record("subgroup[2: B].I2", 40.0, 99.99999999999999, STORED_DOUBLE), 3) is None


def test_a_nan_on_one_side_is_explained_only_by_an_unbounded_entry():
    """A value undefined on one side has no size: a bounded entry (chi2 p-value, 1e-6) never covers it."""
    rec = _record("overall.P_CHI2", math.nan, 0.0, STORED_DOUBLE_P)
    assert rec.abs_diff is None and rec.verdict == "differ"
    assert quirks.explain(rec, 2) is None
    assert explained.explain({"source": "revman5", "df": "2", "stored": "zero", "abs_agrees": "no", "fmt": "rm5"}, rec) is None


# --------------------------------------------------------------------------- presets


def test_presets_and_unknown_name():
    assert set(PRESETS) == {"revman5", "revman-web-2025", "metafor"}
    web = get_preset("RevMan-Web")
    assert (web.random_method, web.test, web.prediction, web.i2_from) == ("REML", "knha", True, "tau2")
    with pytest.raises(InputError, match="unknown preset"):
        get_preset("stata")


@pytest.mark.r
@pytest.mark.parametrize("preset", ["revman-web-2025", "metafor"])
def test_rerun_under_another_preset_engines_agree(r_engine, preset):
    audit = reverify_review(read_review(DATA / "handmade.rm5"), r_engine, preset)
    a = next(x for x in audit.analyses if x.id == "CMP-001.02")  # SMD, random effects
    assert a.status == "re-verified" and a.ok, [(c.name, c.values) for c in a.records if c.verdict != "agree"]
    byname = {c.name: c for c in a.records}
    # REML tau2 is not RevMan's DL tau2 (stored 0.16440521876644615): the preset changes the result
    tau2 = byname["overall.TAU2"]
    assert tau2.value("revman") == pytest.approx(0.16440521876644615)
    assert abs(tau2.value("python") - tau2.value("revman")) > 1e-4
    assert [c.sides for c in tau2.comparisons] == [("python", "r")]  # the engines are compared; RevMan's value is shown
    assert tau2.note.startswith("change from RevMan 5: ")
    assert {"overall.PI_START", "overall.PI_END"} <= set(byname)
    assert byname["overall.PI_START"].value("python") < byname["overall.CI_START"].value("python")
    md = next(x for x in audit.analyses if x.id == "CMP-001.01")  # fixed effect
    names = {c.name for c in md.records}
    if preset == "revman-web-2025":
        assert "overall.PI_START" not in names  # a fixed-effect analysis stays fixed: no prediction interval
        assert next(c for c in md.records if c.name == "overall.EFFECT_SIZE").value("python") == pytest.approx(-25 / 26, rel=1e-12)


# --------------------------------------------------------------------------- lint


def _row(name, m1, sd1, n1, m2, sd2, n2, line, raw=None):
    x = dict(MEAN_1=m1, SD_1=sd1, TOTAL_1=n1, MEAN_2=m2, SD_2=sd2, TOTAL_2=n2)
    return Row(f"STD-{name}", name, None, x, {}, raw or {k: str(v) for k, v in x.items()}, line)


def _analysis(rows, subgroups=()):
    return Analysis("CMP-009.01", "CONT", "c", "lint test", {"EFFECT_MEASURE": "MD"}, {}, {}, rows=list(rows), subgroups=list(subgroups))


def codes(findings):
    return sorted((f.study, f.code) for f in findings)


def test_lint_sd_like_se_zero_sd_small_n_and_duplicates():
    rows = [
        _row("A", 10, 5.0, 30, 11, 5.2, 30, 1),
        _row("B", 10, 4.8, 40, 11, 5.1, 40, 2),
        # SD 0.9 with n = 36: SD*sqrt(n) = 5.4, beside a median SD of about 5: a standard error
        _row("C", 10, 0.9, 36, 11, 5.0, 36, 3),
        _row("D", 10, 0.0, 1, 11, -1.0, 20, 4),
        _row("A", 12, 5.0, 30, 11, 5.2, 30, 5),  # same study id again
        _row("E", 10, 5.0, 30, 11, 5.2, 30, 6),  # inputs identical to A
    ]
    got = codes(lint_analysis(_analysis(rows)))
    assert ("C", "sd-looks-like-se") in got
    assert got.count(("D", "sd-not-positive")) == 2 and ("D", "n-below-2") in got
    assert ("A", "duplicate-study") in got and ("E", "duplicate-study") in got
    assert not any(s in ("B",) for s, _ in got)


def test_grim_only_when_declared_integer():
    # mean 3.45 with n = 10 at 2 decimals: totals 34 -> 3.40 and 35 -> 3.50; 3.45 is impossible
    assert not grim_consistent(3.45, 10, 2)
    assert grim_consistent(3.40, 10, 2)
    # 17 participants: 58/17 = 3.41176... rounds to 3.41 (possible)
    assert grim_consistent(3.41, 17, 2)
    rows = [_row("A", 3.45, 1.0, 10, 3.4, 1.0, 10, 1, raw={"MEAN_1": "3.45", "MEAN_2": "3.40"})]
    assert codes(lint_analysis(_analysis(rows), integer_scale=True)) == [("A", "grim")]
    assert lint_analysis(_analysis(rows)) == []
    # n >= 10^decimals: every mean is possible, no finding
    big = [_row("A", 3.45, 1.0, 120, 3.4, 1.0, 120, 1, raw={"MEAN_1": "3.45", "MEAN_2": "3.40"})]
    assert lint_analysis(_analysis(big), integer_scale=True) == []


def test_lint_duplicates_are_per_subgroup():
    sg1 = Subgroup("s1", "1", "one", {}, {}, rows=[_row("A", 1, 1, 10, 2, 1, 10, 1)])
    sg2 = Subgroup("s2", "2", "two", {}, {}, rows=[_row("A", 1, 1, 10, 2, 1, 10, 2)])
    assert lint_analysis(_analysis([], [sg1, sg2])) == []  # the same study in two subgroups is legitimate


# --------------------------------------------------------------------------- the command


@pytest.mark.r
def test_metaharness_audit_on_review_files(r_engine, tmp_path, capsys):
    out = tmp_path / "audit.json"
    rc = main(["audit", str(DATA / "handmade_CR.csv"), "--json", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "1.2" in text and "1.3" in text and "re-verified" in text
    doc = json.loads(out.read_text(encoding="utf-8"))
    f = doc["files"][0]
    assert f["kind"] == "cochrane-review" and f["summary"]["re_verified"] == 3 and f["summary"]["differing"] == 0
    # the .rm5 holds a malformed analysis: exit status 1, and the message names it
    rc = main(["audit", str(DATA / "handmade.rm5")])
    text = capsys.readouterr().out
    assert rc == 1 and "CMP-001.07" in text and "MEAN_2" in text
    rc = main(["audit", str(DATA / "handmade.rm5"), "--preset", "revman-web-2025"])
    text = capsys.readouterr().out
    assert "change under RevMan Web 2025" in text
