"""Analysis kind ``revman-dich``: RevMan 5's dichotomous methods in Python
(:mod:`harness.core.revman_binary`) against their R twin (``mh_revman_dich`` in
``r_scripts/binary.R``), or against metafor's own counterparts.

Keys: ``measure`` (OR, RR, RD), ``method`` (MH, IV, PETO; PETO implies the
odds ratio), ``model`` (fixed, random), the 2x2 table columns, ``level``.

Quantities (log scale for OR, RR and the Peto OR): per study ``yi[s]``,
``sei[s]`` (NaN where RevMan reports "not estimable") and ``weights[s]``
(percent, 0 where not estimable), ``estimate, se, ci_lb, ci_ub, z, p``,
heterogeneity ``chi2, df, p_chi2, i2``, ``tau2``, ``k`` (estimable
studies), and the totals ``events_1, total_1, events_2, total_2``.

``r_convention = "metafor"`` compares RevMan's numbers with what metafor
gives by default for the same method -- ``rma.mh`` (MH fixed), ``rma.peto``
(Peto fixed), ``rma.uni`` with ``method="FE"``/``"DL"`` on escalc's effects
(IV, and the random-effects versions). Where they differ by design (zero-cell
corrections, the MH risk-difference variance, the MH-based heterogeneity of
RevMan's "M-H random", studies RevMan does not estimate), each difference is
explained through the registry (``harness/compare/explained.toml``, section
"Dichotomous outcomes: RevMan 5 vs metafor"), with its size.
"""
from __future__ import annotations

import math

import numpy as np

from ..core import revman_binary as rb
from ..errors import InputError
from . import tables
from .base import version_context, AnalysisKind, Key, Outcome

POOLED = ("estimate", "se", "ci_lb", "ci_ub", "z", "p", "chi2", "df", "p_chi2", "i2", "tau2", "k")


class RevManDichKind(AnalysisKind):
    name = "revman-dich"
    keys = {
        "measure": Key(str, default="OR", choices=rb.DICH_MEASURES, expand=True, help="OR, RR or RD (PETO method: OR)"),
        "method": Key(str, default="MH", choices=rb.METHODS, expand=True, help="Mantel-Haenszel, inverse variance or Peto"),
        "model": Key(str, default="fixed", choices=rb.MODELS, expand=True, help="fixed effect or random effects (DerSimonian-Laird)"),
        **tables.table_keys(),
        "level": Key(float, default=95.0, help="confidence level of the pooled result (RevMan's CI_TOTAL)"),
        "r_convention": Key(str, default="revman", choices=("revman", "metafor"), expand=True,
                            help="R side: RevMan's rules (twin) or metafor's own functions (differences explained)"),
    }

    def check(self, spec):
        if spec["method"] == "PETO" and spec["measure"] != "OR":
            raise InputError(f"analysis {spec.id}: Peto's method pools odds ratios; set measure = \"OR\"", spec.fixture)
        tables.check_tables(spec)

    def _counts(self, spec):
        x = tables.table_inputs(spec)
        return x["ai"], x["ai"] + x["bi"], x["ci"], x["ci"] + x["di"]

    def explain_context(self, spec):
        return {"kind": self.name, "measure": spec["measure"], "method": spec["method"], "model": spec["model"],
                "conventions": ["revman", spec["r_convention"]], **version_context(spec)}

    def run_python(self, spec) -> Outcome:
        e1, n1, e2, n2 = self._counts(spec)
        st = rb.study_effects(spec["measure"], e1, n1, e2, n2, spec["method"])
        p = rb.pool_studies(st, spec["model"], spec["level"])
        slab = spec.dataset.labels(spec.slab)
        vals = {}
        for i, lab in enumerate(slab):
            vals[f"yi[{lab}]"], vals[f"sei[{lab}]"], vals[f"weights[{lab}]"] = float(st.yi[i]), float(st.sei[i]), float(p.weights[i])
        vals.update({q: float(getattr(p, q)) for q in POOLED})
        vals.update(zip(("events_1", "total_1", "events_2", "total_2"), rb.totals(e1, n1, e2, n2)))
        return Outcome(values=vals, info={"pooled": p, "estimable": st.estimable})

    def run_r(self, spec, engine) -> Outcome:
        x = tables.table_inputs(spec)
        call = engine.call("mh_revman_dich", data=x, measure=spec["measure"], method=spec["method"], model=spec["model"],
                           level=spec["level"], convention=spec["r_convention"])
        if call.error is not None:
            return Outcome(error=call.error, warnings=call.warnings)
        v = call.value
        slab = spec.dataset.labels(spec.slab)
        vals = {}
        for i, lab in enumerate(slab):
            for q in ("yi", "sei", "weights"):
                vals[f"{q}[{lab}]"] = float(v[q][i]) if v[q][i] is not None else float("nan")
        num = lambda q: float(np.asarray(v[q], float).ravel()[0]) if v.get(q) is not None and len(np.atleast_1d(v[q])) else float("nan")  # noqa: E731
        vals.update({q: num(q) for q in POOLED})
        e1, n1, e2, n2 = (np.asarray(a, float) for a in (x["ai"], x["ai"] + x["bi"], x["ci"], x["ci"] + x["di"]))
        vals.update(events_1=float(e1.sum()), total_1=float(n1.sum()), events_2=float(e2.sum()), total_2=float(n2.sum()))
        return Outcome(values=vals, warnings=list(call.warnings))

    def metafor_counterpart(self, spec) -> dict:
        """What metafor computes under ``r_convention = "metafor"`` (``mh_revman_dich_metafor``
        in r_scripts/binary.R), by the harness's own metafor-parity core: rma.mh / rma.peto
        (:mod:`harness.core.mh`) or escalc (:mod:`harness.core.effect_sizes_binary`) pooled
        by FE or DerSimonian-Laird with Cochran's Q around the IV estimate (metafor's
        rma.uni; :func:`harness.core.revman.pool` computes exactly that)."""
        from ..core import effect_sizes_binary as eb
        from ..core import mh
        from ..core.revman import pool

        cache = self.__dict__.setdefault("_cp_cache", {})
        key = (str(spec.fixture), spec.id)
        if key in cache:
            return cache[key]
        x = tables.table_inputs(spec)
        cells = (x["ai"], x["bi"], x["ci"], x["di"])
        measure, method, model, level = spec["measure"], spec["method"], spec["model"], spec["level"]
        d00 = measure != "RD"
        if method in ("MH", "PETO") and model == "fixed":
            if method == "MH":
                rd = measure == "RD"
                r = mh.rma_mh_arrays(*cells, measure=measure, add=(0.5, 0.0 if rd else 0.5), to=("only0", "none" if rd else "only0"), drop00=(d00, d00), level=level)
            else:
                r = mh.rma_peto_arrays(*cells, add=0.0, drop00=True, level=level)
            yi, vi, w = r["yi"], r["vi"], np.nan_to_num(r["weights"])
            k = r["k_yi"]
            pooled = {"estimate": r["beta"], "se": r["se"], "ci_lb": r["ci_lb"], "ci_ub": r["ci_ub"], "z": r["zval"], "p": r["pval"],
                      "chi2": r["QE"], "p_chi2": r["QEp"] if k > 1 else float("nan"), "tau2": 0.0}
            q = r["QE"]
        else:
            es = (eb.escalc_binary("PETO", *cells, add=0.0, drop00=True) if method == "PETO"
                  else eb.escalc_binary(measure, *cells, add=0.5, to="only0", drop00=d00))
            yi, vi = es.yi, es.vi
            ok = ~(np.isnan(yi) | np.isnan(vi))
            p = pool(yi[ok], np.sqrt(vi[ok]), model, level=level)
            w = np.zeros(len(yi))
            w[ok] = p.weights
            k = int(ok.sum())
            pooled = {"estimate": p.estimate, "se": p.se, "ci_lb": p.ci_lb, "ci_ub": p.ci_ub, "z": p.z, "p": p.p, "chi2": p.chi2, "p_chi2": p.p_chi2, "tau2": p.tau2}
            q = p.chi2
        pooled.update(df=float(k - 1), k=float(k), i2=(max(0.0, (q - (k - 1)) / q) * 100 if q > 0 else 0.0) if k > 1 else float("nan"))
        out = {f"{n}": float(v) for n, v in pooled.items()}
        for lab, y, v, wi in zip(spec.dataset.labels(spec.slab), yi, vi, w):
            out[f"yi[{lab}]"], out[f"sei[{lab}]"], out[f"weights[{lab}]"] = float(y), float(np.sqrt(v)), float(wi)
        cache[key] = out
        return out

    def explain(self, spec, record):
        """RevMan against metafor (``r_convention = "metafor"``): a difference is explained
        when a registry entry covers it *and* metafor's value is reproduced, within the
        closed-form tolerance, by the harness's own computation of what metafor does
        (:meth:`metafor_counterpart`) -- the cause is then exactly the registered
        convention, not a wrong number. The context has ``zero_cells = "yes"`` when a
        table of the analysis has a zero cell."""
        from ..compare.explained import find
        from ..compare.tolerance import CLOSED

        if spec["r_convention"] != "metafor" or record.abs_diff is None:
            return None
        cp = self.metafor_counterpart(spec).get(record.name)
        if cp is None or not (CLOSED.allows(cp, record.r) or (math.isnan(cp) and math.isnan(record.r))):
            return None
        x = tables.table_inputs(spec)
        zero = bool(np.any((x["ai"] == 0) | (x["bi"] == 0) | (x["ci"] == 0) | (x["di"] == 0)))
        ctx = {**self.explain_context(spec), "zero_cells": "yes" if zero else "no"}
        e = find(record.name, ctx, record.abs_diff, record.rel_diff)
        if e is None:
            return None
        return e.reason(record.abs_diff, record.rel_diff) + " (checked: metafor's value is what its convention gives)"


KIND = RevManDichKind()
