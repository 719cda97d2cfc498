"""User strings never become R code (issue 7).

Hostile names -- quotes, parentheses, semicolons, backticks, ``system(...)``,
newlines -- are passed as column names, moderator names, study labels, spec
ids and option values, through the spec and straight to the engine. Each
would create a marker file if R ever evaluated it; the tests show the file is
never created and that a clear error or the correct result comes back.
"""
import json

import pytest

from harness.analyses.base import check_r_name
from harness.cli import main
from harness.errors import InputError
from harness.spec import load_fixture


def hostile(marker):
    """Strings that, parsed and evaluated by R, would create ``marker``."""
    m = str(marker)
    return [
        f'system("touch {m}")',
        f'x); system("touch {m}"); (y',
        f"x'); file.create('{m}'); ('",
        f'`system("touch {m}")`',
        f'x`); file.create("{m}"); (`y',
        f'a;file.create("{m}")',
        f'y\nfile.create("{m}")',
        f'I(file.create("{m}"))',
        f'{{file.create("{m}")}}',
    ]


def csv_quote(s):
    return '"' + s.replace('"', '""') + '"'


SPEC_HEAD = '[dataset]\nname = "inj"\ndata = "data.csv"\nslab = "study"\nsource = "injection test"\n'


def write_fixture(tmp_path, header, rows, analysis):
    lines = [",".join(csv_quote(h) for h in header)] + [",".join(csv_quote(str(c)) for c in r) for r in rows]
    (tmp_path / "data.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "spec.toml").write_text(SPEC_HEAD + analysis, encoding="utf-8")
    return tmp_path / "spec.toml"


def toml_str(s):
    return json.dumps(s)  # a JSON string literal is a valid TOML basic string


ROWS = [("A", 0.10, 0.010, 1.0), ("B", 0.30, 0.020, 2.0), ("C", 0.50, 0.030, 4.0), ("D", 0.20, 0.015, 3.0)]


# ------------------------------------------------------------------------------------------
# through the spec: a clear error before anything runs


@pytest.mark.parametrize("i", range(9))
@pytest.mark.parametrize("role", ["mods", "yi"])
def test_hostile_column_names_are_refused_before_anything_runs(tmp_path, capsys, i, role):
    marker = tmp_path / "pwned"
    name = hostile(marker)[i]
    header = ["study", "yi", "vi", name]
    if role == "mods":
        analysis = f'[[analysis]]\nid = "a"\nmeasure = "GEN"\nyi = "yi"\nvi = "vi"\nmods = [{toml_str(name)}]\n'
    else:
        analysis = f'[[analysis]]\nid = "a"\nmeasure = "GEN"\nyi = {toml_str(name)}\nvi = "vi"\n'
    spec = write_fixture(tmp_path, header, ROWS, analysis)
    code = main(["verify", str(spec)])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert "not a plain column name" in err and "Traceback" not in err
    assert out == ""
    assert not marker.exists()


@pytest.mark.parametrize("word", ["function", "TRUE", "NULL", "if", "Inf"])
def test_r_reserved_words_are_refused_as_names(word):
    assert "reserved word in R" in check_r_name(word)
    assert check_r_name([word]) is not None
    assert check_r_name("x.1_b") is None


def test_hostile_option_values_are_refused(tmp_path, capsys):
    marker = tmp_path / "pwned"
    bad = hostile(marker)[0]
    spec = write_fixture(tmp_path, ["study", "yi", "vi"], [r[:3] for r in ROWS],
                         f'[[analysis]]\nid = "a"\nmeasure = "GEN"\nyi = "yi"\nvi = "vi"\nmethod = {toml_str(bad)}\n')
    assert main(["verify", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "`method`" in err and "is not one of" in err
    assert not marker.exists()


def test_spec_id_with_a_newline_is_refused(tmp_path):
    spec = write_fixture(tmp_path, ["study", "yi", "vi"], [r[:3] for r in ROWS],
                         '[[analysis]]\nid = "a\\n== fake [rma] agree"\nmeasure = "GEN"\nyi = "yi"\nvi = "vi"\n')
    with pytest.raises(InputError, match="one line of printable text"):
        load_fixture(spec)


def test_label_with_a_control_character_is_refused(tmp_path):
    rows = [("A", 0.1, 0.01), ("B\x1b[2J", 0.3, 0.02)]
    spec = write_fixture(tmp_path, ["study", "yi", "vi"], rows, '[[analysis]]\nid = "a"\nmeasure = "GEN"\nyi = "yi"\nvi = "vi"\n')
    with pytest.raises(InputError, match="control character") as e:
        load_fixture(spec)
    assert e.value.line == 3 and e.value.column == "study"


# ------------------------------------------------------------------------------------------
# labels and ids are data: the run goes on and agrees


def test_hostile_labels_and_ids_are_only_data(tmp_path, r_engine):
    marker = tmp_path / "pwned"
    labels = [h for h in hostile(marker) if "\n" not in h][:4]
    rows = [(lab, *r[1:3]) for lab, r in zip(labels, ROWS)]
    aid = hostile(marker)[1]
    spec = write_fixture(tmp_path, ["study", "yi", "vi"], rows,
                         f'[[analysis]]\nid = {toml_str(aid)}\nmeasure = "GEN"\nyi = "yi"\nvi = "vi"\nmethod = "FE"\n')
    out = tmp_path / "out.json"
    assert main(["verify", "--brief", "--json", str(out), str(spec)]) == 0
    doc = json.loads(out.read_text())
    a = doc["analyses"][0]
    assert a["id"] == aid + "" and a["verdict"] == "agree"
    beta = next(q for q in a["quantities"] if q["name"].startswith("beta"))
    # FE by hand: w = 1/vi = (100, 50, 33.33, 66.67); sum(w*y)/sum(w)
    w = [100, 50, 100 / 3, 200 / 3]
    y = [0.10, 0.30, 0.50, 0.20]
    assert beta["r"] == pytest.approx(sum(a * b for a, b in zip(w, y)) / sum(w), rel=1e-12)
    assert not marker.exists()


# ------------------------------------------------------------------------------------------
# straight to the engine, bypassing every Python check: R treats names as data


@pytest.mark.parametrize("i", range(9))
def test_engine_takes_hostile_moderator_names_as_symbols_only(tmp_path, r_engine, i):
    marker = tmp_path / "pwned"
    name = hostile(marker)[i]
    data = {"yi": [r[1] for r in ROWS], "vi": [r[2] for r in ROWS]}
    x = [r[3] for r in ROWS]
    ref = r_engine.call("mh_rma", data=data, mods={"x": x}, measure="GEN", method="FE")
    assert ref.error is None
    r = r_engine.call("mh_rma", data=data, mods={name: x}, measure="GEN", method="FE")
    assert not marker.exists()
    if r.error is None:  # the symbol named `name` was looked up as a column: the same fit
        assert r.value["beta"] == pytest.approx(ref.value["beta"], rel=1e-12)
    else:
        assert r.fault is None and isinstance(r.error, str)


@pytest.mark.parametrize("field", ["measure", "method", "test", "vtype"])
def test_engine_takes_hostile_option_values_as_strings_only(tmp_path, r_engine, field):
    marker = tmp_path / "pwned"
    data = {"yi": [0.1, 0.3, 0.5], "vi": [0.01, 0.02, 0.03]}
    for bad in hostile(marker):
        kw = {"measure": "GEN", "method": "FE", field: bad}
        r = r_engine.call("mh_rma", data=data, **kw)
        assert not marker.exists(), (field, bad)
        if field != "vtype":  # measure GEN ignores vtype
            assert r.error is not None and r.fault is None


def test_engine_function_names_are_an_allow_list(tmp_path, r_engine):
    marker = tmp_path / "pwned"
    for bad in hostile(marker) + ["system", "mh_call", "mh_"]:
        try:
            r = r_engine.call(bad)
        except ValueError:
            continue
        assert r.error is not None  # "mh_call"/"mh_": reached R's own allow-list check
    assert not marker.exists()
