"""Read RevMan 5 review files (``.rm5``, XML) into plain data.

A ``.rm5`` file holds, under ``ANALYSES_AND_DATA``, one ``COMPARISON`` per
comparison and inside it one element per outcome (analysis):

============  ================  ===============  ======================
data type     outcome           subgroup         study row
============  ================  ===============  ======================
continuous    ``CONT_OUTCOME``  ``CONT_SUBGROUP``  ``CONT_DATA``
dichotomous   ``DICH_OUTCOME``  ``DICH_SUBGROUP``  ``DICH_DATA``
generic IV    ``IV_OUTCOME``    ``IV_SUBGROUP``    ``IV_DATA``
O − E         ``IPD_OUTCOME``   ``IPD_SUBGROUP``   ``IPD_DATA``
other data    ``OTHER_OUTCOME`` ``OTHER_SUBGROUP`` ``OTHER_DATA``
============  ================  ===============  ======================

The outcome element's attributes are the analysis settings (``EFFECT_MEASURE``,
``RANDOM``, ``CI_STUDY``, ``CI_TOTAL``, ``SUBGROUPS``, ``SWAP_EVENTS``,
``METHOD``, ``TOTALS`` ...) and RevMan's pooled results (``EFFECT_SIZE``,
``CI_START``, ``CI_END``, ``Z``, ``P_Z``, ``CHI2``, ``DF``, ``P_CHI2``, ``I2``,
``TAU2``, ``WEIGHT``; subgroup test ``Q``, ``P_Q``, ``I2_Q``). Study rows
carry the inputs (``MEAN_1``, ``SD_1``, ``TOTAL_1``, ``MEAN_2``, ... or
``EVENTS_*``) and RevMan's per-study results (``EFFECT_SIZE``, ``SE``,
``CI_START``, ``CI_END``, ``WEIGHT``). RevMan writes full IEEE doubles, and
writes empty attributes (``EFFECT_SIZE=""``) for analyses it did not compute.

The parser is expat (the engine under :mod:`xml.etree`), used directly so that
every element keeps its line number for messages, and so that a truncated
file still yields every analysis that was complete before the break.
Problems never stop the reading: each is recorded on the analysis it concerns
(:attr:`Analysis.problems`) or on the review (:attr:`Review.problems`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from ..errors import InputError

#: outcome element prefix -> (data type code, human name)
DATA_TYPES = {
    "CONT": "continuous",
    "DICH": "dichotomous",
    "IV": "generic IV",
    "IPD": "O − E",
    "OTHER": "other data",
}
#: inputs by data type (the attributes a study row must carry to be recomputed)
INPUTS = {
    "CONT": ("MEAN_1", "SD_1", "TOTAL_1", "MEAN_2", "SD_2", "TOTAL_2"),
    "DICH": ("EVENTS_1", "TOTAL_1", "EVENTS_2", "TOTAL_2"),
    "IV": ("EFFECT_SIZE", "SE"),
    "IPD": ("O_E", "VAR"),
    "OTHER": (),
}
#: RevMan's computed values on a study row, an outcome or a subgroup
#: (LOG_*: log10 of a ratio measure's EFFECT_SIZE and CI; EVENTS_*/TOTAL_* of a dichotomous outcome or subgroup: its totals)
STUDY_COMPUTED = ("EFFECT_SIZE", "SE", "CI_START", "CI_END", "WEIGHT", "VAR", "LOG_EFFECT_SIZE", "LOG_CI_START", "LOG_CI_END")
POOLED_COMPUTED = ("EFFECT_SIZE", "SE", "CI_START", "CI_END", "WEIGHT", "Z", "P_Z", "CHI2", "DF", "P_CHI2", "I2", "TAU2", "Q", "P_Q", "I2_Q",
                   "LOG_EFFECT_SIZE", "LOG_CI_START", "LOG_CI_END", "EVENTS_1", "TOTAL_1", "EVENTS_2", "TOTAL_2")
#: analysis settings kept as text
SETTINGS = ("EFFECT_MEASURE", "METHOD", "RANDOM", "CI_STUDY", "CI_TOTAL", "SUBGROUPS", "SUBGROUP_TEST", "SWAP_EVENTS", "TOTALS", "ESTIMABLE", "SCALE", "UNITS", "STUDIES", "LOG_DATA", "SORT_BY")


@dataclass
class Row:
    """One study's line in one analysis."""

    study_id: str
    name: str
    year: str | None
    inputs: dict  # attribute -> float or None (absent or empty)
    stored: dict  # RevMan's computed attribute -> float or None (empty); absent keys: not written
    raw: dict  # every attribute as written (text)
    line: int | None = None
    order: int | None = None

    def where(self) -> str:
        return f"study {self.name!r}" + (f" (line {self.line})" if self.line else "")


@dataclass
class Subgroup:
    id: str
    no: str
    name: str
    stored: dict
    raw: dict
    rows: list[Row] = field(default_factory=list)
    line: int | None = None


@dataclass
class Analysis:
    """One RevMan analysis (an outcome of a comparison), as written in the file.

    ``stored`` holds RevMan's pooled results as floats (None when RevMan wrote
    an empty value; a key is absent when the attribute is not in the file);
    ``raw`` the text as written (for a CSV export, the printed digits, which
    set the comparison tolerance).
    """

    id: str
    data_type: str  # CONT, DICH, IV, IPD, OTHER (or the code as written when unknown)
    comparison: str
    name: str
    settings: dict
    stored: dict
    raw: dict
    group_labels: tuple = ("", "")
    #: the forest plot's axis labels (GRAPH_LABEL_1/2; "Left/Right Graph Label" in an export)
    graph_labels: tuple = ("", "")
    subgroups: list[Subgroup] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)  # studies outside subgroups
    problems: list[str] = field(default_factory=list)
    source: str = ""
    line: int | None = None
    fmt: str = "rm5"  # "rm5" (full doubles) or "csv" (printed digits)
    complete: bool = True  # False when the file broke off inside this analysis
    malformed: bool = False  # True when a line of it could not be read as RevMan writes it

    @property
    def data_type_name(self) -> str:
        return DATA_TYPES.get(self.data_type, self.data_type)

    @property
    def has_subgroups(self) -> bool:
        return bool(self.subgroups) and self.settings.get("SUBGROUPS", "YES" if self.subgroups else "NO") == "YES"

    def all_rows(self) -> list[Row]:
        return [r for sg in self.subgroups for r in sg.rows] + list(self.rows)

    def grouped_rows(self) -> tuple[list[Row], list[str]]:
        """Every study row, in the file's order, and its subgroup label ``"NO: name"`` (``""`` outside subgroups)."""
        rows = [r for sg in self.subgroups for r in sg.rows] + list(self.rows)
        groups = [f"{sg.no}: {sg.name}" for sg in self.subgroups for _ in sg.rows] + [""] * len(self.rows)
        return rows, groups

    @property
    def label(self) -> str:
        return f"{self.id} {self.name}".strip()


@dataclass
class Review:
    path: str
    title: str
    fmt: str  # "rm5" or "csv"
    analyses: list[Analysis] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # file-level (e.g. truncation)
    studies: dict = field(default_factory=dict)  # study id -> (name, year)
    revman_version: str | None = None
    #: file-level errors no analysis carries (a file cut between analyses, or where the
    #: analysis cannot be told): each counts as an error of the review
    errors: list[str] = field(default_factory=list)
    #: CSV exports: the printed precision of each computed column (export_csv.export_precision)
    precision: dict = field(default_factory=dict)


def to_float(text):
    """RevMan's attribute text -> float; '' -> None; raises ValueError for non-numbers."""
    if text is None:
        return None
    t = text.strip()
    if t == "":
        return None
    v = float(t)
    return v


@dataclass
class _El:
    tag: str
    attrib: dict
    line: int
    children: list = field(default_factory=list)
    text: str = ""
    closed: bool = False

    def find(self, tag):
        for c in self.children:
            if c.tag == tag:
                return c
        return None

    def findtext(self, tag, default=""):
        c = self.find(tag)
        return c.text.strip() if c is not None else default


def _parse(data: bytes, path):
    """Build a light element tree with line numbers; return (root, error message or None)."""
    p = expat.ParserCreate()
    stack: list[_El] = []
    root: list[_El] = []

    def start(tag, attrs):
        el = _El(tag, dict(attrs), p.CurrentLineNumber)
        if stack:
            stack[-1].children.append(el)
        else:
            root.append(el)
        stack.append(el)

    def end(tag):
        stack[-1].closed = True
        stack.pop()

    def chars(s):
        if stack:
            stack[-1].text += s

    p.StartElementHandler, p.EndElementHandler, p.CharacterDataHandler = start, end, chars
    p.buffer_text = True
    err = None
    try:
        p.Parse(data, True)
    except expat.ExpatError as e:
        err = f"{path}, line {e.lineno}, column {e.offset + 1}: XML error: {expat.ErrorString(e.code)}"
    return (root[0] if root else None), err


def _num_attrs(attrib, keys, where, problems):
    out = {}
    for k in keys:
        if k not in attrib:
            continue
        try:
            out[k] = to_float(attrib[k])
        except ValueError:
            problems.append(f"{where}: {k}={attrib[k]!r} is not a number")
            out[k] = None
    return out


def _read_row(el, dtype, studies, aid, problems) -> Row:
    sid = el.attrib.get("STUDY_ID", "")
    name, year = studies.get(sid, (sid or "(no STUDY_ID)", None))
    where = f"{aid}, study {name!r} (line {el.line})"
    if not sid:
        problems.append(f"{where}: study row without STUDY_ID")
    inputs = {}
    for k in INPUTS.get(dtype, ()):
        if k not in el.attrib:
            problems.append(f"{where}: attribute {k} is missing")
            inputs[k] = None
            continue
        try:
            inputs[k] = to_float(el.attrib[k])
        except ValueError:
            problems.append(f"{where}: {k}={el.attrib[k]!r} is not a number")
            inputs[k] = None
    stored = _num_attrs(el.attrib, STUDY_COMPUTED, where, problems)
    order = el.attrib.get("ORDER")
    return Row(sid, name, year, inputs, stored, dict(el.attrib), el.line, int(order) if order and order.isdigit() else None)


def _read_outcome(el, dtype, comparison, studies, path) -> Analysis:
    a = el.attrib
    aid = a.get("ID") or f"(outcome at line {el.line})"
    problems: list[str] = []
    an = Analysis(
        id=aid,
        data_type=dtype,
        comparison=comparison,
        name=el.findtext("NAME"),
        settings={k: a[k] for k in SETTINGS if k in a},
        stored={},
        raw=dict(a),
        group_labels=(el.findtext("GROUP_LABEL_1"), el.findtext("GROUP_LABEL_2")),
        graph_labels=(el.findtext("GRAPH_LABEL_1"), el.findtext("GRAPH_LABEL_2")),
        problems=problems,
        source=str(path),
        line=el.line,
        complete=el.closed,
    )
    an.stored = _num_attrs(a, POOLED_COMPUTED, f"{aid} (line {el.line})", problems)
    for c in el.children:
        if c.tag == f"{dtype}_SUBGROUP":
            sg = Subgroup(c.attrib.get("ID", ""), c.attrib.get("NO", str(len(an.subgroups) + 1)), c.findtext("NAME"), {}, dict(c.attrib), line=c.line)
            sg.stored = _num_attrs(c.attrib, POOLED_COMPUTED, f"{aid}, subgroup {sg.name!r} (line {c.line})", problems)
            for d in c.children:
                if d.tag == f"{dtype}_DATA":
                    sg.rows.append(_read_row(d, dtype, studies, aid, problems))
            if not c.closed:
                problems.append(f"{aid}, subgroup {sg.name!r} (line {c.line}): the file breaks off inside this subgroup")
            an.subgroups.append(sg)
        elif c.tag == f"{dtype}_DATA":
            an.rows.append(_read_row(c, dtype, studies, aid, problems))
    if not el.closed:
        problems.insert(0, f"{aid} (line {el.line}): the file breaks off inside this analysis (truncated XML); not re-verified")
    return an


def read_rm5(path) -> Review:
    """Read a ``.rm5`` file. Raises :class:`InputError` only when nothing can be read."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read the file: {e.strerror}", path=path) from None
    root, err = _parse(data, path)
    if root is None:
        raise InputError(err or "no XML element found", path=path)
    if root.tag != "COCHRANE_REVIEW":
        raise InputError(f"not a RevMan 5 review: the root element is <{root.tag}>, expected <COCHRANE_REVIEW>", path=path, line=root.line)
    rev = Review(str(path), "", "rm5", revman_version=root.attrib.get("REVMAN_SUB_VERSION") or root.attrib.get("REVMAN_VERSION"))
    if err:
        rev.problems.append(err + " — the file is truncated or malformed; analyses complete before this point are still verified")
    cover = root.find("COVER_SHEET")
    rev.title = cover.findtext("TITLE") if cover is not None else ""

    def walk(el):
        yield el
        for c in el.children:
            yield from walk(c)

    for el in walk(root):
        if el.tag == "STUDY" and "ID" in el.attrib:
            rev.studies[el.attrib["ID"]] = (el.attrib.get("NAME") or el.attrib["ID"], el.attrib.get("YEAR") or None)
    anal = root.find("ANALYSES_AND_DATA")
    if anal is None:
        rev.problems.append(f"{path}: no ANALYSES_AND_DATA section" + (" (the file may be truncated)" if err else "") + "; no analysis to re-verify")
        if err:
            rev.errors.append(f"{err}: the file breaks off before its analyses")
        return rev
    for cmp_el in anal.children:
        if cmp_el.tag != "COMPARISON":
            continue
        cname = cmp_el.findtext("NAME")
        for el in cmp_el.children:
            if el.tag.endswith("_OUTCOME"):
                dtype = el.tag[: -len("_OUTCOME")]
                rev.analyses.append(_read_outcome(el, dtype, cname, rev.studies, path))
    if err and all(a.complete for a in rev.analyses):
        # cut between two analyses (or after the last one): analyses may be missing
        rev.errors.append(f"{err}: the file breaks off after analysis {rev.analyses[-1].id if rev.analyses else '(none)'}; any later analysis is missing")
    return rev


def read_review(path) -> Review:
    """Read a ``.rm5`` file or a RevMan 5 analysis-data CSV export (by suffix)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".rm5":
        return read_rm5(path)
    if suffix == ".csv":
        from .export_csv import read_export

        return read_export(path)
    raise InputError(f"unknown review format {suffix!r}: expected a RevMan 5 file (.rm5) or a RevMan analysis-data export (.csv)", path=path)


def empty_inputs(rows, keys, problems: list) -> bool:
    """Whether a study row lacks one of the inputs ``keys`` (empty values); each such row gets a
    problem naming what is empty, unless the reader already named the row (missing or non-numeric)."""
    incomplete = [r for r in rows if any(r.inputs.get(k) is None for k in keys)]
    for r in incomplete:
        if not any(f"(line {r.line})" in p for p in problems):
            problems.append(f"{r.where()}: {', '.join(k for k in keys if r.inputs.get(k) is None)} empty")
    return bool(incomplete)


def unique_names(rows) -> list[str]:
    """Display names of study rows, a repeated name numbered ("Smith 2001 #2")."""
    names, seen = [], {}
    for r in rows:
        seen[r.name] = seen.get(r.name, 0) + 1
        names.append(r.name if seen[r.name] == 1 else f"{r.name} #{seen[r.name]}")
    return names


def ci_level(text, default=95.0) -> float:
    """A confidence level setting (``CI_STUDY``, ``CI_TOTAL``) in percent; the default when absent or not in (0, 100)."""
    try:
        v = float(text)
    except (TypeError, ValueError):
        return default
    return v if 0 < v < 100 else default


def isnum(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))
