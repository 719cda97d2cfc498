"""Model matrices from moderator columns, coded as R's ``model.matrix`` codes them.

One function, :func:`model_matrix`, used by the command line (the ``rma`` kind reads
the columns of a CSV file) and by the Python API (columns of a pandas DataFrame), so
that the same data give the same coefficients, with the same names, everywhere.

Coding (R's default treatment contrasts, ``contr.treatment``):

* a numeric moderator is one column, named as the moderator;
* a categorical moderator (a factor) with levels :math:`l_1, \\dots, l_L` is the
  indicator columns ``<name><l_2>``, ..., ``<name><l_L>`` (the first level is the
  reference) when the model has an intercept; in a model without intercept the
  *first* categorical moderator gets a column for every level (R's
  ``model.matrix(~ f - 1)``), later ones drop their first level again.

The level order is the caller's (``levels``), else the sorted distinct values
(Python's code-point order, which is R's ``sort`` in the C locale). Passing that
order to R as ``factor(levels=)`` makes both engines code the same dummies
whatever R's locale would sort.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Design:
    """A model matrix and the names of its columns.

    ``factors`` maps each categorical moderator to its level order (what R's
    ``factor(levels=)`` needs to code the same columns)."""

    X: np.ndarray
    names: tuple[str, ...]
    factors: dict[str, tuple[str, ...]] = field(default_factory=dict)


def model_matrix(columns: Mapping[str, Sequence], k: int, *, intercept=True, intercept_name="intrcpt",
                 categorical=(), levels: Mapping[str, Sequence[str]] | None = None) -> Design:
    """The model matrix of ``intercept + columns`` (see the module docstring).

    Parameters
    ----------
    columns : mapping name -> values (length k), in model order
        Numeric moderators as numbers; categorical ones (named in ``categorical``)
        as strings.
    categorical : collection of names
        The moderators to code as factors.
    levels : mapping name -> level order, optional
        For categorical moderators; each value of the column exactly once.

    Raises
    ------
    ValueError
        ``levels`` that do not list each value of the column once, or a
        moderator of the wrong length.
    """
    levels = dict(levels or {})
    cols, names, factors = [], [], {}
    if intercept:
        cols.append(np.ones(k))
        names.append(intercept_name)
    full_done = intercept
    for name, values in columns.items():
        if len(values) != k:
            raise ValueError(f"moderator {name!r} has {len(values)} values for {k} studies")
        if name in categorical:
            vals = [str(v) for v in values]
            seen = sorted(set(vals))
            order = levels.get(name)
            if order is None:
                order = seen
            elif sorted(set(order)) != seen or len(order) != len(seen):
                raise ValueError(f"`levels` for {name!r} must list each value of the column once; the column has {seen}")
            order = [str(x) for x in order]
            for lev in (order if not full_done else order[1:]):
                cols.append(np.array([1.0 if v == lev else 0.0 for v in vals]))
                names.append(f"{name}{lev}")
            full_done = True
            factors[name] = tuple(order)
        else:
            cols.append(np.asarray(values, float))
            names.append(name)
    for name in levels:
        if name not in factors:
            raise ValueError(f"`levels` names {name!r}, which is not a categorical moderator")
    X = np.column_stack(cols) if cols else np.empty((k, 0))
    return Design(X, tuple(names), factors)


def redundant_columns(X, names, rtol=1e-7) -> list[str]:
    """Columns of the model matrix ``X`` that are linear combinations of earlier ones.

    Mirrors what metafor does before dropping "redundant predictors" (it fits
    ``lm(yi ~ X - 1)`` and drops the coefficients R's pivoting QR leaves NA,
    tolerance 1e-7): columns are taken left to right and one that does not
    raise the rank of the column-normalised matrix (singular values below
    ``rtol`` times the largest) is redundant. The command line and the Python API drop them with metafor's
    warning ("Redundant predictors dropped from the model.").
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] == 0:
        return []
    norms = np.linalg.norm(X, axis=0)
    keep, out = [], []
    for j in range(X.shape[1]):
        if not np.isfinite(norms[j]) or norms[j] == 0:
            out.append(names[j])
            continue
        if not keep:
            # one column of finite, non-zero norm: its single singular value is the norm of
            # the normalised column, about 1, never <= rtol times itself (the SVD is not needed)
            keep.append(j)
            continue
        cols = X[:, keep + [j]] / norms[keep + [j]]
        sv = np.linalg.svd(cols, compute_uv=False)
        if len(sv) < len(keep) + 1 or sv[-1] <= rtol * sv[0]:
            out.append(names[j])
        else:
            keep.append(j)
    return out
