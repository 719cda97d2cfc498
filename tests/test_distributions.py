"""harness.core.distributions gives scipy.stats' numbers bit for bit (it calls the same scipy.special
functions without importing scipy.stats), edges included."""
import itertools

import numpy as np
import pytest
from scipy import stats

from harness.core import distributions as d

X = [-np.inf, -40.0, -5.0, -1.0, -1e-300, 0.0, 1e-300, 1e-8, 0.5, 1.959963984540054, 3.0, 40.0, 1e4, np.inf, np.nan]
Q = [0.0, 1e-300, 1e-12, 0.025, 0.05, 0.5, 0.975, 1.0 - 1e-12, 1.0, -0.1, 1.1, np.nan]
DF = [-1.0, 0.0, 0.3, 1.0, 2.0, 2.5, 10.0, 97.0, 1e6, np.inf, np.nan]


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    np.testing.assert_array_equal(a, b)  # NaN == NaN here; otherwise every bit


@pytest.mark.parametrize("x", X)
def test_norm(x):
    same(d.norm_sf(x), stats.norm.sf(x))


@pytest.mark.parametrize("q", Q)
def test_norm_isf(q):
    same(d.norm_isf(q), stats.norm.isf(q))


@pytest.mark.parametrize("df", DF)
def test_t_chi2_f(df):
    for x in X:
        same(d.t_sf(x, df), stats.t.sf(x, df))
        same(d.chi2_sf(x, df), stats.chi2.sf(x, df))
        with np.errstate(invalid="ignore"):  # scipy's own _logpdf warns at df = inf
            same(d.chi2_pdf(x, df), stats.chi2.pdf(x, df))
            same(d.t_pdf(x, df), stats.t.pdf(x, df))
            same(d.t_logpdf(x, df), stats.t.logpdf(x, df))
        for dfd in DF:
            same(d.f_sf(x, df, dfd), stats.f.sf(x, df, dfd))
    for q in Q:
        same(d.t_isf(q, df), stats.t.isf(q, df))
        same(d.chi2_isf(q, df), stats.chi2.isf(q, df))
        same(d.chi2_ppf(q, df), stats.chi2.ppf(q, df))


def test_arrays_broadcast_as_scipy_stats():
    x = np.array(X)
    for df in (np.array([2.0]), np.array(DF)[:, None]):
        same(d.t_sf(x, df), stats.t.sf(x, df))
        same(d.chi2_sf(x, df), stats.chi2.sf(x, df))
        same(d.t_pdf(x, df), stats.t.pdf(x, df))
        same(d.t_logpdf(x, df), stats.t.logpdf(x, df))
    same(d.norm_sf(x), stats.norm.sf(x))
    assert isinstance(d.t_pdf(1.0, 3.0), np.floating)
    assert isinstance(d.norm_sf(1.0), np.floating) and isinstance(d.t_isf(0.025, 5), np.floating)


def test_rank_first():
    rng = np.random.default_rng(1)
    for x in ([3.0, 1.0, 2.0], [1.0, 1.0, 0.5, 1.0], rng.integers(0, 4, 50).astype(float)):
        same(d.rank_first(x), stats.rankdata(x, method="ordinal").astype(float))


def test_t_density_on_many_points():
    """t density and its log, bit for bit, off the grid too (the robu bound evaluates it at |t|, df)."""
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0, 3, 500), rng.uniform(0, 60, 500)])
    df = np.concatenate([rng.uniform(0.05, 5, 500), rng.uniform(1, 400, 500)])
    same(d.t_pdf(x, df), stats.t.pdf(x, df))
    same(d.t_logpdf(x, df), stats.t.logpdf(x, df))
    for xi, dfi in zip(x[::50], df[::50]):  # one at a time, as scalars
        same(d.t_pdf(float(xi), float(dfi)), stats.t.pdf(float(xi), float(dfi)))
