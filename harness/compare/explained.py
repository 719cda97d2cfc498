"""Registry of explained differences: known, documented, bounded.

Some differences between two computations are expected by design: RevMan 5's
SMD is not metafor's SMD (approximate vs exact small-sample correction, and a
different variance). The comparison layer must not call such a difference
agreement (it is not) nor an unexplained failure (it is understood). Each
entry of ``explained.toml`` (next to this module; format documented there)
names the quantities it covers, the conditions under which it applies, the
largest difference it explains, the cause and a reference.

:func:`explain` is what any analysis kind's ``explain(spec, record)`` consults
(the default in :class:`harness.analyses.base.AnalysisKind` passes the
kind's :meth:`explain_context`); the audit uses it for convention
differences. A matching difference becomes ``explained`` with a reason of the
form ``"<id>: <cause> (difference 1.2e-3 relative, bound 5e-2)"``.

Conditions on R package versions (``when.metafor``, ``when.robumeta``,
``when.clubSandwich``) are version conditions, :func:`version_matches`: an
entry explains a difference only for the releases it was checked with.
"""
from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .tolerance import EPS

#: package data of harness.compare (in a wheel as in the repository)
REGISTRY = resources.files(__package__) / "explained.toml"
_KEYS = {"id", "quantities", "when", "max_rel_diff", "max_abs_diff", "rel_bound", "cause", "reference"}
#: ``when`` keys that are R package versions: their values are version conditions
VERSION_KEYS = ("metafor", "robumeta", "clubSandwich")
_VERSION_OPS = (">=", "<=", "==", "!=", ">", "<")


def version_matches(have, condition) -> bool:
    """Whether the R package version ``have`` meets ``condition``.

    ``condition`` is a version (``"5.0-1"``: that release), a comma-separated
    list of comparisons that must all hold (``">=4.8-0, <5.0-1"``; operators
    ``>= <= == != > <``, versions compared as R's ``package_version``), or a
    list of such conditions of which one must hold. An unknown version
    (``have`` None) meets none.
    """
    from ..core.versions import Version

    if have is None:
        return False
    if isinstance(condition, list):
        return any(version_matches(have, c) for c in condition)
    v = Version(str(have))
    for clause in str(condition).split(","):
        clause = clause.strip()
        op = next((o for o in _VERSION_OPS if clause.startswith(o)), "==")
        want = Version(clause[len(op):].strip() if clause.startswith(op) else clause)
        ok = {">=": v >= want, "<=": v <= want, "==": v == want, "!=": v != want, ">": v > want, "<": v < want}[op]
        if not ok:
            return False
    return True


def _check_version_condition(condition) -> str | None:
    """None if ``condition`` is a well-formed version condition, else what is wrong."""
    try:
        version_matches("1.0", condition)
    except (ValueError, TypeError) as e:
        return str(e)
    return None


@dataclass(frozen=True)
class Explanation:
    id: str
    quantities: tuple[str, ...]
    when: dict
    max_rel_diff: float
    max_abs_diff: float
    cause: str
    reference: str
    #: a bound that depends on the data: ``"4 * eps * vi_ratio^2"`` (C * eps * NAME^P, NAME a
    #: measured number of the context); the relative bound is then the smaller of it and max_rel_diff
    rel_bound: str | None = None

    def covers(self, quantity: str) -> bool:
        """Whether ``quantity`` (or its base name, without ``[index]``) is one of :attr:`quantities`."""
        base = quantity.split("[", 1)[0]
        return any(fnmatchcase(quantity, q) or fnmatchcase(base, q) for q in self.quantities)

    def measures(self) -> set:
        """The context keys this entry reads: its conditions' and its measured bound's."""
        return set(self.when) | ({_bound_terms(self.rel_bound)[1]} if self.rel_bound else set())

    def applies(self, quantity: str, context: dict) -> bool:
        if not self.covers(quantity):
            return False
        for key, want in self.when.items():
            have = context.get(key)
            if key in VERSION_KEYS:
                if not version_matches(have, want):
                    return False
                continue
            if key == "conventions":
                if have is None or {str(x) for x in have} != set(want):
                    return False
                continue
            if isinstance(want, str) and want[:1] in "<>":
                if not _measured(have, want):
                    return False
                continue
            wants = want if isinstance(want, list) else [want]
            if have is None or str(have) not in wants:
                return False
        return True

    def rel_limit(self, context: dict | None = None) -> float:
        """The relative bound in this context (``rel_bound`` evaluated on it, capped by ``max_rel_diff``)."""
        if self.rel_bound is None:
            return self.max_rel_diff
        c, name, power = _bound_terms(self.rel_bound)
        have = (context or {}).get(name)
        try:
            x = float(have)
        except (TypeError, ValueError):
            return 0.0  # the measure is missing: the entry explains nothing
        if math.isnan(x):
            return 0.0
        return min(self.max_rel_diff, c * EPS * x**power)

    def within(self, abs_diff: float | None, rel_diff: float | None, context: dict | None = None, rel_sym: float | None = None) -> bool:
        if abs_diff is None or (isinstance(abs_diff, float) and math.isnan(abs_diff)):
            # no size (a value undefined on one side): only an entry without a bound covers it
            return math.isinf(self.max_rel_diff)
        if abs_diff <= self.max_abs_diff:
            return True
        if self.rel_bound is not None and rel_sym is not None:
            # a measured bound is on the error of either value: relative to the larger of the two
            # (metafor's QE clamped to 0 by max(0, y'Py) is still measured against Python's)
            return rel_sym <= self.rel_limit(context)
        return rel_diff is not None and rel_diff <= self.rel_limit(context)

    def reason(self, abs_diff, rel_diff, context: dict | None = None) -> str:
        if abs_diff is None:
            size = "value undefined on one side"
        elif rel_diff is not None and math.isfinite(rel_diff):
            size = f"difference {abs_diff:.2g} absolute, {rel_diff:.2g} relative"
        else:
            size = f"difference {abs_diff:.2g} absolute"
        bound = f"{self.rel_limit(context):.2g} relative ({self.rel_bound} here)" if self.rel_bound else f"{self.max_rel_diff:g} relative"
        return f"{self.id}: {self.cause} ({size}; bound {bound} or {self.max_abs_diff:g} absolute) [{self.reference}]"


_BOUND = re.compile(r"^\s*([0-9.eE+-]+)\s*\*\s*eps\s*\*\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\^\s*([0-9.]+))?\s*$")


def _bound_terms(text: str):
    """``"4 * eps * vi_ratio^2"`` -> (4.0, "vi_ratio", 2.0); ValueError for anything else."""
    m = _BOUND.match(text)
    if not m:
        raise ValueError(f"rel_bound {text!r} is not of the form 'C * eps * NAME^P'")
    return float(m.group(1)), m.group(2), float(m.group(3) or 1)


_OPS = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, "<": lambda a, b: a < b}


def _condition(want: str):
    """``">= 1e7"`` -> (operator, number); None when ``want`` is no such condition."""
    for op in (">=", "<=", ">", "<"):
        if want.startswith(op):
            try:
                return op, float(want[len(op):])
            except ValueError:
                return None
    return None


def _measured(have, want: str) -> bool:
    """A measured condition (``when = { vi_ratio = ">= 1e7" }``) on a number of the context."""
    cond = _condition(want)
    if cond is None or have is None:
        return False
    try:
        x = float(have)
    except (TypeError, ValueError):
        return False
    return not math.isnan(x) and _OPS[cond[0]](x, cond[1])


def _fail(msg, path):
    from ..errors import InputError

    raise InputError(msg, path)


@lru_cache(maxsize=4)
def load(path=REGISTRY) -> tuple[Explanation, ...]:
    """Read and validate the registry (a path or an importlib.resources file; errors name the file and the entry)."""
    doc = tomllib.loads((Path(path) if isinstance(path, str) else path).read_text(encoding="utf-8"))
    out, seen = [], set()
    for i, e in enumerate(doc.get("explanation", []), start=1):
        where = f"explanation #{i} ({e.get('id', '?')})"
        unknown = set(e) - _KEYS
        if unknown:
            _fail(f"{where}: unknown key(s) {', '.join(sorted(unknown))}", path)
        for key in ("id", "quantities", "when", "max_rel_diff", "cause", "reference"):
            if key not in e:
                _fail(f"{where}: `{key}` is required", path)
        if e["id"] in seen:
            _fail(f"{where}: duplicated id", path)
        seen.add(e["id"])
        when = dict(e["when"])
        for key, want in when.items():
            if key not in VERSION_KEYS and isinstance(want, str) and want[:1] in "<>" and _condition(want) is None:
                _fail(f"{where}: `when.{key}` = {want!r} is not a measured condition such as \">= 1e7\"", path)
        if "conventions" in when and (not isinstance(when["conventions"], list) or len(when["conventions"]) != 2):
            _fail(f"{where}: `when.conventions` must list two conventions", path)
        for key in VERSION_KEYS:
            if key in when:
                bad = _check_version_condition(when[key])
                if bad:
                    _fail(f"{where}: `when.{key}` is not a version condition ({bad}); e.g. \">=5.0-1\" or [\"3.8-1\", \"4.8-0\"]", path)
        if "rel_bound" in e:
            try:
                _bound_terms(str(e["rel_bound"]))
            except ValueError as err:
                _fail(f"{where}: {err}", path)
        out.append(Explanation(e["id"], tuple(e["quantities"]), when, float(e["max_rel_diff"]), float(e.get("max_abs_diff", 0.0)), e["cause"], e["reference"],
                               e.get("rel_bound")))
    return tuple(out)


def reads(quantity: str, key: str, registry=None) -> bool:
    """Whether an entry covering ``quantity`` reads the context key ``key`` (:meth:`Explanation.measures`):
    a measure that is costly to take (a refit) need only be taken for such a quantity."""
    return any(key in e.measures() and e.covers(quantity) for e in (registry if registry is not None else load()))


def find(quantity: str, context: dict, abs_diff=None, rel_diff=None, registry=None, rel_sym=None) -> Explanation | None:
    """The first entry that applies to ``quantity`` in ``context`` and covers the difference's size
    (``rel_sym``: the difference relative to the larger of the two values, for measured bounds)."""
    for e in registry if registry is not None else load():
        if e.applies(quantity, context) and (abs_diff is None or e.within(abs_diff, rel_diff, context, rel_sym)):
            return e
    return None


def explain(context: dict, record) -> str | None:
    """Reason for a :class:`~harness.compare.compare.Record`'s difference, or None.

    The entry must cover the difference's size; a difference without a size
    (NaN on one side) only by an entry without a bound (``max_rel_diff = inf``),
    and never by a bound measured on the data (``rel_bound``).
    """
    rel_sym = None
    if record.abs_diff is not None and record.python is not None and record.r is not None:
        big = max(abs(float(record.python)), abs(float(record.r)))
        rel_sym = record.abs_diff / big if big > 0 else 0.0
    for e in load():
        if record.abs_diff is None and e.rel_bound is not None:
            continue  # a number on one side only is never within a measured bound
        if e.applies(record.name, context) and e.within(record.abs_diff, record.rel_diff, context, rel_sym):
            return e.reason(record.abs_diff, record.rel_diff, context)
    return None
