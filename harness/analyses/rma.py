"""Analysis kind ``rma``: escalc + rma.uni (+ predict, confint, leave1out,
regtest, trimfill), in Python and through metafor.

Both engines start from the same raw columns: Python computes the effect
sizes with :mod:`harness.core.effect_sizes` and fits with
:mod:`harness.core.rma`; R calls ``metafor::escalc`` and ``metafor::rma.uni``
(``r_scripts/metafor.R``). Per-study ``yi``, ``vi``, their CIs, ``weights``
and every model quantity are compared, and the quantities of each requested
post-fitting function (``extras``), per study where metafor gives per-study
output.

Moderators
    A moderator column whose cells are all numbers is a numeric moderator;
    one with any non-numeric cell (or listed in ``factors``) is categorical and
    is dummy-coded exactly as R's ``model.matrix`` does with treatment
    contrasts: with an intercept, one column ``<name><level>`` per level but
    the first; without an intercept the *first* categorical moderator gets a
    column for every level. The level order is chosen here -- ``levels``
    in the spec, else the sorted distinct values (Python's code-point order) --
    and passed to R as ``factor(levels=)``, so both engines code the same
    dummies whatever R's locale would sort.
"""
from __future__ import annotations

import math
import warnings as pywarnings

import numpy as np

from ..api import univariate as api
from ..api._inputs import labels as study_labels
from ..compare.tolerance import CLOSED, EPS, ITERATIVE, Tolerance, rounding_bound
from ..core import effect_sizes_binary as eb
from ..core.bias import regtest_arrays, trimfill_arrays
from ..core.confint import confint_tau2, confint_tau2_wald
from ..core.design import model_matrix
from ..core.wls import explicit_p_qe_scale
from ..compare.explained import reads
from ..core.influence import leave1out_arrays
from ..core.predict import predict_arrays
from ..core.rma import FE_METHODS, TESTS, level_to_alpha
from ..core.tau2 import ESTIMATORS
from ..errors import InputError
from ..api.results import EscalcResult, RmaResult
from .base import METAFOR_KEY, AnalysisKind, Key, Outcome, check_r_name, metafor_of, redundant_columns, require_columns, check_moderators, FAVOURS, arm_inputs, is_categorical, weighted_condition
from . import tables

TWO_GROUP = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
MEASURE_CHOICES = ("MD", "SMD", "SMDH", "ROM", "GEN", *eb.BINARY_MEASURES)
#: estimators whose tau^2 is found by iteration or root finding (quantities get ITERATIVE tolerances)
ITERATIVE_METHODS = ("ML", "REML", "EB", "PM", "MP", "PMM", "SJIT", "DLIT", "GENQM")
#: root-finding estimators: both engines get ``tol`` (default 1e-12) for uniroot / brentq
ROOT_METHODS = ("PM", "MP", "PMM")
#: quantities that never depend on tau^2
TAU2_FREE = ("yi", "vi", "yi_ci_lb", "yi_ci_ub", "QE", "QEp", "k", "p")
#: metafor's messages when an iterative or root-finding tau^2 estimator fails
NONCONVERGENCE_MESSAGES = ("did not converge", "Value of 'tau2.max' too low", "Error in iterative search for tau2")
EXTRAS = ("predict", "confint", "confint_wald", "leave1out", "regtest", "trimfill_L0", "trimfill_R0")
#: the SMD's alternative inputs (metafor ``ti``, ``di``, ``pi``; ``pi`` from metafor 4.8-0), each with n1i and n2i
SMD_ALT_INPUTS = ("ti", "di", "pi")
#: spec values of ``test``: the core's, and "hksj" (metafor >= 4.8-0's name of "knha")
TEST_CHOICES = (*TESTS, "hksj")


def _col(name):
    return Key(str, default=name, check=check_r_name, help=f"column holding {name}")


def _check_extras(value):
    bad = [v for v in value if v not in EXTRAS]
    return f"has unknown value(s) {', '.join(map(repr, bad))}; known: {', '.join(EXTRAS)}" if bad else None


def _check_levels(value):
    for name, levels in value.items():
        if not isinstance(levels, list) or not levels or not all(isinstance(x, str) for x in levels):
            return f"entry {name!r} must be a non-empty list of strings (the level order)"
    return None


#: metafor's `control$evtol` (eigenvalue tolerance; also the variance-ratio warning bound 1/evtol)
EVTOL = 1e-7


class RmaKind(AnalysisKind):
    name = "rma"
    nonconvergence_messages = NONCONVERGENCE_MESSAGES
    keys = {
        "measure": Key(str, required=True, choices=MEASURE_CHOICES, expand=True, help="effect size (metafor `measure`); GEN: yi and vi/sei given; OR, RR, RD, PETO: 2x2 tables"),
        **{role: _col(role) for role in TWO_GROUP},
        **{role: k for role, k in tables.table_keys().items() if role not in TWO_GROUP},
        **tables.zero_cell_keys(drop00_default=False),
        "ti": Key(str, check=check_r_name, help="column of t statistics (measure SMD with n1i, n2i; metafor `ti`)"),
        "di": Key(str, check=check_r_name, help="column of standardised differences d (measure SMD with n1i, n2i; metafor `di`)"),
        "pi": Key(str, check=check_r_name, help="column of signed two-sided t-test p-values (measure SMD with n1i, n2i; metafor >= 4.8-0 `pi`)"),
        "correct": Key(bool, help="metafor >= 4.8-0 escalc `correct`: false turns off the small-sample correction (SMD, SMDH) and, from 5.0-1, ROM's bias correction; default: the release's default"),
        "yi": Key(str, check=check_r_name, help="column of effect sizes (measure GEN)"),
        "vi": Key(str, check=check_r_name, help="column of sampling variances (measure GEN)"),
        "sei": Key(str, check=check_r_name, help="column of standard errors (measure GEN)"),
        "vtype": Key(str, default="LS", expand=True, help="metafor `vtype`"),
        "method": Key(str, default="REML", choices=tuple(ESTIMATORS), expand=True, help="tau^2 estimator"),
        "test": Key(str, default="z", choices=TEST_CHOICES, expand=True, help="z, t, knha, adhoc, or hksj (metafor >= 4.8-0; = knha)"),
        "level": Key(float, default=95.0),
        "mods": Key(list, default=[], check=check_r_name, help="moderator columns (numeric, or categorical: dummy-coded)"),
        "factors": Key(list, default=[], check=check_r_name, help="numeric moderator columns to treat as categorical"),
        "levels": Key(dict, default={}, check=_check_levels, help="level order of categorical moderators, e.g. { alloc = [\"random\", \"alternate\"] }"),
        "intercept": Key(bool, default=True),
        "weights": Key(str, check=check_r_name, help="column of user weights (metafor `weights`; required by method GENQ)"),
        "threshold": Key(float, default=1e-12, help="convergence threshold for both engines (metafor control$threshold)"),
        "maxiter": Key(int, default=1000, help="iteration limit for both engines (metafor control$maxiter)"),
        "tol": Key(float, help="root-finding tolerance for both engines (metafor control$tol); default 1e-12 for PM/PMM, metafor's own otherwise"),
        "extras": Key(list, default=[], check=_check_extras, help="post-fitting functions to compare: " + ", ".join(EXTRAS)),
        "newmods": Key(list, default=[], help="predict at these moderator rows, each a comma-separated string of model-column values (intercept excluded)"),
        "confint_tol": Key(float, default=1e-12, help="uniroot tolerance of confint's Q-profile search, for both engines"),
        "metafor": METAFOR_KEY,
        "favours": FAVOURS,
    }

    # ---- validation -----------------------------------------------------------
    def check(self, spec):
        measure = spec["measure"]
        if measure in eb.BINARY_MEASURES:
            tables.check_tables(spec)
            known = {v for r in ("3.8-1", "5.0-1") for v in (eb.rules_of(r).binary_vtype_options(measure) or ("LS",))}
            if spec["vtype"] not in known:
                raise InputError(f"analysis {spec.id}: vtype {spec['vtype']!r} is not one of metafor's for measure {measure} ({', '.join(sorted(known))})", spec.fixture)
        elif measure == "GEN":
            if spec.get("yi") is None or (spec.get("vi") is None) == (spec.get("sei") is None):
                raise InputError(f"analysis {spec.id}: measure GEN needs `yi` and exactly one of `vi`, `sei`", spec.fixture)
            require_columns(spec, ["yi", "vi" if spec.get("vi") else "sei"])
        elif any(spec.get(a) is not None for a in SMD_ALT_INPUTS):
            given = [a for a in SMD_ALT_INPUTS if spec.get(a) is not None]
            if measure != "SMD":
                raise InputError(f"analysis {spec.id}: `{given[0]}` is only available for measure SMD (in this harness, as in metafor's escalc for two-group data)", spec.fixture)
            if len(given) > 1:
                raise InputError(f"analysis {spec.id}: give one of `ti`, `di`, `pi`, not {', '.join(f'`{g}`' for g in given)}", spec.fixture)
            require_columns(spec, [given[0], "n1i", "n2i"])
        else:
            require_columns(spec, TWO_GROUP)
        check_moderators(spec)
        if spec["method"] == "GENQ" and not spec.get("weights"):
            raise InputError(f"analysis {spec.id}: method GENQ needs a `weights` column (metafor: \"Must specify 'weights' when method='GENQ'\")", spec.fixture)
        if spec.get("weights"):
            require_columns(spec, ["weights"])
        # read every cell now, so that bad data stops the run before anything is fitted
        self.inputs(spec)
        design = self.design(spec)
        for i, row in enumerate(spec["newmods"]):
            self._newmods_row(spec, row, i, design)

    def shown_options(self, o):
        """Options that apply: the input columns of the measure given, the iteration controls of
        iterative estimators, confint's tolerance when confint runs, ``intercept`` when false."""
        drop = set()
        if o.get("measure") == "GEN":
            drop |= set(TWO_GROUP) | {"ti", "vtype"}
        else:
            drop |= {"yi", "vi", "sei"}
            if o.get("ti") or o.get("di") or o.get("pi"):
                drop |= {"m1i", "sd1i", "m2i", "sd2i"}
        if o.get("method") not in ITERATIVE_METHODS:
            drop |= {"threshold", "maxiter"}
        if "confint" not in (o.get("extras") or []):
            drop.add("confint_tol")
        if o.get("intercept", True):
            drop.add("intercept")
        return {k: v for k, v in super().shown_options(o).items() if k not in drop}

    def inputs(self, spec):
        """Validated numeric inputs by role (errors name file, line and column)."""
        ds = spec.dataset
        if spec["measure"] in eb.BINARY_MEASURES:
            return tables.table_inputs(spec)
        if spec["measure"] == "GEN":
            out = {"yi": ds.numeric(spec["yi"])}
            if spec.get("vi"):
                out["vi"] = ds.numeric(spec["vi"], lower=0, lower_inclusive=False, what="a sampling variance")
            else:
                out["sei"] = ds.numeric(spec["sei"], lower=0, lower_inclusive=False, what="a standard error")
            return out
        alt = [a for a in SMD_ALT_INPUTS if spec.get(a)]
        return arm_inputs(spec, (alt[0], "n1i", "n2i") if alt else TWO_GROUP)

    def user_weights(self, spec):
        if not spec.get("weights"):
            return None
        return spec.dataset.numeric(spec["weights"], lower=0, what="a weight")

    def _is_categorical(self, spec, col):
        if col in spec["factors"]:
            return True
        return is_categorical(spec.dataset, col)

    def design(self, spec):
        """The moderator part of the model: ``{"X": (k, p), "names": [...],
        "mods": {col: values for R}, "factors": {col: levels}}`` (coded by
        :func:`harness.core.design.model_matrix`, as the Python API codes them)."""
        ds = spec.dataset
        columns, categorical = {}, set()
        for m in spec["mods"]:
            if self._is_categorical(spec, m):
                columns[m] = ds.text(m)
                categorical.add(m)
            else:
                columns[m] = ds.numeric(m)
        try:
            d = model_matrix(columns, ds.k, intercept=spec["intercept"], categorical=categorical, levels=spec["levels"])
        except ValueError as e:
            raise InputError(f"analysis {spec.id}: {e}", spec.fixture) from None
        X = d.X
        if X.shape[1] > ds.k:
            raise InputError(f"analysis {spec.id}: {X.shape[1]} model coefficients for {ds.k} studies", spec.fixture)
        return {"X": X, "names": list(d.names), "mods": columns, "factors": {m: list(v) for m, v in d.factors.items()}}

    def _newmods_row(self, spec, row, i, design):
        q = design["X"].shape[1] - (1 if spec["intercept"] else 0)
        try:
            vals = [float(x) for x in str(row).split(",")]
        except ValueError:
            raise InputError(f"analysis {spec.id}: `newmods` entry {i + 1} ({row!r}) is not a comma-separated list of numbers", spec.fixture) from None
        if len(vals) != q or not all(math.isfinite(v) for v in vals):
            raise InputError(f"analysis {spec.id}: `newmods` entry {i + 1} ({row!r}) needs {q} finite value(s), one per model column ({', '.join(design['names'][1:] if spec['intercept'] else design['names'])})", spec.fixture)
        return vals

    def control(self, spec):
        c = {"threshold": spec["threshold"], "maxiter": spec["maxiter"]}
        tol = self.tol(spec)
        if tol is not None:
            c["tol"] = tol
        return c

    def tol(self, spec):
        if spec.get("tol") is not None:
            return spec["tol"]
        return 1e-12 if spec["method"] in ROOT_METHODS else None

    def extras(self, spec, design):
        """The requested extras that apply to this model (metafor refuses the others)."""
        X = design["X"]
        int_only = X.shape[1] == 1 and spec["intercept"]
        out = []
        for e in spec["extras"]:
            if e in ("confint", "confint_wald") and spec["method"] in FE_METHODS:
                continue  # "Model does not contain a random-effects component."
            if e == "confint" and spec["method"] == "GENQ":
                continue  # metafor's CI for GENQ models is type "GENQ" (needs CompQuadForm, absent here)
            if e in ("leave1out", "trimfill_L0", "trimfill_R0") and not int_only:
                continue  # intercept-only models only
            out.append(e)
        return out

    # ---- engines ----------------------------------------------------------------
    def escalc(self, spec, x, slab=None):
        """Python's effect sizes for the analysis, under its metafor release (:func:`metafor_of`)."""
        release = metafor_of(spec).version.text
        if spec["measure"] == "GEN":
            return api.escalc("GEN", yi=x["yi"], vi=x.get("vi"), sei=x.get("sei"), slab=slab, metafor=release)
        return api.escalc(spec["measure"], vtype=spec["vtype"], correct=spec.get("correct"), slab=slab, metafor=release, **x)

    def effects(self, spec, slab=None):
        """``(es, kept, warnings)``: the per-study effects of every study, the
        studies fitted (metafor's rma.uni leaves out NA yi/vi, which only 2x2
        tables produce here: ``to="none"`` or ``drop00``) and escalc's and
        rma.uni's warnings about them (wording of the metafor release followed)."""
        x = self.inputs(spec)
        if spec["measure"] in eb.BINARY_MEASURES:
            rules = metafor_of(spec)
            b = eb.escalc_binary(spec["measure"], x["ai"], x["bi"], x["ci"], x["di"], add=spec["add"], to=spec["to"],
                                 drop00=spec["drop00"], vtype=spec["vtype"], metafor=rules)
            es = EscalcResult(spec["measure"], b.yi, b.vi, slab if slab is not None else study_labels(None, None, len(b.yi)), spec["vtype"])
            kept = ~(np.isnan(b.yi) | np.isnan(b.vi))
            warns = list(b.warnings)
            if not kept.all():
                warns.append(rules.na_omitted(int((~kept).sum()), "studies"))
            return es, kept, warns
        es = self.escalc(spec, x, slab)
        return es, np.ones(es.k, bool), []

    def run_python(self, spec) -> Outcome:
        slab = spec.dataset.labels(spec.slab)
        es_all, kept, pre_warnings = self.effects(spec, slab)
        if not kept.any():
            return Outcome(error="Processing terminated since k = 0.", warnings=pre_warnings)
        es = es_all if kept.all() else EscalcResult(es_all.measure, es_all.yi[kept], es_all.vi[kept], tuple(np.array(slab, dtype=object)[kept]), es_all.vtype)
        slab = es.slab
        conv = metafor_of(spec)
        method, test = conv.rma_method(spec["method"], spec["test"])
        d = self.design(spec)
        X = d["X"][kept]
        d = {**d, "X": X}
        redundant = redundant_columns(X, list(d["names"]))
        if redundant:
            # metafor drops redundant (collinear or constant) predictors with a warning
            # and fits the rest; the Python side does the same, with the same warning.
            keep = [j for j, n in enumerate(d["names"]) if n not in redundant]
            if spec["intercept"] and 0 not in keep:
                return Outcome(error="numerical breakdown: the intercept is redundant in the model matrix", info={"singular": True})
            X = X[:, keep]
            d = {**d, "X": X, "names": [d["names"][j] for j in keep]}
            pre_warnings.append("Redundant predictors dropped from the model.")
        k, p = X.shape
        int_only = p == 1 and spec["intercept"]
        if not (int_only and k == 1) and (p > k or (spec["method"] not in FE_METHODS and p + 1 > k)):
            # metafor 3.8-1 (rma.uni): p > k for FE models, p + 1 > k when tau^2 is
            # estimated; an intercept-only model of one study is allowed (tau^2 = 0)
            return Outcome(error="Number of parameters to be estimated is larger than the number of observations.", info={"too_many_parameters": True})
        mods = X[:, 1:] if spec["intercept"] else X
        names = d["names"][1:] if spec["intercept"] else d["names"]
        w = self.user_weights(spec)
        if w is not None:
            w = w[kept]
        ctrl = self.control(spec)
        with pywarnings.catch_warnings():
            # the kind states metafor's warnings itself (below), once, as R's side does
            pywarnings.simplefilter("ignore", api.RmaWarning)
            fit = api.rma(es.yi, es.vi, mods=mods if mods.shape[1] else None, coef_names=names or None, intercept=spec["intercept"], method=method, test=test, level=spec["level"], control=ctrl, slab=slab, weights=w, metafor=conv.version.text)
        if not fit.converged:
            if spec["method"] in ROOT_METHODS:
                why = f"did not converge: no root of the {spec['method']} estimating equation in [tau2_min, tau2_max] (metafor: \"Value of 'tau2.max' too low\")"
            else:
                why = f"did not converge: tau^2 iteration ({spec['method']}) stopped after {fit.iterations} iterations (maxiter = {spec['maxiter']})"
            return Outcome(error=why, info={"nonconvergence": True})
        values = {**es_all.quantities(), **fit.quantities(), **_transf_python(spec, fit)}
        warnings = pre_warnings
        vimaxmin = np.max(es.vi) / np.min(es.vi) if np.min(es.vi) > 0 else np.inf
        if np.isfinite(vimaxmin) and vimaxmin >= 1 / EVTOL:
            # metafor 3.8-1 warns before fitting (rma.uni, `vimaxmin >= 1/con$evtol`)
            warnings.append("Ratio of largest to smallest sampling variance extremely large. May not be able to obtain stable results.")
        if fit.ll0_reset:
            warnings.append("Fisher scoring algorithm may have gotten stuck at a local maximum.\nSetting tau^2 = 0. Check the profile likelihood plot with profile().")
        if method in FE_METHODS and test in ("knha", "adhoc"):
            warnings.append(conv.knha_fe_warning(method))
        for e in self.extras(spec, d):
            try:
                values.update(self._python_extra(e, spec, es, fit, X, w, ctrl, method, test))
            except (ArithmeticError, ValueError, np.linalg.LinAlgError) as err:
                warnings.append(f"{e} failed: {err}")
        return Outcome(values=values, warnings=warnings, info={"escalc": es, "fit": fit})

    def _python_extra(self, e, spec, es, fit, X, w, ctrl, method, test):
        alpha = level_to_alpha(spec["level"])
        if e == "predict":
            rows, labels = self._predict_rows(spec, fit, X)
            p = predict_arrays(fit.beta, fit.vb, fit.tau2, rows, test=fit.test, alpha=alpha, ddf=fit.k - fit.p)
            if method in FE_METHODS:  # metafor gives no prediction interval for FE models
                del p["pi_lb"], p["pi_ub"]
            return _prefixed("predict", p, labels)
        if e == "confint":
            c = confint_tau2(es.yi, es.vi, X, fit.tau2, fit.vt, alpha=alpha, tol=spec["confint_tol"])
            out = {}
            for q in ("tau2", "I2", "H2"):
                out[f"confint.{q}_lb"], out[f"confint.{q}_ub"] = float(c[q][0]), float(c[q][1])
            return out
        if e == "confint_wald":
            c = confint_tau2_wald(fit.tau2, fit.se_tau2, fit.vt, alpha=alpha)
            return {f"confint_wald.{q}_{b}": float(c[q][j]) for q in ("tau2", "I2", "H2") for j, b in enumerate(("lb", "ub"))}
        if e == "leave1out":
            l1 = leave1out_arrays(es.yi, es.vi, method=method, test=test, level=spec["level"], control=ctrl, weights=w)
            return _prefixed("leave1out", l1, es.slab)
        if e == "regtest":
            r = regtest_arrays(es.yi, es.vi, X, method=method, test=test, level=spec["level"], control=ctrl, weights=w)
            return {f"regtest.{n}": v for n, v in r.items() if not (n in ("est", "ci_lb", "ci_ub") and math.isnan(v)) and not (n == "ddf" and test == "z")}
        if e.startswith("trimfill_"):
            t = trimfill_arrays(es.yi, es.vi, method=method, estimator=e.split("_")[1], control=ctrl, weights=w,
                                final_default_control=metafor_of(spec).trimfill_final_default_control)
            return _trimfill_quantities(e, t, fit, method)
        raise ValueError(f"unknown extra {e!r}")

    def _predict_rows(self, spec, fit, X):
        if spec["newmods"]:
            d = {"X": X, "names": list(fit.coef_names)}
            rows = [self._newmods_row(spec, r, i, d) for i, r in enumerate(spec["newmods"])]
            rows = np.array([[1.0, *r] if spec["intercept"] else r for r in rows])
            return rows, [f"new{i + 1}" for i in range(len(rows))]
        if fit.intercept_only:
            return np.ones((1, 1)), None
        return X, list(fit.slab)

    def run_r(self, spec, engine) -> Outcome:
        x = self.inputs(spec)
        slab = spec.dataset.labels(spec.slab)
        d = self.design(spec)
        extras = self.extras(spec, d)
        newmods = None
        ncol = 1
        if spec["newmods"]:
            rows = [self._newmods_row(spec, r, i, d) for i, r in enumerate(spec["newmods"])]
            newmods, ncol = np.array(rows, float), len(rows[0])
        binary = spec["measure"] in eb.BINARY_MEASURES
        zero_cells = {"add": spec["add"], "to": spec["to"], "drop00": spec["drop00"]} if binary else {}
        call = engine.call(
            "mh_rma",
            **zero_cells,
            data=x,
            mods=d["mods"],
            factors=d["factors"],
            measure=spec["measure"],
            vtype=spec["vtype"],
            method=spec["method"],
            test=spec["test"],
            level=spec["level"],
            intercept=spec["intercept"],
            threshold=spec["threshold"],
            maxiter=spec["maxiter"],
            tol=self.tol(spec),
            weights=self.user_weights(spec),
            extras=list(extras),
            newmods=newmods,
            newmods_ncol=ncol,
            confint_tol=spec["confint_tol"],
            correct=spec.get("correct"),
        )
        if call.error is not None:
            return Outcome(error=call.error, warnings=call.warnings, info={"nonconvergence": self.r_nonconvergence(call.error)})
        v = call.value
        es = EscalcResult(spec["measure"], np.asarray(v["yi"], float), np.asarray(v["vi"], float), slab, spec["vtype"], ci_bounds=(np.asarray(v["ci_lb_i"], float), np.asarray(v["ci_ub_i"], float)))
        if binary:  # the studies rma.uni fitted (fit$not.na): per-study output is theirs
            slab = tuple(lab for lab, ok in zip(slab, v["not_na"]) if ok)
        fit = rma_result_from_r(v, spec, slab)
        values = {**es.quantities(), **fit.quantities()}
        if isinstance(v.get("transf"), dict):
            values.update(_prefixed("transf", {n: a for n, a in v["transf"].items() if a}, None))
        # each distinct R warning once (refits inside regtest/R2 repeat the model's own)
        warnings = list(dict.fromkeys(call.warnings))
        for e in extras:
            r = v.get(e)
            if isinstance(r, dict) and "error" in r:
                warnings.append(f"{e} failed: {r['error'][0] if isinstance(r['error'], list) else r['error']}")
                continue
            values.update(self._r_extra(e, spec, r, fit, slab))
        return Outcome(values=values, warnings=warnings, info={"escalc": es, "fit": fit})

    def _r_extra(self, e, spec, r, fit, slab):
        arr = lambda key: np.atleast_1d(np.asarray(r[key], float))
        if e == "predict":
            if spec["newmods"]:
                labels = [f"new{i + 1}" for i in range(len(spec["newmods"]))]
            else:
                labels = None if fit.intercept_only else list(slab)
            return _prefixed("predict", {n: arr(n) for n in ("pred", "se", "ci_lb", "ci_ub", "pi_lb", "pi_ub") if len(arr(n))}, labels)
        if e in ("confint", "confint_wald"):
            out = {}
            for q in ("tau2", "I2", "H2"):
                a = arr(q)
                out[f"{e}.{q}_lb"], out[f"{e}.{q}_ub"] = float(a[1]), float(a[2])
            return out
        if e == "leave1out":
            cols = ("estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "Q", "Qp", "tau2", "I2", "H2")
            return _prefixed("leave1out", {n: arr(n) for n in cols if n in r}, slab)
        if e == "regtest":
            out = {"regtest.zval": float(arr("zval")[0]), "regtest.pval": float(arr("pval")[0])}
            if spec["test"] != "z":
                out["regtest.ddf"] = float(arr("ddf")[0])
            for n in ("est", "ci_lb", "ci_ub"):
                if r.get(n) is not None and len(arr(n)):
                    out[f"regtest.{n}"] = float(arr(n)[0])
            return out
        if e.startswith("trimfill_"):
            k0 = int(arr("k0")[0])
            out = {f"{e}.k0": float(k0), f"{e}.se_k0": float(arr("se_k0")[0]), f"{e}.side_right": 1.0 if r["side"][0] == "right" else 0.0}
            if e.endswith("R0"):
                out[f"{e}.p_k0"] = float(arr("p_k0")[0])
            names = ["beta", "se", "zval", "pval", "ci_lb", "ci_ub", "tau2", "se_tau2", "QE", "QEp", "I2", "H2", "k"]
            if spec["method"] in FE_METHODS:
                names.remove("tau2")
                names.remove("se_tau2")
            for n in names:
                out[f"{e}.{n}"] = float(arr(n)[0])
            yf = arr("yi")
            for j in range(k0):
                out[f"{e}.yi[Filled {j + 1}]"] = float(yf[len(yf) - k0 + j])
            return out
        raise ValueError(e)

    # ---- explained differences ------------------------------------------------------
    #: explain differences only for designs at least this ill-conditioned
    ILL_CONDITIONED = 1e5

    def explain_context(self, spec, quantity=None):
        """Spec options plus what the registry's measured conditions use (``quantity``: the
        context for explaining that quantity, which leaves out ``tau2_re_over_threshold``, a
        refit, unless a registry entry covering the quantity reads it):

        ``vi_ratio``
            max(vi) / min(vi) of the effect sizes both engines fit; ``explicit_p_scale``
            k * vi_ratio^2, the error scale of metafor's explicit P (k terms summed,
            entries differences of weights vi_ratio apart); ``explicit_p_scale_qep`` that
            times the sensitivity of QEp to QE (QE f(QE)/QEp for the chi^2 tail).
        ``explicit_p_qe_scale``
            k kappa(W^(1/2) X)^2 (y_c'W y_c)/QE (``core.wls.explicit_p_qe_scale``): the
            cancellation of metafor's QE = y_c'P y_c, measured at Python's fit (its
            design after redundant columns are dropped, W = 1/vi, y_c = yi - mean(yi));
            ``explicit_p_qe_scale_qep`` that times QE f(QE)/QEp (first order, not capped
            below by 1 as for ``explicit_p_scale_qep``; infinite once eps times the QE scale
            reaches 1: a QE without a reliable digit gives a QEp without one).
        ``tau2_re_over_threshold``
            the intercept-only model's tau^2 (the denominator of R^2, refitted by
            Python with the same method and control) over the convergence threshold.
        ``tau2_over_threshold``
            the model's own tau^2 (Python) over the threshold.
        """
        ctx = {**super().explain_context(spec), **self._measures(spec)}
        if spec["method"] not in FE_METHODS and (quantity is None or reads(quantity, "tau2_re_over_threshold")):
            ctx["tau2_re_over_threshold"] = self._refit_tau2_over_threshold(spec)
        return ctx

    def _intercept_refit(self, spec):
        """Python's intercept-only refit of ``spec`` (same effect sizes, method, control and user
        weights), or None if it raises. It can take as long as the analysis: it is made once per
        spec, and only for what reads it (R^2's registry entries and explanation)."""
        def compute():
            es = self._escalc(spec)
            try:
                with pywarnings.catch_warnings():  # a measurement: the analysis reports its own warnings
                    pywarnings.simplefilter("ignore")
                    return api.rma(es.yi, es.vi, method=spec["method"], control=self.control(spec), weights=self.user_weights(spec), metafor=metafor_of(spec).version.text)
            except (ArithmeticError, ValueError, np.linalg.LinAlgError):
                return None

        return _cached(self, "_refit_cache", spec, compute)

    def _refit_tau2_over_threshold(self, spec):
        """The intercept-only model's tau^2 (:meth:`_intercept_refit`) over the threshold (NaN if
        the refit fails or does not converge); :meth:`explain_context` measures it only for the
        quantities whose registry entries read it."""
        re = self._intercept_refit(spec)
        return re.tau2 / spec["threshold"] if re is not None and re.converged else math.nan

    def _measures(self, spec):
        def compute():
            es = self._escalc(spec)
            ratio = float(np.max(es.vi) / np.min(es.vi)) if np.min(es.vi) > 0 else math.inf
            m = {"vi_ratio": ratio, "explicit_p_scale": len(es.vi) * ratio**2}
            m["explicit_p_scale_qep"] = m["explicit_p_scale"]
            fit = self._python_fit(spec)
            if spec["method"] not in FE_METHODS:
                m["tau2_over_threshold"] = fit.tau2 / spec["threshold"] if fit is not None else math.nan
            if fit is not None and fit.k > fit.p and fit.QE > 0:
                # QEp = P(chi2_df > QE): a relative error e in QE moves it by e * QE f(QE) / QEp
                from ..core.distributions import chi2

                df = fit.k - fit.p
                sens = float(fit.QE * chi2.pdf(fit.QE, df) / max(chi2.sf(fit.QE, df), 1e-300))
                m["explicit_p_scale_qep"] *= max(1.0, sens)
                if fit.X is not None:
                    s = m["explicit_p_qe_scale"] = explicit_p_qe_scale(fit.yi, fit.vi, fit.X, fit.QE)
                    # first order while QE keeps a digit (EPS * s < 1); without one, QEp has none either
                    m["explicit_p_qe_scale_qep"] = s * sens if EPS * s < 1 else math.inf
            return m

        return _cached(self, "_measure_cache", spec, compute)

    def _escalc(self, spec):
        """The effects of the studies both engines fit (2x2 tables with NA effects left out)."""
        es, kept, _ = self.effects(spec)
        if kept.all():
            return es
        return EscalcResult(es.measure, es.yi[kept], es.vi[kept], tuple(np.array(es.slab, dtype=object)[kept]), es.vtype)

    def explain_error(self, spec, py, r):
        """metafor's Fisher scoring stopped by ``maxiter`` where Python's converged, and at
        Python's estimate the step's own rounding error exceeds metafor's absolute threshold
        (registry entry ``fisher-scoring-threshold-below-rounding``)."""
        if spec["method"] not in ("ML", "REML", "EB") or r.error is None or not r.info.get("nonconvergence"):
            return None
        fit = py.info.get("fit")
        if fit is None or not getattr(fit, "converged", False):
            return None
        from ..compare.explained import find
        from ..core.tau2 import step_noise

        es = py.info["escalc"]
        X = None if fit.intercept_only else np.asarray(fit.X, float)
        # metafor's step is formed from the explicit P: its rounding error is Python's
        # (accurate sums) amplified by the spread of the weights, k * vi_ratio
        ratio = float(np.max(es.vi) / np.min(es.vi))
        noise = step_noise(es.yi, es.vi, X, fit.tau2, spec["method"]) * len(es.vi) * ratio
        ctx = {**super().explain_context(spec), "nonconverged": "R", "step_noise_over_threshold": noise / spec["threshold"]}
        e = find("converged", ctx)
        if e is None:
            return None
        return f"{e.id}: {e.cause} (step noise at tau^2 = {fit.tau2:.6g}: {noise:.2g} = {noise / spec['threshold']:.2g} x threshold) [{e.reference}]"

    def explain(self, spec, record):
        """Rounding in an ill-conditioned design (e.g. "year" next to the intercept).

        metafor builds :math:`P = W - WX(X'WX)^{-1}X'W` as a k x k matrix and
        evaluates :math:`y'Py` from it; the cancellation costs up to
        :math:`\\kappa^2\\varepsilon` relative, with :math:`\\kappa` the condition
        number of :math:`W^{1/2}X`. Python works from the QR decomposition of
        :math:`W^{1/2}X` (error ~ :math:`\\kappa\\varepsilon`). On hackshaw1998
        (design + year) exact rational arithmetic gives QE = 46.8382848541347,
        QEp = 0.07025052580899918: Python's value to the last digit, metafor's
        off by 2.6e-10 relative. A difference within :math:`\\kappa^2\\varepsilon`
        on such a design is reported as explained (registry entry
        ``rma-ill-conditioned-projection``, conditioned on the metafor releases
        it was checked with), never silently agreed.
        """
        from ..compare.explained import explain

        registered = explain(self.explain_context(spec, record.name), record)  # the explained-differences registry first
        if registered:
            return registered
        if record.name == "R2":
            why = self._explain_r2_undefined_in_r(spec, record)
            if why:
                return why
        if record.name.startswith(("beta[", "zval[")):
            why = self._explain_coefficient_rounding(spec, record)
            if why:
                return why
        if record.rel_diff is None or not spec["mods"]:
            return None
        kappa = self._condition(spec)
        bound = rounding_bound(kappa)
        if kappa >= self.ILL_CONDITIONED and record.rel_diff <= bound:
            why = explain({**self.explain_context(spec, record.name), "design": "ill-conditioned"}, record)
            return None if why is None else f"{why} (this design: kappa = {kappa:.2g}, kappa^2*eps = {bound:.1g})"
        return None

    def _explain_r2_undefined_in_r(self, spec, record):
        """R^2 NA in metafor, a number in Python: metafor's R^2 refits the intercept-only
        model inside ``try()`` and sets R^2 to NA when that refit fails; the entry
        ``r2-refit-threshold-below-rounding`` holds when the refit's Fisher-scoring step at
        Python's converged estimate has a rounding error above metafor's absolute threshold
        (the failure of ``fisher-scoring-threshold-below-rounding``, in the refit)."""
        if spec["method"] not in ("ML", "REML", "EB") or not spec["mods"]:
            return None
        if record.python is None or not math.isfinite(record.python) or record.r is None or not math.isnan(record.r):
            return None
        measured = self._refit_step_noise(spec)
        if measured is None:
            return None
        tau2_re, noise = measured
        from ..compare.explained import explain

        ctx = {**self.explain_context(spec, record.name), "case": "r2-undefined-in-r", "re_step_noise_over_threshold": noise / spec["threshold"]}
        why = explain(ctx, record)
        return None if why is None else (f"{why} (intercept-only refit: tau^2 = {tau2_re:.6g}, step noise {noise:.2g} = "
                                         f"{noise / spec['threshold']:.2g} x threshold)")

    def _explain_coefficient_rounding(self, spec, record):
        """A coefficient (or its z) within the forward-error bound of the weighted normal equations.

        metafor solves :math:`\\beta = (X'WX)^{-1}X'Wy` from an explicit inverse (``.invcalc``:
        ``tcrossprod(qr.solve(sqrt(W) %*% X, diag(k)))``, then ``stXWX %*% crossprod(X,W) %*% Y``:
        metafor 5.0-1 R/misc.func.hidden.rma.uni.r line 8, R/rma.uni.r line 2621; the same in 3.8-1).
        Rounding the k-term sums of :math:`X'WX` and :math:`X'Wy` perturbs them componentwise by at most
        :math:`\\gamma_k |X|'W|X|` and :math:`\\gamma_k |X|'W|y|` (:math:`\\gamma_k \\approx k\\varepsilon`),
        which moves :math:`\\beta` by at most
        :math:`b = k\\varepsilon\\,|(X'WX)^{-1}|\\,(|X|'W|X|\\,|\\beta| + |X|'W|y|)` (Higham 2002,
        *Accuracy and Stability of Numerical Algorithms*, 2nd ed., thm. 7.4 and sec. 20.4), ``b_j / se_j``
        for :math:`z_j`. A coefficient that is 0 in exact arithmetic (identical effects with an
        intercept) has no relative scale of its own: this absolute bound, measured on the data at
        Python's tau^2, is its scale (registry entry ``coefficient-rounding``). On the campaign's
        identical-effects designs metafor's errors are at most 0.07 b, Python's at most 4e-5 b."""
        if record.abs_diff is None or record.python is None or record.r is None:
            return None
        bounds = self._coefficient_bounds(spec)
        if bounds is None:
            return None
        label = record.name[record.name.index("[") + 1:-1]
        if label not in bounds:
            return None
        b, se = bounds[label]
        bound = b if record.name.startswith("beta[") else (b / se if se > 0 else math.inf)
        if not math.isfinite(bound) or record.abs_diff > bound:
            return None
        from ..compare.explained import explain

        why = explain({**super().explain_context(spec), "case": "coefficient-rounding"}, record)
        return None if why is None else f"{why} (this coefficient: rounding bound {bound:.2g}, difference {record.abs_diff:.2g})"

    def _coefficient_bounds(self, spec):
        """{label: (b_j, se_j)} of :meth:`_explain_coefficient_rounding` from Python's fit, or None."""
        def compute():
            if self.user_weights(spec) is not None:
                return None
            fit = self._python_fit(spec)
            if fit is None:
                return None
            y = np.asarray(fit.yi, float)
            X = np.ones((len(y), 1)) if fit.X is None else np.asarray(fit.X, float)
            w = 1.0 / (np.asarray(fit.vi, float) + float(fit.tau2))
            beta = np.abs(np.asarray(fit.beta, float))
            try:
                M = np.abs(np.linalg.inv(X.T @ (w[:, None] * X)))
            except np.linalg.LinAlgError:
                return None
            aX = np.abs(X)
            b = len(y) * EPS * M @ (aX.T @ (w[:, None] * aX) @ beta + aX.T @ (w * np.abs(y)))
            return dict(zip(fit.coef_names, zip(b.tolist(), np.asarray(fit.se, float).tolist())))

        return _cached(self, "_coef_cache", spec, compute)

    def _refit_step_noise(self, spec):
        """(tau^2, step noise) of Python's intercept-only refit (:meth:`_intercept_refit`), the step
        noise amplified by k * vi_ratio as for metafor's explicit P (see :meth:`explain_error`);
        None if it did not converge."""
        from ..core.tau2 import step_noise

        es = self._escalc(spec)
        if self.user_weights(spec) is not None or np.min(es.vi) <= 0:
            return None  # the noise measure is that of the inverse-variance weighted step
        re = self._intercept_refit(spec)
        if re is None or not re.converged:
            return None
        ratio = float(np.max(es.vi) / np.min(es.vi))
        return re.tau2, step_noise(es.yi, es.vi, None, re.tau2, spec["method"]) * len(es.vi) * ratio

    def remember_python(self, spec, python):
        """Python's fit of ``spec`` (``python.info["fit"]``), for :meth:`_python_fit` and
        :meth:`_fitted_design`: the tolerances and explanations read it instead of fitting again."""
        fit = python.info.get("fit")
        if fit is not None:
            _remember(self, "_fit_cache", spec, fit)

    def _python_fit(self, spec):
        """Python's fit of ``spec``: the one :meth:`remember_python` kept, else run_python's
        (``None`` when the Python side failed). The same numbers either way: a fit is a pure
        function of the spec."""
        return _cached(self, "_fit_cache", spec, lambda: self.run_python(spec).info.get("fit"))

    def _fitted_design(self, spec):
        """(vi, X) of the studies and columns both engines fit: 2x2 tables with NA effects left
        out, redundant columns dropped first (as in run_python).

        Taken from Python's fit when :meth:`remember_python` kept it: its ``vi`` and ``X`` are
        these arrays, passed through (run_python fits ``es.vi[kept]`` and the design without
        the redundant columns; api.rma rebuilds X from the same moderator values and a column
        of ones, and finds no redundant column left), so it saves the effect sizes and the
        model matrix built again."""
        fit = _peek(self, "_fit_cache", spec)
        if fit is not None and fit.X is not None:
            return np.asarray(fit.vi, float), np.asarray(fit.X, float)
        es, kept, _ = self.effects(spec)
        d = self.design(spec)
        X = d["X"][kept]
        redundant = redundant_columns(X, list(d["names"]))
        return es.vi[kept], X[:, [j for j, n in enumerate(d["names"]) if n not in redundant]]

    def _condition(self, spec):
        return _cached(self, "_cond_cache", spec, lambda: weighted_condition(*reversed(self._fitted_design(spec))))

    def condition_number(self, spec):
        return self._condition(spec)

    # ---- tolerances -------------------------------------------------------------
    def tolerance_class(self, spec, quantity):
        base = quantity.split("[", 1)[0]
        if base.startswith("confint."):
            return ITERATIVE  # bounds found by root finding (tol 1e-12 in both engines)
        if base.startswith("trimfill_") and base.endswith((".k0", ".side_right", ".p_k0", ".k")):
            return CLOSED
        if spec["method"] in ITERATIVE_METHODS and base not in TAU2_FREE:
            if base in ("I2", "H2"):
                return self._heterogeneity_tolerance(spec, base)
            return ITERATIVE
        return CLOSED

    def _heterogeneity_tolerance(self, spec, base):
        """ITERATIVE for I^2 and H^2, with the absolute part carried over from tau^2's.

        :math:`I^2 = 100\\tau^2/(\\tilde v + \\tau^2)` and :math:`H^2 = \\tau^2/\\tilde v + 1` (metafor's
        typical sampling variance :math:`\\tilde v = (k - p)/\\operatorname{tr}P` at the FE weights;
        metafor 5.0-1 R/rma.uni.r lines 2810-2820, ``vt <- (k-p) / .tr(P)``, ``I2 <- 100 * tau2 / (vt + tau2)``).
        Their slopes in :math:`\\tau^2` are at most :math:`100/\\tilde v` and :math:`1/\\tilde v` (at
        :math:`\\tau^2 = 0`), so the difference ITERATIVE.atol that tau^2 is allowed (two stops of Fisher
        scoring within the threshold of a boundary estimate) moves I^2 by up to 100 atol / vt: the
        consistent atol. The relative part needs no change (d log I^2 <= d log tau^2). Never below
        ITERATIVE.atol (the value's own rounding)."""
        def compute():
            from ..core.wls import qr_q, tr_PA

            vi, X = self._fitted_design(spec)
            k, p = X.shape
            if k <= p or np.min(vi) <= 0:
                return None
            # tr P = sum w (1 - h), h the leverages of W^1/2 X: the operations of
            # core.wls.projection's trP (w * 1 is w), without its other traces (tr P^2 costs O(k^2 p))
            w = 1 / vi
            trP = float(tr_PA(w, qr_q(X, w), np.ones(k)))
            return (k - p) / trP if trP > 0 else None

        vt = _cached(self, "_vt_cache", spec, compute)
        if vt is None or not math.isfinite(vt) or vt <= 0:
            return ITERATIVE
        slope = 100.0 / vt if base == "I2" else 1.0 / vt
        return Tolerance(ITERATIVE.rtol, max(ITERATIVE.atol, ITERATIVE.atol * slope))


def _cached(kind, name, spec, compute, size=16):
    """``compute()`` for this spec object, remembered for the last ``size`` specs.

    Keyed by the spec object (held, so its id cannot be reused while cached), not
    by its id string: a campaign's shrinking reuses one id for many datasets.
    """
    hit = kind.__dict__.get(name, {}).get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1]
    val = compute()
    _remember(kind, name, spec, val, size)
    return val


def _peek(kind, name, spec):
    """What :func:`_cached` holds for this spec object, or None (nothing is computed)."""
    hit = kind.__dict__.get(name, {}).get(id(spec))
    return hit[1] if hit is not None and hit[0] is spec else None


def _remember(kind, name, spec, val, size=16):
    """Hold ``val`` as :func:`_cached`'s value for this spec object."""
    cache = kind.__dict__.setdefault(name, {})
    if id(spec) not in cache and len(cache) >= size:
        cache.pop(next(iter(cache)))
    cache[id(spec)] = (spec, val)


def _prefixed(prefix, cols, labels):
    """``{prefix.col: value}`` (one value) or ``{prefix.col[label]: value}``."""
    out = {}
    for n, a in cols.items():
        a = np.atleast_1d(np.asarray(a, float))
        if labels is None:
            out[f"{prefix}.{n}"] = float(a[0])
        else:
            for lab, x in zip(labels, a):
                out[f"{prefix}.{n}[{lab}]"] = float(x)
    return out


def _transf_python(spec, fit):
    """exp of the pooled estimate, its CI and (random/mixed models) the prediction
    interval, for intercept-only models of ratio measures: metafor's
    ``predict(fit, transf=exp)``, the numbers a reader of an OR/RR meta-analysis sees."""
    if spec["measure"] not in eb.RATIO_MEASURES or spec["mods"] or not spec["intercept"]:
        return {}  # as mh_rma (metafor.R): intercept-only specs (a moderator dropped as redundant does not count)
    p = predict_arrays(fit.beta, fit.vb, fit.tau2, np.ones((1, 1)), test=fit.test, alpha=level_to_alpha(spec["level"]), ddf=fit.k - fit.p)
    if spec["method"] in FE_METHODS:
        del p["pi_lb"], p["pi_ub"]
    p.pop("se")
    return _prefixed("transf", {n: np.exp(np.asarray(a, float)) for n, a in p.items()}, None)


def _trimfill_quantities(e, t, fit, method):
    """Python trim-and-fill quantities named as :meth:`RmaKind._r_extra` names R's."""
    k0 = t["k0"]
    out = {f"{e}.k0": float(k0), f"{e}.se_k0": float(t["se_k0"]), f"{e}.side_right": 1.0 if t["side"] == "right" else 0.0}
    if e.endswith("R0"):
        out[f"{e}.p_k0"] = float(t["p_k0"])
    if t["fit"] is None:  # k0 = 0: metafor returns the original model
        vals = {"beta": fit.beta[0], "se": fit.se[0], "zval": fit.zval[0], "pval": fit.pval[0], "ci_lb": fit.ci_lb[0], "ci_ub": fit.ci_ub[0], "tau2": fit.tau2, "se_tau2": fit.se_tau2, "QE": fit.QE, "QEp": fit.QEp, "I2": fit.I2, "H2": fit.H2, "k": fit.k}
    else:
        r = t["fit"]
        vals = {n: np.ravel(r[n])[0] for n in ("beta", "se", "zval", "pval", "ci_lb", "ci_ub", "tau2", "se_tau2", "QE", "QEp", "I2", "H2", "k")}
    if method in FE_METHODS:
        vals.pop("tau2")
        vals.pop("se_tau2")
    out.update({f"{e}.{n}": float(v) for n, v in vals.items()})
    yf = t["yi_fill"]
    for j in range(k0):
        out[f"{e}.yi[Filled {j + 1}]"] = float(yf[len(yf) - k0 + j])
    return out


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
        R2=_num(v, "R2"),
    )


KIND = RmaKind()
