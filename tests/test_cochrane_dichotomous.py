"""`metaharness audit` on dichotomous, generic inverse-variance and O − E analyses (harness.cochrane.dichotomous).

Reference values: RevMan's own stored numbers -- the real Cochrane review CD000023 (antibiotics for
sore throat, RevMan 5.2.11: 21 Mantel-Haenszel risk-ratio random-effects analyses, zero cells,
double zeros, subgroups, an analysis without any estimable study) and Fleiss1993.rm5 /
Fleiss1993_CR.csv (RevMan 5.0, MH odds ratio fixed), read from the shared RevMan samples beside
the repository -- and the hand-made files of tests/data/cochrane (generate_dichotomous.py,
standard-library arithmetic after Deeks & Higgins 2010). Both engines run for real: the Python
RevMan engine and metafor (rma.mh / rma.uni) through R. RevMan stores full doubles in a .rm5: the
tolerance is STORED_DOUBLE; its p-values are approximations, bounded by the registry entries
revman-normal-p-approximation and revman-chi2-p-approximation.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from scipy import stats

from harness.cli import main
from harness.cochrane import read_review
from harness.cochrane.reverify import reverify_review
from harness.compare import explained

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "cochrane"
SAMPLES = next((p for p in (ROOT.parent / "shared" / "reference" / "revman-samples", Path("/work/shared/reference/revman-samples")) if p.is_dir()), None)
#: RevMan's own numerical quirks (explained.toml, "RevMan 5's own numerical quirks"): the only explanations a stored value may get
QUIRKS = {"revman-abs-z", "revman-normal-p-approximation", "revman-normal-p-underflow", "revman-chi2-p-approximation", "revman-one-study-i2", "revman-df0-p"}
_CACHE: dict = {}


def _sample(name):
    if SAMPLES is None:
        pytest.skip("shared/reference/revman-samples is not present beside the repository")
    return SAMPLES / name


def _audit(path, r_engine):
    if path not in _CACHE:
        _CACHE[path] = reverify_review(read_review(path), r_engine)
    return _CACHE[path]


def _by_id(audit, aid):
    return next(a for a in audit.analyses if a.id == aid)


def _both_engines_agree(a):
    """Every quantity compared with RevMan by Python and by metafor, none differing, explanations only RevMan's quirks."""
    assert a.status == "re-verified" and a.ok, [(c.name, c.values, c.verdict) for c in a.records if c.verdict not in ("agree", "explained")]
    for c in a.records:
        assert [x.sides for x in c.comparisons] == [("python", "revman"), ("r", "revman")], c.name
        for x in c.comparisons:
            assert x.verdict in ("agree", "explained"), (c.name, x)
            if x.verdict == "explained":
                assert x.explanation.split(":", 1)[0] in QUIRKS, (c.name, x.explanation)


@pytest.mark.r
def test_sore_throat_review_every_analysis_with_both_engines(r_engine):
    """CD000023: all 21 analyses re-verified by Python and metafor, 0 differ; per study, subgroup and overall."""
    audit = _audit(_sample("antibiotics-for-sore-throat.rm5"), r_engine)
    assert len(audit.analyses) == 21 and audit.counts() == {"consistent": 21, "inconsistent": 0, "cannot check": 0, "error": 0}
    names = set()
    for a in audit.analyses:
        _both_engines_agree(a)
        names |= {c.name.rsplit(".", 1)[1] if c.name.startswith("study[") else c.name.split("[")[0].split(".")[0] + "." + c.name.rsplit(".", 1)[1]
                  for c in a.records}
    # what is compared: per study, per subgroup and overall, the subgroup test, totals, RevMan's log10 values
    assert {"ESTIMABLE", "EFFECT_SIZE", "SE", "VAR", "CI_START", "CI_END", "LOG_EFFECT_SIZE", "LOG_CI_START", "LOG_CI_END", "WEIGHT"} <= names
    pooled = {"EFFECT_SIZE", "CI_START", "CI_END", "LOG_EFFECT_SIZE", "WEIGHT", "Z", "P_Z", "CHI2", "DF", "P_CHI2", "I2", "TAU2", "EVENTS_1", "TOTAL_1", "EVENTS_2", "TOTAL_2"}
    assert {f"overall.{q}" for q in pooled} <= names and {f"subgroup.{q}" for q in pooled} <= names
    assert {"subgroups.Q", "subgroups.P_Q", "subgroups.I2_Q"} <= names
    assert sum(len(a.records) for a in audit.analyses) >= 2400
    # RevMan's 0.5 in every cell of a table with a zero, and its not-estimable double zeros: exercised
    flags = [c for a in audit.analyses for c in a.records if c.name.endswith(".ESTIMABLE")]
    assert sum(c.value("revman") == 0.0 for c in flags) == 55 and sum(c.value("revman") == 1.0 for c in flags) == sum(a.k for a in audit.analyses)


@pytest.mark.r
def test_sore_throat_p_values_within_revmans_approximation_bounds(r_engine):
    """The chi-squared p-values RevMan stored for CD000023 differ from the exact tail by its approximation,
    within revman-chi2-p-approximation's absolute bound (1e-6) -- real values, not rounding -- and P(Z)
    within revman-normal-p-approximation's."""
    audit = _audit(_sample("antibiotics-for-sore-throat.rm5"), r_engine)
    chi2 = {e.id: e for e in explained.load()}["revman-chi2-p-approximation"]
    assert chi2.max_rel_diff == 0.0 and chi2.max_abs_diff == 1e-6  # an absolute bound: RevMan's error is absolute
    worst_abs, worst_rel, n = 0.0, 0.0, 0
    for a in audit.analyses:
        stored_of = {c.name: c.value("revman") for c in a.records}
        n_sub = len({c.name.split("]")[0] for c in a.records if c.name.startswith("subgroup[") and c.name.endswith(".EFFECT_SIZE")})
        for c in a.records:
            prefix, q = c.name.rsplit(".", 1)
            if q not in ("P_CHI2", "P_Q") or c.value("revman") in (None, 1.0):
                continue
            stored = c.value("revman")
            # the exact tail of RevMan's own stored statistic
            if q == "P_CHI2":
                stat, df = stored_of[f"{prefix}.CHI2"], stored_of[f"{prefix}.DF"]
            else:
                stat, df = stored_of["subgroups.Q"], n_sub - 1
            exact = stats.chi2.sf(stat, df)
            assert abs(stored - exact) <= 1e-6, (a.id, c.name, stored, exact)
            worst_abs, worst_rel, n = max(worst_abs, abs(stored - exact)), max(worst_rel, abs(stored - exact) / exact), n + 1
            for x in c.comparisons:
                assert x.verdict == "agree" or x.explanation.startswith("revman-chi2-p-approximation"), (c.name, x)
    assert n >= 40 and 1e-7 < worst_abs < 1e-6  # the approximation is real (2.7e-7 on CMP-004.06) and bounded
    assert worst_rel > 1e-5  # so a relative bound (the entry's former 1e-5) could not hold
    pz = [x for a in audit.analyses for c in a.records if c.name.endswith(".P_Z") for x in c.comparisons if x.verdict == "explained"]
    assert pz and all(x.explanation.startswith("revman-normal-p-approximation") for x in pz)


@pytest.mark.r
def test_an_analysis_without_an_estimable_study(r_engine):
    """CD000023 CMP-002.04: every study a double zero; RevMan shows 'Not estimable' and stores zeros. Re-verified:
    every study's ESTIMABLE = NO and the totals; the zeros are not compared."""
    a = _by_id(_audit(_sample("antibiotics-for-sore-throat.rm5"), r_engine), "CMP-002.04")
    _both_engines_agree(a)
    assert a.k == 0 and {c.name.rsplit(".", 1)[1] for c in a.records} == {"ESTIMABLE", "EVENTS_1", "TOTAL_1", "EVENTS_2", "TOTAL_2"}
    assert all(c.value("revman") == 0.0 for c in a.records if c.name.endswith(".ESTIMABLE"))
    assert any("no estimable study" in n for n in a.notes)


@pytest.mark.r
def test_fleiss1993_mh_odds_ratio_rm5_and_export(r_engine):
    """RevMan 5.0's MH odds ratio (Fleiss 1993): the .rm5 at full doubles, the export at its 8 printed decimals."""
    rm5 = _audit(_sample("Fleiss1993.rm5"), r_engine)
    _both_engines_agree(_by_id(rm5, "CMP-001.01"))
    assert _by_id(rm5, "CMP-001.02").status == "not re-verified"  # SMD RevMan did not compute
    csv = _audit(_sample("Fleiss1993_CR.csv"), r_engine)
    a = _by_id(csv, "1.1")
    _both_engines_agree(a)
    assert a.k == 7 and {"overall.EVENTS_1", "overall.TOTAL_2", "study[ISIS-2].WEIGHT"} <= {c.name for c in a.records}
    w = next(c for c in a.records if c.name == "study[ISIS-2].WEIGHT")
    assert w.tolerance.atol == pytest.approx(5e-9)  # half a unit of the 8th decimal


@pytest.mark.r
def test_handmade_files_cover_every_method_with_0_differ(r_engine):
    """handmade_dichotomous.rm5 and handmade.rm5: MH OR/RR/RD fixed and random, IV OR/RR/RD, Peto fixed and random,
    generic IV (HR, MD), O − E fixed and random; zero cells, double zeros, subgroups (both tests), a one-study subgroup."""
    seen = set()
    for name in ("handmade_dichotomous.rm5", "handmade.rm5"):
        audit = _audit(DATA / name, r_engine)
        for a in audit.analyses:
            if a.data_type in ("dichotomous", "generic IV", "O − E"):
                _both_engines_agree(a)
                seen.add((a.data_type, a.forest["method"], a.measure, a.model))
    assert {("dichotomous", m, x, mod) for m, x in (("MH", "OR"), ("MH", "RR"), ("MH", "RD")) for mod in ("fixed", "random")} <= seen
    assert {("dichotomous", "IV", "OR", "random"), ("dichotomous", "IV", "RR", "fixed"), ("dichotomous", "IV", "RD", "fixed"),
            ("dichotomous", "PETO", "PETO_OR", "fixed"), ("dichotomous", "PETO", "PETO_OR", "random"),
            ("generic IV", "IV", "HR", "fixed"), ("generic IV", "IV", "MD", "random"), ("O − E", "PETO", "PETO_OR", "fixed"),
            ("O − E", "PETO", "PETO_OR", "random")} <= seen
    hd = _audit(DATA / "handmade_dichotomous.rm5", r_engine)
    rd = _by_id(hd, "CMP-001.03")  # RD includes the double zero (Eriksen 2005); RR does not
    assert next(c for c in rd.records if c.name == "study[Eriksen 2005].ESTIMABLE").value("python") == 1.0
    assert next(c for c in _by_id(hd, "CMP-001.02").records if c.name == "study[Eriksen 2005].ESTIMABLE").value("r") == 0.0
    assert {"subgroups.Q", "subgroups.P_Q"} <= {c.name for c in rd.records}  # the MH fixed-effect partition test


@pytest.mark.r
def test_a_wrong_dichotomous_value_is_a_difference(r_engine, tmp_path):
    """False agreement: a not-estimable study marked estimable, a total of events off by one -- each differs."""
    lines = (DATA / "handmade_dichotomous.rm5").read_text(encoding="utf-8").split("\n")
    i = next(j for j, line in enumerate(lines) if line.startswith("<DICH_OUTCOME") and 'ID="CMP-001.02"' in line)
    ev = int(lines[i].split('EVENTS_1="', 1)[1].split('"', 1)[0])
    lines[i] = lines[i].replace(f'EVENTS_1="{ev}"', f'EVENTS_1="{ev + 1}"')  # the outcome's total of events, off by one
    j = next(j for j in range(i, len(lines)) if 'STUDY_ID="STD-Eriksen"' in lines[j])
    assert 'ESTIMABLE="NO"' in lines[j]
    lines[j] = lines[j].replace('ESTIMABLE="NO"', 'ESTIMABLE="YES"')  # a double zero marked estimable
    bad = "\n".join(lines)
    p = tmp_path / "bad.rm5"
    p.write_text(bad, encoding="utf-8")
    a = _by_id(reverify_review(read_review(p), r_engine), "CMP-001.02")
    differ = {c.name for c in a.records if c.verdict == "differ"}
    assert {"study[Eriksen 2005].ESTIMABLE", "overall.EVENTS_1"} <= differ and not a.ok


@pytest.mark.r
def test_metaharness_audit_sore_throat_and_folder(r_engine, tmp_path, capsys):
    """The command: the real review exits 0 with every analysis consistent; a folder audit of tests/data/cochrane
    counts the dichotomous, generic IV and O − E analyses as re-verified."""
    rc = main(["audit", str(_sample("antibiotics-for-sore-throat.rm5"))])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert rc == 0 and last == "1 file(s): 21 consistent, 0 inconsistent, 0 cannot check, 0 errors"
    out = tmp_path / "set.json"
    main(["audit", str(DATA), "--json", str(out)])
    capsys.readouterr()
    doc = json.loads(out.read_text(encoding="utf-8"))
    by = doc["by_type"]
    # handmade_dichotomous.rm5: 13 dichotomous, 2 generic IV, 2 O − E; handmade.rm5 and handmade_CR.csv: one of each / one dichotomous
    assert by["dichotomous"]["not re-verified"] == 0 and by["dichotomous"]["differ"] == 0 and by["dichotomous"]["error"] == 0
    assert by["generic IV"]["not re-verified"] == 0 and by["generic IV"]["differ"] == 0
    assert by["O − E"]["not re-verified"] == 0 and by["O − E"]["differ"] == 0
    assert by["dichotomous"]["agree"] + by["dichotomous"]["explained"] == 13
    assert by["generic IV"]["agree"] + by["generic IV"]["explained"] == 3 and by["O − E"]["agree"] + by["O − E"]["explained"] == 3


@pytest.mark.r
def test_forest_plot_of_a_dichotomous_analysis_has_total_events_rows(r_engine):
    """RevMan's layout for dichotomous data: events/total per group on every study row, the totals of participants
    on each pooled row and a "Total events" row under it (CD000023 analysis 1.2: 734/754 and 275/277 in the
    subgroups, 1009/1031 overall, RevMan's stored EVENTS_1/2), a log axis."""
    import re

    from harness.cochrane.forestdata import to_forest_pair
    from harness.reports import forest

    a = _by_id(_audit(_sample("antibiotics-for-sore-throat.rm5"), r_engine), "CMP-001.02")
    plot, other, labels = to_forest_pair(a.forest, "python")
    assert plot.log_scale and plot.column_headers[0].endswith("Events")
    assert [g.subtotal.events for g in plot.groups] == [("734", "", "754", ""), ("275", "", "277", "")]
    assert plot.overall.events == ("1009", "", "1031", "") and plot.overall.columns == ("", "2066", "", "1555")
    svg = forest.to_svg(plot, other, labels, differ_rtol=None)
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert texts.count("Total events") == 3 and {"734", "754", "1009", "1031", "2066", "1555"} <= set(texts)
    assert "≠" not in svg  # nothing differs
