"""Many reviews at once (`metaharness audit DIR/`), the audit's JSON and HTML, the forest-plot
description of each re-verified analysis and its conversion to the shared forest module.

Reference values: the hand-made files of tests/data/cochrane (generate.py, RevMan's formulas
written out), RevMan's own sample files (../shared/reference/revman-samples), and the counts the
per-file tests establish (tests/test_cochrane*.py).
"""
from __future__ import annotations

import json
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.audit.batch import AuditOptions, AuditSet, FileError, audit_path, audit_path_or_error, expand
from harness.cli import main
from harness.cochrane import read_review
from harness.cochrane.forestdata import to_forest, to_forest_pair
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
    # handmade_CR.csv: 2 consistent + 1 cannot check; totals.rm5: 8 consistent; precision_CR.csv: 1 + 1 inconsistent
    assert last == "3 file(s): 11 consistent, 1 inconsistent, 1 cannot check, 0 errors"
    doc = json.loads(out_json.read_text(encoding="utf-8"))
    assert doc["headline"] == last
    assert doc["summary"] == {"files": 3, "consistent": 11, "inconsistent": 1, "cannot check": 1, "error": 0}
    assert doc["by_type"]["continuous"] == {"agree": 1, "explained": 10, "differ": 1, "error": 0, "not re-verified": 0}
    assert [w["name"] for w in doc["worst"]] == ["study[Brown 2005].WEIGHT"]
    assert len(doc["files"]) == 3 and all(f["kind"] == "cochrane-review" for f in doc["files"])
    html = out_html.read_text(encoding="utf-8")
    assert last in html and "No inconsistent finding" not in html
    assert "{'" not in html and "rtol" not in html  # readable tables, no Python dict text
    # JUnit: one test case per analysis; the wrong weight fails, the dichotomous analysis is skipped
    import xml.etree.ElementTree as ET

    root = ET.parse(out_junit).getroot()
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")} == {"tests": "13", "failures": "1", "errors": "0", "skipped": "1"}
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
    assert last == "5 file(s): 12 consistent, 1 inconsistent, 1 cannot check, 2 errors"
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
    """RevMan's own files: nothing differs (dichotomous analyses are not re-verified yet)."""
    if SAMPLES is None:
        pytest.skip("shared/reference/revman-samples is not present beside the repository")
    rc = main(["audit", str(SAMPLES)])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert rc == 0 and last == "3 file(s): 1 consistent, 0 inconsistent, 24 cannot check, 0 errors"


@pytest.mark.r
def test_audit_html_in_chromium(r_engine, review_dir, tmp_path):
    from harness.reports import browser

    try:
        browser.find_chromium()
    except browser.BrowserUnavailable as e:
        pytest.fail(str(e), pytrace=False)  # never silently skipped: `make test` installs it
    out_html = tmp_path / "set.html"
    main(["audit", str(review_dir), "--html", str(out_html)])
    dom = browser.dump_dom(out_html)
    assert "3 file(s): 11 consistent, 1 inconsistent, 1 cannot check, 0 errors" in dom
    assert "study[Brown 2005].WEIGHT" in dom and "revman-abs-z" in dom and "not displayed (TOTALS=SUB" in dom
    assert dom.count('<table class="quantities">') == 2 + 8 + 2  # one per re-verified analysis


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


# The interface of harness/reports/forest.py (the shared RevMan-layout forest module): used when
# that module is not importable on this branch; once it is, the test runs against the real one.
@dataclass(frozen=True)
class _Study:
    label: str
    estimate: float
    ci_lb: float
    ci_ub: float
    weight: float | None = None
    columns: tuple = ()


@dataclass(frozen=True)
class _Pooled:
    label: str
    estimate: float
    ci_lb: float
    ci_ub: float
    weight: float | None = None
    heterogeneity: str | None = None
    overall: str | None = None
    pi_lb: float | None = None
    pi_ub: float | None = None


@dataclass(frozen=True)
class _Group:
    title: str | None
    studies: tuple
    subtotal: _Pooled | None = None


@dataclass(frozen=True)
class _Plot:
    groups: tuple
    overall: _Pooled | None = None
    subgroup_test: str | None = None
    measure: str = ""
    log_scale: bool = False
    favours: tuple | None = None
    column_headers: tuple = ()
    title: str | None = None
    series: str | None = None


class _Interface:
    ForestStudy, ForestPooled, ForestGroup, ForestPlot = _Study, _Pooled, _Group, _Plot

    @staticmethod
    def heterogeneity_text(tau2, chi2, df, p, i2):
        return f"tau2={tau2} chi2={chi2} df={df} p={p} i2={i2}"

    @staticmethod
    def overall_text(z, p):
        return f"z={z} p={p}"

    @staticmethod
    def subgroup_test_text(chi2, df, p, i2):
        return f"chi2={chi2} df={df} p={p} i2={i2}"


def _forest_module():
    try:
        from harness.reports import forest

        return forest
    except ImportError:
        return _Interface


@pytest.mark.r
def test_forest_converter(r_engine):
    fm = _forest_module()
    audit = reverify_review(read_review(DATA / "totals.rm5"), r_engine)
    d = next(a for a in audit.analyses if a.id == "CMP-001.01").forest
    plot, other, labels = to_forest_pair(d, "python", forest=fm)
    assert isinstance(plot, fm.ForestPlot) and labels == ("RevMan (stored)", "recomputed (Python)")
    assert [g.title for g in plot.groups] == ["Adults", "Children"] and len(plot.groups[0].studies) == 3
    kim = plot.groups[0].studies[0]
    assert (kim.label, kim.estimate) == ("Kim 2004", -4.0) and kim.weight == pytest.approx(d["groups"][0]["studies"][0]["revman"]["weight"])
    assert plot.favours == ("Favours treatment", "Favours control") and plot.log_scale is False
    assert plot.groups[0].subtotal.label == "Subtotal (95% CI)" and plot.overall.label == "Total (95% CI)"
    assert plot.groups[0].subtotal.heterogeneity and plot.overall.overall and plot.subgroup_test
    # the same shape in both series, RevMan's numbers in one, the recomputed ones in the other
    assert [len(g.studies) for g in plot.groups] == [len(g.studies) for g in other.groups]
    assert other.overall.estimate == pytest.approx(plot.overall.estimate, rel=1e-12)
    no_totals = next(a for a in audit.analyses if a.id == "CMP-001.04").forest
    p = to_forest(no_totals, "revman", forest=fm)
    assert p.overall is None and all(g.subtotal is None for g in p.groups) and p.subgroup_test is None
    assert all(s.weight is None for g in p.groups for s in g.studies)  # no totals: no weights displayed
    with pytest.raises(ValueError, match="series"):
        to_forest(dict(d, series=["revman"]), "r", forest=fm)
