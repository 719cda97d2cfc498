"""Golden snapshots: every engine's outputs for some fixtures, stored as JSON.

``metaharness snapshot [PATH ...] --out DIR`` runs the fixtures through both
engines (as ``verify`` does) and writes one file per spec file,
``DIR/<fixture>.json``::

    {"schema": 1,
     "fixture": "fixtures/normand1999/spec.toml",
     "versions": {"R": "4.2.2", "metafor": "3.8-1", "robumeta": "2.0", "clubSandwich": "0.5.8",
                  "rpy2": "3.5.17", "numpy": "2.4.6", "scipy": "1.17.1", ...},
     "analyses": {
      "normand1999-MD-FE": {
       "kind": "rma",
       "python": {"error": null, "warnings": [], "values": {"beta": -3.4637..., ...}},
       "r":      {"error": null, "warnings": [], "values": {"beta": -3.4637..., ...}}}}}

One quantity per line, in the order the engines report them, so a snapshot
diff reads as a list of changed numbers. Numbers are written so that they read
back to the very same double (Python's shortest round-trip ``repr``, as
faithful as ``%.17g``); NaN, +inf and -inf are the strings ``"nan"``,
``"inf"``, ``"-inf"``. Nothing depends on timing or on the machine, so an
unchanged run writes byte-identical files.

:func:`check` compares a new ``verify`` run with the snapshots and names every
change: a value of either engine that moved (before/after), a quantity that
appeared or disappeared, an error or warnings that changed, an analysis no
longer run. Analyses that are not in the snapshot yet (fixtures added since)
are listed as "not in snapshot" and are not changes.

**What counts as a change.** Snapshots are compared on other machines, and
there the last bits of a number move: OpenBLAS picks its kernels by CPU
(``OPENBLAS_CORETYPE`` Haswell, Sandybridge, Prescott, ... sum and fuse in
different orders), so a snapshot checked bit for bit tests the CPU, not the
code. A value has *changed* only when it moved by more than the precision the
harness claims for it anyway: the comparison layer's tolerance for that
quantity (its class -- closed-form 1e-10, iterated 1e-8, the kind's own classes
and the spec's overrides -- exactly as ``verify`` compares the two engines),
widened to the rounding the design can amplify, kappa^2 eps relative with kappa
the condition number of W^1/2 X (:func:`harness.compare.tolerance.conditioned`;
on hackshaw1998 with ``year`` kappa = 9e5, elsewhere kappa^2 eps is far below
1e-10 and changes nothing). A formula, default or convergence rule that changes
moves numbers by far more. Values that differ at all but within that are
listed apart, as information (:attr:`SnapshotCheck.moved`), never as failures.

``metaharness verify --python-only`` compares the Python core with the R values
stored in the snapshots instead of running R (:class:`StoredR`).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from .compare.tolerance import CLOSED, Tolerance, conditioned

SCHEMA = 1
#: where ``metaharness snapshot`` writes by default, and where snapshots are looked for first
DEFAULT_DIR = "snapshots"
ENGINES = ("python", "r")
#: versions recorded in every snapshot (from ``verify``'s engines block)
VERSION_KEYS = ("R", "metafor", "robumeta", "clubSandwich", "metadat", "metaharness", "python", "rpy2", "rpy2-rinterface", "numpy", "scipy", "pandas")
#: the tolerance of a value the current run compared with no tolerance (an engine failed, so
#: its record carries none): the closed-form class, the strictest of the comparison layer
FALLBACK_TOL = CLOSED
#: record names that are not quantities
_PSEUDO = ("warnings",)


def _enc(x):
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def default_dir(base=None) -> Path:
    """``<base>/snapshots`` (default: the working directory) when that folder exists, else the
    snapshots bundled with metaharness (:func:`harness.resources.snapshots`)."""
    here = Path.cwd() if base is None else Path(base)
    if (here / DEFAULT_DIR).is_dir():
        return here / DEFAULT_DIR
    from .resources import snapshots

    return snapshots()


def _dec(x):
    if x is None:
        return None
    if isinstance(x, str):
        return float(x)  # "nan", "inf", "-inf"
    return float(x)


def snapshot_name(fixture: Path) -> str:
    """File stem for a spec: its path under ``fixtures/`` with ``/`` as ``--``
    (``normand1999``, ``corrdat--cr2``, ``published--verify--gibson2002``);
    outside ``fixtures/``, its folder name (plus ``--<stem>`` for ``*.spec.toml``)."""
    from .verify import FIXTURES

    fixture = Path(fixture).resolve()
    try:
        parts = list(fixture.relative_to(FIXTURES).parts)
    except ValueError:
        parts = [fixture.parent.name, fixture.name]
    last = parts.pop()
    if last != "spec.toml":
        parts.append(last.removesuffix(".toml").removesuffix(".spec"))
    return "--".join(parts)


def _display_path(p) -> str:
    p = Path(p).resolve()
    try:
        return p.relative_to(Path.cwd()).as_posix()
    except ValueError:
        from .verify import FIXTURES

        try:
            return (Path("fixtures") / p.relative_to(FIXTURES)).as_posix()
        except ValueError:
            return p.as_posix()


def engine_side(a, engine: str) -> dict:
    """One engine's outputs for one compared analysis (from verify's records)."""
    vals = {}
    for rec in a.records:
        if rec.name in _PSEUDO:
            continue
        v = rec.python if engine == "python" else rec.r
        if v is not None:
            vals[rec.name] = _enc(v)
    return {
        "error": a.python_error if engine == "python" else a.r_error,
        "warnings": list(a.python_warnings if engine == "python" else a.r_warnings),
        "values": vals,
    }


def versions_of(run) -> dict:
    flat = {}
    for side in ("python", "r"):
        for k, v in (run.engines.get(side) or {}).items():
            flat.setdefault(k, v)
    return {k: flat[k] for k in VERSION_KEYS if k in flat}


def from_run(run) -> dict[str, dict]:
    """Snapshot documents (by file stem) for every fixture in a :class:`~harness.verify.VerifyRun`."""
    docs: dict[str, dict] = {}
    vers = versions_of(run)
    for a in run.analyses:
        name = snapshot_name(Path(a.fixture))
        doc = docs.setdefault(name, {"schema": SCHEMA, "fixture": _display_path(a.fixture), "versions": vers, "analyses": {}})
        doc["analyses"][a.id] = {"kind": a.kind, "python": engine_side(a, "python"), "r": engine_side(a, "r")}
    return docs


def dumps(doc) -> str:
    return json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def write(run, out_dir) -> list[Path]:
    """Write one snapshot file per fixture of ``run`` into ``out_dir``; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, doc in from_run(run).items():
        p = out / f"{name}.json"
        p.write_text(dumps(doc), encoding="utf-8")
        paths.append(p)
    return paths


def load_dir(d, names=None) -> dict[str, dict]:
    """Snapshot documents in folder ``d`` by file stem (only the stems in ``names``, when given)."""
    from .errors import InputError

    d = Path(d)
    if not d.is_dir():
        raise InputError("no such snapshot folder", d)
    out = {}
    for p in sorted(d.glob("*.json")):
        if names is not None and p.stem not in names:
            continue
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputError(f"not a snapshot file (invalid JSON: {e})", p) from None
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not isinstance(doc.get("analyses"), dict):
            raise InputError(f"not a metaharness snapshot (schema {SCHEMA})", p)
        out[p.stem] = doc
    return out


@dataclass(frozen=True)
class Change:
    """One named change since the snapshot."""

    fixture: str
    analysis: str
    engine: str  # "python" | "r" | "" (the analysis as a whole)
    what: str  # value | added | removed | error | warnings | not-run
    quantity: str = ""
    before: object = None
    after: object = None
    #: for a value: the tolerance it was checked with (class tolerance, widened by conditioning)
    tolerance: Tolerance | None = None

    @property
    def abs_diff(self):
        try:
            return abs(float(self.after) - float(self.before))
        except (TypeError, ValueError):
            return None

    @property
    def rel_diff(self):
        d = self.abs_diff
        if d is None or self.before in (None, 0):
            return None
        try:
            return d / abs(float(self.before))
        except (TypeError, ValueError, ZeroDivisionError):
            return None


@dataclass
class SnapshotCheck:
    directory: str
    changes: list[Change] = field(default_factory=list)
    #: values that differ from the snapshot but within their tolerance: rounding (another CPU or
    #: BLAS build), information only
    moved: list[Change] = field(default_factory=list)
    not_in_snapshot: list[str] = field(default_factory=list)  # analyses run now, absent from the snapshot
    compared: int = 0  # values compared
    versions_before: dict = field(default_factory=dict)
    versions_now: dict = field(default_factory=dict)
    #: ``(metafor at the snapshot, metafor now)`` when they differ and the changes were traced
    #: (:func:`attribute`); else None
    releases: tuple | None = None
    #: changes traced to metafor's release changes: ``(change, [the CHANGES labels that moved it])``;
    #: not failures
    release_changes: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.changes

    def version_changes(self) -> dict:
        keys = [k for k in VERSION_KEYS if self.versions_before.get(k) != self.versions_now.get(k)]
        return {k: (self.versions_before.get(k), self.versions_now.get(k)) for k in keys}

    def to_dict(self):
        return {
            "directory": self.directory,
            "ok": self.ok,
            "compared": self.compared,
            "not_in_snapshot": self.not_in_snapshot,
            "version_changes": {k: list(v) for k, v in self.version_changes().items()},
            "changes": [_change_dict(c) for c in self.changes],
            "release_changes": {"releases": list(self.releases) if self.releases else None,
                                "count": len(self.release_changes),
                                "by_change": release_counts(self.release_changes)},
            "moved": {"count": len(self.moved), "largest": [_change_dict(c) for c in largest_moves(self.moved, 20)]},
        }


def _change_dict(c: Change) -> dict:
    out = {"fixture": c.fixture, "analysis": c.analysis, "engine": c.engine, "what": c.what, "quantity": c.quantity,
           "before": c.before if not isinstance(c.before, float) else _enc(c.before),
           "after": c.after if not isinstance(c.after, float) else _enc(c.after)}
    if c.tolerance is not None:
        out["tolerance"] = {"rtol": c.tolerance.rtol, "atol": c.tolerance.atol}
    return out


def release_counts(release_changes) -> dict[str, int]:
    """How many traced changes each release change (its label) moved."""
    out: dict[str, int] = {}
    for _, labels in release_changes:
        for lab in labels:
            out[lab] = out.get(lab, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def largest_moves(moved, n):
    """The ``n`` moves largest relative to what their tolerance allows."""
    def share(c):
        t = c.tolerance or FALLBACK_TOL
        return (c.abs_diff or 0.0) / (t.atol + t.rtol * abs(float(c.before)))

    return sorted(moved, key=share, reverse=True)[:n]


def _changed(before, after, tol: Tolerance) -> bool:
    if math.isnan(before) or math.isnan(after):
        return math.isnan(before) != math.isnan(after)
    if math.isinf(before) or math.isinf(after):
        return before != after
    return not tol.allows(after, before)


def value_tolerances(a) -> tuple[dict[str, Tolerance], float | None]:
    """Per quantity of an analysis of the run: the tolerance its snapshot values are checked with.

    The record's own tolerance (what ``verify`` compared the engines with), widened by the
    design's conditioning (:func:`harness.compare.tolerance.conditioned`); returns the map and kappa.
    """
    kappa = getattr(a, "condition", None)
    return {rec.name: conditioned(rec.tolerance or FALLBACK_TOL, kappa) for rec in a.records}, kappa


def check(run, snap_dir, paths_run=None, trace_releases: bool = True) -> SnapshotCheck:
    """Compare a :class:`~harness.verify.VerifyRun` with the snapshots in ``snap_dir``.

    Only fixtures that were run are checked, so a run of one fixture is checked
    against that fixture's snapshot alone. Each value is checked with its
    quantity's tolerance (:func:`value_tolerances`); see the module docstring.
    When the run's metafor release is not the snapshot's, every change is traced
    to the release change that made it, or stays a change (:func:`attribute`).
    """
    now = from_run(run)
    snaps = load_dir(snap_dir, names=set(now))
    res = _compare(run, snaps, str(snap_dir))
    if trace_releases:
        res = attribute(res, run, snap_dir)
    return res


def _compare(run, snaps: dict, directory: str) -> SnapshotCheck:
    """:func:`check` against snapshot documents already read (``{stem: doc}``), no tracing."""
    now = from_run(run)
    res = SnapshotCheck(directory, versions_now=versions_of(run))
    tolerances = {(snapshot_name(Path(a.fixture)), a.id): value_tolerances(a)[0] for a in run.analyses}
    for name, doc in now.items():
        snap = snaps.get(name)
        fx = doc["fixture"]
        if snap is None:
            res.not_in_snapshot.extend(doc["analyses"])
            continue
        res.versions_before = res.versions_before or snap.get("versions", {})
        for aid, a in doc["analyses"].items():
            b = snap["analyses"].get(aid)
            if b is None:
                res.not_in_snapshot.append(aid)
                continue
            tols = tolerances.get((name, aid), {})
            for eng in ENGINES:
                before, after = b[eng], a[eng]
                if (before.get("error") or None) != (after.get("error") or None):
                    res.changes.append(Change(fx, aid, eng, "error", "", before.get("error"), after.get("error")))
                if sorted(before.get("warnings") or []) != sorted(after.get("warnings") or []):
                    res.changes.append(Change(fx, aid, eng, "warnings", "", before.get("warnings"), after.get("warnings")))
                bv, av = before.get("values", {}), after.get("values", {})
                for q, x in bv.items():
                    if q not in av:
                        res.changes.append(Change(fx, aid, eng, "removed", q, _dec(x), None))
                        continue
                    res.compared += 1
                    xb, xa = _dec(x), _dec(av[q])
                    tol = tols.get(q, FALLBACK_TOL)
                    if _changed(xb, xa, tol):
                        res.changes.append(Change(fx, aid, eng, "value", q, xb, xa, tol))
                    elif xb != xa and not (math.isnan(xb) and math.isnan(xa)):
                        res.moved.append(Change(fx, aid, eng, "moved", q, xb, xa, tol))
                for q, x in av.items():
                    if q not in bv:
                        res.changes.append(Change(fx, aid, eng, "added", q, None, _dec(x)))
        for aid in snap["analyses"]:
            if aid not in doc["analyses"]:
                res.changes.append(Change(fx, aid, "", "not-run", "", "in snapshot", "no longer in the fixture"))
    return res


_OK = ("agree", "explained")


def _keys(res: SnapshotCheck, engine: str = "python") -> set:
    return {(c.analysis, c.what, c.quantity) for c in res.changes if c.engine == engine}


def _verdicts(run) -> dict:
    return {(a.id, rec.name): rec.verdict for a in run.analyses for rec in a.records}


def _agrees(verdicts, key) -> bool:
    """The two engines agree on the changed item in that run (a warnings change: on the warnings)."""
    aid, what, q = key
    if what in ("value", "added"):
        return verdicts.get((aid, q)) in _OK
    if what == "warnings":
        return verdicts.get((aid, "warnings")) in _OK
    return what in ("removed", "error")


def attribute(res: SnapshotCheck, run, snap_dir) -> SnapshotCheck:
    """Trace each change of ``res`` to the metafor release change that made it, when the run's
    metafor release (N) is not the snapshot's (S); a change that cannot be traced stays a change.

    The Python core reproduces every release (:data:`harness.core.versions.CHANGES`), so the
    snapshot's own release can be re-run without R, against the R values stored in the snapshot
    (:class:`StoredR`). A change of the run against the snapshot is a *release change* when

    1. the Python side following S still gives the snapshot's Python value (no regression) and
       agrees with the snapshot's R value (the stored record is sound);
    2. the Python side following N differs from it there (the core itself says the release moves
       this number), and in the run the two engines agree on it (R at N is reproduced);
    3. switching the behaviours that differ between S and N one at a time, in the Python side
       following S (:func:`harness.core.versions.swapped`), moves it: the change (or changes)
       that do are named. A number that only moves with several switched together is named by
       every change that moves its analysis.

    Anything else stays a change: a Python value that no longer holds at S (also reported when
    the run at N hides it), an R value that moved where the Python side does not move, a number
    no single change traces. Only the fixtures with changes are re-run (once at S, then once per
    behaviour that can move a number: the changes that only add options a spec valid at S cannot
    use are skipped).
    """
    from .core.versions import CHANGES, Version, changed_fields, changes_of, conventions, swapped
    from .verify import verify

    old, new = res.versions_before.get("metafor"), res.versions_now.get("metafor")
    if not res.changes or not old or not new:
        return res
    try:
        if Version(old) == Version(new):
            return res
    except ValueError:
        return res
    names = {snapshot_name(Path(c.fixture)) for c in res.changes}
    paths = sorted({str(a.fixture) for a in run.analyses if snapshot_name(Path(a.fixture)) in names})
    if not paths:
        return res
    stored = StoredR(snap_dir)
    snaps = load_dir(snap_dir, names=names)
    at_old = verify(paths, r_side=stored)
    regress = _compare(at_old, snaps, res.directory)
    regressed = _keys(regress)
    old_ok = _verdicts(at_old)
    old_docs = from_run(at_old)
    moved_now = _keys(_compare(run, old_docs, res.directory))
    conv_new = conventions(new)
    by_field = {}
    offers = {c.field for c in CHANGES if c.offers}
    for f in changed_fields(old, new):
        if f in offers:
            continue
        with swapped(old, **{f: getattr(conv_new, f)}):
            run_f = verify(paths, r_side=stored)
        by_field[f] = _keys(_compare(run_f, old_docs, res.directory))
    now_ok = _verdicts(run)
    kept, traced = [], []
    for c in res.changes:
        key = (c.analysis, c.what, c.quantity)
        fields = []
        if (key not in regressed and _agrees(old_ok, key) and key in moved_now and _agrees(now_ok, key)):
            fields = [f for f, keys in by_field.items() if key in keys]
            if not fields:  # moved only by several changes together
                fields = [f for f, keys in by_field.items() if any(k[0] == c.analysis for k in keys)]
        if fields:
            traced.append((c, [ch.label for f in fields for ch in changes_of(f, old, new)]))
        else:
            kept.append(c)
    seen = {(c.analysis, c.what, c.quantity) for c in kept if c.engine == "python"}
    for c in regress.changes:  # the Python side at the snapshot's release no longer gives its numbers
        if c.engine == "python" and (c.analysis, c.what, c.quantity) not in seen:
            kept.append(Change(c.fixture, c.analysis, f"python (metafor {Version(old)})", c.what, c.quantity, c.before, c.after, c.tolerance))
    res.changes, res.release_changes, res.releases = kept, traced, (str(old), str(new))
    return res


def _short(fixture) -> str:
    p = Path(fixture)
    return p.parent.name if p.name == "spec.toml" else f"{p.parent.name}/{p.name}"


def render(res: SnapshotCheck, limit: int = 200) -> str:
    """Terminal report of a :class:`SnapshotCheck`."""
    from tabulate import tabulate

    from .reports.terminal import fmt

    lines = [f"snapshot check against {res.directory}: {res.compared} values compared, {len(res.changes)} changes"]
    for k, (b, a) in res.version_changes().items():
        lines.append(f"  version of {k}: {b} at the snapshot, {a} now")

    def show(x):
        return fmt(x, 17) if isinstance(x, float) else ("—" if x is None else str(x)[:80])

    def table(changes):
        rows = [(c.analysis, c.engine or "—", c.what, c.quantity or "—", show(c.before), show(c.after), fmt(c.abs_diff, 3),
                 fmt(c.rel_diff, 3), "—" if c.tolerance is None else fmt(c.tolerance.rtol, 2)) for c in changes]
        return tabulate(rows, headers=["analysis", "engine", "change", "quantity", "before", "after", "abs diff", "rel diff", "rtol"],
                        disable_numparse=True)

    if res.changes:
        lines.append(table(res.changes[:limit]))
        if len(res.changes) > limit:
            lines.append(f"... and {len(res.changes) - limit} more changes")
    if res.releases:
        old, new = res.releases
        n = len(res.release_changes)
        lines.append(f"traced to metafor's release changes {old} -> {new} (not changes: the Python side following {old} still gives "
                     f"the snapshot's numbers, following {new} it gives R's): {n} values, warnings or quantities")
        for lab, k in release_counts(res.release_changes).items():
            lines.append(f"  {k:6d}  {lab}")
    if res.moved:
        fixtures = sorted({_short(c.fixture) for c in res.moved})
        worst = max(res.moved, key=lambda c: c.rel_diff or 0.0)
        lines.append(f"moved within tolerance (information, not a change: rounding of this CPU or BLAS build): {len(res.moved)} values "
                     f"in {', '.join(fixtures)}; largest rel diff {fmt(worst.rel_diff, 2)} ({worst.analysis}, {worst.engine}, "
                     f"{worst.quantity}; rtol there {fmt(worst.tolerance.rtol, 2)}); nearest their tolerance:")
        lines.append(table(largest_moves(res.moved, 5)))
    if res.not_in_snapshot:
        lines.append(f"not in snapshot ({len(res.not_in_snapshot)} analyses, not checked; `make snapshots` adds them): "
                     + ", ".join(res.not_in_snapshot[:20]) + (" ..." if len(res.not_in_snapshot) > 20 else ""))
    return "\n".join(lines)


class StoredR:
    """R's outcomes read from snapshot files instead of a running R (``verify --python-only``).

    ``outcome(spec)`` is what ``kind.run_r`` would have returned when the snapshot was taken:
    its values, warnings and error. An analysis that is not in the snapshot gets an error
    outcome (an engine-error: never agreement). ``versions()`` are the R side's versions at the
    snapshot, with ``"stored_in"`` naming the folder.
    """

    def __init__(self, snap_dir):
        self.directory = Path(snap_dir)
        self._docs: dict[str, dict | None] = {}
        load_dir(self.directory, names=())  # the folder exists (else a clear InputError now)

    def _doc(self, name):
        if name not in self._docs:  # one file per fixture, read when its first analysis runs
            self._docs[name] = load_dir(self.directory, names={name}).get(name)
        return self._docs[name]

    def versions(self) -> dict:
        r_keys = ("R", "metafor", "robumeta", "clubSandwich", "metadat")
        first = next(iter(sorted(self.directory.glob("*.json"))), None)
        vers = (self._doc(first.stem) or {}).get("versions", {}) if first else {}
        return {**{k: vers[k] for k in r_keys if k in vers}, "stored_in": str(self.directory)}

    def outcome(self, spec):
        from .analyses import KINDS
        from .analyses.base import Outcome

        name = snapshot_name(Path(spec.fixture))
        doc = self._doc(name)
        a = (doc or {}).get("analyses", {}).get(spec.id)
        if a is None:
            where = self.directory / f"{name}.json"
            return Outcome(error=f"no stored R values: {spec.id} is not in {where}" + ("" if doc else " (no such snapshot file)")
                           + "; run R (verify without --python-only) or write a snapshot (`metaharness snapshot`)")
        r = a["r"]
        return Outcome(values={q: _dec(v) for q, v in r.get("values", {}).items()}, warnings=list(r.get("warnings") or []),
                       error=r.get("error"), info={"nonconvergence": KINDS[spec.kind].r_nonconvergence(r.get("error")), "stored": True})
