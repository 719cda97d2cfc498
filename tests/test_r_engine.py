"""The R engine: real R, plain Python values out, R's errors and warnings captured."""
import pytest


def test_versions(r_engine):
    v = r_engine.versions()
    assert v["R"].startswith("4.")
    for pkg in ("metafor", "robumeta", "clubSandwich"):
        assert v[pkg], pkg


def test_values_are_plain_python(r_engine):
    r = r_engine.call("mh_rma", data={"yi": [0.1, 0.3, 0.5], "vi": [0.01, 0.02, 0.03]}, measure="GEN", method="FE")
    assert r.error is None
    for key, val in r.value.items():
        assert isinstance(val, list), key
        assert all(isinstance(x, (float, int, str)) for x in val), key
    # metafor's FE estimate, by hand: w = (100, 50, 33.33..); sum(w*y)/sum(w)
    w = [100, 50, 100 / 3]
    assert r.value["beta"][0] == pytest.approx((10 + 15 + 50 / 3) / sum(w), rel=1e-14)


def test_r_warning_is_captured_not_printed(r_engine, capfd):
    r = r_engine.call("mh_rma", data={"yi": [0.1, 0.3, 0.5], "vi": [0.01, 0.0, 0.03]}, measure="GEN", method="REML")
    assert any("non-positive sampling variances" in w for w in r.warnings)
    out, err = capfd.readouterr()
    assert "non-positive" not in out + err


def test_r_error_carries_rs_message(r_engine):
    r = r_engine.call("mh_rma", data={"yi": [0.1, 0.3], "vi": [0.01, 0.02]}, measure="GEN", method="NOPE")
    assert r.value is None
    assert "Unknown 'method' specified" in r.error


def test_only_engine_functions_can_be_called(r_engine):
    with pytest.raises(ValueError):
        r_engine.call("system", command="echo hi")
    r = r_engine.call("mh_does_not_exist")
    assert "unknown engine function" in r.error


# ---------------------------------------------------------------------------------------
# the conversions (harness.engines.r._to_r / _to_py, R's C API through rpy2), judged by R

import json
import math
import struct
from pathlib import Path

import numpy as np

FAULTS = Path(__file__).resolve().parent / "r_faults"


def _args():
    """Python's side of mh_test_expected_args (tests/r_faults/conversion.R)."""
    return {"num": 1.5, "int": 3, "yes": True, "no": np.bool_(False), "text": "\u00e9\u2018x\u2019", "none": None,
            "empty": {}, "vec": np.array([1.0, -0.0, np.inf, -np.inf, np.nan]), "ivec": np.arange(3),
            "lvec": np.array([True, False]), "svec": np.array(["a", "b"], dtype=object), "evec": [],
            "nested": {"a": {"b": [1, 2]}}, "lst": [0.5, 2]}


def _bits(x):
    return struct.pack("<d", x)


@pytest.mark.r
def test_python_values_arrive_as_r_objects(fault_engine):
    r = fault_engine.call("mh_test_is_expected", x=_args())
    assert r.error is None, r.error
    assert r.value["identical"] == [True], r.value["received"]
    assert r.value["encoding"] == ["UTF-8"]


@pytest.mark.r
def test_r_values_arrive_as_python_values(fault_engine):
    r = fault_engine.call("mh_test_values")
    assert r.error is None, r.error
    v = r.value
    assert v["int"][0] == 1 and type(v["int"][0]) is int and math.isnan(v["int"][1])  # NA_integer_ -> nan
    assert v["lgl"] == [True, None, False]
    assert v["chr"] == ["x", None, "\u00e9\u2018"]
    assert v["null"] is None
    assert v["unnamed"] == [[1.0], ["a"]]
    assert v["partly"] == [[1.0], [2.0]] and v["na_name"] == [[1.0]]  # not every element named: a list
    assert v["int0"] == v["lgl0"] == v["chr0"] == v["dbl0"] == v["list0"] == []
    assert v["fac"] == [1, 2, 1]  # a factor's codes (attributes other than names are not kept)
    assert v["named_dbl"] == [1.0, 2.0] and v["mat"] == [1.0, 2.0, 3.0, 4.0]
    d = v["dbl"]
    assert all(type(x) is float for x in d)
    # R's NA_real_ is the NaN whose low word is 1954 (R's arithmetic.c, R_ValueOfNA): the bits arrive
    assert _bits(d[1]) == struct.pack("<Q", 0x7FF00000000007A2)
    assert math.isnan(d[0]) and _bits(d[2]) == _bits(-0.0) and d[3] == math.inf and _bits(d[4]) == _bits(0.1)


@pytest.mark.r
def test_an_r_object_that_cannot_be_converted_is_an_error(fault_engine):
    with pytest.raises(TypeError, match="does not convert"):
        fault_engine.call("mh_test_environment")
    assert fault_engine.call("mh_test_values").error is None  # the worker stays usable


_TORTURE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import rpy2.rinterface as ri
from harness.engines.r import REngine, _to_py, _to_r
from test_r_engine import FAULTS, _args
env = REngine(extra_scripts=[FAULTS]).start()._env
torture = ri.baseenv["gctorture"]
out = {}
for _ in range(3):
    torture(True)
    x = _to_r(_args())
    torture(False)
    out["identical"] = _to_py(env["mh_test_is_expected"](x))["identical"]
    obj = env["mh_test_values"]()
    torture(True)
    v = _to_py(obj)
    torture(False)
    out["chr"], out["partly"] = v["chr"], v["partly"]
print(json.dumps(out))
"""


@pytest.mark.r
def test_conversions_survive_garbage_collection_at_every_allocation(r_engine):
    """Under R's gctorture (a collection at every allocation) an R object the conversions
    left unprotected would be freed at once. R embedded in a child process of its own
    (the conversions alone run under gctorture: R's code under it would take minutes)."""
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-c", _TORTURE, str(Path(__file__).resolve().parent)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out == {"identical": [True], "chr": ["x", None, "\u00e9\u2018"], "partly": [[1.0], [2.0]]}
