"""Published-results files: a TOML description of a published meta-analysis.

Layout (every key is checked; unknown keys are errors with a did-you-mean)::

    [publication]
    citation = "Author (year). Title. Journal vol:pages."
    software = "Review Manager 5.4"            # what the authors say they used
    k = 11                                     # studies in the review
    n = 1951                                   # participants in the review
    data = "none"                              # or the path of a CSV with study-level data
    data_note = "Study-level data is not public: ..."
    notes = "..."

    [[outcome]]
    id = "fcr"
    name = "Fear of cancer recurrence"
    measure = "SMD"                            # MD or SMD (GEN: yi and sei/vi columns)
    model = "random"                           # fixed, random, or unknown (not stated: both are recomputed)
    estimator = "DL"                           # random effects: DL (RevMan 5), REML, or "unknown"
    convention = "revman"                      # revman, metafor, or pooled-sd (MD, equal-variance SE)
    estimate = "-0.37"                         # strings keep the printed precision
    ci = ["-0.52", "-0.21"]
    p = "< 0.0001"                             # exact ("0.04") or a bound ("< 0.0001")
    # optional: z, se, tau2, tau, chi2, df, p_het, i2 (percent), k, n
    scale = "log odds ratio"                   # optional: what a GEN effect is (display only)
    claim = "decrease"                         # increase, decrease, none (no difference)
    claim_text = "interventions reduced fear of cancer recurrence"
    data = "data/normand1999.csv"             # optional: study-level data (relative to this file)
    columns = { m1i = "m1i", sd1i = "sd1i" }   # optional: column names in the data
    slab = "source"                            # optional: study-label column
    cluster = "study"                          # optional: study id when a study gives several rows (RVE)

    [[outcome.subgroup]]
    id = "duration"
    name = "intervention duration"
    column = "weeks"                           # the data column with the subgroup labels
    claim_text = "less than 8 weeks more effective"
    chi2 = "3.12"; df = 1; p = "0.08"; i2 = "67.9"   # the reported test, where given
    [[outcome.subgroup.group]]
    label = "< 8 weeks"
    estimate = "..."; ci = ["...", "..."]; p = "..."; k = 3; n = 250

Numbers may be TOML numbers or strings. A TOML number loses trailing zeros
(``5.90`` is read as 5.9), so either write printed values as strings, or set
``decimals`` (in ``[publication]`` or an outcome) for numbers written bare.
Integers (``k``, ``n``, ``df``) are exact.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path

from ..errors import InputError
from ..spec import read_toml
from .numbers import Reported, parse_reported

MEASURES = ("MD", "SMD", "GEN")
MODELS = ("fixed", "random", "unknown")
ESTIMATORS = ("DL", "REML", "unknown")
CONVENTIONS = ("revman", "metafor", "pooled-sd")
CLAIMS = ("increase", "decrease", "none")
TWO_GROUP = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
GEN_COLUMNS = ("yi", "sei", "vi")

#: reported statistics: key -> (lower, upper) natural limits
STATS = {
    "estimate": (-math.inf, math.inf),
    "se": (0.0, math.inf),
    "z": (-math.inf, math.inf),
    "p": (0.0, 1.0),
    "tau2": (0.0, math.inf),
    "tau": (0.0, math.inf),
    "chi2": (0.0, math.inf),
    "p_het": (0.0, 1.0),
    "i2": (0.0, 100.0),
}
PUB_KEYS = ("citation", "software", "k", "n", "data", "data_note", "notes", "decimals", "doi")
OUTCOME_KEYS = ("id", "name", "scale", "measure", "model", "estimator", "convention", "ci", "df", "k", "n", "claim", "claim_text",
                "data", "columns", "slab", "cluster", "decimals", "subgroup", "source", "notes", *STATS)
SUBGROUP_KEYS = ("id", "name", "column", "claim_text", "chi2", "df", "p", "i2", "group", "source", "notes", "partition")
GROUP_KEYS = ("label", "ci", "k", "n", "claim_text", *STATS)


@dataclass(frozen=True)
class Block:
    """Reported results of one pooled analysis (an outcome, or one subgroup)."""

    label: str
    stats: dict[str, Reported]  # estimate, se, z, p, tau2, chi2, p_het, i2
    ci: tuple[Reported, Reported] | None
    df: int | None
    k: int | None
    n: int | None
    claim_text: str = ""

    def get(self, key) -> Reported | None:
        return self.stats.get(key)


@dataclass(frozen=True)
class Subgroup:
    id: str
    name: str
    column: str | None
    claim_text: str
    test: dict[str, Reported]  # chi2, p, i2
    df: int | None
    groups: list[Block]
    partition: bool = True  # the groups' studies partition the outcome's studies


@dataclass(frozen=True)
class Outcome:
    id: str
    name: str
    measure: str
    model: str
    estimator: str
    convention: str
    reported: Block
    claim: str | None
    claim_text: str
    data: Path | None
    columns: dict[str, str]
    slab: str | None
    cluster: str | None
    subgroups: list[Subgroup] = field(default_factory=list)
    scale: str = ""


@dataclass(frozen=True)
class Publication:
    path: Path
    citation: str
    software: str
    k: int | None
    n: int | None
    data_note: str
    notes: str
    outcomes: list[Outcome]


def _dym(word, choices):
    near = get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


class _Reader:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, where, msg):
        raise InputError(f"{where}: {msg}", self.path)

    def keys(self, table, allowed, where):
        if not isinstance(table, dict):
            self.fail(where, "must be a table")
        for key in table:
            if key not in allowed:
                self.fail(where, f"unknown key {key!r}{_dym(key, allowed)}; allowed keys: {', '.join(allowed)}")

    def string(self, table, key, where, required=False, choices=None, default=None):
        if key not in table:
            if required:
                self.fail(where, f"`{key}` is required")
            return default
        v = table[key]
        if not isinstance(v, str):
            self.fail(where, f"`{key}` must be a string, not {v!r}")
        if choices is not None and v not in choices:
            self.fail(where, f"`{key}` = {v!r} is not one of {', '.join(choices)}{_dym(v, choices)}")
        return v

    def integer(self, table, key, where, minimum=0):
        if key not in table:
            return None
        v = table[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            self.fail(where, f"`{key}` must be an integer >= {minimum}, not {v!r}")
        return v

    def reported(self, table, key, where, decimals):
        if key not in table:
            return None
        lower, upper = STATS.get(key, (-math.inf, math.inf))
        try:
            return parse_reported(table[key], decimals=decimals, lower=lower, upper=upper)
        except ValueError as e:
            self.fail(where, f"`{key}`: {e}")

    def block(self, table, where, label, decimals, keys=STATS):
        stats = {}
        for key in keys:
            r = self.reported(table, key, where, decimals)
            if r is not None:
                stats[key] = r
        ci = None
        if "ci" in table:
            v = table["ci"]
            if not isinstance(v, list) or len(v) != 2:
                self.fail(where, f"`ci` must be a list of two values [lower, upper], not {v!r}")
            lo = self.reported({"ci lower bound": v[0]}, "ci lower bound", where, decimals)
            hi = self.reported({"ci upper bound": v[1]}, "ci upper bound", where, decimals)
            if lo.is_bound or hi.is_bound:
                self.fail(where, "`ci` bounds must be numbers, not inequalities")
            if lo.value > hi.value:
                self.fail(where, f"`ci` lower bound {lo.text} is above the upper bound {hi.text}")
            ci = (lo, hi)
        return Block(label, stats, ci, self.integer(table, "df", where), self.integer(table, "k", where, 1), self.integer(table, "n", where, 1), self.string(table, "claim_text", where, default=""))


def _decimals(r, table, where, inherited):
    d = r.integer(table, "decimals", where)
    return inherited if d is None else d


def load_published(path) -> Publication:
    """Parse and validate a published-results file (nothing is computed)."""
    path = Path(path)
    doc = read_toml(path, "published-results file")
    r = _Reader(path)
    top = ("publication", "outcome")
    for key in doc:
        if key not in top:
            r.fail("top level", f"unknown key {key!r}{_dym(key, top)}; a published-results file has [publication] and [[outcome]] tables")
    pub = doc.get("publication")
    if pub is None:
        r.fail("top level", "a [publication] table is required (citation, ...)")
    r.keys(pub, PUB_KEYS, "[publication]")
    citation = r.string(pub, "citation", "[publication]", required=True)
    dec = _decimals(r, pub, "[publication]", None)
    pub_data = r.string(pub, "data", "[publication]", default="none")
    raw_outcomes = doc.get("outcome")
    if not isinstance(raw_outcomes, list) or not raw_outcomes:
        r.fail("top level", "at least one [[outcome]] table is required")
    outcomes, seen = [], set()
    for i, raw in enumerate(raw_outcomes, start=1):
        where = f"outcome #{i}"
        r.keys(raw, OUTCOME_KEYS, where)
        oid = r.string(raw, "id", where, required=True)
        where = f"outcome {oid!r}"
        if oid in seen:
            r.fail(where, "this id is used twice")
        seen.add(oid)
        odec = _decimals(r, raw, where, dec)
        measure = r.string(raw, "measure", where, required=True, choices=MEASURES)
        model = r.string(raw, "model", where, required=True, choices=MODELS)
        estimator = r.string(raw, "estimator", where, choices=ESTIMATORS, default={"random": "DL", "fixed": "FE", "unknown": "unknown"}[model])
        if model != "random" and "estimator" in raw:
            r.fail(where, "`estimator` applies to random-effects models only")
        convention = r.string(raw, "convention", where, choices=CONVENTIONS, default="revman")
        if convention == "pooled-sd" and measure != "MD":
            r.fail(where, "convention 'pooled-sd' applies to measure MD only")
        block = r.block(raw, where, raw.get("name", oid), odec)
        if "estimate" not in block.stats:
            r.fail(where, "`estimate` is required")
        data_text = r.string(raw, "data", where, default=None)
        data = None
        if data_text is None and pub_data != "none":
            data_text = pub_data
        if data_text is not None and data_text != "none":
            data = (path.parent / data_text).resolve()
            if not data.is_file():
                r.fail(where, f"`data`: no such file {data_text!r} (relative to {path.parent})")
        columns = raw.get("columns", {})
        if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
            r.fail(where, "`columns` must be a table of role = \"column name\"")
        roles = (*TWO_GROUP, *GEN_COLUMNS)
        for role in columns:
            if role not in roles:
                r.fail(where, f"`columns`: unknown role {role!r}{_dym(role, roles)}; roles: {', '.join(roles)}")
        subgroups = []
        for j, sraw in enumerate(raw.get("subgroup", []), start=1):
            swhere = f"{where}, subgroup #{j}"
            r.keys(sraw, SUBGROUP_KEYS, swhere)
            sid = r.string(sraw, "id", swhere, required=True)
            swhere = f"{where}, subgroup {sid!r}"
            test = {key: x for key in ("chi2", "p", "i2") if (x := r.reported(sraw, key, swhere, odec)) is not None}
            groups = []
            for g, graw in enumerate(sraw.get("group", []), start=1):
                gwhere = f"{swhere}, group #{g}"
                r.keys(graw, GROUP_KEYS, gwhere)
                label = r.string(graw, "label", gwhere, required=True)
                groups.append(r.block(graw, f"{swhere}, group {label!r}", label, odec))
            partition = sraw.get("partition", True)
            if not isinstance(partition, bool):
                r.fail(swhere, "`partition` must be true or false")
            subgroups.append(Subgroup(sid, r.string(sraw, "name", swhere, default=sid), r.string(sraw, "column", swhere), r.string(sraw, "claim_text", swhere, default=""), test, r.integer(sraw, "df", swhere), groups, partition))
        claim = r.string(raw, "claim", where, choices=CLAIMS)
        outcomes.append(Outcome(oid, r.string(raw, "name", where, default=oid), measure, model, estimator, convention, block, claim,
                                r.string(raw, "claim_text", where, default=""), data, dict(columns), r.string(raw, "slab", where),
                                r.string(raw, "cluster", where), subgroups, r.string(raw, "scale", where, default="")))
    return Publication(path, citation, r.string(pub, "software", "[publication]", default=""), r.integer(pub, "k", "[publication]", 1),
                       r.integer(pub, "n", "[publication]", 1), r.string(pub, "data_note", "[publication]", default=""),
                       r.string(pub, "notes", "[publication]", default=""), outcomes)
