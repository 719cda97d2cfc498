"""``metaharness verify``: run fixtures through both engines and compare every quantity."""
from __future__ import annotations

NAME = "verify"
HELP = "run fixtures through both engines and compare every quantity"


def add_arguments(p):
    p.add_argument("paths", nargs="*", help="spec files or folders (default: the bundled fixtures)")
    from ..reports.options import add_report_arguments

    add_report_arguments(p)  # --json --html --junit --detail --color --no-progress --plots
    p.add_argument("--against-snapshot", metavar="DIR", help="also report every change in either engine since the snapshots in DIR (`metaharness snapshot`); a change fails")


def run(args) -> int:
    from ..reports.options import print_terminal, progress_for, write_reports
    from ..verify import verify

    result = verify(args.paths or None, progress=progress_for(args))
    print_terminal(result, args)
    write_reports(result, args, title="metaharness verify")
    if getattr(args, "against_snapshot", None):
        from ..snapshot import check, render

        snap = check(result, args.against_snapshot)
        print(render(snap))
        return 0 if result.ok and snap.ok else 1
    return 0 if result.ok else 1
