"""Write a (shrunk) disagreeing dataset as a fixture ``verify`` can run."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

from .batch import cell


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string for plain text
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")


def write_fixture(folder, ds, model, spec_options: dict, *, aid: str, source: str, comment: str = "") -> Path:
    """``folder/data.csv`` and ``folder/spec.toml``; returns the spec path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cols = list(ds.columns)
    lines = [",".join(cols)]
    for i in range(ds.k):
        lines.append(",".join(cell(ds.columns[c][i]) for c in cols))
    (folder / "data.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = []
    for line in comment.strip().splitlines():
        out.append(f"# {line}".rstrip())
    out += ["[dataset]", f"name = {_toml_value(aid)}", 'data = "data.csv"', f"source = {_toml_value(source)}", "", "[[analysis]]",
            f"id = {_toml_value(aid)}", f"kind = {_toml_value(model.kind_name)}"]
    for key, val in spec_options.items():
        out.append(f"{key} = {_toml_value(val)}")
    if model.tolerances:
        out.append("[analysis.tolerance]")
        for q, (rt, at) in model.tolerances.items():
            parts = [f"rtol = {_toml_value(float(rt))}"] if rt is not None else []
            parts += [f"atol = {_toml_value(float(at))}"] if at is not None else []
            out.append(f"{_toml_value(q) if not re.match(r'^[A-Za-z0-9_-]+$', q) else q} = {{ {', '.join(parts)} }}")
    spec = folder / "spec.toml"
    spec.write_text("\n".join(out) + "\n", encoding="utf-8")
    return spec
