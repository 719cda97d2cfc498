"""What an analysis kind is: its spec keys, its Python run, its R run, its tolerances.

A kind (``rma``, ``robu``, ...) is one module in this package. The rest of the
harness (spec loading, verification, reports, CLI) only talks to this
interface, so adding a kind touches one file plus one line in ``__init__``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from ..compare.tolerance import CLOSED, Tolerance
from ..errors import InputError

#: names that may reach R (as data, never as code): R syntactic names.
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9._]*$")


def check_r_name(value):
    """Key check: a column name that R receives must be a syntactic R name."""
    vals = value if isinstance(value, list) else [value]
    for v in vals:
        if not NAME_RE.match(v):
            return f"contains {v!r}, which is not a plain column name (letters, digits, '.' and '_', starting with a letter)"
    return None


@dataclass(frozen=True)
class Key:
    """One spec key of an analysis kind."""

    type: type
    default: Any = None
    choices: tuple | None = None
    expand: bool = False  # a list value expands into several analyses
    required: bool = False
    check: Callable[[Any], str | None] | None = None
    help: str = ""


@dataclass
class Outcome:
    """What one engine produced for one analysis.

    ``values`` maps quantity names to floats (NaN where the engine says the
    quantity is undefined); ``error`` is the engine's own message when it
    failed; ``warnings`` are the engine's warnings, verbatim.
    """

    values: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)


class AnalysisKind:
    name: str = ""
    keys: dict[str, Key] = {}

    def check(self, spec) -> None:
        """Semantic checks against the dataset (columns exist, values valid)."""

    def run_python(self, spec) -> Outcome:
        raise NotImplementedError

    def run_r(self, spec, engine) -> Outcome:
        raise NotImplementedError

    def tolerance_class(self, spec, quantity: str) -> Tolerance:
        return CLOSED

    def tolerance(self, spec, quantity: str) -> Tolerance:
        """Default for the quantity, overridden by the spec (exact name, then base name, then ``*``)."""
        base = quantity.split("[", 1)[0]
        for key in (quantity, base, "*"):
            if key in spec.tolerances:
                return spec.tolerances[key]
        return self.tolerance_class(spec, quantity)

    def tolerance_from_override(self, spec, quantity, rtol, atol) -> Tolerance:
        d = self.tolerance_class(spec, quantity if quantity != "*" else "beta")
        return Tolerance(d.rtol if rtol is None else rtol, d.atol if atol is None else atol)

    def explain_context(self, spec) -> dict:
        """What the explained-differences registry matches on (kind, spec options)."""
        return {"kind": self.name, **spec.options}

    def explain(self, spec, record) -> str | None:
        """A known, expected reason for a difference, or None.

        Default: the registry of explained differences
        (:mod:`harness.compare.explained`) with :meth:`explain_context`.
        """
        from ..compare.explained import explain

        return explain(self.explain_context(spec), record)


def require_columns(spec, roles):
    """Check that each role's column (``spec[role]``) exists in the data file."""
    for role in roles:
        col = spec.get(role)
        if col is None:
            raise InputError(f"analysis {spec.id}: `{role}` (a column name) is required", spec.fixture)
        spec.dataset.require(col, f"the `{role}` column")
