"""Tail probabilities and quantiles of the normal, t, chi-square and F distributions (and the t and chi-square densities).

The functions scipy.stats evaluates for these distributions, called directly from scipy.special,
so that the core does not import scipy.stats (about half a second at every start of the command
line; scipy.special is what it would call anyway). Each applies scipy.stats' own rules for the
arguments (``rv_continuous.sf``/``isf``/``ppf`` in scipy/stats/_distn_infrastructure.py): a
degree of freedom that is not > 0, or a probability outside [0, 1], gives NaN; the formulas are
those of ``norm_gen``, ``t_gen``, ``chi2_gen`` and ``f_gen`` in
scipy/stats/_continuous_distns.py. tests/test_distributions.py checks bit-for-bit equality with
scipy.stats on a grid that includes the edges.

R's counterparts (metafor calls them): ``pnorm(x, lower.tail = FALSE)``, ``qnorm``, ``pt``,
``qt``, ``pchisq``, ``qchisq``, ``pf``.

The namespaces :data:`norm`, :data:`t`, :data:`chi2`, :data:`f` and :func:`rankdata` have
scipy.stats' names, so a module uses them as it used scipy.stats
(``from . import distributions as stats``; ``stats.t.sf(x, df)``).
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from scipy import special


def _df_ok(*dfs):
    ok = True
    for df in dfs:
        ok = ok & (np.asarray(df, dtype=float) > 0)
    return np.asarray(ok)


def _sf(fn, x, lower, ok, *args):
    """scipy.stats' ``sf`` rule: NaN for bad arguments or x; 1 at or below the support's lower
    end ``lower``; 0 at +inf; ``fn(x, *args)`` inside the support."""
    x = np.asarray(x, dtype=float)
    args = [np.asarray(a, dtype=float) for a in args]
    if _one_inside(x, ok, args) and lower < x < np.inf:
        # one number inside the support: fn of it, without the masks below (their cost, not
        # fn's, is what a single fit pays); the same call on the same 0-d arrays
        with np.errstate(invalid="ignore", over="ignore"):
            return _scalar(np.asarray(fn(x, *args)))
    x, ok, *args = np.broadcast_arrays(x, ok, *args)
    inside = ok & (x > lower) & (x < np.inf)
    with np.errstate(invalid="ignore", over="ignore"):
        val = fn(np.where(inside, x, 1.0), *(np.where(inside, a, 1.0) for a in args))
    out = np.where(inside, val, np.where(x <= lower, 1.0, 0.0))
    return _scalar(np.where(~ok | np.isnan(x), np.nan, out))


def _quantile(fn, q, at0, at1, ok, *args):
    """scipy.stats' ``isf``/``ppf`` rule: NaN for bad arguments or q outside [0, 1]; the
    support's ends ``at0``/``at1`` at q = 0 and q = 1; ``fn(q, *args)`` in between."""
    q = np.asarray(q, dtype=float)
    args = [np.asarray(a, dtype=float) for a in args]
    if _one_inside(q, ok, args) and 0 < q < 1:  # as in _sf
        with np.errstate(invalid="ignore", over="ignore"):
            return _scalar(np.asarray(fn(q, *args)))
    q, ok, *args = np.broadcast_arrays(q, ok, *args)
    inside = ok & (q > 0) & (q < 1)
    with np.errstate(invalid="ignore", over="ignore"):
        val = fn(np.where(inside, q, 0.5), *(np.where(inside, a, 1.0) for a in args))
    out = np.where(inside, val, np.where(ok & (q == 0), at0, np.where(ok & (q == 1), at1, np.nan)))
    return _scalar(out)


def _one_inside(x, ok, args):
    """0-d ``x`` and arguments, and arguments that are valid (``ok``)."""
    return x.ndim == 0 and np.ndim(ok) == 0 and bool(ok) and all(a.ndim == 0 for a in args)


def _scalar(x):
    """0-d arrays become numpy scalars, as scipy.stats returns them."""
    return x[()] if isinstance(x, np.ndarray) and x.ndim == 0 else x


def norm_sf(x):
    """P(Z > x) (``stats.norm.sf``; R ``pnorm(x, lower.tail = FALSE)``)."""
    return _sf(lambda x: special.ndtr(-x), x, -np.inf, True)


def norm_isf(q):
    """The x with P(Z > x) = q (``stats.norm.isf``; R ``qnorm(q, lower.tail = FALSE)``)."""
    return _quantile(lambda q: -special.ndtri(q), q, np.inf, -np.inf, True)


def t_sf(x, df):
    """P(T_df > x) (``stats.t.sf``; R ``pt(x, df, lower.tail = FALSE)``)."""
    return _sf(lambda x, df: special.stdtr(df, -x), x, -np.inf, _df_ok(df), df)


def t_isf(q, df):
    """The x with P(T_df > x) = q (``stats.t.isf``; R ``qt(q, df, lower.tail = FALSE)``)."""
    return _quantile(lambda q, df: -special.stdtrit(df, q), q, np.inf, -np.inf, _df_ok(df), df)


def chi2_sf(x, df):
    """P(X²_df > x) (``stats.chi2.sf``; R ``pchisq(x, df, lower.tail = FALSE)``); 1 for x <= 0."""
    return _sf(lambda x, df: special.chdtrc(df, x), x, 0.0, _df_ok(df), df)


def chi2_pdf(x, df):
    """The chi-square density (``stats.chi2.pdf``; R ``dchisq(x, df)``):
    x^(df/2 - 1) e^(-x/2) / (2^(df/2) Gamma(df/2)), evaluated on the log scale (``xlogy``,
    ``gammaln``) as scipy's ``chi2_gen._logpdf``; 0 for x < 0, NaN for df <= 0."""
    x = np.asarray(x, dtype=float)
    df = np.asarray(df, dtype=float)
    x, df = np.broadcast_arrays(x, df)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        half = df / 2.0
        val = np.exp(special.xlogy(half - 1.0, x) - x / 2.0 - special.gammaln(half) - (np.log(2) * df) / 2.0)
    out = np.where(x < 0, 0.0, val)
    return _scalar(np.where((df <= 0) | np.isnan(x) | np.isnan(df), np.nan, out))


#: log(sqrt(2 pi)) and sqrt(2 pi) as scipy.stats' normal density takes them (``_norm_pdf_logC``, ``_norm_pdf_C``)
_NORM_LOGC = float(np.log(np.sqrt(2 * np.pi)))
_NORM_C = float(np.sqrt(2 * np.pi))


def _t_logpdf_inside(x, df):
    """``t_gen._logpdf`` (scipy/stats/_continuous_distns.py) for df > 0:
    log Gamma((df+1)/2)/Gamma(df/2) (as ``log(poch(df/2, 1/2))``) - (log df + log pi)/2
    - (df+1)/2 log1p(x^2/df), and the normal's -x^2/2 - log sqrt(2 pi) where df = inf."""
    t = np.log(special.poch(0.5 * df, 0.5)) - 0.5 * (np.log(df) + np.log(np.pi)) - (df + 1) / 2 * np.log1p(x * x / df)
    return np.where(df == np.inf, -x**2 / 2.0 - _NORM_LOGC, t)


def t_logpdf(x, df):
    """The log of the t density (``stats.t.logpdf``; R ``dt(x, df, log = TRUE)``), evaluated as
    scipy's ``t_gen._logpdf``; NaN for df <= 0 or NaN arguments, -inf at x = +-inf."""
    x, df, ok = _density_args(x, df)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        val = _t_logpdf_inside(x, np.where(ok, df, 1.0))
    return _scalar(np.where(ok, val, np.nan))


def t_pdf(x, df):
    """The t density (``stats.t.pdf``; R ``dt(x, df)``): ``exp`` of :func:`t_logpdf` (scipy's
    ``t_gen._pdf``), the normal's exp(-x^2/2)/sqrt(2 pi) where df = inf."""
    x, df, ok = _density_args(x, df)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        dfo = np.where(ok, df, 1.0)
        val = np.where(dfo == np.inf, np.exp(-x**2 / 2.0) / _NORM_C, np.exp(_t_logpdf_inside(x, dfo)))
    return _scalar(np.where(ok, val, np.nan))


def _density_args(x, df):
    """``x``, ``df`` broadcast (as contiguous arrays) and scipy.stats' argument rule for the
    density: df > 0 and x not NaN (otherwise NaN)."""
    x, df = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(df, dtype=float))
    x, df = np.array(x), np.array(df)  # contiguous copies (not the broadcast views)
    return x, df, (df > 0) & ~np.isnan(x)


def chi2_isf(q, df):
    """The x with P(X²_df > x) = q (``stats.chi2.isf``; R ``qchisq(q, df, lower.tail = FALSE)``)."""
    return _quantile(lambda q, df: special.chdtri(df, q), q, np.inf, 0.0, _df_ok(df), df)


def chi2_ppf(q, df):
    """The x with P(X²_df <= x) = q (``stats.chi2.ppf``; R ``qchisq(q, df)``)."""
    return _quantile(lambda q, df: 2 * special.gammaincinv(df / 2, q), q, 0.0, np.inf, _df_ok(df), df)


def f_sf(x, dfn, dfd):
    """P(F_dfn,dfd > x) (``stats.f.sf``; R ``pf(x, dfn, dfd, lower.tail = FALSE)``); 1 for x <= 0."""
    return _sf(lambda x, dfn, dfd: special.fdtrc(dfn, dfd, x), x, 0.0, _df_ok(dfn, dfd), dfn, dfd)


def rank_first(x):
    """R's ``rank(x, ties.method = "first")`` (``stats.rankdata(x, method="ordinal")``): ranks 1..n,
    ties in the order they occur."""
    x = np.asarray(x, dtype=float)
    ranks = np.empty(x.shape[-1], dtype=float)
    ranks[np.argsort(x, kind="stable")] = np.arange(1, x.shape[-1] + 1)
    return ranks


def rankdata(x, method="ordinal"):
    """``stats.rankdata`` for ``method="ordinal"`` (the only method the core uses), as floats."""
    if method != "ordinal":
        raise ValueError(f"rankdata: only method='ordinal' is implemented here, not {method!r}")
    return rank_first(x)


#: scipy.stats' distribution objects, for the methods the core calls
norm = SimpleNamespace(sf=norm_sf, isf=norm_isf)
t = SimpleNamespace(sf=t_sf, isf=t_isf, pdf=t_pdf, logpdf=t_logpdf)
chi2 = SimpleNamespace(sf=chi2_sf, isf=chi2_isf, ppf=chi2_ppf, pdf=chi2_pdf)
f = SimpleNamespace(sf=f_sf)
