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
function that computes RevMan's study effects; dichotomous measures (OR, RR, RD
with their 2x2 columns) register there as the core gains them, with no change to
:func:`revman`'s signature (its columns are keyword arguments checked against the
measure's list, so an unknown one is a ``TypeError``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core import revman as core
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
        """RevMan's analysis table: Study, Weight, effect [95% CI], and its heterogeneity,
        overall-effect and subgroup-difference lines (RevMan's number formats)."""
        ci = f"{self.measure} IV, {'Random' if self.model == 'random' else 'Fixed'}, 95% CI"

        def row(lab, est, lb, ub, w):
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


def revman(measure, *, model="random", subgroup=None, slab=None, data=None, na_action="fail", **columns) -> RevManResult:
    """Pool studies as RevMan 5 does (inverse variance; DerSimonian-Laird for ``model="random"``).

    Parameters
    ----------
    measure : str
        ``"MD"``, ``"SMD"`` (RevMan's Hedges' adjusted g) or ``"GEN"`` (``yi`` and ``sei``
        given, RevMan's generic inverse variance): the keys of :data:`REVMAN_MEASURES`.
    model : {"random", "fixed"}
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
    masks = {n: np.isnan(x) for n, x in cols.items()}
    if g is not None:
        masks["subgroup"] = np.array([x is None for x in g])
    keep, omitted = inp.handle_missing(masks, labs, na_action)
    cols = {n: x[keep] for n, x in cols.items()}
    labs = tuple(np.asarray(labs, dtype=object)[keep])
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


__all__ = ["revman", "RevManResult", "REVMAN_MEASURES"]
