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


# --- the comparison's fast paths are the same records (the campaign's records must not change) ----------
def test_fast_record_is_the_dataclass_record():
    """compare_values builds a record without the frozen dataclass's __init__: it must be the same record."""
    from dataclasses import fields

    from harness.compare.compare import Record, _record

    args = ("yi[3]", 1.5, 1.25, 0.25, 0.2, CLOSED, "differ", "why", ("python", "revman"))
    fast, slow = _record(*args), Record(*args)
    assert fast == slow and type(fast) is Record
    assert [f.name for f in fields(Record)] == list(vars(fast))
    with pytest.raises(AttributeError):  # still frozen
        fast.verdict = "agree"
    for py, r in ((1.0 + 1e-13, 1.0), (1.0, 0.0), (0.0, 0.0), (1e308, -1e308), (math.inf, math.inf), (math.inf, 1.0),
                  (math.nan, 1.0), (-2.5, 1e-300)):
        rec = compare_values("beta", py, r, CLOSED)  # the finite case first, then the rest as before
        ad = abs(py - r)
        if math.isnan(py) or math.isnan(r):
            assert rec.abs_diff is None and rec.verdict == "differ"
        elif math.isinf(py) or math.isinf(r):
            assert rec.abs_diff == (0.0 if py == r else math.inf)
        else:
            assert rec.abs_diff == ad and rec.rel_diff == (ad / abs(r) if r != 0 else (0.0 if ad == 0 else math.inf))
            assert rec.verdict == ("agree" if CLOSED.allows(py, r) else "differ")


def test_tolerances_per_base_name_are_the_kinds(reml_spec):
    """compare_outcomes looks a tolerance up once per base name: every quantity's is kind.tolerance's,
    and an override of one exact name still applies to that name only."""
    import dataclasses

    from harness.compare.compare import _tolerances

    kind = KINDS[reml_spec.kind]
    py, _ = run_engine(kind.run_python, reml_spec)
    spec = dataclasses.replace(reml_spec, tolerances={"yi[2]": Tolerance(0.5, 0.0), "tau2": Tolerance(0.25, 0.0)})
    for s in (reml_spec, spec):
        of = _tolerances(kind, s)
        for name in py.values:
            assert of(name) == kind.tolerance(s, name), name
    assert _tolerances(kind, spec)("yi[2]").rtol == 0.5 and _tolerances(kind, spec)("yi[1]") == kind.tolerance(reml_spec, "yi[1]")


def test_rma_reads_the_remembered_fit_as_it_would_refit(reml_spec):
    """The tolerances and measures RmaKind takes from the Python fit compare_outcomes hands it are
    those it computes without it, to the bit."""
    import dataclasses

    import numpy as np

    kind = KINDS[reml_spec.kind]
    cold = dataclasses.replace(reml_spec)  # another spec object: nothing remembered for it
    warm = dataclasses.replace(reml_spec)
    py, _ = run_engine(kind.run_python, warm)
    kind.remember_python(warm, py)
    for (vi_a, X_a), (vi_b, X_b) in [(kind._fitted_design(warm), kind._fitted_design(cold))]:
        assert vi_a.tobytes() == vi_b.tobytes() and X_a.shape == X_b.shape and X_a.tobytes() == X_b.tobytes()
    for q in ("I2", "H2", "tau2", "yi[1]"):
        a, b = kind.tolerance(warm, q), kind.tolerance(cold, q)
        assert np.float64(a.atol).tobytes() == np.float64(b.atol).tobytes() and a.rtol == b.rtol, q
    assert kind.explain_context(warm) == kind.explain_context(cold)
    full = kind.explain_context(cold)
    assert kind.explain_context(cold, "R2") == full  # an entry covering R2 reads the refit's tau^2
    assert kind.explain_context(cold, "QE") == {k: v for k, v in full.items() if k != "tau2_re_over_threshold"}


def test_worst_is_the_first_of_the_largest_relative_difference():
    from harness.compare.compare import AnalysisComparison, Record

    rels = [None, math.nan, 2.0, 3.0, 3.0, 1.0]
    recs = [Record(f"q{i}", 1.0, 1.0, None if d is None else 0.0, d, CLOSED, "agree") for i, d in enumerate(rels)]
    assert AnalysisComparison("a", "rma", "f", recs).worst() is recs[3]
    assert AnalysisComparison("a", "rma", "f", recs[:2]).worst() is None
