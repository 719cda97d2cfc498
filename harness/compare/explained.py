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
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path

REGISTRY = Path(__file__).with_name("explained.toml")
_KEYS = {"id", "quantities", "when", "max_rel_diff", "max_abs_diff", "cause", "reference"}
#: ``when`` keys that are R package versions: their values are version conditions
VERSION_KEYS = ("metafor", "robumeta", "clubSandwich")
_OPS = (">=", "<=", "==", "!=", ">", "<")


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
        op = next((o for o in _OPS if clause.startswith(o)), "==")
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

    def applies(self, quantity: str, context: dict) -> bool:
        base = quantity
        if not any(fnmatchcase(quantity, q) or fnmatchcase(base.split("[", 1)[0], q) for q in self.quantities):
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
            wants = want if isinstance(want, list) else [want]
            if have is None or str(have) not in wants:
                return False
        return True

    def within(self, abs_diff: float | None, rel_diff: float | None) -> bool:
        if abs_diff is None or (isinstance(abs_diff, float) and math.isnan(abs_diff)):
            return False
        if abs_diff <= self.max_abs_diff:
            return True
        return rel_diff is not None and rel_diff <= self.max_rel_diff

    def reason(self, abs_diff, rel_diff) -> str:
        size = f"difference {abs_diff:.2g} absolute, {rel_diff:.2g} relative" if rel_diff is not None and math.isfinite(rel_diff) else f"difference {abs_diff:.2g} absolute"
        return f"{self.id}: {self.cause} ({size}; bound {self.max_rel_diff:g} relative or {self.max_abs_diff:g} absolute) [{self.reference}]"


def _fail(msg, path):
    from ..errors import InputError

    raise InputError(msg, path)


@lru_cache(maxsize=4)
def load(path: Path = REGISTRY) -> tuple[Explanation, ...]:
    """Read and validate the registry (errors name the file and the entry)."""
    doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
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
        if "conventions" in when and (not isinstance(when["conventions"], list) or len(when["conventions"]) != 2):
            _fail(f"{where}: `when.conventions` must list two conventions", path)
        for key in VERSION_KEYS:
            if key in when:
                bad = _check_version_condition(when[key])
                if bad:
                    _fail(f"{where}: `when.{key}` is not a version condition ({bad}); e.g. \">=5.0-1\" or [\"3.8-1\", \"4.8-0\"]", path)
        out.append(Explanation(e["id"], tuple(e["quantities"]), when, float(e["max_rel_diff"]), float(e.get("max_abs_diff", 0.0)), e["cause"], e["reference"]))
    return tuple(out)


def find(quantity: str, context: dict, abs_diff=None, rel_diff=None, registry=None) -> Explanation | None:
    """The first entry that applies to ``quantity`` in ``context`` and covers the difference's size."""
    for e in registry if registry is not None else load():
        if e.applies(quantity, context) and (abs_diff is None or e.within(abs_diff, rel_diff)):
            return e
    return None


def explain(context: dict, record) -> str | None:
    """Reason for a :class:`~harness.compare.compare.Record`'s difference, or None."""
    e = find(record.name, context, record.abs_diff, record.rel_diff)
    return None if e is None else e.reason(record.abs_diff, record.rel_diff)
