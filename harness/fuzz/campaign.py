"""A differential-testing campaign: random datasets, every model, both engines.

:func:`run_campaign` draws ``n`` datasets (deterministic for ``seed``), runs
each requested :class:`~harness.fuzz.models.FuzzModel` through the Python
core and through R (batched, one bridge crossing per chunk and round), and
compares them quantity by quantity with the kind's own tolerances
(:func:`harness.compare.compare.compare_outcomes`).

Each analysis ends in one of:

``agree``
    every quantity within tolerance (or undefined on both sides, or both
    engines report non-convergence).
``both-refused``
    both engines raised an error (say k = 1 with two moderators): counted and
    listed with both messages, not a disagreement and not agreement.
``disagree``
    a quantity beyond tolerance (``differ``), reported by one side only
    (``missing``), an error on one side only (``python-error`` / ``r-error``),
    or a warning on one side only (``warning``). Disagreements are grouped
    into classes (model, category, what differs); the first
    ``max_per_class`` of each class are shrunk (:mod:`.shrink`) and written
    as fixtures (:mod:`.reproducer`).
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Callable

from ..compare.compare import OK_VERDICTS, compare_outcomes
from ..errors import InputError
from ..analyses.base import follow_engine
from .batch import BatchStats, make_spec, run_python_all, run_r_batched, to_dataset
from .generate import FuzzDataset, dataset
from .reproducer import slug, write_fixture
from .shrink import shrink


#: relative differences are tracked where |R| >= TINY; below that a value is
#: zero up to rounding and the tolerance's atol governs (max_abs covers it)
TINY = 1e-8


@dataclass
class QuantityStat:
    """Largest differences of one base quantity of one model (folded from the store)."""

    n: int = 0
    max_abs: float = 0.0
    max_rel: float = 0.0
    worst: tuple | None = None  # (dataset index, python, r) of the largest rel diff where |R| >= TINY

    def fold(self, n, max_abs, max_rel, worst):
        """Add a chunk's figures; a tie keeps the earlier dataset (results do not depend on the layout)."""
        self.n += n
        self.max_abs = max(self.max_abs, max_abs)
        if worst is not None and (self.worst is None or max_rel > self.max_rel):
            self.max_rel, self.worst = max_rel, worst


@dataclass
class Disagreement:
    model: str
    index: int
    category: str
    detail: str
    k: int
    message: str
    worst: tuple | None = None  # (quantity, python, r, rel diff)
    reproducer: str | None = None
    shrunk_k: int | None = None
    r_warnings: tuple = ()  # R's warnings on this analysis (context for the explanation)

    @property
    def signature(self):
        return (self.model, self.category, self.detail)


@dataclass
class CampaignResult:
    """A campaign's figures, built from its store (:func:`summarize`)."""

    seed: int
    n: int
    models: list[str]
    seconds: float = 0.0
    analyses: dict = field(default_factory=dict)  # model -> number run
    agree: dict = field(default_factory=dict)
    explained: dict = field(default_factory=dict)  # model -> analyses whose differences are all explained
    nonconverged: dict = field(default_factory=dict)  # both engines: did not converge
    refused: dict = field(default_factory=dict)  # model -> number where each side raised an error
    skipped: dict = field(default_factory=dict)  # model -> number rejected as input
    #: model -> the first few (index, message(s)) of each, in dataset order
    refused_examples: dict = field(default_factory=dict)
    skipped_examples: dict = field(default_factory=dict)
    quantities: dict = field(default_factory=dict)  # model -> base quantity -> QuantityStat
    #: (model, registry entries) -> [number of analyses, first dataset]
    explained_classes: dict = field(default_factory=dict)
    disagreements: list[Disagreement] = field(default_factory=list)
    batch: BatchStats = field(default_factory=BatchStats)
    engines: dict = field(default_factory=dict)
    store: str | None = None
    layout: str = "1 process"
    #: datasets of this run taken from the store (finished before: --resume)
    resumed: int = 0
    #: chunks whose task failed after every retry: (first dataset, error); not in the store, re-run by --resume
    failed: list = field(default_factory=list)
    #: process-seconds of the tasks (sum over workers; R's time is part of it)
    task_seconds: float = 0.0
    #: worker processes the run had at its end (1: this process, no cluster)
    workers: int = 1

    def __post_init__(self):
        for m in self.models:
            for d in (self.analyses, self.agree, self.explained, self.nonconverged, self.refused, self.skipped):
                d.setdefault(m, 0)
            for d in (self.refused_examples, self.skipped_examples):
                d.setdefault(m, [])
            self.quantities.setdefault(m, {})

    @property
    def n_compared(self) -> int:
        return sum(s.n for q in self.quantities.values() for s in q.values())

    def classes(self) -> dict:
        out: dict = {}
        for d in self.disagreements:
            out.setdefault(d.signature, []).append(d)
        return out

    def largest_rel(self, model):
        q = self.quantities.get(model, {})
        best = max(q.items(), key=lambda kv: kv[1].max_rel, default=None)
        return (best[0], best[1]) if best else (None, None)

    @property
    def ok(self) -> bool:
        return not self.disagreements and not self.failed

    def time_budget(self) -> dict | None:
        """Where this run's worker time went, in seconds and as percent of R's own computing.

        The capacity is ``workers`` x wall time; R times itself inside each batched
        crossing (``r_seconds``). Everything else is the harness's: the Python core,
        the bridge beyond R's time, the rest of each task (specs, comparison,
        records) and what lies outside the tasks (scheduling, result transfer, the
        store, idle workers at the end). ``None`` when R computed nothing (a resumed
        campaign with nothing left, or every chunk failed).
        """
        b = self.batch
        if not b.r_seconds or not self.seconds:
            return None
        capacity = self.workers * self.seconds
        parts = {
            "python_core": b.python_seconds,
            "bridge": b.bridge_seconds - b.r_seconds,
            "rest_in_tasks": self.task_seconds - b.bridge_seconds - b.python_seconds,
            "outside_tasks": capacity - self.task_seconds,
        }
        out = {"workers": self.workers, "capacity_seconds": capacity, "r_seconds": b.r_seconds, "outside_r_seconds": capacity - b.r_seconds,
               "outside_r_percent": 100 * (capacity - b.r_seconds) / b.r_seconds}
        for name, secs in parts.items():
            out[name + "_seconds"] = secs
            out[name + "_percent"] = 100 * secs / b.r_seconds
        return out

    def to_dict(self) -> dict:
        def num(x):
            if x is None:
                return None
            x = float(x)
            return None if math.isnan(x) else ("inf" if x == math.inf else ("-inf" if x == -math.inf else x))

        return {
            "seed": self.seed,
            "n": self.n,
            "models": self.models,
            "seconds": self.seconds,
            "datasets_per_second": (self.n - self.resumed) / self.seconds if self.seconds else None,
            "layout": self.layout,
            "store": self.store,
            "resumed_datasets": self.resumed,
            "failed_chunks": [{"first_dataset": s, "error": e} for s, e in self.failed],
            "engines": self.engines,
            "r": {"crossings": self.batch.crossings, "calls": self.batch.r_calls, "r_seconds": self.batch.r_seconds,
                  "bridge_seconds": self.batch.bridge_seconds, "python_seconds": self.batch.python_seconds,
                  "task_seconds": self.task_seconds},
            "time_budget": self.time_budget(),
            "quantities_compared": self.n_compared,
            "per_model": {
                m: {
                    "analyses": self.analyses[m],
                    "agree": self.agree[m],
                    "explained": self.explained[m],
                    "both_nonconverged": self.nonconverged[m],
                    "both_refused": self.refused[m],
                    "skipped": self.skipped[m],
                    "disagreements": sum(1 for d in self.disagreements if d.model == m),
                    "quantities": {q: {"n": s.n, "max_abs_diff": num(s.max_abs), "max_rel_diff": num(s.max_rel),
                                       "worst_dataset": s.worst[0] if s.worst else None} for q, s in self.quantities[m].items()},
                }
                for m in self.models
            },
            "explained": [{"model": m, "entries": e, "analyses": c[0], "first_dataset": c[1]} for (m, e), c in self.explained_classes.items()],
            "refused_examples": {m: [{"dataset": i, "python": a, "r": b} for i, a, b in v] for m, v in self.refused_examples.items()},
            "disagreements": [
                {"model": d.model, "dataset": d.index, "category": d.category, "detail": d.detail, "k": d.k, "message": d.message,
                 "worst": None if d.worst is None else [d.worst[0], num(d.worst[1]), num(d.worst[2]), num(d.worst[3])],
                 "reproducer": d.reproducer, "shrunk_k": d.shrunk_k, "r_warnings": list(d.r_warnings)}
                for d in self.disagreements
            ],
        }


def _norm(msg: str | None) -> str:
    """An error/warning message with its numbers blanked (``<n>``), to group alike ones.

    Only free-standing numbers are blanked: ``tau^2``, ``I2`` or ``x1`` keep their digits.
    """
    if not msg:
        return ""
    s = " ".join(msg.strip().split())
    s = re.sub(r"(?<![\w^.\[])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w\]])", "<n>", s)
    return s if len(s) <= 160 else s[:159].rsplit(" ", 1)[0] + " …"


def _skip_reason(e: InputError) -> str:
    """An input error without the file and analysis prefix (the dataset and model are named beside it)."""
    return re.sub(r"^analysis \S+: ", "", str(e.reason))


def classify(cmp, py, r):
    """(status, category, detail, message, names of the quantities that disagree) of one compared analysis.

    status is ``agree``, ``explained`` (every difference, or a one-sided error,
    explained by the registry: never counted as agreement), ``nonconverged``,
    ``refused`` or ``disagree``.
    """
    if py.info.get("nonconvergence") and r.info.get("nonconvergence"):
        return "nonconverged", "", "", "", set()
    if py.error is not None and r.error is not None:
        return "refused", "", "", f"Python: {py.error} | R: {r.error}", set()
    verdict = cmp.verdict
    if verdict == "explained":
        ex = [x for x in cmp.records if x.verdict == "explained"]
        ids = sorted({(x.explanation or "").split(":", 1)[0] for x in ex})
        return "explained", "", ", ".join(ids), "; ".join(f"{x.name}: {x.explanation}" for x in ex[:2]), set()
    if py.error is not None:
        return "disagree", "python-error", _norm(py.error), f"Python failed, R gave numbers. Python: {py.error}", set()
    if r.error is not None:
        return "disagree", "r-error", _norm(r.error), f"R failed, Python gave numbers. R: {r.error}", set()
    if verdict in OK_VERDICTS:
        return "agree", "", "", "", set()
    bad = [x for x in cmp.records if x.verdict not in OK_VERDICTS]
    cats = {x.verdict for x in bad}
    for cat in ("differ", "missing", "warning"):
        if cat in cats:
            recs = [x for x in bad if x.verdict == cat]
            if cat == "warning":
                detail = _norm(recs[0].explanation)
            else:  # the class is named by the quantity that differs most
                w = max(recs, key=lambda x: -1.0 if x.rel_diff is None or math.isnan(x.rel_diff) else x.rel_diff)
                detail = w.name.split("[", 1)[0]
            msg = "; ".join(f"{x.name}: Python {x.python!r} vs R {x.r!r}" + (f" ({x.explanation})" if x.explanation else "") for x in recs[:4])
            return "disagree", cat, detail, msg, {x.name.split("[", 1)[0] for x in recs}
    return "disagree", verdict, "", "", set()


def _worst(cmp):
    w = cmp.worst()
    return None if w is None else (w.name, w.python, w.r, w.rel_diff)


class Runner:
    """Runs (dataset, model) pairs in batches through both engines."""

    def __init__(self, engine, seed, stats: BatchStats):
        self.engine, self.seed, self.stats = engine, seed, stats

    def aid(self, model, ds):
        return f"fuzz-{slug(model.name)}-s{self.seed}-d{ds.index}"

    def run(self, pairs):
        """[(dataset, model)] -> [(spec or None, py, r, cmp or None, skip reason)]."""
        jobs, where, out = [], [], [None] * len(pairs)
        cache = {}
        for j, (ds, model) in enumerate(pairs):
            aid = self.aid(model, ds)
            try:
                key = id(ds)
                if key not in cache:
                    cache[key] = to_dataset(ds, f"fuzz-s{self.seed}-d{ds.index}-{ds.family}")
                spec = make_spec(ds, model, aid, cache[key])
                spec = follow_engine(spec, self.engine.versions())  # Python at the R engine's metafor release
            except InputError as e:
                out[j] = (None, None, None, None, _skip_reason(e))
                continue
            jobs.append((model.kind_obj(), spec))
            where.append(j)
        pys = run_python_all(jobs, self.stats)
        rs = run_r_batched(jobs, self.engine, self.stats)
        for j, (kind, spec), py, r in zip(where, jobs, pys, rs):
            out[j] = (spec, py, r, compare_outcomes(kind, spec, py, r), None)
        return out


def _opt(x):
    return None if x is None else float(x)


#: the record fields stored per quantity (operator.attrgetter: the columns are read at C speed)
_NAME, _VERDICT, _EXPLANATION = attrgetter("name"), attrgetter("verdict"), attrgetter("explanation")
_NUMBERS = tuple((col, attrgetter(col)) for col in ("python", "r", "abs_diff", "rel_diff"))


def run_chunk(seed, models, start, stop, engine):
    """Datasets ``start .. stop-1`` through every model: (records table, analyses table, BatchStats).

    A pure function of (seed, models, indices) and the two engines: the tables do
    not depend on where, in which order or next to which other chunks it runs.
    """
    from .store import ANALYSIS_SCHEMA, RECORD_SCHEMA, table

    stats = BatchStats()
    runner = Runner(engine, seed, stats)
    families = sorted({m.family for m in models})
    pairs = []
    for i in range(start, stop):
        dss = {f: dataset(seed, i, f) for f in families}
        for m in models:
            if dss[m.family].n_studies >= m.min_k:
                pairs.append((dss[m.family], m))
    rec = {f: [] for f in RECORD_SCHEMA.names}
    ana = {f: [] for f in ANALYSIS_SCHEMA.names}
    for (ds, m), (spec, py, r, cmp, skip) in zip(pairs, runner.run(pairs)):
        row = {"seed": seed, "dataset": ds.index, "family": ds.family, "model": m.name, "k": ds.k, "n_studies": ds.n_studies,
               "category": None, "detail": None, "message": None, "python_error": None, "r_error": None, "r_warnings": [],
               "worst": None, "worst_python": None, "worst_r": None, "worst_rel": None}
        if skip is not None:
            row.update(status="skipped", message=skip)
        else:
            n = len(cmp.records)
            rec["seed"] += [seed] * n
            rec["dataset"] += [ds.index] * n
            rec["family"] += [ds.family] * n
            rec["model"] += [m.name] * n
            xs = cmp.records
            names = list(map(_NAME, xs))
            rec["quantity"] += names
            rec["base"] += [q.split("[", 1)[0] for q in names]
            for col, get in _NUMBERS:
                rec[col] += [None if v is None else float(v) for v in map(get, xs)]
            rec["verdict"] += map(_VERDICT, xs)
            rec["explanation"] += map(_EXPLANATION, xs)
            status, cat, detail, msg, _ = classify(cmp, py, r)
            w = _worst(cmp)
            row.update(status=status, category=cat or None, detail=detail or None, message=msg or None, python_error=py.error,
                       r_error=r.error, r_warnings=list(r.warnings))
            if w is not None:
                row.update(worst=w[0], worst_python=_opt(w[1]), worst_r=_opt(w[2]), worst_rel=_opt(w[3]))
        for f in ANALYSIS_SCHEMA.names:
            ana[f].append(row[f])
    return table(rec, RECORD_SCHEMA), table(ana, ANALYSIS_SCHEMA), stats


@dataclass(frozen=True)
class ChunkJob:
    """One task of a campaign: datasets ``start .. stop-1`` of ``seed`` through ``models``."""

    seed: int
    models: tuple
    start: int
    stop: int


def chunk_task(job: ChunkJob):
    """What a worker runs (module-level, so Dask can pickle it): the chunk with the worker's own R."""
    from ..distributed import r_engine

    recs, anas, stats = run_chunk(job.seed, job.models, job.start, job.stop, r_engine())
    return job.start, recs, anas, stats


#: examples kept per model of both-refused and skipped analyses
EXAMPLES = 5


def summarize(store, seed, models, start, n) -> CampaignResult:
    """The campaign's figures from its store, one chunk file at a time (bounded memory).

    Only chunks of datasets ``start .. start+n-1`` are read.
    """
    import numpy as np
    import pyarrow.compute as pc

    names = [m.name for m in models]
    res = CampaignResult(seed, n, names)
    lo, hi = start, start + n
    for t in store.iter_analyses(["dataset", "model", "k", "status", "category", "detail", "message", "python_error", "r_error",
                                  "r_warnings", "worst", "worst_python", "worst_r", "worst_rel"]):
        t = t.filter(pc.and_(pc.greater_equal(t["dataset"], lo), pc.less(t["dataset"], hi)))
        if not t.num_rows:
            continue
        model = t["model"].to_pylist()
        status = t["status"].to_pylist()
        for m, st in zip(model, status):
            if m not in res.analyses:
                continue
            res.analyses[m] += 1
            if st == "agree":
                res.agree[m] += 1
            elif st == "explained":
                res.explained[m] += 1
            elif st == "nonconverged":
                res.nonconverged[m] += 1
            elif st == "refused":
                res.refused[m] += 1
            elif st == "skipped":
                res.skipped[m] += 1
        odd = t.filter(pc.is_in(t["status"], pa_array(["refused", "skipped", "disagree", "explained"])))
        for row in odd.to_pylist():
            m = row["model"]
            if m not in res.analyses:
                continue
            if row["status"] == "refused" and len(res.refused_examples[m]) < EXAMPLES:
                res.refused_examples[m].append((row["dataset"], row["python_error"], row["r_error"]))
            elif row["status"] == "skipped" and len(res.skipped_examples[m]) < EXAMPLES:
                res.skipped_examples[m].append((row["dataset"], row["message"]))
            elif row["status"] == "explained":
                c = res.explained_classes.setdefault((m, row["detail"] or ""), [0, row["dataset"]])
                c[0] += 1
            elif row["status"] == "disagree":
                w = None if row["worst"] is None else (row["worst"], row["worst_python"], row["worst_r"], row["worst_rel"])
                res.disagreements.append(Disagreement(m, row["dataset"], row["category"] or "", row["detail"] or "", row["k"],
                                                      row["message"] or "", w, r_warnings=tuple(row["r_warnings"] or ())))
    for t in store.iter_records(["dataset", "model", "base", "python", "r", "abs_diff", "rel_diff"]):
        t = t.filter(pc.and_(pc.and_(pc.greater_equal(t["dataset"], lo), pc.less(t["dataset"], hi)),
                             pc.and_(pc.is_valid(t["abs_diff"]), pc.is_valid(t["rel_diff"]))))
        if not t.num_rows:
            continue
        cols = {c: t[c].to_numpy(zero_copy_only=False) for c in ("dataset", "python", "r", "abs_diff", "rel_diff")}
        model = np.asarray(t["model"].to_pylist(), dtype=object)
        base = np.asarray(t["base"].to_pylist(), dtype=object)
        key = np.char.add(np.char.add(model.astype(str), "\x00"), base.astype(str))
        order = np.argsort(key, kind="stable")  # rows of one (model, base) together, in dataset order
        key_s = key[order]
        cut = np.flatnonzero(np.r_[True, key_s[1:] != key_s[:-1], True])
        for a, b in zip(cut[:-1], cut[1:]):
            idx = order[a:b]
            m, q = str(model[idx[0]]), str(base[idx[0]])
            if m not in res.quantities:
                continue
            st = res.quantities[m].setdefault(q, QuantityStat())
            rel = cols["rel_diff"][idx]
            big = np.abs(cols["r"][idx]) >= TINY
            if big.any():
                j = idx[np.flatnonzero(big)[np.argmax(rel[big])]]  # first of the largest
                mr = float(cols["rel_diff"][j])
            else:
                j, mr = idx[0], 0.0
            worst = (int(cols["dataset"][j]), float(cols["python"][j]), float(cols["r"][j]))
            st.fold(len(idx), float(np.max(cols["abs_diff"][idx])), mr, worst if (big.any() or st.worst is None) else None)
    res.disagreements.sort(key=lambda d: (d.index, names.index(d.model) if d.model in names else len(names)))
    return res


def pa_array(values):
    import pyarrow as pa

    return pa.array(values)


def identity(seed, models, chunk, start) -> dict:
    """What makes two runs the same campaign (a store can be resumed only by the same one)."""
    return {"seed": int(seed), "start": int(start), "chunk": int(chunk),
            "models": [{"name": m.name, "kind": m.kind_name, "family": m.family, "options": _plain(m.options),
                        "tolerances": _plain(m.tolerances), "min_k": m.min_k} for m in models]}


def _plain(x):
    import json

    return json.loads(json.dumps(x, default=str))


def run_campaign(
    n: int,
    seed: int,
    models,
    *,
    engine=None,
    chunk: int = 100,
    workers: int = 1,
    scheduler: str | None = None,
    store=None,
    resume: bool = False,
    out_dir=None,
    max_per_class: int = 1,
    max_reproducers: int = 40,
    do_shrink: bool = True,
    start: int = 0,
    progress: Callable | None = None,
    on_cluster: Callable | None = None,
    cluster=None,
    jobs: int | None = None,
) -> CampaignResult:
    """Run ``models`` on datasets ``start .. start+n-1`` of campaign ``seed``.

    Chunks of ``chunk`` datasets are tasks (:func:`chunk_task`) mapped over
    :class:`harness.distributed.Cluster` -- ``workers == 1`` without a
    ``scheduler`` runs them in this process (with ``engine``, default the
    process's R). Each finished chunk streams into ``store`` (a folder;
    :class:`harness.fuzz.store.Store`; default a temporary one removed at the
    end); ``resume`` continues a store of the same campaign, running only the
    chunks not in it. The figures are built from the store, and are the same
    whatever the layout (datasets depend only on seed and index). The first
    ``max_per_class`` disagreements of each class (at most ``max_reproducers``
    in all) are shrunk on the workers and written under ``out_dir``.
    ``progress(done, total, disagreements, seconds)`` is called per chunk;
    ``on_cluster(cluster)`` once the cluster is up (the command prints the
    dashboard's address; tests kill a worker). ``cluster``: an open
    :class:`~harness.distributed.Cluster` to run on (left open; ``workers``
    and ``scheduler`` are then ignored). ``jobs`` is the old name of ``workers``.
    """
    import tempfile

    import contextlib

    from ..distributed import Cluster
    from ..verify import python_versions
    from .store import Store

    if jobs is not None:
        workers = jobs
    tmp = None
    if store is None:
        tmp = tempfile.TemporaryDirectory(prefix="metaharness-fuzz-")
        store = Path(tmp.name) / "store"
    st = Store(store).open(identity(seed, models, chunk, start), resume)
    try:
        done = st.done()
        todo = [c0 for c0 in range(start, start + n, chunk) if c0 not in done]
        resumed = sum(min(chunk, start + n - c0) for c0 in range(start, start + n, chunk) if c0 in done)
        jobs_ = [ChunkJob(seed, tuple(models), c0, min(c0 + chunk, start + n)) for c0 in todo]
        stats, failed, task_seconds = BatchStats(), [], 0.0
        t0 = time.perf_counter()
        with (contextlib.nullcontext(cluster) if cluster is not None else Cluster(workers, scheduler)) as cl:
            if on_cluster:
                on_cluster(cl)
            if cl.in_process:
                eng = engine
                if eng is None:
                    from ..engines.r import get_engine

                    eng = get_engine()

                def fn(job):
                    recs, anas, s = run_chunk(job.seed, job.models, job.start, job.stop, eng)
                    return job.start, recs, anas, s
            else:
                fn = chunk_task
            ran, bad = 0, 0
            for r in cl.map(fn, jobs_, name=f"fuzz-s{seed}"):
                job = jobs_[r.index]
                if r.error is not None:
                    failed.append((job.start, r.error))
                    continue
                c0, recs, anas, s = r.value
                st.write_chunk(c0, recs, anas)
                for f in ("crossings", "r_calls", "r_seconds", "bridge_seconds", "python_seconds"):
                    setattr(stats, f, getattr(stats, f) + getattr(s, f))
                task_seconds += r.seconds
                ran += job.stop - job.start
                bad += anas["status"].to_pylist().count("disagree")
                if progress:
                    progress(ran, sum(j.stop - j.start for j in jobs_), bad, time.perf_counter() - t0)
            seconds = time.perf_counter() - t0
            res = summarize(st, seed, models, start, n)
            res.seconds, res.batch, res.failed, res.task_seconds = seconds, stats, sorted(failed), task_seconds
            res.resumed, res.layout, res.store = resumed, cl.describe(), None if tmp else str(store)
            res.workers = cl.n_workers
            res.engines = {"python": python_versions()}
            try:
                res.engines["r"] = _r_versions(cl, engine)
            except Exception as e:  # versions are informative
                res.engines["r_error"] = str(e)
            st.update_manifest(engines=res.engines)
            if out_dir is not None and res.disagreements:
                write_reproducers(cl, res, seed, models, Path(out_dir), max_per_class, max_reproducers, do_shrink, engine)
        return res
    finally:
        if tmp is not None:
            tmp.cleanup()


def _versions_task(_):
    from ..distributed import r_engine

    return r_engine().versions()


def _r_versions(cl, engine):
    if cl.in_process:
        if engine is None:
            from ..engines.r import get_engine

            engine = get_engine()
        return engine.versions()
    (r,) = list(cl.map(_versions_task, [0], name="versions"))
    if r.error:
        raise RuntimeError(r.error)
    return r.value


def same_disagreement(d: Disagreement, status, cat, detail, names) -> bool:
    """Does a candidate show the disagreement ``d`` (not some other one)?"""
    if status != "disagree" or cat != d.category:
        return False
    if cat in ("differ", "missing"):
        return d.detail in names
    return detail == d.detail


@dataclass(frozen=True)
class ShrinkJob:
    seed: int
    model: object
    disagreement: Disagreement
    do_shrink: bool


def shrink_disagreement(runner: Runner, d: Disagreement, ds: FuzzDataset, model, do_shrink=True):
    """(smallest dataset still showing ``d``, its outcome's text) -- the R work of a reproducer."""

    def still_fails(cands):
        res = runner.run([(c, model) for c in cands])
        out = []
        for spec, py, r, cmp, _ in res:
            if spec is None:
                out.append(False)
                continue
            c = classify(cmp, py, r)
            out.append(same_disagreement(d, c[0], c[1], c[2], c[4]))
        return out

    small = shrink(ds, still_fails) if do_shrink else ds
    (spec, py, r, cmp, skip), = runner.run([(small, model)])
    if spec is None:
        return small, f"rejected as input: {skip}"
    status, cat, detail, msg, _ = classify(cmp, py, r)
    return small, f"{status} {cat} {msg[:300]}"


def shrink_task(job: ShrinkJob):
    """A reproducer's shrinking, on a worker with its own R."""
    from ..distributed import r_engine

    m, d = job.model, job.disagreement
    runner = Runner(r_engine(), job.seed, BatchStats())
    return shrink_disagreement(runner, d, dataset(job.seed, d.index, m.family), m, job.do_shrink)


def write_reproducers(cl, res, seed, models, out_dir: Path, max_per_class, max_reproducers, do_shrink, engine=None):
    """Shrink the chosen disagreements (on the workers) and write them as fixtures (here)."""
    by_name = {m.name: m for m in models}
    count: dict = {}
    chosen = []
    # the smallest dataset of each class first: cheaper to shrink, and often minimal already
    for d in sorted(res.disagreements, key=lambda d: (d.k, d.index)):
        c = count.setdefault(d.signature, 0)
        if c >= max_per_class or len(chosen) >= max_reproducers:
            continue
        count[d.signature] = c + 1
        chosen.append(d)
    jobs = [ShrinkJob(seed, by_name[d.model], d, do_shrink) for d in chosen]
    if cl.in_process:
        if engine is None:
            from ..engines.r import get_engine

            engine = get_engine()
        runner = Runner(engine, seed, BatchStats())

        def fn(job):
            m, d = job.model, job.disagreement
            return shrink_disagreement(runner, d, dataset(seed, d.index, m.family), m, job.do_shrink)
    else:
        fn = shrink_task
    for r in cl.map(fn, jobs, name=f"shrink-s{seed}"):
        d = chosen[r.index]
        m = by_name[d.model]
        ds = dataset(seed, d.index, m.family)
        if r.error is not None:
            small, after = ds, f"not shrunk ({r.error})"
        else:
            small, after = r.value
        write_fixture_for(d, ds, small, after, m, seed, out_dir)


def write_fixture_for(d: Disagreement, ds: FuzzDataset, small: FuzzDataset, after: str, model, seed, out_dir: Path) -> Path:
    """Write the (shrunk) dataset of disagreement ``d`` as a fixture; records the path on ``d``."""
    aid = f"fuzz-{slug(model.name)}-s{seed}-d{ds.index}"
    source = (f"metaharness fuzz --seed {seed}: dataset #{ds.index} (family {ds.family}, {ds.n_studies} studies, {ds.k} rows), "
              f"model {model.name}, shrunk to {small.n_studies} studies")
    comment = (f"Reproducer written by `metaharness fuzz` (seed {seed}, dataset {ds.index}, model {model.name}).\n"
               f"Disagreement ({d.category}): {d.message[:300]}\n"
               f"After shrinking ({small.k} rows): {after}\n"
               f"Generator settings: {', '.join(f'{k}={v}' for k, v in ds.meta.items() if k != 'parent_k')}\n"
               f"Run it: metaharness verify {out_dir / aid}")
    path = write_fixture(out_dir / aid, small, model, dict(model.options), aid=aid, source=source, comment=comment)
    d.reproducer, d.shrunk_k = str(path), small.n_studies
    return path


def write_reproducer(runner: Runner, d: Disagreement, ds: FuzzDataset, model, out_dir: Path, do_shrink=True) -> Path:
    """Shrink ``ds`` for disagreement ``d`` and write it as a fixture (in this process); records the path on ``d``."""
    small, after = shrink_disagreement(runner, d, ds, model, do_shrink)
    return write_fixture_for(d, ds, small, after, model, runner.seed, Path(out_dir))
