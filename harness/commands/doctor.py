"""``metaharness doctor``: engine versions, and whether each engine can run.

For R it says, item by item, what is wrong and how to fix it: R that cannot
start (not installed, a wrong ``R_HOME``, an rpy2 that does not fit the R), a
package that is missing, a package of another version than the one this
release was verified with. Exit status: 0 both engines run; 1 R cannot run
(or, with ``--strict``, a package version differs from the verified one).
"""
from __future__ import annotations

NAME = "doctor"
HELP = "show engine versions and whether each engine can run (what is wrong and how to fix it)"


def add_arguments(p):
    p.add_argument("--strict", action="store_true", help="exit 1 also when a package version differs from the one this release was verified with")


def _package_lines(vers: dict) -> tuple[list[str], int, int]:
    """Lines for R and each package; counts of missing and unexpected packages."""
    from ..engines.r import EXPECTED_VERSIONS, R_PACKAGES

    lines, missing, unexpected = [], 0, 0
    if vers.get("R_string"):
        lines.append(f"  {'R':16s} {vers['R_string']}")
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
        exp = EXPECTED_VERSIONS.get(pkg)
        if exp is not None and v != exp:
            unexpected += 1
            lines.append(f"  {pkg:16s} {v}   UNEXPECTED VERSION: this release was verified with {exp}; numbers may differ where "
                         f"the package changed. To match, install {pkg} {exp} (Debian 12's {deb}: `make setup`), or check "
                         f"differences against {pkg}'s NEWS")
        else:
            lines.append(f"  {pkg:16s} {v}" + ("   ok" if exp else ""))
    return lines, missing, unexpected


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
            if probe.get("lib_paths"):
                print(f"  {'library paths':16s} {', '.join(probe['lib_paths'])}")
        print(f"  engine           UNAVAILABLE: {e}")
        return 1
    lines, _, unexpected = _package_lines(vers)
    print("\n".join(lines))
    print("  engine           ok (metafor, robumeta, clubSandwich load)")
    if unexpected:
        print(f"  note             {unexpected} package(s) differ from the verified versions" + (" (--strict: exit 1)" if args.strict else ""))
        return 1 if args.strict else 0
    return 0
