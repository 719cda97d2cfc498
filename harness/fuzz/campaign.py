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
    n: int = 0
    max_abs: float = 0.0
    max_rel: float = 0.0
    worst: tuple | None = None  # (dataset index, python, r) of the largest rel diff

    def add(self, rec, index):
        self.n += 1
        if rec.abs_diff > self.max_abs:
            self.max_abs = rec.abs_diff
        if self.worst is None or (abs(rec.r) >= TINY and rec.rel_diff > self.max_rel):
            if abs(rec.r) < TINY and self.worst is None:
                self.worst = (index, rec.python, rec.r)
                return
            self.max_rel = rec.rel_diff
            self.worst = (index, rec.python, rec.r)


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
    seed: int
    n: int
    models: list[str]
    seconds: float = 0.0
    analyses: dict = field(default_factory=dict)  # model -> number run
    agree: dict = field(default_factory=dict)
    nonconverged: dict = field(default_factory=dict)  # both engines: did not converge
    refused: dict = field(default_factory=dict)  # model -> [(index, py msg, r msg)] (an error on each side)
    skipped: dict = field(default_factory=dict)  # model -> [(index, reason)] (input rejected)
    quantities: dict = field(default_factory=dict)  # model -> base quantity -> QuantityStat
    disagreements: list[Disagreement] = field(default_factory=list)
    batch: BatchStats = field(default_factory=BatchStats)
    engines: dict = field(default_factory=dict)

    def __post_init__(self):
        for m in self.models:
            for d in (self.analyses, self.agree, self.nonconverged):
                d.setdefault(m, 0)
            for d in (self.refused, self.skipped):
                d.setdefault(m, [])
            self.quantities.setdefault(m, {})

    def merge(self, other: "CampaignResult") -> None:
        """Add another slice of the same campaign (parallel workers)."""
        for m in self.models:
            self.analyses[m] += other.analyses[m]
            self.agree[m] += other.agree[m]
            self.nonconverged[m] += other.nonconverged[m]
            self.refused[m] += other.refused[m]
            self.skipped[m] += other.skipped[m]
            for q, st in other.quantities[m].items():
                mine = self.quantities[m].setdefault(q, QuantityStat())
                mine.n += st.n
                mine.max_abs = max(mine.max_abs, st.max_abs)
                if mine.worst is None or st.max_rel > mine.max_rel:
                    mine.max_rel, mine.worst = st.max_rel, st.worst
        self.disagreements += other.disagreements
        for f in ("crossings", "r_calls", "r_seconds", "bridge_seconds", "python_seconds"):
            setattr(self.batch, f, getattr(self.batch, f) + getattr(other.batch, f))

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
        return not self.disagreements

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
            "datasets_per_second": self.n / self.seconds if self.seconds else None,
            "engines": self.engines,
            "r": {"crossings": self.batch.crossings, "calls": self.batch.r_calls, "r_seconds": self.batch.r_seconds,
                  "bridge_seconds": self.batch.bridge_seconds, "python_seconds": self.batch.python_seconds},
            "quantities_compared": self.n_compared,
            "per_model": {
                m: {
                    "analyses": self.analyses[m],
                    "agree": self.agree[m],
                    "both_nonconverged": self.nonconverged[m],
                    "both_refused": len(self.refused[m]),
                    "skipped": len(self.skipped[m]),
                    "disagreements": sum(1 for d in self.disagreements if d.model == m),
                    "quantities": {q: {"n": s.n, "max_abs_diff": num(s.max_abs), "max_rel_diff": num(s.max_rel),
                                       "worst_dataset": s.worst[0] if s.worst else None} for q, s in self.quantities[m].items()},
                }
                for m in self.models
            },
            "refused_examples": {m: [{"dataset": i, "python": a, "r": b} for i, a, b in v[:5]] for m, v in self.refused.items()},
            "disagreements": [
                {"model": d.model, "dataset": d.index, "category": d.category, "detail": d.detail, "k": d.k, "message": d.message,
                 "worst": None if d.worst is None else [d.worst[0], num(d.worst[1]), num(d.worst[2]), num(d.worst[3])],
                 "reproducer": d.reproducer, "shrunk_k": d.shrunk_k, "r_warnings": list(d.r_warnings)}
                for d in self.disagreements
            ],
        }


def _norm(msg: str | None) -> str:
    """An error/warning message with numbers blanked, to group alike ones."""
    if not msg:
        return ""
    s = re.sub(r"[-+]?\d[\d.eE+-]*", "#", msg.strip())
    return s[:120]


def classify(cmp, py, r):
    """(status, category, detail, message) of one compared analysis.

    status is ``agree``, ``nonconverged``, ``refused`` or ``disagree``.
    """
    if py.info.get("nonconvergence") and r.info.get("nonconvergence"):
        return "nonconverged", "", "", "", set()
    if py.error is not None and r.error is not None:
        return "refused", "", "", f"Python: {py.error} | R: {r.error}", set()
    if py.error is not None:
        return "disagree", "python-error", _norm(py.error), f"Python failed, R gave numbers. Python: {py.error}", set()
    if r.error is not None:
        return "disagree", "r-error", _norm(r.error), f"R failed, Python gave numbers. R: {r.error}", set()
    if cmp.verdict in OK_VERDICTS:
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
    return "disagree", cmp.verdict, "", "", set()


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
                    cache[key] = to_dataset(ds, aid)
                spec = make_spec(ds, model, aid, cache[key])
                spec = follow_engine(spec, self.engine.versions())  # Python at the R engine's metafor release
            except InputError as e:
                out[j] = (None, None, None, None, str(e))
                continue
            jobs.append((model.kind_obj(), spec))
            where.append(j)
        pys = run_python_all(jobs, self.stats)
        rs = run_r_batched(jobs, self.engine, self.stats)
        for j, (kind, spec), py, r in zip(where, jobs, pys, rs):
            out[j] = (spec, py, r, compare_outcomes(kind, spec, py, r), None)
        return out


def _slice(seed, models, start, n, chunk, engine) -> CampaignResult:
    """Datasets ``start .. start+n-1`` through every model (no reproducers)."""
    res = CampaignResult(seed, n, [m.name for m in models])
    runner = Runner(engine, seed, res.batch)
    families = sorted({m.family for m in models})
    for c0 in range(start, start + n, chunk):
        pairs = []
        for i in range(c0, min(c0 + chunk, start + n)):
            dss = {f: dataset(seed, i, f) for f in families}
            for m in models:
                if dss[m.family].n_studies >= m.min_k:
                    pairs.append((dss[m.family], m))
        for (ds, m), (spec, py, r, cmp, skip) in zip(pairs, runner.run(pairs)):
            res.analyses[m.name] += 1
            if skip is not None:
                res.skipped[m.name].append((ds.index, skip))
                continue
            for rec in cmp.records:
                if rec.abs_diff is not None and rec.rel_diff is not None:
                    res.quantities[m.name].setdefault(rec.name.split("[", 1)[0], QuantityStat()).add(rec, ds.index)
            status, cat, detail, msg, _ = classify(cmp, py, r)
            if status == "agree":
                res.agree[m.name] += 1
            elif status == "nonconverged":
                res.nonconverged[m.name] += 1
            elif status == "refused":
                res.refused[m.name].append((ds.index, py.error, r.error))
            else:
                res.disagreements.append(Disagreement(m.name, ds.index, cat, detail, ds.k, msg, _worst(cmp), r_warnings=tuple(r.warnings)))
    return res


def _worker(seed, models, start, n, chunk):
    """One slice in a spawned process (its own embedded R)."""
    from ..engines.r import get_engine

    return _slice(seed, models, start, n, chunk, get_engine())


def run_campaign(
    n: int,
    seed: int,
    models,
    *,
    engine=None,
    chunk: int = 100,
    jobs: int = 1,
    out_dir=None,
    max_per_class: int = 1,
    max_reproducers: int = 40,
    do_shrink: bool = True,
    start: int = 0,
    progress: Callable | None = None,
) -> CampaignResult:
    """Run ``models`` on datasets ``start .. start+n-1`` of campaign ``seed``.

    ``jobs > 1`` runs chunks in that many spawned processes, each with its own
    R (embedded R is one per process and not fork-safe); the figures are the
    same as with one job (datasets depend only on seed and index). The first
    ``max_per_class`` disagreements of each class (at most ``max_reproducers``
    in all) are shrunk and written under ``out_dir``.
    """
    from ..verify import python_versions

    res = CampaignResult(seed, n, [m.name for m in models])
    t0 = time.perf_counter()
    starts = list(range(start, start + n, chunk))
    if jobs > 1 and len(starts) > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        done = 0
        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
            futs = {pool.submit(_worker, seed, models, c0, min(chunk, start + n - c0), chunk): c0 for c0 in starts}
            for f in as_completed(futs):
                part = f.result()
                res.merge(part)
                done += part.n
                if progress:
                    progress(done, n, len(res.disagreements), time.perf_counter() - t0)
        res.disagreements.sort(key=lambda d: (d.index, res.models.index(d.model)))
    else:
        if engine is None:
            from ..engines.r import get_engine

            engine = get_engine()
        for c0 in starts:
            res.merge(_slice(seed, models, c0, min(chunk, start + n - c0), chunk, engine))
            if progress:
                progress(min(c0 + chunk, start + n) - start, n, len(res.disagreements), time.perf_counter() - t0)
    res.seconds = time.perf_counter() - t0
    res.engines = {"python": python_versions()}
    need_r = out_dir is not None and res.disagreements
    if engine is None:
        try:
            from ..engines.r import get_engine

            engine = get_engine()
        except Exception as e:  # versions are informative; reproducers need R
            res.engines["r_error"] = str(e)
    if engine is not None:
        res.engines["r"] = engine.versions()
    if need_r:
        by_name = {m.name: m for m in models}
        runner = Runner(engine, seed, BatchStats())
        count: dict = {}
        written = 0
        # the smallest dataset of each class first: cheaper to shrink, and often minimal already
        for d in sorted(res.disagreements, key=lambda d: (d.k, d.index)):
            c = count.setdefault(d.signature, 0)
            if c >= max_per_class or written >= max_reproducers:
                continue
            count[d.signature] = c + 1
            written += 1
            m = by_name[d.model]
            write_reproducer(runner, d, dataset(seed, d.index, m.family), m, Path(out_dir), do_shrink)
    return res


def same_disagreement(d: Disagreement, status, cat, detail, names) -> bool:
    """Does a candidate show the disagreement ``d`` (not some other one)?"""
    if status != "disagree" or cat != d.category:
        return False
    if cat in ("differ", "missing"):
        return d.detail in names
    return detail == d.detail


def write_reproducer(runner: Runner, d: Disagreement, ds: FuzzDataset, model, out_dir: Path, do_shrink=True) -> Path:
    """Shrink ``ds`` for disagreement ``d`` and write it as a fixture; records the path on ``d``."""

    def still_fails(cands):
        res = runner.run([(c, model) for c in cands])
        return [spec is not None and same_disagreement(d, *classify(cmp, py, r)[:3], classify(cmp, py, r)[4]) for spec, py, r, cmp, _ in res]

    small = shrink(ds, still_fails) if do_shrink else ds
    aid = runner.aid(model, ds)
    (spec, py, r, cmp, _), = runner.run([(small, model)])
    status, cat, detail, msg, _ = classify(cmp, py, r)
    source = (f"metaharness fuzz --seed {runner.seed}: dataset #{ds.index} (family {ds.family}, {ds.n_studies} studies, {ds.k} rows), "
              f"model {model.name}, shrunk to {small.n_studies} studies")
    comment = (f"Reproducer written by `metaharness fuzz` (seed {runner.seed}, dataset {ds.index}, model {model.name}).\n"
               f"Disagreement ({d.category}): {d.message[:300]}\n"
               f"After shrinking ({small.k} rows): {status} {cat} {msg[:300]}\n"
               f"Generator settings: {', '.join(f'{k}={v}' for k, v in ds.meta.items() if k != 'parent_k')}\n"
               f"Run it: metaharness verify {out_dir / aid}")
    path = write_fixture(out_dir / aid, small, model, dict(model.options), aid=aid, source=source, comment=comment)
    d.reproducer, d.shrunk_k = str(path), small.n_studies
    return path
