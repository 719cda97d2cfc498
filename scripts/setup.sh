#!/usr/bin/env bash
# Set up everything metaharness needs, installing only what is missing.
#
#   1. R and the R packages, from Debian's packages (no CRAN access is assumed):
#      r-base-core r-base-dev r-cran-metafor r-cran-robumeta r-cran-clubsandwich
#   2. A virtual environment in .venv with the package and its test extras.
#
# rpy2 is pinned by the R that is found, because rpy2 and R must match:
#   - rpy2-rinterface >= 3.6.7 calls R_getVar, which R added in 4.5.0; against
#     R 4.2.2 (Debian 12) it fails to import with "undefined symbol: R_getVar".
#     The rpy2 metapackage only sets lower bounds, so "rpy2==3.6.x" still pulls
#     the newest rpy2-rinterface: the 3.6 line cannot be used on R < 4.5.
#   - rpy2 3.5.17 (the last 3.5 release) works with R 4.0-4.4 and is known to
#     fail with R >= 4.5 (initStdinHandler is gone, rpy2 issues #1164/#1174).
#   So: R < 4.5 -> rpy2==3.5.17;  R >= 4.5 -> rpy2>=3.6.7 (its newest release).
#
# The second run finds everything in place and returns within a second or two.
# When something cannot be installed (no root, no sudo, no apt-get) the script
# stops and says what to install by hand; it never leaves a half-set-up state
# that looks complete (the stamp file is written last).
set -euo pipefail
cd "$(dirname "$0")/.."

R_DEBS="r-base-core r-base-dev r-cran-metafor r-cran-robumeta r-cran-clubsandwich"
VENV=.venv
PY=${PYTHON:-python3}
say() { printf 'metaharness setup: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

r_ok() {
  command -v Rscript >/dev/null 2>&1 &&
    Rscript --vanilla -e 'for (p in c("metafor","robumeta","clubSandwich")) if (!requireNamespace(p, quietly=TRUE)) quit(status=1)' >/dev/null 2>&1
}

if ! r_ok; then
  if [ "$(id -u)" = 0 ]; then SUDO=""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"
  else
    die "R with metafor, robumeta and clubSandwich is missing, and this user can neither
  become root nor use sudo. Install them by hand, then run this again:
    sudo apt-get update && sudo apt-get install -y --no-install-recommends $R_DEBS
  (or, on another system, R >= 4.0 and install.packages(c('metafor','robumeta','clubSandwich')))."
  fi
  command -v apt-get >/dev/null 2>&1 || die "R is missing and apt-get is not available: install R >= 4.0 with metafor, robumeta and clubSandwich by hand."
  say "installing R and its packages from Debian: $R_DEBS"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $R_DEBS >/dev/null
  r_ok || die "apt-get finished but R still cannot load metafor/robumeta/clubSandwich."
fi

# 3. With --browser (what `make test` asks for): Debian's chromium, which the HTML
#    report's browser tests drive headless (tests/test_browser*.py). Only the tests need it.
if [ "${1:-}" = "--browser" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then BSUDO=""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then BSUDO="sudo -n"
  else die "the browser tests need Debian's chromium: sudo apt-get install -y --no-install-recommends chromium"
  fi
  command -v apt-get >/dev/null 2>&1 || die "the browser tests need Chromium and apt-get is not available: install Chromium and set CHROMIUM=/path/to/it."
  say "installing chromium from Debian (for the HTML report's browser tests)"
  $BSUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $BSUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
  command -v chromium >/dev/null 2>&1 || die "apt-get finished but chromium is not on PATH."
fi

R_VER=$(Rscript --vanilla -e 'cat(R.version$major, R.version$minor, sep=".")')
case "$R_VER" in
  4.[5-9]*|[5-9].*) RPY2_SPEC="rpy2>=3.6.7" ;;
  4.*) RPY2_SPEC="rpy2==3.5.17" ;;
  *) die "R $R_VER is too old: metaharness needs R >= 4.0." ;;
esac

# The stamp records what the venv was built from; a change in any of these rebuilds it.
WANT="r=$R_VER rpy2=$RPY2_SPEC pyproject=$(sha1sum pyproject.toml | cut -c1-12)"
STAMP=$VENV/.metaharness-setup
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$VENV/bin/metaharness" ]; then
  exit 0
fi

say "creating the virtual environment in $VENV (R $R_VER, $RPY2_SPEC)"
rm -f "$STAMP"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV" || die "cannot create a venv with $PY (on Debian: apt-get install python3-venv)."
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
"$VENV/bin/python" -m pip install -q "$RPY2_SPEC" || die "pip could not install $RPY2_SPEC (it builds against R: r-base-dev and a C compiler are needed)."
"$VENV/bin/python" -m pip install -q -e ".[test]" || die "pip could not install metaharness."
"$VENV/bin/python" -c "import rpy2.robjects" || die "rpy2 is installed but cannot start R $R_VER."
echo "$WANT" > "$STAMP"
say "ready"
