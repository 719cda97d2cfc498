"""What a campaign fits: named *fuzz models* over the analysis kinds registry.

A fuzz model is an analysis kind (``harness.analyses.KINDS``) with fixed spec
options and the dataset family it needs. Models are built from the registry
at run time: every tau^2 estimator the ``rma`` kind accepts becomes a model
(so estimators added later are fuzzed without touching this file), and kinds
with a generator recipe here (``rma``; ``robu``/``cr2`` when registered) get
theirs. Kinds without a recipe are listed by ``metaharness fuzz --list-models``
as not fuzzed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: estimators that are aliases of another (same numbers): not fuzzed twice
ALIASES = {"EE": "FE", "CE": "FE", "MP": "PM", "CO": "HE", "VC": "HE"}  # CO, VC: metafor >= 5.0-1 names of HE

#: the default campaign: a closed-form (DL) and an iterative (REML) estimator,
#: meta-regression with two moderators (collinear/constant ones included),
#: escalc from two-group summaries, and RVE (robumeta CORR). metafor costs
#: ~5-10 ms per fit even for small k (and ~1 s for REML at k = 400), so this is
#: what lets ``metaharness fuzz --n 10000`` finish on 2 cores in about 35
#: minutes; ``--models all`` runs every model.
DEFAULT = ("DL", "REML", "REML-mods", "SMD-DL", "robu-CORR")


@dataclass(frozen=True)
class FuzzModel:
    """One analysis to run on every dataset of ``family``."""

    name: str
    kind: Any  # kind name in KINDS, or an AnalysisKind object (tests plant kinds this way)
    family: str
    options: dict = field(default_factory=dict)
    #: per-quantity tolerance overrides, as in a spec's [analysis.tolerance]: name -> (rtol, atol)
    tolerances: dict = field(default_factory=dict)
    #: minimum number of studies the model needs to be worth running (smaller data are still shrunk to)
    min_k: int = 1

    def kind_obj(self):
        from ..analyses import KINDS

        return self.kind if not isinstance(self.kind, str) else KINDS[self.kind]

    @property
    def kind_name(self) -> str:
        return self.kind if isinstance(self.kind, str) else self.kind.name


GEN = {"measure": "GEN", "yi": "yi", "vi": "vi"}


def _rma_models(kind) -> dict[str, FuzzModel]:
    methods = [m for m in (kind.keys["method"].choices or ()) if m not in ALIASES]
    measures = kind.keys["measure"].choices or ()
    out = {}
    for m in methods:
        out[m] = FuzzModel(m, "rma", "uni", {**GEN, "method": m})
    tests = kind.keys["test"].choices or ()
    for m in ("DL", "REML"):
        for t in ("knha", "t"):
            if m in methods and t in tests:
                out[f"{m}-{t}"] = FuzzModel(f"{m}-{t}", "rma", "uni", {**GEN, "method": m, "test": t})
    for m in ("FE", "DL", "REML", "ML"):
        if m in methods:
            out[f"{m}-mods"] = FuzzModel(f"{m}-mods", "rma", "uni", {**GEN, "method": m, "mods": ["x1", "x2"]})
    for meas in ("SMD", "MD"):
        if meas in measures:
            for m in ("FE", "DL", "REML"):
                out[f"{meas}-{m}"] = FuzzModel(f"{meas}-{m}", "rma", "uni", {"measure": meas, "method": m})
    return out


def _robu_models(kind) -> dict[str, FuzzModel]:
    keys = kind.keys
    out = {}
    weights = (keys["modelweights"].choices if "modelweights" in keys else None) or ("CORR", "HIER")
    base = {}
    for role, col in (("yi", "yi"), ("vi", "vi"), ("studynum", "study")):
        if role in keys and keys[role].type is str:
            base[role] = col
    for w in weights:
        out[f"robu-{w}"] = FuzzModel(f"robu-{w}", kind.name, "clustered", {**base, "modelweights": w}, min_k=2)
        if "mods" in keys:
            out[f"robu-{w}-mods"] = FuzzModel(f"robu-{w}-mods", kind.name, "clustered", {**base, "modelweights": w, "mods": ["x1", "x2"]}, min_k=2)
    return out


def _cr2_models(kind) -> dict[str, FuzzModel]:
    keys = kind.keys
    base = {"yi": "yi", "vi": "vi", "cluster": "study"}
    out = {}
    for model in keys["model"].choices or ("rma.uni",):
        name = "cr2-" + model.replace("rma.", "")
        out[name] = FuzzModel(name, kind.name, "clustered", {**base, "model": model}, min_k=2)
        out[name + "-mods"] = FuzzModel(name + "-mods", kind.name, "clustered", {**base, "model": model, "mods": ["x1", "x2"]}, min_k=2)
    return out


#: the 2x2 columns of the ``binary`` family
TABLE = {"ai": "ai", "bi": "bi", "ci": "ci", "di": "di"}


def _rma_binary_models(kind) -> dict[str, FuzzModel]:
    """escalc's 2x2 measures pooled by rma.uni, with metafor's zero-cell rules (default, none, drop00)."""
    measures = [m for m in ("OR", "RR", "RD", "PETO") if m in (kind.keys["measure"].choices or ())]
    out = {}
    for meas in measures:
        for m in ("FE", "DL", "REML"):
            out[f"{meas}-{m}"] = FuzzModel(f"{meas}-{m}", "rma", "binary", {**TABLE, "measure": meas, "method": m})
    if "OR" in measures:
        out["OR-DL-none"] = FuzzModel("OR-DL-none", "rma", "binary", {**TABLE, "measure": "OR", "method": "DL", "to": "none"})
        out["OR-REML-drop00"] = FuzzModel("OR-REML-drop00", "rma", "binary", {**TABLE, "measure": "OR", "method": "REML", "drop00": True})
        out["OR-DL-mods"] = FuzzModel("OR-DL-mods", "rma", "binary", {**TABLE, "measure": "OR", "method": "DL", "mods": ["x1"]}, min_k=2)
    return out


def _rma_all_models(kind) -> dict[str, FuzzModel]:
    return {**_rma_models(kind), **_rma_binary_models(kind)}


def _mh_models(kind) -> dict[str, FuzzModel]:
    return {f"MH-{m}": FuzzModel(f"MH-{m}", kind.name, "binary", {**TABLE, "measure": m}) for m in (kind.keys["measure"].choices or ())}


def _peto_models(kind) -> dict[str, FuzzModel]:
    return {"peto": FuzzModel("peto", kind.name, "binary", dict(TABLE)), "peto-keep00": FuzzModel("peto-keep00", kind.name, "binary", {**TABLE, "drop00": False})}


def _revman_dich_models(kind) -> dict[str, FuzzModel]:
    """RevMan 5's dichotomous methods (Python RevMan engine against its R twin)."""
    combos = (("RR", "MH", "random"), ("OR", "MH", "fixed"), ("RD", "MH", "fixed"), ("OR", "IV", "random"), ("OR", "PETO", "fixed"))
    return {f"revman-{meth}-{meas}-{model}": FuzzModel(f"revman-{meth}-{meas}-{model}", kind.name, "binary",
                                                       {**TABLE, "measure": meas, "method": meth, "model": model}) for meas, meth, model in combos}


#: kind name -> function(kind) -> {model name: FuzzModel}
RECIPES = {"rma": _rma_all_models, "robu": _robu_models, "cr2": _cr2_models, "rma.mh": _mh_models, "rma.peto": _peto_models,
           "revman-dich": _revman_dich_models}


def available_models() -> dict[str, FuzzModel]:
    """Every fuzz model the registered kinds allow, by name."""
    from ..analyses import KINDS

    out: dict[str, FuzzModel] = {}
    for name, kind in KINDS.items():
        if name in RECIPES:
            out.update(RECIPES[name](kind))
    return out


def unfuzzed_kinds() -> list[str]:
    from ..analyses import KINDS

    return [k for k in KINDS if k not in RECIPES]


def resolve(names=None) -> list[FuzzModel]:
    """Models by name (``None``: the default set, those of it that exist; ``["all"]``: all)."""
    from ..errors import InputError

    avail = available_models()
    if not names:
        return [avail[n] for n in DEFAULT if n in avail]
    if list(names) == ["all"]:
        return list(avail.values())
    out = []
    for n in names:
        if n not in avail:
            from difflib import get_close_matches

            near = get_close_matches(n, list(avail), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise InputError(f"--models: unknown model {n!r}{hint}; `metaharness fuzz --list-models` lists them")
        out.append(avail[n])
    return out
