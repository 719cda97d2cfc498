"""Run many analyses through both engines, with R work batched.

Any analysis kind works unchanged: its ``run_r(spec, engine)`` is first run
against a *recording* engine that notes the ``engine.call(...)`` it makes and
stops; the noted calls of a whole chunk of analyses go to R in **one** bridge
crossing (``mh_fuzz_batch`` in ``r_scripts/fuzz.R``, which loops over them
in R and returns each call's value, warnings and error); then ``run_r`` is run
again against a *replaying* engine that hands back those results. A kind that
makes several R calls per analysis simply takes several rounds. So a chunk of
hundreds of fits costs one crossing, and the campaign's speed is set by R's
own computing (R times itself: :attr:`BatchStats.r_seconds`).
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..analyses.base import Outcome
from ..data import Dataset
from ..engines.r import RCall
from ..spec import AnalysisSpec, check_value
from ..verify import run_engine
from .generate import FuzzDataset


def cell(x) -> str:
    """A number as CSV text that reads back to the same double (``%.17g``)."""
    return format(float(x), ".17g")


class ArrayDataset(Dataset):
    """A generated dataset as a :class:`~harness.data.Dataset` that keeps its numbers.

    A fixture's cells are text and are checked on the way out; a campaign's are
    doubles, so formatting each as ``%.17g`` and parsing it back (what a fixture
    would hold: the same doubles) cost more than some fits. ``numeric`` checks the
    array as :meth:`Dataset.numeric` checks cells and returns it; anything that
    check would reject goes through the text path, so the error is the same one.
    """

    @functools.cached_property
    def _arrays(self) -> dict:
        """The columns as float arrays, converted once (a dataset is read by every model of a chunk)."""
        return {c: self.frame[c].to_numpy(dtype=float) for c in self.frame.columns}

    def require(self, column, what="a column"):
        if column not in self._arrays:
            super().require(column, what)

    def _text_frame(self):
        return pd.DataFrame({c: [cell(x) for x in self.frame[c]] for c in self.frame.columns}, index=self.frame.index, dtype=object)

    def numeric(self, column, *, lower=None, lower_inclusive=True, **kw):
        self.require(column)
        x = self._arrays[column]
        ok = np.isfinite(x).all()
        if ok and lower is not None:
            ok = bool((x > lower).all() if not lower_inclusive else (x >= lower).all())
        if ok:
            return x.copy()
        # every other keyword (what, why, allow_empty, ...) only shapes the text path's error
        return Dataset(self.name, self.path, self._text_frame()).numeric(column, lower=lower, lower_inclusive=lower_inclusive, **kw)

    def text(self, column, what=None):
        self.require(column)
        x = self._arrays[column]
        if what is not None and not np.isfinite(x).all():  # a missing cell: the text path's error, word for word
            return Dataset(self.name, self.path, self._text_frame()).text(column, what=what)
        return [cell(v) for v in x]

    def labels(self, column):
        if column is None:
            return super().labels(None)
        return Dataset(self.name, self.path, self._text_frame()).labels(column)


def to_dataset(ds: FuzzDataset, name: str) -> Dataset:
    """``ds`` as an :class:`ArrayDataset` whose column arrays are ``ds``'s, as floats.

    They are what :attr:`ArrayDataset._arrays` would read back from the frame (the same doubles),
    given at once: reading a column out of a DataFrame costs more than some fits' checks. The
    frame is built from one 2-D array (one block, as pandas would consolidate the columns)."""
    arrays = {c: np.array(v, dtype=float) for c, v in ds.columns.items()}
    out = ArrayDataset(name, Path(f"<{name}>"), pd.DataFrame(np.column_stack(list(arrays.values())), columns=list(arrays)))
    out.__dict__["_arrays"] = arrays  # where functools.cached_property keeps _arrays
    return out


def make_spec(ds: FuzzDataset, model, aid: str, dataset: Dataset | None = None) -> AnalysisSpec:
    """The analysis ``model`` on ``ds`` as a validated spec (as a fixture would give it)."""
    kind = model.kind_obj()
    dataset = dataset or to_dataset(ds, aid)
    path = dataset.path
    opts = {}
    for key, ks in kind.keys.items():
        if key in model.options:
            opts[key] = check_value(path, f"analysis {aid}", key, model.options[key], ks)
        elif ks.default is not None:
            opts[key] = ks.default
    spec = AnalysisSpec(aid, kind.name, opts, {}, path, dataset, None, "metaharness fuzz")
    if model.tolerances:
        tols = {q: kind.tolerance_from_override(spec, q, rt, at) for q, (rt, at) in model.tolerances.items()}
        spec = AnalysisSpec(aid, kind.name, opts, tols, path, dataset, None, "metaharness fuzz")
    kind.check(spec)
    return spec


class _Deferred(BaseException):
    """Raised by the recording engine to stop ``run_r`` at a call not yet made.

    A BaseException so that a kind's own ``except Exception`` cannot swallow it.
    """


class _RecordingEngine:
    """Replays the R results known so far, records the next call and stops."""

    def __init__(self, real, known):
        self.real, self.known, self.calls = real, known, []

    def call(self, fname, **kwargs):
        i = len(self.calls)
        self.calls.append((fname, kwargs))
        if i < len(self.known):
            return self.known[i]
        raise _Deferred

    def versions(self):
        return self.real.versions()

    def __getattr__(self, name):  # anything else a kind may ask of the engine
        return getattr(self.real, name)


@dataclass
class BatchStats:
    crossings: int = 0
    r_calls: int = 0
    r_seconds: float = 0.0  # R's own computing, timed inside R
    bridge_seconds: float = 0.0  # wall time of the crossings (includes r_seconds)
    python_seconds: float = 0.0


#: seconds one call in a batch may take in R (setTimeLimit in mh_fuzz_batch); the environment's
#: ``METAHARNESS_FUZZ_CALL_TIMEOUT`` overrides it (a saturated machine: metafor's REML at k = 344
#: then needs more than a minute, and the limit, a guard against hangs, would decide the record)
PER_CALL_SECONDS = 60.0


def per_call_seconds() -> float:
    from ..engines.worker import _env_float

    return _env_float("METAHARNESS_FUZZ_CALL_TIMEOUT", PER_CALL_SECONDS)


def r_batch(engine, calls, stats: BatchStats | None = None) -> list[RCall]:
    """Make ``calls`` ([(fname, kwargs)]) in R with one crossing; one :class:`RCall` each.

    Each call is bounded in R (:func:`per_call_seconds`); the engine's own
    per-call timeout (R worker process) is raised for the batch to cover them all.
    """
    if not calls:
        return []
    payload = {str(i + 1): {"fname": f, "args": kw} for i, (f, kw) in enumerate(calls)}
    t0 = time.perf_counter()
    saved = getattr(engine, "timeout", None)
    per_call = per_call_seconds()
    try:
        if saved is not None:
            engine.timeout = max(saved, per_call * len(calls) + 60.0)
        res = engine.call("mh_fuzz_batch", calls=payload, per_call=per_call)
    finally:
        if saved is not None:
            engine.timeout = saved
    if stats is not None:
        stats.crossings += 1
        stats.r_calls += len(calls)
        stats.bridge_seconds += time.perf_counter() - t0
    if getattr(res, "fault", None) == "unavailable":
        # R could not be (re)started: no analysis ran, so none has an outcome to record; the
        # campaign's task fails and is retried (elsewhere), instead of storing R "errors"
        from ..errors import EngineUnavailable

        raise EngineUnavailable(res.error)
    if res.error is not None:  # the batch itself failed (not one call in it): every call gets the message
        return [RCall(None, list(res.warnings), f"batch failed: {res.error}") for _ in calls]
    if stats is not None:
        stats.r_seconds += float(res.value["seconds"][0])
    out = []
    items = res.value["results"]
    items = list(items.values()) if isinstance(items, dict) else list(items)
    for item in items:
        warnings = list(item.get("warnings") or [])
        if not item["ok"][0]:
            out.append(RCall(None, warnings, str(item["error"][0]).strip()))
        else:
            out.append(RCall(item.get("value"), warnings, None))
    return out


def run_r_batched(jobs, engine, stats: BatchStats | None = None) -> list[Outcome]:
    """``kind.run_r(spec, engine)`` for every (kind, spec) in ``jobs``, R calls batched per round."""
    n = len(jobs)
    known: list[list[RCall]] = [[] for _ in range(n)]
    results: list[Outcome | None] = [None] * n
    pending = list(range(n))
    rounds = 0
    while pending:
        rounds += 1
        calls, waiting = [], []
        for j in pending:
            kind, spec = jobs[j]
            rec = _RecordingEngine(engine, known[j])
            try:
                results[j], _ = run_engine(kind.run_r, spec, rec)
            except _Deferred:
                calls.append(rec.calls[-1])
                waiting.append(j)
        if rounds > 50:  # a kind that keeps calling R: report it instead of looping
            for j in waiting:
                results[j] = Outcome(error="fuzz: more than 50 rounds of R calls for one analysis")
            break
        for j, rc in zip(waiting, r_batch(engine, calls, stats)):
            known[j].append(rc)
        pending = waiting
    return results  # type: ignore[return-value]


#: seconds one Python analysis may take before it is reported as a hang
PYTHON_SECONDS = 30.0


class PythonTimeout(RuntimeError):
    pass


def _alarm(signum, frame):
    raise PythonTimeout(f"the Python core did not return within {PYTHON_SECONDS:g} s (a hang)")


def _async_raise_after(seconds, thread_id):
    """Off the main thread (a Dask worker's task thread): raise PythonTimeout in that thread
    after ``seconds`` (``PyThreadState_SetAsyncExc``; it lands at the next bytecode, so a
    Python loop that hangs is stopped, one long C call is not). Returns the timer."""
    import ctypes
    import threading

    def fire():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(PythonTimeout))

    t = threading.Timer(seconds, fire)
    t.daemon = True
    t.start()
    return t


def run_python_all(jobs, stats: BatchStats | None = None) -> list[Outcome]:
    """``kind.run_python(spec)`` for each job; one that hangs becomes an error outcome.

    The time limit uses SIGALRM in a process's main thread (the command line),
    and an asynchronous exception elsewhere (a Dask worker runs tasks in a thread).
    """
    import signal
    import threading

    main = threading.current_thread() is threading.main_thread()
    guard = hasattr(signal, "setitimer") and main
    out = []
    t0 = time.perf_counter()
    old = signal.signal(signal.SIGALRM, _alarm) if guard else None
    try:
        for kind, spec in jobs:
            timer = None
            if guard:
                signal.setitimer(signal.ITIMER_REAL, PYTHON_SECONDS)
            elif not main:
                timer = _async_raise_after(PYTHON_SECONDS, threading.get_ident())
            try:
                try:
                    o, _ = run_engine(kind.run_python, spec)
                finally:
                    if guard:
                        signal.setitimer(signal.ITIMER_REAL, 0)
                    if timer is not None:
                        timer.cancel()
                        timer.join()
            except PythonTimeout as e:  # raised asynchronously outside run_engine's own handler
                o = Outcome(error=f"internal error (PythonTimeout): {e}")
            out.append(o)
    finally:
        if guard:
            signal.signal(signal.SIGALRM, old)
    if stats is not None:
        stats.python_seconds += time.perf_counter() - t0
    return out
