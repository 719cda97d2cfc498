"""Command line: ``metaharness verify | doctor``.

Exit status: 0 everything agrees (or the engines run, for doctor); 1 any
difference, engine error or unavailable engine; 2 bad usage or bad input.
"""
from __future__ import annotations

import argparse
import sys

from .errors import EngineUnavailable, InputError


def _cmd_verify(args) -> int:
    from .reports import json as json_report
    from .reports import terminal
    from .verify import verify

    run = verify(args.paths or None)
    print(terminal.render(run, detail=not args.brief))
    if args.json:
        json_report.write(run, args.json)
    return 0 if run.ok else 1


def _cmd_doctor(args) -> int:
    from .verify import python_versions

    ok = True
    print("Python side")
    for k, v in python_versions().items():
        print(f"  {k:16s} {v}")
    print("  engine           ok (numpy/scipy core)")
    print("R side")
    try:
        from .engines.r import EXPECTED_VERSIONS, get_engine

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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="metaharness", description="Verify a Python meta-analysis core against R (metafor, robumeta), number by number.")
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify", help="run fixtures through both engines and compare every quantity")
    v.add_argument("paths", nargs="*", help="spec files or folders (default: the bundled fixtures)")
    v.add_argument("--json", metavar="FILE", help="write every record as JSON (schema 1)")
    v.add_argument("--brief", action="store_true", help="only the summary line per analysis (full table when it differs)")
    v.set_defaults(func=_cmd_verify)
    d = sub.add_parser("doctor", help="show engine versions and whether each engine can run")
    d.set_defaults(func=_cmd_doctor)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits 2 on bad usage already
        return int(e.code or 0)
    try:
        return args.func(args)
    except InputError as e:
        print(f"metaharness: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("metaharness: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
