"""The command line end to end: verify the bundled fixtures, JSON shape, exit codes."""
import json
import subprocess
import sys


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=cwd)


def test_verify_bundled_fixtures_agree(tmp_path, r_engine):
    out = tmp_path / "out.json"
    p = run("verify", "--json", str(out))
    assert p.returncode == 0, p.stdout + p.stderr
    last = p.stdout.strip().splitlines()[-1]
    assert "analyses" in last and " 0 differ, 0 errors" in last
    doc = json.loads(out.read_text())
    assert doc["schema"] == 1
    assert {"python", "r"} <= set(doc["engines"])
    assert doc["engines"]["r"]["metafor"]
    a = doc["analyses"][0]
    assert {"id", "fixture", "quantities"} <= set(a)
    q = a["quantities"][0]
    assert set(q) >= {"name", "python", "r", "abs_diff", "rel_diff", "tolerance", "verdict"}
    # bundled fixtures agree, except differences registered as explained (each with its reason)
    assert all(q["verdict"] in ("agree", "explained") for a in doc["analyses"] for q in a["quantities"])
    assert all(q["explanation"] for a in doc["analyses"] for q in a["quantities"] if q["verdict"] == "explained")


def test_bad_spec_exits_2(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('[dataset]\ndata = "data.csv"\nsource = "x"\n[[analysis]]\nid = "a"\nmeasure = "SMD"\nmethd = "REML"\n')
    (tmp_path / "data.csv").write_text("m1i,sd1i,n1i,m2i,sd2i,n2i\n1,1,10,0,1,10\n2,1,10,0,1,10\n")
    p = run("verify", str(spec))
    assert p.returncode == 2
    assert "unknown key 'methd'" in p.stderr and "did you mean 'method'" in p.stderr


def test_bad_cell_names_file_line_and_column(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('[dataset]\ndata = "data.csv"\nsource = "x"\n[[analysis]]\nid = "a"\nmeasure = "SMD"\n')
    (tmp_path / "data.csv").write_text("m1i,sd1i,n1i,m2i,sd2i,n2i\n1,1,10,0,1,10\n2,abc,10,0,1,10\n")
    p = run("verify", str(spec))
    assert p.returncode == 2
    assert "data.csv, line 3, column 'sd1i': 'abc' is not a number" in p.stderr


def test_doctor_reports_both_engines(r_engine):
    p = run("doctor")
    assert p.returncode == 0, p.stdout
    release = r_engine.versions()["metafor"]
    assert f"metafor          {release}" in p.stdout and "supported (tested releases: 3.8-1, 4.8-0, 5.0-1)" in p.stdout
    assert "library paths" in p.stdout
    assert f"Conventions the Python side follows: metafor {release} (the R engine's release)" in p.stdout
    assert "ROM bias-corrected by default" in p.stdout
    assert "downgrade" not in p.stdout and "verified with" not in p.stdout
    assert "numpy" in p.stdout
