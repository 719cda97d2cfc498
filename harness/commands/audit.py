"""``metaharness audit``: check published meta-analysis results for consistency and recompute them.

Files: published-results TOML files, RevMan 5 reviews (``.rm5``) and RevMan
analysis-data exports (``.csv``), or folders of them (every such file below
the folder). Each file is audited by :func:`harness.audit.batch.audit_path`
(a plain function of the path and :class:`~harness.audit.batch.AuditOptions`);
with several files, a summary table over all of them follows the per-file
sections. The last line counts analyses (findings, for TOML files) over all
files: consistent, inconsistent, cannot check, errors (truncated or malformed
analyses, unreadable files).

Several files are audited with :func:`harness.audit.batch.audit_files` on
:class:`harness.distributed.Cluster`: ``--workers N`` (alias ``--jobs``;
never more than files) local Dask worker processes, each with its own R
started once; ``--workers 1`` (the default) in this process; ``--scheduler``
an existing cluster. The report is the same whatever the layout.

Exit status: 0 nothing inconsistent and no error; 1 any inconsistent finding
or any error (a truncated or malformed analysis is never agreement; a file
whose audit failed for good); 2 bad input (a file that cannot be read at all:
with one file the command stops there; with several, the others are still
audited and reported); 130 interrupted (Ctrl-C: the report covers the files
that finished).
"""
from __future__ import annotations

import sys
from pathlib import Path

NAME = "audit"
HELP = "audit published meta-analysis results (.toml), RevMan 5 reviews (.rm5) and RevMan exports (.csv), or folders of them"


def audit_toml(path, args):
    from ..audit import audit_file

    return audit_file(path)


def audit_cochrane(path, args):
    """A RevMan 5 review (.rm5) or RevMan analysis-data export (.csv): re-verify every continuous, dichotomous, generic IV and O − E analysis."""
    from ..cochrane.reverify import audit_review

    return audit_review(path, preset=getattr(args, "preset", "revman5"), integer_scale=getattr(args, "integer_scale", False))


#: file suffix -> function(path, args) returning an audit result (kept for callers; the command uses harness.audit.batch)
AUDITORS = {".toml": audit_toml, ".rm5": audit_cochrane, ".csv": audit_cochrane}


def add_arguments(p):
    p.add_argument("files", nargs="+", metavar="FILE", help="published-results files (.toml), RevMan 5 reviews (.rm5), RevMan 5 analysis-data exports (.csv), or folders of them")
    p.add_argument("--json", metavar="FILE", help="write every finding of every file as JSON, with the summary over the set")
    p.add_argument("--html", metavar="FILE", help="write one self-contained HTML report for the set: the summary over the files, then per file "
                   "every re-verified analysis with its forest plot in RevMan's layout (RevMan's stored values beside the Python "
                   "recomputation: subgroups, subtotal and total diamonds, heterogeneity, overall-effect and subgroup-test lines, "
                   "the file's Favours labels, only what TOTALS displays) and the table of every compared quantity (RevMan, Python, R)")
    p.add_argument("--preset", default="revman5", help="Cochrane reviews: re-run under a convention preset (revman5, revman-web-2025, metafor)")
    p.add_argument("--integer-scale", action="store_true", help="Cochrane reviews: outcomes are on an integer scale (enables the GRIM check)")
    p.add_argument("--detail", action="store_true", help="Cochrane reviews: every quantity of every analysis")
    from .common import add_cluster_arguments

    # default 1: starting a cluster (a Dask worker and an R per process) costs more than auditing a few files
    add_cluster_arguments(p, 1, "default 1; at most one per file",
                          ", and the files at the same paths: they are sent as absolute paths")  # --workers (alias --jobs), --scheduler, --no-progress
    from ..reports.options import add_report_arguments

    add_report_arguments(p, only=("junit",))  # --junit (this command prints and writes --json and --html itself)


def run(args) -> int:
    import argparse
    import json

    from ..audit.batch import AuditOptions, AuditSet, audit_files, audit_path, expand
    from ..audit.report import render, render_set
    from ..cochrane.presets import get_preset
    from ..reports.terminal import terminal_width
    from ..errors import InputError
    from .common import announce_cluster, progress_line

    get_preset(args.preset)  # an unknown preset is bad usage, before any file is read
    paths = expand(args.files)
    options = AuditOptions(preset=args.preset, integer_scale=bool(args.integer_scale))
    single = len(paths) == 1 and not Path(args.files[0]).is_dir()
    workers = args.workers
    if workers < 1:
        raise InputError("--workers must be at least 1")
    if single and not args.scheduler:
        # one file: bad input stops the command (exit 2)
        aset = AuditSet([audit_path(paths[0], options)])
    else:
        if args.scheduler:
            # the cluster's workers read the files: they must see them at the same (absolute) paths
            paths = [p.resolve() for p in paths]
        else:
            workers = min(workers, len(paths))  # a worker (and its R) per file at most
        bar = progress_line(args, "files")
        try:
            aset = audit_files(paths, options, workers=workers, scheduler=args.scheduler, on_cluster=announce_cluster("audit"),
                               progress=lambda done, total, path: bar.show(done, total, path.name))
        finally:
            bar.close()
        if aset.interrupted:
            left = [str(p) for p in aset.not_audited]
            more = f" and {len(left) - 5} more" if len(left) > 5 else ""
            print(f"metaharness audit: interrupted after {len(aset.results)} of {len(paths)} files; the report covers those "
                  f"(not audited: {', '.join(left[:5])}{more})", file=sys.stderr)
    results = aset.results
    for r in results:
        print(r.render(args.detail) if hasattr(r, "render") else render(r, width=terminal_width()))
        print()
    if len(results) > 1:
        print(render_set(aset))
        print()
    print(aset.headline())
    doc = aset.to_dict()
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")
    if args.html:
        from ..audit.html import write

        write(doc, args.html)
    if getattr(args, "junit", None):
        from ..reports.options import write_reports

        write_reports(doc, argparse.Namespace(junit=args.junit), title="metaharness audit", json=False)
    if aset.interrupted:
        return 130
    if aset.bad_input:
        return 2
    return 0 if aset.ok else 1
