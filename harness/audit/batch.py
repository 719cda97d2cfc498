"""Auditing many files at once: one plain function per file, one summary over the set.

:func:`audit_path` audits one file — a published-results TOML file, a RevMan 5
review (``.rm5``) or a RevMan analysis-data export (``.csv``) — as a plain
function of ``(path, AuditOptions)`` returning a picklable result
(:class:`~harness.cochrane.reverify.ReviewAudit`,
:class:`~harness.audit.AuditResult`, or :class:`FileError` for a file that
cannot be read at all), so that the files of a set can be mapped over worker
processes, each with its own R. The R engine is process-wide
(:func:`harness.engines.r.get_engine`): R starts once per process, whatever
the number of files.

:func:`expand` turns the command line's files and folders into the files to
audit (a folder: every ``.rm5``, ``.csv`` and ``.toml`` below it, sorted);
:class:`AuditSet` is the summary over all files: one row per file, the
analyses by data type and status, the largest differences, and the totals the
command's last line and exit status follow. :func:`audit_files` maps
:func:`audit_task` over :class:`harness.distributed.Cluster` (this process,
or Dask workers each with its own R) and gathers the results in the files'
order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

#: file suffix -> what it is
KINDS = {".toml": "published results", ".rm5": "RevMan 5 review", ".csv": "RevMan export"}
#: analysis statuses in the by-type table, in order
STATUS_COLUMNS = ("agree", "explained", "differ", "error", "not re-verified")


@dataclass(frozen=True)
class AuditOptions:
    """What the per-file audit needs from the command line (plain, picklable)."""

    preset: str = "revman5"
    integer_scale: bool = False


@dataclass
class FileError:
    """A file that could not be audited at all: an error of the set.

    ``bad_input``: the file cannot be read (exit status 2); otherwise its audit
    failed for good on every try (e.g. its worker process died each time).
    """

    path: str
    message: str
    bad_input: bool = True

    ok = False

    def counts(self) -> dict:
        return {"consistent": 0, "inconsistent": 0, "cannot check": 0, "error": 1}

    def render(self, detail: bool = False) -> str:
        return f"### {self.path}\n    error: {self.message}"

    def to_dict(self) -> dict:
        return {"kind": "unreadable" if self.bad_input else "failed", "path": self.path, "error": self.message, "summary": {"errors": 1}}


def expand(paths) -> list[Path]:
    """The files to audit: files as given; a folder, every file with a known suffix below it (sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in KINDS)
            if not found:
                raise InputError(f"no file to audit in this folder (looked for {', '.join(KINDS)} files)", p)
            out.extend(found)
            continue
        if p.suffix.lower() not in KINDS:
            raise InputError(f"cannot audit a {p.suffix or 'suffix-less'} file; known kinds: {', '.join(KINDS)}", p)
        if not p.is_file():
            raise InputError("no such file", p)
        out.append(p)
    return out


def audit_path(path, options: AuditOptions = AuditOptions(), engine_factory=None):
    """Audit one file; raises :class:`InputError` when it cannot be read at all."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".toml":
        from . import audit_file

        return audit_file(path, engine_factory=engine_factory)
    if suffix in (".rm5", ".csv"):
        from ..cochrane.reverify import audit_review

        return audit_review(path, preset=options.preset, integer_scale=options.integer_scale, engine_factory=engine_factory)
    raise InputError(f"cannot audit a {path.suffix or 'suffix-less'} file; known kinds: {', '.join(KINDS)}", path)


def audit_path_or_error(path, options: AuditOptions = AuditOptions(), engine_factory=None):
    """:func:`audit_path`, with a file that cannot be read at all returned as a :class:`FileError`."""
    try:
        return audit_path(path, options, engine_factory)
    except InputError as e:
        return FileError(str(path), str(e))


def _path_of(r) -> str:
    if isinstance(r, FileError):
        return r.path
    if hasattr(r, "publication"):
        return str(r.publication.path)
    return str(r.path)


@dataclass
class AuditSet:
    """The results of a set of files and the summary over them.

    ``interrupted``: the run was stopped (Ctrl-C); ``results`` are the files
    that finished (in the files' order), ``not_audited`` the others.
    """

    results: list = field(default_factory=list)
    not_audited: list = field(default_factory=list)
    interrupted: bool = False

    def counts(self) -> dict:
        total = {"consistent": 0, "inconsistent": 0, "cannot check": 0, "error": 0}
        for r in self.results:
            for k, v in r.counts().items():
                total[k] = total.get(k, 0) + v
        return total

    @property
    def ok(self) -> bool:
        c = self.counts()
        return c["inconsistent"] == 0 and c["error"] == 0 and not self.interrupted

    @property
    def bad_input(self) -> bool:
        return any(isinstance(r, FileError) and r.bad_input for r in self.results)

    def headline(self) -> str:
        """The last line of the command; the HTML's headline says the same."""
        c = self.counts()
        n = len(self.results)
        line = (f"{n} file(s): {c['consistent']} consistent, {c['inconsistent']} inconsistent, {c['cannot check']} cannot check, "
                f"{c['error']} error{'s' if c['error'] != 1 else ''}")
        if self.interrupted:
            line += f"; interrupted: {len(self.not_audited)} file(s) not audited"
        return line

    def file_rows(self) -> list[dict]:
        """One row per file: what it is, its analyses by verdict, its worst difference."""
        rows = []
        for r in self.results:
            path = _path_of(r)
            row = {"file": path, "kind": KINDS.get(Path(path).suffix.lower(), "?"), "title": "", "analyses": 0, "re-verified": 0,
                   "agree": 0, "explained": 0, "differ": 0, "not re-verified": 0, "errors": 0, "worst": ""}
            if isinstance(r, FileError):
                row.update(errors=1, worst=r.message)
            elif hasattr(r, "publication"):
                c = r.counts()
                row.update(title=r.publication.citation, analyses=len(r.findings), agree=c["consistent"], differ=c["inconsistent"],
                           **{"not re-verified": c["cannot check"]})
                row["kind"] = "published results (findings)"
            else:
                s = r.summary()
                w = self._worst_of(r, 1)
                row.update(title=r.title, analyses=s["analyses"], **{"re-verified": s["re_verified"], "not re-verified": s["not_re_verified"]},
                           agree=s["agreeing"], explained=s["explained"], differ=s["differing"], errors=s["errors"],
                           worst=(f"{w[0][1]} {w[0][2].name} (rel {w[0][2].rel_diff:.2g})" if w and w[0][2].rel_diff is not None else (f"{w[0][1]} {w[0][2].name}: {w[0][2].verdict}" if w else "")))
            rows.append(row)
        return rows

    def by_type(self) -> dict:
        """Analyses of the RevMan files by data type and status (agree / explained / differ / error / not re-verified)."""
        out: dict[str, dict[str, int]] = {}
        for r in self.results:
            for a in getattr(r, "analyses", []) or []:
                d = out.setdefault(a.data_type, dict.fromkeys(STATUS_COLUMNS, 0))
                v = a.verdict
                key = v if v in ("agree", "explained", "error", "not re-verified") else "differ"
                d[key] += 1
        return out

    @staticmethod
    def _worst_of(r, n):
        rows = []
        for a in getattr(r, "analyses", []) or []:
            for q in a.records:
                if q.verdict not in ("differ", "missing", "engine-error"):
                    continue
                rows.append((_path_of(r), a.id, q))
        rows.sort(key=lambda t: -(t[2].rel_diff if t[2].rel_diff is not None and not math.isnan(t[2].rel_diff) else math.inf))
        return rows[:n]

    def worst(self, n: int = 10) -> list[tuple]:
        """The largest differences over all files: (file, analysis, QuantityRecord), largest first."""
        rows = [w for r in self.results for w in self._worst_of(r, n)]
        rows.sort(key=lambda t: -(t[2].rel_diff if t[2].rel_diff is not None and not math.isnan(t[2].rel_diff) else math.inf))
        return rows[:n]

    def to_dict(self) -> dict:
        c = self.counts()
        return {
            "schema": 1,
            "summary": {"files": len(self.results), **c},
            "headline": self.headline(),
            "interrupted": self.interrupted,
            "not_audited": [str(p) for p in self.not_audited],
            "by_type": self.by_type(),
            "worst": [{"file": f, "analysis": a, **q.to_dict()} for f, a, q in self.worst()],
            "files": [r.to_dict() for r in self.results],
        }


def audit_task(job):
    """The per-file work of a set, as a task: ``(path, AuditOptions)`` -> :func:`audit_path_or_error`.

    Runs on a Dask worker (or in this process); R is the process's own
    (:func:`harness.engines.r.get_engine`, started once per process).
    """
    path, options = job
    return audit_path_or_error(path, options)


def audit_files(paths, options: AuditOptions = AuditOptions(), *, workers: int = 1, scheduler: str | None = None, cluster=None,
                progress=None, on_cluster=None) -> AuditSet:
    """Audit ``paths`` with :func:`audit_task` mapped over :class:`harness.distributed.Cluster`.

    ``workers == 1`` without a ``scheduler`` audits in this process, one file
    after the other; otherwise a LocalCluster of ``workers`` processes, or the
    cluster at ``scheduler``, each worker with its own R started once (not
    per file). ``cluster``: an open :class:`~harness.distributed.Cluster`
    to use instead (left open). The results are in the order of ``paths``
    whatever the order the files finish in, and the same whatever the layout.
    A file whose worker dies is re-run (Dask's retries); one that fails for
    good is a :class:`FileError` row (``bad_input`` False), never dropped.
    ``progress(done, total, path)`` after each file; ``on_cluster(cluster)``
    once the cluster is up. An interrupt (Ctrl-C) stops the run and returns
    what finished: ``interrupted`` set, the other files in ``not_audited``.
    """
    import contextlib

    from ..distributed import Cluster

    paths = list(paths)
    results: list = [None] * len(paths)
    done = 0
    try:
        with (contextlib.nullcontext(cluster) if cluster is not None else Cluster(workers, scheduler)) as cl:
            if on_cluster:
                on_cluster(cl)
            for r in cl.map(audit_task, [(p, options) for p in paths], name="audit"):
                results[r.index] = r.value if r.error is None else FileError(str(paths[r.index]), f"the audit failed: {r.error}", bad_input=False)
                done += 1
                if progress:
                    progress(done, len(paths), paths[r.index])
    except KeyboardInterrupt:
        return AuditSet([r for r in results if r is not None], not_audited=[p for p, r in zip(paths, results) if r is None], interrupted=True)
    return AuditSet(results)
