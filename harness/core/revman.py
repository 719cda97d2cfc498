"""Review Manager 5 (RevMan 5.x, including 5.4) analysis conventions.

Inverse-variance pooling of continuous outcomes as RevMan 5 computes it
(Deeks & Higgins 2010, "Statistical algorithms in Review Manager 5"; the
formulas were checked to the last digit against a real ``.rm5`` file and
against R's ``meta`` package with ``settings.meta("RevMan5")``):

* study effects: MD with :math:`SE^2 = sd_1^2/n_1 + sd_2^2/n_2`; SMD = Hedges'
  adjusted g with the approximate correction (:func:`harness.core.effect_sizes.smd_revman`);
* fixed effect: :math:`w_i = 1/SE_i^2`, :math:`\\hat\\theta = \\sum w_i\\theta_i/\\sum w_i`,
  :math:`SE = 1/\\sqrt{\\sum w_i}`;
* heterogeneity (both models): :math:`\\chi^2 = Q = \\sum w_i(\\theta_i-\\hat\\theta_{FE})^2`,
  df = k - 1, :math:`I^2 = \\max(0, (Q - df)/Q)\\cdot 100\\%`;
* random effects: DerSimonian-Laird
  :math:`\\tau^2 = \\max(0, (Q-df)/(\\sum w - \\sum w^2/\\sum w))`,
  :math:`w_i^* = 1/(SE_i^2+\\tau^2)`;
* overall effect: :math:`Z = \\hat\\theta/SE`, two-sided normal P, 95% CI with the
  exact normal quantile 1.959963984540054 (not 1.96);
* study weights in percent of the model's weights.

Subgroup differences (:func:`subgroup_test`): fixed effect, the partition
:math:`Q_{between} = Q_{total} - \\sum_j Q_j`; random effects, Cochran's Q on the
subgroup estimates :math:`\\sum_j (\\theta_j-\\bar\\theta)^2/SE_j^2` with each
subgroup pooled by DL with its own :math:`\\tau^2`; df = J - 1; I² = (Q - df)/Q.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import distributions as stats  # scipy.stats' functions, without importing scipy.stats

from . import effect_sizes as es

#: RevMan's CI quantile: the exact normal 97.5% point (verified on .rm5 output).
Z975 = stats.norm.isf(0.025)


@dataclass(frozen=True)
class RevManStudies:
    """Per-study effects in RevMan's convention: estimate, SE, 95% CI."""

    measure: str
    yi: np.ndarray
    sei: np.ndarray

    @property
    def ci_lb(self):
        return self.yi - Z975 * self.sei

    @property
    def ci_ub(self):
        return self.yi + Z975 * self.sei


@dataclass(frozen=True)
class RevManPooled:
    """A RevMan 5 pooled result; field names follow the .rm5 attributes' meaning."""

    model: str  # "fixed" or "random"
    estimate: float
    se: float
    ci_lb: float
    ci_ub: float
    z: float  # signed; RevMan stores |Z|
    p: float
    chi2: float  # heterogeneity Q (IV weights, around the FE estimate)
    df: int
    p_chi2: float
    i2: float  # percent; NaN when df = 0 (RevMan: "not applicable")
    tau2: float  # DL tau^2 (0 for fixed-effect analyses)
    weights: np.ndarray  # percent
    k: int


def study_effects(measure, m1i, sd1i, n1i, m2i, sd2i, n2i) -> RevManStudies:
    """Per-study MD or SMD as RevMan 5 computes them."""
    if measure == "MD":
        yi, vi = es.md(m1i, sd1i, n1i, m2i, sd2i, n2i)
    elif measure == "SMD":
        yi, vi = es.smd_revman(m1i, sd1i, n1i, m2i, sd2i, n2i)
    else:
        raise ValueError(f"`measure` must be 'MD' or 'SMD' for RevMan, not {measure!r}")
    return RevManStudies(measure, np.atleast_1d(yi), np.sqrt(np.atleast_1d(vi)))


def heterogeneity(yi, sei):
    """Cochran's Q around the IV fixed-effect estimate, df, P and I² (percent)."""
    yi, sei = np.asarray(yi, float), np.asarray(sei, float)
    w = 1 / sei**2
    theta = np.sum(w * yi) / np.sum(w)
    q = float(np.sum(w * (yi - theta) ** 2))
    df = len(yi) - 1
    p = float(stats.chi2.sf(q, df)) if df > 0 else float("nan")
    if df == 0:
        i2 = float("nan")
    elif q <= 0:
        i2 = 0.0
    else:
        i2 = max(0.0, (q - df) / q) * 100
    return q, df, p, i2


def tau2_dl(yi, sei, q=None):
    """DerSimonian-Laird tau² exactly as RevMan 5: max(0, (Q - df)/(Σw - Σw²/Σw)).

    ``q``: the heterogeneity statistic to use instead of Cochran's Q around the
    IV estimate (RevMan's Mantel-Haenszel analyses centre it on the MH estimate).
    """
    w = 1 / np.asarray(sei, float) ** 2
    q0, df, _, _ = heterogeneity(yi, sei)
    q = q0 if q is None else q
    if df == 0:
        return 0.0
    return max(0.0, (q - df) / (w.sum() - np.sum(w**2) / w.sum()))


def pool(yi, sei, model="random", level=95, q=None) -> RevManPooled:
    """Inverse-variance fixed-effect or DerSimonian-Laird random-effects pooling (RevMan 5).

    ``level``: the confidence level in percent (RevMan's CI_TOTAL); ``q``: a
    heterogeneity statistic to report and to use for tau² instead of Cochran's
    Q around the IV estimate (see :func:`tau2_dl`).
    """
    yi, sei = np.asarray(yi, float), np.asarray(sei, float)
    if model not in ("fixed", "random"):
        raise ValueError(f"`model` must be 'fixed' or 'random', not {model!r}")
    q0, df, p_q, i2 = heterogeneity(yi, sei)
    if q is not None:
        q = float(q)
        p_q = float(stats.chi2.sf(q, df)) if df > 0 else float("nan")
        i2 = float("nan") if df == 0 else (0.0 if q <= 0 else max(0.0, (q - df) / q) * 100)
    else:
        q = q0
    t2 = tau2_dl(yi, sei, q) if model == "random" else 0.0
    w = 1 / (sei**2 + t2)
    est = float(np.sum(w * yi) / np.sum(w))
    se = float(1 / np.sqrt(np.sum(w)))
    z = est / se
    crit = Z975 if level == 95 else stats.norm.isf((1 - level / 100) / 2)
    return RevManPooled(
        model=model,
        estimate=est,
        se=se,
        ci_lb=est - crit * se,
        ci_ub=est + crit * se,
        z=z,
        p=float(2 * stats.norm.sf(abs(z))),
        chi2=q,
        df=df,
        p_chi2=p_q,
        i2=i2,
        tau2=t2,
        weights=100 * w / w.sum(),
        k=len(yi),
    )


@dataclass(frozen=True)
class SubgroupTest:
    chi2: float
    df: int
    p: float
    i2: float  # percent


def subgroup_test(yi, sei, groups, model="random") -> SubgroupTest:
    """RevMan 5's test for subgroup differences.

    ``model="fixed"``: :math:`Q_{total} - \\sum_j Q_j` (equals metafor's
    ``QM`` of ``rma(yi, vi, mods=~factor(g), method="FE")``).
    ``model="random"``: Q on the subgroup DL estimates, each subgroup with its
    own tau² (equals ``rma(b_j, sei=se_j, method="FE")$QE`` of per-subgroup DL
    fits; *not* metafor's mixed-effects ``QM``, which assumes a common tau²).
    """
    yi, sei = np.asarray(yi, float), np.asarray(sei, float)
    groups = np.asarray(groups)
    labels = list(dict.fromkeys(groups.tolist()))
    J = len(labels)
    if J < 2:
        raise ValueError("a subgroup test needs at least two subgroups")
    df = J - 1
    if model == "fixed":
        q_total = heterogeneity(yi, sei)[0]
        q_within = sum(heterogeneity(yi[groups == g], sei[groups == g])[0] for g in labels)
        q = q_total - q_within
    else:
        fits = [pool(yi[groups == g], sei[groups == g], "random") for g in labels]
        b = np.array([f.estimate for f in fits])
        s = np.array([f.se for f in fits])
        q = heterogeneity(b, s)[0]
    i2 = 0.0 if q <= 0 else max(0.0, (q - df) / q) * 100
    return SubgroupTest(float(q), df, float(stats.chi2.sf(q, df)), i2)
