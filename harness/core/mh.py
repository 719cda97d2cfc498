"""Mantel-Haenszel and Peto pooling of 2x2 tables (metafor ``rma.mh``, ``rma.peto``).

Pure functions on the cells ``ai, bi, ci, di`` (one table per study); they
return dicts named as metafor names its output. Both follow metafor's
R/rma.mh.r and R/rma.peto.r (3.8-1, 4.8-0 and 5.0-1 compute the same
numbers; only the wording of one warning differs, see
``counted_na_warning`` in :data:`harness.core.versions.CHANGES`):

1. the study effects ``yi, vi`` come from ``escalc`` with ``add[0], to[0],
   drop00[0]`` (defaults 1/2, "only0", TRUE): they enter only the
   heterogeneity test and the per-study output;
2. ``drop00[1]`` (default FALSE) drops double-zero tables from the pooling;
   tables with NaN cells are left out ("Tables with NAs omitted ...");
3. ``add[1]`` is added by rule ``to[1]`` (defaults 0, "none") to the cells
   that are pooled.

Mantel-Haenszel (tables after step 3; :math:`N = a+b+c+d`, :math:`n_1 = a+b`, :math:`n_2 = c+d`):

* OR: :math:`R = \\sum ad/N`, :math:`S = \\sum bc/N`, :math:`\\hat\\theta = \\ln(R/S)`;
  Robins-Breslow-Greenland variance (Robins, Breslow & Greenland 1986)
  :math:`\\tfrac12[\\sum PR/R^2 + \\sum(PS+QR)/(RS) + \\sum QS/S^2]` with
  :math:`P = (a+d)/N`, :math:`Q = (b+c)/N` per table. Undefined (NaN) when R or S is 0.
* RR: :math:`R = \\sum a n_2/N`, :math:`S = \\sum c n_1/N`; Greenland-Robins
  (1985) variance :math:`\\sum(n_1n_2(a+c)/N^2 - ac/N)/(RS)`. NaN when no events in one group.
* RD: :math:`\\hat\\theta = \\sum(a n_2 - c n_1)/N \\,/\\, \\sum n_1n_2/N`; variance of
  Sato, Greenland & Robins (1989):
  :math:`[\\hat\\theta\\sum(c n_1^2/N^2 - a n_2^2/N^2 + n_1n_2(n_2-n_1)/(2N^2)) +
  \\sum(a(n_2-c) + c(n_1-a))/(2N)] / (\\sum n_1n_2/N)^2`
  (not Greenland-Robins' 1985 variance, which RevMan uses: see
  :mod:`harness.core.revman_binary`).
* OR only: Cochran-Mantel-Haenszel ``CO`` and Mantel-Haenszel ``MH`` tests,
  :math:`(|\\sum a - n_1x/N| - c)^2 / \\sum n_1n_2 x y/N^3` (``CO``) or with
  :math:`N^2(N-1)` (``MH``), x = a+c, y = b+d, c = 1/2 when ``correct``;
  Breslow-Day ``BD`` and Tarone's ``TA`` test of homogeneity of the ORs
  (Tarone 1985) on the ``k_pos`` tables with a positive expected count, df k_pos - 1.
* ``QE`` from the escalc effects: :math:`\\sum (y_i - \\hat\\theta)^2/v_i` on
  the ``k_yi`` studies with yi, vi; I² and H² from it (fixed-effect formulas).
* ``weights``: MH weights in percent, bc/N (OR), c n_1/N (RR), n_1n_2/N (RD)
  (metafor ``weights.rma.mh``).

Peto (Yusuf et al. 1985): :math:`E = x n_1/N`, :math:`V = x y n_1 n_2/(N^2(N-1))`,
:math:`\\hat\\theta = \\sum(a - E)/\\sum V`, SE :math:`1/\\sqrt{\\sum V}` (error when
:math:`\\sum V = 0`), :math:`Q = \\sum (a-E)^2/V - (\\sum(a-E))^2/\\sum V` over the
``k_pos`` tables with V > 0 (QEp, I², H² with df k_yi - 1 when k_pos > 1), weights V.
"""
from __future__ import annotations

import numpy as np
from . import distributions as stats  # scipy.stats' functions, without importing scipy.stats

from . import effect_sizes_binary as eb
from .rma import level_to_alpha

MH_MEASURES = ("OR", "RR", "RD")

TABLES_NA_WARNING = "tables"
YIVI_NA_WARNING = "Some yi/vi values are NA."
PETO_NO_EVENTS = "One of the two outcomes never occurred in any of the tables. Peto's method cannot be used."
#: R's warning when sqrt() gets a negative number (metafor's MH variances can be negative by rounding or in degenerate tables)
NAN_WARNING = "NaNs produced"


def _sqrt(x, warnings):
    """``sqrt`` as R evaluates it: NaN with R's warning for a negative argument."""
    if x < 0:
        warnings.append(NAN_WARNING)
        return float("nan")
    return float(np.sqrt(x))


class MHError(ValueError):
    """An input rma.mh/rma.peto refuses (metafor's error message)."""


def _pair(x, second):
    """metafor's one-or-two-values arguments: a scalar x becomes (x, second)."""
    if isinstance(x, (list, tuple)):
        if len(x) != 2:
            raise ValueError("`add`, `to` and `drop00` take one or two values")
        return tuple(x)
    return (x, second)


def _prepare(ai, bi, ci, di, measure, add, to, drop00, metafor):
    """Steps 1-3 of the module docstring: escalc effects, the tables pooled, warnings."""
    rules = eb.rules_of(metafor)
    add, to, drop00 = _pair(add, 0.0), _pair(to, "none"), _pair(drop00, False)
    for t in to:
        if t not in eb.TO_RULES:
            raise MHError("Unknown 'to' argument specified.")
    ai, bi, ci, di = eb.two_by_two(ai, bi, ci, di)
    es = eb.escalc_binary(measure, ai, bi, ci, di, add=add[0], to=to[0], drop00=bool(drop00[0]), metafor=rules)
    warnings = list(es.warnings)
    tab = [x.copy() for x in (ai, bi, ci, di)]
    if drop00[1]:
        d00 = eb.double_zero(ai, bi, ci, di)
        for x in tab:
            x[d00] = np.nan
    not_na = ~np.any([np.isnan(x) for x in tab], axis=0)
    if not np.all(not_na):
        warnings.append(rules.na_omitted(int(np.sum(~not_na)), "tables"))
    if not np.any(not_na):
        raise MHError("Processing terminated since k = 0.")
    tab = [x[not_na] for x in tab]
    ok_yi = ~(np.isnan(es.yi) | np.isnan(es.vi))
    if not np.all(ok_yi):
        warnings.append(YIVI_NA_WARNING)
    tab = list(eb.adjust_cells(*tab, add=add[1], to=to[1], drop00=False))
    return es, tab, not_na, ok_yi, warnings


def _wald(beta, se, level):
    crit = stats.norm.isf(level_to_alpha(level) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = beta / se
    return z, 2 * stats.norm.sf(abs(z)), beta - crit * se, beta + crit * se


def _heterogeneity(yi, vi, beta):
    """QE, QEp, I2, H2 of rma.mh (IV weights 1/vi around the pooled estimate)."""
    k = len(yi)
    if k <= 1:
        return 0.0, 1.0, 0.0, 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        qe = float(np.sum((yi - beta) ** 2 / vi))
    if np.isnan(qe):  # no pooled estimate (metafor: max(0, NA) is NA, and so are QEp, I2, H2)
        return (float("nan"),) * 4
    qe = max(0.0, qe)
    i2 = max(0.0, 100 * (qe - (k - 1)) / qe) if qe > 0 else 0.0
    return qe, float(stats.chi2.sf(qe, k - 1)), i2, qe / (k - 1)


def rma_mh_arrays(ai, bi, ci, di, measure="OR", add=0.5, to="only0", drop00=True, correct=True, level=95, metafor=None) -> dict:
    """metafor's ``rma.mh`` for measure OR, RR or RD (see the module docstring).

    ``add``, ``to``, ``drop00`` take one value (for the escalc effects; the
    pooled tables then get metafor's second defaults 0, "none", FALSE) or a
    pair, as in metafor. Returns ``beta, se, zval, pval, ci_lb, ci_ub, QE,
    QEp, I2, H2, CO, COp, MH, MHp, BD, BDp, TA, TAp, k, k_yi, k_pos, yi, vi``
    (every study, NaN where metafor has NA), ``weights`` (percent, NaN for
    tables left out), ``warnings``.
    """
    if measure not in MH_MEASURES:
        raise MHError("Mantel-Haenszel method can only be used with measures OR, RR, RD, IRR, and IRD.")
    es, (a, b, c, d), not_na, ok_yi, warnings = _prepare(ai, bi, ci, di, measure, add, to, drop00, metafor)
    n1, n2 = a + b, c + d
    N = a + b + c + d
    nan = float("nan")
    CO = COp = MHs = MHp = BD = BDp = TA = TAp = nan
    k_pos = nan
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "OR":
            P = a / N + d / N
            Q = b / N + c / N
            Ri = (a / N) * d
            Si = (b / N) * c
            R, S = Ri.sum(), Si.sum()
            if R == 0 or S == 0:
                beta_exp = beta = se = nan
            else:
                beta_exp = R / S
                beta = np.log(beta_exp)
                se = _sqrt(0.5 * (np.sum(P * Ri) / R**2 + np.sum(P * Si + Q * Ri) / (R * S) + np.sum(Q * Si) / S**2), warnings)
            xt, yt = a + c, b + d
            if xt.sum() != 0 and yt.sum() != 0:
                cc = 0.5 if correct else 0.0
                num = (abs(np.sum(a - (n1 / N) * xt)) - cc) ** 2
                CO = num / np.sum((n1 / N) * (n2 / N) * (xt * (yt / N)))
                COp = stats.chi2.sf(CO, 1)
                MHs = num / np.sum((n1 / N) * (n2 / N) * (xt * (yt / (N - 1))))
                MHp = stats.chi2.sf(MHs, 1)
            if np.isnan(beta):
                k_pos = 0
            else:
                if beta_exp == 1:
                    N11 = (n1 / N) * xt
                else:
                    A = beta_exp * (n1 + xt) + (n2 - xt)
                    B = np.sqrt(A**2 - 4 * n1 * xt * beta_exp * (beta_exp - 1))
                    N11 = (A - B) / (2 * (beta_exp - 1))
                pos = (N11 > 0) & (xt > 0) & (yt > 0)
                k_pos = int(pos.sum())
                N11 = N11[pos]
                N12 = n1[pos] - N11
                N21 = xt[pos] - N11
                N22 = N11 - n1[pos] - xt[pos] + N[pos]
                inv = (1 / N11 + 1 / N12 + 1 / N21 + 1 / N22) ** (-1)
                BD = max(0.0, float(np.sum((a[pos] - N11) ** 2 / inv)))
                TA = max(0.0, BD - float(np.sum(a[pos] - N11) ** 2 / np.sum(inv)))
                if k_pos > 1:
                    BDp = stats.chi2.sf(BD, k_pos - 1)
                    TAp = stats.chi2.sf(TA, k_pos - 1)
            w = (b / N) * c
        elif measure == "RR":
            R = np.sum(a * (n2 / N))
            S = np.sum(c * (n1 / N))
            if a.sum() == 0 or c.sum() == 0:
                beta = se = nan
            else:
                beta = np.log(R / S)
                se = _sqrt(np.sum((n1 / N) * (n2 / N) * (a + c) - (a / N) * c) / (R * S), warnings)
            w = (c / N) * (a + b)
        else:  # RD
            W = np.sum(n1 * (n2 / N))
            beta = np.sum(a * (n2 / N) - c * (n1 / N)) / W
            se = _sqrt((beta * np.sum(c * (n1 / N) ** 2 - a * (n2 / N) ** 2 + (n1 / N) * (n2 / N) * (n2 - n1) / 2)
                        + np.sum(a * (n2 - c) / N + c * (n1 - a) / N) / 2) / W**2, warnings)
            w = ((a + b) / N) * (c + d)
        zval, pval, ci_lb, ci_ub = _wald(beta, se, level)
        weights = np.full(not_na.shape, nan)
        weights[not_na] = w / w.sum() * 100
    yi, vi = es.yi[ok_yi], es.vi[ok_yi]
    QE, QEp, I2, H2 = _heterogeneity(yi, vi, beta)
    return {
        "beta": float(beta), "se": float(se), "zval": float(zval), "pval": float(pval), "ci_lb": float(ci_lb), "ci_ub": float(ci_ub),
        "QE": QE, "QEp": QEp, "I2": I2, "H2": H2,
        "CO": float(CO), "COp": float(COp), "MH": float(MHs), "MHp": float(MHp), "BD": float(BD), "BDp": float(BDp), "TA": float(TA), "TAp": float(TAp),
        "k": int(not_na.sum()), "k_yi": int(ok_yi.sum()), "k_pos": k_pos,
        "yi": es.yi, "vi": es.vi, "weights": weights, "warnings": warnings, "measure": measure,
    }


def rma_peto_arrays(ai, bi, ci, di, add=0.5, to="only0", drop00=True, level=95, metafor=None) -> dict:
    """metafor's ``rma.peto`` (see the module docstring); the same output names as :func:`rma_mh_arrays`
    without the OR tests. Raises :class:`MHError` with metafor's message when no table has V > 0."""
    es, (a, b, c, d), not_na, ok_yi, warnings = _prepare(ai, bi, ci, di, "PETO", add, to, drop00, metafor)
    n1, n2 = a + b, c + d
    N = a + b + c + d
    xt, yt = a + c, b + d
    with np.errstate(divide="ignore", invalid="ignore"):
        Ei = xt * n1 / N
        Vi = xt * yt * (n1 / N) * (n2 / N) / (N - 1)
        sumV = Vi.sum()
        if sumV == 0:
            raise MHError(PETO_NO_EVENTS)
        beta = np.sum(a - Ei) / sumV
        se = np.sqrt(1 / sumV)
        zval, pval, ci_lb, ci_ub = _wald(beta, se, level)
        k_pos = int(np.sum(Vi > 0))
        pos = Vi > 0  # metafor: Vi[Vi == 0] <- NA, then sums with na.rm = TRUE
        QE = max(0.0, float(np.sum((a[pos] - Ei[pos]) ** 2 / Vi[pos]) - np.sum(a - Ei) ** 2 / np.sum(Vi[pos])))
    k_yi = int(ok_yi.sum())
    if k_pos > 1:
        QEp = float(stats.chi2.sf(QE, k_yi - 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            I2 = max(0.0, 100 * (QE - (k_yi - 1)) / QE) if QE > 0 else 0.0
        H2 = QE / (k_yi - 1)
    else:
        QEp, I2, H2 = 1.0, 0.0, 1.0
    weights = np.full(not_na.shape, np.nan)
    weights[not_na] = Vi / sumV * 100
    return {
        "beta": float(beta), "se": float(se), "zval": float(zval), "pval": float(pval), "ci_lb": float(ci_lb), "ci_ub": float(ci_ub),
        "QE": QE, "QEp": QEp, "I2": I2, "H2": H2, "k": int(not_na.sum()), "k_yi": k_yi, "k_pos": k_pos,
        "yi": es.yi, "vi": es.vi, "weights": weights, "warnings": warnings, "measure": "PETO",
    }
