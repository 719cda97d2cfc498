"""A hypothesis campaign of malformed inputs against the loaders and the CLI (issue 7).

Every case ends in a result or a clear :class:`InputError` (exit 2 from the
CLI, one ``metaharness: error: <file>...`` line); no traceback ever reaches
the user and no internal error (exit 3) occurs. Deterministic
(``derandomize=True``) and bounded, so it runs the same in CI every time.
"""
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.data import read_csv
from harness.errors import InputError
from harness.spec import load_fixture

FAST = settings(max_examples=150, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CLI = settings(max_examples=60, derandomize=True, deadline=None, database=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# cells: numbers of every kind, and the things people put in spreadsheets
NUMBERISH = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10, 10_000).map(str),
    st.sampled_from(["", " ", "NA", "nan", "NaN", "inf", "-inf", "1e309", "-0", "0", "1,5", "0.5.1", "abc", "∞",
                     "１２", "1_000", "0x10", " 3 ", "\"", "'", ";", "\t", "1e-320", "2", "1"]),
)
CELL = st.one_of(NUMBERISH, st.text(max_size=12))
HEADER_WORDS = ["study", "yi", "vi", "sei", "m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i", "x", "", "yi ", "Yi", "a b", "x;y"]


def csv_text(rows):
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


@st.composite
def csv_files(draw):
    header = draw(st.lists(st.sampled_from(HEADER_WORDS), min_size=0, max_size=6))
    n = draw(st.integers(0, 6))
    rows = [draw(st.lists(CELL, min_size=max(0, len(header) - 1), max_size=len(header) + 1)) for _ in range(n)]
    text = csv_text([header, *rows])
    enc = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16", "raw"]))
    if enc == "raw":
        return draw(st.binary(max_size=200))
    return text.encode(enc, errors="replace")


def _check_dataset(ds):
    """Typed access on every column: values, or an InputError that names the place."""
    for col in ds.columns:
        for kw in ({}, {"lower": 0, "lower_inclusive": False, "what": "a variance"}, {"allow_empty": True}):
            try:
                x = ds.numeric(col, **kw)
                assert len(x) == ds.k
            except InputError as e:
                assert e.path == ds.path and e.line is not None and e.column == col, str(e)
        try:
            ds.labels(col)
        except InputError as e:
            assert e.line is not None and e.column == col
        ds.omit_missing([col], slab=None)


@FAST
@given(content=csv_files())
def test_read_csv_gives_a_dataset_or_a_located_error(tmp_path, content):
    p = tmp_path / "data.csv"
    p.write_bytes(content)
    try:
        ds = read_csv(p)
    except InputError as e:
        assert e.path == p and str(e).startswith(str(p))
        return
    _check_dataset(ds)


# ------------------------------------------------------------------------------------------
# specs: random TOML documents built from the real vocabulary plus noise

KEYS = ["id", "kind", "measure", "method", "test", "yi", "vi", "sei", "mods", "level", "intercept", "threshold",
        "maxiter", "tolerance", "vtype", "extras", "rho", "modelweights", "studynum", "mesure", "methd", "weights"]
VALUES = st.one_of(
    st.sampled_from(["GEN", "MD", "SMD", "FE", "DL", "REML", "z", "knha", "yi", "vi", "x", "rma", "robu", "nope", "", "yi;vi"]),
    st.integers(-5, 2000), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.lists(st.sampled_from(["FE", "DL", "x", "yi", "REML", "bad name"]), max_size=3),
    st.dictionaries(st.sampled_from(["tau2", "beta", "*"]), st.dictionaries(st.sampled_from(["rtol", "atol", "x"]),
                    st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-1, 3), st.text(max_size=2)), max_size=2), max_size=2),
)


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)


@st.composite
def spec_docs(draw):
    lines = []
    ds = {"name": "m", "data": "data.csv", "source": "campaign", "slab": "study"}
    for k in draw(st.lists(st.sampled_from(list(ds)), unique=True, max_size=2)):
        ds.pop(k)  # sometimes a required key is missing
    if draw(st.booleans()):
        ds[draw(st.sampled_from(["na", "nme", "slab"]))] = draw(st.sampled_from(["omit", "error", "x", "study"]))
    if draw(st.integers(0, 9)):
        lines.append("[dataset]")
        lines += [f"{k} = {toml_value(v)}" for k, v in ds.items()]
    for _ in range(draw(st.integers(0, 3))):
        lines.append("[[analysis]]")
        base = {"id": draw(st.sampled_from(["a", "b", "a", "", "x\ny"])), "measure": "GEN", "yi": "yi", "vi": "vi"}
        for k, v in draw(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=4)).items():
            base[k] = v
        for k in draw(st.lists(st.sampled_from(list(base)), unique=True, max_size=1)):
            base.pop(k)
        lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in base.items()]
    if draw(st.integers(0, 9)) == 0:
        lines.append(draw(st.sampled_from(["[[analysis]", "x = ", "[defaults]\nmethod = 3", "analysis = 1", "[bogus]"])))
    return "\n".join(lines) + "\n"


DATA = "study,yi,vi,x\nA,0.1,0.01,1\nB,0.3,0.02,2\nC,,0.03,3\nD,0.2,0.015,NA\n"


@FAST
@given(doc=spec_docs())
def test_load_fixture_gives_analyses_or_a_clear_error(tmp_path, doc):
    (tmp_path / "data.csv").write_text(DATA)
    p = tmp_path / "spec.toml"
    p.write_text(doc)
    try:
        fx = load_fixture(p)
    except InputError as e:
        assert e.path is not None and str(e).startswith(str(e.path)), str(e)
        return
    assert fx.analyses
    for a in fx.analyses:
        assert a.id and "\n" not in a.id


# ------------------------------------------------------------------------------------------
# the CLI end to end, R for real: data mutated cell by cell

GOOD = [["study", "yi", "vi", "x"], ["A", "0.1", "0.01", "1"], ["B", "0.3", "0.02", "2"], ["C", "0.5", "0.03", "4"], ["D", "0.2", "0.015", "3"]]
SPEC = ('[dataset]\nname = "m"\ndata = "data.csv"\nslab = "study"\nsource = "campaign"\n{na}\n'
        '[[analysis]]\nid = "m"\nmeasure = "GEN"\nyi = "yi"\nvi = "vi"\nmethod = {method}\n{mods}\n')


@CLI
@given(edits=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3), NUMBERISH), max_size=3),
       method=st.sampled_from(['"FE"', '"DL"', '"REML"', '["FE", "ML"]']),
       mods=st.sampled_from(["", 'mods = ["x"]']), na=st.sampled_from(["", 'na = "omit"']))
def test_cli_verify_never_shows_a_traceback(tmp_path, capsys, r_engine, edits, method, mods, na):
    rows = [list(r) for r in GOOD]
    for i, j, cell in edits:
        rows[i][j] = cell
    (tmp_path / "data.csv").write_text(csv_text(rows))
    (tmp_path / "spec.toml").write_text(SPEC.format(na=na, method=method, mods=mods))
    out_json = tmp_path / "out.json"
    code = main(["verify", "--brief", "--json", str(out_json), str(tmp_path / "spec.toml")])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code in (0, 1, 2), (code, err)
    if code == 2:
        assert err.startswith("metaharness: error: ") and str(tmp_path) in err and out == ""
    else:
        doc = json.loads(out_json.read_text())
        assert doc["analyses"]
        for a in doc["analyses"]:
            # an engine error or a non-finite value is never agreement
            if a["python_error"] or a["r_error"]:
                both_nonconv = [q["name"] for q in a["quantities"]] == ["converged"]  # compared outcome: both say so
                assert a["verdict"] == "engine-error" or both_nonconv, a
            for q in a["quantities"]:
                if q["verdict"] == "agree" and q["name"] not in ("warnings", "converged"):
                    assert (q["python"] is None) == (q["r"] is None)


def test_cli_bad_arguments_exit_2_without_traceback(capsys, tmp_path):
    for argv in (["verify", str(tmp_path / "nope.toml")], ["nonsense"], ["verify", "--json"]):
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 2 and "Traceback" not in out + err


# ------------------------------------------------------------------------------------------
# published-results files and RevMan 5 reviews (metaharness audit), mutated byte by byte

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent
AUDIT_SEEDS = sorted(p for p in [*(ROOT / "fixtures" / "published").glob("*.toml"), *(ROOT / "tests" / "data" / "cochrane").glob("*.rm5")])


@st.composite
def mutated(draw):
    seed = draw(st.sampled_from(AUDIT_SEEDS))
    data = bytearray(seed.read_bytes())
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["truncate", "flip", "insert", "delete"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "truncate":
            del data[pos:]
        elif op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.sampled_from([b"\x00", b'"', b"=", b"[", b"<", b"-1", b"nan", b"\n[[outcome]]\n", b"\xff"]))
        elif data:
            del data[pos:pos + draw(st.integers(1, 40))]
    return seed.suffix, bytes(data)


@pytest.mark.r
@settings(max_examples=40, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=mutated())
def test_cli_audit_of_mutated_files_never_shows_a_traceback(tmp_path, capsys, case):
    suffix, content = case
    p = tmp_path / f"file{suffix}"
    p.write_bytes(content)
    code = main(["audit", str(p)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "internal error" not in err, err
    assert code in (0, 1, 2), (code, err)
    if code == 2:
        assert err.startswith("metaharness: error: ")
