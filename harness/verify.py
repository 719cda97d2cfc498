"""Run every analysis of some fixtures through both engines and compare.

:func:`verify` is what ``metaharness verify`` calls; it is also usable from
Python. The R engine is obtained once; if it cannot start, every analysis is
reported with an ``engine-error`` (never as agreement).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import resources
from .analyses import KINDS
from .analyses.base import Outcome, follow_engine
from .core.versions import VersionMismatch, conventions, follow
from .compare.compare import AnalysisComparison, compare_outcomes
from .errors import EngineUnavailable, HarnessError
from .reports.plotdata import plot_data
from .spec import discover, load_fixture

#: the bundled fixtures (package data: harness.fixtures, the repository's fixtures/)
FIXTURES = resources.fixtures()

SCHEMA_VERSION = 1


@dataclass
class VerifyRun:
    analyses: list[AnalysisComparison] = field(default_factory=list)
    engines: dict = field(default_factory=dict)
    r_unavailable: str | None = None
    #: crashes and timeouts of the R worker (each also recorded on its analysis)
    engine_faults: list = field(default_factory=list)
    #: the run was interrupted (Ctrl-C): the analyses listed are those that finished
    interrupted: bool = False
    #: the metafor release the Python side followed and why (:func:`python_conventions`)
    conventions: dict = field(default_factory=dict)

    @property
    def n_quantities(self):
        return sum(len(a.records) for a in self.analyses)

    def counts(self):
        c = {"agree": 0, "explained": 0, "differ": 0, "missing": 0, "engine-error": 0, "warning": 0}
        for a in self.analyses:
            for r in a.records:
                c[r.verdict] += 1
        return c

    @property
    def ok(self):
        return bool(self.analyses) and not self.interrupted and self.r_unavailable is None and all(a.ok for a in self.analyses)

    def to_dict(self):
        return {
            "schema": SCHEMA_VERSION,
            "engines": self.engines,
            "r_unavailable": self.r_unavailable,
            "engine_faults": list(self.engine_faults),
            "interrupted": self.interrupted,
            "conventions": self.conventions,
            "summary": {"analyses": len(self.analyses), "quantities": self.n_quantities, **self.counts()},
            "analyses": [a.to_dict() for a in self.analyses],
        }


def python_conventions(r_versions: dict | None) -> dict:
    """What the Python side follows in a run with an R engine of ``r_versions`` (None: no R).

    ``metafor``: the release; ``source``: "R engine" or "default"; ``supported``:
    one of the tested releases; ``behaviours``: each release-dependent behaviour
    and its value (:meth:`~harness.core.versions.Conventions.summary`). A spec
    may still name a release of its own (then ``source`` is per analysis, in
    its ``options``).
    """
    version, source = follow(None, (r_versions or {}).get("metafor"))
    conv = conventions(version)
    return {"metafor": version.text, "source": source, "supported": conv.supported, "behaviours": conv.summary()}


def python_versions() -> dict:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__

    out = {"python": platform.python_version(), "metaharness": __version__}
    for pkg in ("numpy", "scipy", "pandas", "rpy2", "rpy2-rinterface"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


#: numpy floating-point warnings that mean the numbers cannot be trusted
NUMERIC_WARNINGS = ("overflow",)


def run_engine(fn, *args) -> tuple[Outcome, float]:
    """Run one engine on one analysis; any exception becomes an error outcome.

    Nothing an engine does can stop the run: an exception is recorded on the
    analysis -- ``numerical breakdown: ...`` for singular matrices
    (``LinAlgError``), overflow and other floating-point failures, else the
    exception's type and message. numpy's *overflow* warnings (a number became
    infinite) are recorded as warnings of that engine, so the analysis cannot
    count as agreement.
    """
    import warnings

    import numpy as np

    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        try:
            out = fn(*args)
        except KeyboardInterrupt:
            raise
        except Exception as e:  # contained: one analysis, never the run
            if isinstance(e, (np.linalg.LinAlgError, FloatingPointError, ArithmeticError)):
                what = "numerical breakdown"
            elif isinstance(e, (HarnessError, ValueError, IndexError, KeyError, TypeError, RuntimeError)):
                what = type(e).__name__
            else:
                what = f"internal error ({type(e).__name__})"
            out = Outcome(error=f"{what}: {e}", info={"exception": type(e).__name__})
    numeric = []
    for w in caught:
        msg = str(w.message)
        if issubclass(w.category, RuntimeWarning) and any(t in msg for t in NUMERIC_WARNINGS):
            text = f"numerical breakdown: {msg}"
            if text not in numeric:
                numeric.append(text)
        elif not issubclass(w.category, RuntimeWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)  # not ours to judge: pass on
    if numeric:
        out.warnings = [*out.warnings, *numeric]
    return out, time.perf_counter() - t0


def condition_of(kind, spec) -> float | None:
    """The kind's condition number of the analysis's design (None when it has none or it cannot be formed)."""
    import numpy as np

    try:
        return kind.condition_number(spec)
    except (HarnessError, ValueError, ArithmeticError, np.linalg.LinAlgError):
        return None


def verify(paths=None, engine_factory: Callable | None = None, progress: Callable | None = None, r_side=None) -> VerifyRun:
    """Verify the analyses in ``paths`` (spec files or folders; default: bundled fixtures).

    ``r_side``: instead of running R, take R's outcomes from stored values, an object with
    ``outcome(spec) -> Outcome`` and ``versions() -> dict`` (:class:`harness.snapshot.StoredR`,
    ``verify --python-only``); no R is started.

    Raises :class:`~harness.errors.InputError` for any bad spec or data file
    before anything runs.
    """
    files = discover(paths or [FIXTURES])
    fixtures = [load_fixture(f) for f in files]  # all input errors surface here, before any run
    run = VerifyRun(engines={"python": python_versions()})
    engine = None
    if r_side is not None:
        run.engines["r"] = r_side.versions()
    else:
        if engine_factory is None:
            from .engines.r import get_engine as engine_factory
        try:
            engine = engine_factory()
            run.engines["r"] = engine.versions()
        except EngineUnavailable as e:
            run.r_unavailable = str(e)
    run.conventions = python_conventions(run.engines.get("r"))
    specs = [a for fx in fixtures for a in fx.analyses]
    faults_before = len(getattr(engine, "faults", []))
    try:
        for i, spec in enumerate(specs):
            kind = KINDS[spec.kind]
            try:
                # the Python side follows the R engine's metafor release (or the spec's, without R)
                spec = follow_engine(spec, run.engines.get("r"))
            except VersionMismatch as e:
                py, tpy = Outcome(error=f"version mismatch: {e}", info={"version_mismatch": True}), 0.0
                r, tr = Outcome(error="not run: version mismatch (see the Python side)", info={"version_mismatch": True}), 0.0
            else:
                py, tpy = run_engine(kind.run_python, spec)
                if r_side is not None:
                    r, tr = r_side.outcome(spec), 0.0
                elif engine is None:
                    r, tr = Outcome(error=f"R engine unavailable: {run.r_unavailable}"), 0.0
                else:
                    r, tr = run_engine(kind.run_r, spec, engine)
            cmp = compare_outcomes(kind, spec, py, r)
            cmp.seconds = {"python": tpy, "r": tr}
            cmp.condition = condition_of(kind, spec)
            cmp.plot = plot_data(kind.name, spec, cmp.records, py.info, r.info)
            run.analyses.append(cmp)
            if progress:
                progress(i + 1, len(specs), cmp)
    except KeyboardInterrupt:
        # keep what was computed: the caller reports and writes it
        run.interrupted = True
        import sys

        print(f"metaharness: interrupted after {len(run.analyses)} of {len(specs)} analyses; the report covers those", file=sys.stderr)
    if engine is not None:
        run.engine_faults = list(getattr(engine, "faults", []))[faults_before:]
    return run
