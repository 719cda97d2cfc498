"""Public Python API of the RevMan 5 engine: ``revman``.

RevMan 5's own conventions (:mod:`harness.core.revman`: Deeks & Higgins 2010,
"Statistical algorithms in Review Manager 5"): per-study MD/SMD as RevMan computes
them, inverse-variance fixed effect or DerSimonian-Laird random effects, the
heterogeneity line (Tau², Chi², df, P, I²), the overall effect (Z, P), weights in
percent, and, with ``subgroup=``, each subgroup's pooled result and the test for
subgroup differences::

    >>> import harness
    >>> res = harness.revman("MD", m1i=[10, 12, 9], sd1i=[3, 4, 3], n1i=[20, 25, 30],
    ...                      m2i=[8, 11, 9.5], sd2i=[3, 4, 3], n2i=[20, 25, 30])
    >>> round(res.overall.estimate, 4)
    0.7428

Measures: :data:`REVMAN_MEASURES` maps a measure to its columns and to the core
function that computes RevMan's study effects (its columns are keyword arguments
checked against the measure's list, so an unknown one is a ``TypeError``).
Dichotomous measures (``OR``, ``RR``, ``RD``, ``PETO_OR``; events and totals
``ai, n1i, ci, n2i``) are pooled by RevMan's dichotomous methods
(:mod:`harness.core.revman_binary`: ``method="MH"`` Mantel-Haenszel, the default as
in RevMan, ``"IV"`` or, for ``PETO_OR``, Peto), with RevMan's zero-cell and "not
estimable" rules::

    >>> res = harness.revman("RR", ai=[12, 30, 0], n1i=[100, 150, 35], ci=[20, 41, 0], n2i=[98, 152, 30])
    >>> res.estimable.tolist(), round(res.pred, 4)      # the double zero is not estimable for RR
    ([True, True, False], 0.6945)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core import revman as core
from ..core import revman_binary as rb
from . import _inputs as inp
from . import printing
from .results import _Printed

TWO_GROUP = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
#: measure -> (columns, function(columns...) -> RevManStudies); "GEN": estimates and SEs given
REVMAN_MEASURES = {
    "MD": (TWO_GROUP, lambda *c: core.study_effects("MD", *c)),
    "SMD": (TWO_GROUP, lambda *c: core.study_effects("SMD", *c)),
    "GEN": (("yi", "sei"), lambda yi, sei: core.RevManStudies("GEN", np.asarray(yi, float), np.asarray(sei, float))),
}
#: RevMan's dichotomous measures -> the measure its engine computes; their columns: events and totals per group
DICH_MEASURES = {"OR": "OR", "RR": "RR", "RD": "RD", "PETO_OR": "OR"}
DICH_COLUMNS = ("ai", "n1i", "ci", "n2i")
for _m in DICH_MEASURES:
    REVMAN_MEASURES[_m] = (DICH_COLUMNS, None)
METHODS = {"IV": "IV", "MH": "M-H", "PETO": "Peto"}


@dataclass(frozen=True, repr=False)
class RevManResult(_Printed):
    """:func:`revman`'s result: the studies (``yi``, ``sei``, ``ci_lb``, ``ci_ub``, ``weights`` in
    percent of the overall analysis, ``slab``), the ``overall`` pooled result
    (:class:`harness.core.revman.RevManPooled`: estimate, se, ci_lb, ci_ub, z, p, chi2, df,
    p_chi2, i2, tau2), and with subgroups ``subgroups`` (label -> RevManPooled) and
    ``subgroup_test`` (chi2, df, p, i2)."""

    measure: str
    model: str
    slab: tuple[str, ...]
    yi: np.ndarray
    sei: np.ndarray
    overall: core.RevManPooled
    group: tuple[str, ...] | None = None
    subgroups: dict | None = None
    subgroup_test: core.SubgroupTest | None = None
    omitted: tuple[str, ...] = ()
    #: RevMan's statistical method: "IV", or for dichotomous data "MH" / "PETO"
    method: str = "IV"
    #: dichotomous data: whether each study is estimable under RevMan's rules (None otherwise)
    estimable: np.ndarray | None = None

    @property
    def ratio(self) -> bool:
        """Whether the measure is pooled on the log scale (OR, RR, Peto OR): ``yi`` etc. are logs."""
        return self.measure in ("OR", "RR", "PETO_OR")

    @property
    def pred(self) -> float:
        """The pooled estimate as RevMan displays it (exp for OR, RR, Peto OR)."""
        return float(np.exp(self.overall.estimate) if self.ratio else self.overall.estimate)

    @property
    def ci_lb(self):
        return self.yi - core.Z975 * self.sei

    @property
    def ci_ub(self):
        return self.yi + core.Z975 * self.sei

    @property
    def weights(self):
        return self.overall.weights

    @property
    def estimate(self) -> float:
        return float(self.overall.estimate)

    def summary_frame(self) -> pd.DataFrame:
        """One row per study (estimate, SE, 95% CI, weight %, subgroup), then one per subgroup and the total."""
        rows = {"estimate": list(self.yi), "se": list(self.sei), "ci_lb": list(self.ci_lb), "ci_ub": list(self.ci_ub), "weight": list(self.overall.weights)}
        index = list(self.slab)
        groups = list(self.group) if self.group else [None] * len(self.slab)
        for lab, p in (self.subgroups or {}).items():
            for n, v in (("estimate", p.estimate), ("se", p.se), ("ci_lb", p.ci_lb), ("ci_ub", p.ci_ub), ("weight", np.nan)):
                rows[n].append(v)
            index.append(f"Subtotal ({lab})")
            groups.append(lab)
        o = self.overall
        for n, v in (("estimate", o.estimate), ("se", o.se), ("ci_lb", o.ci_lb), ("ci_ub", o.ci_ub), ("weight", 100.0)):
            rows[n].append(v)
        index.append("Total")
        groups.append(None)
        f = pd.DataFrame(rows, index=pd.Index(index, name="study"))
        if self.group:
            f["subgroup"] = groups
        return f

    def _lines(self, digits=2):
        """RevMan's analysis table: Study, Weight, effect [95% CI] (ratio measures on the ratio scale,
        "Not estimable" where RevMan says so), and its heterogeneity, overall-effect and
        subgroup-difference lines (RevMan's number formats)."""
        ci = f"{self.measure} {METHODS.get(self.method, self.method)}, {'Random' if self.model == 'random' else 'Fixed'}, 95% CI"
        shown = np.exp if self.ratio else (lambda x: x)

        def row(lab, est, lb, ub, w):
            if np.isnan(est):
                return [lab, "" if w is None else f"{w:.1f}%", "Not estimable"]
            est, lb, ub = shown(est), shown(lb), shown(ub)
            return [lab, "" if w is None else f"{w:.1f}%", f"{est:.{digits}f} [{lb:.{digits}f}, {ub:.{digits}f}]"]

        def het(p):
            tau = f"Tau² = {p.tau2:.2f}; " if self.model == "random" else ""
            i2 = "not applicable" if np.isnan(p.i2) else f"{p.i2:.0f}%"
            return f"Heterogeneity: {tau}Chi² = {p.chi2:.2f}, df = {p.df} (P {_p(p.p_chi2)}); I² = {i2}"

        rows, out = [], []
        order = list(self.subgroups) if self.subgroups else [None]
        for g in order:
            if g is not None:
                rows.append([g, "", ""])
            for i, lab in enumerate(self.slab):
                if g is None or self.group[i] == g:
                    rows.append(row(lab, self.yi[i], self.ci_lb[i], self.ci_ub[i], self.overall.weights[i]))
            if g is not None:
                p = self.subgroups[g]
                rows.append(row("Subtotal", p.estimate, p.ci_lb, p.ci_ub, float(np.sum(self.overall.weights[np.asarray(self.group) == g]))))
        o = self.overall
        rows.append(row("Total", o.estimate, o.ci_lb, o.ci_ub, 100.0))
        out += printing.print_frame(rows, ["Study or Subgroup", "Weight", ci], gap=2, right=False)
        out += ["", het(o), f"Test for overall effect: Z = {abs(o.z):.2f} (P {_p(o.p)})"]
        if self.subgroup_test is not None:
            t = self.subgroup_test
            out.append(f"Test for subgroup differences: Chi² = {t.chi2:.2f}, df = {t.df} (P {_p(t.p)}), I² = {t.i2:.1f}%")
        return out


def _p(p):
    """RevMan's P format: "< 0.00001" below, two significant figures above 0.01-ish."""
    if np.isnan(p):
        return "= NA"
    if p < 0.00001:
        return "< 0.00001"
    return f"= {p:.2f}" if p >= 0.01 else f"= {p:.{max(2, -int(np.floor(np.log10(p))) + 1)}f}"


def revman(measure, *, model="random", method=None, subgroup=None, slab=None, data=None, na_action="fail", **columns) -> RevManResult:
    """Pool studies as RevMan 5 does (inverse variance; DerSimonian-Laird for ``model="random"``;
    for dichotomous data also Mantel-Haenszel and Peto).

    Parameters
    ----------
    measure : str
        ``"MD"``, ``"SMD"`` (RevMan's Hedges' adjusted g), ``"GEN"`` (``yi`` and ``sei``
        given, RevMan's generic inverse variance), or the dichotomous ``"OR"``, ``"RR"``,
        ``"RD"``, ``"PETO_OR"`` (events ``ai``, ``ci`` among ``n1i``, ``n2i``): the keys of
        :data:`REVMAN_MEASURES`. For ratio measures ``yi``, the pooled estimate and CIs are
        on the log scale (``pred`` and the printed table on RevMan's ratio scale).
    model : {"random", "fixed"}
    method : {"MH", "IV", "PETO"}, optional
        Dichotomous data only: RevMan's statistical method (default "MH"; "PETO" for
        ``PETO_OR``, which takes no other). "M-H random" is DerSimonian-Laird with Q
        centred on the Mantel-Haenszel estimate, as RevMan computes it.
    subgroup : array_like or column name, optional
        Subgroup of each study: each subgroup is pooled on its own (with its own
        Tau²) and RevMan's test for subgroup differences is computed.
    slab, data, na_action
        As :func:`harness.escalc`.
    **columns
        The measure's columns (``m1i, sd1i, n1i, m2i, sd2i, n2i`` for MD/SMD; ``yi, sei``
        for GEN), arrays or column names of ``data``; any other keyword is a ``TypeError``.
    """
    if measure not in REVMAN_MEASURES:
        raise ValueError(f"`measure` must be one of {tuple(REVMAN_MEASURES)}, not {measure!r}")
    if model not in ("random", "fixed"):
        raise ValueError(f"`model` must be 'random' or 'fixed', not {model!r}")
    names, fn = REVMAN_MEASURES[measure]
    dich = measure in DICH_MEASURES
    if dich:
        method = method or ("PETO" if measure == "PETO_OR" else "MH")
        if method not in rb.METHODS or (method == "PETO") != (measure == "PETO_OR"):
            raise ValueError(f"`method` must be one of {rb.METHODS} (PETO with measure 'PETO_OR' only), not {method!r} for measure {measure!r}")
    elif method not in (None, "IV"):
        raise ValueError(f"`method`: measure {measure!r} is pooled by inverse variance only ('IV'), not {method!r}")
    unknown = sorted(set(columns) - set(names))
    if unknown:
        raise TypeError(f"revman() got unexpected keyword argument(s) {', '.join(map(repr, unknown))} for measure {measure!r} (its columns: {', '.join(names)})")
    missing = [n for n in names if columns.get(n) is None]
    if missing:
        raise ValueError(f"measure {measure!r} needs {', '.join(names)}; missing {', '.join(missing)}")
    inp.check_na_action(na_action)
    cols = {n: inp.numeric(n, columns[n], data) for n in names}
    k = len(cols[names[0]])
    inp.length_check(k, **cols)
    labs = inp.labels(slab, data, k)
    g = inp.raw("subgroup", subgroup, data)
    g = None if g is None else [None if (x is None or (isinstance(x, float) and np.isnan(x))) else str(x) for x in (g.tolist() if hasattr(g, "tolist") else list(g))]
    if g is not None and len(g) != k:
        raise ValueError(f"`subgroup` has {len(g)} values for {k} studies")
    for n, x in cols.items():
        inp.finite_check(n, x, labs)
        if (n.startswith("sd") or n == "sei") and np.any(x[~np.isnan(x)] <= 0):
            raise ValueError(f"`{n}` must be > 0 (study {', '.join(labs[i] for i in np.flatnonzero(x <= 0))})")
        if n.startswith("n") and np.any(x[~np.isnan(x)] < 1):
            raise ValueError(f"`{n}`: a group size must be >= 1 (study {', '.join(labs[i] for i in np.flatnonzero(x < 1))})")
        if n in ("ai", "ci") and np.any(x[~np.isnan(x)] < 0):
            raise ValueError(f"`{n}`: an event count must be >= 0 (study {', '.join(labs[i] for i in np.flatnonzero(x < 0))})")
    if dich:
        for ev, tot in (("ai", "n1i"), ("ci", "n2i")):
            over = cols[ev] > cols[tot]
            if over.any():
                raise ValueError(f"`{ev}` larger than `{tot}` (more events than participants): study {', '.join(labs[i] for i in np.flatnonzero(over))}")
    masks = {n: np.isnan(x) for n, x in cols.items()}
    if g is not None:
        masks["subgroup"] = np.array([x is None for x in g])
    keep, omitted = inp.handle_missing(masks, labs, na_action)
    cols = {n: x[keep] for n, x in cols.items()}
    labs = tuple(np.asarray(labs, dtype=object)[keep])
    if dich:
        return _revman_dich(measure, method, model, cols, labs, g, keep, omitted)
    st = fn(*(cols[n] for n in names))
    yi, sei = np.asarray(st.yi, float), np.asarray(st.sei, float)
    overall = core.pool(yi, sei, model)
    subgroups = test = groups = None
    if g is not None:
        groups = tuple(x for x, kp in zip(g, keep) if kp)
        ga = np.asarray(groups, dtype=object)
        order = list(dict.fromkeys(groups))
        subgroups = {lab: core.pool(yi[ga == lab], sei[ga == lab], model) for lab in order}
        if len(order) >= 2:
            test = core.subgroup_test(yi, sei, ga, model)
    return RevManResult(measure, model, labs, yi, sei, overall, groups, subgroups, test, tuple(omitted))


def _revman_dich(measure, method, model, cols, labs, g, keep, omitted) -> RevManResult:
    """The dichotomous path of :func:`revman` (harness.core.revman_binary: study effects, pooling, subgroups)."""
    st = rb.study_effects(DICH_MEASURES[measure], cols["ai"], cols["n1i"], cols["ci"], cols["n2i"], method=method)
    groups = None if g is None else tuple(x for x, kp in zip(g, keep) if kp)
    sa = rb.subgroup_analysis(lambda m: rb.pool_studies(rb.subset(st, m), model), np.asarray(groups if groups else [""] * len(labs), dtype=object), model)
    subgroups = test = None
    if groups is not None:
        subgroups = sa.subgroups
        if sa.df >= 1:
            test = core.SubgroupTest(sa.chi2, sa.df, sa.p, sa.i2)
    return RevManResult(measure, model, labs, np.asarray(st.yi, float), np.asarray(st.sei, float), sa.overall, groups, subgroups, test,
                        tuple(omitted), method=method, estimable=np.asarray(st.estimable, bool))


__all__ = ["revman", "RevManResult", "REVMAN_MEASURES"]
