"""Analysis kinds ``revman`` and ``revman-subgroup``: RevMan 5 conventions in
Python (:mod:`harness.core.revman`) against their R twin (``r_scripts/revman.R``).

``revman``
    Per-study MD/SMD and SE as RevMan 5 computes them, inverse-variance fixed
    effect or DerSimonian-Laird random effects, heterogeneity (Chi², df, P,
    I² = (Q - df)/Q), Tau², Z, P, 95% CI (exact normal quantile), weights in
    percent. R computes RevMan's effect sizes itself from the raw columns and
    pools them with ``metafor::rma(yi, sei=, method="FE"/"DL")``.
    With ``r_convention = "metafor"`` the R side instead uses metafor's own
    effect sizes (``escalc``): for an SMD the two conventions differ by
    design, and the comparison reports each such difference as ``explained``
    through the registry (:mod:`harness.compare.explained`), with its size.

``revman-subgroup``
    RevMan's test for subgroup differences and its metafor counterparts.
    Quantities (the same names on both sides):

    * ``subgroup_chi2`` / ``subgroup_p`` / ``subgroup_i2`` / ``subgroup_df``:
      the test RevMan reports for the analysis' model;
    * ``subgroup_chi2_fixed``: RevMan's fixed-effect test,
      Q_total - Σ Q_j. **metafor counterpart**: ``QM`` of the fixed-effect
      meta-regression ``rma(yi, sei, mods=~factor(g), method="FE")``;
    * ``subgroup_chi2_random``: RevMan's random-effects test, Cochran's Q on
      the subgroup DL estimates, each subgroup with its own Tau².
      **metafor counterpart**: per-subgroup ``rma(method="DL")`` fits combined
      with ``rma(b_j, sei=se_j, method="FE")$QE``;
    * ``QM_mixed_common_tau2``: metafor's usual mixed-effects test (one
      common Tau², DL) -- *not* what RevMan reports; shown so the difference
      is visible (Python computes it with :func:`harness.rma`);
    * ``estimate[g]``, ``se[g]``, ``tau2[g]``, ``k[g]``: each subgroup's pooled
      result under the model, with its heterogeneity ``chi2[g]``, ``df[g]``,
      ``p_chi2[g]``, ``i2[g]``, its test ``z[g]``, ``p[g]`` and its weight
      ``weight[g]`` (percent of the total);
    * ``yi[study]``, ``sei[study]``, ``weights[study]``: the studies as RevMan
      displays a subgroup analysis (the weights those of the total analysis,
      in percent: their sum over a subgroup is its weight);
    * ``total.estimate``, ``total.se``, ``total.ci_lb``, ``total.ci_ub``,
      ``total.z``, ``total.p``, ``total.chi2``, ``total.df``, ``total.p_chi2``,
      ``total.i2``, ``total.tau2``: the total over all studies (RevMan's
      "Total" row: one pooled analysis ignoring the subgroups).

    Together they are everything RevMan prints on the subgroup analysis's
    forest plot, drawn in its layout in the HTML report.
"""
from __future__ import annotations

import numpy as np

from ..api import univariate as api
from ..core import revman
from ..errors import InputError
from .base import METAFOR_KEY, AnalysisKind, Key, Outcome, version_context, check_r_name, require_columns, FAVOURS

TWO_GROUP = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
NOTE = ("RevMan's random-effects subgroup Chi² = metafor rma(b_j, sei=se_j, method='FE')$QE over per-subgroup DL fits; "
        "RevMan's fixed-effect Chi² = QM of the FE meta-regression on the subgroup factor; "
        "metafor's mixed-effects QM (common tau²) is a different test")


def _col(name):
    return Key(str, default=name, check=check_r_name, help=f"column holding {name}")


class RevManKind(AnalysisKind):
    name = "revman"
    keys = {
        "measure": Key(str, required=True, choices=("MD", "SMD", "GEN"), expand=True, help="MD or SMD (RevMan's formulas), GEN: yi and sei/vi given"),
        "model": Key(str, default="random", choices=("fixed", "random"), expand=True, help="inverse-variance fixed effect or DerSimonian-Laird random effects"),
        **{role: _col(role) for role in TWO_GROUP},
        "yi": Key(str, check=check_r_name, help="effect sizes (measure GEN)"),
        "sei": Key(str, check=check_r_name, help="standard errors (measure GEN)"),
        "vi": Key(str, check=check_r_name, help="sampling variances (measure GEN)"),
        "r_convention": Key(str, default="revman", choices=("revman", "metafor"), expand=True, help="effect-size convention of the R side: RevMan's (twin) or metafor's escalc (differences explained)"),
        "metafor": METAFOR_KEY,
        "favours": FAVOURS,
    }

    def shown_options(self, o):
        """Options that apply: the arm columns, or yi with sei/vi for measure GEN."""
        drop = {"yi", "sei", "vi"} if o.get("measure") != "GEN" else set(TWO_GROUP)
        return {k: v for k, v in super().shown_options(o).items() if k not in drop}

    def check(self, spec):
        if spec["measure"] == "GEN":
            if spec.get("yi") is None or (spec.get("vi") is None) == (spec.get("sei") is None):
                raise InputError(f"analysis {spec.id}: measure GEN needs `yi` and exactly one of `vi`, `sei`", spec.fixture)
            if spec.get("r_convention") == "metafor":
                raise InputError(f"analysis {spec.id}: r_convention 'metafor' needs raw columns (measure MD or SMD)", spec.fixture)
        else:
            require_columns(spec, TWO_GROUP)
        self.inputs(spec)

    def inputs(self, spec):
        ds = spec.dataset
        if spec["measure"] == "GEN":
            out = {"yi": ds.numeric(spec["yi"])}
            if spec.get("sei"):
                out["sei"] = ds.numeric(spec["sei"], lower=0, lower_inclusive=False, what="a standard error")
            else:
                out["vi"] = ds.numeric(spec["vi"], lower=0, lower_inclusive=False, what="a sampling variance")
            return out
        out = {}
        for role in TWO_GROUP:
            if role.startswith("sd"):
                out[role] = ds.numeric(spec[role], lower=0, lower_inclusive=False, what="a standard deviation")
            elif role.startswith("n"):
                out[role] = ds.numeric(spec[role], lower=1, what="a sample size")
            else:
                out[role] = ds.numeric(spec[role])
        return out

    def effects(self, spec):
        x = self.inputs(spec)
        if spec["measure"] == "GEN":
            return x["yi"], x["sei"] if "sei" in x else np.sqrt(x["vi"])
        st = revman.study_effects(spec["measure"], *(x[r] for r in TWO_GROUP))
        return st.yi, st.sei

    def explain_context(self, spec):
        return {"kind": self.name, "measure": spec["measure"], "model": spec["model"], "conventions": ["revman", spec.get("r_convention", "revman")], **version_context(spec)}

    def run_python(self, spec) -> Outcome:
        yi, sei = self.effects(spec)
        slab = spec.dataset.labels(spec.slab)
        p = revman.pool(yi, sei, spec["model"])
        vals = {}
        for lab, y, s, w in zip(slab, yi, sei, p.weights):
            vals[f"yi[{lab}]"], vals[f"sei[{lab}]"], vals[f"weights[{lab}]"] = float(y), float(s), float(w)
        vals.update(estimate=p.estimate, se=p.se, ci_lb=p.ci_lb, ci_ub=p.ci_ub, z=p.z, p=p.p, chi2=p.chi2, df=float(p.df), p_chi2=p.p_chi2, i2=p.i2, tau2=p.tau2, k=float(p.k))
        return Outcome(values=vals, info={"pooled": p})

    def run_r(self, spec, engine) -> Outcome:
        x = self.inputs(spec)
        slab = spec.dataset.labels(spec.slab)
        if spec.get("r_convention", "revman") == "metafor":
            return self._run_r_metafor(spec, engine, x, slab)
        call = engine.call("mh_revman", data=x, measure=spec["measure"], model=spec["model"])
        if call.error is not None:
            return Outcome(error=call.error, warnings=call.warnings)
        v = call.value
        vals = {}
        for lab, y, s, w in zip(slab, v["yi"], v["sei"], v["weights"]):
            vals[f"yi[{lab}]"], vals[f"sei[{lab}]"], vals[f"weights[{lab}]"] = float(y), float(s), float(w)
        g = lambda k: float(np.asarray(v[k], float).ravel()[0]) if v.get(k) is not None else float("nan")  # noqa: E731
        for k in ("estimate", "se", "ci_lb", "ci_ub", "z", "p", "chi2", "df", "p_chi2", "i2", "tau2", "k"):
            vals[k] = g(k)
        return Outcome(values=vals, warnings=call.warnings)

    def _run_r_metafor(self, spec, engine, x, slab):
        call = engine.call("mh_rma", data=x, mods={}, measure=spec["measure"], vtype="LS", method="FE" if spec["model"] == "fixed" else "DL", test="z", level=95.0, intercept=True, threshold=1e-12, maxiter=1000)
        if call.error is not None:
            return Outcome(error=call.error, warnings=call.warnings)
        v = call.value
        vals = {}
        for lab, y, vi, w in zip(slab, v["yi"], v["vi"], v["weights"]):
            vals[f"yi[{lab}]"], vals[f"sei[{lab}]"], vals[f"weights[{lab}]"] = float(y), float(np.sqrt(vi)), float(w)
        g = lambda k: float(np.asarray(v[k], float).ravel()[0])  # noqa: E731
        k = g("k")
        qe = g("QE")
        vals.update(estimate=g("beta"), se=g("se"), ci_lb=g("ci_lb"), ci_ub=g("ci_ub"), z=g("zval"), p=g("pval"), chi2=qe, df=k - 1, p_chi2=g("QEp"),
                    i2=max(0.0, (qe - (k - 1)) / qe) * 100 if qe > 0 else 0.0, tau2=g("tau2"), k=k)
        return Outcome(values=vals, warnings=call.warnings)


class RevManSubgroupKind(RevManKind):
    name = "revman-subgroup"
    keys = {
        **{k: v for k, v in RevManKind.keys.items() if k != "r_convention"},
        "group": Key(str, required=True, check=check_r_name, help="column with the subgroup labels"),
    }

    def check(self, spec):
        super().check(spec)
        spec.dataset.require(spec["group"], "the subgroup column")
        if len(set(self.groups(spec))) < 2:
            raise InputError(f"analysis {spec.id}: the subgroup column {spec['group']!r} has fewer than two subgroups", spec.fixture)

    def groups(self, spec):
        return np.array(spec.dataset.text(spec["group"], what="a subgroup"), dtype=object)

    def explain_context(self, spec):
        return {"kind": self.name, "measure": spec["measure"], "model": spec["model"], "conventions": ["revman", "revman"], **version_context(spec)}

    def run_python(self, spec) -> Outcome:
        yi, sei = self.effects(spec)
        g = self.groups(spec)
        labels = list(dict.fromkeys(g.tolist()))
        model = spec["model"]
        t = revman.subgroup_test(yi, sei, g, model)
        tf = revman.subgroup_test(yi, sei, g, "fixed")
        tr = revman.subgroup_test(yi, sei, g, "random")
        dummies = np.column_stack([(g == lab).astype(float) for lab in labels[1:]])
        me = api.rma(yi, sei**2, mods=dummies, method="DL")
        vals = {"subgroup_chi2": t.chi2, "subgroup_df": float(t.df), "subgroup_p": t.p, "subgroup_i2": t.i2,
                "subgroup_chi2_fixed": tf.chi2, "subgroup_chi2_random": tr.chi2, "QM_mixed_common_tau2": float(me.QM)}
        total = revman.pool(yi, sei, model)
        # per study, as RevMan displays a subgroup analysis: weights of the total analysis, in percent
        for lab, y, s, w in zip(spec.dataset.labels(spec.slab), yi, sei, total.weights):
            vals[f"yi[{lab}]"], vals[f"sei[{lab}]"], vals[f"weights[{lab}]"] = float(y), float(s), float(w)
        for lab in labels:
            p = revman.pool(yi[g == lab], sei[g == lab], model)
            vals[f"estimate[{lab}]"], vals[f"se[{lab}]"], vals[f"tau2[{lab}]"], vals[f"k[{lab}]"] = p.estimate, p.se, p.tau2, float(p.k)
            vals[f"chi2[{lab}]"], vals[f"df[{lab}]"], vals[f"p_chi2[{lab}]"], vals[f"i2[{lab}]"] = p.chi2, float(p.df), p.p_chi2, p.i2
            vals[f"z[{lab}]"], vals[f"p[{lab}]"], vals[f"weight[{lab}]"] = p.z, p.p, float(total.weights[g == lab].sum())
        for k in ("estimate", "se", "ci_lb", "ci_ub", "z", "p", "chi2", "p_chi2", "i2", "tau2"):
            vals[f"total.{k}"] = float(getattr(total, k))
        vals["total.df"] = float(total.df)
        return Outcome(values=vals, info={"note": NOTE})

    def run_r(self, spec, engine) -> Outcome:
        x = self.inputs(spec)
        g = self.groups(spec)
        measure = spec["measure"]
        model = spec["model"]
        call = engine.call("mh_revman_subgroup", data=x, group=[str(s) for s in g], measure=measure, model=model)
        if call.error is not None:
            return Outcome(error=call.error, warnings=call.warnings)
        v = call.value
        f = lambda k: float(np.asarray(v[k], float).ravel()[0])  # noqa: E731
        chi2 = f("chi2_random") if model == "random" else f("chi2_fixed")
        df = f("df")
        vals = {"subgroup_chi2": chi2, "subgroup_df": df,
                "subgroup_p": f("p_random") if model == "random" else f("p_fixed"),
                "subgroup_i2": max(0.0, (chi2 - df) / chi2) * 100 if chi2 > 0 else 0.0,
                "subgroup_chi2_fixed": f("chi2_fixed"), "subgroup_chi2_random": f("chi2_random"), "QM_mixed_common_tau2": f("QM_mixed")}
        for lab, y, s, w in zip(spec.dataset.labels(spec.slab), v["yi"], v["sei"], v["weights"]):
            vals[f"yi[{lab}]"], vals[f"sei[{lab}]"], vals[f"weights[{lab}]"] = float(y), float(s), float(w)
        suffix = "random" if model == "random" else "fixed"
        tau2 = v["tau2_random"] if model == "random" else [0.0] * len(v["levels"])
        for i, (lab, b, s, t2, k) in enumerate(zip(v["levels"], v[f"estimate_{suffix}"], v[f"se_{suffix}"], tau2, v["k"])):
            vals[f"estimate[{lab}]"], vals[f"se[{lab}]"], vals[f"tau2[{lab}]"], vals[f"k[{lab}]"] = float(b), float(s), float(t2), float(k)
            for q in ("chi2", "df", "p_chi2", "i2", "z", "p", "weight"):
                vals[f"{q}[{lab}]"] = _num(v[f"sub_{q}"][i])
        for q in ("estimate", "se", "ci_lb", "ci_ub", "z", "p", "chi2", "df", "p_chi2", "i2", "tau2"):
            vals[f"total.{q}"] = _num(v[f"total_{q}"])
        return Outcome(values=vals, warnings=call.warnings, info={"note": NOTE})


def _num(x) -> float:
    """An R number (NA: NaN) as a float."""
    a = np.asarray(x, dtype=float).ravel()
    return float(a[0]) if a.size else float("nan")


KIND = RevManKind()
SUBGROUP_KIND = RevManSubgroupKind()
