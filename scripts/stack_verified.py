"""Check one stack's `metaharness verify --json` report (scripts/stacks.sh, `make test`).

    python scripts/stack_verified.py REPORT.json STACK EXPECTATION

EXPECTATION is the stack's ``NAME=VERSION,...`` (as for pytest's ``--expect-r``). The report
must come from exactly those versions (R's from its engines.r, Python's and rpy2's from its
engines.python), have compared every analysis with 0 differ, 0 missing, 0 engine errors and 0
warnings mismatches (a warning one engine gives and the other does not), and
say nothing of R being unavailable or the run being interrupted. Prints the versions found and
the counts by verdict (verify's own summary line, printed before, gives the largest relative
differences). Exit status 1 when any check fails.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.pytest_plugin import parse_expectation, version_matches  # noqa: E402

PYTHON_SIDE = ("python", "rpy2", "rpy2-rinterface")


def main(argv) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    path, stack, spec = Path(argv[0]), argv[1], argv[2]
    if not path.is_file():
        print(f"{stack}: verify wrote no report ({path})")
        return 1
    run = json.loads(path.read_text())
    problems = []
    engines = run.get("engines", {})
    for key, want in parse_expectation(spec).items():
        side = engines.get("python", {}) if key in PYTHON_SIDE else engines.get("r", {})
        if not version_matches(want, side.get(key)):
            problems.append(f"{key} {side.get(key)} (the stack is {key} {want})")
    s = run.get("summary", {})
    for verdict in ("differ", "missing", "engine-error", "warning"):
        if s.get(verdict, 0):
            problems.append(f"{s[verdict]} {verdict}")
    if not s.get("analyses"):
        problems.append("no analysis compared")
    if run.get("r_unavailable"):
        problems.append(f"R unavailable: {run['r_unavailable']}")
    if run.get("interrupted"):
        problems.append("interrupted")
    r = engines.get("r", {})
    py = engines.get("python", {})
    head = (f"{stack}: R {r.get('R')}, metafor {r.get('metafor')}, robumeta {r.get('robumeta')}, clubSandwich {r.get('clubSandwich')}; "
            f"Python {py.get('python')}, rpy2 {py.get('rpy2')}")
    counts = ", ".join(f"{s.get(k, 0)} {k}" for k in ("agree", "explained", "differ", "missing", "engine-error", "warning"))
    print(head)
    print(f"{stack}: {s.get('analyses', 0)} analyses, {s.get('quantities', 0)} quantities: {counts}")
    if problems:
        print(f"{stack}: NOT verified: " + "; ".join(problems))
        return 1
    print(f"{stack}: verified (0 differ, 0 missing, 0 engine errors, 0 warnings mismatches)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
