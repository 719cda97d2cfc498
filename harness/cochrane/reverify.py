"""Re-verify every continuous analysis of a Cochrane review against RevMan's own numbers.

For each continuous analysis (MD or SMD) of a ``.rm5`` file or a RevMan 5
CSV export, the study inputs are recomputed twice, independently:

* **Python** — the RevMan 5 engine :mod:`harness.core.revman` (study effects,
  IV fixed effect or DerSimonian–Laird pooling, heterogeneity, overall test,
  subgroup test), or :func:`harness.core.rma.rma_arrays` under another preset;
* **R** — metafor through the R engine (``mh_cochrane_reverify`` in
  ``r_scripts/cochrane.R``).

**What is compared: what RevMan displays.** The analysis's ``TOTALS``
setting (RevMan 5 User Guide, analysis properties: "Totals and subtotals",
"Subtotals only", "No totals") decides which results RevMan shows; RevMan
still writes numbers for the hidden ones (hidden totals, zeros,
``WEIGHT="0.0"``, ``TAU2="NaN"``), which are not results and are listed as
"not displayed (TOTALS=…)", never compared (:func:`displayed`):

=========  ======  =========  =====================  ===================  ==============
TOTALS     totals  subtotals  test for subgroups      study weights        subgroup weight
=========  ======  =========  =====================  ===================  ==============
``YES``    shown   shown      shown                  % of the analysis    sum of its studies'
``SUB``    —       shown      if ``SUBGROUP_TEST``   % of the subgroup    100
``NO``     —       —          —                      —                    —
=========  ======  =========  =====================  ===================  ==============

Shown are, per study ``EFFECT_SIZE``, ``SE``, ``CI_START``, ``CI_END``,
``WEIGHT``; per subgroup and overall ``EFFECT_SIZE``, ``SE`` (when stored),
``CI_START``, ``CI_END``, ``WEIGHT``, ``Z``, ``P_Z``, ``CHI2``, ``DF``,
``P_CHI2``, ``I2``, ``TAU2``; for the subgroup test ``Q``, ``P_Q``,
``I2_Q``. With one non-empty subgroup RevMan writes the test as Q = 0,
P = 1, I² = 0; the engines give Q = 0 on df = 0 and I² = 0, and the P = 1
is RevMan's convention for a test with df = 0 (registry ``revman-df0-p``).

**One comparison layer.** Each shown quantity is a
:class:`~harness.compare.compare.QuantityRecord`: RevMan's value against the
Python and the R recomputation, two :class:`~harness.compare.compare.Record` objects
made by :func:`~harness.compare.compare.compare_to_reference` — the same
records, verdicts and registry of explained differences
(:mod:`harness.compare.explained`, context from :mod:`.quirks`) as
engine-vs-engine comparisons. Tolerances follow how RevMan stored the value
(:mod:`harness.compare.tolerance`): a ``.rm5`` holds full doubles
(``STORED_DOUBLE``; p-values without an absolute floor, ``STORED_DOUBLE_P``);
a CSV export holds the printed digits of its number format, established over
the whole export (:func:`.export_csv.export_precision`), half a unit of the
last digit.

Dichotomous, generic inverse-variance and O − E analyses are re-verified the
same way, their data and engines in :mod:`.dichotomous` (what it compares
beyond the quantities above: its module doc). "Other data" analyses (RevMan
computes nothing for them) are listed as not re-verified, with their count;
so are analyses RevMan did not compute (empty values). Truncated and
malformed analyses are errors.

Under another preset (:mod:`.presets`) the pooled results are recomputed with
those conventions by both engines; the engines are compared with each other
(RevMan's stored value shown beside them, with the change).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from ..core import distributions as stats  # scipy.stats' functions, without importing scipy.stats

from ..compare.compare import OK_VERDICTS, QuantityRecord, Record, compare_to_reference, compare_values, worst_verdict
from ..compare.tolerance import CLOSED, ITERATIVE, STORED_DOUBLE, STORED_DOUBLE_P, Tolerance, printed
from ..core import effect_sizes as es
from ..core import revman as rv
from ..core.rma import rma_arrays
from ..errors import EngineUnavailable, HarnessError
from . import dichotomous as dich
from . import quirks
from .lint import LintFinding, lint_analysis
from .presets import Preset, get_preset
from .rm5 import Analysis, Review, ci_level, empty_inputs, read_review, unique_names

#: .rm5 stores full doubles (kept under this name for callers of the first version)
RM5_TOL = STORED_DOUBLE
STUDY_Q = ("EFFECT_SIZE", "SE", "CI_START", "CI_END", "WEIGHT")
POOLED_Q = ("EFFECT_SIZE", "SE", "CI_START", "CI_END", "WEIGHT", "Z", "P_Z", "CHI2", "DF", "P_CHI2", "I2", "TAU2")
TEST_Q = ("Q", "P_Q", "I2_Q")
P_VALUES = ("P_Z", "P_CHI2", "P_Q")
#: attributes RevMan 5 always writes (a pooled SE is written by some versions only)
STUDY_EXPECTED = STUDY_Q
POOLED_EXPECTED = ("EFFECT_SIZE", "CI_START", "CI_END", "WEIGHT", "Z", "P_Z", "CHI2", "DF", "P_CHI2", "I2", "TAU2")
PRESET_Q = ("EFFECT_SIZE", "SE", "CI_START", "CI_END", "Z", "P_Z", "I2", "TAU2", "PI_START", "PI_END")
#: RevMan 5's TOTALS setting, as its User Guide names the options
TOTALS = {"YES": "totals and subtotals", "SUB": "subtotals only", "NO": "no totals"}
#: analysis statuses: re-verified; not re-verified (another data type, not computed); error (unreadable)
STATUSES = ("re-verified", "not re-verified", "error")


@dataclass(frozen=True)
class Display:
    """What RevMan displays for one analysis (from ``TOTALS``, ``SUBGROUPS``, ``SUBGROUP_TEST``)."""

    totals: str  # YES, SUB, NO
    overall: bool
    subtotals: bool
    test: bool
    study_weights: bool
    weights_within: bool  # study weights are percent of their subgroup (TOTALS=SUB)

    @property
    def label(self) -> str:
        return f"TOTALS={self.totals}"


def displayed(an: Analysis) -> Display:
    """What RevMan shows of ``an`` (see the module doc's table)."""
    totals = an.settings.get("TOTALS", "YES").strip().upper() or "YES"
    if totals not in TOTALS:
        an.problems.append(f"{an.id}: TOTALS={totals!r} is not one of RevMan's settings (YES, SUB, NO); read as YES")
        totals = "YES"
    sub = an.has_subgroups
    test_on = an.settings.get("SUBGROUP_TEST", "YES").strip().upper() != "NO"
    return Display(
        totals=totals,
        overall=totals == "YES",
        subtotals=sub and totals in ("YES", "SUB"),
        test=sub and (totals == "YES" or (totals == "SUB" and test_on)),
        study_weights=totals in ("YES", "SUB"),
        weights_within=totals == "SUB",
    )


@dataclass
class AnalysisAudit:
    id: str
    name: str
    comparison: str
    data_type: str
    measure: str
    model: str
    status: str  # one of STATUSES
    reason: str | None = None
    records: list[QuantityRecord] = field(default_factory=list)
    #: stored quantities RevMan does not display (TOTALS), listed, not compared
    not_displayed: list[str] = field(default_factory=list)
    not_displayed_reason: str | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lint: list[LintFinding] = field(default_factory=list)
    line: int | None = None
    k: int = 0  # estimable studies recomputed
    totals: str = "YES"
    #: the plain-data description of the analysis's forest plot (harness.cochrane.forestdata)
    forest: dict | None = None

    @property
    def verdict(self) -> str:
        if self.status != "re-verified":
            return self.status
        return worst_verdict([r.verdict for r in self.records], empty="missing")

    @property
    def ok(self) -> bool:
        return self.verdict in OK_VERDICTS

    @property
    def checks(self) -> list[QuantityRecord]:
        """The compared quantities (the name of the first version)."""
        return self.records

    def worst(self, n=3) -> list[QuantityRecord]:
        bad = [c for c in self.records if c.verdict in ("differ", "missing", "engine-error")]
        bad.sort(key=lambda c: -(c.rel_diff if c.rel_diff is not None and not math.isnan(c.rel_diff) else math.inf))
        return bad[:n]

    def to_dict(self):
        return {
            "id": self.id,
            "name": self.name,
            "comparison": self.comparison,
            "data_type": self.data_type,
            "measure": self.measure,
            "model": self.model,
            "status": self.status,
            "verdict": self.verdict,
            "reason": self.reason,
            "line": self.line,
            "k": self.k,
            "totals": self.totals,
            "problems": self.problems,
            "notes": self.notes,
            "lint": [f.to_dict() for f in self.lint],
            "not_displayed": {"reason": self.not_displayed_reason, "quantities": self.not_displayed} if self.not_displayed else None,
            "quantities": [c.to_dict() for c in self.records],
            "forest": self.forest,
        }


@dataclass
class ReviewAudit:
    path: str
    title: str
    fmt: str
    preset: str
    analyses: list[AnalysisAudit] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: file-level errors no analysis carries (a file cut between analyses ...): each is an error
    errors: list[str] = field(default_factory=list)
    engines: dict = field(default_factory=dict)
    r_unavailable: str | None = None
    #: CSV exports: how each computed column is printed (export_csv.ColumnPrecision)
    precision: dict = field(default_factory=dict)

    def reasons(self) -> dict:
        """Why analyses were not re-verified (and why some could not be read), with counts."""
        out: dict[str, dict[str, int]] = {"not_re_verified": {}, "errors": {}}
        for a in self.analyses:
            if a.status != "re-verified":
                d = out["errors" if a.status == "error" else "not_re_verified"]
                d[a.reason or a.status] = d.get(a.reason or a.status, 0) + 1
        for e in self.errors:
            out["errors"]["file-level: " + e.split(": ", 1)[-1]] = out["errors"].get("file-level: " + e.split(": ", 1)[-1], 0) + 1
        return out

    def counts(self) -> dict:
        """Analyses by the audit command's verdicts; file-level errors count as errors."""
        c = {"consistent": 0, "inconsistent": 0, "cannot check": 0, "error": len(self.errors)}
        for a in self.analyses:
            if a.status == "not re-verified":
                c["cannot check"] += 1
            elif a.status == "error":
                c["error"] += 1
            elif a.ok:
                c["consistent"] += 1
            else:
                c["inconsistent"] += 1
        return c

    def summary(self) -> dict:
        """Counts only (numbers), as the report writers expect; the same counts as :meth:`counts`."""
        re = [a for a in self.analyses if a.status == "re-verified"]
        c = self.counts()
        return {
            "analyses": len(self.analyses),
            "re_verified": len(re),
            "agreeing": sum(a.verdict == "agree" for a in re),
            "explained": sum(a.verdict == "explained" for a in re),
            "differing": sum(not a.ok for a in re),
            "inconsistent": c["inconsistent"],
            "not_re_verified": c["cannot check"],
            "errors": c["error"],
            "quantities": sum(len(a.records) for a in re),
            "not_displayed": sum(len(a.not_displayed) for a in re),
            "lint_findings": sum(len(a.lint) for a in self.analyses),
        }

    def render(self, detail: bool = False) -> str:
        from .report import render

        return render(self, detail)

    @property
    def ok(self) -> bool:
        """Every re-verified analysis agrees (or is explained) and nothing failed to read."""
        c = self.counts()
        return c["inconsistent"] == 0 and c["error"] == 0

    def to_dict(self):
        return {
            "kind": "cochrane-review",
            "path": self.path,
            "title": self.title,
            "format": self.fmt,
            "preset": self.preset,
            "problems": self.problems,
            "errors": self.errors,
            "r_unavailable": self.r_unavailable,
            "precision": {k: v.to_dict() for k, v in self.precision.items()} or None,
            "summary": self.summary(),
            "reasons": self.reasons(),
            "analyses": [a.to_dict() for a in self.analyses],
        }


# --------------------------------------------------------------------------- inputs


@dataclass
class _Data:
    m1: np.ndarray
    sd1: np.ndarray
    n1: np.ndarray
    m2: np.ndarray
    sd2: np.ndarray
    n2: np.ndarray
    group: list  # subgroup label per study ("" without subgroups)
    rows: list  # the Row objects, in order
    labels: list  # unique display names


def _collect(an: Analysis, audit: AnalysisAudit) -> _Data | None:
    rows, groups = an.grouped_rows()
    keys = ("MEAN_1", "SD_1", "TOTAL_1", "MEAN_2", "SD_2", "TOTAL_2")
    if empty_inputs(rows, keys, audit.problems):
        return None
    use, excluded = [], []
    for i, r in enumerate(rows):
        x = r.inputs
        if x["SD_1"] > 0 and x["SD_2"] > 0 and x["TOTAL_1"] > 0 and x["TOTAL_2"] > 0 and (an.settings.get("EFFECT_MEASURE") != "SMD" or x["TOTAL_1"] + x["TOTAL_2"] > 3.94):
            use.append(i)
        else:
            excluded.append(r)
    for r in excluded:
        audit.notes.append(f"{r.where()}: not estimable (an SD or N is not positive) — left out of the pooling, as RevMan does")
    rows = [rows[i] for i in use]
    groups = [groups[i] for i in use]
    names = unique_names(rows)
    a = {k: np.array([r.inputs[k] for r in rows], float) for k in keys}
    return _Data(a["MEAN_1"], a["SD_1"], a["TOTAL_1"], a["MEAN_2"], a["SD_2"], a["TOTAL_2"], groups, rows, names)


# --------------------------------------------------------------------------- Python engine


def _pool_python(yi, sei, model, preset: Preset, level, i2_from_q):
    """One pooled result as a dict of RevMan quantities (Python engines)."""
    z = stats.norm.isf((1 - level / 100) / 2)
    if preset.name == "revman5":
        p = rv.pool(yi, sei, model)
        return {
            "EFFECT_SIZE": p.estimate, "SE": p.se, "CI_START": p.estimate - z * p.se, "CI_END": p.estimate + z * p.se,
            "Z": p.z, "P_Z": p.p, "CHI2": p.chi2, "DF": float(p.df), "P_CHI2": p.p_chi2, "I2": p.i2, "TAU2": p.tau2,
        }, p.weights
    method = {"fixed": "FE", "random": preset.random_method}[model] if preset.follows_revman_model else preset.fixed_method
    test = preset.test if method != "FE" else "z"
    f = rma_arrays(yi, sei**2, method=method, test=test, level=level)
    q, df, p_q, i2q = rv.heterogeneity(yi, sei)
    est, se, t2 = float(f["beta"][0]), float(f["se"][0]), float(f["tau2"])
    out = {
        "EFFECT_SIZE": est, "SE": se, "CI_START": float(f["ci_lb"][0]), "CI_END": float(f["ci_ub"][0]),
        "Z": float(f["zval"][0]), "P_Z": float(f["pval"][0]), "CHI2": q, "DF": float(df), "P_CHI2": p_q,
        "I2": i2q if (i2_from_q or method == "FE") else float(f["I2"]), "TAU2": t2,
    }
    if preset.prediction and method != "FE":
        k = len(yi)
        crit = stats.t.isf((1 - level / 100) / 2, k - 1) if (test == "knha" and k > 1) else z
        half = crit * math.sqrt(se**2 + t2)
        out["PI_START"], out["PI_END"] = est - half, est + half
    return out, np.asarray(f["weights"], float)


def _smd_python(d: _Data, preset: Preset):
    if preset.smd == "revman":
        return es.smd_revman(d.m1, d.sd1, d.n1, d.m2, d.sd2, d.n2)
    return es.smd(d.m1, d.sd1, d.n1, d.m2, d.sd2, d.n2)


def compute_python(d: _Data, measure, model, preset: Preset, level_study, level_total, subgroups, weights_within, test_model):
    """All quantities for one analysis from the Python engine, as {name: value}."""
    if measure == "MD":
        yi, vi = es.md(d.m1, d.sd1, d.n1, d.m2, d.sd2, d.n2)
    else:
        yi, vi = _smd_python(d, preset)
    yi, sei = np.atleast_1d(yi), np.sqrt(np.atleast_1d(vi))
    z = stats.norm.isf((1 - level_study / 100) / 2)
    out: dict[str, float] = {}
    overall, w = _pool_python(yi, sei, model, preset, level_total, preset.i2_from == "Q")
    weights = np.asarray(w, float)
    g = np.array(d.group, dtype=object)
    pools = {}
    if subgroups:
        for lab in dict.fromkeys(d.group):
            m = g == lab
            pools[lab], wj = _pool_python(yi[m], sei[m], model, preset, level_total, preset.i2_from == "Q")
            if weights_within:
                weights[m] = wj
        for lab in pools:  # a subgroup's weight: the sum of its studies' displayed weights
            pools[lab]["WEIGHT"] = float(np.sum(weights[g == lab]))
    for i, name in enumerate(d.labels):
        out.update({f"study[{name}].EFFECT_SIZE": yi[i], f"study[{name}].SE": sei[i], f"study[{name}].CI_START": yi[i] - z * sei[i],
                    f"study[{name}].CI_END": yi[i] + z * sei[i], f"study[{name}].WEIGHT": weights[i]})
    overall["WEIGHT"] = 100.0
    out.update({f"overall.{k}": v for k, v in overall.items()})
    for lab, p in pools.items():
        out.update({f"subgroup[{lab}].{k}": v for k, v in p.items()})
    if subgroups and len(pools) == 1:
        # one non-empty subgroup: a single estimate cannot differ from itself (Q = 0 on
        # df = 0, P undefined); I² = 0 as RevMan writes it when Q = 0
        out.update({"subgroups.Q": 0.0, "subgroups.P_Q": math.nan, "subgroups.I2_Q": 0.0})
    if subgroups and len(pools) >= 2:
        if preset.name == "revman5":
            t = rv.subgroup_test(yi, sei, g, test_model)
            out.update({"subgroups.Q": t.chi2, "subgroups.P_Q": t.p, "subgroups.I2_Q": t.i2})
        else:
            b = np.array([p["EFFECT_SIZE"] for p in pools.values()])
            s = np.array([p["SE"] for p in pools.values()])
            q, df, p_q, _ = rv.heterogeneity(b, s)
            out.update({"subgroups.Q": q, "subgroups.P_Q": p_q, "subgroups.I2_Q": max(0.0, (q - df) / q) * 100 if q > 0 else 0.0})
    return {k: float(v) for k, v in out.items()}


# --------------------------------------------------------------------------- R engine


def compute_r(engine, d: _Data, measure, model, preset: Preset, level_study, level_total, subgroups, weights_within, test_model):
    """The same quantities from metafor; raises HarnessError with R's message on failure."""
    if preset.follows_revman_model:
        method = "FE" if model == "fixed" else (preset.random_method)
    else:
        method = preset.fixed_method
    call = engine.call(
        "mh_cochrane_reverify",
        m1i=d.m1, sd1i=d.sd1, n1i=d.n1, m2i=d.m2, sd2i=d.sd2, n2i=d.n2, group=list(d.group),
        measure=measure, smd=preset.smd, method=method, test=preset.test if method != "FE" else "z",
        level_study=float(level_study), level_total=float(level_total), i2_from="Q" if (preset.i2_from == "Q" or method == "FE") else "tau2",
        prediction=bool(preset.prediction), subgroups=bool(subgroups), weights_within=bool(weights_within),
        subgroup_test=test_model if preset.name == "revman5" else "random",
    )
    if call.error:
        raise HarnessError(f"metafor: {call.error}")
    v = call.value
    out: dict[str, float] = {}

    def first(x):
        if isinstance(x, list):
            return float(x[0]) if x and x[0] is not None else math.nan
        return math.nan if x is None else float(x)

    for i, name in enumerate(d.labels):
        out.update({f"study[{name}].EFFECT_SIZE": v["yi"][i], f"study[{name}].SE": v["sei"][i], f"study[{name}].CI_START": v["ci_lb"][i],
                    f"study[{name}].CI_END": v["ci_ub"][i], f"study[{name}].WEIGHT": v["weight"][i]})

    def pooled(prefix, p):
        for k, x in p.items():
            if k != "weights":
                out[f"{prefix}.{k}"] = first(x)

    pooled("overall", v["overall"])
    out["overall.WEIGHT"] = 100.0
    for lab, p in (v.get("subgroups") or {}).items():
        pooled(f"subgroup[{lab}]", p)
    if v.get("test"):
        out.update({f"subgroups.{k}": first(x) for k, x in v["test"].items() if k != "DF"})
    return {k: float(x) for k, x in out.items()}, call.warnings


# --------------------------------------------------------------------------- stored values


#: what a continuous analysis compares (dichotomous.quantities gives the other data types')
CONT_QUANTITIES = dich.Quantities(STUDY_Q, POOLED_Q, STUDY_EXPECTED, POOLED_EXPECTED)


def _quantities(an: Analysis) -> dich.Quantities:
    return CONT_QUANTITIES if an.data_type == "CONT" else dich.quantities(an)


def _stored(an: Analysis, d, show: Display):
    """RevMan's displayed values as {name: value or None}, and the names of stored values it does not display."""
    out, hidden = {}, []
    qs = _quantities(an)

    def put(name, value, shown):
        (out.__setitem__(name, value) if shown else hidden.append(name))

    for r, name in zip(d.rows, d.labels):
        for q in qs.study:
            if q in r.stored:
                put(f"study[{name}].{q}", r.stored[q], q != "WEIGHT" or show.study_weights)
    for q in qs.pooled:
        if q in an.stored:
            put(f"overall.{q}", an.stored[q], show.overall)
    if an.has_subgroups:
        used = set(d.group)
        for sg in an.subgroups:
            lab = f"{sg.no}: {sg.name}"
            if lab not in used:
                continue  # no estimable study: RevMan shows no result for it
            for q in qs.pooled:
                if q in sg.stored:
                    put(f"subgroup[{lab}].{q}", sg.stored[q], show.subtotals)
        for q in TEST_Q:
            if q in an.stored:
                put(f"subgroups.{q}", an.stored[q], show.test)
    if an.data_type in dich.TYPES:
        dich.stored_extra(an, d, show, out, hidden)
    return out, hidden


def _tolerance(an: Analysis, name: str, stored, precision: dict) -> Tolerance:
    """How precisely RevMan stored this value: full doubles (.rm5) or the export's format (CSV)."""
    q = name.rsplit(".", 1)[1]
    if an.fmt != "csv":
        return STORED_DOUBLE_P if q in P_VALUES else STORED_DOUBLE
    if q == "DF":
        return printed(decimals=0)
    col = precision.get(q)
    if col is None or stored is None or not math.isfinite(stored):
        return printed(decimals=8)
    return col.tolerance(stored)


def _compare_stored(an, stored, py, r, r_err, df_of, precision, show: Display):
    """One QuantityRecord per displayed stored value: RevMan against Python and against R."""
    out = []
    qs = _quantities(an)
    for name, sv in stored.items():
        q = name.rsplit(".", 1)[1]
        if sv is None and q == "SE" and not name.startswith("study["):
            continue  # a pooled SE is optional (CSV exports leave it empty)
        tol = _tolerance(an, name, sv, precision)
        values = {"python": py.get(name), "r": None if r is None else r.get(name)}
        df = df_of(name)
        out.append(compare_to_reference(
            name, "revman", sv, values, tol,
            explain=lambda rec, df=df: quirks.explain(rec, df, an.fmt),
            errors={"r": r_err} if r is None else None,
            reference_missing="RevMan's value is empty (not computed by RevMan)",
        ))
    for name in py:
        if name in stored:
            continue
        prefix, q = name.rsplit(".", 1)
        block = "study" if prefix.startswith("study[") else "test" if prefix == "subgroups" else "overall" if prefix == "overall" else "subtotal"
        shown = {"study": q != "WEIGHT" or show.study_weights, "test": show.test, "overall": show.overall, "subtotal": show.subtotals}[block]
        expected = qs.study_expected if block == "study" else TEST_Q if block == "test" else qs.pooled_expected
        if shown and q in expected:
            # an attribute RevMan always writes is absent from the file (malformed, or written by another tool)
            out.append(compare_to_reference(name, "revman", None, {"python": py.get(name), "r": (r or {}).get(name)}, _tolerance(an, name, None, precision),
                                            errors={"r": r_err} if r is None else None, reference_missing="attribute absent from the RevMan file"))
    return out


# --------------------------------------------------------------------------- one analysis


def _settings(an: Analysis):
    measure = an.settings.get("EFFECT_MEASURE", "")
    model = "random" if an.settings.get("RANDOM", "NO").upper() == "YES" else "fixed"
    return measure, model


def _not_computed(an: Analysis) -> bool:
    # a generic IV study's EFFECT_SIZE is its input: its CI is what RevMan computes
    row_q = "CI_START" if an.data_type == "IV" else "EFFECT_SIZE"
    vals = [an.stored.get(q) for q in ("EFFECT_SIZE", "CI_START", "CI_END")] + [r.stored.get(row_q) for r in an.all_rows()]
    vals += [sg.stored.get("EFFECT_SIZE") for sg in an.subgroups]
    return all(v is None for v in vals)


def reverify_analysis(an: Analysis, engine, preset: Preset, integer_scale=False, r_unavailable=None, precision: dict | None = None) -> AnalysisAudit:
    measure, model = _settings(an)
    audit = AnalysisAudit(an.id, an.name, an.comparison, an.data_type_name, measure, model, "not re-verified", line=an.line)
    audit.lint = lint_analysis(an, integer_scale)
    show = displayed(an)
    audit.totals = show.totals
    audit.problems.extend(an.problems)
    if not an.complete:
        audit.status, audit.reason = "error", "truncated in the file"
        return audit
    if an.malformed:
        audit.status, audit.reason = "error", "malformed line in the file"
        return audit
    if an.data_type in dich.TYPES:
        return _reverify_other(an, engine, preset, audit, show, r_unavailable, precision)
    if an.data_type != "CONT":
        audit.reason = f"{an.data_type_name} outcome: RevMan computes no results for it (nothing to re-verify)"
        return audit
    if measure not in ("MD", "SMD"):
        audit.reason = f"continuous outcome with effect measure {measure!r}: only MD and SMD are re-verified"
        return audit
    if _not_computed(an):
        audit.reason = "RevMan stored no results (empty computed values: RevMan did not compute this analysis)"
        return audit
    d = _collect(an, audit)
    if d is None:
        audit.status, audit.reason = "error", "malformed study data"
        return audit
    if len(d.rows) == 0:
        audit.reason = "no estimable study"
        return audit
    audit.k = len(d.rows)
    level_study, level_total = ci_level(an.settings.get("CI_STUDY")), ci_level(an.settings.get("CI_TOTAL"))
    subgroups = an.has_subgroups
    if an.fmt == "csv":
        audit.notes.append("CSV export: confidence levels are not exported; 95% assumed")
    test_model = model
    args = (d, measure, model, preset, level_study, level_total, subgroups, show.weights_within, test_model)
    got = _recompute(audit, engine, r_unavailable, lambda: compute_python(*args), lambda eng: compute_r(eng, *args))
    if got is None:
        return audit
    return _compare(an, audit, d, *got, show, preset, precision, (level_study, level_total))


def _recompute(audit: AnalysisAudit, engine, r_unavailable, python: Callable, r_side: Callable):
    """Both engines on one analysis: ``(Python's values, R's values or None, R's error or None)``;
    None (the analysis an error) when the Python engine fails. R's warnings become notes."""
    try:
        py = python()
    except (ValueError, ArithmeticError, FloatingPointError, np.linalg.LinAlgError) as e:
        audit.status, audit.reason = "error", f"Python engine: {e}"
        return None
    r, r_err = None, None
    if engine is None:
        r_err = f"R engine unavailable: {r_unavailable}"
    else:
        try:
            r, warns = r_side(engine)
            audit.notes.extend(f"R warning: {w}" for w in warns)
        except HarnessError as e:
            r_err = str(e)
    return py, r, r_err


def _compare(an: Analysis, audit: AnalysisAudit, d, py: dict, r: dict | None, r_err, show: Display, preset: Preset, precision, levels) -> AnalysisAudit:
    """The recomputations of one analysis against RevMan's displayed values (or each other, under
    another preset), and its forest plot: the records and description on ``audit``."""
    audit.status = "re-verified"
    n_groups = len(set(d.group)) if an.has_subgroups else 0

    def df_of(name):
        prefix = name.rsplit(".", 1)[0]
        if prefix == "subgroups":
            return n_groups - 1
        v = py.get(f"{prefix}.DF")
        return None if v is None else int(v)

    stored, hidden = _stored(an, d, show)
    if hidden:
        audit.not_displayed = hidden
        audit.not_displayed_reason = f"not displayed ({show.label}: {TOTALS[show.totals]}): RevMan writes these values but shows no such result; not compared"
    if preset.name == "revman5":
        audit.records = _compare_stored(an, stored, py, r, r_err, df_of, precision or {}, show)
    else:
        audit.records = _compare_engines(an, py, r, r_err, preset, stored, hidden)
        audit.notes.append(f"re-run under preset {preset.title!r}: Python and metafor are compared with each other; 'RevMan' shows RevMan 5's stored value for reference")
    from .forestdata import describe

    audit.forest = describe(an, d, stored, py, r, show, audit.records, levels)
    return audit


def _reverify_other(an: Analysis, engine, preset: Preset, audit: AnalysisAudit, show: Display, r_unavailable, precision) -> AnalysisAudit:
    """A dichotomous, generic IV or O − E analysis (:mod:`.dichotomous`), compared as a continuous one."""
    why = dich.unsupported(an)
    if why:
        audit.reason = why
        return audit
    if preset.name != "revman5":
        audit.reason = f"{an.data_type_name} outcome: re-run under preset {preset.title!r} is for continuous analyses only (RevMan 5's own numbers are re-verified under the preset 'revman5')"
        return audit
    if _not_computed(an):
        audit.reason = "RevMan stored no results (empty computed values: RevMan did not compute this analysis)"
        return audit
    d = dich.collect(an, audit)
    if d is None:
        audit.status, audit.reason = "error", "malformed study data"
        return audit
    audit.k = len(d.rows)
    level_study, level_total = ci_level(an.settings.get("CI_STUDY")), ci_level(an.settings.get("CI_TOTAL"))
    if an.fmt == "csv":
        audit.notes.append("CSV export: confidence levels are not exported; 95% assumed")
    for r, name in zip(d.all_rows, d.all_labels):
        if name not in d.labels:
            audit.notes.append(f"{r.where()}: not estimable under RevMan's rules — no effect and no weight, as RevMan lists it")
    if not d.rows:
        audit.notes.append("no estimable study: RevMan shows the pooled result as 'Not estimable' (its stored zeros are not compared; the totals are)")
    args = (an, d, level_study, an.has_subgroups, show.weights_within)
    got = _recompute(audit, engine, r_unavailable, lambda: dich.compute_python(*args), lambda eng: dich.compute_r(eng, *args))
    if got is None:
        return audit
    return _compare(an, audit, d, *got, show, preset, precision, (level_study, level_total))


def _compare_engines(an, py, r, r_err, preset, stored, hidden):
    """Under another preset: Python against metafor, RevMan 5's stored value shown beside them."""
    out = []
    tol = ITERATIVE if preset.random_method != "DL" else CLOSED
    for name, pv in py.items():
        q = name.rsplit(".", 1)[1]
        if name.startswith("study[") or q not in PRESET_Q or name in hidden or name.split(".", 1)[0] + ".EFFECT_SIZE" in hidden:
            continue
        sv = stored.get(name)
        change = None if sv is None or math.isnan(pv) else pv - (-abs(sv) if q == "Z" and pv < 0 else sv)  # RevMan stores |Z|
        note = None if change is None else f"change from RevMan 5: {change:+.6g}"
        if r is None:
            rec = Record(name, pv, None, None, None, tol, "engine-error", r_err)
        elif r.get(name) is None:
            rec = Record(name, pv, None, None, None, tol, "missing", "not computed by metafor")
        else:
            rec = compare_values(name, pv, r[name], tol)
        out.append(QuantityRecord(name, {"revman": sv, "python": pv, "r": None if r is None else r.get(name)}, (rec,), tol, note))
    return out


# --------------------------------------------------------------------------- a review


def reverify_review(review: Review, engine=None, preset="revman5", integer_scale=False, r_unavailable=None) -> ReviewAudit:
    p = get_preset(preset) if isinstance(preset, str) else preset
    out = ReviewAudit(review.path, review.title, review.fmt, p.title, problems=list(review.problems), errors=list(review.errors),
                      r_unavailable=r_unavailable, precision=dict(review.precision))
    for an in review.analyses:
        out.analyses.append(reverify_analysis(an, engine, p, integer_scale, r_unavailable, review.precision))
    if not review.analyses:
        out.problems.append(f"{review.path}: no analysis found")
    return out


def audit_review(path, preset="revman5", integer_scale=False, engine_factory: Callable | None = None) -> ReviewAudit:
    """Read a ``.rm5`` file or a RevMan CSV export and re-verify it (starts the R engine)."""
    review = read_review(path)
    engine, why = None, None
    if engine_factory is None:
        from ..engines.r import get_engine as engine_factory
    try:
        engine = engine_factory()
        versions = engine.versions()
    except EngineUnavailable as e:
        engine, why, versions = None, str(e), {}
    res = reverify_review(review, engine, preset, integer_scale, why)
    res.engines = {"r": versions} if versions else {}
    return res

