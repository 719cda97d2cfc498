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


def test_non_numeric_moderator_names_the_cell(tmp_path):
    p = _spec(tmp_path, '[[analysis]]\nid = "x"\nkind = "robu"\nyi = "y"\nvi = "v"\nstudynum = "s"\nmods = ["g"]\n')
    with pytest.raises(InputError, match=r"line 2, column 'g': 'a' is not a number"):
        load_fixture(p)


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
