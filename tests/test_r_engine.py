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
