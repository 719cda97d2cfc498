"""Report options shared by the commands (``verify``, ``audit``, ``fuzz``).

A command adds them with :func:`add_report_arguments` and, after its run,
prints with :func:`print_terminal` (``verify``-shaped results) and writes the
requested files with :func:`write_reports`::

    def add_arguments(p):
        ...
        add_report_arguments(p)

    def run(args):
        progress = progress_for(args)
        result = verify(..., progress=progress)
        print_terminal(result, args)
        write_reports(result, args, title="metaharness verify")

Options (each added only if the command does not define it already, so a
command may keep its own ``--json`` or ``--detail``):

``--json FILE``   every record, JSON schema 1 (:mod:`harness.reports.json`)
``--html FILE``   one self-contained HTML report with forest plots (:mod:`.html`)
``--junit FILE``  JUnit XML, one test case per analysis (:mod:`.junit`)
``--detail``      the full per-quantity table of every analysis
``--color``       ``auto`` (default: a terminal and no ``NO_COLOR``), ``always``, ``never``
``--no-progress`` no progress line even on a terminal
``--plots``       image format inside the HTML: ``svg`` (default) or ``png``
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import terminal


def _add(p, *flags, **kw):
    try:
        p.add_argument(*flags, **kw)
    except argparse.ArgumentError:  # the command defines this option itself: keep its own
        pass


ALL = ("json", "html", "junit", "detail", "color", "progress", "plots")


def add_report_arguments(p: argparse.ArgumentParser, only=ALL) -> None:
    """Add the report options to a command's parser (skipping any it already has).

    ``only`` names the ones the command uses (e.g. ``("html", "junit", "plots")``
    for a command that prints its own terminal report).
    """
    if "json" in only:
        _add(p, "--json", metavar="FILE", help="write every record as JSON (schema 1, documented in the README)")
    if "html" in only:
        _add(p, "--html", metavar="FILE", help="write a self-contained HTML report (forest plots where there are analyses)")
    if "junit" in only:
        _add(p, "--junit", metavar="FILE", help="write JUnit XML (one test case per analysis) for CI")
    if "detail" in only:
        _add(p, "--detail", action="store_true", help="print the per-quantity table of every analysis (default: only where something differs)")
        _add(p, "--brief", action="store_true", help=argparse.SUPPRESS)  # the default since reports were added; kept for old scripts
    if "color" in only:
        _add(p, "--color", choices=("auto", "always", "never"), default="auto", help="colour the terminal output (default auto: on a terminal, unless NO_COLOR is set)")
    if "progress" in only:
        _add(p, "--no-progress", action="store_true", help="no progress line, even on a terminal")
    if "plots" in only:
        _add(p, "--plots", choices=("svg", "png"), default="svg", help="image format of the plots in --html (default svg)")


def progress_for(args, stream=None, unit: str = "analyses"):
    """A :class:`~harness.reports.terminal.Progress` (silent off a terminal and in CI), or None."""
    if getattr(args, "no_progress", False):
        return None
    p = terminal.Progress(stream=stream, unit=unit)
    return p if p.enabled else None


def print_terminal(result, args, stream=None) -> None:
    """Print the terminal report of a verify-shaped result (``analyses`` of AnalysisComparison)."""
    stream = stream if stream is not None else sys.stdout
    color = terminal.use_color(stream, getattr(args, "color", "auto"))
    width = terminal.terminal_width(stream)
    print(terminal.render(result, detail=bool(getattr(args, "detail", False)), color=color, width=width), file=stream)


def write_reports(result, args, title: str = "metaharness report", json: bool = True) -> list[Path]:
    """Write the files asked for by ``--json``, ``--html`` and ``--junit``; returns their paths.

    ``result`` is anything with ``to_dict()`` (or the dict itself). Pass
    ``json=False`` when the command writes its own ``--json``.
    """
    from . import json as json_report

    doc = None
    written = []

    def get_doc():
        nonlocal doc
        if doc is None:
            doc = json_report.document(result)
        return doc

    if json and getattr(args, "json", None):
        json_report.write(get_doc(), args.json)
        written.append(Path(args.json))
    if getattr(args, "html", None):
        from . import html as html_report  # matplotlib: only when a report is drawn

        html_report.write(get_doc(), args.html, title=title, fmt=getattr(args, "plots", "svg") or "svg")
        written.append(Path(args.html))
    if getattr(args, "junit", None):
        from . import junit as junit_report

        junit_report.write(get_doc(), args.junit, name=title)
        written.append(Path(args.junit))
    return written
