"""The robu and cr2 analysis kinds: spec validation, and whole fixtures verified against R."""
from pathlib import Path

import pytest

from harness.errors import InputError
from harness.spec import load_fixture
from harness.verify import verify

FIX = Path(__file__).resolve().parent.parent / "fixtures"


def _spec(tmp_path, body, data="s,y,v,g\n1,0.1,0.01,a\n1,0.2,0.02,b\n2,0.3,0.03,a\n3,0.1,0.02,b\n"):
    (tmp_path / "data.csv").write_text(data)
    p = tmp_path / "spec.toml"
    p.write_text('[dataset]\ndata = "data.csv"\nsource = "test"\n' + body)
    return p


def test_sensitivity_needs_corr(tmp_path):
    p = _spec(tmp_path, '[[analysis]]\nid = "x"\nkind = "robu"\nyi = "y"\nvi = "v"\nstudynum = "s"\nmodelweights = "HIER"\nsensitivity = true\n')
    with pytest.raises(InputError, match="sensitivity is available for CORR"):
        load_fixture(p)


def test_factor_must_be_a_moderator(tmp_path):
    p = _spec(tmp_path, '[[analysis]]\nid = "x"\nkind = "robu"\nyi = "y"\nvi = "v"\nstudynum = "s"\nfactors = ["g"]\n')
    with pytest.raises(InputError, match="`factors` names 'g', which is not in `mods`"):
        load_fixture(p)


def test_text_moderator_is_dummy_coded_as_rma_does(tmp_path):
    """A moderator column with text cells is categorical (R's read.csv makes it a factor), coded with
    treatment contrasts: levels a, b sorted, a the reference, one column "gb" (as the rma kind codes it)."""
    from harness.analyses import KINDS

    p = _spec(tmp_path, '[[analysis]]\nid = "x"\nkind = "robu"\nyi = "y"\nvi = "v"\nstudynum = "s"\nmods = ["g"]\n')
    spec = load_fixture(p).analyses[0]
    _, M, names, levels = KINDS["robu"].inputs(spec)
    assert names == ["gb"] and levels == {"g": ["a", "b"]}
    assert M[:, 0].tolist() == [0.0, 1.0, 0.0, 1.0]
    # an NA moderator cell is named as written, with the na = "omit" hint
    p = _spec(tmp_path, '[[analysis]]\nid = "x"\nkind = "robu"\nyi = "y"\nvi = "v"\nstudynum = "s"\nmods = ["g"]\n',
              data="s,y,v,g\n1,0.1,0.01,a\n1,0.2,0.02,NA\n2,0.3,0.03,a\n3,0.1,0.02,b\n")
    with pytest.raises(InputError, match=r"line 3, column 'g': 'NA' \(missing\); a moderator value is expected \(.*na = \"omit\" in \[dataset\]\)"):
        load_fixture(p)


@pytest.mark.parametrize("kind_body, column, what", [
    ('kind = "robu"\nyi = "y"\nvi = "v"\nstudynum = "s"\n', "s", "a study identifier"),
    ('kind = "cr2"\nyi = "y"\nvi = "v"\ncluster = "s"\n', "s", "a cluster identifier"),
    ('kind = "rma"\nmeasure = "GEN"\nyi = "y"\nvi = "v"\n', "v", "a sampling variance"),
    ('kind = "revman-subgroup"\nmeasure = "GEN"\nyi = "y"\nvi = "v"\ngroup = "g"\n', "g", "a subgroup"),
])
def test_na_cells_are_named_na_with_the_omit_hint_for_every_kind(tmp_path, kind_body, column, what):
    data = "s,y,v,g\n" + "\n".join(["1,0.1,0.01,a", "2,0.2,0.02,b", "3,0.3,0.03,a", "4,0.1,0.02,b"]) + "\n"
    cells = data.splitlines()
    header = cells[0].split(",")
    row = cells[3].split(",")
    row[header.index(column)] = "NA"
    cells[3] = ",".join(row)
    p = _spec(tmp_path, '[[analysis]]\nid = "x"\n' + kind_body, data="\n".join(cells) + "\n")
    with pytest.raises(InputError) as e:
        load_fixture(p)
    msg = str(e.value)
    assert f"line 4, column '{column}': 'NA' (missing); {what} is expected" in msg and 'na = "omit"' in msg and "empty cell" not in msg


ARMS = """label,study,m1i,sd1i,n1i,m2i,sd2i,n2i,setting
Ames 2001 a,1,10.2,3.1,25,12.0,3.4,24,school
Ames 2001 b,1,11.0,3.0,25,12.2,3.3,24,school
Berg 2003,2,8.9,2.7,40,9.6,2.9,41,clinic
Cole 2005 a,3,11.5,4.0,18,13.9,4.2,20,school
Cole 2005 b,3,11.9,4.1,18,13.5,4.0,20,school
Dunn 2008,4,9.8,3.3,60,10.1,3.0,58,clinic
Egan 2010 a,5,10.9,3.6,33,12.7,3.8,30,home
Egan 2010 b,5,10.1,3.5,33,12.1,3.7,30,home
Finn 2012,6,12.1,3.9,22,12.4,4.1,21,clinic
Gray 2014,7,9.5,3.2,45,11.0,3.6,44,home
"""


@pytest.mark.r
def test_robu_takes_measure_with_arm_columns_text_moderators_and_slab(tmp_path, r_engine):
    """robu from arm-level data: both engines compute the SMDs (Python escalc, R metafor::escalc),
    robumeta fits them; a text moderator is dummy-coded; slab labels the rows."""
    import math

    p = _spec(tmp_path, '[[analysis]]\nid = "arms"\nkind = "robu"\nmeasure = "SMD"\nstudynum = "study"\nslab = "label"\nmods = ["setting"]\n', data=ARMS)
    run = verify([p], engine_factory=lambda: r_engine)
    a = run.analyses[0]
    assert a.ok, [(r.name, r.verdict) for r in a.records if r.verdict != "agree"]
    rec = {r.name: r for r in a.records}
    # Hedges' g of the first row by hand (metafor's exact J): m = 25 + 24 - 2
    m = 47
    sp = math.sqrt((24 * 3.1**2 + 23 * 3.4**2) / m)
    J = math.exp(math.lgamma(m / 2) - math.log(math.sqrt(m / 2)) - math.lgamma((m - 1) / 2))
    assert rec["yi[Ames 2001 a]"].r == pytest.approx(J * (10.2 - 12.0) / sp, rel=1e-12)
    assert {"b_r[settinghome]", "b_r[settingschool]"} <= set(rec)  # clinic, the first level, is the reference
    labels = [s["label"] for s in a.plot["studies"]]
    assert labels[:3] == ["Ames 2001 a", "Ames 2001 b", "Berg 2003"]
    # without slab: the rows are named by study, numbered within a study
    p = _spec(tmp_path, '[[analysis]]\nid = "arms"\nkind = "robu"\nmeasure = "SMD"\nstudynum = "study"\n', data=ARMS)
    a = verify([p], engine_factory=lambda: r_engine).analyses[0]
    assert [s["label"] for s in a.plot["studies"]][:4] == ["Study 1, effect 1", "Study 1, effect 2", "Study 2", "Study 3, effect 1"]


def test_rve_rows_from_the_data_file_are_labelled_by_study(tmp_path):
    """yi/vi robu analyses draw the data file's rows: labelled by slab, else by study (not "1 (1)")."""
    from types import SimpleNamespace

    from harness.reports.plotdata import plot_data

    spec = load_fixture(_spec(tmp_path, '[[analysis]]\nid = "x"\nkind = "robu"\nyi = "y"\nvi = "v"\nstudynum = "s"\n')).analyses[0]
    recs = [SimpleNamespace(name=n, python=v, r=v) for n, v in (("b_r[X.Intercept.]", 0.2), ("CI_L[X.Intercept.]", 0.1), ("CI_U[X.Intercept.]", 0.3))]
    plot = plot_data("robu", spec, recs)
    assert [s["label"] for s in plot["studies"]] == ["Study 1, effect 1", "Study 1, effect 2", "Study 2", "Study 3"]


def test_spec_grid_expands(tmp_path):
    p = _spec(tmp_path, '[[analysis]]\nid = "x"\nkind = "robu"\nyi = "y"\nvi = "v"\nstudynum = "s"\nmodelweights = ["CORR", "HIER"]\nsmall = [true, false]\n')
    assert [a.id for a in load_fixture(p).analyses] == ["x-CORR-True", "x-CORR-False", "x-HIER-True", "x-HIER-False"]


@pytest.mark.r
def test_fisher_tipton_fixture_agrees(r_engine):
    run = verify([FIX / "oswald2013" / "ex1.spec.toml"], engine_factory=lambda: r_engine)
    assert run.analyses and run.ok, [(a.id, a.verdict) for a in run.analyses if not a.ok]
    worst = max(r.rel_diff for a in run.analyses for r in a.records if r.rel_diff is not None)
    assert worst < 1e-10


@pytest.mark.r
def test_robu_vs_clubsandwich_explained(r_engine):
    """corrdat: with user weights the dfs differ (explained), the SEs agree."""
    run = verify([FIX / "corrdat" / "spec.toml"], engine_factory=lambda: r_engine)
    a = next(a for a in run.analyses if a.id == "corrdat-userweights-vs-clubSandwich")
    verdicts = {r.name: r.verdict for r in a.records}
    assert verdicts["SE[males]"] == "agree" and verdicts["dfs[males]"] == "explained"
    assert "Phi = I" in next(r.explanation for r in a.records if r.name == "dfs[males]")
    assert run.ok
