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
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from importlib import resources
from pathlib import Path

#: package data of harness.compare (in a wheel as in the repository)
REGISTRY = resources.files(__package__) / "explained.toml"
_KEYS = {"id", "quantities", "when", "max_rel_diff", "max_abs_diff", "cause", "reference"}


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
        if "conventions" in when and (not isinstance(when["conventions"], list) or len(when["conventions"]) != 2):
            _fail(f"{where}: `when.conventions` must list two conventions", path)
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
