"""Arguments of the Python API: columns of a data frame (metafor's ``data=``) or arrays,
checked as metafor checks them, and missing values handled as metafor's ``na.action``.

* With ``data=df`` a string argument names a column (``m1i="m1"``, ``slab="study"``,
  ``mods=["weeks", "delivery"]``); without ``data`` arguments are array-like.
* Moderators: numeric columns are used as they are; text, boolean and categorical
  (pandas ``category``) columns are factors, dummy-coded by
  :func:`harness.core.design.model_matrix` (the command line's coding). A pandas
  categorical keeps its category order as the level order (R's factor levels);
  other factors use the sorted distinct values.
* Missing values (NaN, None, pandas NA) in any argument used: ``na_action="fail"``
  (the default, as the command line's default) raises an error naming the
  studies; ``"omit"`` leaves those studies out with a :class:`StudiesOmittedWarning`
  naming them (metafor's ``na.action = "na.omit"``: "Studies with NAs omitted from
  model fitting.").
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from difflib import get_close_matches

import numpy as np
import pandas as pd

from ..core.design import Design, model_matrix

NA_ACTIONS = ("fail", "omit")


class StudiesOmittedWarning(UserWarning):
    """Studies were left out because of missing values (``na_action="omit"``)."""


class RmaWarning(UserWarning):
    """A warning metafor gives for the same model (its text is kept in ``fit.warnings``)."""


def check_na_action(na_action):
    if na_action not in NA_ACTIONS:
        raise ValueError(f"`na_action` must be one of {NA_ACTIONS}, not {na_action!r}")


def _column(data, arg: str, value):
    if value not in data.columns:
        near = get_close_matches(str(value), [str(c) for c in data.columns], n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ValueError(f"`{arg}`: column {value!r} is not in `data`; its columns are {', '.join(map(str, data.columns))}{hint}")
    return data[value]


def raw(arg: str, value, data, k=None):
    """The values of an argument: a column of ``data`` (a string names it) or the array given."""
    if value is None:
        return None
    if isinstance(value, str):
        if data is None:
            raise ValueError(f"`{arg}` = {value!r} names a column, but no `data` was given (pass data=<DataFrame>, or the values themselves)")
        return _column(_frame(data), arg, value)
    if isinstance(value, (pd.Series, pd.Index)):
        return value
    return np.asarray(value) if not np.isscalar(value) else np.asarray([value])


def _frame(data):
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, Mapping):
        return pd.DataFrame(dict(data))
    raise TypeError(f"`data` must be a pandas DataFrame (or a mapping of columns), not {type(data).__name__}")


def numeric(arg: str, value, data) -> np.ndarray | None:
    """A numeric argument as a float array (NaN for missing values); a clear error for text."""
    v = raw(arg, value, data)
    if v is None:
        return None
    try:
        if isinstance(v, (pd.Series, pd.Index)):
            return pd.to_numeric(pd.Series(v), errors="raise").to_numpy(dtype=float, na_value=np.nan)
        arr = np.asarray(v)
        if arr.dtype == object:
            arr = np.array([np.nan if x is None or x is pd.NA else x for x in arr.ravel()], dtype=float).reshape(arr.shape)
        return np.atleast_1d(np.asarray(arr, dtype=float))
    except (ValueError, TypeError) as e:
        src = f"column {value!r}" if isinstance(value, str) else "the values"
        raise ValueError(f"`{arg}` must be numeric; {src} could not be read as numbers ({e})") from None


def length_check(k: int, **arrays):
    for name, a in arrays.items():
        if a is not None and np.ndim(a) >= 1 and len(a) != k:
            raise ValueError(f"`{name}` has {len(a)} values for {k} studies")


def labels(slab, data, k) -> tuple[str, ...]:
    """Study labels: a column of ``data``, a sequence, or 1..k (as metafor numbers them);
    duplicates made unique as metafor makes them."""
    if slab is None:
        return tuple(map(str, range(1, k + 1)))
    v = raw("slab", slab, data)
    labs = tuple(str(s) for s in (v.tolist() if hasattr(v, "tolist") else list(v)))
    if len(labs) != k:
        raise ValueError(f"`slab` has {len(labs)} labels for {k} studies")
    return make_unique(labs)


def make_unique(labs) -> tuple[str, ...]:
    """metafor's ``.make.unique``: duplicated labels get ".1", ".2", ... in order of appearance."""
    counts: dict[str, int] = {}
    for lab in labs:
        counts[lab] = counts.get(lab, 0) + 1
    seen: dict[str, int] = {}
    out = []
    for lab in labs:
        if counts[lab] == 1:
            out.append(lab)
        else:
            seen[lab] = seen.get(lab, 0) + 1
            out.append(f"{lab}.{seen[lab]}")
    return tuple(out)


def _is_factor(v) -> bool:
    if isinstance(v, (pd.Series, pd.Index)):
        dt = v.dtype
        return isinstance(dt, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dt) or pd.api.types.is_object_dtype(dt) or pd.api.types.is_string_dtype(dt)
    arr = np.asarray(v)
    return arr.dtype.kind in ("U", "S", "O", "b")


def _factor_values(v):
    """(values as strings with None for missing, level order or None)."""
    s = pd.Series(v)
    order = None
    if isinstance(s.dtype, pd.CategoricalDtype):
        present = set(s.dropna().tolist())
        order = [str(c) for c in s.cat.categories if c in present]  # unused levels dropped (R's droplevels)
    if pd.api.types.is_bool_dtype(s.dtype):
        vals = [None if pd.isna(x) else ("TRUE" if bool(x) else "FALSE") for x in s]
        return vals, None
    return [None if (x is None or (not isinstance(x, str) and pd.isna(x))) else str(x) for x in s], order


class Moderators:
    """Moderator columns resolved from the API's ``mods`` argument: ``columns`` (name ->
    values), which of them are factors, their level orders, and a per-study
    missing-value mask."""

    def __init__(self, columns, categorical, levels, missing):
        self.columns, self.categorical, self.levels, self.missing = columns, categorical, levels, missing

    def subset(self, keep):
        cols = {n: (np.asarray(v)[keep] if n not in self.categorical else [x for x, kp in zip(v, keep) if kp]) for n, v in self.columns.items()}
        levels = {n: [lev for lev in order if lev in set(cols[n])] for n, order in self.levels.items()}
        return Moderators(cols, self.categorical, levels, self.missing[keep])

    def design(self, k, intercept=True, intercept_name="intrcpt") -> Design:
        return model_matrix(self.columns, k, intercept=intercept, intercept_name=intercept_name, categorical=self.categorical, levels=self.levels)


def moderators(mods, data, k, coef_names=None) -> Moderators:
    """Resolve ``mods``: a list of column names of ``data``, a DataFrame or mapping of
    columns, or a numeric array (k,) / (k, m) named by ``coef_names``."""
    cols: dict[str, object] = {}
    if mods is None:
        return Moderators({}, set(), {}, np.zeros(k, bool))
    if isinstance(mods, str):
        mods = [mods]
    if isinstance(mods, pd.DataFrame):
        items = [(str(c), mods[c]) for c in mods.columns]
    elif isinstance(mods, Mapping):
        items = [(str(n), v) for n, v in mods.items()]
    elif isinstance(mods, Sequence) and mods and all(isinstance(m, str) for m in mods):
        items = [(m, raw("mods", m, data)) for m in mods]
    else:
        M = numeric("mods", mods, None)
        M = M.reshape(k, -1) if M.size else M.reshape(k, 0)
        if coef_names is None:
            coef_names = [f"mods{j + 1}" for j in range(M.shape[1])] if M.shape[1] > 1 else ["mods"]
        if len(coef_names) != M.shape[1]:
            raise ValueError(f"{len(coef_names)} coef_names for {M.shape[1]} moderator columns")
        items = [(str(n), M[:, j]) for j, n in enumerate(coef_names)]
        coef_names = None
    if coef_names is not None:
        raise ValueError("`coef_names` names the columns of a moderator array; moderators given by name (or as a DataFrame) are named by their columns")
    categorical, levels = set(), {}
    missing = np.zeros(k, bool)
    for name, v in items:
        if len(v) != k:
            raise ValueError(f"moderator {name!r} has {len(v)} values for {k} studies")
        if name in cols:
            raise ValueError(f"moderator {name!r} is given twice")
        if _is_factor(v):
            vals, order = _factor_values(v)
            numbers_only = not isinstance(v, (pd.Series, pd.Index)) and np.asarray(v).dtype.kind == "O" and all(x is None or _is_number(x) for x in vals)
            if not numbers_only:  # (an object array of numbers and None is numeric)
                cols[name] = vals
                categorical.add(name)
                missing |= np.array([x is None for x in vals])
                if order is not None:
                    levels[name] = order
                continue
        x = numeric(f"mods ({name})", v, None)
        cols[name] = x
        missing |= np.isnan(x)
    return Moderators(cols, categorical, levels, missing)


def _is_number(x):
    try:
        float(x)
        return True
    except (TypeError, ValueError):
        return False


def handle_missing(masks: Mapping[str, np.ndarray], slab: Sequence[str], na_action: str, what="data"):
    """Per-study keep mask after metafor's ``na.action``: error (``"fail"``) or leave out with a warning (``"omit"``)."""
    k = len(slab)
    bad = np.zeros(k, bool)
    where: dict[int, list[str]] = {}
    for name, m in masks.items():
        if m is None:
            continue
        m = np.asarray(m, bool)
        if not m.any():  # (the usual case: nothing to record)
            continue
        bad |= m
        for i in np.flatnonzero(m):
            where.setdefault(int(i), []).append(name)
    if not bad.any():
        return np.ones(k, bool), ()
    detail = "; ".join(f"{slab[i]} ({', '.join(cols)})" for i, cols in sorted(where.items()))
    if na_action == "fail":
        raise ValueError(f"Missing values in {what} (metafor: \"Missing values in data.\"): study {detail}; "
                         "pass na_action=\"omit\" to leave such studies out, as metafor's na.action = \"na.omit\" does")
    if bad.all():
        raise ValueError(f"every study has a missing value ({detail}); nothing is left to analyse (metafor: \"Processing terminated since k = 0.\")")
    omitted = tuple(slab[i] for i in np.flatnonzero(bad))
    warnings.warn(f"Studies with NAs omitted from model fitting: {detail}", StudiesOmittedWarning, stacklevel=3)
    return ~bad, omitted


def kept(slab, keep) -> tuple:
    """The labels of the studies kept (``keep`` a boolean mask)."""
    return tuple(slab) if keep.all() else tuple(lab for lab, k in zip(slab, keep) if k)


def finite_check(arg, x, slab):
    """+-Inf is never a valid input (metafor stops or silently gives the study zero weight)."""
    if x is None:
        return
    bad = np.isinf(x)
    if bad.any():
        raise ValueError(f"`{arg}` is not finite for study {', '.join(slab[i] for i in np.flatnonzero(bad))}")
