"""``metaharness snapshot``: store every engine's outputs for some fixtures as golden JSON files."""
from __future__ import annotations

NAME = "snapshot"
HELP = "store both engines' outputs for fixtures as human-diffable JSON (compare later with verify --against-snapshot)"

#: where the bundled fixtures' snapshots live (repository layout)
DEFAULT_DIR = "snapshots"


def add_arguments(p):
    p.add_argument("paths", nargs="*", help="spec files or folders (default: the bundled fixtures)")
    p.add_argument("--out", default=DEFAULT_DIR, metavar="DIR", help=f"folder for the snapshot files, one per spec file (default ./{DEFAULT_DIR})")


def run(args) -> int:
    from ..snapshot import write
    from ..verify import verify

    result = verify(args.paths or None)
    if result.r_unavailable:
        print(f"metaharness snapshot: R engine unavailable ({result.r_unavailable}); nothing written")
        return 1
    paths = write(result, args.out)
    n_values = sum((x.python is not None) + (x.r is not None) for a in result.analyses for x in a.records)
    print(f"{len(paths)} snapshot files, {len(result.analyses)} analyses, {n_values} values -> {args.out}")
    for p in paths:
        print(f"  {p}")
    return 0
