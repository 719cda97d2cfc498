"""Reports: terminal widths and colour, progress, JUnit XML, JSON schema, plot data, HTML structure.

Rendering is checked on comparison records built here by hand (the numbers
are arbitrary inputs to a renderer, not reference values); the JSON schema and
the command line are checked on a real run through R (``r_engine``).
"""
from __future__ import annotations

import io
import json
import math
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest

from harness.compare.compare import AnalysisComparison, Record
from harness.compare.tolerance import CLOSED
from harness.reports import html as html_report
from harness.reports import json as json_report
from harness.reports import junit as junit_report
from harness.reports import terminal
from harness.reports.plotdata import plot_data, split_name

ANSI = re.compile(r"\x1b\[[0-9;]*m")

# ---- hand-made runs ---------------------------------------------------------------------


class FakeRun:
    """A VerifyRun stand-in (the report layer only reads these attributes)."""

    def __init__(self, analyses, r_unavailable=None):
        self.analyses = analyses
        self.r_unavailable = r_unavailable
        self.engines = {"python": {"python": "3.11", "numpy": "2"}, "r": {"R": "4.2.2", "metafor": "3.8-1"}}

    @property
    def n_quantities(self):
        return sum(len(a.records) for a in self.analyses)

    def counts(self):
        c = dict.fromkeys(("agree", "explained", "differ", "missing", "engine-error", "warning"), 0)
        for a in self.analyses:
            for r in a.records:
                c[r.verdict] += 1
        return c

    @property
    def ok(self):
        return all(a.ok for a in self.analyses)

    def to_dict(self):
        return {"schema": 1, "engines": self.engines, "r_unavailable": self.r_unavailable,
                "summary": {"analyses": len(self.analyses), "quantities": self.n_quantities, **self.counts()},
                "analyses": [a.to_dict() for a in self.analyses]}


def rec(name, py, r, verdict="agree", explanation=None):
    ad = None if py is None or r is None else abs(py - r)
    rd = None if ad is None else (ad / abs(r) if r else 0.0)
    return Record(name, py, r, ad, rd, CLOSED, verdict, explanation)


LONG = "a-very-long-analysis-identifier-that-goes-on-and-on-REML-knha-with-moderators-and-more"
LABELS = ["Cote", "Ghosh", "Orpington-Moderate-stroke-unit-with-a-very-long-study-label-indeed"]
YI = [-0.25, -0.5, 0.3]
VI = [0.04, 0.015, 0.09]


def agreeing(aid="demo-MD-DL"):
    a = AnalysisComparison(aid, "rma", "fixtures/demo/spec.toml", options={"measure": "MD", "method": "DL", "level": 95.0})
    for lab, y, v, w in zip(LABELS, YI, VI, (30.0, 50.0, 20.0)):
        a.records += [rec(f"yi[{lab}]", y, y), rec(f"vi[{lab}]", v, v), rec(f"weights[{lab}]", w, w * (1 + 1e-15))]
    a.records += [rec("beta", -0.2, -0.2), rec("ci_lb", -0.5, -0.5), rec("ci_ub", 0.1, 0.1), rec("tau2", 0.01, 0.01)]
    a.seconds = {"python": 0.01, "r": 0.02}
    return a


def differing():
    a = agreeing(LONG)
    a.records[-1] = rec("tau2", 0.0123456789012345, 0.0123, "differ")
    a.records.append(rec("I2", 12.5, 13.75, "explained", "RevMan's I2 truncates at zero (documented convention)"))
    return a


def failing():
    a = AnalysisComparison("demo-error", "robu", "fixtures/other/spec.toml")
    a.r_error = "Error in robu(): singular design"
    a.records = [Record("b_r", 1.0, None, None, None, None, "engine-error", "R: Error in robu(): singular design")]
    return a


# ---- terminal --------------------------------------------------------------------------------


def test_terminal_fits_100_columns_with_long_names():
    run = FakeRun([agreeing(), differing(), failing()])
    for detail in (False, True):
        out = terminal.render(run, detail=detail)
        widest = max(len(line) for line in out.splitlines())
        assert widest <= 100, [line for line in out.splitlines() if len(line) > 100]


def test_terminal_summary_line_per_analysis_and_table_only_where_it_differs():
    run = FakeRun([agreeing(), differing(), failing()])
    out = terminal.render(run)
    lines = out.splitlines()
    # one summary row per analysis
    assert sum(1 for line in lines if line.startswith("demo-MD-DL ")) == 1
    # the agreeing analysis gets no table by default; the differing one shows its non-agreeing rows
    assert "yi[Cote]" not in out
    assert "tau2" in out and "differ" in out
    assert "RevMan's I2 truncates at zero" in out  # the explanation is printed
    assert "singular design" in out and "not compared" in out
    assert lines[-1].startswith("3 analyses, ")
    detail = terminal.render(run, detail=True)
    assert "yi[Cote]" in detail and "weights[Ghosh]" in detail


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    assert terminal.use_color(Tty()) is True
    assert terminal.use_color(io.StringIO()) is False  # piped
    monkeypatch.setenv("NO_COLOR", "1")
    assert terminal.use_color(Tty()) is False
    assert terminal.use_color(Tty(), "always") is True
    monkeypatch.setenv("NO_COLOR", "")  # empty NO_COLOR does not count (no-color.org)
    assert terminal.use_color(Tty()) is True
    assert terminal.use_color(Tty(), "never") is False
    run = FakeRun([differing()])
    coloured = terminal.render(run, color=True)
    assert "\x1b[31m" in coloured
    assert max(len(ANSI.sub("", line)) for line in coloured.splitlines()) <= 100
    assert "\x1b[" not in terminal.render(run, color=False)


def test_progress_on_a_terminal_only_and_quiet_in_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    tty = Tty()
    p = terminal.Progress(stream=tty)
    assert p.enabled
    p.t0 -= 2.0  # two seconds ago
    p(3, 10, SimpleNamespace(id="x-REML"))
    text = tty.getvalue()
    assert "3/10 analyses" in text and "/s" in text and "left" in text and "x-REML" in text
    line = p.line(3, 10, now=p.t0 + 2.0)
    assert "1.5/s" in line and "0:04 left" in line  # 3 in 2 s -> 1.5/s; 7 left -> 4.67 s
    p(10, 10)
    assert tty.getvalue().endswith("\r\x1b[K")  # the line is cleared at the end
    monkeypatch.setenv("CI", "true")
    assert not terminal.Progress(stream=Tty()).enabled
    monkeypatch.delenv("CI")
    piped = io.StringIO()
    q = terminal.Progress(stream=piped)
    q(1, 2)
    assert not q.enabled and piped.getvalue() == ""


# ---- JUnit -------------------------------------------------------------------------------------


def test_junit_one_testcase_per_analysis_failures_carry_the_table(tmp_path):
    run = FakeRun([agreeing(), differing(), failing()])
    path = tmp_path / "junit.xml"
    junit_report.write(run, path, name="metaharness verify")
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    cases = root.findall(".//testcase")
    assert [c.get("name") for c in cases] == ["demo-MD-DL", LONG, "demo-error"]
    assert root.get("tests") == "3" and root.get("failures") == "1" and root.get("errors") == "1"
    ok, bad, err = cases
    assert ok.find("failure") is None and ok.find("error") is None
    assert ok.get("classname") == "metaharness.rma.demo"
    f = bad.find("failure")
    assert f is not None and f.get("type") == "differ"
    assert "tau2" in f.text and "0.0123456789" in f.text and "0.0123" in f.text  # both values in the table
    assert "RevMan's I2 truncates at zero" in f.text
    assert "yi[Cote]" not in f.text  # only the discrepancies
    e = err.find("error")
    assert e is not None and "singular design" in e.get("message")
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["r.metafor"] == "3.8-1"


def test_junit_campaign_documents_get_one_case_per_model():
    doc = {"per_model": {"rma-REML": {"analyses": 10, "disagreements": 1}, "robu-CORR": {"analyses": 10, "disagreements": 0}},
           "disagreements": [{"model": "rma-REML", "dataset": 7, "category": "differ", "k": 3, "message": "tau2: 1 vs 2", "reproducer": "fx/7"}]}
    root = junit_report.to_xml(doc).getroot()
    cases = root.findall(".//testcase")
    assert len(cases) == 2 and root.get("failures") == "1"
    assert "tau2: 1 vs 2" in cases[0].find("failure").text


# ---- JSON ----------------------------------------------------------------------------------------


def test_json_numbers_nan_inf_and_numpy_are_written_as_documented():
    import numpy as np

    doc = json_report.document({"a": float("nan"), "b": float("inf"), "c": -math.inf, "d": np.float64(1.5), "e": np.arange(2), "f": np.bool_(True)})
    assert doc == {"a": None, "b": "inf", "c": "-inf", "d": 1.5, "e": [0, 1], "f": True}
    json.loads(json_report.dumps(doc))


def test_json_schema_version_matches_verify():
    from harness.verify import SCHEMA_VERSION

    assert json_report.SCHEMA_VERSION == SCHEMA_VERSION == 1
    assert json_report.JSON_SCHEMA["properties"]["schema"]["const"] == SCHEMA_VERSION


# ---- plot data --------------------------------------------------------------------------------


def test_plot_data_from_quantity_records():
    a = agreeing()
    spec = SimpleNamespace(options=a.options, dataset=None, slab=None, get=a.options.get)
    p = plot_data("rma", spec, a.records)
    assert [s["label"] for s in p["studies"]] == LABELS
    s0 = p["studies"][0]["python"]
    # per-study CI by hand: yi +- z_{0.975} sqrt(vi), z = 1.959963984540054 (normal quantile, as forest.rma)
    assert s0["ci_lb"] == pytest.approx(-0.25 - 1.959963984540054 * 0.2, abs=1e-12)
    assert s0["ci_ub"] == pytest.approx(-0.25 + 1.959963984540054 * 0.2, abs=1e-12)
    assert s0["weight"] == 30.0
    assert [q["engine"] for q in p["pooled"]] == ["python", "r"]
    assert p["pooled"][1]["label"] == "metafor" and p["pooled"][0]["estimate"] == -0.2
    assert p["model"] == "random effects (DL)"
    assert split_name("weights[Cote (1999) [a]]") == ("weights", "Cote (1999) [a]")


def test_plot_data_coefficients_for_meta_regression_and_robumeta_names():
    recs = [rec("b_r[X.Intercept.]", 0.3, 0.3), rec("CI_L[X.Intercept.]", 0.1, 0.1), rec("CI_U[X.Intercept.]", 0.5, 0.5)]
    spec = SimpleNamespace(options={"modelweights": "CORR"}, dataset=None, slab=None, get=lambda k, d=None: {"modelweights": "CORR"}.get(k, d))
    p = plot_data("robu", spec, recs)
    assert p["pooled"][0]["estimate"] == 0.3 and p["pooled"][0]["ci_lb"] == 0.1 and p["pooled"][1]["label"] == "robumeta"
    recs += [rec("b_r[dose]", 0.02, 0.02), rec("CI_L[dose]", 0.0, 0.0), rec("CI_U[dose]", 0.04, 0.04)]
    p = plot_data("robu", spec, recs)
    assert not p["pooled"] and [c["name"] for c in p["coefficients"]] == ["X.Intercept.", "dose"]


# ---- HTML ---------------------------------------------------------------------------------------


def unpacked(page: str) -> str:
    """The page with every on-demand block unpacked (what the page's script does when a reader opens it)."""
    from harness.reports import lazy

    return page + "".join(lazy.bodies(page)[ref] for ref in re.findall(r'data-z="([^"]*)"', page))


def test_html_is_self_contained_with_a_forest_plot_per_analysis(tmp_path):
    run = FakeRun([agreeing(), differing(), failing()])
    for a in run.analyses:
        spec = SimpleNamespace(options=a.options, dataset=None, slab=None, get=a.options.get)
        a.plot = plot_data(a.kind, spec, a.records)
    path = tmp_path / "r.html"
    html_report.write(run, path)
    text = path.read_text()
    assert text.count('<section class="analysis"') == 3
    # needing attention first (an engine error, then a difference), then the agreeing one
    order = [m for m in re.findall(r'<section class="analysis" id="a-([^"]+)"', text)]
    assert order == ["demo-error", html_report._anchor(LONG)[2:], "demo-MD-DL"]
    # plots inline where something differs; compressed, on demand, where all agree
    assert text.count('class="plot forest"') == 2 and text.count('<details class="lazy" data-z=') == 1
    full = unpacked(text)
    assert full.count('class="plot forest"') == 3  # the failed one shows what Python computed, R absent
    assert full.count("<svg") == 3 and "Total (95% CI)" in full
    assert not re.search(r"""(src|href)=["']https?:""", text)  # nothing fetched from the network
    assert not re.search(r"<script[^>]+src=", text)  # the one script is inline
    assert 'class="v-differ"' in text and "RevMan&#x27;s I2 truncates at zero" in text
    assert "singular design" in text


def test_html_headline_counts_explained_and_never_claims_all_agree():
    explained = agreeing("demo-ex")
    explained.records.append(rec("I2", 12.5, 13.75, "explained", "a documented convention"))
    doc = FakeRun([agreeing(), explained]).to_dict()
    doc["interrupted"] = False
    page = html_report.render(doc)
    assert "2 analyses: 1 agree, 1 explained" in page and "All 2 analyses agree" not in page
    assert "interrupted" not in page.split("<script>")[0].lower()  # no "interrupted: False"
    assert "All 1 analyses agree" in html_report.render(FakeRun([agreeing()]).to_dict())
    doc["interrupted"] = True
    assert "The run was interrupted" in html_report.render(doc)
    bad = html_report.render(FakeRun([agreeing(), differing()]).to_dict())
    assert "1 of 2 analyses need attention (1 differ); 1 agree, 0 explained." in bad


def test_html_options_line_lists_only_options_that_apply():
    a = agreeing()
    a.options = {"measure": "GEN", "yi": "yi", "vi": "v", "m1i": "m1i", "sd1i": "sd1i", "vtype": "LS", "method": "DL", "threshold": 1e-12,
                 "maxiter": 1000, "confint_tol": 1e-12, "extras": [], "intercept": True, "mods": [], "level": 95.0}
    page = html_report.render(FakeRun([a]).to_dict())
    opts = re.search(r'<p class="opts">(.*?)</p>', page).group(1)
    assert "measure <code>GEN</code>" in opts and "vi <code>v</code>" in opts and "method <code>DL</code>" in opts
    for gone in ("m1i", "sd1i", "vtype", "threshold", "maxiter", "confint_tol", "extras", "intercept", "mods", "yi <code>"):
        assert gone not in opts, gone  # arm columns of a yi/vi analysis, DL's iteration controls, empty lists, defaults named as their role
    a.options.update(method="REML", extras=["confint"])
    opts = re.search(r'<p class="opts">(.*?)</p>', html_report.render(FakeRun([a]).to_dict())).group(1)
    assert "threshold" in opts and "maxiter" in opts and "confint_tol" in opts


def test_html_pooled_table_has_p_tau2_and_i2_of_both_engines():
    a = agreeing()
    a.records += [rec("zval", -1.3, -1.3), rec("pval", 0.1936, 0.1936), rec("QE", 3.2, 3.2), rec("QEp", 0.2019, 0.2019), rec("I2", 37.5, 37.5),
                  rec("k", 3, 3), rec("p", 1, 1)]
    spec = SimpleNamespace(options=a.options, dataset=None, slab=None, get=a.options.get)
    a.plot = plot_data("rma", spec, a.records)
    page = html_report.render(FakeRun([a]).to_dict())
    table = re.search(r'<table class="pooled">(.*?)</table>', page).group(1)
    assert "<th>p</th>" in table and "<th>τ²</th>" in table and "<th>I² (%)</th>" in table
    # the engines read the same at the digits shown: one row for both (as the terminal's "both")
    assert table.count("0.1936") == 1 and table.count("37.5") == 1 and table.count("Z = -1.3") == 1
    assert 'class="eng-both">Python = ' in table and 'class="eng-r"' not in table
    b = agreeing()
    b.records += [rec("zval", -1.3, -1.3001), rec("pval", 0.1936, 0.1936), rec("I2", 37.5, 37.5)]
    b.plot = plot_data("rma", spec, b.records)
    two = re.search(r'<table class="pooled">(.*?)</table>', html_report.render(FakeRun([b]).to_dict())).group(1)
    assert 'class="eng-python"' in two and 'class="eng-r"' in two and two.count("37.5") == 2  # a digit apart: a row each
    # the overview row carries the pooled estimate [CI], tau^2 and I^2 (once: the engines agree at 4 digits)
    row = re.search(r'<table class="overview">.*?</table>', page, re.S).group(0)
    assert "-0.2 [-0.5, 0.1]" in row and "0.01" in row and "37.5" in row
    # the forest's lines under the diamond, in RevMan's format: DL, Tau², Chi² with df = k - 1
    full = unpacked(page)
    assert "Heterogeneity: Tau² = 0.01; Chi² = 3.20, df = 2 (P = 0.20); I² = 38%" in full
    assert "Test for overall effect: Z = 1.30 (P = 0.19)" in full


# ---- end to end through R ------------------------------------------------------------------------

CSV = """study,m1i,sd1i,n1i,m2i,sd2i,n2i
Alpha,10.2,3.1,25,12.0,3.4,24
Beta,8.9,2.7,40,9.6,2.9,41
Gamma,11.5,4.0,18,13.9,4.2,20
Delta,9.8,3.3,60,10.1,3.0,58
Epsilon,10.9,3.6,33,12.7,3.8,30
"""
SPEC = """[dataset]
name = "demo"
data = "data.csv"
slab = "study"
source = "made-up numbers for testing the reports (not a real study)"

[[analysis]]
id = "demo-MD"
measure = "MD"
method = ["FE", "DL", "REML"]
"""


@pytest.fixture(scope="module")
def demo_fixture(tmp_path_factory):
    d = tmp_path_factory.mktemp("demo")
    (d / "data.csv").write_text(CSV)
    (d / "spec.toml").write_text(SPEC)
    return d / "spec.toml"


def test_cli_writes_json_html_junit_and_json_matches_its_schema(tmp_path, demo_fixture, r_engine):
    import jsonschema  # the test extra has it
    out = {k: tmp_path / f"r.{k}" for k in ("json", "html", "xml")}
    p = subprocess.run([sys.executable, "-m", "harness", "verify", str(demo_fixture), "--json", str(out["json"]), "--html", str(out["html"]), "--junit", str(out["xml"])],
                       capture_output=True, text=True, env={**__import__("os").environ, "NO_COLOR": "1"})
    assert p.returncode == 0, p.stdout + p.stderr
    assert "\x1b[" not in p.stdout  # piped: no colour
    assert max(len(line) for line in p.stdout.splitlines()) <= 100
    doc = json.loads(out["json"].read_text())
    jsonschema.validate(doc, json_report.JSON_SCHEMA)
    assert [a["id"] for a in doc["analyses"]] == ["demo-MD-FE", "demo-MD-DL", "demo-MD-REML"]
    plot = doc["analyses"][0]["plot"]
    assert [s["label"] for s in plot["studies"]] == ["Alpha", "Beta", "Gamma", "Delta", "Epsilon"]
    # MD of Alpha by hand: 10.2 - 12.0 = -1.8; var 3.1^2/25 + 3.4^2/24
    assert plot["studies"][0]["r"]["yi"] == pytest.approx(-1.8, abs=1e-12)
    assert plot["studies"][0]["r"]["sei"] ** 2 == pytest.approx(3.1**2 / 25 + 3.4**2 / 24, rel=1e-12)
    # RevMan's MD convention coincides with metafor's (FE): the reference diamond equals R's
    ref = plot["reference"][0]
    assert ref["estimate"] == pytest.approx(plot["pooled"][1]["estimate"], rel=1e-12)
    root = ET.parse(out["xml"]).getroot()
    assert len(root.findall(".//testcase")) == 3 and root.get("failures") == "0"
    html = unpacked(out["html"].read_text())
    assert html.count('class="plot forest"') == 3


def test_audit_documents_render_findings_and_junit_cases_per_outcome(tmp_path):
    doc = {"schema": 1, "files": [{"file": "fixtures/published/demo.toml", "citation": "Demo (2020)", "summary": {"consistent": 1, "inconsistent": 1, "cannot check": 1},
                                   "findings": [{"outcome": "fcr", "section": "reported", "check": "estimate = CI midpoint", "verdict": "consistent", "reason": "ok"},
                                                {"outcome": "mind", "section": "reported", "check": "claimed direction", "verdict": "inconsistent", "reason": "SMD < 0 but 'increased' claimed"},
                                                {"outcome": "ptg", "section": "reported", "check": "P from CI", "verdict": "cannot check", "reason": "no P"}]}]}
    root = junit_report.to_xml(doc).getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"fcr", "mind", "ptg"}
    assert "increased" in cases["mind"].find("failure").text
    assert cases["ptg"].find("skipped") is not None and cases["fcr"].find("failure") is None
    page = html_report.render(doc)
    assert '<table class="findings">' in page and 'class="v-inconsistent"' in page and "1 inconsistent findings" in page


BUBBLE_CSV = """study,yi,vi,dose,arm
A,0.10,0.010,1,x
B,0.25,0.020,2,y
C,0.32,0.015,3,x
D,0.48,0.030,4,y
E,0.55,0.012,5,x
F,0.61,0.025,6,y
"""


def test_bubble_plot_for_a_meta_regression_on_one_continuous_moderator(tmp_path, r_engine):
    from harness.verify import verify

    (tmp_path / "data.csv").write_text(BUBBLE_CSV)
    (tmp_path / "spec.toml").write_text('[dataset]\ndata = "data.csv"\nslab = "study"\nsource = "made-up numbers"\n'
                                        '[[analysis]]\nid = "dose"\nmeasure = "GEN"\nyi = "yi"\nvi = "vi"\nmods = ["dose"]\nmethod = "REML"\n'
                                        '[[analysis]]\nid = "arm"\nmeasure = "GEN"\nyi = "yi"\nvi = "vi"\nmods = ["arm"]\nmethod = "REML"\n'
                                        '[[analysis]]\nid = "two"\nmeasure = "GEN"\nyi = "yi"\nvi = "vi"\nmods = ["dose", "arm"]\nmethod = "REML"\n')
    run = verify([tmp_path / "spec.toml"], engine_factory=lambda: r_engine)
    assert run.ok
    by = {a.id: a for a in run.analyses}
    b = by["dose"].plot["bubble"]
    assert b["moderator"] == "dose" and b["x"] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    beta = {r.name: r for r in by["dose"].records}
    assert b["line"]["r"]["b1"] == beta["beta[dose]"].r and b["line"]["python"]["b0"] == beta["beta[intrcpt]"].python
    assert by["arm"].plot["bubble"] is None and by["two"].plot["bubble"] is None  # a factor, or two moderators: no bubble plot
    page = unpacked(html_report.render(run.to_dict()))
    assert page.count('class="plot bubble"') == 1
    sec = page[page.index('<figure class="plot bubble"'):]
    sec = sec[: sec.index("</figure>")]
    assert "fitted line (Python)" in sec and "fitted line (metafor)" in sec and ">dose</text>" in sec
    assert sec.count("<circle") >= 6  # one per study (and the legend's)
