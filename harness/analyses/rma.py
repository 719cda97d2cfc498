"""Analysis kind ``rma``: escalc + rma.uni, in Python and through metafor.

Both engines start from the same raw columns: Python computes the effect
sizes with :mod:`harness.core.effect_sizes` and fits with
:mod:`harness.core.rma`; R calls ``metafor::escalc`` and ``metafor::rma.uni``
(``r_scripts/metafor.R``). Per-study ``yi``, ``vi``, ``weights`` and every
model quantity are compared.
"""
from __future__ import annotations

import numpy as np

from .. import api
from ..compare.tolerance import CLOSED, ITERATIVE
from ..core.rma import FE_METHODS, TESTS
from ..core.tau2 import ESTIMATORS
from ..errors import InputError
from ..results import EscalcResult, RmaResult
from .base import AnalysisKind, Key, Outcome, check_r_name, require_columns

TWO_GROUP = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
#: estimators whose tau^2 is found by iteration (quantities get ITERATIVE tolerances)
ITERATIVE_METHODS = ("ML", "REML", "EB", "PM", "MP", "PMM", "SJIT", "DLIT", "GENQM")
#: quantities that never depend on tau^2
TAU2_FREE = ("yi", "vi", "QE", "QEp", "k")


def _col(name):
    return Key(str, default=name, check=check_r_name, help=f"column holding {name}")


class RmaKind(AnalysisKind):
    name = "rma"
    keys = {
        "measure": Key(str, required=True, choices=("MD", "SMD", "GEN"), expand=True, help="effect size (metafor `measure`); GEN: yi and vi/sei given"),
        **{role: _col(role) for role in TWO_GROUP},
        "yi": Key(str, check=check_r_name, help="column of effect sizes (measure GEN)"),
        "vi": Key(str, check=check_r_name, help="column of sampling variances (measure GEN)"),
        "sei": Key(str, check=check_r_name, help="column of standard errors (measure GEN)"),
        "vtype": Key(str, default="LS", expand=True, help="metafor `vtype`"),
        "method": Key(str, default="REML", choices=tuple(ESTIMATORS), expand=True, help="tau^2 estimator"),
        "test": Key(str, default="z", choices=TESTS, expand=True),
        "level": Key(float, default=95.0),
        "mods": Key(list, default=[], check=check_r_name, help="moderator columns"),
        "intercept": Key(bool, default=True),
        "threshold": Key(float, default=1e-12, help="convergence threshold for both engines (metafor control$threshold)"),
        "maxiter": Key(int, default=1000, help="iteration limit for both engines (metafor control$maxiter)"),
    }

    # ---- validation -----------------------------------------------------------
    def check(self, spec):
        if spec["measure"] == "GEN":
            if spec.get("yi") is None or (spec.get("vi") is None) == (spec.get("sei") is None):
                raise InputError(f"analysis {spec.id}: measure GEN needs `yi` and exactly one of `vi`, `sei`", spec.fixture)
            require_columns(spec, ["yi", "vi" if spec.get("vi") else "sei"])
        else:
            require_columns(spec, TWO_GROUP)
        for m in spec["mods"]:
            spec.dataset.require(m, "moderator")
        if not spec["intercept"] and not spec["mods"]:
            raise InputError(f"analysis {spec.id}: a model without intercept needs `mods`", spec.fixture)
        # read every cell now, so that bad data stops the run before anything is fitted
        self.inputs(spec)
        self.moderators(spec)

    def inputs(self, spec):
        """Validated numeric inputs by role (errors name file, line and column)."""
        ds = spec.dataset
        if spec["measure"] == "GEN":
            out = {"yi": ds.numeric(spec["yi"])}
            if spec.get("vi"):
                out["vi"] = ds.numeric(spec["vi"], lower=0, what="a sampling variance")
            else:
                out["sei"] = ds.numeric(spec["sei"], lower=0, what="a standard error")
            return out
        out = {}
        for role in TWO_GROUP:
            if role.startswith("sd"):
                out[role] = ds.numeric(spec[role], lower=0, what="a standard deviation")
            elif role.startswith("n"):
                out[role] = ds.numeric(spec[role], lower=0, lower_inclusive=False, what="a sample size")
            else:
                out[role] = ds.numeric(spec[role])
        return out

    def moderators(self, spec):
        return {m: spec.dataset.numeric(m) for m in spec["mods"]}

    def control(self, spec):
        return {"threshold": spec["threshold"], "maxiter": spec["maxiter"]}

    # ---- engines ----------------------------------------------------------------
    def run_python(self, spec) -> Outcome:
        x = self.inputs(spec)
        slab = spec.dataset.labels(spec.slab)
        if spec["measure"] == "GEN":
            es = api.escalc("GEN", yi=x["yi"], vi=x.get("vi"), sei=x.get("sei"), slab=slab)
        else:
            es = api.escalc(spec["measure"], vtype=spec["vtype"], slab=slab, **x)
        mods = self.moderators(spec)
        M = np.column_stack(list(mods.values())) if mods else None
        fit = api.rma(es.yi, es.vi, mods=M, coef_names=list(mods) or None, intercept=spec["intercept"], method=spec["method"], test=spec["test"], level=spec["level"], control=self.control(spec), slab=slab)
        if not fit.converged:
            return Outcome(error=f"did not converge: tau^2 iteration ({spec['method']}) stopped after {fit.iterations} iterations (maxiter = {spec['maxiter']})", info={"nonconvergence": True})
        return Outcome(values={**es.quantities(), **fit.quantities()}, info={"escalc": es, "fit": fit})

    def run_r(self, spec, engine) -> Outcome:
        x = self.inputs(spec)
        slab = spec.dataset.labels(spec.slab)
        call = engine.call(
            "mh_rma",
            data=x,
            mods=self.moderators(spec),
            measure=spec["measure"],
            vtype=spec["vtype"],
            method=spec["method"],
            test=spec["test"],
            level=spec["level"],
            intercept=spec["intercept"],
            threshold=spec["threshold"],
            maxiter=spec["maxiter"],
        )
        if call.error is not None:
            return Outcome(error=call.error, warnings=call.warnings, info={"nonconvergence": "did not converge" in call.error})
        v = call.value
        es = EscalcResult(spec["measure"], np.asarray(v["yi"], float), np.asarray(v["vi"], float), slab, spec["vtype"])
        fit = rma_result_from_r(v, spec, slab)
        return Outcome(values={**es.quantities(), **fit.quantities()}, warnings=call.warnings, info={"escalc": es, "fit": fit})

    # ---- tolerances -------------------------------------------------------------
    def tolerance_class(self, spec, quantity):
        base = quantity.split("[", 1)[0]
        if spec["method"] in ITERATIVE_METHODS and base not in TAU2_FREE:
            return ITERATIVE
        return CLOSED


def _arr(v, key):
    return np.atleast_1d(np.asarray(v[key], dtype=float))


def _num(v, key):
    x = v.get(key)
    if x is None:
        return float("nan")
    return float(np.asarray(x, dtype=float).ravel()[0])


def rma_result_from_r(v, spec, slab) -> RmaResult:
    """Build an :class:`RmaResult` from the flat list ``mh_rma`` returns."""
    return RmaResult(
        beta=_arr(v, "beta"),
        se=_arr(v, "se"),
        zval=_arr(v, "zval"),
        pval=_arr(v, "pval"),
        ci_lb=_arr(v, "ci_lb"),
        ci_ub=_arr(v, "ci_ub"),
        vb=np.asarray(v["vb"], float).reshape(len(v["coef_names"]), -1),
        coef_names=tuple(v["coef_names"]),
        tau2=_num(v, "tau2"),
        se_tau2=_num(v, "se_tau2"),
        QE=_num(v, "QE"),
        QEp=_num(v, "QEp"),
        I2=_num(v, "I2"),
        H2=_num(v, "H2"),
        vt=_num(v, "vt"),
        QM=_num(v, "QM"),
        QMp=_num(v, "QMp"),
        QMdf=tuple(_arr(v, "QMdf")),
        k=int(_num(v, "k")),
        p=int(_num(v, "p")),
        ddf=_num(v, "ddf"),
        method=spec["method"],
        test=spec["test"],
        level=spec["level"],
        weights=_arr(v, "weights"),
        slab=slab,
        yi=_arr(v, "yi"),
        vi=_arr(v, "vi"),
        converged=True,
        iterations=-1,
    )


KIND = RmaKind()
