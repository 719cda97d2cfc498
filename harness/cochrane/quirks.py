"""RevMan 5's numerical quirks: differences from an exact recomputation that have a known reason.

Each :class:`Quirk` says which stored quantities it concerns, when it applies
(a predicate on RevMan's stored value, the recomputed value and the
analysis context) and why. A difference is only called *explained* when a
quirk's predicate holds; anything else stays a difference.

Every quirk was found by comparing RevMan's own output with an exact
recomputation, on the RevMan files named in :attr:`Quirk.found_in`:

* ``Fleiss1993.rm5`` / ``Fleiss1993_CR.csv`` — the RevMan 5.0 sample files
  shipped with R's ``meta`` package (shared/reference/revman-samples/);
* ``stats-reference §1`` — the real Cochrane ``.rm5`` file analysed for
  shared/reference/stats-reference.md §1.5–1.8 (CMP-001.01, CMP-004.03 ...).

Each quirk is registered in the project's explained-differences registry
(``harness/compare/explained.toml``, read by :mod:`harness.compare.explained`)
under the same id, with its quantities, context, size bound, cause and
reference. :func:`explain` requires both: the registry entry must apply to
the quantity and context and cover the size of the difference, *and* this
module's structural predicate must hold (e.g. ``stored == |recomputed|`` for
``revman-abs-z``, which a size bound alone cannot express). Should the
registry lack an entry, the reason kept here is used, so that behaviour
never depends on another module's edits.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Quirk:
    id: str
    quantities: tuple  # RevMan attribute names (EFFECT_SIZE, Z, P_CHI2 ...)
    reason: str
    found_in: str
    applies: Callable  # (stored, computed, ctx) -> bool ; ctx: dict with df, k, fmt, tol


def _finite(x):
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def _abs_z(stored, computed, ctx):
    return _finite(stored) and _finite(computed) and computed < 0 and ctx["tol"].allows(stored, abs(computed))


def _chi2_p(stored, computed, ctx):
    """Within RevMan's χ² approximation error: ~1e-6 relative for ordinary p, ~2e-4 for p ≈ 1e-12."""
    if not (_finite(stored) and _finite(computed)) or computed <= 0:
        return False
    rel = abs(stored - computed) / computed
    bound = 1e-5 if computed >= 1e-8 else 1e-3
    # a CSV export adds its rounding on top
    return abs(stored - computed) <= bound * computed + (ctx["tol"].atol if ctx.get("fmt") == "csv" else 0.0) or rel <= bound


def _chi2_p_tiny(stored, computed, ctx):
    return _finite(stored) and _finite(computed) and computed < 1e-10 and stored < 1e-8


def _one_study_i2(stored, computed, ctx):
    return ctx.get("df") == 0 and _finite(stored)


def _df0_p(stored, computed, ctx):
    return ctx.get("df") == 0


QUIRKS = (
    Quirk(
        "revman-abs-z",
        ("Z",),
        "RevMan stores and prints |Z| (the test statistic without its sign; the direction is in the effect estimate)",
        "Fleiss1993_CR.csv analysis 1.2 (MD −0.709, Z 2.532); stats-reference §1.6",
        _abs_z,
    ),
    Quirk(
        "revman-chi2-p-approximation",
        ("P_CHI2", "P_Q"),
        "RevMan computes χ² p-values with an approximation accurate to about 1e-6 relative (about 2e-4 for p near 1e-12); the recomputed value is the exact upper tail",
        "Fleiss1993.rm5 CMP-001.01 (P_CHI2 5.8e-7 rel. from exact); Fleiss1993_CR.csv 1.2 (2.5e-7 rel.); stats-reference §1.8",
        _chi2_p,
    ),
    Quirk(
        "revman-chi2-p-tiny",
        ("P_CHI2", "P_Q"),
        "for a very large χ² RevMan's p-value approximation loses all relative accuracy (it can come out tiny, zero or negative); the exact p is below 1e-10",
        "stats-reference §1.8 (p ≈ 2e-12 off by 2e-4 relative)",
        _chi2_p_tiny,
    ),
    Quirk(
        "revman-one-study-i2",
        ("I2",),
        "one study (df = 0): heterogeneity is not applicable; RevMan computes 100·(Q − df)/Q on a Q that is only rounding residue and writes e.g. 99.99999999999999 (metafor gives 0, the Python RevMan engine NaN)",
        "stats-reference §1 (one-study subgroups of the analysed .rm5)",
        _one_study_i2,
    ),
    Quirk(
        "revman-df0-p",
        ("P_CHI2",),
        "one study (df = 0): the heterogeneity χ² test is undefined; RevMan writes a number, the engines give NaN (Python) or 1 (metafor)",
        "follows from revman-one-study-i2 (same analyses)",
        _df0_p,
    ),
)


def context(stored, computed, ctx) -> dict:
    """The registry context of one comparison (see explained.toml, RevMan 5 section)."""
    df = ctx.get("df")
    return {
        "source": "revman5",
        "df": "" if df is None else str(int(df)),
        "sign": "negative" if _finite(computed) and computed < 0 else "positive",
        "p_regime": "tiny" if _finite(computed) and computed < 1e-10 else "ordinary",
    }


def _registry():
    try:
        from ..compare import explained
    except ImportError:  # pragma: no cover - registry absent
        return {}
    return {e.id: e for e in explained.load()}


def explain(name: str, stored, computed, ctx) -> str | None:
    """The reason of the first quirk that explains this difference, or None.

    ``name`` is the full quantity name (``overall.Z``, ``subgroup[1: A].I2``);
    its last part is RevMan's attribute.
    """
    attr = name.rsplit(".", 1)[-1]
    reg = _registry()
    cx = context(stored, computed, ctx)
    for q in QUIRKS:
        if attr not in q.quantities or not q.applies(stored, computed, ctx):
            continue
        e = reg.get(q.id)
        if e is None:
            return f"{q.id}: {q.reason}"
        if not e.applies(name, cx):
            continue
        if _finite(stored) and _finite(computed):
            ad = abs(stored - computed)
            rd = ad / abs(stored) if stored != 0 else math.inf
            if not e.within(ad, rd):
                continue
            return e.reason(ad, rd)
        return f"{e.id}: {e.cause} (value undefined on one side) [{e.reference}]"
    return None
