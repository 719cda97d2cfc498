"""2x2-table inputs shared by the kinds that take dichotomous data (``rma`` with
OR/RR/RD/PETO, ``rma.mh``, ``rma.peto``, ``revman-dich``).

A study's table comes from four columns: events ``ai`` and non-events ``bi``
in group 1, ``ci`` and ``di`` in group 2 -- or events and totals, ``ai, n1i,
ci, n2i`` (metafor's two ways of giving a table). Every cell is checked
before anything runs: a count must be a number >= 0, and events cannot
exceed the total; errors name the file, line and column.
"""
from __future__ import annotations

import numpy as np

from ..core.effect_sizes_binary import TO_RULES
from ..errors import InputError
from .base import Key, check_r_name


def table_keys(n_defaults=True):
    """Spec keys of the table columns (``n1i``/``n2i`` default to columns of
    those names when ``n_defaults``; ``bi``/``di`` have no default)."""
    col = lambda name, default, what: Key(str, default=default, check=check_r_name, help=f"column holding {what}")  # noqa: E731
    return {
        "ai": col("ai", "ai", "the events of group 1"),
        "bi": col("bi", None, "the non-events of group 1 (or give n1i)"),
        "ci": col("ci", "ci", "the events of group 2"),
        "di": col("di", None, "the non-events of group 2 (or give n2i)"),
        "n1i": col("n1i", "n1i" if n_defaults else None, "the size of group 1"),
        "n2i": col("n2i", "n2i" if n_defaults else None, "the size of group 2"),
    }


def zero_cell_keys(drop00_default: bool):
    """metafor's ``add``, ``to`` and ``drop00`` (escalc's defaults: 1/2, "only0",
    FALSE; rma.mh/rma.peto: the same add and to, drop00 TRUE)."""
    return {
        "add": Key(float, default=0.5, help="value added to the cells of tables with zeros (metafor `add`)"),
        "to": Key(str, default="only0", choices=TO_RULES, expand=True, help="which tables get `add` (metafor `to`)"),
        "drop00": Key(bool, default=drop00_default, expand=True, help="leave out tables without events or without non-events in both groups (metafor `drop00`)"),
    }


def uses_cells(spec) -> bool:
    return spec.get("bi") is not None or spec.get("di") is not None


def check_tables(spec):
    """Column presence: ai and ci, and either bi and di or n1i and n2i."""
    for role in ("ai", "ci"):
        if spec.get(role) is None:
            raise InputError(f"analysis {spec.id}: `{role}` (a column name) is required for a 2x2 table", spec.fixture)
    if uses_cells(spec):
        if spec.get("bi") is None or spec.get("di") is None:
            raise InputError(f"analysis {spec.id}: give both `bi` and `di` (non-events), or neither and `n1i`, `n2i` (group sizes)", spec.fixture)
        roles = ("ai", "bi", "ci", "di")
    else:
        if spec.get("n1i") is None or spec.get("n2i") is None:
            raise InputError(f"analysis {spec.id}: a 2x2 table needs `bi` and `di` (non-events) or `n1i` and `n2i` (group sizes)", spec.fixture)
        roles = ("ai", "n1i", "ci", "n2i")
    for role in roles:
        spec.dataset.require(spec[role], f"the `{role}` column")
    table_inputs(spec)


def table_inputs(spec) -> dict:
    """The cells ``{"ai", "bi", "ci", "di"}`` as float arrays (validated)."""
    ds = spec.dataset
    count = lambda role, what: ds.numeric(spec[role], lower=0, what=what)  # noqa: E731
    ai = count("ai", "an event count")
    ci = count("ci", "an event count")
    if uses_cells(spec):
        bi = count("bi", "a count of non-events")
        di = count("di", "a count of non-events")
    else:
        out = []
        for ev, role, evrole in ((ai, "n1i", "ai"), (ci, "n2i", "ci")):
            n = count(role, "a group size")
            bad = np.flatnonzero(ev > n)
            if bad.size:
                i = int(bad[0])
                raise InputError(f"{ev[i]:g} events ({spec[evrole]}) but a group of {n[i]:g}: events cannot exceed the group size",
                                 ds.path, ds.line_of(i), spec[role])
            out.append(n - ev)
        bi, di = out
    for cells, g in (((ai, bi), 1), ((ci, di), 2)):
        empty = np.flatnonzero(cells[0] + cells[1] == 0)
        if empty.size:
            i = int(empty[0])
            col = spec["n1i" if g == 1 else "n2i"] if not uses_cells(spec) else spec["bi" if g == 1 else "di"]
            raise InputError(f"group {g} has no participants (an empty arm); metafor cannot compute an effect for it", ds.path, ds.line_of(i), col)
    return {"ai": ai, "bi": bi, "ci": ci, "di": di}
