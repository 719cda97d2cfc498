"""Effect sizes from two-group summary data.

Every function is a pure function on arrays (any shape, broadcast together) and
returns ``(yi, vi)``. Two conventions live side by side and never mix:

* **metafor** (``escalc``): exact gamma-function small-sample correction for
  the SMD and its ``vtype`` options. Where metafor releases differ (SMDH's
  variances, ROM's bias correction, new ``vtype`` options) the function takes
  the behaviour as an argument (``correct=``, ``legacy_variances=``); which
  release does what is decided in one place, :mod:`harness.core.versions`.
  The defaults here are those of metafor 5.0-1;
* **RevMan 5** (Deeks & Higgins 2010): Hedges' adjusted g with the approximate
  correction ``1 - 3/(4N - 9)`` and its own variance formula.

References
----------
.. [1] Viechtbauer W. (2010). Conducting meta-analyses in R with the metafor
       package. J Stat Softw 36(3). ``metafor::escalc`` (R/escalc.r, releases
       3.8-1, 4.8-0 and 5.0-1).
.. [2] Hedges LV (1981). Distribution theory for Glass's estimator of effect
       size and related estimators. J Educ Stat 6:107-128.
.. [3] Deeks JJ, Higgins JPT (2010). Statistical algorithms in Review Manager 5.
.. [4] Bonett DG (2009). Meta-analytic interval estimation for standardized and
       unstandardized mean differences. Psychol Methods 14:225-238.
.. [5] Lajeunesse MJ (2015). Bias and correction for the log response ratio in
       ecological meta-analysis. Ecology 96:2056-2063.
"""
from __future__ import annotations

import numpy as np
from . import distributions as stats  # scipy.stats' functions, without importing scipy.stats
from scipy.special import gammaln

#: ``vtype`` values of metafor's escalc implemented here, per measure (the
#: union over the supported releases; which release has which:
#: :class:`harness.core.versions.Conventions`).
MD_VTYPES = ("LS", "UB", "HO")
SMD_VTYPES = ("LS", "UB", "LS2", "AV", "H0")
SMDH_VTYPES = ("LS", "LS2", "LS3")
ROM_VTYPES = ("LS", "HO", "AV", "AVHO", "LS2")


def _asarrays(*xs):
    return np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in xs))


def cmicalc(m):
    """Exact small-sample correction factor J(m) of Hedges (1981).

    .. math:: J(m) = \\frac{\\Gamma(m/2)}{\\sqrt{m/2}\\,\\Gamma((m-1)/2)}

    computed on the log scale, as ``metafor:::.cmicalc`` does; NaN for m <= 1
    (metafor returns NA there).
    """
    m = np.asarray(m, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.exp(gammaln(m / 2) - np.log(np.sqrt(m / 2)) - gammaln((m - 1) / 2))
    return np.where(m <= 1, np.nan, out)


def pooled_sd(sd1i, n1i, sd2i, n2i):
    """Pooled SD, ``sqrt(((n1-1) sd1^2 + (n2-1) sd2^2) / (n1 + n2 - 2))``."""
    sd1i, n1i, sd2i, n2i = _asarrays(sd1i, n1i, sd2i, n2i)
    return np.sqrt(((n1i - 1) * sd1i**2 + (n2i - 1) * sd2i**2) / (n1i + n2i - 2))


def md(m1i, sd1i, n1i, m2i, sd2i, n2i, vtype="LS"):
    """Raw mean difference (metafor ``measure="MD"``; RevMan 5 MD).

    .. math:: y_i = m_{1i} - m_{2i}, \\qquad
              v_i = sd_{1i}^2/n_{1i} + sd_{2i}^2/n_{2i}

    ``vtype="HO"`` assumes equal variances: :math:`v_i = s_p^2 (1/n_1 + 1/n_2)`.
    metafor equivalent: ``escalc("MD", m1i, sd1i, n1i, m2i, sd2i, n2i, vtype=)``.
    """
    m1i, sd1i, n1i, m2i, sd2i, n2i = _asarrays(m1i, sd1i, n1i, m2i, sd2i, n2i)
    yi = m1i - m2i
    if vtype in ("LS", "UB"):
        vi = sd1i**2 / n1i + sd2i**2 / n2i
    elif vtype == "HO":
        vi = pooled_sd(sd1i, n1i, sd2i, n2i) ** 2 * (1 / n1i + 1 / n2i)
    else:
        raise ValueError(f"`vtype` must be one of {MD_VTYPES} for MD, not {vtype!r}")
    return yi, vi


def smd(m1i, sd1i, n1i, m2i, sd2i, n2i, vtype="LS", correct=True):
    """Standardised mean difference, Hedges' g with the exact correction (metafor).

    .. math::
        d_i = (m_{1i} - m_{2i}) / s_{p,i},\\qquad y_i = J(n_{1i}+n_{2i}-2)\\, d_i

    ``correct=False`` (metafor >= 4.8-0, ``escalc(correct=FALSE)``) uses
    :math:`J = 1`: :math:`y_i = d_i`, and every formula below with J = 1.

    Variances (``vtype``), with :math:`N_i = n_{1i} + n_{2i}`, :math:`m = N_i - 2`:

    * ``"LS"`` (metafor's default): :math:`1/n_1 + 1/n_2 + y_i^2/(2N_i)`
    * ``"UB"``: :math:`1/n_1 + 1/n_2 + (1 - (m-2)/(m J^2))\\, y_i^2`
    * ``"LS2"``: :math:`J^2 (1/n_1 + 1/n_2 + d_i^2/(2N_i))`
    * ``"AV"``: ``"LS"`` with the n-weighted mean of all :math:`y_i` in place
      of :math:`y_i` (so it depends on every row passed in, as in metafor).
    * ``"H0"`` (metafor >= 4.8-0; the variance under :math:`\\delta = 0`):
      :math:`J^2 (1/n_1 + 1/n_2)\\, m/(m - 2)`, NaN for :math:`m \\le 2`.

    metafor equivalent: ``escalc("SMD", ..., vtype=)`` (R/escalc.r, measure
    SMD). Not RevMan's SMD: see :func:`smd_revman`.
    """
    m1i, sd1i, n1i, m2i, sd2i, n2i = _asarrays(m1i, sd1i, n1i, m2i, sd2i, n2i)
    ni = n1i + n2i
    mi = ni - 2
    di = (m1i - m2i) / pooled_sd(sd1i, n1i, sd2i, n2i)
    cm = cmicalc(mi) if correct else np.ones_like(mi)
    yi = cm * di
    if vtype == "LS":
        vi = 1 / n1i + 1 / n2i + yi**2 / (2 * ni)
    elif vtype == "UB":
        vi = 1 / n1i + 1 / n2i + (1 - (mi - 2) / (mi * cm**2)) * yi**2
    elif vtype == "LS2":
        vi = cm**2 * (1 / n1i + 1 / n2i + di**2 / (2 * ni))
    elif vtype == "AV":
        ok = ~np.isnan(yi)
        ybar = np.sum(np.where(ok, yi * ni, 0.0)) / np.sum(np.where(ok, ni, 0.0))
        vi = 1 / n1i + 1 / n2i + ybar**2 / (2 * ni)
    elif vtype == "H0":
        with np.errstate(divide="ignore", invalid="ignore"):
            vi = np.where(mi > 2, cm**2 * (1 / n1i + 1 / n2i) * mi / (mi - 2), np.nan)
    else:
        raise ValueError(f"`vtype` must be one of {SMD_VTYPES} for SMD, not {vtype!r}")
    return yi, vi


def smd_revman(m1i, sd1i, n1i, m2i, sd2i, n2i):
    """RevMan 5's SMD: Hedges' adjusted g with the approximate correction.

    .. math::
        g_i = d_i\\left(1 - \\frac{3}{4N_i - 9}\\right),\\qquad
        SE(g_i)^2 = \\frac{N_i}{n_{1i} n_{2i}} + \\frac{g_i^2}{2(N_i - 3.94)}

    Reference: Deeks & Higgins (2010), "Statistical algorithms in Review
    Manager 5"; R's ``meta::metacont(..., exact.smd=FALSE)``. Differs from
    metafor's SMD in the correction and in the variance (up to ~2% in SE).
    """
    m1i, sd1i, n1i, m2i, sd2i, n2i = _asarrays(m1i, sd1i, n1i, m2i, sd2i, n2i)
    ni = n1i + n2i
    di = (m1i - m2i) / pooled_sd(sd1i, n1i, sd2i, n2i)
    yi = di * (1 - 3 / (4 * ni - 9))
    vi = ni / (n1i * n2i) + yi**2 / (2 * (ni - 3.94))
    return yi, vi


def smd_from_d(di, n1i, n2i, vtype="LS", correct=True):
    """SMD from an (uncorrected) standardised difference ``di`` (metafor ``escalc("SMD", di=, n1i=, n2i=)``).

    metafor turns ``di`` into ``m1i = d, m2i = 0, sd1i = sd2i = 1`` (so the
    pooled SD is exactly 1) and proceeds as :func:`smd`.
    """
    di, n1i, n2i = _asarrays(di, n1i, n2i)
    one = np.ones_like(di)
    return smd(di, one, n1i, 0 * di, one, n2i, vtype=vtype, correct=correct)


def smd_from_t(ti, n1i, n2i, vtype="LS", correct=True):
    """SMD from a two-sample t statistic (metafor ``escalc("SMD", ti=, n1i=, n2i=)``).

    :math:`d_i = t_i\\sqrt{1/n_{1i} + 1/n_{2i}}`, then :func:`smd_from_d`.
    """
    ti, n1i, n2i = _asarrays(ti, n1i, n2i)
    return smd_from_d(ti * np.sqrt(1 / n1i + 1 / n2i), n1i, n2i, vtype=vtype, correct=correct)


def t_from_p(pi, df):
    """A two-sided p-value of a t-test back to the t statistic, signed as ``pi`` is.

    :math:`t = \\operatorname{sign}(p)\\, t^{-1}_{df}(1 - |p|/2)`; NaN for
    :math:`|p| > 1` or ``df < 1``, as metafor's ``.convp2t``
    (``sign(pval) * qt(abs(pval)/2, df, lower.tail=FALSE)``; metafor >= 4.8-0).
    """
    pi, df = _asarrays(pi, df)
    bad = (np.abs(pi) > 1) | (df < 1)
    with np.errstate(invalid="ignore"):
        t = np.sign(pi) * stats.t.isf(np.abs(pi) / 2, np.where(df < 1, np.nan, df))
    return np.where(bad, np.nan, t)


def smd_from_p(pi, n1i, n2i, vtype="LS", correct=True):
    """SMD from two-sided t-test p-values (metafor >= 4.8-0 ``escalc("SMD", pi=, n1i=, n2i=)``).

    ``pi`` carries the effect's sign (``-0.03`` for a negative difference);
    :func:`t_from_p` with :math:`n_1 + n_2 - 2` df, then :func:`smd_from_t`.
    metafor 3.8-1 has no ``pi``.
    """
    pi, n1i, n2i = _asarrays(pi, n1i, n2i)
    return smd_from_t(t_from_p(pi, n1i + n2i - 2), n1i, n2i, vtype=vtype, correct=correct)


def smdh(m1i, sd1i, n1i, m2i, sd2i, n2i, vtype="LS", correct=True, legacy_variances=False):
    """SMD with heteroscedastic SDs (Bonett 2009; metafor ``measure="SMDH"``).

    .. math::
        s_i = \\sqrt{(sd_{1i}^2 + sd_{2i}^2)/2},\\qquad d_i = (m_{1i} - m_{2i})/s_i,
        \\qquad y_i = J(n_{1i}+n_{2i}-2)\\, d_i

    (``correct=False``: J = 1, metafor >= 4.8-0). Variances, metafor >= 4.6-0
    (``legacy_variances=False``; Bonett's 2009 variance of d with y in place of d):

    * ``"LS"``: :math:`y^2 (sd_1^4/(n_1-1) + sd_2^4/(n_2-1))/(8 s^4) + (sd_1^2/(n_1-1) + sd_2^2/(n_2-1))/s^2`
    * ``"LS2"``: :math:`sd_1^2/(n_1 s^2) + sd_2^2/(n_2 s^2) + y^2 (sd_1^4/n_1 + sd_2^4/n_2)/(8 s^4)`
    * ``"LS3"``: ``"LS2"`` with :math:`n - 1` in the :math:`y^2` term.

    metafor 3.8-1 (``legacy_variances=True``; R/escalc.r 3.8-1, measure SMDH):

    * ``"LS"``: :math:`J^2` times the >= 4.6-0 ``"LS"``;
    * ``"LS2"``: :math:`y^2 sd_1^2/(2 n_1 (sd_1^2+sd_2^2)^2) + y^2 sd_2^2/(2 n_2 (sd_1^2+sd_2^2)^2)
      + 2 sd_1^2/(n_1 (sd_1^2+sd_2^2)) + 2 sd_2^2/(n_2 (sd_1^2+sd_2^2))`
      (:math:`sd^2` where 4.6-0 has :math:`sd^4` in the :math:`y^2` term);
    * no ``"LS3"``.
    """
    m1i, sd1i, n1i, m2i, sd2i, n2i = _asarrays(m1i, sd1i, n1i, m2i, sd2i, n2i)
    cm = cmicalc(n1i + n2i - 2) if correct else np.ones_like(n1i)
    s2 = sd1i**2 + sd2i**2  # = 2 s^2
    yi = cm * (m1i - m2i) / np.sqrt(s2 / 2)
    if vtype == "LS":
        vi = yi**2 * (sd1i**4 / (n1i - 1) + sd2i**4 / (n2i - 1)) / (2 * s2**2) + (sd1i**2 / (n1i - 1) + sd2i**2 / (n2i - 1)) / (s2 / 2)
        if legacy_variances:
            vi = cm**2 * vi
    elif vtype == "LS2" and legacy_variances:
        vi = yi**2 * sd1i**2 / (2 * n1i * s2**2) + yi**2 * sd2i**2 / (2 * n2i * s2**2) + 2 * sd1i**2 / (n1i * s2) + 2 * sd2i**2 / (n2i * s2)
    elif vtype in ("LS2", "LS3") and not legacy_variances:
        d1, d2 = (n1i, n2i) if vtype == "LS2" else (n1i - 1, n2i - 1)
        vi = sd1i**2 / (n1i * s2 / 2) + sd2i**2 / (n2i * s2 / 2) + yi**2 / (2 * s2**2) * (sd1i**4 / d1 + sd2i**4 / d2)
    else:
        allowed = ("LS", "LS2") if legacy_variances else SMDH_VTYPES
        raise ValueError(f"`vtype` must be one of {allowed} for SMDH, not {vtype!r}")
    return yi, vi


def rom(m1i, sd1i, n1i, m2i, sd2i, n2i, vtype="LS", correct=True):
    """Log ratio of means (Hedges, Gurevitch & Curtis 1999; metafor ``measure="ROM"``).

    .. math:: y_i = \\ln(m_{1i}/m_{2i}) + c_i,\\qquad
              v_i = \\frac{sd_{1i}^2}{n_{1i} m_{1i}^2} + \\frac{sd_{2i}^2}{n_{2i} m_{2i}^2}\\ (\\text{"LS"})

    with the second-order bias correction (Lajeunesse 2015, eq. 5)
    :math:`c_i = \\tfrac12\\left(sd_1^2/(n_1 m_1^2) - sd_2^2/(n_2 m_2^2)\\right)` when
    ``correct=True`` -- metafor 5.0-1's default (``escalc(correct=TRUE)``);
    metafor 3.8-1 and 4.8-0 have no correction for ROM (``correct=False``
    reproduces them). The correction uses each group's own SD, whatever ``vtype``.

    ``"HO"``: the pooled SD in place of each SD; ``"AV"``: :math:`\\bar{CV}_1^2/n_1 + \\bar{CV}_2^2/n_2`
    with the n-weighted mean coefficient of variation of each group over all
    rows; ``"AVHO"``: :math:`\\bar{CV}^2(1/n_1 + 1/n_2)` with both groups pooled;
    ``"LS2"`` (metafor >= 5.0-1; second-order):
    ``"LS"`` :math:`+ sd_1^4/(2 n_1^2 m_1^4) + sd_2^4/(2 n_2^2 m_2^4)`.
    A ratio m1/m2 <= 0 gives NaN (metafor: NA).
    """
    m1i, sd1i, n1i, m2i, sd2i, n2i = _asarrays(m1i, sd1i, n1i, m2i, sd2i, n2i)
    with np.errstate(invalid="ignore", divide="ignore"):
        yi = np.log(m1i / m2i)
    r1, r2 = sd1i**2 / (n1i * m1i**2), sd2i**2 / (n2i * m2i**2)
    if correct:
        yi = yi + (r1 - r2) / 2
    if vtype == "LS":
        vi = r1 + r2
    elif vtype == "LS2":
        vi = r1 + r2 + r1**2 / 2 + r2**2 / 2
    elif vtype == "HO":
        sp2 = pooled_sd(sd1i, n1i, sd2i, n2i) ** 2
        vi = sp2 / (n1i * m1i**2) + sp2 / (n2i * m2i**2)
    elif vtype in ("AV", "AVHO"):
        cv1, cv2 = sd1i / m1i, sd2i / m2i
        ok = ~(np.isnan(cv1) | np.isnan(cv2))
        if vtype == "AV":
            c1 = np.sum(np.where(~np.isnan(cv1), n1i * cv1, 0)) / np.sum(np.where(~np.isnan(cv1), n1i, 0))
            c2 = np.sum(np.where(~np.isnan(cv2), n2i * cv2, 0)) / np.sum(np.where(~np.isnan(cv2), n2i, 0))
            vi = c1**2 / n1i + c2**2 / n2i
        else:
            c = (np.sum(np.where(ok, n1i * cv1, 0)) + np.sum(np.where(ok, n2i * cv2, 0))) / np.sum(np.where(ok, n1i + n2i, 0))
            vi = c**2 * (1 / n1i + 1 / n2i)
    else:
        raise ValueError(f"`vtype` must be one of {ROM_VTYPES} for ROM, not {vtype!r}")
    return yi, vi
