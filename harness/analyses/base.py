"""What an analysis kind is: its spec keys, its Python run, its R run, its tolerances.

A kind (``rma``, ``robu``, ...) is one module in this package. The rest of the
harness (spec loading, verification, reports, CLI) only talks to this
interface, so adding a kind touches one file plus one line in ``__init__``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..compare.tolerance import CLOSED, Tolerance
from ..core.design import redundant_columns  # noqa: F401  (kinds import it from here)
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


def _check_favours(value):
    if len(value) != 2 or not all(v.strip() for v in value):
        return 'must be two labels, left and right of the line of no effect, e.g. ["Favours exercise", "Favours usual care"]'
    return None


#: the forest plot's labels under the axis (RevMan's "Favours ..."); every kind takes it
FAVOURS = Key(list, default=[], check=_check_favours,
              help='forest plot labels under the axis, left and right of no effect, e.g. ["Favours exercise", "Favours usual care"]')


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

    def columns_used(self, opts: dict, dataset) -> list[str]:
        """The data columns an analysis uses ([dataset] ``na = "omit"`` drops the studies with an
        empty or NA cell in any of them): the values of its column-name keys that are columns of the
        file. Kinds whose inputs depend on other options (e.g. ``measure``) leave out the others."""
        cols: list[str] = []
        for key, keyspec in self.keys.items():
            if keyspec.check is not check_r_name or key not in opts or key in self.unused_keys(opts):
                continue
            vals = opts[key] if isinstance(opts[key], list) else [opts[key]]
            cols += [v for v in vals if isinstance(v, str) and v in dataset.columns and v not in cols]
        return cols

    def unused_keys(self, opts: dict) -> set:
        """Column keys that this analysis does not read (given its other options)."""
        return set()

    def shown_options(self, options: dict) -> dict:
        """The options that apply to an analysis, for its report (the options line): empty values,
        column roles given their own name (``m1i = "m1i"``) and options that do not apply to this
        model left out. Kinds refine it."""
        return {k: v for k, v in options.items() if v not in (None, [], {}, "") and v != k}  # v == k: a column of the role's own name

    def run_python(self, spec) -> Outcome:
        raise NotImplementedError

    def run_r(self, spec, engine) -> Outcome:
        raise NotImplementedError

    def tolerance_class(self, spec, quantity: str) -> Tolerance:
        """The default tolerance of ``quantity``. A function of its base name (``yi`` for
        ``yi[3]``) and the spec: :func:`~harness.compare.compare.compare_outcomes` looks it up
        once per base name of an analysis."""
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

    def remember_python(self, spec, python: Outcome) -> None:
        """Keep what this kind's tolerances and explanations of ``spec`` need from its Python
        outcome ``python`` (say the fit), so that they need not run the analysis again.
        Called by :func:`~harness.compare.compare.compare_outcomes` before any quantity is
        compared. Default: nothing."""

    def explain_context(self, spec) -> dict:
        """What the explained-differences registry matches on: kind, spec options, and the
        R package releases of the run (:func:`version_context`)."""
        return {"kind": self.name, **spec.options, **version_context(spec)}

    def explain_error(self, spec, py, r) -> str | None:
        """A known, expected reason why exactly one engine failed (``py.error`` or
        ``r.error`` is set, not both), or None: then the error is a disagreement."""
        return None

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


def _check_metafor(value):
    from ..core.versions import supported_metafor

    try:
        supported_metafor(value)
    except ValueError as e:
        return str(e).split(": ", 1)[1]
    return None


#: the spec key every kind takes: the metafor release whose behaviour the Python
#: side follows. Normally left out: in a side-by-side run the R engine's release
#: is followed; a spec that names one and meets an R engine with another is a
#: version mismatch (reported, nothing compared).
METAFOR_KEY = Key(str, check=_check_metafor, help="metafor release to follow (3.8-1, 4.8-0 or 5.0-1); default: the R engine's, without R 5.0-1; "
                  "naming one that differs from the R engine's is reported as a version mismatch")


def metafor_of(spec):
    """The :class:`~harness.core.versions.Conventions` an analysis follows on the Python side.

    ``spec["metafor"]``: set by :func:`follow_engine` to the R engine's
    release in a side-by-side run, or named in the spec; else the default.
    """
    from ..core.versions import conventions

    return conventions(spec.get("metafor"))


def follow_engine(spec, engine_versions: dict | None):
    """``spec`` set to follow the R engine's metafor release (``engine_versions["metafor"]``).

    Returns a spec whose option ``metafor`` is the release the Python side
    follows (the engine's; the spec's own or the default without an engine),
    so that the run, its JSON record and the registry of explained differences
    all see it. Raises :class:`~harness.core.versions.VersionMismatch` when the
    spec names a release and the engine has another.
    """
    import dataclasses

    from ..core.versions import follow

    engine = (engine_versions or {}).get("metafor")
    version, _ = follow(spec.get("metafor"), engine)
    options = {**spec.options, "metafor": version.text}
    others = {p: engine_versions[p] for p in R_VERSIONED if p != "metafor" and (engine_versions or {}).get(p)}
    if others:
        options["r_versions"] = others
    return dataclasses.replace(spec, options=options)


#: R packages whose release an explanation may be conditioned on (harness.compare.explained.VERSION_KEYS)
R_VERSIONED = ("metafor", "robumeta", "clubSandwich")


def version_context(spec) -> dict:
    """The R package releases an analysis ran with, for the registry: ``metafor`` (the
    release the Python side followed) and, from the R engine, ``robumeta`` and
    ``clubSandwich`` (set by :func:`follow_engine`; absent without R)."""
    out = {"metafor": metafor_of(spec).version.text}  # the spec's, the engine's (follow_engine) or the default
    out.update(spec.get("r_versions") or {})
    return out


def is_categorical(ds, col) -> bool:
    """A moderator column is categorical when any of its cells is not a number (as R's read.csv
    makes a text column a factor); an empty or NA cell is an error naming it, with the ``na`` hint."""
    cells = ds.text(col, what="a moderator value")
    try:
        [float(c) for c in cells]
    except ValueError:
        return True
    return False


def arm_inputs(spec, roles) -> dict:
    """Arm-level columns by role, validated (errors name file, line and column): SDs > 0, sample
    sizes >= 2, and positive means for the log ratio of means (measure ROM)."""
    ds = spec.dataset
    out = {}
    for role in roles:
        if role.startswith("sd"):
            out[role] = ds.numeric(spec[role], lower=0, lower_inclusive=False, what="a standard deviation")
        elif role == "pi":
            p = ds.numeric(spec[role], lower=-1, what="a two-sided p-value signed by the direction of the effect")
            for i in np.flatnonzero((np.abs(p) > 1) | (p == 0)):
                raise InputError(f"{p[i]:g} is out of range: a signed two-sided p-value must be in [-1, 0) or (0, 1]", ds.path, ds.line_of(i), spec[role])
            out[role] = p
        elif role.startswith("n"):
            out[role] = ds.numeric(spec[role], lower=2, what="a sample size", why="a standard deviation needs at least two observations per arm")
        else:
            out[role] = ds.numeric(spec[role])
    if spec.get("measure") == "ROM":
        for role in ("m1i", "m2i"):
            ds.numeric(spec[role], lower=0, lower_inclusive=False, what="a mean (the log ratio of means needs positive means)")
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
