"""Public API for dichotomous outcomes: effect sizes from 2x2 tables,
Mantel-Haenszel (``rma_mh``) and Peto (``rma_peto``) pooling.

Examples
--------
>>> import harness
>>> es = harness.escalc("OR", ai=[4, 6, 3], bi=[119, 300, 228], ci=[11, 29, 11], di=[128, 274, 209])
>>> fit = harness.rma_mh(ai=[4, 6, 3], bi=[119, 300, 228], ci=[11, 29, 11], di=[128, 274, 209], measure="OR")
>>> fit.pred, fit.pred_ci            # doctest: +SKIP  (exp of the MH log odds ratio and its CI)

Field names follow metafor (``ci.lb`` -> ``ci_lb``); estimates are on the log
scale for OR, RR and the Peto OR, as metafor stores them, and ``pred`` /
``pred_ci`` hold the back-transformed values (exp; identity for RD), as
``predict(fit, transf=exp)`` gives them. Which metafor release the numbers
follow is ``metafor=`` (default :data:`harness.core.versions.DEFAULT_METAFOR`);
3.8-1, 4.8-0 and 5.0-1 give the same numbers here, see
:mod:`harness.core.effect_sizes_binary` for what differs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core import effect_sizes_binary as eb
from ..core import mh as _mh
from . import _inputs as inp
from . import printing
from .results import ConfidenceInterval, EscalcResult, _Printed

TABLE_ARGS = ("ai", "bi", "ci", "di", "n1i", "n2i")


def _labels(slab, k):
    return tuple(str(i + 1) for i in range(k)) if slab is None else tuple(str(s) for s in slab)


def _cells(given):
    unknown = set(given) - set(TABLE_ARGS)
    if unknown:
        raise TypeError(f"unknown argument(s) {', '.join(sorted(unknown))}; a 2x2 table takes {', '.join(TABLE_ARGS)}")
    return eb.two_by_two(**{k: given.get(k) for k in TABLE_ARGS})


def tables(given: dict, data=None, slab=None, na_action="fail"):
    """The 2x2 tables of the API's arguments: columns of ``data`` (a string names one) or arrays.

    Every argument is checked on its own, and the error names it and the
    studies: not numeric, of another length, +-Inf, negative, events above
    the group size; ``bi`` with ``n1i`` (or ``di`` with ``n2i``) that do not
    add up. Missing values follow ``na_action``: "fail", an error naming the
    studies; "omit", the tables are passed on with their NaN and the pooling
    leaves them out as metafor's ``na.action = "na.omit"`` does, with its
    warning ("Tables with NAs omitted from model fitting.") in
    ``fit.warnings``, and NaN for them in ``yi``, ``vi``, ``weights``.
    Returns ``(ai, bi, ci, di, slab)``: float arrays and the study labels.
    """
    unknown = set(given) - set(TABLE_ARGS)
    if unknown:
        raise TypeError(f"unknown argument(s) {', '.join(sorted(unknown))}; a 2x2 table takes {', '.join(TABLE_ARGS)}")
    inp.check_na_action(na_action)
    x = {k: inp.numeric(k, v, data) for k, v in given.items() if v is not None}
    if "ai" not in x or "ci" not in x or not ({"bi", "n1i"} & set(x)) or not ({"di", "n2i"} & set(x)):
        raise ValueError("a 2x2 table needs `ai`, `ci` and either `bi`, `di` (non-events) or `n1i`, `n2i` (group sizes); given: "
                         + (", ".join(f"`{k}`" for k in x) or "none"))
    k = len(x["ai"])
    inp.length_check(k, **x)
    labs = inp.labels(slab, data, k)
    for name, v in x.items():
        inp.finite_check(name, v, labs)
        neg = v < 0
        if neg.any():
            raise ValueError(f"`{name}` must not be negative (metafor: \"One or more counts are negative.\"): study "
                             + ", ".join(f"{labs[i]} ({v[i]:g})" for i in np.flatnonzero(neg)))
    for ev, tot, other in (("ai", "n1i", "bi"), ("ci", "n2i", "di")):
        if tot in x:
            over = x[ev] > x[tot]
            if over.any():
                raise ValueError(f"`{ev}` larger than `{tot}` (metafor: \"One or more event counts are larger than the corresponding group sizes.\"): study "
                                 + ", ".join(f"{labs[i]} ({x[ev][i]:g} > {x[tot][i]:g})" for i in np.flatnonzero(over)))
            if other in x:
                off = np.abs(x[tot] - x[ev] - x[other]) > 0
                if off.any():
                    raise ValueError(f"`{tot}` is not `{ev}` + `{other}` (metafor: \"One or more '{tot}' values are not equal to '{ev} + {other}'.\"): study "
                                     + ", ".join(labs[i] for i in np.flatnonzero(off)))
    if na_action == "fail":
        inp.handle_missing({n: np.isnan(v) for n, v in x.items()}, labs, na_action)
    a, b, c, d = eb.two_by_two(**{n: x.get(n) for n in TABLE_ARGS})
    return a, b, c, d, labs


def escalc_binary(measure, *, vtype="LS", add=0.5, to="only0", drop00=False, slab=None, metafor=None, **data) -> EscalcResult:
    """metafor's ``escalc`` for ``measure`` "OR", "RR", "RD" or "PETO" from 2x2 tables.

    Give ``ai, bi, ci, di`` (events and non-events per group) or ``ai, n1i,
    ci, n2i`` (events and group sizes). ``add``, ``to``, ``drop00`` are
    metafor's zero-cell handling (see :func:`harness.core.effect_sizes_binary.adjust_cells`).
    yi/vi are NaN where metafor gives NA; metafor's warnings (e.g. +-Inf
    recoded to NA) are emitted as Python ``RuntimeWarning`` with its text.
    """
    import warnings

    a, b, c, d = _cells(data)
    r = eb.escalc_binary(measure, a, b, c, d, add=add, to=to, drop00=drop00, vtype=vtype, metafor=metafor)
    for w in r.warnings:
        warnings.warn(w, RuntimeWarning, stacklevel=3)
    return EscalcResult(measure, r.yi, r.vi, _labels(slab, len(r.yi)), vtype)


@dataclass(frozen=True, repr=False)
class RmaTablesResult(_Printed):
    """Fields common to metafor's ``rma.mh`` and ``rma.peto`` results."""

    measure: str
    beta: float
    se: float
    zval: float
    pval: float
    ci_lb: float
    ci_ub: float
    QE: float
    QEp: float
    I2: float
    H2: float
    k: int
    k_yi: int
    k_pos: float  # NaN where metafor reports NA (rma.mh with RR or RD)
    yi: np.ndarray
    vi: np.ndarray
    weights: np.ndarray  # percent; NaN for tables left out
    slab: tuple[str, ...]
    level: float = 95
    warnings: tuple[str, ...] = ()

    method = "MH"

    @property
    def transf(self):
        return np.exp if self.measure in eb.RATIO_MEASURES else (lambda x: x)

    @property
    def pred(self) -> float:
        """The pooled estimate on the reader's scale (exp for OR, RR, Peto OR)."""
        return float(self.transf(self.beta))

    @property
    def pred_ci(self) -> ConfidenceInterval:
        return ConfidenceInterval(float(self.transf(self.ci_lb)), float(self.transf(self.ci_ub)))

    def confidence_interval(self) -> ConfidenceInterval:
        """CI of the pooled estimate on the model (log) scale."""
        return ConfidenceInterval(self.ci_lb, self.ci_ub)

    def summary_frame(self) -> pd.DataFrame:
        """The pooled estimate: model scale (estimate, se, zval, pval, ci_lb, ci_ub) and back-transformed (pred, pred_ci_lb, pred_ci_ub)."""
        lb, ub = self.pred_ci
        return pd.DataFrame({"estimate": [self.beta], "se": [self.se], "zval": [self.zval], "pval": [self.pval], "ci_lb": [self.ci_lb], "ci_ub": [self.ci_ub],
                             "pred": [self.pred], "pred_ci_lb": [lb], "pred_ci_ub": [ub]}, index=pd.Index(["intrcpt"], name="coef"))

    def studies_frame(self) -> pd.DataFrame:
        """Per study: yi, vi (escalc's, NaN where metafor has NA) and the weight in percent."""
        return pd.DataFrame({"yi": self.yi, "vi": self.vi, "weights": self.weights}, index=pd.Index(self.slab, name="study"))

    def quantities(self) -> dict[str, float]:
        """Flat ``name -> float`` mapping compared against R (metafor's names)."""
        out = {n: float(getattr(self, n)) for n in ("beta", "se", "zval", "pval", "ci_lb", "ci_ub", "QE", "QEp", "I2", "H2", *self._tests(), "k", "k_yi")}
        if self._has_k_pos():
            out["k_pos"] = float(self.k_pos)
        lb, ub = self.pred_ci
        out.update(pred=self.pred, pred_ci_lb=lb, pred_ci_ub=ub)
        for name, arr in (("yi", self.yi), ("vi", self.vi), ("weights", self.weights)):
            for lab, x in zip(self.slab, arr):
                out[f"{name}[{lab}]"] = float(x)
        return out

    def _tests(self):
        return ()

    def _has_k_pos(self):
        return True

    def _lines(self, digits: int = printing.DIGITS) -> list[str]:
        """metafor's ``print.rma.mh`` / ``print.rma.peto`` (``print(fit)``, ``str(fit)``)."""
        return printing.tables_lines(self, digits)


@dataclass(frozen=True, repr=False)
class RmaMhResult(RmaTablesResult):
    """Result of :func:`rma_mh` (metafor ``rma.mh``); ``CO``... ``TAp`` are NaN unless measure is OR."""

    CO: float = float("nan")
    COp: float = float("nan")
    MH: float = float("nan")
    MHp: float = float("nan")
    BD: float = float("nan")
    BDp: float = float("nan")
    TA: float = float("nan")
    TAp: float = float("nan")

    def _tests(self):
        return ("CO", "COp", "MH", "MHp", "BD", "BDp", "TA", "TAp") if self.measure == "OR" else ()

    def _has_k_pos(self):
        return self.measure == "OR"


@dataclass(frozen=True, repr=False)
class RmaPetoResult(RmaTablesResult):
    """Result of :func:`rma_peto` (metafor ``rma.peto``)."""

    method = "PETO"


def _result(cls, r, slab, level, **extra):
    k = len(r["yi"])
    return cls(measure=r["measure"], beta=r["beta"], se=r["se"], zval=r["zval"], pval=r["pval"], ci_lb=r["ci_lb"], ci_ub=r["ci_ub"],
               QE=r["QE"], QEp=r["QEp"], I2=r["I2"], H2=r["H2"], k=int(r["k"]), k_yi=int(r["k_yi"]), k_pos=float(r["k_pos"]),
               yi=np.asarray(r["yi"], float), vi=np.asarray(r["vi"], float), weights=np.asarray(r["weights"], float),
               slab=_labels(slab, k), level=level, warnings=tuple(r.get("warnings", ())), **extra)


def rma_mh(*, measure="OR", add=0.5, to="only0", drop00=True, correct=True, level=95, slab=None, data=None, na_action="fail", metafor=None,
           **tables_) -> RmaMhResult:
    """Mantel-Haenszel pooling of 2x2 tables (metafor ``rma.mh``; formulas in :mod:`harness.core.mh`).

    Tables: ``ai, bi, ci, di`` or ``ai, n1i, ci, n2i`` -- arrays, or with
    ``data=<DataFrame>`` column names (metafor's ``data=``); ``slab`` study
    labels (a column with ``data``); ``na_action`` "fail" (an error naming the
    studies with missing values) or "omit" (left out as metafor's default
    ``na.action`` leaves them, with its warning in ``fit.warnings``). Bad
    input raises ``ValueError`` naming the argument and the studies (see
    :func:`tables`). ``print(fit)`` shows metafor's ``print.rma.mh``. ``measure``: "OR"
    (with the Cochran-Mantel-Haenszel, Mantel-Haenszel, Breslow-Day and
    Tarone tests), "RR" or "RD". ``add``/``to``/``drop00``: one value (for the
    per-study effects) or a pair (effects, pooled tables), as in metafor.
    Warnings metafor gives are in :attr:`RmaMhResult.warnings`; what metafor
    refuses raises ``ValueError`` with its message.
    """
    a, b, c, d, labs = tables(tables_, data, slab, na_action)
    r = _mh.rma_mh_arrays(a, b, c, d, measure=measure, add=add, to=to, drop00=drop00, correct=correct, level=level, metafor=metafor)
    return _result(RmaMhResult, r, labs, level, **{n: r[n] for n in ("CO", "COp", "MH", "MHp", "BD", "BDp", "TA", "TAp")})


def rma_peto(*, add=0.5, to="only0", drop00=True, level=95, slab=None, data=None, na_action="fail", metafor=None, **tables_) -> RmaPetoResult:
    """Peto's method for 2x2 tables (metafor ``rma.peto``; formulas in :mod:`harness.core.mh`); the arguments
    as :func:`rma_mh`'s. ``print(fit)`` shows metafor's ``print.rma.peto``."""
    a, b, c, d, labs = tables(tables_, data, slab, na_action)
    r = _mh.rma_peto_arrays(a, b, c, d, add=add, to=to, drop00=drop00, level=level, metafor=metafor)
    return _result(RmaPetoResult, r, labs, level)


def result_from_r(cls, v: dict, measure, slab, level=95):
    """A result of ``cls`` from the flat list ``mh_rma_mh`` / ``mh_rma_peto`` (r_scripts/binary.R) return."""
    num = lambda key: float(np.asarray(v[key], float).ravel()[0]) if v.get(key) is not None and len(np.atleast_1d(v[key])) else float("nan")  # noqa: E731
    r = {n: num(n) for n in ("beta", "se", "zval", "pval", "ci_lb", "ci_ub", "QE", "QEp", "I2", "H2", "k", "k_yi", "k_pos")}
    r.update(measure=measure, yi=np.asarray(v["yi"], float), vi=np.asarray(v["vi"], float), weights=np.asarray(v["weights"], float))
    extra = {n: num(n) for n in ("CO", "COp", "MH", "MHp", "BD", "BDp", "TA", "TAp")} if cls is RmaMhResult else {}
    return _result(cls, r, slab, level, **extra)


__all__ = ["escalc_binary", "rma_mh", "rma_peto", "RmaMhResult", "RmaPetoResult", "RmaTablesResult"]
