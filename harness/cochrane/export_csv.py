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
``I²(Qint)`` -> ``I2_Q``, ``df`` -> ``DF``. The export does not carry the
confidence levels; 95% is assumed (RevMan's default) and noted.

**Precision.** RevMan writes every computed value with one number format
that drops trailing zeros (``0.########`` style: "-1.5", "0", "100",
"38.6125" — RevMan 5's own export Fleiss1993_CR.csv prints 0.00101033,
72.87984024 and 3.17649 in the same columns: 8 decimals whatever the
magnitude, trailing zeros dropped). So a cell's printed digits say nothing
about its precision: "38.6" may be a true 38.6 or a wrong value for 38.6125.
:func:`export_precision` derives the precision of each computed column from
the whole export: for each column, over its cells with at least
:data:`INFORMATIVE_DIGITS` significant digits (shorter ones are as likely
exact values — 0, 100, −1.5 — as rounded ones), it weighs a fixed number of
decimals (the largest count seen) against a fixed number of significant
digits (the largest count seen) by the digits each would need to have been
dropped, and keeps the one needing fewer (decimals on a tie). A column with
no such cell (Tau² "0" throughout a fixed-effect export) takes the format
found over all computed columns of the file; an export with no informative
cell at all is read with RevMan 5's 8 decimals, and says so. The tolerance of
every cell is then half a unit of the format's last digit
(:func:`harness.compare.tolerance.printed`).

**Truncation.** Every line of a RevMan export has as many fields as the
header. A last line with fewer, without a final line break, is a file cut
off inside that line: the analysis it belongs to is marked incomplete and
the review carries the problem (an error, never "no results"). A shorter line
elsewhere is malformed: its analysis is marked malformed.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ..compare.tolerance import Tolerance, printed
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
#: (EVENTS_*/TOTAL_* on an outcome or subgroup line: a dichotomous block's totals, which RevMan computes)
POOLED_RESULTS = ("EFFECT_SIZE", "SE", "CI_START", "CI_END", "WEIGHT", "CHI2", "P_CHI2", "I2", "TAU2", "Z", "P_Z", "Q", "P_Q", "I2_Q", "DF",
                  "EVENTS_1", "TOTAL_1", "EVENTS_2", "TOTAL_2")
#: the columns RevMan computes and prints with its number format (df is an integer count)
COMPUTED = ("EFFECT_SIZE", "SE", "CI_START", "CI_END", "WEIGHT", "CHI2", "P_CHI2", "I2", "TAU2", "Z", "P_Z", "Q", "P_Q", "I2_Q")
#: a cell shows its column's format only with at least this many significant digits
INFORMATIVE_DIGITS = 3
#: RevMan 5's export format, used when an export shows no informative cell at all
REVMAN_DECIMALS = 8


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
    lines = text.splitlines()
    reader = csv.reader(lines)
    try:
        header = [_norm_header(h) for h in next(reader)]
    except StopIteration:
        raise InputError("empty file: expected a RevMan 5 analysis-data export", path=path) from None
    ends_cleanly = text.endswith(("\n", "\r"))
    last_line = len(lines)
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
        short = len(rec) != len(header)  # "short": not as RevMan writes a line (too few fields, or too many)
        cut = len(rec) < len(header) and lineno == last_line and not ends_cleanly
        if short:
            what = (f"the file breaks off inside line {lineno} ({len(rec)} of {len(header)} fields): the export is truncated"
                    if cut else f"line {lineno} has {len(rec)} fields, the header {len(header)}: malformed line")
        try:
            c, o, s = (int(get(rec, k) or "0") for k in ("Comparison Number", "Outcome Number", "Subgroup Number"))
        except ValueError:
            if short:
                rev.problems.append(f"{path}: {what}")
                _mark_broken(current, f"{path}: {what}; this analysis (or the next one) is incomplete", cut)
                if current is None or cut:
                    rev.errors.append(f"{path}: {what}" + ("" if current is None else f"; the analysis it belongs to cannot be told (the last one read is {current.id})"))
                continue
            problem = f"{path}, line {lineno}: comparison/outcome/subgroup numbers are not integers; line skipped"
            (current.problems if current is not None else rev.problems).append(problem)
            if current is not None:
                current.malformed = True
            continue
        if short:
            rev.problems.append(f"{path}: {what}")
            if o == 0 or (cut and get(rec, "Name") == ""):
                # a comparison line, or a line cut before its name: it belongs to no analysis that can be told
                rev.errors.append(f"{path}: {what}" + (f"; the analysis it belongs to cannot be told (the last one read is {current.id})" if current is not None else ""))
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
                graph_labels=(get(rec, "Left Graph Label"), get(rec, "Right Graph Label")),
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
                if short:
                    _mark_broken(current, f"{current.id} (line {lineno}): {what}", cut)
                continue
        if short:
            _mark_broken(current, f"{current.id} (line {lineno}): {what}", cut)
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
    rev.precision = export_precision(rev.analyses)
    return rev


def _mark_broken(an: Analysis | None, problem: str, cut: bool) -> None:
    """A short line inside ``an``: incomplete (the file is cut there) or malformed."""
    if an is None:
        return
    an.problems.insert(0, problem)
    if cut:
        an.complete = False
    else:
        an.malformed = True


# --------------------------------------------------------------------------- precision


@dataclass(frozen=True)
class ColumnPrecision:
    """How one computed column of an export is printed, and the evidence for it."""

    column: str  # the .rm5 attribute name (EFFECT_SIZE, WEIGHT, ...)
    kind: str  # "decimals" or "significant"
    digits: int
    cells: int  # non-empty numeric cells in the column
    informative: int  # cells with >= INFORMATIVE_DIGITS significant digits
    source: str  # "file" (the format of the whole export), "column" (this column's own), "assumed" (RevMan 5's)
    dropped: tuple = (0, 0)  # digits its cells would have dropped: (under the file's format, under the column's best)

    def tolerance(self, value: float) -> Tolerance:
        """Half a unit of the format's last digit at ``value`` (the printed value)."""
        if self.kind == "decimals":
            return printed(decimals=self.digits)
        return printed(significant=self.digits, value=value)

    def describe(self) -> str:
        what = f"{self.digits} {'decimals' if self.kind == 'decimals' else 'significant digits'}"
        if self.source == "column":
            return f"{what} (this column's own format: the file's would need {self.dropped[0]} dropped digits in its {self.informative} informative cells)"
        if self.source == "file":
            return f"{what} (the export's format; {self.informative} of this column's {self.cells} cells have {INFORMATIVE_DIGITS}+ significant digits)"
        return f"{what} (RevMan 5's export format, assumed: no cell of the export shows its precision)"

    def to_dict(self) -> dict:
        return {"column": self.column, "kind": self.kind, "digits": self.digits, "cells": self.cells,
                "informative": self.informative, "source": self.source}


def cell_digits(text: str) -> tuple[int, int] | None:
    """(decimals, significant digits) shown by a printed number; None if it is not a plain number.

    '0.00101033' -> (8, 6); '72.87984024' -> (8, 10); '100' -> (0, 1); '-1.5' -> (1, 2);
    '1.50' -> (2, 3) (a trailing zero after the point is shown, hence significant).
    """
    t = (text or "").strip()
    if not t:
        return None
    try:
        d = Decimal(t)
    except InvalidOperation:
        return None
    if not d.is_finite():
        return None
    sign, digits, exp = d.as_tuple()
    decimals = max(0, -exp)
    ds = list(digits)
    while ds and ds[0] == 0:
        ds.pop(0)
    if exp >= 0:  # trailing zeros of an integer say nothing
        while ds and ds[-1] == 0:
            ds.pop()
    return decimals, len(ds)


def _dropped(cells, kind, digits) -> int:
    """Digits that would have been dropped from the informative ``cells`` if printed with this format."""
    info = [c for c in cells if c[1] >= INFORMATIVE_DIGITS]
    if kind == "decimals":
        return sum(max(0, digits - c[0]) for c in info)
    return sum(max(0, digits - c[1]) for c in info)


def _best(cells):
    """(kind, digits, dropped) of the format that explains ``cells`` with fewer dropped digits (decimals on a tie)."""
    D = max((c[0] for c in cells), default=0)
    S = max((c[1] for c in cells if c[1] >= INFORMATIVE_DIGITS), default=0)
    dd, ds = _dropped(cells, "decimals", D), _dropped(cells, "significant", S)
    return ("decimals", D, dd) if dd <= ds else ("significant", S, ds)


#: a column keeps a format of its own only when the file's format would need this many more
#: dropped digits for its cells (each dropped digit is a trailing zero, a 1-in-10 event)
DEVIATION_DIGITS = 6


def export_precision(analyses) -> dict[str, ColumnPrecision]:
    """The printed precision of every computed column, derived from the whole export (see the module doc).

    The file's format is the one that explains the informative cells of all
    computed columns together with fewer dropped digits; a column keeps its
    own only if the file's format would need :data:`DEVIATION_DIGITS` more
    dropped digits for its cells than its own best format (strong evidence
    that it is printed differently). Columns with no informative cell take
    the file's format.
    """
    cols: dict[str, list] = {k: [] for k in COMPUTED}
    for an in analyses:
        raws = [an.raw] + [sg.raw for sg in an.subgroups] + [r.raw for r in an.all_rows()]
        for raw in raws:
            for k in COMPUTED:
                cd = cell_digits(raw.get(k, ""))
                if cd is not None:
                    cols[k].append(cd)
    every = [c for cells in cols.values() for c in cells]
    if any(c[1] >= INFORMATIVE_DIGITS for c in every):
        f_kind, f_digits, _ = _best(every)
        source = "file"
    else:
        f_kind, f_digits, source = "decimals", REVMAN_DECIMALS, "assumed"
    out = {}
    for k, cells in cols.items():
        n_info = sum(c[1] >= INFORMATIVE_DIGITS for c in cells)
        kind, digits, dropped = _best(cells) if n_info else (f_kind, f_digits, 0)
        file_dropped = _dropped(cells, f_kind, f_digits)
        if n_info and file_dropped - dropped >= DEVIATION_DIGITS:
            out[k] = ColumnPrecision(k, kind, digits, len(cells), n_info, "column", (file_dropped, dropped))
        else:
            out[k] = ColumnPrecision(k, f_kind, f_digits, len(cells), n_info, source, (file_dropped, dropped))
    return out


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
