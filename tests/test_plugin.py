"""The pytest plugin itself (pytester runs inner pytest sessions in a subprocess).

R is made unavailable in the inner sessions by their conftest (get_engine
raises EngineUnavailable), so these tests say what a user without R sees.
"""
import pytest

from harness.compare.tolerance import Tolerance

pytest_plugins = ("pytester",)

NO_R_CONFTEST = """
import harness.engines.r as r
from harness.errors import EngineUnavailable

def _no_r():
    raise EngineUnavailable("no R here (test)")

r.get_engine = _no_r
"""

R_TEST = """
import pytest

def test_needs_r(r_engine):
    assert r_engine is not None

@pytest.mark.r
def test_marked():
    pass

def test_agreement_r(agreement):
    agreement.r("mh_versions")
"""


@pytest.fixture
def no_r(pytester):
    pytester.makeconftest(NO_R_CONFTEST)
    pytester.makepyfile(test_inner=R_TEST)
    return pytester


def test_require_r_fails_without_r(no_r):
    res = no_r.runpytest_subprocess("--require-r", "-ra")
    # the r_engine fixture fails: an error in the set-up of tests that request it, a failure where
    # a test body asks for R (agreement.r)
    res.assert_outcomes(errors=2, failed=1)
    res.stdout.fnmatch_lines(["*R engine required (--require-r) but unavailable: no R here (test)*"])


def test_without_flag_r_tests_skip_with_reason_in_summary(no_r):
    res = no_r.runpytest_subprocess("-ra")
    res.assert_outcomes(skipped=3)
    res.stdout.fnmatch_lines(["*short test summary info*", "SKIPPED *R engine unavailable: no R here (test)*"])


FAILING = """
def test_numbers_differ(agreement):
    py = {"beta": 0.5, "se": 0.1, "tau2": 0.04}
    ref = {"beta": 0.5 + 1e-6, "se": [0.1], "tau2": 0.04, "k": 12}
    agreement.check(py, ref, tolerances={"tau2": 1e-8}, title="planted")
"""


def test_discrepancy_table_on_failure(pytester):
    pytester.makepyfile(test_fail=FAILING)
    res = pytester.runpytest_subprocess()
    res.assert_outcomes(failed=1)
    out = res.stdout.str()
    res.stdout.fnmatch_lines([
        "*planted: 1 of 3 quantities disagree (Python vs R)*",
        "*quantity*Python*R*abs diff*rel diff*tolerance*verdict*",
        "*✗*beta*0.5*0.50000100000000003*1e-06*rtol 1e-10, atol 1e-13*differ*",
    ])
    assert "tau2" in out and "rtol 1e-08, atol 0e+00" in out  # per-quantity tolerance shown
    # __tracebackhide__: the plugin's own frames are not in the traceback
    assert "def fail_with_table" not in out and "def check" not in out
    assert "agreement.check(py, ref" in out  # the test's own line is


def test_agreement_in_process_passes_and_returns_records(agreement):
    recs = agreement.check({"a": 1.0, "b": [1.0, 2.0]}, {"a": 1.0 + 5e-9, "b": [1.0, 2.0]}, tolerances={"a": 1e-8})
    assert [r.name for r in recs] == ["a", "b[1]", "b[2]"]
    assert all(r.verdict == "agree" for r in recs)


def test_missing_quantity_fails(pytester):
    pytester.makepyfile(test_missing="""
def test_missing(agreement):
    agreement.check({"beta": 1.0, "I2": 50.0}, {"beta": 1.0})
""")
    res = pytester.runpytest_subprocess()
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*I2*missing*", "*I2: not reported by the reference*"])


def test_tolerance_forms():
    from harness.pytest_plugin import tolerance_for

    tols = {"tau2": 1e-8, "se": (1e-9, 1e-12), "weights": {"rtol": 1e-7}, "*": Tolerance(1e-6, 0.0)}
    assert tolerance_for("tau2", tols, None) == Tolerance(1e-8, 0.0)
    assert tolerance_for("se", tols, None) == Tolerance(1e-9, 1e-12)
    assert tolerance_for("weights[3]", tols, None) == Tolerance(1e-7, 0.0)
    assert tolerance_for("beta", tols, None) == Tolerance(1e-6, 0.0)
    assert tolerance_for("beta", {}, None) == Tolerance(1e-10, 1e-13)  # CLOSED


def test_agreement_against_real_r(agreement):
    """The plugin's first user: the Python FE fit against metafor, by the agreement fixture."""
    import harness

    yi, vi = [0.1, 0.3, 0.5, -0.2], [0.01, 0.02, 0.03, 0.05]
    ref = agreement.r("mh_rma", data={"yi": yi, "vi": vi}, measure="GEN", method="FE")
    fit = harness.rma(yi, vi, method="FE")
    agreement.check({n: getattr(fit, n) for n in ("beta", "se", "zval", "pval", "ci_lb", "ci_ub", "QE", "QEp", "I2", "H2")}, ref)


# ---------------------------------------------------------------------------------------
# marker r selects every R-backed test; none escapes it; --expect-r


SELECTION = """
import subprocess
import pytest

@pytest.fixture
def engine_user(r_engine):
    return r_engine

def test_direct(r_engine):
    pass

def test_through_fixture(engine_user):
    pass

def test_agreement(agreement):
    pass

@pytest.mark.r
def test_marked():
    pass

def test_python_only():
    pass
"""


def test_marker_r_selects_every_r_backed_test(no_r):
    no_r.makepyfile(test_inner=SELECTION)
    res = no_r.runpytest_subprocess("--collect-only", "-q", "-m", "r")
    res.stdout.fnmatch_lines(["*4/5 tests collected (1 deselected)*"])
    selected = {ln.split("::")[-1] for ln in res.stdout.lines if "::" in ln}
    assert selected == {"test_direct", "test_through_fixture", "test_agreement", "test_marked"}


ESCAPES = """
import subprocess

def test_starts_rscript():
    subprocess.run(["Rscript", "--no-echo", "-e", "invisible(1)"], check=True)

def test_starts_the_engine():
    from harness.engines.worker import WorkerEngine
    WorkerEngine().start().close()

def test_python_only():
    pass
"""


@pytest.mark.r  # the inner tests start R for real
@pytest.mark.r_bridge
def test_a_test_that_starts_r_without_the_marker_fails(pytester):
    pytester.makepyfile(test_inner=ESCAPES)
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    res.assert_outcomes(passed=3, errors=2)
    res.stdout.fnmatch_lines([
        "*test_starts_rscript starts R but is not marked r (R started in 1 child process(es))*",
        "*test_starts_the_engine starts R but is not marked r (WorkerEngine.start(); R started in*",
    ])


@pytest.mark.r
@pytest.mark.r_bridge
def test_expect_r_checks_the_engines_versions(pytester, r_engine):
    v = r_engine.versions()
    pytester.makepyfile(test_inner="def test_nothing():\n    pass\n")
    ok = pytester.runpytest_subprocess("--expect-r", f"R={v['R']},metafor={v['metafor']},robumeta={v['robumeta']}")
    ok.assert_outcomes(passed=1)
    ok.stdout.fnmatch_lines([f"metaharness R stack (--expect-r checked): R {v['R']}, metafor {v['metafor']}, robumeta {v['robumeta']}*"])
    bad = pytester.runpytest_subprocess("--expect-r", f"metafor=0.1-0,robumeta={v['robumeta']}")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stdout.fnmatch_lines([f"*this is not the R stack the run claims to test (metafor: expected 0.1-0, found {v['metafor']})*"])
    assert "passed" not in bad.stdout.str()  # no test ran


def test_expect_r_without_r_ends_the_run(no_r):
    res = no_r.runpytest_subprocess("--expect-r", "metafor=5.0-1")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stdout.fnmatch_lines(["*--expect-r metafor=5.0-1: R cannot start: no R here (test)*"])


def test_version_matching():
    from harness.pytest_plugin import parse_expectation, version_matches

    assert version_matches("4.8-0", "4.8-0") and version_matches("4.8-0", "4.8.0")  # package_version's equivalence
    assert not version_matches("4.8-0", "4.8-1") and not version_matches("2.0", "2.1")
    assert version_matches("3.13", "3.13.5") and not version_matches("3.13", "3.1")
    assert version_matches("2.0", "2.0-3") and not version_matches("2.0-3", "2.0")
    assert not version_matches("0.6.0", None)
    assert parse_expectation(" metafor=5.0-1, robumeta=2.1 ,") == {"metafor": "5.0-1", "robumeta": "2.1"}
    for bad in ("metafor", "metafor=", "meta4=1.0", ""):
        with pytest.raises(pytest.UsageError):
            parse_expectation(bad)


def test_no_skip_fails_a_run_that_skipped_a_test(pytester):
    pytester.makepyfile(test_inner="""
import pytest

def test_runs():
    pass

def test_skips():
    pytest.skip("samples not here")

@pytest.mark.xfail(reason="known")
def test_xfails():
    assert False
""")
    assert pytester.runpytest_subprocess().ret == pytest.ExitCode.OK
    res = pytester.runpytest_subprocess("--no-skip")
    assert res.ret == pytest.ExitCode.TESTS_FAILED
    res.stdout.fnmatch_lines(["*--no-skip: 1 test(s) skipped, which fails this run: test_inner.py::test_skips*"])
