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
#: R's reserved words (?Reserved): syntactic-looking, but not usable as variable names
R_RESERVED = frozenset("if else repeat while function for next break in TRUE FALSE NULL Inf NaN NA "
                       "NA_integer_ NA_real_ NA_character_ NA_complex_".split())


def check_r_name(value):
    """Key check: a column name that R receives must be a syntactic R name.

    Letters, digits, '.' and '_', starting with a letter, at most 200
    characters, and not one of R's reserved words. Such names are still only
    passed to R as data (strings turned into symbols with ``as.name``); the
    check makes hostile or confusing names a clear error up front.
    """
    vals = value if isinstance(value, list) else [value]
    for v in vals:
        if not isinstance(v, str) or not NAME_RE.match(v) or len(v) > 200:
            return f"contains {v!r}, which is not a plain column name (letters, digits, '.' and '_', starting with a letter)"
        if v in R_RESERVED:
            return f"contains {v!r}, which is a reserved word in R and cannot name a column in a model; rename the column"
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
    #: cross-option rule: when this key is given in the spec, each named option
    #: must take one of the listed values, e.g. ``requires={"modelweights": ("CORR",)}``
    #: for robumeta's ``rho`` (checked by harness.spec for every kind)
    requires: dict[str, tuple] | None = None


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
    #: parts of R's error messages that mean the fit did not converge (see :meth:`r_nonconvergence`)
    nonconvergence_messages: tuple[str, ...] = ()

    def r_nonconvergence(self, error: str | None) -> bool:
        """Whether R's error ``error`` says the fit did not converge (when Python says so too,
        the engines agree on that outcome). Used by ``run_r`` and for stored R outcomes."""
        return bool(error) and any(m in error for m in self.nonconvergence_messages)

    def check(self, spec) -> None:
        """Semantic checks against the dataset (columns exist, values valid)."""

    def check_options(self, spec, given: frozenset) -> None:
        """Cross-option checks beyond :attr:`Key.requires` (raise InputError).

        ``given`` holds the keys the spec set explicitly (the others have their
        defaults). Called by :func:`harness.spec.load_fixture` before
        :meth:`check`, for every expanded analysis; nothing has run yet.
        """

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

    def condition_number(self, spec) -> float | None:
        """Condition number of the analysis's weighted design matrix W^1/2 X, or None (no design).

        Rounding in a design this ill-conditioned is amplified up to kappa^2 eps relative
        (:func:`harness.compare.tolerance.rounding_bound`): the snapshot check allows that much
        movement between machines, and kinds may explain engine differences within it.
        """
        return None

    def explain(self, spec, record) -> str | None:
        """A known, expected reason for a difference, or None.

        Default: the registry of explained differences
        (:mod:`harness.compare.explained`) with :meth:`explain_context`.
        """
        from ..compare.explained import explain

        return explain(self.explain_context(spec), record)


def weighted_condition(X, vi) -> float:
    """2-norm condition number of W^1/2 X with the inverse-variance weights W = diag(1/vi).

    The tau^2 = 0 weights: a fitted model's weights rescale the rows by factors in (0, 1]
    (vi / (vi + tau^2), or robumeta's per-study ones), which changes kappa by at most the
    ratio of the largest to the smallest factor; the column scales (an unscaled ``year`` next
    to the intercept) are what make kappa large.
    """
    import numpy as np

    X = np.asarray(X, dtype=float)
    return float(np.linalg.cond(X / np.sqrt(np.asarray(vi, dtype=float))[:, None]))


def design_with_intercept(M, intercept: bool, k: int):
    """The model matrix: a column of ones (with ``intercept``) and the moderator columns ``M`` (k x m or None)."""
    import numpy as np

    cols = ([np.ones(k)] if intercept else []) + ([] if M is None else list(np.asarray(M, dtype=float).T))
    return np.column_stack(cols)


def redundant_columns(X, names, rtol=1e-7) -> list[str]:
    """Columns of the model matrix ``X`` that are linear combinations of earlier ones.

    Mirrors what metafor does before dropping "redundant predictors" (it fits
    ``lm(yi ~ X - 1)`` and drops the coefficients R's pivoting QR leaves NA,
    tolerance 1e-7): columns are taken left to right and one that does not
    raise the rank of the column-normalised matrix (singular values below
    ``rtol`` times the largest) is redundant. A kind reports a non-empty
    answer as a numerical breakdown of the Python side instead of numbers.
    """
    import numpy as np

    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] == 0:
        return []
    norms = np.linalg.norm(X, axis=0)
    keep, out = [], []
    for j in range(X.shape[1]):
        if not np.isfinite(norms[j]) or norms[j] == 0:
            out.append(names[j])
            continue
        cols = X[:, keep + [j]] / norms[keep + [j]]
        sv = np.linalg.svd(cols, compute_uv=False)
        if len(sv) < len(keep) + 1 or sv[-1] <= rtol * sv[0]:
            out.append(names[j])
        else:
            keep.append(j)
    return out


def require_columns(spec, roles):
    """Check that each role's column (``spec[role]``) exists in the data file."""
    for role in roles:
        col = spec.get(role)
        if col is None:
            raise InputError(f"analysis {spec.id}: `{role}` (a column name) is required", spec.fixture)
        spec.dataset.require(col, f"the `{role}` column")


def check_moderators(spec):
    """Shared checks of ``mods``/``factors``/``intercept``: every moderator is a
    column, every factor is a moderator, and a model without intercept has one."""
    for m in spec["mods"]:
        spec.dataset.require(m, "moderator")
    for f in spec["factors"]:
        if f not in spec["mods"]:
            raise InputError(f"analysis {spec.id}: `factors` names {f!r}, which is not in `mods`", spec.fixture)
    if not spec["intercept"] and not spec["mods"]:
        raise InputError(f"analysis {spec.id}: a model without intercept needs `mods`", spec.fixture)
