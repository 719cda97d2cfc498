"""Fixture specs: a TOML file naming a dataset, its source, and its analyses.

Layout (keys are metafor's and robumeta's argument names wherever they exist)::

    [dataset]
    name = "normand1999"
    data = "data.csv"            # relative to this file
    slab = "source"              # study label column (optional)
    source = "Normand (1999) Stat Med 18:321-359, via metadat::dat.normand1999"

    [defaults]                   # optional: keys shared by every analysis
    measure = "MD"

    [[analysis]]
    id = "normand1999-MD"
    method = ["FE", "DL", "REML"]   # a list expands into one analysis per value
    [analysis.tolerance]
    tau2 = { rtol = 1e-8, atol = 1e-10 }

List values of the keys an analysis kind marks as expandable (``method``,
``test``, ...) give one analysis per combination, with the values appended to
the id (``normand1999-MD-REML``). Unknown keys, wrong types and unknown values
are errors that name the file and the key, with a did-you-mean.
"""
from __future__ import annotations

import itertools
import math
import tomllib
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from .compare.tolerance import Tolerance
from .data import Dataset, read_csv
from .errors import InputError

DATASET_KEYS = {"name": str, "data": str, "slab": str, "source": str, "citation": str, "notes": str, "na": str}
#: what each [dataset] key means (``metaharness kinds`` prints it)
DATASET_HELP = {
    "name": "the dataset's name (default: the folder's name)",
    "data": "the CSV file, relative to the spec (required)",
    "slab": "study label column (unique labels; default 1..k)",
    "source": "where the data come from (required)",
    "citation": "a citation of the data's publication",
    "notes": "free text",
    "na": "what an empty or NA cell in a column an analysis uses does: error (default), or omit the study (metafor's na.omit)",
}
#: [dataset] na: what an empty or NA cell in a column an analysis uses does
NA_ACTIONS = ("error", "omit")
TOLERANCE_KEYS = ("rtol", "atol")


@dataclass(frozen=True)
class AnalysisSpec:
    id: str
    kind: str
    options: dict[str, Any]
    tolerances: dict[str, Tolerance]
    fixture: Path
    dataset: Dataset
    slab: str | None = None
    source: str = ""
    #: studies left out before fitting ([dataset] na = "omit"): one dict per
    #: study with its file line, label and the reason (the empty columns)
    dropped: tuple = ()

    def get(self, key, default=None):
        return self.options.get(key, default)

    def __getitem__(self, key):
        return self.options[key]


@dataclass(frozen=True)
class Fixture:
    path: Path
    dataset: Dataset
    source: str
    analyses: list[AnalysisSpec] = field(default_factory=list)


def _did_you_mean(word, choices):
    near = get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _type_name(t):
    return {str: "a string", float: "a number", int: "an integer", bool: "true or false", list: "a list"}.get(t, str(t))


def check_value(path, where, key, value, keyspec):
    """Validate one option against its :class:`~harness.analyses.base.Key`."""
    t = keyspec.type
    if t is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if t is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(f"{where}: `{key}` must be a list of strings", path)
    elif not isinstance(value, t) or (t in (int, float) and isinstance(value, bool)):
        raise InputError(f"{where}: `{key}` must be {_type_name(t)}, not {value!r}", path)
    if t is float and not math.isfinite(value):
        raise InputError(f"{where}: `{key}` must be a finite number, not {value!r}", path)
    if keyspec.choices is not None and value not in keyspec.choices:
        raise InputError(f"{where}: `{key}` = {value!r} is not one of {', '.join(map(str, keyspec.choices))}{_did_you_mean(value, keyspec.choices)}", path)
    if keyspec.check is not None:
        msg = keyspec.check(value)
        if msg:
            raise InputError(f"{where}: `{key}` {msg}", path)
    return value


def _tolerances(path, where, table):
    if not isinstance(table, dict):
        raise InputError(f"{where}: `tolerance` must be a table of quantity = {{ rtol = ..., atol = ... }}", path)
    out = {}
    for q, t in table.items():
        if not isinstance(t, dict) or not t or any(k not in TOLERANCE_KEYS for k in t):
            raise InputError(f"{where}: tolerance for {q!r} must be a table with rtol and/or atol", path)
        for k, v in t.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise InputError(f"{where}: tolerance {q}.{k} must be a non-negative number", path)
        out[q] = (float(t["rtol"]) if "rtol" in t else None, float(t["atol"]) if "atol" in t else None)
    return out


def read_toml(path: Path, what: str) -> dict:
    """A TOML file as a dict; a missing file, non-UTF-8 text or bad TOML is an InputError."""
    if not path.is_file():
        raise InputError(f"no such {what}", path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", path) from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"not valid TOML: {e}", path) from None


def load_fixture(path) -> Fixture:
    """Parse and validate a spec file and its data file (nothing is run)."""
    from .analyses import KINDS  # late import: kinds import spec helpers

    path = Path(path)
    doc = read_toml(path, "spec file")
    top_known = ("dataset", "defaults", "analysis")
    for key in doc:
        if key not in top_known:
            raise InputError(f"unknown top-level key {key!r}{_did_you_mean(key, top_known)}; expected {', '.join(top_known)}", path)
    ds = doc.get("dataset")
    if not isinstance(ds, dict):
        raise InputError("a [dataset] table is required (name, data, source)", path)
    for key, val in ds.items():
        if key not in DATASET_KEYS:
            raise InputError(f"[dataset]: unknown key {key!r}{_did_you_mean(key, DATASET_KEYS)}", path)
        if not isinstance(val, DATASET_KEYS[key]):
            raise InputError(f"[dataset]: `{key}` must be {_type_name(DATASET_KEYS[key])}", path)
    for key in ("data", "source"):
        if key not in ds:
            raise InputError(f"[dataset]: `{key}` is required", path)
    na_action = ds.get("na", "error")
    if na_action not in NA_ACTIONS:
        raise InputError(f"[dataset]: `na` = {na_action!r} is not one of {', '.join(NA_ACTIONS)}{_did_you_mean(na_action, NA_ACTIONS)}", path)
    dataset = read_csv(path.parent / ds["data"], name=ds.get("name", path.parent.name))
    slab = ds.get("slab")
    dataset.labels(slab)  # validates the label column now
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, dict):
        raise InputError("[defaults] must be a table", path)
    raw_analyses = doc.get("analysis", [])
    if not isinstance(raw_analyses, list) or not raw_analyses:
        raise InputError("at least one [[analysis]] table is required", path)
    analyses: list[AnalysisSpec] = []
    seen_ids: set[str] = set()
    for n, raw in enumerate(raw_analyses, start=1):
        if not isinstance(raw, dict):
            raise InputError(f"analysis #{n} must be a table ([[analysis]]), not {raw!r}", path)
        merged = {**defaults, **raw}
        where = f"analysis {merged.get('id', f'#{n}')!s}"
        kind_name = merged.pop("kind", "rma")
        if not isinstance(kind_name, str) or kind_name not in KINDS:
            raise InputError(f"{where}: unknown kind {kind_name!r}{_did_you_mean(kind_name, KINDS)}; known kinds: {', '.join(KINDS)}", path)
        kind = KINDS[kind_name]
        base_id = merged.pop("id", None)
        if not isinstance(base_id, str) or not base_id.strip():
            raise InputError(f"{where}: `id` (a non-empty string) is required", path)
        if _unprintable(base_id) or len(base_id) > 200:
            raise InputError(f"analysis #{n}: `id` {base_id!r} must be one line of printable text (at most 200 characters)", path)
        tol = _tolerances(path, where, merged.pop("tolerance", {}))
        for key in merged:
            if key not in kind.keys:
                raise InputError(f"{where}: unknown key {key!r} for kind {kind_name!r}{_did_you_mean(key, kind.keys)}; "
                                 f"its keys are {', '.join(kind.keys)} (`metaharness kinds {kind_name}` describes them)", path)
        given = frozenset(merged)
        grid_keys = [k for k, v in merged.items() if isinstance(v, list) and kind.keys[k].expand]
        for k in grid_keys:
            if not merged[k]:
                raise InputError(f"{where}: `{k}` = [] would expand into no analyses; give at least one value", path)
            if len(set(map(repr, merged[k]))) != len(merged[k]):
                raise InputError(f"{where}: `{k}` lists a value twice ({merged[k]!r})", path)
        combos = itertools.product(*(merged[k] for k in grid_keys)) if grid_keys else [()]
        for combo in combos:
            opts = dict(merged)
            opts.update(zip(grid_keys, combo))
            aid = "-".join([base_id, *map(str, combo)])
            for key, keyspec in kind.keys.items():
                if key in opts:
                    opts[key] = check_value(path, f"analysis {aid}", key, opts[key], keyspec)
                elif keyspec.required:
                    raise InputError(f"analysis {aid}: `{key}` is required for kind {kind_name!r}", path)
                elif keyspec.default is not None:
                    opts[key] = keyspec.default
            if aid in seen_ids:
                raise InputError(f"analysis id {aid!r} is used twice", path)
            seen_ids.add(aid)
            _check_requires(path, aid, kind, opts, given)
            data_a, dropped = dataset, ()
            if na_action == "omit":
                data_a, dropped = dataset.omit_missing(_data_columns(kind, opts, dataset), slab)
            spec = AnalysisSpec(aid, kind_name, opts, {}, path, data_a, slab, ds["source"], dropped)
            tols = {q: kind.tolerance_from_override(spec, q, rt, at) for q, (rt, at) in tol.items()}
            spec = AnalysisSpec(aid, kind_name, opts, tols, path, data_a, slab, ds["source"], dropped)
            kind.check_options(spec, given)
            kind.check(spec)
            analyses.append(spec)
    return Fixture(path, dataset, ds["source"], analyses)


def _unprintable(text: str) -> bool:
    """True if ``text`` holds a control character (a newline could forge report lines)."""
    import unicodedata

    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text)


def _check_requires(path, aid, kind, opts, given):
    """:attr:`Key.requires` rules: a key the spec sets needs other options to take given values."""
    for key in sorted(given):
        rule = kind.keys[key].requires if key in kind.keys else None
        for other, allowed in (rule or {}).items():
            if opts.get(other) not in allowed:
                want = " or ".join(repr(a) for a in allowed)
                raise InputError(f"analysis {aid}: `{key}` applies only when `{other}` is {want}, but `{other}` is {opts.get(other)!r}; "
                                 f"remove `{key}` or set `{other}` = {allowed[0]!r}", path)


def _data_columns(kind, opts, dataset) -> list[str]:
    """The data columns an analysis uses (its kind says which: :meth:`AnalysisKind.columns_used`)."""
    return kind.columns_used(opts, dataset)


def discover(paths) -> list[Path]:
    """Spec files named by ``paths``: files as given; folders are searched for
    ``spec.toml`` and ``*.spec.toml`` (other TOML files, such as published-results
    files for ``audit``, are not fixtures)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            tomls = set(p.rglob("*.toml"))
            found = {q for q in tomls if q.name == "spec.toml" or q.name.endswith(".spec.toml")}
            if not found:
                others = sorted(str(q.relative_to(p)) for q in tomls)
                which = "which is not a spec by name" if len(others) == 1 else "which are not specs by name"
                seen = f"; it holds {', '.join(others[:5])}{' ...' if len(others) > 5 else ''}, {which}" if others else ""
                raise InputError(f"no spec file in this folder (looked for spec.toml and *.spec.toml, in it and below){seen}: "
                                 "name a spec spec.toml or <name>.spec.toml, or give the file itself", p)
            out.extend(sorted(found))
        elif p.is_file():
            out.append(p)
        else:
            raise InputError("no such file or folder", p)
    return out
