"""Reading study-level data files (CSV) with errors that name file, line and column.

A :class:`Dataset` keeps every cell as the text that was in the file; typed
access (:meth:`Dataset.numeric`, :meth:`Dataset.labels`) validates on the way
out, so an error always points at the cell that caused it. Line numbers are
those of the file (the header is line 1, the first study line 2).
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError

_DELIMS = [";", "\t", "|"]
#: what a missing cell's error suggests (every kind: [dataset] na applies to every column an analysis uses)
NA_HINT = 'to leave such studies out as metafor\'s na.omit does, set na = "omit" in [dataset]'


def missing_cell(raw) -> str:
    """How an error names a missing cell: ``empty cell``, or the text written (``'NA' (missing)``)."""
    text = str(raw).strip()
    return "empty cell" if text == "" else f"{text!r} (missing)"


@dataclass(frozen=True)
class Dataset:
    name: str
    path: Path
    frame: pd.DataFrame  # all cells as str, exactly as read

    @property
    def k(self) -> int:
        return len(self.frame)

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)

    def line_of(self, i: int) -> int:
        """File line of the i-th data row (0-based)."""
        return int(self.frame.index[i]) + 2

    def require(self, column: str, what: str = "a column"):
        if column not in self.frame.columns:
            from difflib import get_close_matches

            near = get_close_matches(column, self.columns, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise InputError(f"{what} {column!r} is not in the file; its columns are {', '.join(self.columns)}{hint}", self.path)

    def numeric(self, column: str, *, lower=None, lower_inclusive=True, what=None, allow_empty=False, why=None) -> np.ndarray:
        """The column as floats; every cell must be a finite number (``lower`` bounds it; ``why`` says why, in the error)."""
        self.require(column)
        out = np.empty(self.k)
        for i, raw in enumerate(self.frame[column]):
            text = raw.strip()
            if text == "" or text.upper() in ("NA", "NAN"):
                if allow_empty:
                    out[i] = np.nan
                    continue
                raise InputError(f"{missing_cell(raw)}; {what or 'a number'} is expected ({NA_HINT})", self.path, self.line_of(i), column)
            try:
                x = float(text)
            except ValueError:
                hint = " (decimal commas are not read: write 0.5, not 0,5)" if "," in text else ""
                raise InputError(f"{raw!r} is not a number; {what or 'a number'} is expected{hint}", self.path, self.line_of(i), column) from None
            if not math.isfinite(x):
                raise InputError(f"{raw!r} is not a finite number", self.path, self.line_of(i), column)
            if lower is not None and (x < lower or (x == lower and not lower_inclusive)):
                op = ">=" if lower_inclusive else ">"
                because = f" ({why})" if why else ""
                raise InputError(f"{raw!r} is out of range: {what or 'the value'} must be {op} {lower:g}{because}", self.path, self.line_of(i), column)
            out[i] = x
        return out

    def labels(self, column: str | None) -> tuple[str, ...]:
        """Study labels from ``column`` (must be unique), or 1..k as metafor numbers them."""
        if column is None:
            return tuple(str(i + 1) for i in range(self.k))
        self.require(column, "the study label column")
        labs = [s.strip() for s in self.frame[column]]
        seen: dict[str, int] = {}
        for i, lab in enumerate(labs):
            if lab == "":
                raise InputError("empty study label", self.path, self.line_of(i), column)
            if _unprintable(lab):
                raise InputError(f"study label {lab!r} contains a control character; one line of printable text is expected", self.path, self.line_of(i), column)
            if lab in seen:
                raise InputError(f"duplicated study label {lab!r} (first on line {self.line_of(seen[lab])})", self.path, self.line_of(i), column)
            seen[lab] = i
        return tuple(labs)

    def text(self, column: str, what: str | None = None) -> list[str]:
        """The column's cells as text (stripped). With ``what`` (e.g. ``"a study identifier"``) every
        cell must be given: an empty or NA cell is an error naming its line, with the ``na = "omit"`` hint."""
        self.require(column)
        cells = [s.strip() for s in self.frame[column]]
        if what is not None:
            for i, c in enumerate(cells):
                if _is_missing(c):
                    raise InputError(f"{missing_cell(c)}; {what} is expected ({NA_HINT})", self.path, self.line_of(i), column)
        return cells

    def omit_missing(self, columns, slab=None) -> tuple["Dataset", tuple]:
        """Leave out the studies with an empty or NA cell in any of ``columns``.

        What metafor does with ``na.action = "na.omit"`` (rma: "Studies with
        NAs omitted from model fitting."), made explicit: returns the reduced
        dataset (file line numbers unchanged) and one record per dropped study
        ``{"line", "study", "columns", "reason"}`` for the report and the JSON.
        """
        keep, dropped = [], []
        for i in range(self.k):
            empty = [c for c in columns if _is_missing(self.frame[c].iloc[i])]
            if empty:
                label = self.frame[slab].iloc[i].strip() if slab and slab in self.frame.columns else str(i + 1)
                dropped.append({"line": self.line_of(i), "study": label, "columns": empty,
                                "reason": f"empty or NA in {', '.join(empty)} (na = \"omit\")"})
            else:
                keep.append(i)
        if not dropped:
            return self, ()
        if not keep:
            raise InputError(f"every study has an empty or NA cell in {', '.join(columns)}; nothing is left to analyse", self.path)
        return Dataset(self.name, self.path, self.frame.iloc[keep]), tuple(dropped)


def _is_missing(raw) -> bool:
    text = str(raw).strip()
    return text == "" or text.upper() in ("NA", "NAN")


def _unprintable(text: str) -> bool:
    import unicodedata

    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") and ch != "\t" for ch in text)


def read_csv(path, name=None) -> Dataset:
    """Read a comma-separated, UTF-8 file with a header line into a :class:`Dataset`."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such data file" if not path.exists() else "not a file", path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read the file ({e.strerror})", path) from None
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise InputError("the file is UTF-16 text; save it as UTF-8 (comma-separated)", path, 1)
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 text (byte 0x{data[e.start]:02x}); save the file as UTF-8", path, line) from None
    if "\x00" in raw:
        line = raw[: raw.index("\x00")].count("\n") + 1
        raise InputError("a NUL byte: this is not a text file (a corrupted or binary file?)", path, line)
    reader = csv.reader(raw.splitlines())
    try:
        rows = list(reader)
    except csv.Error as e:
        raise InputError(f"not readable as CSV: {e}", path, reader.line_num) from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InputError("the file is empty; a header line with column names is expected", path)
    header = [h.strip() for h in rows[0]]
    if len(header) == 1:
        for d in _DELIMS:
            if d in header[0]:
                raise InputError(f"only one column was found ({header[0]!r}); the file looks {d!r}-separated, but metaharness reads comma-separated files", path, 1)
    for j, h in enumerate(header):
        if h == "":
            raise InputError(f"column {j + 1} has no name in the header", path, 1)
        if _unprintable(h):
            raise InputError(f"column {j + 1} name {h!r} contains a control character", path, 1)
    dup = {h for h in header if header.count(h) > 1}
    if dup:
        raise InputError(f"duplicated column name(s) in the header: {', '.join(sorted(dup))}", path, 1)
    body = []
    for lineno, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank line
        if len(row) != len(header):
            hint = ""
            joined = ",".join(row)
            for d in _DELIMS:
                if d in joined:
                    hint = f"; the line contains {d!r}: metaharness reads comma-separated files with '.' as decimal point"
                    break
            raise InputError(f"{len(row)} fields where the header has {len(header)}{hint}", path, lineno)
        body.append((lineno - 2, row))
    if not body:
        raise InputError("the file has a header but no study rows", path)
    frame = pd.DataFrame([r for _, r in body], columns=header, index=[i for i, _ in body], dtype=object)
    return Dataset(name or path.parent.name, path, frame)
