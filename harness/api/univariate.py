"""Public Python API of the stats core: ``escalc`` and ``rma``.

Examples
--------
>>> import harness
>>> es = harness.escalc("SMD", m1i=[55, 27], sd1i=[47, 7], n1i=[155, 31],
...                     m2i=[75, 29], sd2i=[64, 4], n2i=[156, 32])
>>> fit = harness.rma(es.yi, es.vi, method="REML")
>>> fit.beta[0], fit.confidence_interval()          # doctest: +SKIP
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from ..core import effect_sizes as es
from ..core.effect_sizes_binary import BINARY_MEASURES
from ..core.rma import FE_METHODS, rma_arrays
from .results import EscalcResult, RmaResult

#: measure -> (function, argument names); issue-specific measures register here.
MEASURES = {
    "MD": (es.md, ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")),
    "SMD": (es.smd, ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")),
    "SMDH": (es.smdh, ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")),
    "ROM": (es.rom, ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")),
}
#: alternative inputs of a measure: (measure, input) -> (function, argument names)
ALT_INPUTS = {
    ("SMD", "ti"): (es.smd_from_t, ("ti", "n1i", "n2i")),
}
#: effect-size conventions that are not metafor's (no ``vtype``).
CONVENTIONS = {
    ("SMD", "revman"): (es.smd_revman, ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")),
    ("MD", "revman"): (lambda *a: es.md(*a, vtype="LS"), ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")),
}


@functools.lru_cache(maxsize=64)
def _default_labels(k):
    return tuple(str(i + 1) for i in range(k))


def _labels(slab, k):
    if slab is None:
        return _default_labels(k)
    return tuple(str(s) for s in slab)


def escalc(measure, *, yi=None, vi=None, sei=None, vtype="LS", convention="metafor", slab=None, **data) -> EscalcResult:
    """Compute per-study effect sizes (metafor ``escalc``) or take them as given.

    Parameters
    ----------
    measure : str
        ``"MD"``, ``"SMD"``, ``"SMDH"``, ``"ROM"`` (whatever :data:`MEASURES`
        holds), or ``"GEN"`` with ``yi`` and ``vi``/``sei`` given directly.
        ``"SMD"`` also takes ``ti, n1i, n2i`` (t statistics, as metafor's ``ti``).
        ``"OR"``, ``"RR"``, ``"RD"``, ``"PETO"`` take 2x2 tables (``ai, bi, ci,
        di`` or ``ai, n1i, ci, n2i``, with ``add``, ``to``, ``drop00``): see
        :func:`harness.api.binary.escalc_binary`.
    vtype : str
        metafor's variance type (``"LS"`` default).
    convention : {"metafor", "revman"}
        ``"revman"`` uses RevMan 5's formulas (SMD: approximate J and its
        variance) instead of metafor's.
    **data : array_like
        ``m1i, sd1i, n1i, m2i, sd2i, n2i`` for two-group measures.
    """
    if measure in BINARY_MEASURES and convention == "metafor" and yi is None:
        from .binary import escalc_binary  # 2x2 tables: ai, bi, ci, di (or n1i, n2i), add, to, drop00

        return escalc_binary(measure, vtype=vtype, slab=slab, **data)
    if yi is not None:
        if (vi is None) == (sei is None):
            raise ValueError("give exactly one of `vi` and `sei` with `yi`")
        yi = np.asarray(yi, float)
        vi = np.asarray(vi, float) if vi is not None else np.asarray(sei, float) ** 2
        return EscalcResult(measure, yi, vi, _labels(slab, len(yi)), vtype, convention)
    if convention == "metafor" and "ti" in data and (measure, "ti") in ALT_INPUTS:
        fn, names = ALT_INPUTS[(measure, "ti")]
        kwargs = {"vtype": vtype}
    elif convention == "metafor":
        if measure not in MEASURES:
            raise ValueError(f"`measure` must be one of {tuple(MEASURES)}, not {measure!r}")
        fn, names = MEASURES[measure]
        kwargs = {"vtype": vtype}
    else:
        if (measure, convention) not in CONVENTIONS:
            raise ValueError(f"no {convention!r} convention for measure {measure!r}")
        fn, names = CONVENTIONS[(measure, convention)]
        kwargs = {}
    missing = [n for n in names if n not in data]
    if missing:
        raise ValueError(f"measure {measure!r} needs {', '.join(names)}; missing {', '.join(missing)}")
    yi, vi = fn(*(data[n] for n in names), **kwargs)
    return EscalcResult(measure, np.atleast_1d(yi), np.atleast_1d(vi), _labels(slab, np.size(yi)), vtype, convention)


def rma(
    yi,
    vi=None,
    *,
    sei=None,
    mods=None,
    coef_names: Sequence[str] | None = None,
    intercept=True,
    method="REML",
    test="z",
    level=95,
    btt=None,
    tau2=None,
    control=None,
    slab=None,
    weights=None,
) -> RmaResult:
    """Fit a fixed-, random- or mixed-effects model (metafor ``rma.uni``).

    Parameters
    ----------
    yi, vi : array_like, shape (k,)
        Effect sizes and sampling variances (or ``sei``).
    mods : array_like, shape (k,) or (k, m), optional
        Numeric moderator columns (dummy-code categorical moderators first, or
        use a fixture spec, which does it as R's ``model.matrix`` does).
    intercept : bool
        Add an intercept column (metafor ``intercept=TRUE``).
    method : str
        tau^2 estimator: ``"FE"``/``"EE"``, ``"DL"``, ``"HE"``, ``"HS"``, ``"HSk"``,
        ``"ML"``, ``"REML"``, ``"EB"`` (and those registered later).
    test : {"z", "t", "knha", "adhoc"}
    control : dict, optional
        ``threshold`` (default 1e-5, as metafor), ``maxiter`` (100), ``tol``
        (root finding of PM/PMM and the ML/REML ll0 check), ``tau2_min``,
        ``tau2_max``, ``tau2_init``, ``stepadj``.
    weights : array_like, shape (k,), optional
        User weights (metafor ``weights=``), required by ``method="GENQ"``.

    Returns
    -------
    RmaResult

    Notes
    -----
    Non-convergence of an iterative estimator is reported as
    ``converged=False`` with NaN estimates, never as a number (metafor stops
    with "Fisher scoring algorithm did not converge").
    """
    if isinstance(yi, EscalcResult):
        slab = slab or yi.slab
        yi, vi = yi.yi, yi.vi
    yi = np.asarray(yi, float)
    if (vi is None) == (sei is None):
        raise ValueError("give exactly one of `vi` and `sei`")
    vi = np.asarray(vi, float) if vi is not None else np.asarray(sei, float) ** 2
    k = yi.shape[0]
    cols, names = [], []
    if intercept:
        cols.append(np.ones(k))
        names.append("intrcpt")
    if mods is not None:
        M = np.asarray(mods, float)
        M = M.reshape(k, -1)
        cols.extend(M.T)
        if coef_names is None:
            coef_names = [f"mods{j + 1}" for j in range(M.shape[1])] if M.shape[1] > 1 else ["mods"]
        names.extend(coef_names)
    if not cols:
        raise ValueError("the model has no coefficients (no intercept and no moderators)")
    X = np.column_stack(cols)
    # intercept only: X=None lets rma_arrays take its O(k) path without checking X
    r = rma_arrays(yi, vi, None if (intercept and mods is None) else X, method=method, test=test, level=level, intercept=intercept, btt=btt, control=control, tau2=tau2, weights=weights)
    return RmaResult(
        beta=r["beta"],
        se=r["se"],
        zval=r["zval"],
        pval=r["pval"],
        ci_lb=r["ci_lb"],
        ci_ub=r["ci_ub"],
        vb=r["vb"],
        coef_names=tuple(names),
        tau2=float(r["tau2"]),
        se_tau2=float(r["se_tau2"]),
        QE=float(r["QE"]),
        QEp=float(r["QEp"]),
        I2=float(r["I2"]),
        H2=float(r["H2"]),
        vt=float(r["vt"]),
        QM=float(r["QM"]),
        QMp=float(r["QMp"]),
        QMdf=(float(r["QMdf1"]), float(r["QMdf2"])),
        k=k,
        p=X.shape[1],
        ddf=float(r["ddf"]),
        method=method,
        test=r["test"],
        level=level,
        weights=r["weights"],
        slab=_labels(slab, k),
        yi=yi,
        vi=vi,
        converged=bool(r["converged"]),
        iterations=int(r["iterations"]),
        R2=float(r["R2"]),
        X=X,
        user_weights=None if weights is None else np.asarray(weights, float),
        control=dict(control or {}),
        tau2_fixed=tau2 is not None,
        ll0_reset=bool(r.get("ll0_reset", False)),
    )


__all__ = ["escalc", "rma", "MEASURES", "FE_METHODS"]
