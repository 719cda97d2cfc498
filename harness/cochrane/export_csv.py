"""Read RevMan 5 "analysis data" CSV exports into the same :class:`~.rm5.Review` model.

RevMan 5 exports the data and results of every analysis as one CSV table
(File > Export > Data and analyses). Each line is one of:

* a comparison header: ``Outcome Number`` = 0;
* an analysis (outcome) line: ``Subgroup Number`` = 0 and ``Data Type`` set
  (``CON``, ``DIC``, ``IV``, ``O-E``/``IPD``, ``OTH``), with the settings
  (``Statistical Method``, ``Effect Measure``, ``Analysis Model``) and the
  pooled results;
* a subgroup line: the first line of a new ``Subgroup Number`` > 0 inside
  an analysis, with the subgroup's pooled results;
* a study line: every other line, with the inputs (``Mean 1``, ``SD 1``,
  ``Total 1``, ... or ``Events 1``...) and the study's results.

Columns map to the ``.rm5`` attribute names so that one re-verification
serves both formats: ``Effect Estimate`` -> ``EFFECT_SIZE``, ``SE``,
``CI Start``, ``CI End``, ``Weight``, ``Q`` -> ``CHI2`` (heterogeneity),
``P(Q)`` -> ``P_CHI2``, ``I²(Q)`` -> ``I2``, ``Tau²`` -> ``TAU2``, ``Z``,
``P(Z)``, ``Qint`` -> ``Q`` (subgroup differences), ``P(Qint)`` -> ``P_Q``,
``I²(Qint)`` -> ``I2_Q``, ``df`` -> ``DF``. Values are printed to a fixed
number of decimals (8 in the exports seen), so each comparison uses the
half-unit of the last printed digit as its tolerance. The export does not
carry the confidence levels; 95% is assumed (RevMan's default) and noted.
"""
from __future__ import annotations

import csv
from pathlib import Path

from ..errors import InputError
from .rm5 import INPUTS, Analysis, Review, Row, Subgroup, to_float

COLUMNS = {
    "Effect Estimate": "EFFECT_SIZE",
    "SE": "SE",
    "CI Start": "CI_START",
    "CI End": "CI_END",
    "Weight": "WEIGHT",
    "Q": "CHI2",
    "P(Q)": "P_CHI2",
    "I²(Q)": "I2",
    "Tau²": "TAU2",
    "Z": "Z",
    "P(Z)": "P_Z",
    "Qint": "Q",
    "P(Qint)": "P_Q",
    "I²(Qint)": "I2_Q",
    "df": "DF",
    "Events 1": "EVENTS_1",
    "Mean 1": "MEAN_1",
    "SD 1": "SD_1",
    "Total 1": "TOTAL_1",
    "Events 2": "EVENTS_2",
    "Mean 2": "MEAN_2",
    "SD 2": "SD_2",
    "Total 2": "TOTAL_2",
}
REQUIRED = ("Comparison Number", "Outcome Number", "Subgroup Number", "Name", "Data Type")
DATA_TYPE_CODES = {"CON": "CONT", "CONT": "CONT", "DIC": "DICH", "DICH": "DICH", "IV": "IV", "GIV": "IV", "O-E": "IPD", "OE": "IPD", "IPD": "IPD", "OTH": "OTHER", "OTHER": "OTHER"}
STUDY_RESULTS = ("EFFECT_SIZE", "SE", "CI_START", "CI_END", "WEIGHT")
POOLED_RESULTS = ("EFFECT_SIZE", "SE", "CI_START", "CI_END", "WEIGHT", "CHI2", "P_CHI2", "I2", "TAU2", "Z", "P_Z", "Q", "P_Q", "I2_Q", "DF")


def _decode(data: bytes) -> str:
    for enc in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any byte string")  # pragma: no cover


def _norm_header(h: str) -> str:
    # exports written in a legacy code page may carry '\xb2' for '²'; both decode to '²' here
    return h.strip().replace("I2(", "I²(").replace("Tau2", "Tau²")


def read_export(path) -> Review:
    path = Path(path)
    try:
        text = _decode(path.read_bytes())
    except OSError as e:
        raise InputError(f"cannot read the file: {e.strerror}", path=path) from None
    reader = csv.reader(text.splitlines())
    try:
        header = [_norm_header(h) for h in next(reader)]
    except StopIteration:
        raise InputError("empty file: expected a RevMan 5 analysis-data export", path=path) from None
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(f"not a RevMan 5 analysis-data export: column(s) {', '.join(repr(m) for m in missing)} missing from the header", path=path, line=1)
    col = {h: i for i, h in enumerate(header)}
    rev = Review(str(path), "", "csv")
    current: Analysis | None = None
    sub: Subgroup | None = None
    seen_sub: set = set()
    comparisons: dict = {}

    def get(rec, name):
        i = col.get(name)
        return rec[i].strip() if i is not None and i < len(rec) else ""

    for lineno, rec in enumerate(reader, start=2):
        if not any(x.strip() for x in rec):
            continue
        if len(rec) < len(REQUIRED):
            problem = f"{path}, line {lineno}: {len(rec)} fields, expected {len(header)} (truncated line?); line skipped"
            (current.problems if current is not None else rev.problems).append(problem)
            continue
        try:
            c, o, s = (int(get(rec, k) or "0") for k in ("Comparison Number", "Outcome Number", "Subgroup Number"))
        except ValueError:
            problem = f"{path}, line {lineno}: comparison/outcome/subgroup numbers are not integers; line skipped"
            (current.problems if current is not None else rev.problems).append(problem)
            continue
        name = get(rec, "Name")
        raw = {COLUMNS[h]: get(rec, h) for h in COLUMNS if h in col}
        if o == 0:
            comparisons[c] = name
            if not rev.title:
                rev.title = name
            continue
        if current is None or (current.comparison_no, current.outcome_no) != (c, o):
            dt_code = get(rec, "Data Type")
            dtype = DATA_TYPE_CODES.get(dt_code.upper(), dt_code or "?")
            model = get(rec, "Analysis Model")
            current = Analysis(
                id=f"{c}.{o}",
                data_type=dtype,
                comparison=comparisons.get(c, ""),
                name=name,
                settings={
                    "EFFECT_MEASURE": get(rec, "Effect Measure"),
                    "METHOD": get(rec, "Statistical Method"),
                    "RANDOM": {"random": "YES", "fixed": "NO"}.get(model.lower(), model),
                    "CI_STUDY": "95",
                    "CI_TOTAL": "95",
                    "SUBGROUPS": "NO",
                },
                stored={},
                raw=raw,
                group_labels=(get(rec, "Group Label 1"), get(rec, "Group Label 2")),
                source=str(path),
                line=lineno,
                fmt="csv",
            )
            current.comparison_no, current.outcome_no = c, o
            current.stored = _nums(raw, POOLED_RESULTS, f"{current.id} (line {lineno})", current.problems)
            if s != 0:
                current.problems.append(f"{current.id} (line {lineno}): the analysis line is missing (first line of the analysis has subgroup number {s})")
            rev.analyses.append(current)
            sub, seen_sub = None, set()
            if s == 0:
                continue
        if s > 0 and s not in seen_sub:
            seen_sub.add(s)
            sub = Subgroup(f"{c}.{o}.{s}", str(s), name, {}, raw, line=lineno)
            sub.stored = _nums(raw, POOLED_RESULTS, f"{current.id}, subgroup {name!r} (line {lineno})", current.problems)
            current.subgroups.append(sub)
            current.settings["SUBGROUPS"] = "YES"
            continue
        where = f"{current.id}, study {name!r} (line {lineno})"
        inputs = {}
        for k in INPUTS.get(current.data_type, ()):
            try:
                inputs[k] = to_float(raw.get(k))
            except ValueError:
                current.problems.append(f"{where}: {k}={raw.get(k)!r} is not a number")
                inputs[k] = None
        row = Row(name, name, get(rec, "Year of study") or None, inputs, _nums(raw, STUDY_RESULTS, where, current.problems), raw, lineno)
        (sub.rows if s > 0 and sub is not None else current.rows).append(row)
    return rev


def _nums(raw, keys, where, problems):
    out = {}
    for k in keys:
        if k not in raw:
            continue
        try:
            out[k] = to_float(raw[k])
        except ValueError:
            problems.append(f"{where}: {k}={raw[k]!r} is not a number")
            out[k] = None
    return out


def printed_decimals(text: str | None) -> int | None:
    """Decimals printed in a CSV value ('0.00101033' -> 8; '100' -> 0); None if not a plain number."""
    if text is None:
        return None
    t = text.strip().lower()
    if not t or "e" in t:
        return None
    return len(t.split(".", 1)[1]) if "." in t else 0
