"""Reported numbers as intervals: what a rounded or bounded printout allows.

A published number is text such as ``-0.37``, ``5.90``, ``-0.00``, ``0.04``
or ``< 0.0001``. Each becomes a :class:`Reported`: the text as printed, and
the closed interval of true values that would print that way.

* A number with *d* decimals stands for ``[x - 0.5e-d, x + 0.5e-d]``
  (round-half-either-way: both ends are included). ``-0.37`` is
  ``[-0.375, -0.365]``; ``43`` (an I² in percent) is ``[42.5, 43.5]``.
* A printed sign is kept: ``-0.00`` is ``[-0.005, 0]`` (the true value was
  negative), ``0.00`` is ``[0, 0.005]`` when ``nonnegative`` says the
  quantity cannot be negative, else ``[-0.005, 0.005]``.
* A bound ``< b`` / ``<= b`` is ``[lower, b]``; ``> b`` / ``>= b`` is
  ``[b, upper]``, where ``lower``/``upper`` are the quantity's natural limits
  (a p-value lives in [0, 1]). Strict and non-strict bounds are treated the
  same (a closed interval): the audit asks whether a report is *possible*,
  and the boundary itself has probability zero.

Precision comes from the text. TOML numbers lose trailing zeros (``5.90``
parses as 5.9), so published-results files give numbers as strings when the
printed precision matters, or give ``decimals`` (see
:mod:`harness.audit.published`).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

#: minus signs seen in published text (ASCII hyphen, U+2212, en dash)
_MINUS = "\u2212\u2013"
_NUM = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_BOUND = re.compile(r"^(<=|>=|<|>|≤|≥)\s*(.+)$")


@dataclass(frozen=True)
class Reported:
    """A published value: its text and the interval of values it stands for."""

    text: str
    lo: float
    hi: float
    bound: str | None = None  # "<", "<=", ">", ">=" for bounds, else None
    decimals: int | None = None

    @property
    def value(self) -> float:
        """The printed number (the bound itself for a bound)."""
        if self.bound in ("<", "<="):
            return self.hi
        if self.bound in (">", ">="):
            return self.lo
        return (self.lo + self.hi) / 2 if self.decimals is None else _parse_float(self.text)

    @property
    def is_bound(self) -> bool:
        return self.bound is not None

    def contains(self, x: float, slack: float = 1e-9) -> bool:
        """Whether ``x`` would print as this text (``slack`` absorbs binary floating point)."""
        s = slack * max(1.0, abs(x))
        return self.lo - s <= x <= self.hi + s

    def overlaps(self, lo: float, hi: float, slack: float = 1e-9) -> bool:
        s = slack * max(1.0, abs(lo), abs(hi))
        return lo <= self.hi + s and hi >= self.lo - s

    def __str__(self):
        return self.text


def _normalise(text: str) -> str:
    t = text.strip()
    for m in _MINUS:
        t = t.replace(m, "-")
    t = re.sub(r"^[pP]\s*", "", t)  # "p < 0.0001", "P = 0.04"
    t = t.lstrip("=").strip()
    return t.replace("≤", "<=").replace("≥", ">=")


def _parse_float(t: str) -> float:
    return float(_normalise(t))


def decimals_of(t: str) -> int:
    """Decimals printed in a plain number (``"5.90"`` -> 2, ``"43"`` -> 0, ``"1e-5"`` -> 5)."""
    m = _NUM.match(t)
    if not m:
        raise ValueError(t)
    if m.group(3):  # scientific: precision of the mantissa times the exponent
        mant = t[: t.lower().index("e")]
        d = len(mant.split(".")[1]) if "." in mant else 0
        return d - int(m.group(3)[1:])
    return len(t.split(".")[1]) if "." in t else 0


def parse_reported(value, *, decimals: int | None = None, lower: float = -math.inf, upper: float = math.inf) -> Reported:
    """A published number or bound -> :class:`Reported`.

    ``value``: a string as printed (``"-0.37"``, ``"< 0.0001"``, ``"p = 0.04"``)
    or a number (its precision is ``decimals`` when given, else the digits of
    its shortest representation). ``lower``/``upper``: the natural limits of
    the quantity (0 and 1 for a p-value), used for bounds and clipping.
    Raises ``ValueError`` with a readable reason.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        text = repr(float(value)) if decimals is None and isinstance(value, float) else str(value)
        if decimals is not None:
            text = f"{value:.{decimals}f}"
        elif isinstance(value, float) and text.endswith(".0"):
            text = text[:-2]
        t = text
    elif isinstance(value, str):
        text = value.strip()
        t = _normalise(text)
    else:
        raise ValueError(f"{value!r} is neither a number nor a string")
    if not t:
        raise ValueError("empty value")
    m = _BOUND.match(t)
    if m:
        op, rest = m.group(1), m.group(2).strip()
        if not _NUM.match(rest):
            raise ValueError(f"{text!r}: the bound {rest!r} is not a number")
        b = float(rest)
        if op.startswith("<"):
            return Reported(text, lower, b, op, None)
        return Reported(text, b, upper, op, None)
    if not _NUM.match(t):
        raise ValueError(f"{text!r} is not a number (nor a bound such as '< 0.0001')")
    x = float(t)
    d = decimals if decimals is not None and isinstance(value, (int, float)) else decimals_of(t)
    half = 0.5 * 10.0 ** (-d)
    lo, hi = x - half, x + half
    if x == 0:
        if t.startswith("-"):
            hi = 0.0
        elif t.startswith("+") or lower >= 0:
            lo = 0.0
    return Reported(text, max(lo, lower), min(hi, upper), None, d)
