"""Random meta-analytic datasets that reach the corners real data reaches.

Every generator is a pure function of a :class:`numpy.random.Generator`:
dataset ``i`` of a campaign with seed ``s`` is drawn from
``np.random.default_rng([s, i])``, so it is the same whatever the chunking,
the model selection or the number of datasets (a campaign with ``--n 100`` is
the first 100 datasets of one with ``--n 10000``).

Three families:

``uni`` (one effect per study; for ``rma``-like kinds)
    columns ``yi, vi`` (effect sizes and sampling variances), two-group
    summaries ``m1i, sd1i, n1i, m2i, sd2i, n2i`` (for escalc measures), and
    moderators ``x1`` (continuous or binary) and ``x2`` (independent,
    collinear with ``x1``, constant, or binary).
``clustered`` (several effects per study; for RVE kinds)
    columns ``study`` (cluster id), ``yi, vi``, an effect-level moderator
    ``x1`` and a study-level moderator ``x2`` (constant within studies).
``binary`` (one 2x2 table per study; for the dichotomous kinds)
    columns ``ai, bi, ci, di`` and a moderator ``x1``; sparse tables with zero
    cells and double zeros included (:func:`generate_binary`).

The corners (each drawn with a stated probability, see the ``_pick`` tables):
k from 1 to 400; tau^2 exactly 0, small, large or very large (up to 1e6);
within-study variances from one scale to nine orders of magnitude apart;
identical effects; one dominant study (variance 1e-6 of the smallest other);
tiny (n = 2) and unbalanced (up to 1:30) arms; equal means; collinear and
constant moderators; 1 to 40 effects per study, with single-effect studies.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class FuzzDataset:
    """One generated dataset: equal-length columns plus how it was drawn."""

    index: int
    family: str
    columns: dict[str, np.ndarray]
    meta: dict = field(default_factory=dict)
    #: column whose values group rows into studies (shrinking removes whole studies)
    group: str | None = None

    @property
    def k(self) -> int:
        return len(next(iter(self.columns.values())))

    @property
    def n_studies(self) -> int:
        """len(groups()), counted without forming the groups (a campaign asks it per model)."""
        return self.k if self.group is None else len(np.unique(self.columns[self.group]))

    def groups(self) -> list[np.ndarray]:
        """Row indices of each study, in order of first appearance."""
        if self.group is None:
            return [np.array([i]) for i in range(self.k)]
        g = self.columns[self.group]
        _, first = np.unique(g, return_index=True)
        return [np.nonzero(g == g[i])[0] for i in sorted(first)]

    def subset(self, rows) -> "FuzzDataset":
        rows = np.sort(np.asarray(rows, dtype=int))
        meta = dict(self.meta, parent_k=self.meta.get("parent_k", self.k))
        return FuzzDataset(self.index, self.family, {c: v[rows] for c, v in self.columns.items()}, meta, self.group)


def _pick(rng, table):
    """Draw one label from ``[(label, probability), ...]``."""
    labels, p = zip(*table)
    return labels[rng.choice(len(labels), p=np.asarray(p) / sum(p))]


#: number of studies (uni) or of clusters (clustered)
#: (metafor forms k x k matrices: an iterative fit at k = 400 takes ~1 s in R, so large k is a rare corner)
K_TABLE = [(1, 0.04), (2, 0.07), ("3-5", 0.19), ("6-20", 0.39), ("21-60", 0.25), ("61-150", 0.05), ("151-400", 0.01)]
#: between-study variance
TAU2_TABLE = [("zero", 0.30), ("small", 0.35), ("large", 0.20), ("huge", 0.15)]
#: how many orders of magnitude the within-study variances span
SPREAD_TABLE = [(0, 0.15), (1, 0.35), (3, 0.25), (6, 0.15), (9, 0.10)]
#: second moderator
X2_TABLE = [("independent", 0.6), ("collinear", 0.1), ("constant", 0.1), ("binary", 0.2)]


def _k(rng, label):
    if isinstance(label, int):
        return label
    lo, hi = map(int, label.split("-"))
    return int(rng.integers(lo, hi + 1))


def _tau2(rng, label):
    return {"zero": 0.0, "small": 10 ** rng.uniform(-4, 0), "large": 10 ** rng.uniform(0, 2), "huge": 10 ** rng.uniform(2, 6)}[label]


def generate_uni(rng: np.random.Generator, index: int = 0) -> FuzzDataset:
    """One study-level dataset (family ``uni``); see the module docstring."""
    klab = _pick(rng, K_TABLE)
    k = _k(rng, klab)
    tlab = _pick(rng, TAU2_TABLE)
    tau2 = _tau2(rng, tlab)
    spread = _pick(rng, SPREAD_TABLE)
    scale = 10 ** rng.uniform(-4, 2)
    vi = scale * 10 ** rng.uniform(0, spread, k) if spread else np.full(k, scale)
    dominant = k > 1 and rng.random() < 0.08
    if dominant:
        vi[rng.integers(k)] = vi.min() * 1e-6
    mu = rng.normal(0, 1) * 10 ** rng.uniform(-1, 1)
    # moderators
    x1 = rng.integers(0, 2, k).astype(float) if rng.random() < 0.2 else rng.normal(0, 1, k)
    x2lab = _pick(rng, X2_TABLE)
    if x2lab == "independent":
        x2 = rng.normal(0, 1, k)
    elif x2lab == "collinear":
        x2 = 2.0 * x1 + 1.0
    elif x2lab == "constant":
        x2 = np.full(k, 1.0)
    else:
        x2 = rng.integers(0, 2, k).astype(float)
    slope = rng.normal(0, 1) if rng.random() < 0.5 else 0.0
    identical = rng.random() < 0.05
    if identical:
        yi = np.full(k, round(mu, 3))
    else:
        yi = mu + slope * x1 + np.sqrt(tau2) * rng.normal(0, 1, k) + np.sqrt(vi) * rng.normal(0, 1, k)
    # two-group summaries: tiny and unbalanced arms, SDs on any scale
    tiny = rng.random() < 0.15
    n1 = rng.integers(2, 6, k) if tiny else np.round(10 ** rng.uniform(np.log10(5), np.log10(500), k)).astype(int)
    unbalanced = rng.random() < 0.25
    ratio = 10 ** rng.uniform(-1.5, 1.5, k) if unbalanced else 10 ** rng.uniform(-0.1, 0.1, k)
    n2 = np.maximum(2, np.round(n1 * ratio)).astype(int)
    sd_scale = 10 ** rng.uniform(-2, 3)
    sd1 = sd_scale * 10 ** rng.uniform(-0.3, 0.3, k)
    sd2 = sd1 * 10 ** rng.uniform(-0.3, 0.3, k)
    # standardized mean differences around mu (clipped: |d| > 5 is not data)
    d = np.clip(np.full(k, mu) if identical else mu + np.sqrt(tau2) * rng.normal(0, 1, k), -5, 5)
    m2 = rng.normal(0, 1) * sd_scale * 10
    m1 = m2 + d * sd1
    equal_means = rng.random() < 0.03
    if equal_means:
        m1 = np.full(k, m2)
    meta = {"k": klab, "tau2": tlab, "tau2_value": tau2, "spread": spread, "dominant": dominant, "identical": identical,
            "x2": x2lab, "tiny_arms": tiny, "unbalanced_arms": unbalanced, "equal_means": equal_means}
    cols = {"yi": yi, "vi": vi, "m1i": m1, "sd1i": sd1, "n1i": n1.astype(float), "m2i": np.full(k, m2), "sd2i": sd2,
            "n2i": n2.astype(float), "x1": x1, "x2": x2}
    return FuzzDataset(index, "uni", cols, meta)


#: at most this many effects (rows) in a clustered dataset
MAX_ROWS = 200
#: effects per study
EFFECTS_TABLE = [("1", 0.25), ("1-3", 0.35), ("2-8", 0.30), ("10-40", 0.10)]
#: number of studies (clusters); RVE needs at least 2
M_TABLE = [(2, 0.06), ("3-5", 0.20), ("6-20", 0.40), ("21-60", 0.24), ("61-150", 0.10)]


def generate_clustered(rng: np.random.Generator, index: int = 0) -> FuzzDataset:
    """Several effects per study (family ``clustered``) for RVE models."""
    mlab = _pick(rng, M_TABLE)
    m = _k(rng, mlab)
    elab = _pick(rng, EFFECTS_TABLE)
    if elab == "1":
        sizes = np.ones(m, int)
    else:
        lo, hi = map(int, elab.split("-"))
        sizes = rng.integers(lo, hi + 1, m)
        if rng.random() < 0.3:
            sizes[rng.integers(m)] = 1  # a single-effect study among many-effect ones
    if sizes.sum() > MAX_ROWS:  # keep R's k x k algebra affordable: at most MAX_ROWS effects
        sizes = np.maximum(1, np.floor(sizes * MAX_ROWS / sizes.sum())).astype(int)
    study = np.repeat(np.arange(1, m + 1), sizes).astype(float)
    k = len(study)
    tlab = _pick(rng, TAU2_TABLE)
    tau2 = _tau2(rng, tlab)
    omega2 = _tau2(rng, _pick(rng, TAU2_TABLE))
    spread = _pick(rng, SPREAD_TABLE)
    scale = 10 ** rng.uniform(-3, 1)
    vstudy = scale * 10 ** rng.uniform(0, spread, m) if spread else np.full(m, scale)
    vi = vstudy[study.astype(int) - 1] * 10 ** rng.uniform(-0.2, 0.2, k)
    mu = rng.normal(0, 1)
    x1 = rng.normal(0, 1, k)
    x2lab = _pick(rng, X2_TABLE)
    if x2lab == "constant":
        x2s = np.ones(m)
    elif x2lab == "binary":
        x2s = rng.integers(0, 2, m).astype(float)
    else:
        x2s = rng.normal(0, 1, m)
    x2 = x2s[study.astype(int) - 1]
    if x2lab == "collinear":
        x1 = 2.0 * x2 + 1.0
    u = np.sqrt(tau2) * rng.normal(0, 1, m)
    identical = rng.random() < 0.04
    yi = np.full(k, round(mu, 3)) if identical else mu + u[study.astype(int) - 1] + np.sqrt(omega2) * rng.normal(0, 1, k) + np.sqrt(vi) * rng.normal(0, 1, k)
    meta = {"m": mlab, "effects": elab, "tau2": tlab, "spread": spread, "x2": x2lab, "identical": identical}
    return FuzzDataset(index, "clustered", {"study": study, "yi": yi, "vi": vi, "x1": x1, "x2": x2}, meta, group="study")


#: control-group risk of a study: rare events (zero cells), moderate, common, near-certain (no non-events)
RISK_TABLE = [("rare", 0.30), ("moderate", 0.45), ("common", 0.15), ("near-certain", 0.10)]
#: group sizes: one participant, tiny, small, large, huge
ARMS_TABLE = [("one", 0.03), ("tiny", 0.15), ("small", 0.35), ("large", 0.40), ("huge", 0.07)]
#: between-study variance of the log odds ratio (no "huge": probabilities saturate long before)
BIN_TAU2_TABLE = [("zero", 0.35), ("small", 0.40), ("large", 0.25)]


def generate_binary(rng: np.random.Generator, index: int = 0) -> FuzzDataset:
    """One 2x2 table per study (family ``binary``) for the dichotomous kinds.

    Columns ``ai, bi, ci, di`` (events and non-events in groups 1 and 2) and
    ``x1`` (a moderator). Events are binomial around a control risk and a log
    odds ratio with heterogeneity; the corners: rare events (zero cells in one
    or both groups), near-certain events (no non-events), double-zero studies
    (forced with probability 0.15, in 1 to k/2 studies), all-events studies,
    one-participant and tiny arms, unbalanced arms (up to 1:30), identical tables.
    """
    klab = _pick(rng, K_TABLE)
    k = _k(rng, klab)
    risk = _pick(rng, RISK_TABLE)
    if risk == "rare":
        p0 = 10 ** rng.uniform(-3.5, -1.3, k)
    elif risk == "moderate":
        p0 = rng.uniform(0.05, 0.5, k)
    elif risk == "common":
        p0 = rng.uniform(0.5, 0.9, k)
    else:
        p0 = 1 - 10 ** rng.uniform(-3, -1.3, k)
    tlab = _pick(rng, BIN_TAU2_TABLE)
    tau2 = {"zero": 0.0, "small": 10 ** rng.uniform(-3, -0.5), "large": 10 ** rng.uniform(-0.5, 1)}[tlab]
    mu = rng.normal(0, 0.7)
    logit0 = np.log(p0 / (1 - p0))
    p1 = 1 / (1 + np.exp(-(logit0 + mu + np.sqrt(tau2) * rng.normal(0, 1, k))))
    arms = _pick(rng, ARMS_TABLE)
    lo, hi = {"one": (1, 1), "tiny": (2, 6), "small": (7, 60), "large": (61, 1000), "huge": (1001, 50000)}[arms]
    n1 = np.round(10 ** rng.uniform(np.log10(lo), np.log10(hi + 0.5), k)).astype(int).clip(lo, hi)
    unbalanced = rng.random() < 0.25
    ratio = 10 ** rng.uniform(-1.5, 1.5, k) if unbalanced else 10 ** rng.uniform(-0.1, 0.1, k)
    n2 = np.maximum(1, np.round(n1 * ratio)).astype(int)
    a = rng.binomial(n1, p1).astype(float)
    c = rng.binomial(n2, p0).astype(float)
    double_zero = rng.random() < 0.15
    if double_zero:
        idx = rng.choice(k, size=int(rng.integers(1, max(1, k // 2) + 1)), replace=False)
        a[idx], c[idx] = 0.0, 0.0
    all_events = rng.random() < 0.05
    if all_events:
        j = int(rng.integers(k))
        a[j], c[j] = float(n1[j]), float(n2[j])
    identical = rng.random() < 0.03
    if identical:
        n1[:], n2[:], a[:], c[:] = n1[0], n2[0], a[0], c[0]
    x1 = rng.integers(0, 2, k).astype(float) if rng.random() < 0.3 else rng.normal(0, 1, k)
    meta = {"k": klab, "risk": risk, "tau2": tlab, "tau2_value": tau2, "arms": arms, "unbalanced_arms": unbalanced,
            "double_zero": double_zero, "all_events": all_events, "identical": identical,
            "zero_cells": int(np.sum((a == 0) | (c == 0) | (a == n1) | (c == n2)))}
    cols = {"ai": a, "bi": n1 - a, "ci": c, "di": n2 - c, "x1": x1}
    return FuzzDataset(index, "binary", cols, meta)


GENERATORS = {"uni": generate_uni, "clustered": generate_clustered, "binary": generate_binary}
#: each family's stream id in the seed (fixed: adding a family never changes another's datasets)
FAMILY_IDS = {"clustered": 0, "uni": 1, "binary": 2}


def dataset(seed: int, index: int, family: str) -> FuzzDataset:
    """Dataset ``index`` of family ``family`` in the campaign with ``seed``."""
    fam_id = FAMILY_IDS[family]
    rng = np.random.default_rng([int(seed), int(index), fam_id])
    return GENERATORS[family](rng, index)
