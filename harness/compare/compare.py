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
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .tolerance import Tolerance

VERDICTS = ("agree", "explained", "differ", "missing", "engine-error", "warning")
OK_VERDICTS = ("agree", "explained")


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "python": _json_num(self.python),
            "r": _json_num(self.r),
            "abs_diff": _json_num(self.abs_diff),
            "rel_diff": _json_num(self.rel_diff),
            "tolerance": None if self.tolerance is None else {"rtol": self.tolerance.rtol, "atol": self.tolerance.atol},
            "verdict": self.verdict,
            "explanation": self.explanation,
        }


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


def compare_values(name: str, py: float, r: float, tol: Tolerance) -> Record:
    """One quantity, both values present."""
    py, r = float(py), float(r)
    py_nan, r_nan = math.isnan(py), math.isnan(r)
    if py_nan and r_nan:
        return Record(name, py, r, None, None, tol, "agree", "undefined in both engines")
    if py_nan or r_nan:
        return Record(name, py, r, None, None, tol, "differ", f"NaN (undefined) in {'Python' if py_nan else 'R'} only")
    if math.isinf(py) or math.isinf(r):
        same = py == r
        return Record(name, py, r, 0.0 if same else math.inf, 0.0 if same else math.inf, tol, "agree" if same else "differ")
    ad = abs(py - r)
    rd = ad / abs(r) if r != 0 else (0.0 if ad == 0 else math.inf)
    return Record(name, py, r, ad, rd, tol, "agree" if tol.allows(py, r) else "differ")


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
        vs = {r.verdict for r in self.records}
        if not self.records:
            return "engine-error"
        for v in ("engine-error", "differ", "missing", "warning"):
            if v in vs:
                return v
        return "explained" if "explained" in vs else "agree"

    @property
    def ok(self) -> bool:
        return self.verdict in OK_VERDICTS

    def worst(self) -> Record | None:
        """The compared record with the largest relative difference."""
        rs = [r for r in self.records if r.rel_diff is not None and not math.isnan(r.rel_diff)]
        return max(rs, key=lambda r: r.rel_diff) if rs else None

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
    if py.error is not None or r.error is not None:
        msg = "; ".join(f"{side}: {e}" for side, e in (("Python", py.error), ("R", r.error)) if e is not None)
        names = list(py.values) + [n for n in r.values if n not in py.values]
        if not names:
            names = ["(analysis)"]
        for n in names:
            a, b = py.values.get(n), r.values.get(n)
            out.records.append(Record(n, a, b, None, None, None, "engine-error", msg))
        return out
    for n, a in py.values.items():
        tol = kind.tolerance(spec, n)
        if n not in r.values:
            out.records.append(Record(n, a, None, None, None, tol, "missing", "not reported by R"))
            continue
        rec = compare_values(n, a, r.values[n], tol)
        if rec.verdict == "differ":
            why = kind.explain(spec, rec)
            if why:
                rec = Record(rec.name, rec.python, rec.r, rec.abs_diff, rec.rel_diff, rec.tolerance, "explained", why)
        out.records.append(rec)
    for n, b in r.values.items():
        if n not in py.values:
            out.records.append(Record(n, None, b, None, None, kind.tolerance(spec, n), "missing", "not reported by Python"))
    if py.warnings or r.warnings:
        same = sorted(py.warnings) == sorted(r.warnings)
        text = "; ".join([*(f"Python: {w}" for w in py.warnings), *(f"R: {w}" for w in r.warnings)])
        out.records.append(Record("warnings", float(len(py.warnings)), float(len(r.warnings)), None, None, None, "agree" if same else "warning", text))
    return out
