"""Per-quantity comparison of two engines' outcomes.

Each quantity gives one :class:`Record` with both values, the absolute and
relative difference, the tolerance and a verdict:

``agree``
    both finite and within tolerance, or undefined (NaN) on *both* sides.
``differ``
    beyond tolerance, or NaN/infinite on one side only.
``explained``
    beyond tolerance for a known, documented reason (the record carries it).
``missing``
    reported by one engine only.
``engine-error``
    an engine failed on this analysis: nothing is compared, and the record
    carries the engine's message. Never agreement.
``warning``
    an engine warned on this analysis and the other did not warn alike; the
    warnings are listed. Never agreement.

A :class:`Record` compares two sides, named by :attr:`Record.sides`
(``("python", "r")`` for the engine comparison, the common case;
``("python", "revman")`` for a recomputation against RevMan's stored value).
A :class:`QuantityRecord` holds one quantity seen from more than two sides
and the comparisons made between them: RevMan's stored value against the
Python and the R recomputation (two comparisons, three sides), or Python
against R with RevMan's value shown beside them. Its verdict is the worst
of its comparisons (:func:`worst_verdict`), so the same tolerances, registry
of explained differences and writers serve both kinds of comparison.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from .tolerance import Tolerance

VERDICTS = ("agree", "explained", "differ", "missing", "engine-error", "warning")
OK_VERDICTS = ("agree", "explained")
#: most severe first: the verdict of a set of records is the first of these present
SEVERITY = ("engine-error", "differ", "missing", "warning", "explained", "agree")
#: how a side is called in messages
SIDE_NAMES = {"python": "Python", "r": "R", "revman": "RevMan"}


def worst_verdict(verdicts, empty: str = "engine-error") -> str:
    """The most severe of ``verdicts`` (:data:`SEVERITY`); ``empty`` when there are none."""
    vs = set(verdicts)
    if not vs:
        return empty
    return next((v for v in SEVERITY if v in vs), sorted(vs)[0])


def side_name(side: str) -> str:
    return SIDE_NAMES.get(side, side)


@dataclass(frozen=True)
class Record:
    name: str
    python: float | None
    r: float | None
    abs_diff: float | None
    rel_diff: float | None
    tolerance: Tolerance | None
    verdict: str
    explanation: str | None = None
    #: what the two values are: ``python`` holds the first side's value, ``r`` the
    #: second's (the reference of ``rel_diff``), whatever their names
    sides: tuple[str, str] = ("python", "r")

    @property
    def value(self) -> float | None:
        """The first side's value (the one being checked)."""
        return self.python

    @property
    def reference(self) -> float | None:
        """The second side's value (the reference of ``rel_diff``)."""
        return self.r

    def to_dict(self) -> dict[str, Any]:
        a, b = self.sides
        out = {
            "name": self.name,
            a: _json_num(self.python),
            b: _json_num(self.r),
            "abs_diff": _json_num(self.abs_diff),
            "rel_diff": _json_num(self.rel_diff),
            "tolerance": None if self.tolerance is None else {"rtol": self.tolerance.rtol, "atol": self.tolerance.atol},
            "verdict": self.verdict,
            "explanation": self.explanation,
        }
        if self.sides != ("python", "r"):
            out["sides"] = list(self.sides)
        return out


def _json_num(x):
    """JSON has no NaN/Infinity: NaN -> null, +-inf -> "inf"/"-inf"."""
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


_new_object, _set_attribute = object.__new__, object.__setattr__


def _record(name, python, r, abs_diff, rel_diff, tolerance, verdict, explanation=None, sides=("python", "r")) -> Record:
    """``Record(...)`` of the same fields, built without the frozen dataclass's ``__init__``.

    That ``__init__`` sets each of the nine fields through ``object.__setattr__`` (frozen); setting
    the instance dict at once makes an equal record in half the time -- an analysis has a record
    per quantity, hundreds per campaign dataset.
    """
    rec = _new_object(Record)
    _set_attribute(rec, "__dict__", {"name": name, "python": python, "r": r, "abs_diff": abs_diff, "rel_diff": rel_diff,
                                     "tolerance": tolerance, "verdict": verdict, "explanation": explanation, "sides": sides})
    return rec


def compare_values(name: str, py: float, r: float, tol: Tolerance, sides: tuple[str, str] = ("python", "r")) -> Record:
    """One quantity, both values present; ``r`` (the second side) is the reference of the relative difference."""
    py, r = float(py), float(r)
    ad = abs(py - r)
    if ad < math.inf:  # both finite (a NaN or an infinity on either side makes ad NaN or inf): the common case first
        rd = ad / abs(r) if r != 0 else (0.0 if ad == 0 else math.inf)
        return _record(name, py, r, ad, rd, tol, "agree" if tol.allows(py, r) else "differ", None, sides)
    py_nan, r_nan = math.isnan(py), math.isnan(r)
    if py_nan and r_nan:
        both = "in both engines" if sides == ("python", "r") else f"for {side_name(sides[0])} and {side_name(sides[1])}"
        return Record(name, py, r, None, None, tol, "agree", f"undefined {both}", sides)
    if py_nan or r_nan:
        return Record(name, py, r, None, None, tol, "differ", f"NaN (undefined) in {side_name(sides[0] if py_nan else sides[1])} only", sides)
    if math.isinf(py) or math.isinf(r):
        same = py == r
        return Record(name, py, r, 0.0 if same else math.inf, 0.0 if same else math.inf, tol, "agree" if same else "differ", None, sides)
    ad = abs(py - r)
    rd = ad / abs(r) if r != 0 else (0.0 if ad == 0 else math.inf)
    return Record(name, py, r, ad, rd, tol, "agree" if tol.allows(py, r) else "differ", None, sides)


def explained_record(rec: Record, why: str | None) -> Record:
    """``rec`` with verdict ``explained`` and the reason, when ``why`` is given and it differs."""
    if not why or rec.verdict != "differ":
        return rec
    return replace(rec, verdict="explained", explanation=why)


@dataclass(frozen=True)
class QuantityRecord:
    """One quantity seen from several sides, and the comparisons made between them.

    ``values`` maps each side (``revman``, ``python``, ``r``) to its value
    (None: that side has none); ``comparisons`` are the :class:`Record` objects between
    two of the sides. A side shown but compared with nothing (RevMan's value
    when a preset re-runs the analysis) is in ``values`` only; ``note`` says
    what it shows.
    """

    name: str
    values: dict
    comparisons: tuple
    tolerance: Tolerance | None = None
    note: str | None = None

    @property
    def verdict(self) -> str:
        return worst_verdict([c.verdict for c in self.comparisons])

    @property
    def explanation(self) -> str | None:
        """The explanations of the comparisons, each said once (prefixed by the side when they differ)."""
        parts = {}
        for c in self.comparisons:
            if not c.explanation or (c.verdict == "agree" and self.verdict != "agree"):
                continue
            key = c.explanation.split(":", 1)[0] if c.verdict == "explained" else c.explanation
            parts.setdefault(key, []).append(c)
        out = []
        for recs in parts.values():
            c = recs[0]
            whole = len(recs) == len(self.comparisons)
            out.append(c.explanation if whole else f"{'/'.join(side_name(r.sides[0]) for r in recs)}: {c.explanation}")
        if self.note:
            out.append(self.note)
        return "; ".join(out) or None

    @property
    def rel_diff(self) -> float | None:
        """The largest relative difference among the comparisons (None when none was measured)."""
        xs = [c.rel_diff for c in self.comparisons if c.rel_diff is not None and not math.isnan(c.rel_diff)]
        return max(xs) if xs else None

    @property
    def abs_diff(self) -> float | None:
        xs = [c.abs_diff for c in self.comparisons if c.abs_diff is not None and not math.isnan(c.abs_diff)]
        return max(xs) if xs else None

    def value(self, side: str) -> float | None:
        return self.values.get(side)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **{side: _json_num(v) for side, v in self.values.items()},
            "abs_diff": _json_num(self.abs_diff),
            "rel_diff": _json_num(self.rel_diff),
            "tolerance": None if self.tolerance is None else {"rtol": self.tolerance.rtol, "atol": self.tolerance.atol},
            "verdict": self.verdict,
            "explanation": self.explanation,
            "comparisons": [c.to_dict() for c in self.comparisons],
        }


def compare_to_reference(name: str, reference_side: str, reference: float | None, values: dict, tol: Tolerance,
                         explain=None, errors: dict | None = None, reference_missing: str | None = None) -> QuantityRecord:
    """Each side of ``values`` against the ``reference`` (e.g. RevMan's stored value).

    ``values`` maps a side to its value (None: not computed by that side, a
    ``missing`` comparison); ``errors`` maps a side that failed to its message
    (an ``engine-error`` comparison). ``explain(record)`` gives the reason of
    a difference (a registry entry's, :mod:`harness.compare.explained`) or
    None. With no reference value every comparison is ``missing``, with
    ``reference_missing`` as the reason.
    """
    errors = errors or {}
    recs = []
    for side, v in values.items():
        sides = (side, reference_side)
        if side in errors:
            recs.append(Record(name, None, reference, None, None, tol, "engine-error", errors[side], sides))
        elif reference is None:
            recs.append(Record(name, v, None, None, None, tol, "missing", reference_missing or f"no {side_name(reference_side)} value", sides))
        elif v is None:
            recs.append(Record(name, None, reference, None, None, tol, "missing", f"not computed by {side_name(side)}", sides))
        else:
            rec = compare_values(name, v, reference, tol, sides)
            if rec.verdict == "differ" and explain is not None:
                rec = explained_record(rec, explain(rec))
            recs.append(rec)
    shown = {reference_side: reference, **{s: (None if s in errors else v) for s, v in values.items()}}
    return QuantityRecord(name, shown, tuple(recs), tol)


@dataclass
class AnalysisComparison:
    """Everything known about one analysis after both engines ran."""

    id: str
    kind: str
    fixture: str
    records: list[Record] = field(default_factory=list)
    python_error: str | None = None
    r_error: str | None = None
    python_warnings: list[str] = field(default_factory=list)
    r_warnings: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    #: forest/funnel plot data (harness.reports.plotdata; JSON-ready), filled by verify
    plot: dict[str, Any] | None = None
    #: studies left out before both engines ran ([dataset] na = "omit"): line, study, columns, reason
    dropped: list[dict[str, Any]] = field(default_factory=list)
    #: condition number of the weighted design (the kind's ``condition_number``), None without one;
    #: it bounds how far rounding can move the numbers (the snapshot check's tolerances)
    condition: float | None = None

    @property
    def verdict(self) -> str:
        return worst_verdict([r.verdict for r in self.records])

    @property
    def ok(self) -> bool:
        return self.verdict in OK_VERDICTS

    def worst(self) -> Record | None:
        """The compared record with the largest relative difference."""
        best = None
        for r in self.records:  # the first of the largest, as max() gives it, in one pass
            d = r.rel_diff
            if d is not None and not math.isnan(d) and (best is None or d > best.rel_diff):
                best = r
        return best

    def to_dict(self) -> dict[str, Any]:
        w = self.worst()
        return {
            "id": self.id,
            "kind": self.kind,
            "fixture": self.fixture,
            "verdict": self.verdict,
            "options": self.options,
            "python_error": self.python_error,
            "r_error": self.r_error,
            "python_warnings": self.python_warnings,
            "r_warnings": self.r_warnings,
            "max_rel_diff": _json_num(w.rel_diff) if w else None,
            "seconds": self.seconds,
            "plot": self.plot,
            "dropped": self.dropped,
            "quantities": [r.to_dict() for r in self.records],
        }


def compare_outcomes(kind, spec, py, r) -> AnalysisComparison:
    """Compare the Python and R :class:`~harness.analyses.base.Outcome` of one analysis."""
    out = AnalysisComparison(spec.id, kind.name, str(spec.fixture), options=dict(spec.options))
    out.dropped = [dict(d) for d in getattr(spec, "dropped", ())]
    out.python_error, out.r_error = py.error, r.error
    out.python_warnings, out.r_warnings = list(py.warnings), list(r.warnings)
    if py.info.get("nonconvergence") and r.info.get("nonconvergence"):
        # Both engines say the iteration did not converge: that outcome is what
        # is compared (and agrees); no number is reported by either side.
        why = f"both engines report non-convergence (Python: {py.error}; R: {r.error})"
        out.records.append(Record("converged", 0.0, 0.0, 0.0, 0.0, None, "agree", why))
        return out
    if (py.error is None) != (r.error is None):
        why = kind.explain_error(spec, py, r)
        if why:  # an error on one side for a documented, measured reason: explained, never agreement
            side = "Python" if py.error is not None else "R"
            out.records.append(Record("converged", float(py.error is None), float(r.error is None), None, None, None, "explained",
                                      f"{why}; {side} only: {py.error or r.error}"))
            return out
    if py.error is not None or r.error is not None:
        msg = "; ".join(f"{side}: {e}" for side, e in (("Python", py.error), ("R", r.error)) if e is not None)
        names = list(py.values) + [n for n in r.values if n not in py.values]
        if not names:
            names = ["(analysis)"]
        for n in names:
            a, b = py.values.get(n), r.values.get(n)
            out.records.append(Record(n, a, b, None, None, None, "engine-error", msg))
        return out
    kind.remember_python(spec, py)
    tolerance = _tolerances(kind, spec)
    records, r_values = out.records, r.values
    for n, a in py.values.items():
        tol = tolerance(n)
        if n not in r_values:
            records.append(Record(n, a, None, None, None, tol, "missing", "not reported by R"))
            continue
        rec = compare_values(n, a, r_values[n], tol)
        if rec.verdict == "differ":
            rec = explained_record(rec, kind.explain(spec, rec))
        records.append(rec)
    for n, b in r_values.items():
        if n not in py.values:
            records.append(Record(n, None, b, None, None, tolerance(n), "missing", "not reported by Python"))
    if py.warnings or r.warnings:
        same = sorted(py.warnings) == sorted(r.warnings)
        text = "; ".join([*(f"Python: {w}" for w in py.warnings), *(f"R: {w}" for w in r.warnings)])
        out.records.append(Record("warnings", float(len(py.warnings)), float(len(r.warnings)), None, None, None, "agree" if same else "warning", text))
    return out


def _tolerances(kind, spec):
    """``kind.tolerance(spec, name)`` for the quantities of one analysis, each base name's once.

    An analysis reports a quantity per study or coefficient (``yi[3]``, ``beta[x1]``): a kind's
    tolerance depends on a quantity's name only through its base name (``yi``;
    :meth:`~harness.analyses.base.AnalysisKind.tolerance_class`) and the spec's overrides, so
    unless the spec overrides that exact name the first one's tolerance serves every quantity
    of the base (saves a tolerance lookup per quantity; hundreds per campaign dataset).
    """
    memo, exact = {}, spec.tolerances

    def tolerance(name):
        if exact and name in exact:
            return kind.tolerance(spec, name)
        base = name.split("[", 1)[0]
        tol = memo.get(base)
        if tol is None:
            tol = memo[base] = kind.tolerance(spec, name)
        return tol

    return tolerance
