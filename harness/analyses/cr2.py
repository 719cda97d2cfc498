"""Analysis kind ``cr2``: clubSandwich CR2 on a random-effects meta-regression.

``model = "rma.uni"`` (default): ``metafor::rma.uni`` with the chosen tau^2
``method``. ``model = "rma.mv"``: ``metafor::rma.mv(random = ~ 1 | cluster)``,
a random intercept per cluster, with ``sigma2`` fixed (a number, both
engines) or estimated by REML (Python: root of the REML score to machine precision; metafor:
nlminb, which stops on the objective, so its sigma^2 is accurate to ~1e-6
relative only and these analyses use :data:`OPTIMIZER` tolerances).

Python fits ``rma.uni`` with :func:`harness.core.rma.rma_arrays` and applies
:func:`harness.core.cr2.cr2_fit`; R fits ``metafor::rma.uni`` and calls
``clubSandwich::coef_test(vcov = "CR2", cluster = ..., test = "Satterthwaite")``,
``conf_int`` and, for models with moderators, ``Wald_test(test = "HTZ")`` of
all non-intercept coefficients (``r_scripts/clubsandwich.R``).
"""
from __future__ import annotations

import numpy as np

from ..compare.tolerance import CLOSED, ITERATIVE, Tolerance
from ..core.cr2 import cr2_fit, cr2_fit_mv, reml_sigma2
from ..core.rma import rma_arrays
from ..core.rve import SingularDesignError
from ..core.tau2 import ESTIMATORS
from ..errors import InputError
from .base import METAFOR_KEY, AnalysisKind, Key, Outcome, metafor_of, check_r_name, require_columns, check_moderators, FAVOURS, design_with_intercept
from .robu import RobuKind, categorical_design

ITERATIVE_METHODS = ("ML", "REML", "EB", "PM", "PMM", "SJIT", "DLIT", "GENQM")
COEF_Q = ("beta", "SE", "tstat", "df_Satt", "p_Satt", "CI_L", "CI_U")
WALD_Q = ("Fstat", "delta", "df_num", "df_denom", "p_val")
#: rma.mv REML: metafor's nlminb stops on the objective; its sigma^2 differs between
#: its own optimizers (nlminb, BFGS) by ~1e-6 relative on konstantopoulos2011, and
#: from the exact optimum by about as much (measured: sigma2 1.3e-6, CI 7e-7).
OPTIMIZER = Tolerance(rtol=1e-5, atol=1e-8)


class Cr2Kind(AnalysisKind):
    name = "cr2"
    nonconvergence_messages = ("did not converge",)
    keys = {
        "yi": Key(str, default="yi", check=check_r_name),
        "vi": Key(str, default="vi", check=check_r_name),
        "cluster": Key(str, required=True, check=check_r_name, help="cluster (study) column"),
        "model": Key(str, default="rma.uni", choices=("rma.uni", "rma.mv"), expand=True, help="metafor model the CR2 is applied to"),
        "sigma2": Key(float, help="rma.mv: fixed between-cluster variance (default: REML estimate)"),
        "weights": Key(str, check=check_r_name, help="user weights column (metafor weights)"),
        "method": Key(str, default="REML", choices=tuple(ESTIMATORS), expand=True, help="tau^2 estimator of the rma.uni fit"),
        "mods": Key(list, default=[], check=check_r_name),
        "factors": Key(list, default=[], check=check_r_name),
        "intercept": Key(bool, default=True),
        "level": Key(float, default=95.0),
        "threshold": Key(float, default=1e-12),
        "maxiter": Key(int, default=1000),
        "metafor": METAFOR_KEY,
        "favours": FAVOURS,
    }

    def shown_options(self, o):
        """Options that apply: ``method`` and its iteration controls for rma.uni, ``sigma2`` for rma.mv, ``intercept`` when false."""
        drop = set()
        if o.get("model") == "rma.mv":
            drop |= {"method"} | ({"threshold", "maxiter"} if o.get("sigma2") is not None else set())
        elif o.get("method") not in ITERATIVE_METHODS:
            drop |= {"threshold", "maxiter"}
        if o.get("intercept", True):
            drop.add("intercept")
        return {k: v for k, v in super().shown_options(o).items() if k not in drop}

    def check(self, spec):
        require_columns(spec, ["yi", "vi", "cluster"])
        if spec.get("weights"):
            require_columns(spec, ["weights"])
        check_moderators(spec)
        if spec["model"] == "rma.mv" and spec.get("weights"):
            raise InputError(f"analysis {spec.id}: user weights are supported for rma.uni only", spec.fixture)
        self.inputs(spec)

    def inputs(self, spec):
        ds = spec.dataset
        x = {"yi": ds.numeric(spec["yi"]), "vi": ds.numeric(spec["vi"], lower=0, what="a sampling variance"), "cluster": ds.text(spec["cluster"], what="a cluster identifier")}
        if spec.get("weights"):
            x["weights"] = ds.numeric(spec["weights"], lower=0, lower_inclusive=False, what="a weight")
        M, names, levels = categorical_design(spec, spec["mods"], spec["factors"], spec["intercept"])
        return x, M, names, levels

    def run_python(self, spec) -> Outcome:
        x, M, names, _ = self.inputs(spec)
        coef = (["intrcpt"] if spec["intercept"] else []) + names
        X = design_with_intercept(M, spec["intercept"], len(x["yi"]))
        if spec["model"] == "rma.mv":
            return self._run_python_mv(spec, x, X, coef)
        method, _ = metafor_of(spec).rma_method(spec["method"], "z")  # "CO"/"VC" only where the release has them
        fit = rma_arrays(x["yi"], x["vi"], X, method=method, intercept=spec["intercept"], control={"threshold": spec["threshold"], "maxiter": spec["maxiter"]}, weights=x.get("weights"), r2=False)
        if not bool(fit["converged"]):
            return Outcome(error=f"did not converge: tau^2 iteration ({spec['method']})", info={"nonconvergence": True})
        wald = [j for j, c in enumerate(coef) if c != "intrcpt"] if (spec["mods"] and X.shape[1] > 1) else []
        Cm = np.eye(len(coef))[wald] if wald else None
        try:
            r = cr2_fit(x["yi"], x["vi"], X, x["cluster"], tau2=float(fit["tau2"]), weights=x.get("weights"), level=spec["level"], constraints=Cm)
        except SingularDesignError as e:
            return Outcome(error=str(e))
        vals = {"tau2": float(fit["tau2"])}
        for q in COEF_Q:
            for c, a in zip(coef, r[q]):
                vals[f"{q}[{c}]"] = float(a)
        for i, a in enumerate(coef):
            for j, b in enumerate(coef):
                vals[f"vcov[{a},{b}]"] = float(r["vcov"][i, j])
        if Cm is not None:
            for q in WALD_Q:
                vals[f"Wald_{q}"] = float(r[q])
        return Outcome(values=vals, info={"fit": r})

    def _wald(self, spec, coef):
        return [j for j, c in enumerate(coef) if c != "intrcpt"] if (spec["mods"] and len(coef) > 1) else []

    def _values(self, coef, r, wald, first):
        vals = dict(first)
        for q in COEF_Q:
            for c, a in zip(coef, r[q]):
                vals[f"{q}[{c}]"] = float(a)
        for i, a in enumerate(coef):
            for j, b in enumerate(coef):
                vals[f"vcov[{a},{b}]"] = float(r["vcov"][i, j])
        if wald:
            for q in WALD_Q:
                vals[f"Wald_{q}"] = float(r[q])
        return vals

    def _run_python_mv(self, spec, x, X, coef):
        s2 = spec.get("sigma2")
        if s2 is None:
            s2 = reml_sigma2(x["yi"], x["vi"], X, x["cluster"])
        wald = self._wald(spec, coef)
        try:
            r = cr2_fit_mv(x["yi"], x["vi"], X, x["cluster"], sigma2=s2, level=spec["level"], constraints=np.eye(len(coef))[wald] if wald else None)
        except SingularDesignError as e:
            return Outcome(error=str(e))
        return Outcome(values=self._values(coef, r, wald, {"sigma2": float(s2)}), info={"fit": r})

    def _run_r_mv(self, spec, engine, x, mods, levels, wald):
        call = engine.call("mh_cr2_mv", data={"yi": x["yi"], "vi": x["vi"], "cluster": np.array(x["cluster"], dtype=object)}, mods=mods, factors=np.array(list(levels), dtype=object), levels={f: np.array(lv, dtype=object) for f, lv in levels.items()}, sigma2=spec.get("sigma2"), intercept=spec["intercept"], level=spec["level"], wald=np.array(wald, dtype=object))
        if call.error is not None:
            return Outcome(error=call.error, warnings=call.warnings)
        v = call.value
        coef = v["coef_names"]
        r = {q: v[q] for q in COEF_Q}
        r["vcov"] = np.asarray(v["vcov"], float).reshape(len(coef), len(coef), order="F")
        if wald:
            r.update({q: v[q][0] for q in WALD_Q})
        return Outcome(values=self._values(coef, r, wald, {"sigma2": float(v["sigma2"][0])}), warnings=call.warnings, info={"r": v})

    def run_r(self, spec, engine) -> Outcome:
        x, _, names, levels = self.inputs(spec)
        mods = {m: (np.array(spec.dataset.text(m), dtype=object) if m in levels else spec.dataset.numeric(m)) for m in spec["mods"]}
        data = {"yi": x["yi"], "vi": x["vi"], "cluster": np.array(x["cluster"], dtype=object)}
        if "weights" in x:
            data["weights"] = x["weights"]
        coef_py = (["intrcpt"] if spec["intercept"] else []) + names
        wald = [c for c in coef_py if c != "intrcpt"] if (spec["mods"] and len(coef_py) > 1) else []
        if spec["model"] == "rma.mv":
            return self._run_r_mv(spec, engine, x, mods, levels, wald)
        call = engine.call("mh_cr2", data=data, mods=mods, factors=np.array(list(levels), dtype=object), levels={f: np.array(lv, dtype=object) for f, lv in levels.items()}, method=spec["method"], intercept=spec["intercept"], level=spec["level"], threshold=spec["threshold"], maxiter=spec["maxiter"], wald=np.array(wald, dtype=object))
        if call.error is not None:
            return Outcome(error=call.error, warnings=call.warnings, info={"nonconvergence": self.r_nonconvergence(call.error)})
        v = call.value
        coef = v["coef_names"]
        vals = {"tau2": float(v["tau2"][0])}
        for q in COEF_Q:
            for c, a in zip(coef, v[q]):
                vals[f"{q}[{c}]"] = a
        Vm = np.asarray(v["vcov"], float).reshape(len(coef), len(coef), order="F")
        for i, a in enumerate(coef):
            for j, b in enumerate(coef):
                vals[f"vcov[{a},{b}]"] = float(Vm[i, j])
        if wald:
            for q in WALD_Q:
                vals[f"Wald_{q}"] = float(v[q][0])
        return Outcome(values=vals, warnings=call.warnings, info={"r": v})

    #: inputs() returns (x, M, names, levels) as robu's does, so kappa is computed alike
    condition_number = RobuKind.condition_number

    def tolerance_class(self, spec, quantity):
        if spec["model"] == "rma.mv":
            return OPTIMIZER if spec.get("sigma2") is None and quantity != "Wald_df_num" else CLOSED
        if spec["method"] in ITERATIVE_METHODS and quantity != "Wald_df_num":
            return ITERATIVE
        return CLOSED


KIND = Cr2Kind()
