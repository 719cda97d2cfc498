"""`metaharness audit`: published-results files, consistency checks, recomputation, CLI."""
import textwrap

import pytest
from scipy import stats

from harness.audit import audit_file, audit_publication, load_published
from harness.cli import main
from harness.errors import InputError

Z975 = 1.959963984540054


@pytest.fixture(scope="module")
def published(fixtures_dir):
    return fixtures_dir / "published"


def _table(result):
    return {(f.outcome, f.check): f for f in result.findings}


# ---- the seed paper (abstract only; no R needed) -----------------------------------------------
def test_seed_findings(published):
    res = audit_publication(load_published(published / "seed-telemedicine-psychooncology-2026.toml"))
    t = _table(res)
    # FCR -0.37 [-0.52, -0.21], p < 0.0001: by hand, SE in [0.30, 0.32]/(2 z), |estimate| in [0.365, 0.37]
    # (estimate interval intersected with the CI-midpoint interval [-0.37, -0.36])
    z_lo, z_hi = 0.365 / (0.32 / (2 * Z975)), 0.37 / (0.30 / (2 * Z975))
    p_hi = 2 * stats.norm.sf(z_lo)
    assert p_hi < 1e-5  # every compatible value is below RevMan's printing floor
    f = t[("fcr", "P from CI")]
    assert f.verdict == "consistent" and "weaker than what RevMan 5 prints" in f.reason
    assert f"{z_lo:.3g}" in f.reason and f"{z_hi:.3g}" in f.reason
    assert t[("fcr", "claimed direction")].verdict == "consistent"
    # mindfulness -0.87 [-1.69, -0.04] p = 0.04: P in [0.035, 0.045]; but a negative SMD contradicts "increased"
    assert t[("mindfulness", "estimate = CI midpoint")].verdict == "consistent"
    assert t[("mindfulness", "P from CI")].verdict == "consistent"
    f = t[("mindfulness", "claimed direction")]
    assert f.verdict == "inconsistent" and "increase" in f.reason
    # PTG 5.96 [3.57, 8.36] p < 0.00001
    assert t[("ptg", "P from CI")].verdict == "consistent"
    assert t[("ptg", "claimed direction")].verdict == "consistent"
    for sg in ("duration", "age", "gender", "delivery", "follow-up"):
        assert t[(f"ptg/{sg}", "subgroup results")].verdict == "cannot check"
    for o in ("fcr", "mindfulness", "ptg"):
        assert t[(o, "recomputation")].verdict == "cannot check"
        assert t[(o, "RVE")].verdict == "cannot check"
        assert t[(o, "k and N add up")].verdict == "cannot check"
    c = res.counts()
    assert c["inconsistent"] == 1 and not res.ok


def test_mindfulness_implied_p_by_hand(published):
    res = audit_publication(load_published(published / "seed-telemedicine-psychooncology-2026.toml"))
    f = _table(res)[("mindfulness", "P from CI")]
    # SE in [1.64, 1.66]/(2z), |estimate| in [0.865, 0.87]: Z in [2.04, 2.08]
    z_lo = 0.865 / (1.66 / (2 * Z975))
    z_hi = 0.87 / (1.64 / (2 * Z975))
    assert f"[{z_lo:.3g}, {z_hi:.3g}]" in f.reason
    assert 0.035 <= 2 * stats.norm.sf(z_hi) and 2 * stats.norm.sf(z_lo) <= 0.045


# ---- constructed inconsistencies ---------------------------------------------------------------
BAD = """
[publication]
citation = "constructed example"
k = 5
n = 300

[[outcome]]
id = "a"
measure = "SMD"
model = "random"
estimate = "-0.30"          # midpoint of the CI is -0.365
ci = ["-0.52", "-0.21"]
p = "0.20"                   # the CI implies p ~ 3e-6
chi2 = "10.0"
df = 4
i2 = "20"                    # (10 - 4)/10 = 60%
k = 5
n = 400                      # more than the review's 300
claim = "increase"

  [[outcome.subgroup]]
  id = "s"
  chi2 = "3.84"
  df = 1
  p = "0.50"                 # chi2 3.84 with 1 df gives p 0.05
  i2 = "74"                  # (3.84 - 1)/3.84 = 74.0%
    [[outcome.subgroup.group]]
    label = "x"
    estimate = "-0.2"
    ci = ["-0.4", "0.0"]
    k = 2
    [[outcome.subgroup.group]]
    label = "y"
    estimate = "-0.5"
    ci = ["-0.7", "-0.3"]
    k = 2                    # 2 + 2 != 5
"""


def test_constructed_inconsistencies(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text(BAD)
    t = _table(audit_publication(load_published(p)))
    assert t[("a", "estimate = CI midpoint")].verdict == "inconsistent"
    assert t[("a", "P from CI")].verdict == "inconsistent"
    assert t[("a", "I² = (Q − df)/Q")].verdict == "inconsistent"
    assert t[("a", "claimed direction")].verdict == "inconsistent"
    assert t[("a", "N (participants) within review")].verdict == "inconsistent"
    assert t[("a", "k (studies) within review")].verdict == "consistent"
    assert t[("a/s", "subgroup P(Chi²)")].verdict == "inconsistent"
    assert t[("a/s", "subgroup I² = (Chi² − df)/Chi²")].verdict == "consistent"
    assert t[("a/s", "subgroup k add up")].verdict == "inconsistent"
    assert t[("a/s", "subgroup df = J − 1")].verdict == "consistent"
    assert t[("a/s=x", "estimate = CI midpoint")].verdict == "consistent"


def test_p_bound_logic(tmp_path):
    def one(p, ci=("-0.52", "-0.21"), est="-0.37"):
        f = tmp_path / "x.toml"
        f.write_text(f'[publication]\ncitation = "x"\n[[outcome]]\nid = "o"\nmeasure = "SMD"\nmodel = "random"\nestimate = "{est}"\nci = ["{ci[0]}", "{ci[1]}"]\np = "{p}"\n')
        return _table(audit_publication(load_published(f)))[("o", "P from CI")]
    assert one("< 0.00001").verdict == "consistent" and "weaker" not in one("< 0.00001").reason
    assert one("< 0.001").verdict == "consistent" and "weaker" in one("< 0.001").reason
    assert one("> 0.05").verdict == "inconsistent"
    # the CI allows P in [1.33e-6, 7.8e-6] (Z in [4.47, 4.84])
    assert one("< 0.000002").verdict == "consistent"  # holds for part of the rounding interval
    assert "part of the rounding interval" in one("< 0.000002").reason
    assert one("< 0.000001").verdict == "inconsistent"


# ---- loading errors ----------------------------------------------------------------------------
@pytest.mark.parametrize("body,msg", [
    ('[publication]\ncitation = "x"\n[[outcome]]\nid = "o"\nmeasure = "SMD"\nmodel = "random"\nestimte = "1"\n', "unknown key 'estimte' (did you mean 'estimate'?)"),
    ('[publication]\ncitation = "x"\n[[outcome]]\nid = "o"\nmeasure = "SMD"\nmodel = "random"\n', "`estimate` is required"),
    ('[publication]\ncitation = "x"\n[[outcome]]\nid = "o"\nmeasure = "SDM"\nmodel = "random"\nestimate = "1"\n', "did you mean 'SMD'"),
    ('[publication]\ncitation = "x"\n[[outcome]]\nid = "o"\nmeasure = "SMD"\nmodel = "random"\nestimate = "1"\nci = ["2", "1"]\n', "above the upper bound"),
    ('[publication]\ncitation = "x"\n[[outcome]]\nid = "o"\nmeasure = "SMD"\nmodel = "random"\nestimate = "1"\np = "< abc"\n', "`p`"),
    ('[publication]\ncitation = "x"\n[[outcome]]\nid = "o"\nmeasure = "SMD"\nmodel = "random"\nestimate = "1"\ndata = "nope.csv"\n', "no such file"),
    ('[publikation]\ncitation = "x"\n', "did you mean 'publication'"),
    ('[publication]\ncitation = "x"\n[[outcome]]\nid = "o"\nmeasure = "MD"\nmodel = "random"\nestimate = "1"\n[[outcome.subgroup]]\nid = "s"\nchi = "1"\n', "did you mean 'chi2'"),
])
def test_load_errors_name_file_and_key(tmp_path, body, msg):
    p = tmp_path / "pub.toml"
    p.write_text(body)
    with pytest.raises(InputError) as e:
        load_published(p)
    assert msg in str(e.value) and str(p) in str(e.value)
    assert main(["audit", str(p)]) == 2


def test_cli_rejects_unknown_suffix(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("")
    assert main(["audit", str(p)]) == 2


# ---- end to end with study-level data (R) -------------------------------------------------------
def test_normand1999_end_to_end(r_engine, published):
    res = audit_file(published / "normand1999.toml", engine_factory=lambda: r_engine)
    t = _table(res)
    for o, m in (("los-fixed", "FE"), ("los-dl", "DL"), ("los-reml", "REML")):
        for side in ("Python", "R metafor"):
            f = t[(o, f"MD with pooled-SD variance, {m} ({side})")]
            assert f.verdict == "consistent", f.reason
    # Table IX's DL result (CI below 0) does not survive REML or Knapp-Hartung: Normand's own table shows it
    assert t[("los-dl", "REML")].verdict == "inconsistent"
    assert t[("los-reml", "REML")].verdict == "consistent"
    assert t[("los-dl", "RVE")].verdict == "cannot check"


def test_normand1999_revman_convention_would_not_match(tmp_path, r_engine, published):
    """Audited under RevMan's unequal-variance MD, Table IX's FE result is inconsistent: the
    convention matters, and the audit notices (metafor FE with vtype LS: -3.4636)."""
    text = (published / "normand1999.toml").read_text().replace('convention = "pooled-sd"', 'convention = "revman"').replace("data/normand1999.csv", str(published / "data" / "normand1999.csv"))
    p = tmp_path / "n.toml"
    p.write_text(text)
    t = _table(audit_file(p, engine_factory=lambda: r_engine))
    f = t[("los-fixed", "RevMan 5 conventions, FE (R metafor)")]
    assert f.verdict == "inconsistent" and "-3.46" in f.reason


def test_michael2013_end_to_end(r_engine, published):
    res = audit_file(published / "michael2013.toml", engine_factory=lambda: r_engine)
    t = _table(res)
    assert t[("agreement", "metafor conventions, DL (R metafor)")].verdict == "consistent"
    assert t[("agreement", "metafor conventions, REML (R metafor)")].verdict == "consistent"
    f = t[("agreement/medium", "subgroup test")]
    assert f.verdict == "cannot check" and "(agrees: this is RevMan's number)" in f.reason
    assert "not RevMan's test" in f.reason
    assert t[("agreement", "RVE")].verdict in ("consistent", "cannot check")
    assert res.ok


def test_cli_exit_codes(tmp_path, published, capsys):
    assert main(["audit", str(published / "seed-telemedicine-psychooncology-2026.toml")]) == 1
    out = capsys.readouterr().out
    assert "INCONSISTENT" in out and "mindfulness" in out
    good = tmp_path / "good.toml"
    good.write_text('[publication]\ncitation = "x"\n[[outcome]]\nid = "o"\nmeasure = "MD"\nmodel = "random"\nestimate = "5.96"\nci = ["3.57", "8.36"]\np = "< 0.00001"\nclaim = "increase"\n')
    assert main(["audit", str(good), "--json", str(tmp_path / "a.json")]) == 0
    import json

    d = json.loads((tmp_path / "a.json").read_text())
    assert d["files"][0]["summary"]["inconsistent"] == 0


@pytest.mark.parametrize("name,checks", [
    # Henmi & Copas 2010 p. 2978 (via metafor's test_analysis_example_henmi2010.r): DL -0.6787 [-1.0664, -0.2911], tau2 0.3325
    ("henmi2010", [("nausea", "metafor conventions, DL (R metafor)"), ("nausea", "metafor conventions, DL (Python)"), ("nausea", "estimate = CI midpoint")]),
    # DerSimonian & Kacker 2007 Tables 3-4 (via metafor's test_analysis_example_dersimonian2007.r): tau, mu, se to 4 dp
    ("dersimonian2007", [("clasp-dl", "metafor conventions, DL (R metafor)"), ("clasp-reml", "metafor conventions, REML (R metafor)"), ("clasp-reml", "metafor conventions, REML (Python)")]),
])
def test_published_tables_recomputed(r_engine, published, name, checks):
    t = _table(audit_file(published / f"{name}.toml", engine_factory=lambda: r_engine))
    for key in checks:
        assert t[key].verdict == "consistent", t[key].reason


def test_smd_other_convention_is_explained(tmp_path, r_engine, published):
    """A RevMan SMD outcome: metafor's SMD misses the 4-decimal report, and the audit says why.
    Reported values: stats-reference.md 1.2 [verified], RevMan SMD DL on dat.normand1999:
    -0.5293 [-1.0355, -0.0231] (metafor's SMD gives -0.5307 [-1.0388, -0.0227])."""
    p = tmp_path / "smd.toml"
    p.write_text(textwrap.dedent(f"""
        [publication]
        citation = "RevMan-convention SMD on Normand (1999), stats-reference.md 1.2"
        [[outcome]]
        id = "los-smd"
        measure = "SMD"
        model = "random"
        convention = "revman"
        data = "{published / 'data' / 'normand1999.csv'}"
        slab = "source"
        estimate = "-0.5293"
        ci = ["-1.0355", "-0.0231"]
    """))
    t = _table(audit_file(p, engine_factory=lambda: r_engine))
    assert t[("los-smd", "RevMan 5 conventions, DL (Python)")].verdict == "consistent"
    assert t[("los-smd", "RevMan 5 conventions, DL (R metafor)")].verdict == "consistent"
    f = t[("los-smd", "metafor conventions, DL")]
    assert f.verdict == "consistent" and "explained (smd-revman-vs-metafor)" in f.reason
    assert "-0.530737" in f.reason


def test_unstated_model_rules_out_the_other_candidate(tmp_path, r_engine, published):
    """Normand's DL result with the model not stated: DL reproduces it, FE is ruled out (cannot check), exit 0-able."""
    text = (published / "normand1999.toml").read_text()
    text = text.replace("data/normand1999.csv", str(published / "data" / "normand1999.csv"))
    head, rest = text.split("[[outcome]]", 1)
    dl = "[[outcome]]" + rest.split("[[outcome]]")[1]
    dl = dl.replace('model = "random"\nestimator = "DL"', 'model = "unknown"')
    p = tmp_path / "n.toml"
    p.write_text(head + dl)
    t = _table(audit_file(p, engine_factory=lambda: r_engine))
    assert t[("los-dl", "MD with pooled-SD variance, DL (R metafor)")].verdict == "consistent"
    f = t[("los-dl", "MD with pooled-SD variance, FE (R metafor)")]
    assert f.verdict == "cannot check" and "matched by DL" in f.reason


@pytest.mark.parametrize("width", [80, 100, 150])
def test_audit_table_fits_the_terminal(published, width):
    """The rendered audit fits the width it is given (the terminal's, 100 when piped); wider terminals
    get wider tables, and no text is lost in the wrapping (the file's path, first line, is not wrapped)."""
    from harness.audit.report import render

    res = audit_publication(load_published(published / "seed-telemedicine-psychooncology-2026.toml"))
    text = render(res, width=width)
    assert max(len(line) for line in text.splitlines()[1:]) <= width
    flat = " ".join(text.split()).replace("│", " ")
    for f in res.findings[:5]:
        assert all(word in flat for word in f.reason.split()), f.reason


@pytest.mark.r
def test_review_table_fits_the_terminal():
    """The re-verified review's table (RevMan 5 files) fits the width too."""
    from pathlib import Path

    from harness.cochrane.report import render
    from harness.cochrane.reverify import audit_review

    res = audit_review(Path(__file__).resolve().parent / "data" / "cochrane" / "handmade.rm5")
    for width in (100, 140):
        lines = render(res, width=width).splitlines()
        assert max(len(line) for line in lines[1:]) <= width
        assert any("CMP-001.07" in line for line in lines)
