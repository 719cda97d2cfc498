"""The comparison layer catches what it must: differences, one-sided NaN, engine errors."""
import math

import pytest

from harness.analyses import KINDS
from harness.analyses.base import Outcome
from harness.compare.compare import compare_outcomes, compare_values
from harness.compare.tolerance import CLOSED, Tolerance
from harness.spec import load_fixture
from harness.verify import run_engine


@pytest.fixture(scope="module")
def reml_spec(fixtures_dir):
    fx = load_fixture(fixtures_dir / "normand1999" / "spec.toml")
    return next(a for a in fx.analyses if a.id == "normand1999-SMD-REML")


def test_within_tolerance_agrees():
    r = compare_values("beta", 1.0 + 1e-13, 1.0, CLOSED)
    assert r.verdict == "agree"
    assert r.abs_diff == pytest.approx(1e-13, rel=1e-3)


def test_beyond_tolerance_differs():
    r = compare_values("beta", 1.0 + 1e-6, 1.0, CLOSED)
    assert r.verdict == "differ"
    assert r.rel_diff == pytest.approx(1e-6, rel=1e-6)


def test_nan_on_one_side_differs():
    assert compare_values("I2", math.nan, 50.0, CLOSED).verdict == "differ"
    assert compare_values("I2", 50.0, math.nan, CLOSED).verdict == "differ"


def test_nan_on_both_sides_agrees_as_undefined():
    r = compare_values("se_tau2", math.nan, math.nan, CLOSED)
    assert r.verdict == "agree" and "undefined" in r.explanation


def test_zero_reference_uses_atol():
    assert compare_values("tau2", 1e-14, 0.0, Tolerance(1e-8, 1e-10)).verdict == "agree"
    assert compare_values("tau2", 1e-6, 0.0, Tolerance(1e-8, 1e-10)).verdict == "differ"


def test_perturbed_python_result_is_reported(reml_spec, r_engine):
    kind = KINDS["rma"]
    py = kind.run_python(reml_spec)
    r = kind.run_r(reml_spec, r_engine)
    assert compare_outcomes(kind, reml_spec, py, r).verdict == "agree"
    py.values["beta"] += 1e-6
    cmp = compare_outcomes(kind, reml_spec, py, r)
    assert cmp.verdict == "differ"
    bad = [x for x in cmp.records if x.verdict != "agree"]
    assert [x.name for x in bad] == ["beta"]


def test_missing_quantity_is_reported(reml_spec, r_engine):
    kind = KINDS["rma"]
    py = kind.run_python(reml_spec)
    r = kind.run_r(reml_spec, r_engine)
    del r.values["I2"]
    cmp = compare_outcomes(kind, reml_spec, py, r)
    assert [x.verdict for x in cmp.records if x.name == "I2"] == ["missing"]
    assert cmp.verdict == "missing"


def test_r_error_is_engine_error_with_rs_message(reml_spec, r_engine):
    """A real R error (metafor refuses DL with a negative variance) is recorded, never agreement."""
    kind = KINDS["rma"]
    call = r_engine.call("mh_rma", data={"yi": [0.1, 0.2, 0.3], "vi": [0.1, -0.1, 0.2]}, measure="GEN", method="DL")
    assert call.error is not None and "DL estimator cannot be used" in call.error
    py = kind.run_python(reml_spec)
    r = Outcome(error=call.error, warnings=call.warnings)
    cmp = compare_outcomes(kind, reml_spec, py, r)
    assert cmp.verdict == "engine-error"
    assert all(x.verdict == "engine-error" for x in cmp.records)
    assert "DL estimator cannot be used" in cmp.records[0].explanation


def test_python_exception_becomes_error_outcome():
    def boom():
        raise ValueError("singular matrix")

    out, _ = run_engine(boom)
    assert out.error == "ValueError: singular matrix"


def test_warnings_are_never_agreement(reml_spec):
    kind = KINDS["rma"]
    py = Outcome(values={"beta": 1.0})
    r = Outcome(values={"beta": 1.0}, warnings=["Studies with NAs omitted from model fitting."])
    cmp = compare_outcomes(kind, reml_spec, py, r)
    assert cmp.verdict == "warning"


def test_nonconvergence_on_both_sides_is_the_compared_outcome(reml_spec):
    kind = KINDS["rma"]
    py = Outcome(error="did not converge: ...", info={"nonconvergence": True})
    r = Outcome(error="Fisher scoring algorithm did not converge.", info={"nonconvergence": True})
    cmp = compare_outcomes(kind, reml_spec, py, r)
    assert [(x.name, x.verdict) for x in cmp.records] == [("converged", "agree")]
    # non-convergence on one side only is an engine error
    cmp = compare_outcomes(kind, reml_spec, Outcome(values={"beta": 1.0}), r)
    assert cmp.verdict == "engine-error"
