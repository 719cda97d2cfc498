"""RevMan 5's numerical quirks: the registry context of a stored-vs-recomputed comparison.

A value RevMan stored (``.rm5``) or exported (CSV) is compared with an exact
recomputation like any other comparison (:func:`harness.compare.compare.compare_to_reference`);
a difference beyond the tolerance is explained only by an entry of the
project's registry of explained differences (``harness/compare/explained.toml``,
section "RevMan 5's own numerical quirks", read by
:mod:`harness.compare.explained`) whose conditions and size bound both hold.

This module gives that registry the facts its conditions test, measured on
the comparison itself (:func:`context`):

``source``      ``"revman5"``
``df``          the heterogeneity df of the pooled block (``subgroups.*``: the
                number of non-empty subgroups − 1)
``abs_agrees``  ``"yes"`` when RevMan's value equals ``|recomputed|`` within the
                comparison's tolerance and the recomputed value is negative
                (RevMan stores |Z|: ``revman-abs-z``)
``stored``      ``"zero"`` / ``"one"`` when RevMan's value is exactly 0 / 1
                (P(Z) underflow; P = 1 for a test with df = 0), else ``"other"``
``fmt``         ``"rm5"`` or ``"csv"``

Every entry was established on RevMan's own output (the registry's
``reference`` names the file, analysis and values) and is tested on those
values in ``tests/test_cochrane_quirks.py``.
"""
from __future__ import annotations

import math

from ..compare import explained

#: the registry ids of RevMan's quirks (every one is in explained.toml, tested)
QUIRK_IDS = (
    "revman-abs-z",
    "revman-normal-p-approximation",
    "revman-normal-p-underflow",
    "revman-chi2-p-approximation",
    "revman-one-study-i2",
    "revman-df0-p",
)


def _finite(x) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def context(record, df: int | None, fmt: str = "rm5") -> dict:
    """The registry context of one comparison (a :class:`~harness.compare.compare.Record`
    whose reference — second side — is RevMan's value)."""
    stored, computed = record.reference, record.value
    abs_agrees = (
        _finite(stored) and _finite(computed) and computed < 0 and record.tolerance is not None
        and record.tolerance.allows(abs(computed), stored)
    )
    return {
        "source": "revman5",
        "df": "" if df is None else str(int(df)),
        "abs_agrees": "yes" if abs_agrees else "no",
        "stored": "zero" if stored == 0 else "one" if stored == 1 else "other",
        "fmt": fmt,
    }


def explain(record, df: int | None, fmt: str = "rm5") -> str | None:
    """The registry's reason for this stored-vs-recomputed difference, or None."""
    return explained.explain(context(record, df, fmt), record)
