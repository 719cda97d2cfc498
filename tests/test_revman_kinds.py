"""Analysis kinds revman / revman-subgroup: Python RevMan engine vs the R twin, on real data."""
import pytest

from harness.analyses import KINDS
from harness.compare.compare import compare_outcomes
from harness.spec import load_fixture


def _run(spec, engine):
    kind = KINDS[spec.kind]
    return compare_outcomes(kind, spec, kind.run_python(spec), kind.run_r(spec, engine))


@pytest.mark.parametrize("name", ["normand1999", "gibson2002", "michael2013"])
def test_revman_kinds_agree_with_r_twin(r_engine, fixtures_dir, name):
    fx = load_fixture(fixtures_dir / "published" / "verify" / f"{name}.spec.toml")
    for spec in fx.analyses:
        if spec.get("r_convention", "revman") != "revman":
            continue
        cmp = _run(spec, r_engine)
        bad = [(r.name, r.python, r.r, r.verdict) for r in cmp.records if r.verdict != "agree"]
        assert not bad, f"{spec.id}: {bad}"


def test_subgroup_kind_shows_both_tests(r_engine, fixtures_dir):
    fx = load_fixture(fixtures_dir / "published" / "verify" / "gibson2002.spec.toml")
    spec = next(a for a in fx.analyses if a.id == "gibson2002-subgroup-type-random")
    py = KINDS[spec.kind].run_python(spec)
    v = py.values
    # the random-effects test RevMan reports is the separate-fits test, not metafor's common-tau2 QM
    assert v["subgroup_chi2"] == v["subgroup_chi2_random"]
    assert abs(v["subgroup_chi2_random"] - v["QM_mixed_common_tau2"]) > 1e-3
    assert v["subgroup_df"] == 4  # five intervention types
    assert "rma(b_j, sei=se_j, method='FE')$QE" in py.info["note"]


def test_subgroup_kind_rejects_single_group(tmp_path):
    from harness.errors import InputError

    (tmp_path / "d.csv").write_text("m1i,sd1i,n1i,m2i,sd2i,n2i,g\n1,1,10,0,1,10,a\n2,1,10,0,1,10,a\n")
    (tmp_path / "spec.toml").write_text('[dataset]\ndata = "d.csv"\nsource = "test"\n[[analysis]]\nid = "x"\nkind = "revman-subgroup"\nmeasure = "MD"\ngroup = "g"\n')
    with pytest.raises(InputError, match="fewer than two subgroups"):
        load_fixture(tmp_path / "spec.toml")
