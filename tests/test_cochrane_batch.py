"""Many reviews at once (`metaharness audit DIR/`), the audit's JSON and HTML, the forest-plot
description of each re-verified analysis and its conversion to the shared forest module.

Reference values: the hand-made files of tests/data/cochrane (generate.py, RevMan's formulas
written out), RevMan's own sample files (../shared/reference/revman-samples), and the counts the
per-file tests establish (tests/test_cochrane*.py).
"""
from __future__ import annotations

import json
import math
import pickle
import re
import shutil
from pathlib import Path

import pytest

from harness.audit.batch import AuditOptions, AuditSet, FileError, audit_path, audit_path_or_error, expand
from harness.cli import main
from harness.cochrane import read_review
from harness.cochrane.forestdata import to_forest, to_forest_pair
from harness.reports import forest
from harness.cochrane.reverify import reverify_review
from harness.errors import InputError

DATA = Path(__file__).resolve().parent / "data" / "cochrane"
ROOT = Path(__file__).resolve().parent.parent
SAMPLES = next((p for p in (ROOT.parent / "shared" / "reference" / "revman-samples", Path("/work/shared/reference/revman-samples")) if p.is_dir()), None)


@pytest.fixture
def review_dir(tmp_path):
    d = tmp_path / "reviews"
    (d / "sub").mkdir(parents=True)
    for name in ("handmade_CR.csv", "totals.rm5"):
        shutil.copy(DATA / name, d / name)
    shutil.copy(DATA / "precision_CR.csv", d / "sub" / "precision_CR.csv")
    (d / "notes.txt").write_text("not audited")
    return d


def test_expand_folders_and_files(review_dir):
    got = [p.relative_to(review_dir).as_posix() for p in expand([review_dir])]
    assert got == ["handmade_CR.csv", "sub/precision_CR.csv", "totals.rm5"]  # sorted, below the folder, known suffixes only
    (review_dir / "empty").mkdir()
    with pytest.raises(InputError, match="no file to audit"):
        expand([review_dir / "empty"])
    with pytest.raises(InputError, match="cannot audit"):
        expand([review_dir / "notes.txt"])


@pytest.mark.r
def test_per_file_work_is_a_plain_picklable_function(r_engine):
    """audit_path(path, options) -> a result that pickles (to be mapped over worker processes)."""
    res = audit_path(DATA / "precision_CR.csv", AuditOptions(), engine_factory=lambda: r_engine)
    back = pickle.loads(pickle.dumps(res))
    assert back.counts() == res.counts() == {"consistent": 1, "inconsistent": 1, "cannot check": 0, "error": 0}
    assert back.to_dict() == res.to_dict()
    bad = audit_path_or_error(DATA / "generate.py.csv", AuditOptions())
    assert isinstance(bad, FileError) and bad.counts()["error"] == 1
    pickle.loads(pickle.dumps(bad))


@pytest.mark.r
def test_audit_a_folder(r_engine, review_dir, tmp_path, capsys):
    starts = r_engine.starts
    out_json, out_html, out_junit = tmp_path / "set.json", tmp_path / "set.html", tmp_path / "set.xml"
    rc = main(["audit", str(review_dir), "--json", str(out_json), "--html", str(out_html), "--junit", str(out_junit)])
    text = capsys.readouterr().out
    assert rc == 1  # precision_CR.csv 1.2 holds a wrong value
    assert r_engine.starts == starts  # R was started once for the process, not once per file
    assert "=== Summary over all files" in text and "Analyses of the RevMan files by data type and status" in text
    last = text.strip().splitlines()[-1]
    # handmade_CR.csv: 3 consistent (MD, SMD, RR Mantel-Haenszel); totals.rm5: 8 consistent; precision_CR.csv: 1 + 1 inconsistent
    assert last == "3 file(s): 12 consistent, 1 inconsistent, 0 cannot check, 0 errors"
    doc = json.loads(out_json.read_text(encoding="utf-8"))
    assert doc["headline"] == last
    assert doc["summary"] == {"files": 3, "consistent": 12, "inconsistent": 1, "cannot check": 0, "error": 0}
    assert doc["by_type"]["continuous"] == {"agree": 1, "explained": 10, "differ": 1, "error": 0, "not re-verified": 0}
    assert doc["by_type"]["dichotomous"] == {"agree": 0, "explained": 1, "differ": 0, "error": 0, "not re-verified": 0}
    assert [w["name"] for w in doc["worst"]] == ["study[Brown 2005].WEIGHT"]
    assert len(doc["files"]) == 3 and all(f["kind"] == "cochrane-review" for f in doc["files"])
    html = out_html.read_text(encoding="utf-8")
    assert last in html and "No inconsistent finding" not in html
    assert "{'" not in html and "rtol" not in html  # readable tables, no Python dict text
    # JUnit: one test case per analysis; the wrong weight fails, nothing is skipped
    import xml.etree.ElementTree as ET

    root = ET.parse(out_junit).getroot()
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")} == {"tests": "13", "failures": "1", "errors": "0", "skipped": "0"}
    failed = [tc.get("name") for tc in root.iter("testcase") if tc.find("failure") is not None]
    assert failed == ["1.2 One weight written with fewer digits and wrong"]


@pytest.mark.r
def test_headline_counts_errors_and_bad_files(r_engine, review_dir, tmp_path, capsys):
    shutil.copy(DATA / "truncated_CR.csv", review_dir / "truncated_CR.csv")
    (review_dir / "other.csv").write_text("a,b\n1,2\n", encoding="utf-8")  # not a RevMan export
    out_html = tmp_path / "set.html"
    rc = main(["audit", str(review_dir), "--html", str(out_html)])
    cap = capsys.readouterr()
    last = cap.out.strip().splitlines()[-1]
    assert rc == 2  # one file is bad input; the others were still audited
    assert last == "5 file(s): 13 consistent, 1 inconsistent, 0 cannot check, 2 errors"
    assert "not a RevMan 5 analysis-data export" in cap.out
    html = out_html.read_text(encoding="utf-8")
    assert last in html and 'class="banner bad"' in html


@pytest.mark.r
def test_truncated_export_exit_status_and_last_line(r_engine, capsys):
    rc = main(["audit", str(DATA / "truncated_CR.csv")])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert rc == 1 and last == "1 file(s): 1 consistent, 0 inconsistent, 0 cannot check, 1 error"


@pytest.mark.r
def test_samples_audit_without_false_alarms(r_engine, capsys):
    """RevMan's own files: nothing differs; only Fleiss1993.rm5's SMD analysis, which RevMan did not compute, cannot be checked
    (its 22 dichotomous analyses are re-verified: tests/test_cochrane_dichotomous.py)."""
    if SAMPLES is None:
        pytest.skip("shared/reference/revman-samples is not present beside the repository")
    rc = main(["audit", str(SAMPLES)])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert rc == 0 and last == "3 file(s): 24 consistent, 0 inconsistent, 1 cannot check, 0 errors"


@pytest.mark.r
@pytest.mark.r_bridge
def test_audit_html_in_chromium(r_engine, review_dir, tmp_path):
    from harness.reports import browser

    try:
        browser.find_chromium()
    except browser.BrowserUnavailable as e:
        pytest.fail(str(e), pytrace=False)  # never silently skipped: `make test` installs it
    out_html = tmp_path / "set.html"
    main(["audit", str(review_dir), "--html", str(out_html)])
    dom = browser.dump_dom(out_html)
    assert "3 file(s): 12 consistent, 1 inconsistent, 0 cannot check, 0 errors" in dom
    assert "study[Brown 2005].WEIGHT" in dom and "revman-abs-z" in dom and "not displayed (TOTALS=SUB" in dom
    # 13 re-verified analyses; the one that agrees (totals.rm5 CMP-001.04) is folded, compressed
    assert dom.count('<details class="analysis') == 13 and dom.count("data-z=") == 1
    assert dom.count('<table class="quantities">') == 12 and dom.count('<svg ') == 12
    opened = browser.dump_dom(out_html, fragment="open-all", script_ms=3000)  # the page's link "open every analysis"
    assert opened.count('<table class="quantities">') == 13 and opened.count('<svg ') == 13 and opened.count('data-unpacked="1"') == 1
    # a link to the folded analysis opens and unpacks it (and only it)
    folded = re.search(r'<details class="analysis lazy" id="([^"]+)"', out_html.read_text(encoding="utf-8")).group(1)
    one = browser.dump_dom(out_html, fragment=folded, script_ms=3000)
    assert one.count('<svg ') == 13 and one.count('data-unpacked="1"') == 1 and re.search(f'id="{folded}"[^>]*open', one)


def _sections(dom: str) -> dict:
    """{analysis id: the HTML of its <details>} in a DOM Chromium built (each summary starts with the analysis id)."""
    return {re.match(r"\s*<summary>(\S+) ", body).group(1): body
            for body in re.findall(r'<details class="analysis[^"]*" id="[^"]+"[^>]*>(.*?)</details>', dom, re.S)}


def _texts(html: str) -> list[str]:
    import html as h

    return [h.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", html)]


def _diamonds(html: str) -> tuple[int, int]:
    """(RevMan's filled diamonds, the recomputation's open ones): four-cornered paths in each series' colour."""
    four = r'<path d="M[^"L]*L[^"L]*L[^"L]*L[^"L]*Z" '
    return (len(re.findall(four + f'fill="{forest.SERIES_COLOURS[0]}"', html)),
            len(re.findall(four + f'fill="#ffffff" stroke="{forest.SERIES_COLOURS[1]}"', html)))


@pytest.mark.r
@pytest.mark.r_bridge
def test_audit_html_forest_plots_in_chromium(r_engine, tmp_path):
    """totals.rm5 audited to HTML and opened in Chromium ("open every analysis"): each analysis's forest
    plot in RevMan's layout, RevMan's stored values beside the recomputed ones, honouring TOTALS. The
    lines are RevMan's stored values of the file (generate.py) in RevMan's print formats."""
    from PIL import Image
    import numpy as np

    from harness.reports import browser
    from test_browser import colour_pixels

    try:
        browser.find_chromium()
    except browser.BrowserUnavailable as e:
        pytest.fail(str(e), pytrace=False)
    out = tmp_path / "totals.html"
    assert main(["audit", str(DATA / "totals.rm5"), "--html", str(out)]) == 0
    dom = browser.dump_dom(out, fragment="open-all", script_ms=3000)
    sec = _sections(dom)
    assert sorted(sec) == [f"CMP-001.0{i}" for i in range(1, 9)] and all(b.count("<svg ") == 1 for b in sec.values())
    # TOTALS=YES with two subgroups
    yes = _texts(sec["CMP-001.01"])
    for t in ("Analysis 1.1. Comparison 1 Treatment versus control, Outcome 1 TOTALS = YES (totals and subtotals)",
              "Study or Subgroup", "Treatment", "Control", "Mean", "SD", "Mean Difference", "IV, Random, 95% CI",
              "1.1.1 Adults", "Kim 2004", "Moore 2011", "1.1.2 Children", "Owens 2014",
              "Heterogeneity: Tau² = 2.50; Chi² = 3.39, df = 2 (P = 0.18); I² = 41%", "Test for overall effect: Z = 2.69 (P = 0.007)",
              "Heterogeneity: Tau² = 0.00; Chi² = 0.29, df = 1 (P = 0.59); I² = 0%", "Test for overall effect: Z = 1.05 (P = 0.29)",
              "Heterogeneity: Tau² = 2.58; Chi² = 8.01, df = 4 (P = 0.09); I² = 50%", "Test for overall effect: Z = 2.38 (P = 0.02)",
              "Test for subgroup differences: Chi² = 2.84, df = 1 (P = 0.09), I² = 64.7%",
              "Favours treatment", "Favours control", "-4.00 [-7.68, -0.32]", "100.0%"):
        assert t in yes, t
    assert yes.count("Subtotal (95% CI)") == 2 and yes.count("Total (95% CI)") == 1
    legend = yes[yes.index("Favours control") + 1:]  # under the axis: the legend names exactly the two series drawn
    assert "RevMan (stored)" in legend and "recomputed (Python)" in legend and len(legend) == 2
    assert yes.count("Kim 2004") == 1 and not any(t.startswith("≠") for t in yes)  # the two series agree: one row each, unmarked
    assert _diamonds(sec["CMP-001.01"]) == (3, 3)  # two subtotals and the total, in each series
    order = [yes.index(t) for t in ("1.1.1 Adults", "Kim 2004", "Subtotal (95% CI)", "1.1.2 Children", "Total (95% CI)", "Favours treatment")]
    assert order == sorted(order)
    # TOTALS=SUB: the subtotals, no total; the subgroup test where SUBGROUP_TEST=YES only
    for aid, test in (("CMP-001.02", True), ("CMP-001.03", False)):
        t = _texts(sec[aid])
        assert t.count("Subtotal (95% CI)") == 2 and "Total (95% CI)" not in t and _diamonds(sec[aid]) == (2, 2), aid
        assert ("Test for subgroup differences: Chi² = 2.84, df = 1 (P = 0.09), I² = 64.7%" in t) is test, aid
        assert "Heterogeneity: Tau² = 2.50; Chi² = 3.39, df = 2 (P = 0.18); I² = 41%" in t
    # TOTALS=NO (the analysis that agrees: folded, unpacked by the link): studies only, no diamond, no weight
    t = _texts(sec["CMP-001.04"])
    assert "Kim 2004" in t and "Subtotal (95% CI)" not in t and "Total (95% CI)" not in t and "Weight" not in t
    assert _diamonds(sec["CMP-001.04"]) == (0, 0) and not any(x.startswith(("Heterogeneity", "Test for")) for x in t)
    # one non-empty subgroup: the other's studies listed as not estimable, the subgroup test not applicable
    t = _texts(sec["CMP-001.05"])
    assert "Not estimable" in t and "Test for subgroup differences: Not applicable" in t
    # what Chromium draws: both series' colours in quantity, far more than the page without its plots
    img = np.asarray(Image.open(browser.screenshot(out, tmp_path / "shot.png", width=1280, height=4000, fragment="open-all", script_ms=3000)).convert("RGB"))
    bare = tmp_path / "bare.html"
    bare.write_text(re.sub(r"<svg .*?</svg>", "", out.read_text(encoding="utf-8"), flags=re.S), encoding="utf-8")
    ctrl = np.asarray(Image.open(browser.screenshot(bare, tmp_path / "bare.png", width=1280, height=4000)).convert("RGB"))
    for colour in forest.SERIES_COLOURS:
        assert colour_pixels(img, colour) > colour_pixels(ctrl, colour) + 500, (colour, colour_pixels(img, colour), colour_pixels(ctrl, colour))


# --------------------------------------------------------------------------- forest description


@pytest.mark.r
def test_forest_description_of_a_subgroup_analysis(r_engine):
    audit = reverify_review(read_review(DATA / "totals.rm5"), r_engine)
    yes = next(a for a in audit.analyses if a.id == "CMP-001.01")
    d = yes.forest
    json.dumps(d, allow_nan=False)
    assert d["favours"] == ["Favours treatment", "Favours control"] and d["group_labels"] == ["Treatment", "Control"]
    assert d["series"] == ["revman", "python", "r"] and d["log_scale"] is False and d["model"] == "random"
    assert [g["title"] for g in d["groups"]] == ["Adults", "Children"]
    kim = d["groups"][0]["studies"][0]
    assert kim["label"] == "Kim 2004" and kim["revman"]["estimate"] == -4.0 and kim["python"]["estimate"] == -4.0
    sub = d["groups"][0]["subtotal"]
    assert sub["revman"]["weight"] == pytest.approx(sum(s["revman"]["weight"] for s in d["groups"][0]["studies"]), rel=1e-14)
    assert sub["revman"]["z"] > 0 and sub["python"]["z"] < 0  # RevMan's |Z| beside the signed recomputation
    assert d["overall"]["revman"]["tau2"] == pytest.approx(d["overall"]["r"]["tau2"], rel=1e-12)
    assert d["subgroup_test"]["revman"]["df"] == 1.0
    sub_only = next(a for a in audit.analyses if a.id == "CMP-001.02").forest
    assert sub_only["overall"] is None and sub_only["subgroup_test"] is not None
    assert sub_only["groups"][0]["subtotal"]["revman"]["weight"] == pytest.approx(100, rel=1e-14)


@pytest.mark.r
def test_forest_converter(r_engine):
    """to_forest/to_forest_pair give the shared module's plots; the lines under the diamonds are RevMan's
    stored values of totals.rm5 (generate.py) printed as RevMan prints them (harness.reports.forest)."""
    audit = reverify_review(read_review(DATA / "totals.rm5"), r_engine)
    d = next(a for a in audit.analyses if a.id == "CMP-001.01").forest
    plot, other, labels = to_forest_pair(d, "python")
    assert isinstance(plot, forest.ForestPlot) and labels == ("RevMan (stored)", "recomputed (Python)")
    assert (plot.series, other.series) == labels
    assert plot.title == "Analysis 1.1. Comparison 1 Treatment versus control, Outcome 1 TOTALS = YES (totals and subtotals)"
    assert (plot.measure, plot.model, plot.level, plot.log_scale) == ("MD", "IV, Random", 95.0, False)
    assert [g.title for g in plot.groups] == ["1.1.1 Adults", "1.1.2 Children"] and len(plot.groups[0].studies) == 3
    # the study data as the file writes them (Kim 2004: 30.0, 8.0, 40 against 34.0, 9.0, 42), under the group labels
    assert plot.column_headers == ("Treatment\nMean", "\nSD", "\nTotal", "Control\nMean", "\nSD", "\nTotal")
    kim = plot.groups[0].studies[0]
    assert (kim.label, kim.estimate, kim.columns) == ("Kim 2004", -4.0, ("30.0", "8.0", "40", "34.0", "9.0", "42"))
    assert kim.weight == pytest.approx(d["groups"][0]["studies"][0]["revman"]["weight"])
    assert plot.overall.columns == ("", "", "200", "", "", "199")  # the outcome's TOTAL_1, TOTAL_2
    assert plot.favours == ("Favours treatment", "Favours control")
    adults = plot.groups[0].subtotal
    assert adults.label == "Subtotal (95% CI)" and plot.overall.label == "Total (95% CI)"
    # Adults: TAU2 2.5016861, CHI2 3.3898089, DF 2, P_CHI2 0.1836169, I2 40.9996; Z 2.6889636, P_Z 0.0071674
    assert adults.heterogeneity == "Heterogeneity: Tau² = 2.50; Chi² = 3.39, df = 2 (P = 0.18); I² = 41%"
    assert adults.overall == "Test for overall effect: Z = 2.69 (P = 0.007)"
    # total: TAU2 2.5835904, CHI2 8.0064192, DF 4, P 0.0913434, I2 50.04; Z 2.3793827, P_Z 0.0173417
    assert plot.overall.heterogeneity == "Heterogeneity: Tau² = 2.58; Chi² = 8.01, df = 4 (P = 0.09); I² = 50%"
    assert plot.overall.overall == "Test for overall effect: Z = 2.38 (P = 0.02)"
    # Q 2.8359383, P_Q 0.0921770, I2_Q 64.7383 on 2 subgroups
    assert plot.subgroup_test == "Test for subgroup differences: Chi² = 2.84, df = 1 (P = 0.09), I² = 64.7%"
    # the recomputation prints the same lines (Python's Z is signed; RevMan prints |Z|)
    assert other.groups[0].subtotal.overall == adults.overall and other.subgroup_test == plot.subgroup_test
    assert [len(g.studies) for g in plot.groups] == [len(g.studies) for g in other.groups]
    assert other.overall.estimate == pytest.approx(plot.overall.estimate, rel=1e-12)
    # every row agrees or is explained: nothing marked, no note
    rows = [s for g in other.groups for s in g.studies] + list(other.diamonds)
    assert all(x.differs is False for x in rows) and not plot.notes
    no_totals = next(a for a in audit.analyses if a.id == "CMP-001.04").forest
    p = to_forest(no_totals, "revman")
    assert p.overall is None and all(g.subtotal is None for g in p.groups) and p.subgroup_test is None
    assert all(s.weight is None for g in p.groups for s in g.studies)  # no totals: no weights displayed
    with pytest.raises(ValueError, match="series"):
        to_forest(dict(d, series=["revman"]), "r")
    # handmade.rm5 1.2: study CIs at 95% (CI_STUDY), the pooled ones at 99% (CI_TOTAL), as the file sets them
    smd = next(a for a in reverify_review(read_review(DATA / "handmade.rm5"), r_engine).analyses if a.id == "CMP-001.02")
    p = to_forest(smd.forest, "revman")
    assert (p.measure, p.model, p.level) == ("SMD", "IV, Random", 95.0) and p.overall.label == "Total (99% CI)"
    assert [g.subtotal.label for g in p.groups] == ["Subtotal (99% CI)"] * 2


@pytest.mark.r
def test_forest_marks_the_rows_the_comparison_finds_different(r_engine):
    """precision_CR.csv 1.2: Brown 2005's weight is written "23.1" for the true 23.07692308 (generate.py).
    Printed with one decimal both read 23.1%: the row is marked by the comparison's verdict, not by the drawing."""
    audit = reverify_review(read_review(DATA / "precision_CR.csv"), r_engine)
    bad = next(a for a in audit.analyses if a.id == "1.2")
    assert bad.verdict == "differ"
    plot, other, labels = to_forest_pair(bad.forest, "python")
    assert {s.label: s.differs for s in other.groups[0].studies} == {"Adams 2001": False, "Brown 2005": True, "Chen 2010": False}
    assert other.overall.differs is False
    svg = forest.to_svg(plot, other, labels, differ_rtol=None)
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert [t for t in texts if t.startswith("≠ ") and not t.startswith("≠ :")] == ["≠ Brown 2005"]
    assert "≠ : recomputed (Python) differs from RevMan's stored value on this row (see the table of quantities)" in texts
    # the right analysis 1.1 of the same export: nothing marked, although its 8-decimal values differ from
    # the recomputation by up to 5e-9 absolute (more than the drawing's default 1e-6 relative for small values)
    good = next(a for a in audit.analyses if a.id == "1.1")
    svg = forest.to_svg(*to_forest_pair(good.forest, "python"), differ_rtol=None)
    assert "≠" not in svg


def test_ratio_measure_on_a_log_axis():
    """A hand-made dichotomous description (RR, M-H random): RR 0.5 [0.25, 1.0] and 2.0 [1.0, 4.0], total 1.0
    [0.5, 2.0]. RevMan draws ratios on a log axis symmetric about 1: 0.5 and 2 sit at equal distances either side."""
    def pt(e, lb, ub, w):
        return {"estimate": e, "ci_lb": lb, "ci_ub": ub, "weight": w}

    def pooled(e, lb, ub):  # Q = 2 (log 4)^2 / ... : any numbers; the text lines are RevMan's formats
        return {**pt(e, lb, ub, 100.0), "tau2": 0.12, "chi2": 4.1, "df": 1.0, "p_chi2": 0.043, "i2": 75.6, "z": 0.0, "p_z": 1.0}

    def study(label, e, lb, ub, cells):
        return {"label": label, "estimable": True, "columns": cells, "revman": pt(e, lb, ub, 50.0), "python": pt(e, lb, ub, 50.0), "verdict": {"python": "agree"}}

    desc = {
        "analysis": "CMP-002.01", "number": "2.1", "title": "Sore throat at day 3", "comparison": "Antibiotics versus placebo",
        "measure": "RR", "method": "MH", "model": "random", "level_study": 95.0, "level_total": 95.0, "log_scale": True,
        "favours": ["Favours antibiotics", "Favours placebo"], "group_labels": ["Antibiotics", "Placebo"],
        "column_headers": ["Antibiotics\nEvents", "\nTotal", "Placebo\nEvents", "\nTotal"], "totals": "YES", "series": ["revman", "python"],
        "groups": [{"title": None, "number": None, "subtotal": None, "studies": [
            study("Abel 1990", 0.5, 0.25, 1.0, ["10", "100", "20", "100"]), study("Bose 1995", 2.0, 1.0, 4.0, ["20", "100", "10", "100"])]}],
        "overall": {"columns": ["", "200", "", "200"], "revman": pooled(1.0, 0.5, 2.0), "python": pooled(1.0, 0.5, 2.0), "verdict": {"python": "agree"}},
        "subgroup_test": None,
    }
    plot, other, labels = to_forest_pair(desc, "python")
    assert plot.log_scale and (plot.measure, plot.model) == ("RR", "M-H, Random")
    svg = forest.to_svg(plot, other, labels, differ_rtol=None)
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    for t in ("Risk Ratio", "M-H, Random, 95% CI", "Antibiotics", "Events", "Favours antibiotics", "Favours placebo", "0.50 [0.25, 1.00]",
              "2.00 [1.00, 4.00]", "Heterogeneity: Tau² = 0.12; Chi² = 4.10, df = 1 (P = 0.04); I² = 76%", "Test for overall effect: Z = 0.00 (P = 1.00)"):
        assert t in texts, t
    # the axis: the estimates reach |log10 2| = 0.30, the CIs |log10 4| = 0.60: RevMan's scale 0.2 to 5
    ticks = {t: float(x) for x, t in re.findall(r'<text x="([^"]*)" y="[^"]*" text-anchor="middle">([\d.]+)</text>', svg)}
    assert sorted(ticks, key=float) == ["0.2", "0.5", "1", "2", "5"]
    assert ticks["2"] - ticks["1"] == pytest.approx(ticks["1"] - ticks["0.5"], abs=0.15)  # log spacing, 0.1 pt rounding
    assert ticks["5"] - ticks["1"] == pytest.approx((ticks["2"] - ticks["1"]) * math.log10(5) / math.log10(2), abs=0.15)
    # RevMan's squares (one path of rectangles): centred on 0.5 and 2, symmetric about the line of no effect at 1
    squares = re.findall(r'<path d="([^"]*)" fill="#1f4e99"/>', svg)[0]
    centres = sorted(float(x) + float(w) / 2 for x, w in re.findall(r"M([\d.]+) [\d.]+h([\d.]+)v", squares))
    assert len(centres) == 2 + 1  # two studies, the legend's marker
    studies = [c for c in centres if abs(c - ticks["1"]) < ticks["5"] - ticks["1"]]
    assert studies[0] == pytest.approx(ticks["0.5"], abs=0.2) and studies[1] == pytest.approx(ticks["2"], abs=0.2)


def test_audit_help_says_what_the_html_holds(capsys):
    assert main(["audit", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "forest plot" in text and "RevMan's layout" in text and "table of" in text


@pytest.mark.r
def test_html_under_a_preset_marks_nothing_and_says_why(r_engine, tmp_path):
    """Under --preset metafor the recomputation differs from RevMan 5's stored values by design: the plot
    shows both, marks no row and its caption says so (the table compares Python with metafor)."""
    from harness.reports import lazy

    out = tmp_path / "preset.html"
    main(["audit", str(DATA / "precision_CR.csv"), "--preset", "metafor", "--html", str(out)])
    page = out.read_text(encoding="utf-8")
    bodies = list(lazy.bodies(page).values())
    bodies += re.findall(r"<figure class=\"forest\">.*?</figure>", page, re.S)
    figures = [b for b in bodies if "<svg " in b]
    assert len(figures) == 2
    for b in figures:
        assert "Re-run under the preset &#x27;metafor defaults&#x27;" in b and "≠ " not in re.sub(r"<figcaption>.*?</figcaption>", "", b, flags=re.S)
