"""``metaharness audit``: check published meta-analysis results for consistency and recompute them.

Files: published-results TOML files, RevMan 5 reviews (``.rm5``) and RevMan
analysis-data exports (``.csv``), or folders of them (every such file below
the folder). Each file is audited by :func:`harness.audit.batch.audit_path`
(a plain function of the path and :class:`~harness.audit.batch.AuditOptions`);
with several files, a summary table over all of them follows the per-file
sections. The last line counts analyses (findings, for TOML files) over all
files: consistent, inconsistent, cannot check, errors (truncated or malformed
analyses, unreadable files).

Exit status: 0 nothing inconsistent and no error; 1 any inconsistent finding
or any error (a truncated or malformed analysis is never agreement); 2 bad
input (a file that cannot be read at all: with one file the command stops
there; with several, the others are still audited and reported).
"""
from __future__ import annotations

from pathlib import Path

NAME = "audit"
HELP = "audit published meta-analysis results (.toml), RevMan 5 reviews (.rm5) and RevMan exports (.csv), or folders of them"


def audit_toml(path, args):
    from ..audit import audit_file

    return audit_file(path)


def audit_cochrane(path, args):
    """A RevMan 5 review (.rm5) or RevMan analysis-data export (.csv): re-verify every continuous analysis."""
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
    p.add_argument("--no-progress", action="store_true", help="no progress line, even on a terminal")
    from ..reports.options import add_report_arguments

    add_report_arguments(p, only=("junit",))  # --junit (this command prints and writes --json and --html itself)


def run(args) -> int:
    import argparse
    import json
    import types

    from ..audit.batch import AuditOptions, AuditSet, audit_path, audit_path_or_error, expand
    from ..audit.report import render, render_set
    from ..cochrane.presets import get_preset
    from ..reports.terminal import Progress
    from ..reports.terminal import terminal_width
    from ..errors import InputError

    get_preset(args.preset)  # an unknown preset is bad usage, before any file is read
    paths = expand(args.files)
    options = AuditOptions(preset=args.preset, integer_scale=bool(args.integer_scale))
    single = len(paths) == 1 and not Path(args.files[0]).is_dir()
    progress = None if args.no_progress else Progress(unit="files")
    if progress is not None and (not progress.enabled or single):
        progress = None
    results = []
    for i, p in enumerate(paths, start=1):
        # one file: bad input stops the command (exit 2); several: it is that file's error
        results.append(audit_path(p, options) if single else audit_path_or_error(p, options))
        if progress is not None:
            progress(i, len(paths), types.SimpleNamespace(id=p.name))
    if progress is not None:
        progress.close()
    aset = AuditSet(results)
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
    if aset.bad_input:
        return 2
    return 0 if aset.ok else 1
