"""``metaharness doctor``: the engines found, whether each can run, and the conventions used.

For R it says, item by item, what is wrong and how to fix it: R that cannot
start (not installed, a wrong ``R_HOME``, an rpy2 that does not fit the R), a
package that is missing. It lists the R found (version, library paths, the
releases of metafor, robumeta, clubSandwich and metadat), says for each package
whether its release is one this release of metaharness is tested with, and
lists the conventions the Python side will follow: those of the R engine's
metafor release (without R, :data:`~harness.core.versions.DEFAULT_METAFOR`).
It never advises installing an older release: any release runs, and ``verify``
reports every number that differs. Exit status: 0 both engines run; 1 R cannot
run (or, with ``--strict``, a package's release is not a tested one).
"""
from __future__ import annotations

import os

NAME = "doctor"
HELP = "show the engines, whether each can run (what is wrong and how to fix it), and the conventions the Python side follows"


def add_arguments(p):
    p.add_argument("--strict", action="store_true", help="exit 1 also when a package's release is not one this release of metaharness is tested with")


def _package_lines(vers: dict) -> tuple[list[str], int, int]:
    """Lines for R, its library paths and each package; counts of missing and untested packages."""
    from ..engines.r import R_PACKAGES, SUPPORTED_VERSIONS

    lines, missing, untested = [], 0, 0
    if vers.get("R_string"):
        lines.append(f"  {'R':16s} {vers['R_string']}")
    paths = vers.get("lib_paths") or []
    if isinstance(paths, str):
        paths = [p for p in paths.split(os.pathsep) if p]
    if paths:
        lines.append(f"  {'library paths':16s} {paths[0]}")
        lines.extend(f"  {'':16s} {p}" for p in paths[1:])
    for pkg in (*R_PACKAGES, "metadat"):
        v = vers.get(pkg)
        deb = R_PACKAGES.get(pkg, "r-cran-" + pkg.lower())
        if v is None:
            if pkg in R_PACKAGES:
                missing += 1
                lines.append(f"  {pkg:16s} MISSING: install it with `apt-get install {deb}` (or run `make setup`)")
            else:
                lines.append(f"  {pkg:16s} not installed (optional: only r_scripts/export_metadat.R needs it; `apt-get install {deb}`)")
            continue
        tested = SUPPORTED_VERSIONS.get(pkg)
        if tested is None:
            lines.append(f"  {pkg:16s} {v}")
        elif _in(v, tested):
            lines.append(f"  {pkg:16s} {v:8s} supported (tested releases: {', '.join(tested)})")
        else:
            untested += 1
            lines.append(f"  {pkg:16s} {v:8s} UNTESTED RELEASE: metaharness is tested with {pkg} {', '.join(tested)}. It runs; "
                         f"`metaharness verify` reports every number that differs, and the registry of explained differences "
                         f"explains nothing for an untested release")
    return lines, missing, untested


def _in(version, releases) -> bool:
    from ..core.versions import Version

    try:
        return any(Version(version) == Version(r) for r in releases)
    except ValueError:
        return False


def convention_lines(metafor: str | None) -> list[str]:
    """What the Python side will do, with R's metafor ``metafor`` (None: no R engine)."""
    from ..core.versions import CHANGES, conventions, follow

    version, source = follow(None, metafor)
    conv = conventions(version)
    why = "the R engine's release" if source == "R engine" else "the default: no R engine"
    out = [f"Conventions the Python side follows: metafor {version} ({why})"]
    if not conv.supported:
        out.append(f"  metafor {version} is not a tested release: each behaviour below follows the release that introduced it")
    width = max(len(c.label) for c in CHANGES)
    for c, new in conv.changes():
        mark = f"yes (since {c.since})" if new else f"no (came with {c.since})"
        out.append(f"  {c.label:{width}s}  {mark}")
    out.append("  (a spec may name a release with `metafor = \"...\"`; if it differs from the R engine's, its analyses are reported as a version mismatch)")
    return out


def run(args) -> int:
    from ..errors import EngineUnavailable
    from ..verify import python_versions

    print("Python side")
    for k, v in python_versions().items():
        print(f"  {k:16s} {v}")
    print("  engine           ok (numpy/scipy core)")
    print("R side")
    try:
        from ..engines.r import get_engine

        vers = get_engine().versions()
    except EngineUnavailable as e:
        probe = getattr(e, "probe", None)
        if probe:
            lines, _, _ = _package_lines(probe)
            print("\n".join(lines))
        print(f"  engine           UNAVAILABLE: {e}")
        print("\n".join(convention_lines(None)))
        return 1
    lines, _, untested = _package_lines(vers)
    print("\n".join(lines))
    print("  engine           ok (metafor, robumeta, clubSandwich load)")
    print("\n".join(convention_lines(vers.get("metafor"))))
    if untested:
        print(f"  note             {untested} package(s) of an untested release" + (" (--strict: exit 1)" if args.strict else ""))
        return 1 if args.strict else 0
    return 0
