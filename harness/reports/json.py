"""JSON report (schema 1). See README, "JSON output".

Numbers are written as JSON numbers; NaN (undefined) as null; infinities as
the strings "inf"/"-inf". Keys documented in the README keep their names in
every release of schema 1; new keys may be added.
"""
from __future__ import annotations

import json
from pathlib import Path


def write(run, path) -> None:
    Path(path).write_text(json.dumps(run.to_dict(), indent=1, allow_nan=False, default=_default) + "\n", encoding="utf-8")


def _default(o):
    import numpy as np

    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (np.ndarray,)):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
