"""``metaharness audit``: check published meta-analysis results for consistency and recompute them.

Exit status: 0 nothing inconsistent, 1 any inconsistent finding, 2 bad input.
Files are dispatched on their suffix (:data:`AUDITORS`): ``.toml``
published-results files today; other formats register a function there.
"""
from __future__ import annotations

from pathlib import Path

NAME = "audit"
HELP = "audit published meta-analysis results (published-results TOML files)"


def audit_toml(path, args):
    from ..audit import audit_file

    return audit_file(path)


def audit_cochrane(path, args):
    """A RevMan 5 review (.rm5) or RevMan analysis-data export (.csv): re-verify every continuous analysis."""
    from ..cochrane.reverify import audit_review

    return audit_review(path, preset=getattr(args, "preset", "revman5"), integer_scale=getattr(args, "integer_scale", False))


#: file suffix -> function(path, args) returning an AuditResult; extend here
AUDITORS = {".toml": audit_toml, ".rm5": audit_cochrane, ".csv": audit_cochrane}


def add_arguments(p):
    p.add_argument("files", nargs="+", metavar="FILE", help="published-results files (.toml), RevMan 5 reviews (.rm5) or RevMan 5 analysis-data exports (.csv)")
    p.add_argument("--json", metavar="FILE", help="write every finding as JSON")
    p.add_argument("--preset", default="revman5", help="Cochrane reviews: re-run under a convention preset (revman5, revman-web-2025, metafor)")
    p.add_argument("--integer-scale", action="store_true", help="Cochrane reviews: outcomes are on an integer scale (enables the GRIM check)")
    p.add_argument("--detail", action="store_true", help="Cochrane reviews: every quantity of every analysis")
    from ..reports.options import add_report_arguments

    add_report_arguments(p, only=("html", "junit", "plots"))  # --html, --junit (this command prints and writes --json itself)


def run(args) -> int:
    import json

    from ..audit.report import render
    from ..reports.terminal import terminal_width
    from ..errors import InputError

    paths = [Path(f) for f in args.files]
    for p in paths:
        if p.suffix.lower() not in AUDITORS:
            raise InputError(f"cannot audit a {p.suffix or 'suffix-less'} file; known kinds: {', '.join(AUDITORS)}", p)
        if not p.is_file():
            raise InputError("no such file", p)
    results = [AUDITORS[p.suffix.lower()](p, args) for p in paths]
    for r in results:
        print(r.render(args.detail) if hasattr(r, "render") else render(r, width=terminal_width()))
        print()
    total = {"consistent": 0, "inconsistent": 0, "cannot check": 0}
    for r in results:
        for k, v in r.counts().items():
            total[k] += v
    print(f"{len(results)} file(s): {total['consistent']} consistent, {total['inconsistent']} inconsistent, {total['cannot check']} cannot check")
    doc = {"schema": 1, "files": [r.to_dict() for r in results]}
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")
    from ..reports.options import write_reports

    write_reports(doc, args, title="metaharness audit", json=False)  # --html, --junit
    return 0 if all(r.ok for r in results) else 1
