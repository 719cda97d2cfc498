"""Public Python API of the stats core: ``escalc`` and ``rma``.

Arguments are metafor's: arrays, or -- with ``data=`` a pandas DataFrame -- column
names (metafor's ``data=``)::

    >>> import harness, pandas as pd
    >>> df = pd.DataFrame({"study": ["a", "b", "c"], "m1": [55, 27, 64], "sd1": [47, 7, 17], "n1": [155, 31, 75],
    ...                    "m2": [75, 29, 119], "sd2": [64, 4, 29], "n2": [156, 32, 71], "weeks": [2, 4, 8]})
    >>> es = harness.escalc("SMD", m1i="m1", sd1i="sd1", n1i="n1", m2i="m2", sd2i="sd2", n2i="n2", slab="study", data=df)
    >>> fit = harness.rma(es, method="REML")
    >>> f"{fit.estimate:.3f}"
    '-1.004'

Input is checked as metafor checks it (negative SDs, group sizes <= 0, zero sampling
variances for the methods metafor refuses them for), and more strictly where metafor
coerces (a negative sampling variance is an error here; metafor sets it to 0 with a
warning). Missing values raise an error naming the studies unless
``na_action="omit"``, which leaves them out with a :class:`StudiesOmittedWarning`
(metafor's ``na.action``).

Defaults are metafor's: ``control`` threshold 1e-5, maxiter 100, root-finding tol
eps^0.25 (:data:`harness.core.tau2.DEFAULT_CONTROL`), so that printed results are
what R prints. ``metaharness verify`` runs both engines with tighter settings
(threshold 1e-12, maxiter 1000) to compare them number by number.
"""
from __future__ import annotations

import contextlib
import warnings
from collections.abc import Sequence

import numpy as np

from ..core import effect_sizes as es
from ..core.design import redundant_columns
from ..core.rma import FE_METHODS, TESTS, rma_arrays
from ..core.tau2 import DEFAULT_CONTROL, ESTIMATORS, se_tau2_fixed
from ..core.versions import conventions, supported_metafor
from . import _inputs as inp
from ._inputs import RmaWarning, StudiesOmittedWarning
from ..core.effect_sizes_binary import BINARY_MEASURES
from .results import EscalcResult, RmaResult

TWO_GROUP = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
#: measure -> (function, argument names); issue-specific measures register here.
MEASURES = {
    "MD": (es.md, TWO_GROUP),
    "SMD": (es.smd, TWO_GROUP),
    "SMDH": (es.smdh, TWO_GROUP),
    "ROM": (es.rom, TWO_GROUP),
}
#: alternative inputs of a measure: (measure, input) -> (function, argument names)
ALT_INPUTS = {
    ("SMD", "ti"): (es.smd_from_t, ("ti", "n1i", "n2i")),
    ("SMD", "pi"): (es.smd_from_p, ("pi", "n1i", "n2i")),
    ("SMD", "di"): (es.smd_from_d, ("di", "n1i", "n2i")),
}
#: effect-size conventions that are not metafor's (no ``vtype``).
CONVENTIONS = {
    ("SMD", "revman"): (es.smd_revman, TWO_GROUP),
    ("MD", "revman"): (lambda *a: es.md(*a, vtype="LS"), TWO_GROUP),
}
#: ``control`` entries the core understands (metafor's names with "." as "_")
CONTROL_KEYS = frozenset(DEFAULT_CONTROL) | {"tau2_init"}

#: metafor refuses these methods when a sampling variance is 0 (rma.uni 3.8-1, "allvipos"):
#: the FE/EE/CE weights 1/vi, and the estimators that need 1/vi
VI0_REFUSED = {
    **{m: "Division by zero when computing the inverse variance weights." for m in (*FE_METHODS, "DLIT")},
    **{m: f"{m} estimator cannot be used when there are non-positive sampling variances in the data." for m in ("DL", "HS", "HSk", "PM", "MP", "PMM")},
}


def _study_list(slab, mask):
    return ", ".join(slab[i] for i in np.flatnonzero(mask))


def escalc(measure, *, m1i=None, sd1i=None, n1i=None, m2i=None, sd2i=None, n2i=None, ti=None, pi=None, di=None,
           yi=None, vi=None, sei=None, vtype="LS", convention="metafor", slab=None, data=None, na_action="fail",
           correct=None, metafor=None, ai=None, bi=None, ci=None, add=0.5, to="only0", drop00=False) -> EscalcResult:
    """Compute per-study effect sizes (metafor ``escalc``) or take them as given.

    Parameters
    ----------
    measure : str
        ``"MD"``, ``"SMD"``, ``"SMDH"``, ``"ROM"`` (whatever :data:`MEASURES`
        holds), or ``"GEN"`` with ``yi`` and ``vi``/``sei`` given directly.
        ``"SMD"`` also takes ``ti, n1i, n2i`` (t statistics, as metafor's
        ``ti``), ``di, n1i, n2i`` (standardised differences) or ``pi, n1i,
        n2i`` (signed two-sided p-values; metafor >= 4.8-0).
    m1i, sd1i, n1i, m2i, sd2i, n2i : array_like or str
        Two-group summary data; with ``data``, column names.
        ``"OR"``, ``"RR"``, ``"RD"``, ``"PETO"`` take 2x2 tables (``ai, bi, ci,
        di`` or ``ai, n1i, ci, n2i``, with metafor's zero-cell handling ``add``,
        ``to``, ``drop00``): see :func:`harness.api.binary.escalc_binary`.
    vtype : str
        metafor's variance type (``"LS"`` default); the options depend on the
        release (``harness.core.versions``).
    correct : bool, optional
        metafor's ``correct`` (>= 4.8-0): FALSE turns off the small-sample
        correction of SMD/SMDH and (>= 5.0-1) ROM's bias correction. Default:
        the release's default (corrected).
    metafor : str, optional
        The metafor release whose behaviour to reproduce, one of
        ``harness.core.versions.SUPPORTED_METAFOR``; default
        :data:`~harness.core.versions.DEFAULT_METAFOR` ("5.0-1"). E.g. ROM
        is bias-corrected under "5.0-1" and not under "3.8-1" or "4.8-0".
    convention : {"metafor", "revman"}
        ``"revman"`` uses RevMan 5's formulas (SMD: approximate J and its
        variance) instead of metafor's.
    ai, bi, ci, di : array_like or str
        2x2 tables (events and non-events per group) for OR, RR, RD, PETO; as in
        metafor, ``di`` is the d-value input (with ``n1i, n2i``) for measure SMD.
    add, to, drop00
        metafor's zero-cell handling of 2x2 tables (defaults 1/2, "only0", False).
    slab : array_like or str, optional
        Study labels (a column with ``data``); default 1..k.
    data : pandas.DataFrame, optional
        Where column names are looked up (metafor ``data=``).
    na_action : {"fail", "omit"}
        Missing values: an error naming the studies, or leave those studies out
        with a warning (metafor ``na.action = "na.omit"``). Studies whose effect size
        cannot be computed (e.g. an SMD with both SDs 0; metafor makes it NA with a
        warning) are treated alike.

    Raises
    ------
    ValueError
        metafor's errors: "One or more standard deviations are negative.", "One or
        more group sizes are <= 0."; a negative ``vi``/``sei`` (metafor recodes it to NA).
    TypeError
        an unknown keyword argument (e.g. ``vtyp="UB"``).
    """
    inp.check_na_action(na_action)
    conv = conventions(supported_metafor(metafor))
    if measure in BINARY_MEASURES and convention == "metafor" and yi is None:
        from .binary import escalc_binary  # 2x2 tables: ai, bi, ci, di (or n1i, n2i), add, to, drop00

        cells = {n: inp.numeric(n, x, data) for n, x in (("ai", ai), ("bi", bi), ("ci", ci), ("di", di), ("n1i", n1i), ("n2i", n2i)) if x is not None}
        if cells:
            slab = inp.labels(slab, data, len(next(iter(cells.values()))))
        return escalc_binary(measure, vtype=vtype, add=add, to=to, drop00=drop00, slab=slab, metafor=metafor, **cells)
    if yi is not None:
        if (vi is None) == (sei is None):
            raise ValueError("give exactly one of `vi` and `sei` with `yi`")
        y = inp.numeric("yi", yi, data)
        v = inp.numeric("vi", vi, data) if vi is not None else None
        s = inp.numeric("sei", sei, data) if sei is not None else None
        k = len(y)
        inp.length_check(k, vi=v, sei=s)
        labs = inp.labels(slab, data, k)
        for name, x in (("yi", y), ("vi", v), ("sei", s)):
            inp.finite_check(name, x, labs)
        if v is not None and np.any(v < 0):
            raise ValueError(f"negative sampling variance in `vi` for study {_study_list(labs, v < 0)} (metafor's escalc makes it NA; a variance cannot be negative)")
        if s is not None and np.any(s < 0):
            raise ValueError(f"negative standard error in `sei` for study {_study_list(labs, s < 0)}")
        vv = v if v is not None else s**2
        keep, omitted = inp.handle_missing({"yi": np.isnan(y), "vi" if v is not None else "sei": np.isnan(vv)}, labs, na_action)
        return EscalcResult(measure, y[keep], vv[keep], inp.kept(labs, keep), vtype, convention,
                            omitted=omitted, rows=tuple(np.flatnonzero(keep).tolist()))
    given = {"m1i": m1i, "sd1i": sd1i, "n1i": n1i, "m2i": m2i, "sd2i": sd2i, "n2i": n2i, "ti": ti, "pi": pi, "di": di}
    alt = [a for a in ("ti", "pi", "di") if given[a] is not None] if convention == "metafor" else []
    if len(alt) > 1:
        raise ValueError(f"give one of `ti`, `pi`, `di` for measure {measure!r}, not {', '.join(alt)}")
    if alt and (measure, alt[0]) in ALT_INPUTS:
        if alt[0] == "pi" and not conv.escalc_pi:
            raise ValueError(f"`pi`: metafor {conv.version}'s escalc has no p-value input (it came with metafor 4.8-0)")
        fn, names = ALT_INPUTS[(measure, alt[0])]
        kwargs = conv.escalc_kwargs(measure, vtype, correct)
    elif convention == "metafor":
        if measure not in MEASURES:
            raise ValueError(f"`measure` must be one of {(*MEASURES, 'GEN')}, not {measure!r}")
        fn, names = MEASURES[measure]
        kwargs = conv.escalc_kwargs(measure, vtype, correct)
    else:
        if (measure, convention) not in CONVENTIONS:
            raise ValueError(f"no {convention!r} convention for measure {measure!r}")
        if correct is not None:
            raise ValueError(f"`correct` applies to metafor's measures, not to the {convention!r} convention")
        fn, names = CONVENTIONS[(measure, convention)]
        kwargs = {}
    missing = [n for n in names if given[n] is None]
    if missing:
        raise ValueError(f"measure {measure!r} needs {', '.join(names)}; missing {', '.join(missing)}")
    extra = [n for n, v in given.items() if v is not None and n not in names]
    if extra:
        raise ValueError(f"measure {measure!r} takes {', '.join(names)}; {', '.join(extra)} given too")
    cols = {n: inp.numeric(n, given[n], data) for n in names}
    k = len(cols[names[0]])
    inp.length_check(k, **cols)
    labs = inp.labels(slab, data, k)
    for n, x in cols.items():
        inp.finite_check(n, x, labs)
    for n, x in cols.items():
        if n.startswith("sd") and np.any(x < 0):
            raise ValueError(f"One or more standard deviations are negative. (`{n}`, study {_study_list(labs, x < 0)})")
        if n.startswith("n") and np.any(x <= 0):
            raise ValueError(f"One or more group sizes are <= 0. (`{n}`, study {_study_list(labs, x <= 0)})")
    keep, omitted = inp.handle_missing({n: np.isnan(x) for n, x in cols.items()}, labs, na_action)
    with np.errstate(all="ignore"):
        y, v = fn(*(cols[n] for n in names), **kwargs)
    y, v = np.atleast_1d(np.asarray(y, float)), np.atleast_1d(np.asarray(v, float))
    bad = keep & ~(np.isfinite(y) & np.isfinite(v))
    if bad.any():
        why = f"the effect size or its variance cannot be computed for study {_study_list(labs, bad)} (e.g. SDs of 0, a group of size 1, a ratio of means <= 0; metafor makes it NA)"
        if na_action == "fail":
            raise ValueError(why + "; pass na_action=\"omit\" to leave such studies out")
        warnings.warn(f"Studies with NAs omitted from model fitting: {why}", StudiesOmittedWarning, stacklevel=2)
        omitted = tuple(omitted) + tuple(labs[i] for i in np.flatnonzero(bad))
        keep = keep & ~bad
        if not keep.any():
            raise ValueError("no study is left to analyse (metafor: \"Processing terminated since k = 0.\")")
    return EscalcResult(measure, y[keep], v[keep], inp.kept(labs, keep), vtype, convention,
                        omitted=tuple(omitted), rows=tuple(np.flatnonzero(keep).tolist()))


def rma(
    yi,
    vi=None,
    *,
    sei=None,
    weights=None,
    mods=None,
    coef_names: Sequence[str] | None = None,
    intercept=True,
    data=None,
    slab=None,
    method="REML",
    test="z",
    level=95,
    btt=None,
    tau2=None,
    control=None,
    na_action="fail",
    metafor=None,
) -> RmaResult:
    """Fit a fixed-, random- or mixed-effects model (metafor ``rma.uni``).

    Parameters
    ----------
    yi, vi : array_like (k,) or column names, or an :class:`EscalcResult` as ``yi``
        Effect sizes and sampling variances (or ``sei``).
    mods : list of column names, DataFrame, mapping, or array (k,) / (k, m), optional
        Moderators. Named columns give the coefficient names; text, boolean and
        categorical columns are dummy-coded with treatment contrasts as R's
        ``model.matrix`` (and the command line) codes them, e.g. ``deliveryonline``.
        An array is numeric only, named by ``coef_names`` (default ``mods``, ``mods1``, ...).
    intercept : bool
        Add an intercept column (metafor ``intercept=TRUE``).
    data : pandas.DataFrame, optional
        Where column names are looked up (metafor ``data=``).
    slab : array_like or column name, optional
        Study labels (default: those of an EscalcResult, else 1..k).
    method : str
        tau^2 estimator: ``"FE"``/``"EE"``/``"CE"``, ``"DL"``, ``"HE"``, ``"HS"``, ``"HSk"``, ``"SJ"``,
        ``"ML"``, ``"REML"``, ``"EB"``, ``"PM"``, ``"PMM"``, ``"GENQ"``.
    test : {"z", "t", "knha", "adhoc"}
    control : dict, optional
        ``threshold`` (default 1e-5, as metafor), ``maxiter`` (100), ``tol``
        (root finding of PM/PMM and the ML/REML ll0 check, eps^0.25), ``tau2_min``,
        ``tau2_max``, ``tau2_init``, ``stepadj``; any other key is a ``TypeError``.
    weights : array_like or column name, optional
        User weights (metafor ``weights=``), required by ``method="GENQ"``.
    na_action : {"fail", "omit"}
        Missing values in yi, vi, weights or moderators: an error naming the
        studies, or leave them out with a warning (metafor's ``na.action``).
    metafor : str, optional
        The metafor release whose behaviour to reproduce (default
        :data:`~harness.core.versions.DEFAULT_METAFOR`, "5.0-1"): which
        models get R2 (5.0-1: every model the intercept-only one is nested in),
        ``method="CO"``/``"VC"`` (5.0-1), ``test="hksj"`` (4.8-0), the wording
        of the Knapp-Hartung-with-FE warning.

    Returns
    -------
    RmaResult

    Notes
    -----
    metafor's rules for sampling variances of 0: refused (metafor's message) by
    FE/EE/CE, DL, HS, HSk, PM, MP, PMM; the other estimators fit the model and
    the heterogeneity test, I^2 and H^2 are NaN, with metafor's warnings
    (:class:`RmaWarning`). A negative sampling variance is an error (metafor sets
    it to 0 with a warning). Non-convergence of an iterative estimator is
    ``converged=False`` with NaN estimates and a warning, never a number (metafor
    stops with "Fisher scoring algorithm did not converge").
    """
    inp.check_na_action(na_action)
    conv = conventions(supported_metafor(metafor))
    method, test = conv.rma_method(method, test)
    rows = None
    if isinstance(yi, EscalcResult):
        if vi is not None or sei is not None:
            raise ValueError("`yi` is an escalc result (it has its sampling variances); do not pass `vi`/`sei` too")
        if slab is None:
            slab = yi.slab
        rows = yi.rows
        y, v = np.asarray(yi.yi, float), np.asarray(yi.vi, float)
    else:
        if (vi is None) == (sei is None):
            raise ValueError("give exactly one of `vi` and `sei`")
        y = inp.numeric("yi", yi, data)
        s = inp.numeric("sei", sei, data) if sei is not None else None
        if s is not None and np.any(s < 0):
            raise ValueError("negative standard error in `sei` (a standard error cannot be negative)")
        v = inp.numeric("vi", vi, data) if vi is not None else s**2
    k = len(y)
    inp.length_check(k, vi=v)
    sub = _align(data, rows, k)
    w = inp.numeric("weights", weights, sub)
    M = inp.moderators(mods, sub, k, coef_names)
    labs = slab if (isinstance(slab, tuple) and rows is not None) else inp.labels(slab, sub, k)
    inp.length_check(k, weights=w)
    for name, x in (("yi", y), ("vi", v), ("weights", w)):
        inp.finite_check(name, x, labs)
    for name, x in M.columns.items():
        if name not in M.categorical:
            inp.finite_check(f"mods ({name})", x, labs)
    if np.any(v < 0):
        raise ValueError(f"negative sampling variance in `vi` for study {_study_list(labs, v < 0)} "
                         "(metafor: \"Negative sampling variances constrained to zero.\"; a variance cannot be negative)")
    if w is not None and np.any(w < 0):
        raise ValueError(f"Negative weights not allowed. (study {_study_list(labs, w < 0)})")
    keep, omitted = inp.handle_missing({"yi": np.isnan(y), "vi": np.isnan(v), "weights": None if w is None else np.isnan(w), "mods": M.missing}, labs, na_action)
    if not keep.all():
        y, v, w, M = y[keep], v[keep], None if w is None else w[keep], M.subset(keep)
        labs = tuple(np.asarray(labs, dtype=object)[keep])
        k = len(y)
    if control is not None:
        unknown = sorted(set(control) - CONTROL_KEYS)
        if unknown:
            raise TypeError(f"unknown `control` entr{'y' if len(unknown) == 1 else 'ies'} {', '.join(map(repr, unknown))}; known: {', '.join(sorted(CONTROL_KEYS))}")
    if method not in ESTIMATORS:
        raise ValueError(f"`method` must be one of {tuple(ESTIMATORS)}, not {method!r}")
    if test not in TESTS:
        raise ValueError(f"`test` must be one of {TESTS}, not {test!r}")
    if method == "GENQ" and w is None:
        raise ValueError("Must specify 'weights' when method='GENQ'.")
    if not intercept and not M.columns:
        raise ValueError("the model has no coefficients (no intercept and no moderators)")
    msgs = []
    zero = v == 0
    if zero.any():
        if (method in VI0_REFUSED and not (method in FE_METHODS and w is not None)) or (k == 1 and tau2 is None):
            # (k = 1: metafor fits tau^2 = 0, so 1/vi again)
            if k == 1 and method not in VI0_REFUSED:
                raise ValueError(f"{VI0_REFUSED['FE']} (sampling variance 0 for study {_study_list(labs, zero)})")
            raise ValueError(f"{VI0_REFUSED[method]} (sampling variance 0 for study {_study_list(labs, zero)})")
        if not zero.all():
            msgs.append("There are outcomes with non-positive sampling variances.")
    d = M.design(k, intercept=intercept)
    X, names = d.X, list(d.names)
    redundant = redundant_columns(X, names)
    if redundant:
        if intercept and names[0] in redundant:
            raise ValueError("the intercept is redundant in the model matrix (Model matrix not of full rank. Cannot fit model.)")
        keepc = [j for j, n in enumerate(names) if n not in redundant]
        X, names = X[:, keepc], [names[j] for j in keepc]
        msgs.append("Redundant predictors dropped from the model.")
    p = X.shape[1]
    int_only = intercept and p == 1
    if not (int_only and k == 1) and (p > k or (method not in FE_METHODS and tau2 is None and p + 1 > k)):
        raise ValueError("Number of parameters to be estimated is larger than the number of observations.")
    if k == 1 and test != "z":
        msgs.append('Setting argument test="z" since k=1.')
    if method in FE_METHODS and test in ("knha", "adhoc"):
        msgs.append(conv.knha_fe_warning(method))
    if not zero.any() and v.max() / v.min() >= 1e7:
        msgs.append("Ratio of largest to smallest sampling variance extremely large. May not be able to obtain stable results.")
    # (no errstate here: a floating-point overflow in the core must reach the caller,
    # where `metaharness verify` reports it as a numerical breakdown)
    # intercept only: X=None lets rma_arrays take its O(k) path without checking X
    # (with a zero vi the FE weights 1/vi of the Q-test divide by zero: known, reported below)
    with np.errstate(divide="ignore", invalid="ignore") if zero.any() else contextlib.nullcontext():
        r = rma_arrays(y, v, None if int_only else X, method=method, test=test, level=level, intercept=intercept, btt=btt, control=control, tau2=tau2, weights=w,
                        r2_when_nested=conv.r2_when_nested)
    QE, QEp, I2, H2, vt = (float(r[n]) for n in ("QE", "QEp", "I2", "H2", "vt"))
    se_tau2 = float(r["se_tau2"])
    if tau2 is not None and method not in FE_METHODS:
        se_tau2 = se_tau2_fixed(method, v, X, float(tau2))
    if zero.any():
        # metafor: "Cannot compute Q-test, I^2, or H^2 when there are non-positive sampling variances"
        QE = QEp = I2 = H2 = vt = float("nan")
        if not zero.all():
            msgs.append(f"Cannot compute {'Q' if int_only else 'QE'}-test, I^2, or H^2 when there are non-positive sampling variances in the data.")
    if bool(r.get("ll0_reset", False)):
        msgs.append("Fisher scoring algorithm may have gotten stuck at a local maximum.\nSetting tau^2 = 0. Check the profile likelihood plot with profile().")
    if not bool(r["converged"]):
        msgs.append(f"the tau^2 estimator ({method}) did not converge (metafor stops here); the result holds NaN: raise control['maxiter'] or choose another method")
    for m in msgs:
        warnings.warn(m, RmaWarning, stacklevel=2)
    return RmaResult(
        beta=r["beta"], se=r["se"], zval=r["zval"], pval=r["pval"], ci_lb=r["ci_lb"], ci_ub=r["ci_ub"], vb=r["vb"],
        coef_names=tuple(names), tau2=float(r["tau2"]), se_tau2=se_tau2, QE=QE, QEp=QEp, I2=I2, H2=H2, vt=vt,
        QM=float(r["QM"]), QMp=float(r["QMp"]), QMdf=(float(r["QMdf1"]), float(r["QMdf2"])), k=k, p=p, ddf=float(r["ddf"]),
        method=method, test=r["test"], level=level, weights=r["weights"], slab=tuple(labs), yi=y, vi=v,
        converged=bool(r["converged"]), iterations=int(r["iterations"]), R2=float(r["R2"]), X=X,
        user_weights=w, control=dict(control or {}), tau2_fixed=tau2 is not None, ll0_reset=bool(r.get("ll0_reset", False)),
        btt=None if btt is None else tuple(int(b) for b in np.atleast_1d(btt)), omitted=tuple(omitted), warnings=tuple(msgs), metafor=conv.version.text,
    )


def _align(data, rows, k):
    """``data`` restricted to the studies an escalc result kept (so that moderators,
    weights and labels taken from ``data`` line up with its effect sizes)."""
    if data is None or rows is None:
        return data
    frame = inp._frame(data)
    if len(frame) == k:
        return frame
    return frame.iloc[list(rows)]


__all__ = ["escalc", "rma", "MEASURES", "FE_METHODS", "RmaWarning", "StudiesOmittedWarning"]
