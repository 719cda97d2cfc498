"""JSON report (schema 1). See README, "JSON output".

The document a run writes with ``--json FILE``; :data:`JSON_SCHEMA` is its
JSON Schema (draft 2020-12), checked by the tests against real output.

Stability: the top-level ``schema`` field is the version (1). Within schema 1
the keys below keep their names and meanings in every release; new keys may be
added (readers must ignore keys they do not know). A change that renames or
removes a key, or changes a meaning, bumps ``schema``.

Numbers are JSON numbers; NaN (undefined) is ``null``; infinities are the
strings ``"inf"``/``"-inf"``. Every number a record holds is the engine's own
double, written with ``repr`` precision (round-trips exactly).

Top level (``verify``)::

    schema          1
    engines         {"python": {component: version}, "r": {component: version}}
    r_unavailable   null, or why R could not start (then every analysis is an engine-error)
    conventions     the metafor release the Python side followed: {"metafor": "5.0-1",
                    "source": "R engine" | "default", "supported": true/false,
                    "behaviours": [{"behaviour", "field", "since", "applies"}, ...]}
                    (harness.core.versions; each analysis's ``options.metafor`` is the
                    release it followed, ``options.r_versions`` R's robumeta/clubSandwich)
    summary         {"analyses": n, "quantities": n, "agree": n, "explained": n,
                     "differ": n, "missing": n, "engine-error": n, "warning": n}
    analyses        [analysis, ...]

analysis::

    id, kind, fixture      the analysis id, its kind (rma, robu, ...), the spec file
    verdict                worst verdict over its quantities (agree < explained < warning
                           < missing < differ < engine-error)
    options                the spec's options after defaults and grid expansion
    python_error, r_error  null or the engine's message
    python_warnings, r_warnings   the engines' warnings, verbatim
    max_rel_diff           largest relative difference over its quantities (null if none)
    seconds                {"python": s, "r": s}
    plot                   forest/funnel plot data (harness.reports.plotdata, its own
                           "version"), or null
    quantities             [record, ...]

record::

    name                   e.g. "beta", "tau2", "yi[Cote]", "weights[Cote]", "b_r[X]"
    python, r              the two values (null: undefined or not reported)
    abs_diff, rel_diff     |python - r| and that over |r| (null when not compared)
    tolerance              {"rtol": x, "atol": x} or null
    verdict                agree | explained | differ | missing | engine-error | warning
    explanation            why (explained differences, NaN on one side, engine errors) or null
"""
from __future__ import annotations

import json
import math
from pathlib import Path

SCHEMA_VERSION = 1

_NUMBER = {"anyOf": [{"type": "number"}, {"type": "null"}, {"enum": ["inf", "-inf"]}]}

JSON_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "metaharness verify report",
    "type": "object",
    "required": ["schema", "engines", "r_unavailable", "summary", "analyses"],
    "properties": {
        "schema": {"const": SCHEMA_VERSION},
        "engines": {
            "type": "object",
            "required": ["python"],
            "properties": {"python": {"type": "object"}, "r": {"type": "object"}},
        },
        "r_unavailable": {"type": ["string", "null"]},
        "conventions": {
            "type": "object",
            "required": ["metafor", "source", "supported", "behaviours"],
            "properties": {
                "metafor": {"type": "string"},
                "source": {"enum": ["R engine", "default"]},
                "supported": {"type": "boolean"},
                "behaviours": {"type": "array", "items": {"type": "object", "required": ["behaviour", "since", "applies"]}},
            },
        },
        "summary": {
            "type": "object",
            "required": ["analyses", "quantities", "agree", "explained", "differ", "missing", "engine-error", "warning"],
            "additionalProperties": {"type": "integer", "minimum": 0},
        },
        "analyses": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "kind", "fixture", "verdict", "options", "python_error", "r_error", "python_warnings", "r_warnings", "max_rel_diff", "seconds", "quantities"],
                "properties": {
                    "id": {"type": "string"},
                    "kind": {"type": "string"},
                    "fixture": {"type": "string"},
                    "verdict": {"enum": ["agree", "explained", "differ", "missing", "engine-error", "warning"]},
                    "options": {"type": "object"},
                    "python_error": {"type": ["string", "null"]},
                    "r_error": {"type": ["string", "null"]},
                    "python_warnings": {"type": "array", "items": {"type": "string"}},
                    "r_warnings": {"type": "array", "items": {"type": "string"}},
                    "max_rel_diff": _NUMBER,
                    "seconds": {"type": "object", "additionalProperties": {"type": "number"}},
                    "plot": {"type": ["object", "null"], "properties": {"version": {"const": 1}}},
                    "quantities": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name", "python", "r", "abs_diff", "rel_diff", "tolerance", "verdict", "explanation"],
                            "properties": {
                                "name": {"type": "string"},
                                "python": _NUMBER,
                                "r": _NUMBER,
                                "abs_diff": _NUMBER,
                                "rel_diff": _NUMBER,
                                "tolerance": {
                                    "anyOf": [
                                        {"type": "null"},
                                        {"type": "object", "required": ["rtol", "atol"], "properties": {"rtol": {"type": "number"}, "atol": {"type": "number"}}},
                                    ]
                                },
                                "verdict": {"enum": ["agree", "explained", "differ", "missing", "engine-error", "warning"]},
                                "explanation": {"type": ["string", "null"]},
                            },
                        },
                    },
                },
            },
        },
    },
}


def _clean(o):
    """JSON-ready copy: numpy scalars/arrays to Python, NaN -> None, +-inf -> "inf"/"-inf", Paths to str."""
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, bool) or o is None or isinstance(o, (str, int)) and not hasattr(o, "dtype"):
        return o
    if isinstance(o, float):
        return None if math.isnan(o) else ("inf" if o == math.inf else "-inf" if o == -math.inf else o)
    if isinstance(o, Path):
        return str(o)
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None
    if np is not None:
        if isinstance(o, np.bool_):
            return bool(o)
        if isinstance(o, np.integer):
            return int(o)
        if isinstance(o, np.floating):
            return _clean(float(o))
        if isinstance(o, np.ndarray):
            return _clean(o.tolist())
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def document(run_or_doc) -> dict:
    """The JSON document of a run (anything with ``to_dict()``, or a dict), JSON-ready."""
    doc = run_or_doc if isinstance(run_or_doc, dict) else run_or_doc.to_dict()
    return _clean(doc)


def dumps(run_or_doc) -> str:
    return json.dumps(document(run_or_doc), indent=1, allow_nan=False) + "\n"


def write(run_or_doc, path) -> None:
    Path(path).write_text(dumps(run_or_doc), encoding="utf-8")
