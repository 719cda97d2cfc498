"""Analysis kinds ``rma.mh`` and ``rma.peto``: Mantel-Haenszel and Peto pooling
of 2x2 tables in Python (:mod:`harness.core.mh`) and through metafor's
``rma.mh`` / ``rma.peto`` (``r_scripts/binary.R``).

Quantities (metafor's names): ``beta, se, zval, pval, ci_lb, ci_ub`` (log
scale for OR, RR and the Peto OR), ``pred, pred_ci_lb, pred_ci_ub`` (exp of
those for ratio measures; R: ``predict(fit, transf=exp)``), ``QE, QEp, I2,
H2``, ``k, k_yi``, for the MH odds ratio ``CO, COp, MH, MHp, BD, BDp, TA,
TAp, k_pos`` (``k_pos`` also for Peto), and per study ``yi, vi`` (escalc's,
NaN where metafor has NA) and ``weights`` (percent).
"""
from __future__ import annotations

import numpy as np

from ..api import binary as api
from ..core.mh import MH_MEASURES, MHError
from .base import AnalysisKind, Key, Outcome, metafor_of
from . import tables


class RmaMhKind(AnalysisKind):
    name = "rma.mh"
    keys = {
        "measure": Key(str, required=True, choices=MH_MEASURES, expand=True, help="OR, RR or RD (metafor `measure`)"),
        **tables.table_keys(),
        **tables.zero_cell_keys(drop00_default=True),
        "correct": Key(bool, default=True, help="continuity correction of the (Cochran-)Mantel-Haenszel test (metafor `correct`)"),
        "level": Key(float, default=95.0),
    }
    r_function = "mh_rma_mh"
    result_class = api.RmaMhResult

    def check(self, spec):
        tables.check_tables(spec)

    def measure(self, spec):
        return spec["measure"]

    def _args(self, spec):
        a = {"add": spec["add"], "to": spec["to"], "drop00": spec["drop00"], "level": spec["level"]}
        if self.name == "rma.mh":
            a.update(measure=spec["measure"], correct=spec["correct"])
        return a

    def run_python(self, spec) -> Outcome:
        x = tables.table_inputs(spec)
        slab = spec.dataset.labels(spec.slab)
        fn = api.rma_mh if self.name == "rma.mh" else api.rma_peto
        try:
            # metafor's default na.action (na.omit): tables with a missing cell are left out, with its warning
            fit = fn(**x, **self._args(spec), slab=slab, na_action="omit", metafor=metafor_of(spec).version.text)
        except MHError as e:
            return Outcome(error=str(e))
        return Outcome(values=fit.quantities(), warnings=list(fit.warnings), info={"fit": fit})

    def run_r(self, spec, engine) -> Outcome:
        x = tables.table_inputs(spec)
        slab = spec.dataset.labels(spec.slab)
        call = engine.call(self.r_function, data=x, **self._args(spec))
        if call.error is not None:
            return Outcome(error=call.error, warnings=call.warnings)
        v = call.value
        fit = api.result_from_r(self.result_class, v, self.measure(spec), slab, spec["level"])
        values = fit.quantities()
        # the back-transformed values as metafor's predict(fit, transf=exp) gives them
        for n in ("pred", "pred_ci_lb", "pred_ci_ub"):  # empty when the estimate is NA
            a = np.asarray(v[n] if v.get(n) is not None else [], float).ravel()
            values[n] = float(a[0]) if a.size else float("nan")
        return Outcome(values=values, warnings=list(call.warnings), info={"fit": fit})


class RmaPetoKind(RmaMhKind):
    name = "rma.peto"
    keys = {k: v for k, v in RmaMhKind.keys.items() if k not in ("measure", "correct")}
    r_function = "mh_rma_peto"
    result_class = api.RmaPetoResult

    def measure(self, spec):
        return "PETO"


MH_KIND = RmaMhKind()
PETO_KIND = RmaPetoKind()
