"""Exceptions of metaharness. Every input error names where the problem is."""
from __future__ import annotations


class HarnessError(Exception):
    """Base class."""


class InputError(HarnessError):
    """Bad input: a data file, a spec file or an argument.

    ``path``, ``line`` and ``column`` locate the problem; ``str()`` gives one
    readable sentence such as
    ``fixtures/x/data.csv, line 5, column 'sd1i': 'abc' is not a number``.
    """

    def __init__(self, message, path=None, line=None, column=None):
        self.path, self.line, self.column, self.reason = path, line, column, message
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class EngineUnavailable(HarnessError):
    """An engine (R, or one of its packages) cannot run; the message says how to fix it."""


class EngineError(HarnessError):
    """An engine raised an error inside one analysis; carries the engine's own message."""

    def __init__(self, message, warnings=()):
        self.warnings = list(warnings)
        super().__init__(message)
