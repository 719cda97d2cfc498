"""``metaharness doctor``: engine versions, and whether each engine can run."""
from __future__ import annotations

NAME = "doctor"
HELP = "show engine versions and whether each engine can run"


def add_arguments(p):
    pass


def run(args) -> int:
    from ..errors import EngineUnavailable
    from ..verify import python_versions

    ok = True
    print("Python side")
    for k, v in python_versions().items():
        print(f"  {k:16s} {v}")
    print("  engine           ok (numpy/scipy core)")
    print("R side")
    try:
        from ..engines.r import EXPECTED_VERSIONS, get_engine

        vers = get_engine().versions()
        for k in ("R_string", "metafor", "robumeta", "clubSandwich", "metadat"):
            note = ""
            if k in EXPECTED_VERSIONS and vers.get(k) != EXPECTED_VERSIONS[k]:
                note = f"   (verified with {EXPECTED_VERSIONS[k]}; numbers may differ where the package changed)"
            print(f"  {k:16s} {vers.get(k)}{note}")
        print("  engine           ok (metafor, robumeta, clubSandwich load)")
    except EngineUnavailable as e:
        ok = False
        print(f"  engine           UNAVAILABLE: {e}")
    return 0 if ok else 1
