"""Review Manager 5's dichotomous, generic inverse-variance and O − E analyses.

Pure functions following Deeks & Higgins (2010), "Statistical algorithms in
Review Manager 5", checked against RevMan's stored numbers (a real Cochrane
review, CD000023, with 21 Mantel-Haenszel risk-ratio analyses, and
Fleiss 1993's odds-ratio analysis) to the last digits. Study ``i`` has
``a`` events among ``n1`` in the experimental group and ``c`` among ``n2``
in the control group; ``b = n1 - a``, ``d = n2 - c``, ``N = n1 + n2``.

Study effects (:func:`study_effects`)
    * Zero cells: a study with a zero cell gets 0.5 added to all four cells
      (so n1 and n2 grow by 1) for its OR, RR and their SEs, for the SE of
      its RD, and -- RevMan's choice, also meta's ``MH.exact = FALSE`` -- inside
      the Mantel-Haenszel sums. The RD itself is a/n1 - c/n2 without correction.
    * Not estimable: OR with no events in both groups or only events in both
      groups; RR with no events in both groups; such a study has no effect, no
      weight, and does not count in df. RD is always estimable.
    * OR: ln(AD/(BC)), SE² = 1/A + 1/B + 1/C + 1/D; RR: ln((A/N1)/(C/N2)),
      SE² = 1/A + 1/C - 1/N1 - 1/N2; RD: a/n1 - c/n2, SE² = AB/N1³ + CD/N2³
      (capitals: cells after the correction).
    * Peto: O - E = a - n1(a+c)/N, V = n1 n2 (a+c)(b+d)/(N²(N-1)),
      ln OR = (O-E)/V, SE = 1/√V; no correction; not estimable when V = 0.

Pooling (:func:`pool_dichotomous`)
    * ``MH`` fixed: OR_MH = ΣAD/N / ΣBC/N with the Robins-Breslow-Greenland
      variance; RR_MH = ΣA N2/N / ΣC N1/N with Greenland & Robins' variance;
      RD_MH = Σ w RD / Σ w, w = n1 n2/N, with Greenland & Robins' (1985)
      variance Σ(AB N2³ + CD N1³)/(N1 N2 N²) / (Σ n1n2/N)². Weights (percent):
      BC/N (OR), C N1/N (RR), n1 n2/N (RD).
    * Heterogeneity for MH: Q = Σ (θ_i - θ_MH)²/SE_i², IV weights but centred
      on the MH estimate (df = estimable studies - 1, I² = (Q - df)/Q).
    * ``MH`` random ("M-H random" in RevMan): DerSimonian-Laird τ² from that Q,
      then inverse-variance pooling of the study effects with 1/(SE² + τ²).
    * ``IV`` fixed/random, ``PETO`` fixed/random, generic IV and O − E: the
      inverse-variance pooling of :func:`harness.core.revman.pool` on the study
      effects (Peto's fixed effect Σ(O-E)/ΣV is the IV estimate with weights V,
      and its χ² Σ(O-E)²/V - (Σ(O-E))²/ΣV is Cochran's Q).

Subgroups (:func:`subgroup_analysis`): every subgroup pooled on its own (own
τ²); test for subgroup differences: fixed effect, the partition Q - Σ Q_j of
the method's heterogeneity statistic; random effects, Cochran's Q on the
subgroup estimates and their SEs; df = J - 1 (subgroups with an estimate).
Overall weights are percent of the whole analysis, as RevMan displays them.

RevMan stores ratio measures on the ratio scale (EFFECT_SIZE, CI_START,
CI_END) and the log10 values in ``LOG_*``; the pooled results here are on the
log (ln) scale for OR, RR and Peto OR, with :func:`display` for RevMan's scale.

References
----------
.. [1] Deeks JJ, Higgins JPT (2010). Statistical algorithms in Review Manager 5.
       Cochrane Statistical Methods Group.
.. [2] Greenland S, Robins JM (1985). Estimation of a common effect parameter
       from sparse follow-up data. Biometrics 41:55-68.
.. [3] Robins J, Breslow N, Greenland S (1986). Estimators of the
       Mantel-Haenszel variance consistent in both sparse data and
       large-strata limiting models. Biometrics 42:311-323.
.. [4] Yusuf S, Peto R, Lewis J, Collins R, Sleight P (1985). Prog Cardiovasc Dis 27:335-371.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from . import distributions as stats  # scipy.stats' functions, without importing scipy.stats

from .revman import RevManPooled, heterogeneity, pool

#: RevMan's effect measures of dichotomous data and its statistical methods
DICH_MEASURES = ("OR", "RR", "RD")
METHODS = ("MH", "IV", "PETO")
MODELS = ("fixed", "random")


def is_ratio(measure, method="MH") -> bool:
    """Whether RevMan pools the measure on the log scale (OR, RR, Peto OR, HR...)."""
    return method == "PETO" or measure not in ("RD", "MD", "SMD")


@dataclass(frozen=True)
class DichStudies:
    """Per-study effects as RevMan computes them (log scale for ratio measures)."""

    measure: str
    method: str
    events_1: np.ndarray
    total_1: np.ndarray
    events_2: np.ndarray
    total_2: np.ndarray
    yi: np.ndarray  # NaN where not estimable
    sei: np.ndarray  # NaN where not estimable
    estimable: np.ndarray
    corrected: np.ndarray  # 0.5 added to every cell
    #: cells used by the MH sums (corrected where ``corrected``)
    cells: tuple

    @property
    def k(self) -> int:
        return int(self.estimable.sum())

    def ci(self, level=95):
        z = stats.norm.isf((1 - level / 100) / 2)
        return self.yi - z * self.sei, self.yi + z * self.sei


def _arrays(*xs):
    return tuple(np.atleast_1d(np.asarray(x, dtype=float)) for x in xs)


def check_counts(e1, n1, e2, n2):
    """Events and totals of each study: finite, 0 <= events <= total, total > 0 (ValueError otherwise)."""
    e1, n1, e2, n2 = _arrays(e1, n1, e2, n2)
    for name, x in (("events_1", e1), ("total_1", n1), ("events_2", e2), ("total_2", n2)):
        if not np.all(np.isfinite(x)):
            raise ValueError(f"`{name}` has a missing or non-finite value (study {int(np.argmax(~np.isfinite(x))) + 1})")
        if np.any(x < 0):
            raise ValueError(f"`{name}` has a negative count (study {int(np.argmax(x < 0)) + 1})")
    for e, n, g in ((e1, n1, 1), (e2, n2, 2)):
        if np.any(n <= 0):
            raise ValueError(f"`total_{g}` must be positive (study {int(np.argmax(n <= 0)) + 1})")
        if np.any(e > n):
            raise ValueError(f"`events_{g}` larger than `total_{g}` (study {int(np.argmax(e > n)) + 1})")
    return e1, n1, e2, n2


def study_effects(measure, events_1, total_1, events_2, total_2, method="MH") -> DichStudies:
    """Per-study OR, RR, RD (MH/IV methods) or Peto OR (method PETO) as RevMan computes them."""
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}, not {method!r}")
    if method == "PETO":
        measure = "OR"
    if measure not in DICH_MEASURES:
        raise ValueError(f"`measure` must be one of {DICH_MEASURES}, not {measure!r}")
    a, n1, c, n2 = check_counts(events_1, total_1, events_2, total_2)
    b, d = n1 - a, n2 - c
    N = n1 + n2
    zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "PETO":
            oe = a - n1 * (a + c) / N
            v = n1 * n2 * (a + c) * (b + d) / (N**2 * (N - 1))
            est = v > 0
            yi = np.where(est, oe / v, np.nan)
            sei = np.where(est, 1 / np.sqrt(v), np.nan)
            return DichStudies("OR", method, a, n1, c, n2, yi, sei, est, np.zeros_like(est), (a, b, c, d))
        A, B, C, D = (np.where(zero, x + 0.5, x) for x in (a, b, c, d))
        N1, N2 = A + B, C + D
        if measure == "OR":
            est = ~(((a == 0) & (c == 0)) | ((b == 0) & (d == 0)))
            yi = np.log(A * D / (B * C))
            vi = 1 / A + 1 / B + 1 / C + 1 / D
        elif measure == "RR":
            est = ~((a == 0) & (c == 0))
            yi = np.log((A / N1) / (C / N2))
            vi = 1 / A + 1 / C - 1 / N1 - 1 / N2
        else:
            est = np.ones(a.shape, bool)
            yi = a / n1 - c / n2
            vi = A * B / N1**3 + C * D / N2**3
    yi = np.where(est, yi, np.nan)
    sei = np.where(est, np.sqrt(vi), np.nan)
    return DichStudies(measure, method, a, n1, c, n2, yi, sei, est, zero & est, (A, B, C, D))


def peto_from_oe(o_e, var):
    """Per-study Peto log OR (O-E)/V and SE 1/√V from O − E and variance data (RevMan's IPD data);
    V <= 0 is not estimable (NaN)."""
    o_e, var = _arrays(o_e, var)
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = var > 0
        return np.where(ok, o_e / var, np.nan), np.where(ok, 1 / np.sqrt(var), np.nan)


def mh_estimate(st: DichStudies):
    """RevMan's Mantel-Haenszel estimate (log scale for OR and RR), its SE and MH weights (every study; 0 where not estimable)."""
    e = st.estimable
    A, B, C, D = (x[e] for x in st.cells)
    N1, N2 = A + B, C + D
    N = N1 + N2
    w = np.zeros(e.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        if st.measure == "OR":
            R, S = A * D / N, B * C / N
            P, Q = (A + D) / N, (B + C) / N
            sR, sS = R.sum(), S.sum()
            theta = np.log(sR / sS)
            v = 0.5 * (np.sum(P * R) / sR**2 + np.sum(P * S + Q * R) / (sR * sS) + np.sum(Q * S) / sS**2)
            w[e] = S
        elif st.measure == "RR":
            R, S = A * N2 / N, C * N1 / N
            sR, sS = R.sum(), S.sum()
            theta = np.log(sR / sS)
            v = np.sum((N1 * N2 * (A + C) - A * C * N) / N**2) / (sR * sS)
            w[e] = S
        else:  # RD: weights and estimate from the uncorrected tables, variance from the corrected ones
            n1, n2 = st.total_1[e], st.total_2[e]
            W = n1 * n2 / (n1 + n2)
            theta = np.sum(W * st.yi[e]) / W.sum()
            v = np.sum((A * B * N2**3 + C * D * N1**3) / (N1 * N2 * N**2)) / W.sum() ** 2
            w[e] = W
    return float(theta), float(np.sqrt(v)), w


@dataclass(frozen=True)
class DichPooled:
    """A pooled dichotomous result: RevMan's pooled numbers plus the method and totals."""

    method: str
    measure: str
    pooled: RevManPooled  # estimate, CI, Z, P, chi2, df, I², tau², weights (percent, all studies)
    events_1: float
    total_1: float
    events_2: float
    total_2: float

    def __getattr__(self, name):
        if name == "pooled":  # not set yet (copying, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.pooled, name)


def _expand(weights_est, estimable):
    w = np.zeros(estimable.shape)
    w[estimable] = weights_est
    return w


def _empty(model, n):
    nan = float("nan")
    return RevManPooled(model, nan, nan, nan, nan, nan, nan, 0.0, 0, nan, nan, nan, np.zeros(n), 0)


def pool_studies(st: DichStudies, model="fixed", level=95) -> RevManPooled:
    """RevMan's pooled result of the estimable studies of ``st`` (see the module docstring).

    Weights cover every study (0 for the non-estimable ones). With no
    estimable study every number is NaN (RevMan: "Not estimable").
    """
    if model not in MODELS:
        raise ValueError(f"`model` must be one of {MODELS}, not {model!r}")
    e = st.estimable
    if not e.any():
        return _empty(model, len(e))
    y, s = st.yi[e], st.sei[e]
    if st.method != "MH":
        p = pool(y, s, model, level=level)
        return _with_weights(p, _expand(p.weights, e))
    theta, se, w = mh_estimate(st)
    q = float(np.sum((y - theta) ** 2 / s**2))
    if model == "random":
        p = pool(y, s, "random", level=level, q=q)
        return _with_weights(p, _expand(p.weights, e))
    base = pool(y, s, "fixed", level=level, q=q)
    z = theta / se
    crit = stats.norm.isf((1 - level / 100) / 2)
    return RevManPooled("fixed", theta, se, theta - crit * se, theta + crit * se, z, float(2 * stats.norm.sf(abs(z))),
                        base.chi2, base.df, base.p_chi2, base.i2, 0.0, 100 * w / w.sum(), int(e.sum()))


def _with_weights(p: RevManPooled, w) -> RevManPooled:
    from dataclasses import replace

    return replace(p, weights=w)


def pool_dichotomous(measure, events_1, total_1, events_2, total_2, method="MH", model="fixed", level=95) -> DichPooled:
    """Study effects and RevMan's pooled result of a dichotomous analysis, with its totals."""
    st = study_effects(measure, events_1, total_1, events_2, total_2, method)
    return DichPooled(method, st.measure, pool_studies(st, model, level), *totals(st.events_1, st.total_1, st.events_2, st.total_2))


def pool_generic(yi, sei, model="fixed", level=95) -> RevManPooled:
    """Generic inverse variance (RevMan's GIV data: estimate and SE per study, log scale for
    ratio measures). A study without a positive, finite SE is not estimable (weight 0)."""
    yi, sei = _arrays(yi, sei)
    e = np.isfinite(yi) & np.isfinite(sei) & (sei > 0)
    if not e.any():
        return _empty(model, len(e))
    p = pool(yi[e], sei[e], model, level=level)
    return _with_weights(p, _expand(p.weights, e))


def pool_oe(o_e, var, model="fixed", level=95) -> RevManPooled:
    """O − E and variance data (Peto): Σ(O-E)/ΣV fixed, or DerSimonian-Laird on (O-E)/V, SE 1/√V."""
    yi, sei = peto_from_oe(o_e, var)
    return pool_generic(yi, sei, model, level)


def totals(events_1, total_1, events_2, total_2):
    """Totals of events and participants per group over every study (estimable or not), as RevMan shows them."""
    return tuple(float(np.sum(x)) for x in _arrays(events_1, total_1, events_2, total_2))


def display(value, measure, method="MH"):
    """RevMan's displayed scale: exp for ratio measures (EFFECT_SIZE, CI_START, CI_END), as is for RD."""
    return np.exp(value) if is_ratio(measure, method) else value


def log10_display(value, measure, method="MH"):
    """RevMan's ``LOG_*`` attributes: log10 of the displayed ratio (ln value / ln 10)."""
    return np.asarray(value, float) / np.log(10) if is_ratio(measure, method) else value


@dataclass(frozen=True)
class SubgroupAnalysis:
    overall: RevManPooled
    subgroups: dict  # label -> RevManPooled (weights within the subgroup)
    chi2: float
    df: int
    p: float
    i2: float


def subgroup_analysis(pool_fn, groups, model="fixed", level=95) -> SubgroupAnalysis:
    """Subgroups and RevMan's test for subgroup differences.

    ``pool_fn(mask)`` pools the studies selected by ``mask`` (a boolean array)
    the way the analysis pools (e.g. ``lambda m: pool_studies(sub(st, m), model)``);
    it is called for every subgroup and for all studies.
    """
    groups = np.asarray(groups, dtype=object)
    labels = list(dict.fromkeys(groups.tolist()))
    overall = pool_fn(np.ones(len(groups), bool))
    subs = {g: pool_fn(groups == g) for g in labels}
    have = [g for g in labels if subs[g].k > 0]
    df = len(have) - 1
    if df < 1:
        return SubgroupAnalysis(overall, subs, float("nan"), max(df, 0), float("nan"), float("nan"))
    if model == "fixed":
        q = overall.chi2 - sum(subs[g].chi2 for g in have)
    else:
        q = heterogeneity([subs[g].estimate for g in have], [subs[g].se for g in have])[0]
    q = float(q)
    i2 = 0.0 if q <= 0 else max(0.0, (q - df) / q) * 100
    return SubgroupAnalysis(overall, subs, q, df, float(stats.chi2.sf(q, df)), i2)


def subset(st: DichStudies, mask) -> DichStudies:
    """The studies of ``st`` selected by ``mask`` (for subgroup pooling)."""
    m = np.asarray(mask, bool)
    return DichStudies(st.measure, st.method, st.events_1[m], st.total_1[m], st.events_2[m], st.total_2[m], st.yi[m], st.sei[m],
                       st.estimable[m], st.corrected[m], tuple(x[m] for x in st.cells))
