"""Effect sizes from 2x2 tables (dichotomous outcomes), as metafor's ``escalc``.

A study is a 2x2 table: ``ai`` events and ``bi`` non-events in group 1,
``ci`` events and ``di`` non-events in group 2 (or ``ai, n1i, ci, n2i``:
events and totals, ``bi = n1i - ai``, ``di = n2i - ci``). Every function is
a pure function on arrays.

Zero cells (:func:`adjust_cells`; metafor R/escalc.r, the block after
"check for zero cells"): ``add`` (default 1/2) is added to the cells of

* ``to="only0"`` (default): the tables with at least one zero cell;
* ``to="all"``: every table;
* ``to="if0all"``: every table, if at least one table has a zero cell;
* ``to="none"``: no table (a log of 0 then gives +-Inf, which escalc turns
  into NA with the warning "Some 'yi' and/or 'vi' values equal to +-Inf.
  Recoded to NAs.").

``drop00=TRUE`` first sets the tables with no events or no non-events in
both groups (``ai = ci = 0`` or ``bi = di = 0``) to NA, so their yi/vi are NA.

Measures (cells after the adjustment: :math:`p_1 = a/n_1`, :math:`p_2 = c/n_2`):

* ``OR``: :math:`y = \\ln\\frac{p_1}{1-p_1} - \\ln\\frac{p_2}{1-p_2}`,
  :math:`v = 1/a + 1/b + 1/c + 1/d` (Woolf 1955);
* ``RR``: :math:`y = \\ln p_1 - \\ln p_2`, :math:`v = 1/a - 1/n_1 + 1/c - 1/n_2`;
* ``RD``: :math:`y = p_1 - p_2`, ``vtype="LS"``: :math:`p_1(1-p_1)/n_1 + p_2(1-p_2)/n_2`,
  ``"UB"``: the same with :math:`n-1`, ``"AV"``: with the n-weighted mean
  proportions :math:`\\bar p_1, \\bar p_2` of all tables in place of :math:`p_1, p_2`;
* ``PETO`` (Yusuf et al. 1985): :math:`E = (a+c)n_1/N`,
  :math:`V = (a+c)(b+d)(n_1/N)(n_2/N)/(N-1)`, :math:`y = (a - E)/V`, :math:`v = 1/V`.

Version differences (metafor 3.8-1 vs 4.8-0 and 5.0-1, read from their
``escalc``): 3.8-1 computes OR and RR with the "LS" variance whatever
``vtype`` says and knows "UB", "LS", "AV" for RD; from 4.8-0 OR and RR take
``vtype="LS"``, ``"AV"`` (:math:`1/(\\bar p_1(1-\\bar p_1)n_1) + 1/(\\bar p_2(1-\\bar p_2)n_2)`
for OR, :math:`(1-\\bar p_1)/(\\bar p_1 n_1) + (1-\\bar p_2)/(\\bar p_2 n_2)` for RR) and
``"H0"`` (the pooled proportion :math:`\\bar p = (a+c)/N` of the table:
:math:`(1/n_1 + 1/n_2)/(\\bar p(1-\\bar p))` for OR, :math:`(1/n_1+1/n_2)(1-\\bar p)/\\bar p`
for RR, :math:`(1/n_1+1/n_2)\\bar p(1-\\bar p)` for RD), and refuse the others.
Which release does what is :data:`harness.core.versions.CHANGES` (``binary_vtypes``,
``counted_na_warning``); 4.8-0 and 5.0-1 agree here.

References
----------
.. [1] Viechtbauer W (2010). Conducting meta-analyses in R with the metafor
       package. J Stat Softw 36(3). ``metafor::escalc`` (R/escalc.r).
.. [2] Yusuf S, Peto R, Lewis J, Collins R, Sleight P (1985). Beta blockade
       during and after myocardial infarction: an overview of the randomized
       trials. Prog Cardiovasc Dis 27:335-371.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .versions import Conventions, Version, conventions

#: metafor's binary measures implemented here
BINARY_MEASURES = ("OR", "RR", "RD", "PETO")
#: metafor's zero-cell rules (``to=``)
TO_RULES = ("only0", "all", "if0all", "none")
#: measures on the log scale (back-transformed with exp)
RATIO_MEASURES = ("OR", "RR", "PETO")

INF_WARNING = "Some 'yi' and/or 'vi' values equal to +-Inf. Recoded to NAs."


def rules_of(metafor: str | Version | Conventions | None = None) -> Conventions:
    """The conventions of metafor release ``metafor`` (a :class:`~harness.core.versions.Conventions`
    is taken as it is; default :data:`~harness.core.versions.DEFAULT_METAFOR`)."""
    return metafor if isinstance(metafor, Conventions) else conventions(metafor)


def _arr(x):
    return None if x is None else np.atleast_1d(np.asarray(x, dtype=float))


def two_by_two(ai, bi=None, ci=None, di=None, n1i=None, n2i=None):
    """The four cells ``(ai, bi, ci, di)`` as float arrays, from cells or from events and totals.

    Raises ``ValueError`` with metafor's messages for impossible tables
    (negative counts, more events than participants, ``n1i != ai + bi``).
    """
    ai, bi, ci, di, n1i, n2i = map(_arr, (ai, bi, ci, di, n1i, n2i))
    if ai is None or ci is None or (bi is None and n1i is None) or (di is None and n2i is None):
        raise ValueError("a 2x2 table needs ai, bi, ci, di (or ai, n1i, ci, n2i)")
    if bi is not None and n1i is not None and np.any(n1i != ai + bi):
        raise ValueError("One or more 'n1i' values are not equal to 'ai + bi'.")
    if di is not None and n2i is not None and np.any(n2i != ci + di):
        raise ValueError("One or more 'n2i' values are not equal to 'ci + di'.")
    if bi is None:
        bi = n1i - ai
    if di is None:
        di = n2i - ci
    ai, bi, ci, di = np.broadcast_arrays(ai, bi, ci, di)
    if np.any(ai > ai + bi) or np.any(ci > ci + di):
        raise ValueError("One or more event counts are larger than the corresponding group sizes.")
    if np.any(np.concatenate([ai, bi, ci, di]) < 0):
        raise ValueError("One or more counts are negative.")
    return ai.astype(float), bi.astype(float), ci.astype(float), di.astype(float)


def double_zero(ai, bi, ci, di):
    """Tables with no events in both groups or no non-events in both groups (metafor's ``id00``)."""
    return ((ai == 0) & (ci == 0)) | ((bi == 0) & (di == 0))


def any_zero(ai, bi, ci, di):
    """Tables with at least one zero cell (metafor's ``id0``; NaN cells count as no zero)."""
    return (ai == 0) | (bi == 0) | (ci == 0) | (di == 0)


def adjust_cells(ai, bi, ci, di, add=0.5, to="only0", drop00=False):
    """metafor's zero-cell handling: ``(ai, bi, ci, di)`` after ``drop00`` and ``add``/``to``.

    Dropped tables (``drop00``) become NaN in every cell. ``to`` is one of
    :data:`TO_RULES`; see the module docstring.
    """
    if to not in TO_RULES:
        raise ValueError(f"`to` must be one of {TO_RULES}, not {to!r}")
    ai, bi, ci, di = (np.array(x, dtype=float) for x in (ai, bi, ci, di))
    if drop00:
        d00 = double_zero(ai, bi, ci, di)
        for x in (ai, bi, ci, di):
            x[d00] = np.nan
    if to == "all":
        sel = np.ones(ai.shape, bool)
    elif to in ("only0", "if0all"):
        sel = any_zero(ai, bi, ci, di)
        if to == "if0all":
            sel = np.full(ai.shape, bool(np.any(sel)))
    else:
        sel = np.zeros(ai.shape, bool)
    return tuple(np.where(sel, x + add, x) for x in (ai, bi, ci, di))


def _wmean(x, w):
    """metafor's ``.wmean(x, w, na.rm=TRUE)``: sum(x w)/sum(w) over the pairs without NaN."""
    ok = ~(np.isnan(x) | np.isnan(w))
    return np.sum(x[ok] * w[ok]) / np.sum(w[ok])


def _check_vtype(measure, vtype, rules: Conventions):
    allowed = rules.binary_vtype_options(measure)
    if allowed is None:
        return "LS"  # the release ignores vtype for this measure
    if vtype not in allowed:
        names = ", ".join(f"'{v}'" for v in allowed)
        raise ValueError(f"For measure {measure!r} (metafor {rules.version}), 'vtype' must be one of {names}, not {vtype!r}.")
    return vtype


def binary_effects(measure, ai, bi, ci, di, vtype="LS", metafor=None):
    """yi and vi of ``measure`` from (already adjusted) cells; NaN propagates.

    No zero-cell handling and no Inf recoding here: see :func:`escalc_binary`.
    """
    if measure not in BINARY_MEASURES:
        raise ValueError(f"`measure` must be one of {BINARY_MEASURES}, not {measure!r}")
    rules = rules_of(metafor)
    vtype = _check_vtype(measure, vtype, rules)
    ai, bi, ci, di = (np.asarray(x, dtype=float) for x in (ai, bi, ci, di))
    n1i, n2i = ai + bi, ci + di
    ni = n1i + n2i
    with np.errstate(divide="ignore", invalid="ignore"):
        p1i, p2i = ai / n1i, ci / n2i
        if vtype == "AV":
            m1, m2 = _wmean(p1i, n1i), _wmean(p2i, n2i)
        ppi = (ai + ci) / ni
        if measure == "OR":
            yi = np.log(p1i / (1 - p1i)) - np.log(p2i / (1 - p2i))
            if vtype == "LS":
                vi = 1 / ai + 1 / bi + 1 / ci + 1 / di
            elif vtype == "AV":
                vi = 1 / (m1 * (1 - m1) * n1i) + 1 / (m2 * (1 - m2) * n2i)
            else:  # H0
                vi = 1 / (ppi * (1 - ppi)) * (1 / n1i + 1 / n2i)
        elif measure == "RR":
            yi = np.log(p1i) - np.log(p2i)
            if vtype == "LS":
                vi = 1 / ai - 1 / n1i + 1 / ci - 1 / n2i
            elif vtype == "AV":
                vi = (1 - m1) / (m1 * n1i) + (1 - m2) / (m2 * n2i)
            else:
                vi = (1 - ppi) / ppi * (1 / n1i + 1 / n2i)
        elif measure == "RD":
            yi = p1i - p2i
            if vtype == "UB":
                vi = p1i * (1 - p1i) / (n1i - 1) + p2i * (1 - p2i) / (n2i - 1)
            elif vtype == "LS":
                vi = p1i * (1 - p1i) / n1i + p2i * (1 - p2i) / n2i
            elif vtype == "AV":
                vi = m1 * (1 - m1) / n1i + m2 * (1 - m2) / n2i
            else:
                vi = (1 / n1i + 1 / n2i) * ppi * (1 - ppi)
        else:  # PETO
            xt, yt = ai + ci, bi + di
            Ei = xt * n1i / ni
            Vi = xt * yt * (n1i / ni) * (n2i / ni) / (ni - 1)
            yi = (ai - Ei) / Vi
            vi = 1 / Vi
    return yi, vi


@dataclass(frozen=True)
class BinaryEscalc:
    """escalc's output for 2x2 tables: yi, vi (NaN where metafor gives NA) and its warnings."""

    measure: str
    yi: np.ndarray
    vi: np.ndarray
    warnings: tuple[str, ...] = ()


def escalc_binary(measure, ai, bi, ci, di, add=0.5, to="only0", drop00=False, vtype="LS", metafor=None) -> BinaryEscalc:
    """metafor's ``escalc(measure, ai, bi, ci, di, add, to, drop00, vtype)``.

    Zero cells are handled by :func:`adjust_cells`, then :func:`binary_effects`;
    +-Inf becomes NaN with metafor's warning, NaN (0/0) becomes NaN silently,
    and a negative vi becomes NaN (yi kept), as in R/escalc.r after the
    measure blocks.
    """
    a, b, c, d = adjust_cells(ai, bi, ci, di, add, to, drop00)
    yi, vi = binary_effects(measure, a, b, c, d, vtype=vtype, metafor=metafor)
    yi, vi = np.array(yi, float), np.array(vi, float)
    warns = []
    inf = np.isinf(yi) | np.isinf(vi)
    if np.any(inf):
        warns.append(INF_WARNING)
        yi[inf] = np.nan
        vi[inf] = np.nan
    nan = np.isnan(yi) | np.isnan(vi)
    yi[nan] = np.nan
    vi[nan] = np.nan
    with np.errstate(invalid="ignore"):
        vi[vi < 0] = np.nan
    return BinaryEscalc(measure, yi, vi, tuple(warns))
