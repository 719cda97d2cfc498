"""Audit findings: one check, its verdict and a one-line reason.

Verdicts:

``consistent``
    the check was made and what was reported passes it (at the reported
    precision: every rounded number stands for an interval of values).
``inconsistent``
    the check was made and no value compatible with the reported precision
    passes it; or (robustness) the conclusion changes under another
    reasonable method.
``cannot check``
    the check needs something that is not available (a number the paper does
    not report, study-level data that is not public, an engine that cannot
    run). It is never counted as consistent; the reason says what is missing.
"""
from __future__ import annotations

from dataclasses import dataclass

VERDICTS = ("consistent", "inconsistent", "cannot check")
SECTIONS = ("reported", "recomputed", "robustness")


@dataclass(frozen=True)
class Finding:
    outcome: str  # outcome id (with "/subgroup" or "/subgroup=label" for subgroups)
    section: str  # reported | recomputed | robustness
    check: str  # short name of the check
    verdict: str
    reason: str  # one line

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")
        if self.section not in SECTIONS:
            raise ValueError(f"unknown section {self.section!r}")

    def to_dict(self):
        return {"outcome": self.outcome, "section": self.section, "check": self.check, "verdict": self.verdict, "reason": self.reason}


def fmt(x, d=6):
    """A number for a reason line (up to ``d`` significant digits beyond the point)."""
    if x is None:
        return "—"
    x = float(x)
    if x != x:
        return "NaN"
    if x == 0:
        return "0"
    if abs(x) < 1e-3 or abs(x) >= 1e6:
        return f"{x:.{d - 1}e}"
    return f"{x:.{d}g}" if abs(x) >= 1 else f"{x:.{d}f}".rstrip("0").rstrip(".")


def fmt_iv(lo, hi, d=6):
    return f"[{fmt(lo, d)}, {fmt(hi, d)}]"
