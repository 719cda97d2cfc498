"""Lint the study inputs of continuous analyses before pooling.

Checks (each finding names the analysis, the study and its line):

``n-below-2``
    TOTAL_1 or TOTAL_2 below 2: no SD can be computed from one participant
    (RevMan marks N = 0 "not estimable").
``sd-not-positive``
    SD_1 or SD_2 zero or negative (RevMan: "not estimable"; no weight exists).
``duplicate-study``
    the same study twice in one analysis (outside subgroups, or within one
    subgroup), or two rows with identical inputs (means, SDs and Ns of both arms).
``sd-looks-like-se``
    an SD that is small beside the other studies' SDs (less than a third of
    their median) while SD·√n is close to it (within a factor 1.5): the
    value is probably a standard error. Needs at least three other arms
    with positive SDs in the analysis. The thresholds are this module's
    choice (no standard exists); the finding is a prompt to check the
    paper, not a verdict.
``grim``
    only when the outcome scale is declared integer (``integer_scale``):
    a mean that no integer total over n participants can produce at the
    printed number of decimals (Brown & Heathers 2017, the GRIM test).
    Applies when n < 10^decimals (otherwise every mean is possible).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class LintFinding:
    analysis: str
    study: str
    line: int | None
    code: str
    message: str

    def to_dict(self):
        return asdict(self)


def _decimals(text) -> int | None:
    if text is None:
        return None
    t = str(text).strip()
    if not t or "e" in t.lower():
        return None
    return len(t.split(".", 1)[1].rstrip("0")) if "." in t else 0


def grim_consistent(mean: float, n: int, decimals: int) -> bool:
    """True when some integer total T gives T/n rounding to ``mean`` at ``decimals`` places."""
    if n <= 0:
        return True
    half = 0.5 * 10.0**-decimals + 1e-12
    for t in (math.floor(mean * n), math.ceil(mean * n)):
        if abs(t / n - mean) <= half:
            return True
    return False


def lint_analysis(an, integer_scale: bool = False) -> list[LintFinding]:
    """Findings for one continuous :class:`~harness.cochrane.rm5.Analysis` (others: none)."""
    if an.data_type != "CONT":
        return []
    out: list[LintFinding] = []
    rows = an.all_rows()

    def add(row, code, msg):
        out.append(LintFinding(an.id, row.name, row.line, code, msg))

    arms = []  # (row, arm, sd, n)
    for row in rows:
        x = row.inputs
        for arm in (1, 2):
            sd, n, m = x.get(f"SD_{arm}"), x.get(f"TOTAL_{arm}"), x.get(f"MEAN_{arm}")
            if n is not None and n < 2:
                add(row, "n-below-2", f"TOTAL_{arm} = {n:g}: fewer than 2 participants")
            if sd is not None and sd <= 0:
                add(row, "sd-not-positive", f"SD_{arm} = {sd:g}: an SD must be positive (RevMan: not estimable)")
            if sd is not None and n is not None and sd > 0 and n >= 2:
                arms.append((row, arm, sd, n))
            if integer_scale and m is not None and n is not None and n >= 1:
                d = _decimals(row.raw.get(f"MEAN_{arm}"))
                if d is not None and n < 10**d and not grim_consistent(m, int(n), d):
                    add(row, "grim", f"MEAN_{arm} = {row.raw.get(f'MEAN_{arm}')} is impossible for an integer scale with n = {n:g} (no integer total / {n:g} rounds to it at {d} decimals)")
    groups = [sg.rows for sg in an.subgroups] + [an.rows]
    for grp in groups:
        seen_ids, seen_inputs = {}, {}
        for row in grp:
            if row.study_id and row.study_id in seen_ids:
                add(row, "duplicate-study", f"study appears twice in this {'subgroup' if grp is not an.rows else 'analysis'} (also line {seen_ids[row.study_id].line})")
            seen_ids.setdefault(row.study_id, row)
            key = tuple(row.inputs.get(k) for k in ("MEAN_1", "SD_1", "TOTAL_1", "MEAN_2", "SD_2", "TOTAL_2"))
            if None not in key and key in seen_inputs and seen_inputs[key].study_id != row.study_id:
                add(row, "duplicate-study", f"inputs identical to study {seen_inputs[key].name!r} (line {seen_inputs[key].line})")
            seen_inputs.setdefault(key, row)
    for i, (row, arm, sd, n) in enumerate(arms):
        others = np.array([a[2] for j, a in enumerate(arms) if j != i and a[0] is not row])
        if len(others) < 3:
            continue
        med = float(np.median(others))
        if sd < med / 3 and abs(math.log(sd * math.sqrt(n) / med)) < math.log(1.5):
            add(row, "sd-looks-like-se", f"SD_{arm} = {sd:g} is under a third of the other studies' median SD {med:.4g}, while SD·√n = {sd * math.sqrt(n):.4g} is close to it: is it a standard error?")
    return out
