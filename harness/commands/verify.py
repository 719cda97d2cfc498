"""``metaharness verify``: run fixtures through both engines and compare every quantity."""
from __future__ import annotations

NAME = "verify"
HELP = "run fixtures through both engines and compare every quantity"


def add_arguments(p):
    p.add_argument("paths", nargs="*", help="spec files or folders (default: the bundled fixtures)")
    from ..reports.options import add_report_arguments

    add_report_arguments(p)  # --json --html --junit --detail --color --no-progress --plots
    p.add_argument("--against-snapshot", metavar="DIR", help="also report every change in either engine since the snapshots in DIR (`metaharness snapshot`); a change fails")
    p.add_argument("--python-only", action="store_true",
                   help="no R: compare the Python core with the R values stored in snapshots (--against-snapshot DIR; default ./snapshots "
                        "if it exists, else the snapshots bundled with metaharness) and check Python's values against them too")


def run(args) -> int:
    from ..reports.options import print_terminal, progress_for, write_reports
    from ..verify import verify

    stored = None
    if getattr(args, "python_only", False):
        from ..snapshot import StoredR, default_dir

        args.against_snapshot = args.against_snapshot or str(default_dir())
        stored = StoredR(args.against_snapshot)
    result = verify(args.paths or None, progress=progress_for(args), r_side=stored)
    if stored is not None:
        vers = ", ".join(f"{k} {v}" for k, v in result.engines["r"].items() if k != "stored_in")
        print(f"R side: values stored in {args.against_snapshot} ({vers}); R was not run (--python-only)")
    print_terminal(result, args)
    write_reports(result, args, title="metaharness verify")
    if getattr(args, "against_snapshot", None):
        from ..snapshot import check, render

        snap = check(result, args.against_snapshot)
        print(render(snap))
        return 0 if result.ok and snap.ok else 1
    return 0 if result.ok else 1
