"""Re-verify every continuous analysis of a Cochrane review against RevMan's own numbers.

For each continuous analysis (MD or SMD) of a ``.rm5`` file or a RevMan 5
CSV export, the study inputs are recomputed twice, independently:

* **Python** — the RevMan 5 engine :mod:`harness.core.revman` (study effects,
  IV fixed effect or DerSimonian–Laird pooling, heterogeneity, overall test,
  subgroup test), or :func:`harness.core.rma.rma_arrays` under another preset;
* **R** — metafor through the R engine (``mh_cochrane_reverify`` in
  ``r_scripts/cochrane.R``).

Each quantity RevMan stored — per study (``EFFECT_SIZE``, ``SE``,
``CI_START``, ``CI_END``, ``WEIGHT``), per subgroup and overall
(``EFFECT_SIZE``, ``SE`` when stored, ``CI_START``, ``CI_END``, ``WEIGHT``,
``Z``, ``P_Z``, ``CHI2``, ``DF``, ``P_CHI2``, ``I2``, ``TAU2``) and for the
subgroup test (``Q``, ``P_Q``, ``I2_Q``) — is compared with both
recomputations. Tolerances reflect what RevMan stores:

* ``.rm5``: full doubles, so ``rtol = 1e-9, atol = 1e-12`` (:data:`RM5_TOL`;
  RevMan and numpy sum in different orders, observed agreement ~1e-15,
  while the smallest convention difference, 1.96 vs the exact quantile, is 2e-5);
* CSV: the half-unit of the last printed digit of each value (8 decimals in
  RevMan's exports), plus 1e-12 relative.

A difference beyond tolerance is *explained* only when one of RevMan's known
quirks (:mod:`.quirks`) accounts for it; otherwise it is a difference.
Dichotomous, O − E, generic inverse-variance and other-data analyses are
listed as not re-verified, with their count; so are analyses RevMan did not
compute (empty values) and malformed ones (with the message).

Under another preset (:mod:`.presets`) the pooled results are recomputed with
those conventions by both engines; the engines are compared with each other
and the change from RevMan's stored value is reported.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import stats

from ..compare.tolerance import ITERATIVE, Tolerance
from ..core import effect_sizes as es
from ..core import revman as rv
from ..core.rma import rma_arrays
from ..errors import EngineUnavailable, HarnessError
from . import quirks
from .export_csv import printed_decimals
from .lint import LintFinding, lint_analysis
from .presets import Preset, get_preset
from .rm5 import Analysis, Review, read_review

#: .rm5 stores full doubles
RM5_TOL = Tolerance(rtol=1e-9, atol=1e-12)
STUDY_Q = ("EFFECT_SIZE", "SE", "CI_START", "CI_END", "WEIGHT")
POOLED_Q = ("EFFECT_SIZE", "SE", "CI_START", "CI_END", "WEIGHT", "Z", "P_Z", "CHI2", "DF", "P_CHI2", "I2", "TAU2")
TEST_Q = ("Q", "P_Q", "I2_Q")
#: attributes RevMan 5 always writes (a pooled SE is written by some versions only)
STUDY_EXPECTED = STUDY_Q
POOLED_EXPECTED = ("EFFECT_SIZE", "CI_START", "CI_END", "WEIGHT", "Z", "P_Z", "CHI2", "DF", "P_CHI2", "I2", "TAU2")
PRESET_Q = ("EFFECT_SIZE", "SE", "CI_START", "CI_END", "Z", "P_Z", "I2", "TAU2", "PI_START", "PI_END")
VERDICT_ORDER = ("engine-error", "differ", "missing", "explained", "agree")


@dataclass
class Check:
    """One quantity: RevMan's stored value beside the Python and R recomputations."""

    name: str
    revman: float | None
    python: float | None
    r: float | None
    tolerance: Tolerance | None
    verdict: str
    explanation: str | None = None
    rel_diff: float | None = None  # largest of |engine - RevMan| / |RevMan| (or Python vs R under another preset)

    def to_dict(self):
        from ..compare.compare import _json_num

        return {
            "name": self.name,
            "revman": _json_num(self.revman),
            "python": _json_num(self.python),
            "r": _json_num(self.r),
            "tolerance": None if self.tolerance is None else {"rtol": self.tolerance.rtol, "atol": self.tolerance.atol},
            "verdict": self.verdict,
            "explanation": self.explanation,
            "rel_diff": _json_num(self.rel_diff),
        }


@dataclass
class AnalysisAudit:
    id: str
    name: str
    comparison: str
    data_type: str
    measure: str
    model: str
    status: str  # "re-verified", "not re-verified", "error"
    reason: str | None = None
    checks: list[Check] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lint: list[LintFinding] = field(default_factory=list)
    line: int | None = None
    k: int = 0  # estimable studies recomputed

    @property
    def verdict(self) -> str:
        if self.status != "re-verified":
            return self.status
        vs = {c.verdict for c in self.checks}
        for v in VERDICT_ORDER:
            if v in vs:
                return v
        return "agree"

    @property
    def ok(self) -> bool:
        return self.verdict in ("agree", "explained")

    def worst(self, n=3) -> list[Check]:
        bad = [c for c in self.checks if c.verdict in ("differ", "missing", "engine-error")]
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
            "problems": self.problems,
            "notes": self.notes,
            "lint": [f.to_dict() for f in self.lint],
            "quantities": [c.to_dict() for c in self.checks],
        }


@dataclass
class ReviewAudit:
    path: str
    title: str
    fmt: str
    preset: str
    analyses: list[AnalysisAudit] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    engines: dict = field(default_factory=dict)
    r_unavailable: str | None = None

    def reasons(self) -> dict:
        """Why analyses were not re-verified (and why some could not be read), with counts."""
        out: dict[str, dict[str, int]] = {"not_re_verified": {}, "errors": {}}
        for a in self.analyses:
            if a.status != "re-verified":
                d = out["errors" if a.status == "error" else "not_re_verified"]
                d[a.reason or a.status] = d.get(a.reason or a.status, 0) + 1
        return out

    def summary(self) -> dict:
        """Counts only (numbers), as the report writers expect."""
        re = [a for a in self.analyses if a.status == "re-verified"]
        rs = self.reasons()
        not_re, errors = rs["not_re_verified"], rs["errors"]
        return {
            "analyses": len(self.analyses),
            "re_verified": len(re),
            "agreeing": sum(a.verdict == "agree" for a in re),
            "explained": sum(a.verdict == "explained" for a in re),
            "differing": sum(not a.ok for a in re),
            "not_re_verified": sum(not_re.values()),
            "errors": sum(errors.values()),
            "quantities": sum(len(a.checks) for a in re),
            "lint_findings": sum(len(a.lint) for a in self.analyses),
        }

    def counts(self) -> dict:
        """Analyses by the audit command's verdicts (consistent / inconsistent / cannot check)."""
        c = {"consistent": 0, "inconsistent": 0, "cannot check": 0}
        for a in self.analyses:
            if a.status == "not re-verified":
                c["cannot check"] += 1
            elif a.ok:
                c["consistent"] += 1
            else:
                c["inconsistent"] += 1
        return c

    def render(self, detail: bool = False) -> str:
        from .report import render

        return render(self, detail)

    @property
    def ok(self) -> bool:
        """Every re-verified analysis agrees (or is explained) and nothing failed to read."""
        return all(a.ok for a in self.analyses if a.status != "not re-verified") and not any(a.status == "error" for a in self.analyses)

    def to_dict(self):
        return {
            "kind": "cochrane-review",
            "path": self.path,
            "title": self.title,
            "format": self.fmt,
            "preset": self.preset,
            "problems": self.problems,
            "r_unavailable": self.r_unavailable,
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


def _level(text, default=95.0):
    try:
        v = float(text)
    except (TypeError, ValueError):
        return default
    return v if 0 < v < 100 else default


def _collect(an: Analysis, audit: AnalysisAudit) -> _Data | None:
    rows, groups = [], []
    for j, sg in enumerate(an.subgroups):
        for r in sg.rows:
            rows.append(r)
            groups.append(f"{sg.no}: {sg.name}")
    for r in an.rows:
        rows.append(r)
        groups.append("")
    keys = ("MEAN_1", "SD_1", "TOTAL_1", "MEAN_2", "SD_2", "TOTAL_2")
    incomplete = [r for r in rows if any(r.inputs.get(k) is None for k in keys)]
    if incomplete:
        for r in incomplete:
            # the reader already named missing or non-numeric attributes; add what it did not (empty values)
            if not any(f"(line {r.line})" in p for p in audit.problems):
                audit.problems.append(f"{r.where()}: {', '.join(k for k in keys if r.inputs.get(k) is None)} empty")
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
    names, seen = [], {}
    for r in rows:
        seen[r.name] = seen.get(r.name, 0) + 1
        names.append(r.name if seen[r.name] == 1 else f"{r.name} #{seen[r.name]}")
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
            pools[lab]["WEIGHT"] = float(np.sum(w[m]))
            if weights_within:
                weights[m] = wj
    for i, name in enumerate(d.labels):
        out.update({f"study[{name}].EFFECT_SIZE": yi[i], f"study[{name}].SE": sei[i], f"study[{name}].CI_START": yi[i] - z * sei[i],
                    f"study[{name}].CI_END": yi[i] + z * sei[i], f"study[{name}].WEIGHT": weights[i]})
    overall["WEIGHT"] = 100.0
    out.update({f"overall.{k}": v for k, v in overall.items()})
    for lab, p in pools.items():
        out.update({f"subgroup[{lab}].{k}": v for k, v in p.items()})
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


def _stored(an: Analysis, d: _Data, subgroups):
    """RevMan's values as {name: (value or None, raw text or None)}; absent attributes are left out."""
    out = {}
    for r, name in zip(d.rows, d.labels):
        for q in STUDY_Q:
            if q in r.stored:
                out[f"study[{name}].{q}"] = (r.stored[q], r.raw.get(q))
    if not _no_totals(an):
        for q in POOLED_Q:
            if q in an.stored:
                out[f"overall.{q}"] = (an.stored[q], an.raw.get(q))
    if subgroups:
        used = set(d.group)
        for sg in an.subgroups:
            lab = f"{sg.no}: {sg.name}"
            if lab not in used:
                continue
            for q in POOLED_Q:
                if q in sg.stored:
                    out[f"subgroup[{lab}].{q}"] = (sg.stored[q], sg.raw.get(q))
        for q in TEST_Q:
            if q in an.stored:
                out[f"subgroups.{q}"] = (an.stored[q], an.raw.get(q))
    return out


def _no_totals(an: Analysis) -> bool:
    """RevMan computed no overall result (TOTALS=NO or SUB, overall values empty)."""
    return an.settings.get("TOTALS", "YES").upper() != "YES" and an.stored.get("EFFECT_SIZE") is None


def _tolerance(an: Analysis, raw_text) -> Tolerance:
    if an.fmt != "csv":
        return RM5_TOL
    dec = printed_decimals(raw_text)
    if dec is None:
        return Tolerance(rtol=1e-8, atol=1e-12)
    return Tolerance(rtol=1e-12, atol=0.5 * 10.0**-dec * (1 + 1e-9))


def _rel(a, b):
    if a is None or b is None or math.isnan(a) or math.isnan(b):
        return None
    d = abs(a - b)
    return d / abs(b) if b != 0 else (0.0 if d == 0 else math.inf)


def _side_verdict(name, stored, val, tol, ctx):
    """(verdict, explanation) of one engine's value against RevMan's."""
    if val is None:
        return "engine-error", "not computed"
    s_nan, v_nan = math.isnan(stored), math.isnan(val)
    if not s_nan and not v_nan and tol.allows(val, stored):
        return "agree", None
    if s_nan and v_nan:
        return "agree", "undefined on both sides"
    why = quirks.explain(name, stored, val, ctx)
    if why:
        return "explained", why
    return "differ", None


def _compare_stored(an, stored, py, r, r_err, df_of, skip=()):
    checks = []
    for name, (sv, raw) in stored.items():
        q = name.rsplit(".", 1)[1]
        tol = _tolerance(an, raw)
        pv, rvv = py.get(name), (r.get(name) if r is not None else None)
        if sv is None and q == "SE" and not name.startswith("study["):
            continue  # a pooled SE is optional (CSV exports leave it empty)
        if sv is None:
            checks.append(Check(name, None, pv, rvv, tol, "missing", "RevMan's value is empty (not computed by RevMan)"))
            continue
        ctx = {"df": df_of(name), "fmt": an.fmt, "tol": tol}
        vp, ep = _side_verdict(name, sv, pv, tol, ctx) if pv is not None else ("missing", "not computed by the Python engine")
        if r is None:
            vr, er = "engine-error", r_err
        else:
            vr, er = _side_verdict(name, sv, rvv, tol, ctx) if rvv is not None else ("missing", "not computed by metafor")
        verdict = next(v for v in VERDICT_ORDER if v in (vp, vr))
        if ep and er and ep.split(":", 1)[0] == er.split(":", 1)[0]:
            er = None  # the same quirk explains both engines: say it once
        expl = "; ".join(dict.fromkeys(f"{side}: {e}" if (vp != vr and e) else e for side, e in (("Python", ep), ("R", er)) if e)) or None
        rels = [x for x in (_rel(pv, sv), _rel(rvv, sv)) if x is not None]
        checks.append(Check(name, sv, pv, rvv, tol, verdict, expl, max(rels) if rels else None))
    for name in py:
        if name in stored or name.split(".", 1)[0] in skip:
            continue
        prefix, q = name.rsplit(".", 1)
        expected = STUDY_EXPECTED if prefix.startswith("study[") else TEST_Q if prefix == "subgroups" else POOLED_EXPECTED
        if q in expected:
            # an expected RevMan attribute absent from the file (malformed, or written by another tool)
            checks.append(Check(name, None, py.get(name), (r or {}).get(name), None, "missing", "attribute absent from the RevMan file"))
    return checks


# --------------------------------------------------------------------------- one analysis


def _settings(an: Analysis):
    measure = an.settings.get("EFFECT_MEASURE", "")
    model = "random" if an.settings.get("RANDOM", "NO").upper() == "YES" else "fixed"
    return measure, model


def _not_computed(an: Analysis) -> bool:
    vals = [an.stored.get(q) for q in ("EFFECT_SIZE", "CI_START", "CI_END")] + [r.stored.get("EFFECT_SIZE") for r in an.all_rows()]
    vals += [sg.stored.get("EFFECT_SIZE") for sg in an.subgroups]
    return all(v is None for v in vals)


def reverify_analysis(an: Analysis, engine, preset: Preset, integer_scale=False, r_unavailable=None) -> AnalysisAudit:
    measure, model = _settings(an)
    audit = AnalysisAudit(an.id, an.name, an.comparison, an.data_type_name, measure, model, "not re-verified", line=an.line)
    audit.problems.extend(an.problems)
    audit.lint = lint_analysis(an, integer_scale)
    if not an.complete:
        audit.status, audit.reason = "error", "truncated in the file"
        return audit
    if an.data_type != "CONT":
        audit.reason = f"{an.data_type_name} outcome: not re-verified yet"
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
    level_study, level_total = _level(an.settings.get("CI_STUDY")), _level(an.settings.get("CI_TOTAL"))
    subgroups = an.has_subgroups
    totals = an.settings.get("TOTALS", "YES").upper()
    weights_within = subgroups and totals != "YES"
    if weights_within:
        audit.notes.append(f"TOTALS={totals}: study weights taken within each subgroup (RevMan's rule here is unverified)")
    if an.fmt == "csv":
        audit.notes.append("CSV export: confidence levels are not exported; 95% assumed")
    test_model = model
    args = (d, measure, model, preset, level_study, level_total, subgroups, weights_within, test_model)
    try:
        py = compute_python(*args)
    except (ValueError, ArithmeticError, FloatingPointError, np.linalg.LinAlgError) as e:
        audit.status, audit.reason = "error", f"Python engine: {e}"
        return audit
    r, r_err = None, None
    if engine is None:
        r_err = f"R engine unavailable: {r_unavailable}"
    else:
        try:
            r, warns = compute_r(engine, *args)
            audit.notes.extend(f"R warning: {w}" for w in warns)
        except HarnessError as e:
            r_err = str(e)
    audit.status = "re-verified"

    def df_of(name):
        prefix = name.rsplit(".", 1)[0]
        v = py.get(f"{prefix}.DF")
        return None if v is None else int(v)

    if preset.name == "revman5":
        skip = ("overall",) if _no_totals(an) else ()
        if skip:
            audit.notes.append("RevMan computed no overall total (TOTALS setting): only studies and subgroups are compared")
        audit.checks = _compare_stored(an, _stored(an, d, subgroups), py, r, r_err, df_of, skip)
    else:
        audit.checks = _compare_engines(an, py, r, r_err, preset)
        audit.notes.append(f"re-run under preset {preset.title!r}: Python and metafor are compared with each other; 'RevMan' shows RevMan 5's stored value for reference")
    return audit


def _compare_engines(an, py, r, r_err, preset):
    checks = []
    stored = {}
    for q in POOLED_Q:
        stored[f"overall.{q}"] = an.stored.get(q)
    for sg in an.subgroups:
        for q in POOLED_Q:
            stored[f"subgroup[{sg.no}: {sg.name}].{q}"] = sg.stored.get(q)
    for name, pv in py.items():
        q = name.rsplit(".", 1)[1]
        if name.startswith("study[") or q not in PRESET_Q:
            continue
        tol = ITERATIVE if preset.random_method != "DL" else RM5_TOL
        sv = stored.get(name)
        if r is None:
            checks.append(Check(name, sv, pv, None, tol, "engine-error", r_err))
            continue
        rvv = r.get(name)
        if rvv is None:
            checks.append(Check(name, sv, pv, None, tol, "missing", "not computed by metafor"))
            continue
        ok = (math.isnan(pv) and math.isnan(rvv)) or (not math.isnan(pv) and not math.isnan(rvv) and tol.allows(pv, rvv))
        change = None if sv is None or math.isnan(pv) else pv - (abs(sv) if q == "Z" and pv < 0 else sv)
        note = None if change is None else f"change from RevMan 5: {change:+.6g}"
        checks.append(Check(name, sv, pv, rvv, tol, "agree" if ok else "differ", note, _rel(pv, rvv)))
    return checks


# --------------------------------------------------------------------------- a review


def reverify_review(review: Review, engine=None, preset="revman5", integer_scale=False, r_unavailable=None) -> ReviewAudit:
    p = get_preset(preset) if isinstance(preset, str) else preset
    out = ReviewAudit(review.path, review.title, review.fmt, p.title, problems=list(review.problems), r_unavailable=r_unavailable)
    for an in review.analyses:
        out.analyses.append(reverify_analysis(an, engine, p, integer_scale, r_unavailable))
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

