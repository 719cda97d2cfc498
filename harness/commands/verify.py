"""``metaharness verify``: run fixtures through both engines and compare every quantity."""
from __future__ import annotations

NAME = "verify"
HELP = "run fixtures through both engines and compare every quantity"


def add_arguments(p):
    p.add_argument("paths", nargs="*", help="spec files or folders (default: the bundled fixtures)")
    p.add_argument("--json", metavar="FILE", help="write every record as JSON (schema 1)")
    p.add_argument("--brief", action="store_true", help="only the summary line per analysis (full table when it differs)")


def run(args) -> int:
    from ..reports import json as json_report
    from ..reports import terminal
    from ..verify import verify

    result = verify(args.paths or None)
    print(terminal.render(result, detail=not args.brief))
    if args.json:
        json_report.write(result, args.json)
    return 0 if result.ok else 1
