"""pytest plugin (entry point ``pytest11``): R-backed fixtures for any stats core.

Installed with the package; a project that installs metaharness gets it with
no configuration.

* ``--require-r``: tests that need R *fail* when R cannot start (our CI uses
  it); without the flag they are skipped with the reason in the summary
  (pytest's ``-ra`` shows it).
* ``r_engine`` (session): the embedded R with metafor/robumeta loaded.
* ``agreement``: compare a Python result with an R call or a stored snapshot,
  quantity by quantity, with per-quantity tolerances; a disagreement fails the
  test with the full discrepancy table (quantity, both values, difference,
  tolerance), not a bare ``assert a == b``::

      def test_reml(agreement):
          fit = mycore.rma(yi, vi, method="REML")
          ref = agreement.r("mh_rma", data={"yi": yi, "vi": vi}, measure="GEN", method="REML")
          agreement.check(fit, ref, tolerances={"tau2": 1e-8, "*": 1e-10})

  ``agreement.r`` starts R through ``r_engine`` (so the skip/fail rule of
  ``--require-r`` applies); ``agreement.snapshot(analysis_id)`` reads the R (or
  Python) values stored by ``metaharness snapshot`` instead.
* ``@pytest.mark.r``: marks a test as needing R; it gets ``r_engine``
  automatically. Every test whose fixtures include ``r_engine`` or
  ``agreement`` (directly or through other fixtures) gets the marker too, so
  ``pytest -m r`` selects every R-backed test, e.g. to run them against another
  R library (``R_LIBS=... pytest -m r``).
* A test *without* the marker that starts R anyway (an engine in-process, a
  ``metaharness`` subprocess, ``Rscript``) fails with "starts R but is not
  marked r", so no R-backed test escapes ``-m r``.
* ``--no-skip``: a skipped test fails the run (a run against an R stack must
  not quietly leave tests out).
* ``--expect-r metafor=5.0-1,robumeta=2.1,...``: before any test runs, the R
  engine is started and its versions (keys ``R``, ``metafor``, ``robumeta``,
  ``clubSandwich``, ``metadat``; also ``python``, ``rpy2`` and
  ``rpy2-rinterface`` for this process) are compared with these; any
  difference ends the run (exit status 4) with both sides, so a run says what
  it tested. A version with fewer components matches any release that starts
  with them (``python=3.13`` matches 3.13.5; ``metafor=4.8-0`` matches only 4.8-0).

Imports of rpy2 happen only when a test asks for R.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

import pytest

#: fixtures that make a test R-backed: it gets marker ``r`` (see the module docstring)
R_FIXTURES = ("r_engine", "agreement")


def pytest_addoption(parser):
    group = parser.getgroup("metaharness")
    group.addoption("--require-r", action="store_true", default=False, help="fail (instead of skip) tests that need R when R cannot run")
    group.addoption("--snapshot-dir", default=None, help="folder of `metaharness snapshot` files for the `agreement` fixture (default: ini `metaharness_snapshots`, else ./snapshots, else the bundled snapshots)")
    group.addoption("--expect-r", default=None, metavar="NAME=VERSION,...",
                    help="start R before the tests and end the run unless its versions are these, e.g. "
                         "metafor=5.0-1,robumeta=2.1,clubSandwich=0.6.0 (keys: R, metafor, robumeta, clubSandwich, metadat, python, rpy2, rpy2-rinterface)")
    group.addoption("--no-skip", action="store_true", default=False,
                    help="a skipped test fails the run (exit status 1), so that a run against an R stack cannot quietly leave tests out")
    parser.addini("metaharness_snapshots", "folder of `metaharness snapshot` files, relative to the rootdir", default="snapshots")


def pytest_configure(config):
    config.addinivalue_line("markers", "r: the test runs R (metafor/robumeta) for real; it gets the r_engine fixture")


@pytest.hookimpl(tryfirst=True)  # before pytest's own -m selection
def pytest_collection_modifyitems(config, items):
    for item in items:
        names = getattr(item, "fixturenames", ())
        if item.get_closest_marker("r") is None:
            if any(f in names for f in R_FIXTURES):
                item.add_marker("r")  # agreement alone asks for R lazily: no r_engine forced here
        elif "r_engine" not in names:
            item.fixturenames.append("r_engine")


# ---------------------------------------------------------------------------------------
# --expect-r: the run proves which R stack it tested

_EXPECT_KEYS = ("R", "metafor", "robumeta", "clubSandwich", "metadat", "python", "rpy2", "rpy2-rinterface")


def parse_expectation(spec: str) -> dict[str, str]:
    """``"metafor=5.0-1,robumeta=2.1"`` -> ``{"metafor": "5.0-1", "robumeta": "2.1"}``."""
    out = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        key, sep, val = part.partition("=")
        key, val = key.strip(), val.strip()
        if not sep or not val or key not in _EXPECT_KEYS:
            raise pytest.UsageError(f"--expect-r: {part!r} is not NAME=VERSION with NAME one of {', '.join(_EXPECT_KEYS)}")
        out[key] = val
    if not out:
        raise pytest.UsageError("--expect-r: no NAME=VERSION given")
    return out


def version_matches(expected: str, actual) -> bool:
    """Component by component (``.`` and ``-`` separate them, as in R's package_version);
    an expectation with fewer components matches any version that starts with them."""
    if actual is None:
        return False
    e, a = re.split(r"[.-]", expected), re.split(r"[.-]", str(actual))
    return a[: len(e)] == e


def stack_versions(engine) -> dict:
    """R's and the packages' versions from the engine, and this process's Python and rpy2."""
    from importlib import metadata

    found = dict(engine.versions())
    found["python"] = ".".join(map(str, sys.version_info[:3]))
    for dist in ("rpy2", "rpy2-rinterface"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = None
    return found


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    spec = session.config.getoption("--expect-r", None)
    if not spec:
        return
    want = parse_expectation(spec)
    from harness.engines.r import get_engine
    from harness.errors import EngineUnavailable

    try:
        found = stack_versions(get_engine())
    except EngineUnavailable as e:
        pytest.exit(f"--expect-r {spec}: R cannot start: {e}", returncode=pytest.ExitCode.USAGE_ERROR)
    session.config.stash[_FOUND] = found
    wrong = [f"{k}: expected {v}, found {found.get(k)}" for k, v in want.items() if not version_matches(v, found.get(k))]
    if wrong:
        pytest.exit(f"--expect-r: this is not the R stack the run claims to test ({'; '.join(wrong)}); "
                    f"R library paths: {_lib_paths()}", returncode=pytest.ExitCode.USAGE_ERROR)


_FOUND = pytest.StashKey[dict]()


def _lib_paths():
    return os.environ.get("R_LIBS") or "(R_LIBS not set: R's default library paths)"


def pytest_report_header(config):
    found = config.stash.get(_FOUND, None)
    if found is None:
        return None
    keys = [k for k in ("R", "metafor", "robumeta", "clubSandwich", "python", "rpy2", "rpy2-rinterface") if found.get(k)]
    return ["metaharness R stack (--expect-r checked): " + ", ".join(f"{k} {found[k]}" for k in keys),
            f"R_LIBS: {_lib_paths()}"]


# ---------------------------------------------------------------------------------------
# --no-skip

_SKIPPED = pytest.StashKey[list]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.skipped and not hasattr(report, "wasxfail") and item.config.getoption("--no-skip"):
        item.config.stash.setdefault(_SKIPPED, []).append(item.nodeid)
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    skipped = session.config.stash.get(_SKIPPED, [])
    if skipped and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    skipped = config.stash.get(_SKIPPED, [])
    if skipped:
        terminalreporter.write_line(f"--no-skip: {len(skipped)} test(s) skipped, which fails this run: " + ", ".join(skipped), red=True)


# ---------------------------------------------------------------------------------------
# no R-backed test escapes marker r: a test without it that starts R fails

_R_START_LOG = "METAHARNESS_TEST_R_START_LOG"


class _RGuard:
    """While a test without marker ``r`` runs: any R that starts (in this process through
    the engine, or in a child process: R reads ``R_PROFILE_USER`` at start-up) is recorded."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="metaharness-r-guard-"))
        self.profile = self.dir / "Rprofile"
        # R code of our own (no user string): append the process id to the file named by the variable
        self.profile.write_text(f'local({{f <- Sys.getenv("{_R_START_LOG}"); if (nzchar(f)) cat(Sys.getpid(), "\\n", file = f, append = TRUE)}})\n')
        self.log = self.dir / "starts"
        self.in_process: list[str] = []
        self._saved = None

    def arm(self):
        import harness.engines.r as r_mod
        import harness.engines.worker as w_mod

        self.in_process.clear()
        if self.log.exists():
            self.log.unlink()
        env = {"R_PROFILE_USER": str(self.profile), _R_START_LOG: str(self.log)}
        saved_env = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        guard = self

        def get_engine(*a, **k):
            guard.in_process.append("harness.engines.r.get_engine()")
            return orig_get(*a, **k)

        def ensure_started(engine, *a, **k):
            guard.in_process.append("WorkerEngine.start()")
            return orig_ensure(engine, *a, **k)

        orig_get, orig_ensure = r_mod.get_engine, w_mod.WorkerEngine._ensure_started
        r_mod.get_engine, w_mod.WorkerEngine._ensure_started = get_engine, ensure_started
        self._saved = (r_mod, w_mod, orig_get, orig_ensure, saved_env)

    def disarm(self) -> list[str]:
        r_mod, w_mod, orig_get, orig_ensure, saved_env = self._saved
        r_mod.get_engine, w_mod.WorkerEngine._ensure_started = orig_get, orig_ensure
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        starts = list(dict.fromkeys(self.in_process))
        if self.log.exists():
            n = len(self.log.read_text().split())
            if n:
                starts.append(f"R started in {n} child process(es)")
        return starts


_GUARD = pytest.StashKey[_RGuard]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if item.get_closest_marker("r") is None:
        guard = item.config.stash.get(_GUARD, None)
        if guard is None:
            guard = item.config.stash[_GUARD] = _RGuard()
        guard.arm()
        item.stash[_GUARD] = guard


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    result = yield
    guard = item.stash.get(_GUARD, None)
    if guard is not None:
        del item.stash[_GUARD]
        starts = guard.disarm()
        if starts:
            pytest.fail(f"{item.nodeid} starts R but is not marked r ({'; '.join(starts)}): mark it "
                        "@pytest.mark.r or use the r_engine fixture, so that `pytest -m r` runs it on every R stack",
                        pytrace=False)
    return result


def pytest_unconfigure(config):
    guard = config.stash.get(_GUARD, None)
    if guard is not None:
        import shutil

        shutil.rmtree(guard.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def r_engine(request):
    """The process-wide R engine (:func:`harness.engines.r.get_engine`), started once."""
    from harness.errors import EngineUnavailable

    try:
        from harness.engines.r import get_engine

        return get_engine()
    except EngineUnavailable as e:
        reason = str(e)
    # outside the except block, so that the report is the reason alone
    if request.config.getoption("--require-r"):
        pytest.fail(f"R engine required (--require-r) but unavailable: {reason}", pytrace=False)
    pytest.skip(f"R engine unavailable: {reason}")


# ---------------------------------------------------------------------------------------
# agreement


def flatten(obj, prefix="") -> dict[str, float]:
    """``name -> float`` from a result, a mapping of numbers/arrays, or an R call's value.

    Objects with ``quantities()`` (the harness's results) give those; numbers
    stay as they are; a length-1 vector becomes a scalar ``name``; longer
    vectors become ``name[1]``, ``name[2]`` ... (1-based, as R prints them);
    strings, booleans and ``None`` are left out.
    """
    if hasattr(obj, "quantities") and callable(obj.quantities):
        return {prefix + k: float(v) for k, v in obj.quantities().items()}
    if hasattr(obj, "values") and hasattr(obj, "error") and not isinstance(obj, dict):  # an RCall or an Outcome
        if obj.error is not None:
            raise AgreementError(f"the engine failed: {obj.error}")
        return flatten(obj.values if isinstance(obj.values, dict) else obj.value, prefix)
    out: dict[str, float] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict):
                out.update(flatten(v, f"{prefix}{k}."))
                continue
            vals = _numbers(v)
            if vals is None:
                continue
            if len(vals) == 1:
                out[prefix + str(k)] = vals[0]
            else:
                for i, x in enumerate(vals, start=1):
                    out[f"{prefix}{k}[{i}]"] = x
        return out
    raise TypeError(f"cannot compare a {type(obj).__name__}: give a mapping of numbers, a result with quantities(), or an R call")


def _numbers(v):
    import numpy as np

    if v is None or isinstance(v, (str, bool)):
        return None
    arr = np.asarray(v)
    if arr.dtype.kind not in "iuf":
        return None
    return [float(x) for x in arr.ravel()]


class AgreementError(Exception):
    """An engine failed where a value was expected."""


def _tolerance(spec):
    from harness.compare.tolerance import CLOSED, Tolerance

    if spec is None:
        return CLOSED
    if isinstance(spec, Tolerance):
        return spec
    if isinstance(spec, (int, float)):
        return Tolerance(float(spec), 0.0)
    if isinstance(spec, dict):
        return Tolerance(float(spec.get("rtol", 0.0)), float(spec.get("atol", 0.0)))
    if isinstance(spec, tuple) and len(spec) == 2:
        return Tolerance(float(spec[0]), float(spec[1]))
    raise TypeError(f"a tolerance is a Tolerance, an rtol number, (rtol, atol) or {{'rtol':..., 'atol':...}}, not {spec!r}")


def tolerance_for(name, tolerances, default):
    """Exact name, then the name without ``[...]``, then ``*``, then ``default``."""
    base = name.split("[", 1)[0]
    for key in (name, base, "*"):
        if tolerances and key in tolerances:
            return _tolerance(tolerances[key])
    return _tolerance(default)


def compare(python, reference, *, tolerances=None, default=None, names=None):
    """Records (:class:`harness.compare.compare.Record`) for every quantity of ``python``
    (or ``names``), compared with ``reference``; a quantity absent from the
    reference is ``missing``."""
    from harness.compare.compare import Record, compare_values

    py, ref = flatten(python), flatten(reference)
    keys = list(names) if names is not None else list(py)
    records = []
    for n in keys:
        tol = tolerance_for(n, tolerances, default)
        if n not in py or n not in ref:
            side = "Python" if n not in py else "the reference"
            records.append(Record(n, py.get(n), ref.get(n), None, None, tol, "missing", f"not reported by {side}"))
            continue
        records.append(compare_values(n, py[n], ref[n], tol))
    return records


def discrepancy_table(records, title="", reference="R") -> str:
    """The full table: every quantity, both values, the differences, the tolerance and the verdict."""
    from tabulate import tabulate

    from harness.reports.terminal import fmt

    bad = [r for r in records if r.verdict not in ("agree", "explained")]
    rows = []
    for r in sorted(records, key=lambda r: r.verdict in ("agree", "explained")):
        tol = "—" if r.tolerance is None else f"rtol {r.tolerance.rtol:.0e}, atol {r.tolerance.atol:.0e}"
        rows.append(("✗" if r in bad else " ", r.name, fmt(r.python, 17), fmt(r.r, 17), fmt(r.abs_diff, 3), fmt(r.rel_diff, 3), tol, r.verdict))
    head = f"{title}: " if title else ""
    lines = [f"{head}{len(bad)} of {len(records)} quantities disagree (Python vs {reference})",
             tabulate(rows, headers=["", "quantity", "Python", reference, "abs diff", "rel diff", "tolerance", "verdict"], disable_numparse=True)]
    for r in bad:
        if r.explanation:
            lines.append(f"  {r.name}: {r.explanation}")
    return "\n".join(lines)


def fail_with_table(records, title="", reference="R"):
    """Fail the current test with :func:`discrepancy_table` if any record disagrees."""
    __tracebackhide__ = True
    if any(r.verdict not in ("agree", "explained") for r in records):
        pytest.fail(discrepancy_table(records, title, reference), pytrace=True)


class Agreement:
    """What the ``agreement`` fixture gives a test (see the module docstring)."""

    def __init__(self, request):
        self._request = request
        self._snapshots = None

    # -- references ---------------------------------------------------------------------
    @property
    def engine(self):
        return self._request.getfixturevalue("r_engine")

    def r(self, fname, **kwargs):
        """Call ``fname`` (an ``mh_*`` engine function) in R; its value, or fail with R's error."""
        __tracebackhide__ = True
        call = self.engine.call(fname, **kwargs)
        if call.error is not None:
            pytest.fail(f"R call {fname} failed: {call.error}" + (f"\nR warnings: {call.warnings}" if call.warnings else ""), pytrace=False)
        return call.value

    def snapshot_dir(self) -> Path:
        """``--snapshot-dir``, else ini ``metaharness_snapshots``, else ``<rootdir>/snapshots`` when
        that folder exists, else the snapshots bundled with metaharness (:func:`harness.snapshot.default_dir`)."""
        from harness.snapshot import DEFAULT_DIR, default_dir

        cfg = self._request.config
        d = cfg.getoption("--snapshot-dir") or cfg.getini("metaharness_snapshots") or DEFAULT_DIR
        if d == DEFAULT_DIR:
            return default_dir(Path(cfg.rootpath))
        p = Path(d)
        return p if p.is_absolute() else Path(cfg.rootpath) / p

    def snapshot(self, analysis_id, engine="r", directory=None) -> dict[str, float]:
        """Values ``engine`` (``"r"`` or ``"python"``) gave for ``analysis_id`` when the snapshot was taken."""
        __tracebackhide__ = True
        from harness.snapshot import load_dir

        d = Path(directory) if directory else self.snapshot_dir()
        snaps = load_dir(d)
        for snap in snaps.values():
            a = snap["analyses"].get(analysis_id)
            if a is not None:
                side = a[engine]
                if side.get("error"):
                    pytest.fail(f"snapshot of {analysis_id}: {engine} failed then: {side['error']}", pytrace=False)
                return dict(side["values"])
        pytest.fail(f"analysis {analysis_id!r} is not in the snapshots in {d}", pytrace=False)

    # -- the check ----------------------------------------------------------------------
    def check(self, python, reference, *, tolerances=None, default=None, names=None, title="", reference_name="R"):
        """Compare and fail with the discrepancy table on any disagreement; returns the records.

        ``python``/``reference``: a result with ``quantities()``, a mapping of
        numbers or arrays (an R call's value), or an RCall/Outcome.
        ``tolerances``: quantity name (exact, base name without ``[...]``, or
        ``"*"``) -> a Tolerance, an rtol number, ``(rtol, atol)`` or a dict;
        ``default``: the tolerance of the rest (default CLOSED: rtol 1e-10,
        atol 1e-13). ``names``: compare only these quantities.
        """
        __tracebackhide__ = True
        try:
            records = compare(python, reference, tolerances=tolerances, default=default, names=names)
        except AgreementError as e:
            pytest.fail(f"{title + ': ' if title else ''}{e}", pytrace=False)
        fail_with_table(records, title or self._request.node.name, reference_name)
        return records

    __call__ = check


@pytest.fixture
def agreement(request):
    """Compare Python results with R (or a snapshot) and fail with the full discrepancy table."""
    return Agreement(request)

