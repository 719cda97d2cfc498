"""Effect sizes from two-group summary data.

Every function is a pure function on arrays (any shape, broadcast together) and
returns ``(yi, vi)``. Two conventions live side by side and never mix:

* **metafor** (``escalc``, version 3.8-1): exact gamma-function small-sample
  correction for the SMD and its ``vtype`` options;
* **RevMan 5** (Deeks & Higgins 2010): Hedges' adjusted g with the approximate
  correction ``1 - 3/(4N - 9)`` and its own variance formula.

References
----------
.. [1] Viechtbauer W. (2010). Conducting meta-analyses in R with the metafor
       package. J Stat Softw 36(3). ``metafor::escalc`` (R/escalc.r, 3.8-1).
.. [2] Hedges LV (1981). Distribution theory for Glass's estimator of effect
       size and related estimators. J Educ Stat 6:107-128.
.. [3] Deeks JJ, Higgins JPT (2010). Statistical algorithms in Review Manager 5.
"""
from __future__ import annotations

import numpy as np
from scipy.special import gammaln

#: ``vtype`` values of metafor's escalc implemented here, per measure.
MD_VTYPES = ("LS", "UB", "HO")
SMD_VTYPES = ("LS", "UB", "LS2", "AV")
SMDH_VTYPES = ("LS", "LS2")
ROM_VTYPES = ("LS", "HO", "AV", "AVHO")


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


def smd(m1i, sd1i, n1i, m2i, sd2i, n2i, vtype="LS"):
    """Standardised mean difference, Hedges' g with the exact correction (metafor).

    .. math::
        d_i = (m_{1i} - m_{2i}) / s_{p,i},\\qquad y_i = J(n_{1i}+n_{2i}-2)\\, d_i

    Variances (``vtype``), with :math:`N_i = n_{1i} + n_{2i}`, :math:`m = N_i - 2`:

    * ``"LS"`` (metafor's default): :math:`1/n_1 + 1/n_2 + y_i^2/(2N_i)`
    * ``"UB"``: :math:`1/n_1 + 1/n_2 + (1 - (m-2)/(m J^2))\\, y_i^2`
    * ``"LS2"``: :math:`J^2 (1/n_1 + 1/n_2 + d_i^2/(2N_i))`
    * ``"AV"``: ``"LS"`` with the n-weighted mean of all :math:`y_i` in place
      of :math:`y_i` (so it depends on every row passed in, as in metafor).

    metafor equivalent: ``escalc("SMD", ..., vtype=)`` (R/escalc.r 3.8-1, lines
    857-894). Not RevMan's SMD: see :func:`smd_revman`.
    """
    m1i, sd1i, n1i, m2i, sd2i, n2i = _asarrays(m1i, sd1i, n1i, m2i, sd2i, n2i)
    ni = n1i + n2i
    mi = ni - 2
    di = (m1i - m2i) / pooled_sd(sd1i, n1i, sd2i, n2i)
    cm = cmicalc(mi)
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


def smd_from_t(ti, n1i, n2i, vtype="LS"):
    """SMD from a two-sample t statistic (metafor ``escalc("SMD", ti=, n1i=, n2i=)``).

    metafor 3.8-1 converts :math:`d_i = t_i\\sqrt{1/n_{1i} + 1/n_{2i}}` and then
    proceeds as :func:`smd` with ``m1i = d, m2i = 0, sd1i = sd2i = 1`` (so the
    pooled SD is exactly 1). metafor 3.8-1 has no p-value input (``pi`` came
    with metafor 4.8-0); a p-value must be turned into t first, which loses
    the sign, so it is not offered here either.
    """
    ti, n1i, n2i = _asarrays(ti, n1i, n2i)
    di = ti * np.sqrt(1 / n1i + 1 / n2i)
    one = np.ones_like(di)
    return smd(di, one, n1i, 0 * di, one, n2i, vtype=vtype)


def smdh(m1i, sd1i, n1i, m2i, sd2i, n2i, vtype="LS"):
    """SMD with heteroscedastic SDs (Bonett 2009; metafor ``measure="SMDH"``, 3.8-1).

    .. math::
        s_i = \\sqrt{(sd_{1i}^2 + sd_{2i}^2)/2},\\qquad
        y_i = J(n_{1i}+n_{2i}-2)\\,(m_{1i} - m_{2i})/s_i

    ``vtype="LS"`` (metafor 3.8-1, R/escalc.r lines 898-911):

    .. math::
        v_i = J^2\\left[\\frac{y_i^2 (sd_1^4/(n_1-1) + sd_2^4/(n_2-1))}{2(sd_1^2+sd_2^2)^2}
              + \\frac{sd_1^2/(n_1-1) + sd_2^2/(n_2-1)}{(sd_1^2+sd_2^2)/2}\\right]

    ``vtype="LS2"``: :math:`y^2 sd_1^2/(2n_1(sd_1^2+sd_2^2)^2) + y^2 sd_2^2/(2n_2(sd_1^2+sd_2^2)^2)
    + 2sd_1^2/(n_1(sd_1^2+sd_2^2)) + 2sd_2^2/(n_2(sd_1^2+sd_2^2))`.

    Version note: metafor >= 4.6-0 drops the :math:`J^2` factor from "LS" and
    changes "LS2"; these are the 3.8-1 formulas (the Debian version).
    """
    m1i, sd1i, n1i, m2i, sd2i, n2i = _asarrays(m1i, sd1i, n1i, m2i, sd2i, n2i)
    cm = cmicalc(n1i + n2i - 2)
    s2 = sd1i**2 + sd2i**2
    yi = cm * (m1i - m2i) / np.sqrt(s2 / 2)
    if vtype == "LS":
        vi = yi**2 * (sd1i**4 / (n1i - 1) + sd2i**4 / (n2i - 1)) / (2 * s2**2) + (sd1i**2 / (n1i - 1) + sd2i**2 / (n2i - 1)) / (s2 / 2)
        vi = cm**2 * vi
    elif vtype == "LS2":
        vi = yi**2 * sd1i**2 / (2 * n1i * s2**2) + yi**2 * sd2i**2 / (2 * n2i * s2**2) + 2 * sd1i**2 / (n1i * s2) + 2 * sd2i**2 / (n2i * s2)
    else:
        raise ValueError(f"`vtype` must be one of {SMDH_VTYPES} for SMDH, not {vtype!r}")
    return yi, vi


def rom(m1i, sd1i, n1i, m2i, sd2i, n2i, vtype="LS"):
    """Log ratio of means (Hedges, Gurevitch & Curtis 1999; metafor ``measure="ROM"``, 3.8-1).

    .. math:: y_i = \\ln(m_{1i}/m_{2i}),\\qquad
              v_i = \\frac{sd_{1i}^2}{n_{1i} m_{1i}^2} + \\frac{sd_{2i}^2}{n_{2i} m_{2i}^2}\\ (\\text{"LS"})

    ``"HO"``: the pooled SD in place of each SD; ``"AV"``: :math:`\\bar{CV}_1^2/n_1 + \\bar{CV}_2^2/n_2`
    with the n-weighted mean coefficient of variation of each group over all
    rows; ``"AVHO"``: :math:`\\bar{CV}^2(1/n_1 + 1/n_2)` with both groups pooled.

    Version note: metafor 3.8-1 has no bias correction for ROM; metafor >= 5.0
    adds :math:`\\tfrac12(sd_1^2/(n_1m_1^2) - sd_2^2/(n_2m_2^2))` to yi by default
    (``correct=TRUE``). These are the 3.8-1 numbers. A ratio m1/m2 <= 0 gives
    NaN (metafor: NA).
    """
    m1i, sd1i, n1i, m2i, sd2i, n2i = _asarrays(m1i, sd1i, n1i, m2i, sd2i, n2i)
    with np.errstate(invalid="ignore", divide="ignore"):
        yi = np.log(m1i / m2i)
    if vtype == "LS":
        vi = sd1i**2 / (n1i * m1i**2) + sd2i**2 / (n2i * m2i**2)
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
