"""Fault injection, tried for real (issue 7).

* the R worker killed (SIGKILL), segfaulting (SIGSEGV), exiting, hanging past
  the timeout, failing with an R error: one analysis gets an engine error, the
  worker is restarted, the run continues, finished results are written;
* R that cannot start (R_HOME pointing nowhere), an R package hidden from the
  library path (R_LIBS_SITE without it), a package of an unexpected version (a
  copy whose installed metadata says 1.9): doctor and verify say so, exit 1;
* corrupted data files: exit 2 with file and line.

The faults come from test-only R functions in tests/r_faults/faults.R, loaded
only by workers started with that folder as extra scripts
(``WorkerEngine(extra_scripts=...)`` or $METAHARNESS_R_EXTRA_SCRIPTS).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


HERE = Path(__file__).resolve().parent
FAULTS = HERE / "r_faults"
ROOT = HERE.parent
SITE_LIB = Path("/usr/lib/R/site-library")


def run_cli(*args, env=None, cwd=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, env=e, cwd=cwd, timeout=600)


def no_traceback(p):
    assert "Traceback" not in p.stdout + p.stderr, p.stdout + p.stderr


def _ok_call(eng):
    """A real metafor fit: FE estimate of (0.1, 0.3, 0.5) with vi (0.01, 0.02, 0.03)."""
    r = eng.call("mh_rma", data={"yi": [0.1, 0.3, 0.5], "vi": [0.01, 0.02, 0.03]}, measure="GEN", method="FE")
    assert r.error is None and r.fault is None, r.error
    # by hand: w = (100, 50, 33.33); sum(w*y)/sum(w) = (10 + 15 + 16.67) / 183.33
    assert r.value["beta"][0] == pytest.approx((10 + 15 + 50 / 3) / (100 + 50 + 100 / 3), rel=1e-13)


# ---------------------------------------------------------------------------------
# the worker: crash, hang, R error


@pytest.mark.r_bridge
@pytest.mark.parametrize("sig, name", [(9, "SIGKILL"), (11, "SIGSEGV")])
def test_worker_killed_by_a_signal_is_an_engine_error_and_restarted(fault_engine, sig, name):
    starts = fault_engine.starts
    r = fault_engine.call("mh_test_signal", sig=sig)
    assert r.fault == "crash" and r.value is None
    assert f"killed by {name}" in r.error and "restarted" in r.error
    _ok_call(fault_engine)  # the next call runs in a fresh worker
    assert fault_engine.starts == starts + 1


@pytest.mark.r_bridge
def test_r_exiting_is_an_engine_error(fault_engine):
    r = fault_engine.call("mh_test_quit", status=3)
    assert r.fault == "crash" and "exited with status 3" in r.error
    _ok_call(fault_engine)


@pytest.mark.r_bridge
def test_hung_call_times_out_and_worker_restarts(fault_engine):
    fault_engine.timeout = 2
    try:
        t0 = time.monotonic()
        r = fault_engine.call("mh_test_sleep", seconds=120)
        took = time.monotonic() - t0
    finally:
        fault_engine.timeout = 60
    assert r.fault == "timeout" and "timed out after 2 s" in r.error
    assert took < 30  # stopped, not waited out (the sleep is 120 s)
    _ok_call(fault_engine)


@pytest.mark.r_bridge
def test_worker_killed_while_idle_is_restarted_transparently(fault_engine):
    _ok_call(fault_engine)
    pid = fault_engine.pid
    os.kill(pid, signal.SIGKILL)
    for _ in range(100):  # wait until it is gone
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        if fault_engine._proc.poll() is not None:
            break
        time.sleep(0.05)
    _ok_call(fault_engine)  # not this call's fault: no error, a new worker
    assert fault_engine.pid != pid


@pytest.mark.r_bridge
def test_r_error_and_warning_come_back_per_call(fault_engine):
    r = fault_engine.call("mh_test_error")
    assert r.error == "injected R error" and r.fault is None
    r = fault_engine.call("mh_test_warn")
    assert r.error is None and r.warnings == ["injected R warning"] and r.value == {"x": [1.0]}


@pytest.mark.r_bridge
def test_bad_function_names_never_reach_r(fault_engine):
    for bad in ("system", 'mh_x"); system("true', "mh_a b", "base::system"):
        with pytest.raises(ValueError):
            fault_engine.call(bad)


# ---------------------------------------------------------------------------------
# a whole verify run with a hanging, a killed, a segfaulting and a failing analysis

FAULT_CSV = """study,y,y_hang,y_kill,y_segv,y_err,v
A,0.10,4242,6666,1111,5555,0.010
B,0.30,0.30,0.30,0.30,0.30,0.020
C,0.50,0.50,0.50,0.50,0.50,0.030
D,0.20,0.20,0.20,0.20,0.20,0.015
"""

FAULT_SPEC = """
[dataset]
name = "faults"
data = "data.csv"
slab = "study"
source = "fault-injection test (tests/test_faults.py)"

[defaults]
measure = "GEN"
vi = "v"
method = "FE"

[[analysis]]
id = "a1-ok"
yi = "y"
[[analysis]]
id = "a2-hang"
yi = "y_hang"
[[analysis]]
id = "a3-kill"
yi = "y_kill"
[[analysis]]
id = "a4-segv"
yi = "y_segv"
[[analysis]]
id = "a5-rerror"
yi = "y_err"
[[analysis]]
id = "a6-ok"
yi = "y"
method = "DL"
"""


@pytest.mark.r_bridge
def test_verify_survives_hang_crash_and_r_error_and_writes_every_result(tmp_path, r_engine):
    (tmp_path / "data.csv").write_text(FAULT_CSV)
    (tmp_path / "spec.toml").write_text(FAULT_SPEC)
    out = tmp_path / "out.json"
    p = run_cli("verify", "--brief", "--json", str(out), str(tmp_path / "spec.toml"),
                env={"METAHARNESS_R_EXTRA_SCRIPTS": str(FAULTS), "METAHARNESS_R_TIMEOUT": "3"})
    no_traceback(p)
    assert p.returncode == 1, p.stdout + p.stderr
    doc = json.loads(out.read_text())
    by_id = {a["id"]: a for a in doc["analyses"]}
    assert list(by_id) == ["a1-ok", "a2-hang", "a3-kill", "a4-segv", "a5-rerror", "a6-ok"]
    for ok in ("a1-ok", "a6-ok"):  # before and after the faults: compared and agreeing
        assert by_id[ok]["verdict"] == "agree", by_id[ok]
        assert by_id[ok]["r_error"] is None
    assert "timed out after 3 s" in by_id["a2-hang"]["r_error"]
    assert "killed by SIGKILL" in by_id["a3-kill"]["r_error"]
    assert "killed by SIGSEGV" in by_id["a4-segv"]["r_error"]
    assert by_id["a5-rerror"]["r_error"] == "injected R error in mh_rma"
    for bad in ("a2-hang", "a3-kill", "a4-segv", "a5-rerror"):
        a = by_id[bad]
        assert a["verdict"] == "engine-error"
        assert all(q["verdict"] == "engine-error" for q in a["quantities"])  # never agreement
        assert a["python_error"] is None  # the Python side ran
    assert len(doc["engine_faults"]) == 3  # hang, kill, segv (an R error is not an engine fault)
    assert doc["summary"]["engine-error"] > 0
    assert "timed out" in p.stdout and "SIGSEGV" in p.stdout


# ---------------------------------------------------------------------------------
# R missing, a package hidden, a package of an unexpected version


def _fixture(tmp_path):
    shutil.copytree(ROOT / "fixtures" / "normand1999", tmp_path / "normand1999")
    return tmp_path / "normand1999" / "spec.toml"


def test_r_that_cannot_start_makes_every_analysis_an_engine_error(tmp_path):
    empty = tmp_path / "no-r-home"
    empty.mkdir()
    env = {"R_HOME": str(empty)}
    p = run_cli("doctor", env=env)
    no_traceback(p)
    assert p.returncode == 1
    assert "UNAVAILABLE" in p.stdout and "R_HOME" in p.stdout and "make setup" in p.stdout
    out = tmp_path / "out.json"
    p = run_cli("verify", "--brief", "--json", str(out), str(_fixture(tmp_path)), env=env)
    no_traceback(p)
    assert p.returncode == 1
    doc = json.loads(out.read_text())
    assert doc["r_unavailable"] and "R cannot start" in doc["r_unavailable"]
    assert doc["analyses"] and all(a["verdict"] == "engine-error" for a in doc["analyses"])
    assert doc["summary"]["agree"] == 0


def _lib_without(tmp_path, hidden):
    """A site library holding every package of the Debian one except ``hidden`` (symlinks)."""
    lib = tmp_path / f"lib-without-{hidden}"
    lib.mkdir()
    for d in SITE_LIB.iterdir():
        if d.name != hidden:
            (lib / d.name).symlink_to(d)
    return lib


@pytest.mark.skipif(not (SITE_LIB / "robumeta").is_dir(), reason="needs Debian's site library")
def test_hidden_package_is_named_with_its_fix(tmp_path, r_engine):
    env = {"R_LIBS_SITE": str(_lib_without(tmp_path, "robumeta")), "R_LIBS": "", "R_LIBS_USER": str(tmp_path / "none")}
    p = run_cli("doctor", env=env)
    no_traceback(p)
    assert p.returncode == 1
    assert "robumeta         MISSING" in p.stdout
    assert "apt-get install r-cran-robumeta" in p.stdout
    assert re.search(r"^  metafor +\d+\.\d+-\d+", p.stdout, re.M), p.stdout  # the others are still listed, with their versions
    out = tmp_path / "out.json"
    p = run_cli("verify", "--brief", "--json", str(out), str(_fixture(tmp_path)), env=env)
    assert p.returncode == 1
    doc = json.loads(out.read_text())
    assert "robumeta" in doc["r_unavailable"]
    assert all(a["verdict"] == "engine-error" for a in doc["analyses"])


@pytest.mark.skipif(not (SITE_LIB / "robumeta").is_dir(), reason="needs Debian's site library")
def test_package_of_unexpected_version_is_reported(tmp_path, r_engine):
    lib = tmp_path / "lib-old"
    lib.mkdir()
    shutil.copytree(SITE_LIB / "robumeta", lib / "robumeta")
    meta = lib / "robumeta" / "Meta" / "package.rds"
    # what R reads for packageDescription(): the installed metadata, rewritten by R itself
    subprocess.run(["Rscript", "-e", f'f <- "{meta}"; d <- readRDS(f); d$DESCRIPTION["Version"] <- "1.9"; saveRDS(d, f)'], check=True, capture_output=True)
    env = {"R_LIBS": str(lib)}  # R_LIBS comes before the site library
    # without --strict the exit status is 0 (R runs: a note, not a failure); --strict makes it 1
    p = run_cli("doctor", "--strict", env=env)
    no_traceback(p)
    assert p.returncode == 1, p.stdout
    assert "robumeta         1.9      UNTESTED RELEASE: metaharness is tested with robumeta 2.0, 2.1" in p.stdout
    assert "install" not in p.stdout.split("robumeta         1.9", 1)[1].split("\n", 1)[0]  # never advice to downgrade
    assert "1 package(s) of an untested release (--strict: exit 1)" in p.stdout


# ---------------------------------------------------------------------------------
# corrupted data files


@pytest.mark.parametrize("content, expect", [
    (b"\x00\x01\x02\xffgarbage\x00", "not UTF-8"),
    (b"study,yi,vi\nA,0.1,0.01\nB,0.2\x00,0.02\n", "line 3: a NUL byte"),
    (b"study,yi,vi\nA,0.1,0.01\nB,0.2,0.02,9\n", "line 3: 4 fields where the header has 3"),
    (b"study,yi,vi\nA,0.1,0.01\nB,\"0.2,0.02\n", "fields where the header has 3"),
    (b"study;yi;vi\nA;0,1;0,01\n", "';'-separated"),
    ("study,yi,vi\nÄ,0.1,0.01\n".encode("latin-1"), "not UTF-8"),
    ("study,yi,vi\nA,0.1,0.01\n".encode("utf-16"), "UTF-16"),
    (b"study,yi,vi\nA,0.1,0.01\nB,0.2,abc\n", "line 3, column 'vi': 'abc' is not a number"),
    (b"study,yi,vi\nA,0.1,0.01\nB,0.2,", "line 3, column 'vi': empty cell"),
    (b"", "the file is empty"),
])
def test_corrupted_csv_exits_2_naming_file_and_line(tmp_path, capsys, content, expect):
    from harness.cli import main

    (tmp_path / "data.csv").write_bytes(content)
    (tmp_path / "spec.toml").write_text('[dataset]\nname="c"\ndata="data.csv"\nslab="study"\nsource="test"\n'
                                        '[[analysis]]\nid="c"\nmeasure="GEN"\nyi="yi"\nvi="vi"\n')
    code = main(["verify", str(tmp_path / "spec.toml")])
    out, err = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in out + err
    assert str(tmp_path / "data.csv") in err
    assert expect in err, err
    assert out == ""  # nothing ran half-way


# ---------------------------------------------------------------------------------
# Python-side breakdown: reported as such, never as numbers

BREAK_CSV = "study,yi,ys,vi,x,x2\nA,1e200,0.1,1,1,2\nB,-1e200,0.5,1,2,4\nC,1e199,0.2,1,3,6\nD,0.4,0.9,1,4,8\n"
BREAK_SPEC = """
[dataset]
name = "breakdown"
data = "data.csv"
slab = "study"
source = "fault-injection test"
[defaults]
measure = "GEN"
yi = "yi"
vi = "vi"
method = "FE"
[[analysis]]
id = "overflow"
[[analysis]]
id = "singular"
yi = "ys"
mods = ["x", "x2"]
"""


def test_python_overflow_and_singular_design_are_reported_not_numbers(tmp_path, capsys, r_engine):
    from harness.cli import main

    (tmp_path / "data.csv").write_text(BREAK_CSV)
    (tmp_path / "spec.toml").write_text(BREAK_SPEC)
    out = tmp_path / "out.json"
    assert main(["verify", "--json", str(out), str(tmp_path / "spec.toml")]) == 1
    doc = json.loads(out.read_text())
    ov, sg = doc["analyses"]
    # x2 = 2 x: the model matrix is singular; metafor drops x2 with a warning and so does
    # Python (same warning, same coefficients), so the two are compared, not refused
    assert "Redundant predictors dropped from the model." in sg["r_warnings"]
    assert sg["python_warnings"] == sg["r_warnings"]
    names = {q["name"] for q in sg["quantities"]}
    assert "beta[x]" in names and not any("x2" in n for n in names)
    assert sg["verdict"] == "agree"
    # (1e200)^2 overflows in QE: a numerical-breakdown warning, so never agreement
    assert any(w.startswith("numerical breakdown: overflow") for w in ov["python_warnings"])
    assert ov["verdict"] == "warning"


def test_any_exception_in_an_engine_is_contained_to_its_analysis():
    import numpy as np

    from harness.verify import run_engine

    def singular():
        np.linalg.inv(np.zeros((2, 2)))

    def bug():
        return None.values

    out, _ = run_engine(singular)
    assert out.error == "numerical breakdown: Singular matrix"
    out, _ = run_engine(bug)
    assert out.error.startswith("internal error (AttributeError)")
