"""Every bad input of issue 7, one by one: the error names file, line and column
and says what was expected -- or, where metafor accepts the input, the harness
does what metafor does and shows it (results compared against R for real).
"""
import json

import pytest

from harness.analyses.base import Key
from harness.cli import main
from harness.errors import InputError
from harness.spec import load_fixture

HEAD = '[dataset]\nname = "b"\ndata = "data.csv"\nslab = "study"\nsource = "bad-input test"\n'
GEN = '[[analysis]]\nid = "a"\nmeasure = "GEN"\nyi = "yi"\nvi = "vi"\n'
TWO = '[[analysis]]\nid = "a"\nmeasure = "SMD"\n'
GEN_CSV = "study,yi,vi,x\nA,0.10,0.010,1\nB,0.30,0.020,2\nC,0.50,0.030,4\nD,0.20,0.015,3\n"
TWO_CSV = ("study,m1i,sd1i,n1i,m2i,sd2i,n2i\nA,10,2,20,12,2.5,22\nB,11,3,30,12,2,28\n"
           "C,9,2.2,15,11,2.1,16\n")


def fixture(tmp_path, csv, spec):
    (tmp_path / "data.csv").write_text(csv, encoding="utf-8")
    (tmp_path / "spec.toml").write_text(spec, encoding="utf-8")
    return tmp_path / "spec.toml"


def error_of(tmp_path, csv, spec):
    with pytest.raises(InputError) as e:
        load_fixture(fixture(tmp_path, csv, spec))
    return e.value


def replace_cell(csv, line, col, value):
    rows = [r.split(",") for r in csv.strip().split("\n")]
    rows[line - 1][rows[0].index(col)] = value
    return "\n".join(",".join(r) for r in rows) + "\n"


# ------------------------------------------------------------------------------------------
# data files


@pytest.mark.parametrize("csv, spec, line, column, text", [
    # missing required column
    (GEN_CSV.replace("vi", "var"), HEAD + GEN, None, None, "the `vi` column 'vi' is not in the file"),
    # non-numeric, empty, NA, infinite
    (replace_cell(GEN_CSV, 3, "yi", "abc"), HEAD + GEN, 3, "yi", "'abc' is not a number"),
    (replace_cell(GEN_CSV, 3, "yi", '"0,3"'), HEAD + GEN, 3, "yi", "decimal commas"),
    (replace_cell(GEN_CSV, 4, "vi", ""), HEAD + GEN, 4, "vi", "empty cell; a sampling variance is expected"),
    (replace_cell(GEN_CSV, 4, "vi", "NA"), HEAD + GEN, 4, "vi", "na = \"omit\""),
    (replace_cell(GEN_CSV, 2, "yi", "inf"), HEAD + GEN, 2, "yi", "is not a finite number"),
    (replace_cell(GEN_CSV, 2, "yi", "1e999"), HEAD + GEN, 2, "yi", "is not a finite number"),
    # negative or zero variances / SDs, sample sizes below 2
    (replace_cell(GEN_CSV, 5, "vi", "-0.01"), HEAD + GEN, 5, "vi", "a sampling variance must be > 0"),
    (replace_cell(GEN_CSV, 5, "vi", "0"), HEAD + GEN, 5, "vi", "a sampling variance must be > 0"),
    (replace_cell(TWO_CSV, 2, "sd1i", "-2"), HEAD + TWO, 2, "sd1i", "a standard deviation must be > 0"),
    (replace_cell(TWO_CSV, 2, "sd2i", "0"), HEAD + TWO, 2, "sd2i", "a standard deviation must be > 0"),
    (replace_cell(TWO_CSV, 3, "n1i", "1"), HEAD + TWO, 3, "n1i", "'1' is out of range: a sample size must be >= 2 (a standard deviation needs at least two observations per arm)"),
    (replace_cell(TWO_CSV, 3, "n2i", "0"), HEAD + TWO, 3, "n2i", "must be >= 2"),
    # duplicated labels, empty label
    (replace_cell(GEN_CSV, 4, "study", "A"), HEAD + GEN, 4, "study", "duplicated study label 'A' (first on line 2)"),
    (replace_cell(GEN_CSV, 4, "study", ""), HEAD + GEN, 4, "study", "empty study label"),
    # wrong delimiter, ragged line, duplicated header
    (GEN_CSV.replace(",", ";"), HEAD + GEN, 1, None, "';'-separated"),
    (GEN_CSV + "E,0.1\n", HEAD + GEN, 6, None, "2 fields where the header has 4"),
    (GEN_CSV.replace("study,yi,vi,x", "study,yi,vi,yi"), HEAD + GEN, 1, None, "duplicated column name(s) in the header: yi"),
    ("study,yi,vi\n", HEAD + GEN, None, None, "a header but no study rows"),
])
def test_bad_data_names_file_line_and_column(tmp_path, csv, spec, line, column, text):
    e = error_of(tmp_path, csv, spec)
    assert e.path == tmp_path / "data.csv"
    assert (e.line, e.column) == (line, column), str(e)
    assert text in str(e), str(e)


def test_wrong_encoding_names_the_line(tmp_path):
    (tmp_path / "data.csv").write_bytes(("study,yi,vi\nA,0.1,0.01\nBé,0.2,0.02\n").encode("latin-1"))
    (tmp_path / "spec.toml").write_text(HEAD + GEN.replace('vi = "vi"', 'vi = "vi"'))
    with pytest.raises(InputError, match="line 3: not UTF-8 text"):
        load_fixture(tmp_path / "spec.toml")


def test_missing_data_file(tmp_path):
    (tmp_path / "spec.toml").write_text(HEAD + GEN)
    with pytest.raises(InputError, match="no such data file") as e:
        load_fixture(tmp_path / "spec.toml")
    assert e.value.path == tmp_path / "data.csv"


# ------------------------------------------------------------------------------------------
# inputs metafor accepts: the same behaviour, compared with R and shown


def test_na_omit_drops_like_metafor_and_says_so(tmp_path, capsys, r_engine):
    csv = replace_cell(GEN_CSV, 3, "vi", "NA")
    spec = fixture(tmp_path, csv, HEAD + 'na = "omit"\n' + GEN + 'method = "FE"\n')
    out = tmp_path / "out.json"
    assert main(["verify", "--json", str(out), str(spec)]) == 0
    printed = capsys.readouterr().out
    assert "dropped study 'B' (line 3): empty or NA in vi" in printed
    a = json.loads(out.read_text())["analyses"][0]
    assert a["dropped"] == [{"line": 3, "study": "B", "columns": ["vi"], "reason": 'empty or NA in vi (na = "omit")'}]
    k = next(q for q in a["quantities"] if q["name"] == "k")
    assert k["python"] == k["r"] == 3
    # metafor itself on the full data (NA kept): rma() omits the study with a warning
    # and gives the same estimate
    r = r_engine.call("mh_rma", data={"yi": [0.10, 0.30, 0.50, 0.20], "vi": [0.010, float("nan"), 0.030, 0.015]}, measure="GEN", method="FE")
    # metafor 3.8-1: "Studies with NAs omitted from model fitting."; 4.8-0 and 5.0-1: "1 study with
    # NAs omitted from model fitting." (metafor 5.0-1 R/rma.uni.r, line 1102)
    assert any("with NAs omitted from model fitting" in w for w in r.warnings), r.warnings
    beta = next(q for q in a["quantities"] if q["name"].startswith("beta"))
    assert beta["r"] == pytest.approx(r.value["beta"][0], rel=1e-14)


def test_na_omit_of_every_study_is_an_error(tmp_path):
    csv = "study,yi,vi\nA,0.1,NA\nB,0.2,\n"
    e = error_of(tmp_path, csv, HEAD + 'na = "omit"\n' + GEN)
    assert "nothing is left to analyse" in str(e)


@pytest.mark.parametrize("csv, k", [
    ("study,yi,vi\nA,0.5,0.1\n", 1),                                  # a single study
    ("study,yi,vi\nA,0.5,0.1\nB,0.5,0.1\nC,0.5,0.1\n", 3),             # all studies identical
])
def test_single_study_and_identical_studies_agree_with_metafor(tmp_path, capsys, r_engine, csv, k):
    spec = fixture(tmp_path, csv, HEAD + GEN + 'method = ["FE", "DL", "REML"]\n')
    out = tmp_path / "out.json"
    code = main(["verify", "--brief", "--json", str(out), str(spec)])
    doc = json.loads(out.read_text())
    assert code == 0, capsys.readouterr()
    for a in doc["analyses"]:
        q = {x["name"]: x for x in a["quantities"]}
        assert q["k"]["r"] == k and q["tau2"]["r"] == 0.0 and q["beta"]["r"] == pytest.approx(0.5, rel=1e-14)  # metafor's own numbers
        assert a["verdict"] == "agree"


# ------------------------------------------------------------------------------------------
# spec files


@pytest.mark.parametrize("analysis, text", [
    (GEN + "methd = \"DL\"\n", "unknown key 'methd' for kind 'rma' (did you mean 'method'?)"),
    (GEN + "method = 3\n", "`method` must be a string, not 3"),
    (GEN + "level = \"95\"\n", "`level` must be a number"),
    (GEN + "level = inf\n", "`level` must be a finite number"),
    (GEN + "intercept = 1\n", "`intercept` must be true or false"),
    (GEN + "mods = \"x\"\n", "`mods` must be a list of strings"),
    (GEN + "method = \"REMl\"\n", "`method` = 'REMl' is not one of"),
    (GEN.replace('"GEN"', '"SMDD"'), "`measure` = 'SMDD' is not one of"),
    (GEN + "mods = [\"z\"]\n", "moderator 'z' is not in the file"),
    (GEN + "method = []\n", "`method` = [] would expand into no analyses"),
    (GEN + "method = [\"DL\", \"DL\"]\n", "lists a value twice"),
    (GEN + "[analysis.tolerance]\ntau2 = { rtol = -1 }\n", "must be a non-negative number"),
    (GEN.replace('kind', 'x') + "kind = \"rmaa\"\n", "unknown kind 'rmaa' (did you mean 'rma'?)"),
    ("analysis = [1, 2]\n", "analysis #1 must be a table"),
])
def test_bad_spec_is_a_clear_error_and_exit_2(tmp_path, capsys, analysis, text):
    spec = fixture(tmp_path, GEN_CSV, analysis + HEAD if analysis.startswith("analysis =") else HEAD + analysis)
    with pytest.raises(InputError) as e:
        load_fixture(spec)
    assert text in str(e.value), str(e.value)
    assert main(["verify", str(spec)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("metaharness: error: ") and text in err
    assert str(spec) in err or str(tmp_path / "data.csv") in err


def test_unknown_dataset_key_and_na_value(tmp_path):
    assert "did you mean 'slab'" in str(error_of(tmp_path, GEN_CSV, HEAD + "slb = \"study\"\n" + GEN))
    assert "`na` = 'omitt' is not one of error, omit (did you mean 'omit'?)" in str(error_of(tmp_path, GEN_CSV, HEAD + "na = \"omitt\"\n" + GEN))


def test_key_requires_hook_catches_inconsistent_options(tmp_path, monkeypatch):
    """Key.requires: e.g. robumeta's `rho` only with CORR weights. Shown on a kind
    declared here (the real kinds opt in by adding `requires=` to their Key)."""
    from harness.analyses import KINDS
    from harness.analyses.rma import KIND as rma

    keys = dict(rma.keys)
    keys["knha_df"] = Key(float, requires={"test": ("knha", "t")})
    monkeypatch.setattr(type(rma), "keys", keys)
    assert "rma" in KINDS
    e = error_of(tmp_path, GEN_CSV, HEAD + GEN + "knha_df = 3.0\n")
    assert "`knha_df` applies only when `test` is 'knha' or 't', but `test` is 'z'" in str(e)
    load_fixture(fixture(tmp_path, GEN_CSV, HEAD + GEN + "knha_df = 3.0\ntest = \"knha\"\n"))  # consistent: fine


def test_check_options_hook_runs_before_anything(tmp_path, monkeypatch):
    from harness.analyses.rma import RmaKind

    seen = []

    def check_options(self, spec, given):
        seen.append((spec.id, "method" in given))
        if spec["method"] == "DL" and "level" in given:
            raise InputError(f"analysis {spec.id}: level with DL is refused in this test", spec.fixture)

    monkeypatch.setattr(RmaKind, "check_options", check_options)
    e = error_of(tmp_path, GEN_CSV, HEAD + GEN + 'method = ["FE", "DL"]\nlevel = 90\n')
    assert "analysis a-DL: level with DL is refused" in str(e)
    assert seen == [("a-FE", True), ("a-DL", True)]


def test_rho_without_corr_weights_is_an_error(tmp_path, capsys):
    """The issue's example: robumeta's `rho` only means something with CORR weights."""
    csv = "esid,studyid,effectsize,var\n1,1,0.1,0.01\n2,1,0.2,0.02\n3,2,0.3,0.01\n4,3,0.1,0.02\n"
    spec = fixture(tmp_path, csv, '[dataset]\nname = "r"\ndata = "data.csv"\nsource = "t"\n[[analysis]]\nkind = "robu"\n'
                   'id = "x"\nstudynum = "studyid"\nyi = "effectsize"\nvi = "var"\nmodelweights = "HIER"\nrho = 0.5\n')
    assert main(["verify", str(spec)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "`rho` applies only when `modelweights` is 'CORR', but `modelweights` is 'HIER'" in err
