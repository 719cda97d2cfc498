#!/usr/bin/env bash
# The supported R stacks: build them (only what is missing) and run commands against them.
#
#   scripts/stacks.sh list                      the stacks and what each holds
#   scripts/stacks.sh install [STACK...]        build what is missing (a second run installs nothing);
#                                               no STACK: debian12 and every stack in $STACKS
#   scripts/stacks.sh clean                     remove the CRAN libraries and the Debian 13 root filesystem
#   scripts/stacks.sh run STACK CMD [ARG...]    run CMD against STACK, building it first
#                                               (= scripts/in-stack.sh STACK CMD ...)
#   scripts/stacks.sh check STACK [PYTEST-ARG...]
#                                               the stack's part of `make test`: every R-backed test
#                                               (pytest -m r --expect-r <the stack's versions>; the CRAN
#                                               stacks leave out r_bridge, run on their R by debian12), then
#                                               `metaharness verify` of every bundled fixture
#   scripts/stacks.sh test [PYTEST-ARG...]      `make test`: the whole suite on debian12, then `check`
#                                               of every stack in $STACKS; per-stage times at the end
#
# The stacks (README, "Versions"):
#   debian12   Debian 12's R 4.2.2 with its metafor 3.8-1, robumeta 2.0, clubSandwich 0.5.8: the
#              system library alone (R_LIBS and the user's library are left out); .venv (rpy2 3.5.17)
#   cran-2026  metafor 5.0-1, robumeta 2.1, clubSandwich 0.6.0 (the CRAN releases of April 2026) in
#              .r-libs/cran-2026, on the same R 4.2.2 and .venv (R_LIBS points at the library)
#   cran-2025  metafor 4.8-0, robumeta 2.1, clubSandwich 0.6.0 in .r-libs/cran-2025, R 4.2.2
#   debian13   a Debian 13 (trixie) root filesystem in .stacks/debian13: R 4.5.0, metafor 4.8-0,
#              robumeta 2.1, clubSandwich 0.5.11, Python 3.13, rpy2 >= 3.6.7; commands run in it by
#              chroot, with the checkout (read-write) and the shared folder (read-only) mounted at
#              their own paths. Building and entering it needs root, as apt does.
#
# In `run`, the stack's virtual environment comes first on PATH: name commands bare
# (`metaharness verify`, `python -m pytest`), not as .venv/bin/..., so that they mean the same
# thing in every stack.
#
# Where the CRAN stacks come from: the source packages in $METAHARNESS_R_PACKAGES (default:
# ../shared/r-packages beside the checkout), each checked against the folder's SHA256SUMS and
# installed with `R CMD INSTALL -l`; where that folder or a file is missing, from CRAN
# ($METAHARNESS_CRAN, default https://cloud.r-project.org) with install.packages(); where neither
# can be had, the stack fails with what is missing. Their R dependencies come from Debian.
#
# Other settings: METAHARNESS_STACKS_DIR (default .stacks: the Debian 13 root filesystem),
# METAHARNESS_DEBIAN_MIRROR (default: the Debian mirror of this machine's apt sources),
# METAHARNESS_SHARED (default ../shared: mounted read-only in debian13, where tests read samples),
# STACKS (for `test`; default "cran-2026 cran-2025 debian13").
#
# Builds are stamped: a stamp records what a build was made from and is written last, after the
# build was checked, so a half-built stack never looks complete and a second run installs nothing.
set -euo pipefail
CALLER_PWD=$(pwd -P)
cd "$(dirname "$0")/.."
ROOT=$(pwd -P)

STACK_NAMES="debian12 cran-2026 cran-2025 debian13"
DEFAULT_STACKS="cran-2026 cran-2025 debian13"
R_LIBS_DIR=$ROOT/.r-libs
STACKS_DIR=${METAHARNESS_STACKS_DIR:-$ROOT/.stacks}
case "$STACKS_DIR" in /*) ;; *) STACKS_DIR=$ROOT/$STACKS_DIR ;; esac
SHARED=${METAHARNESS_SHARED:-$ROOT/../shared}
R_PACKAGES=${METAHARNESS_R_PACKAGES:-$SHARED/r-packages}
CRAN=${METAHARNESS_CRAN:-https://cloud.r-project.org}
# R libraries that must not take part in a stack: a path that does not exist drops the user library
NO_LIB=$R_LIBS_DIR/.none
# Debian's packages that the CRAN releases need (DESCRIPTION Depends/Imports of metafor 5.0-1 and
# 4.8-0, robumeta 2.1, clubSandwich 0.6.0)
CRAN_DEPS_DEBS="r-cran-numderiv r-cran-digest r-cran-lifecycle r-cran-mathjaxr r-cran-pbapply r-cran-sandwich r-cran-matrix r-cran-nlme r-cran-metadat"
# Debian 13: R and the packages, what rpy2's build needs (a C compiler, Python's and R's headers),
# make, and chromium for the HTML report's browser tests
D13_SUITE=trixie
D13_DEBS="r-base-core r-base-dev make r-cran-metafor r-cran-robumeta r-cran-clubsandwich python3 python3-venv python3-dev gcc chromium"
D13_VENV=/opt/metaharness/venv
D13_RPY2="rpy2>=3.6.7"
# bump when the recipe below changes in a way the stamp cannot see
D13_RECIPE=1
# This test runs `metaharness verify` of every bundled fixture, which each stack's own verify step
# runs too (with the stack's versions checked in the report): the pytest runs here leave it out, so
# that the slowest check is not made twice per stack.
VERIFY_TEST=tests/test_cli.py::test_verify_bundled_fixtures_agree
# The wheel tests build the package and install it into a fresh venv (pip, rpy2 pinned by R):
# packaging, checked once in the debian12 suite; the other stacks' R-backed tests leave them out.
WHEEL_TESTS=tests/test_wheel.py

say() { printf 'metaharness stacks: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

known() { case " $STACK_NAMES " in *" $1 "*) return 0 ;; esac; die "unknown stack '$1' (the stacks: $STACK_NAMES)"; }

# What a stack's run must find, for pytest's --expect-r (and the check of verify's JSON report)
expect() {
  case "$1" in
    debian12) echo "R=4.2.2,metafor=3.8-1,robumeta=2.0,clubSandwich=0.5.8,rpy2=3.5.17" ;;
    cran-2026) echo "R=4.2.2,metafor=5.0-1,robumeta=2.1,clubSandwich=0.6.0,rpy2=3.5.17" ;;
    cran-2025) echo "R=4.2.2,metafor=4.8-0,robumeta=2.1,clubSandwich=0.6.0,rpy2=3.5.17" ;;
    debian13) echo "R=4.5.0,metafor=4.8-0,robumeta=2.1,clubSandwich=0.5.11,python=3.13,rpy2=3.6" ;;
  esac
}

# The CRAN source packages of a CRAN stack, as file names
cran_tarballs() {
  case "$1" in
    cran-2026) echo "metafor_5.0-1.tar.gz robumeta_2.1.tar.gz clubSandwich_0.6.0.tar.gz" ;;
    cran-2025) echo "metafor_4.8-0.tar.gz robumeta_2.1.tar.gz clubSandwich_0.6.0.tar.gz" ;;
  esac
}

need_root() {
  [ "$(id -u)" = 0 ] || die "the $1 stack cannot be built or entered as $(id -un) (uid $(id -u)): $2 need root, as apt-get does. Run it as root (CI runs as root), or leave it out: STACKS=\"$(echo " $DEFAULT_STACKS " | sed "s/ $1 / /; s/^ //; s/ \$//")\""
}

apt_install() {  # apt_install WHY DEB...: install Debian packages that are missing (root or sudo -n)
  local why=$1; shift
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} = 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null || die "$why needs ${missing[*]} from Debian, and this user can neither become root nor use sudo: sudo apt-get install -y --no-install-recommends ${missing[*]}"
    sudo="sudo -n"
  fi
  command -v apt-get >/dev/null 2>&1 || die "$why needs the Debian packages ${missing[*]}, and apt-get is not available"
  say "installing from Debian for $why: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# -------------------------------------------------------------------------------------------
# debian12 and the CRAN stacks: the host's R and .venv

HOST_READY=""
host_venv() { [ -n "$HOST_READY" ] || bash scripts/setup.sh --browser; HOST_READY=1; }

# Run R for a stack (its library in front, the user's library left out)
stack_rscript() {
  local stack=$1; shift
  if [ "$stack" = debian12 ]; then env -u R_LIBS R_LIBS_USER="$NO_LIB" Rscript --no-init-file "$@"
  else R_LIBS="$R_LIBS_DIR/$stack" R_LIBS_USER="$NO_LIB" Rscript --no-init-file "$@"
  fi
}

# "metafor=5.0-1 robumeta=2.1 ..." as R finds them in a stack
r_versions() {
  stack_rscript "$1" -e 'v <- function(p) tryCatch(as.character(utils::packageDescription(p)$Version), error = function(e) "none", warning = function(w) "none")' \
    -e 'cat(paste0("R=", R.version$major, ".", R.version$minor), paste0("metafor=", v("metafor")), paste0("robumeta=", v("robumeta")), paste0("clubSandwich=", v("clubSandwich")), "\n")'
}

sha256_of_listed() {  # the checksum SHA256SUMS lists for a file name (empty when not listed)
  awk -v f="$1" '$2 == f || $2 == "*" f { print $1 }' "$R_PACKAGES/SHA256SUMS" 2>/dev/null | head -1
}

install_cran() {
  local stack=$1 lib=$R_LIBS_DIR/$1 tarballs want r_ver
  tarballs=$(cran_tarballs "$stack")
  want=$(for t in $tarballs; do t=${t%.tar.gz}; printf '%s=%s ' "${t%%_*}" "${t#*_}"; done)
  command -v Rscript >/dev/null 2>&1 || die "the $stack stack needs R: run scripts/setup.sh first"
  r_ver=$(Rscript --vanilla -e 'cat(R.version$major, R.version$minor, sep=".")')
  local stamp_want="stack=$stack R=$r_ver packages=${want% }"
  if [ -f "$lib/.metaharness-stack" ] && [ "$(cat "$lib/.metaharness-stack")" = "$stamp_want" ]; then
    return 0
  fi
  apt_install "the $stack stack (R dependencies of the CRAN packages)" $CRAN_DEPS_DEBS
  local tmp=$lib.partial
  rm -rf "$tmp"; mkdir -p "$tmp"
  # from the folder of source packages, each checked against SHA256SUMS; what is not there, from CRAN
  local local_files=() from_cran=() t sum want_sum
  for t in $tarballs; do
    if [ -f "$R_PACKAGES/$t" ]; then
      want_sum=$(sha256_of_listed "$t")
      [ -n "$want_sum" ] || die "$R_PACKAGES/$t is not listed in $R_PACKAGES/SHA256SUMS: refusing to install an unchecked package"
      sum=$(sha256sum "$R_PACKAGES/$t" | cut -d' ' -f1)
      [ "$sum" = "$want_sum" ] || die "$R_PACKAGES/$t: SHA256 is $sum, SHA256SUMS says $want_sum: the file is damaged or not the release it is named after"
      local_files+=("$R_PACKAGES/$t")
    else
      from_cran+=("$t")
    fi
  done
  # dependencies first (R CMD INSTALL takes the files in this order)
  if [ ${#local_files[@]} -gt 0 ]; then
    say "installing ${local_files[*]##*/} into ${lib#"$ROOT"/} (R CMD INSTALL)"
    R_LIBS="$tmp" R_LIBS_USER="$NO_LIB" R CMD INSTALL --no-docs --no-html --no-demo -l "$tmp" "${local_files[@]}" > "$tmp.log" 2>&1 \
      || { tail -20 "$tmp.log" >&2; die "R CMD INSTALL failed for the $stack stack (log: ${tmp#"$ROOT"/}.log)"; }
  fi
  if [ ${#from_cran[@]} -gt 0 ]; then
    say "not in $R_PACKAGES: ${from_cran[*]}; installing them from CRAN ($CRAN)"
    local urls=() u
    for t in "${from_cran[@]}"; do urls+=("$t"); done
    # each release by its exact file: the current one is in src/contrib, an older one in src/contrib/Archive/<pkg>/
    if ! R_LIBS="$tmp" R_LIBS_USER="$NO_LIB" timeout 900 Rscript --vanilla - "$tmp" "$CRAN" "${urls[@]}" > "$tmp.log" 2>&1 <<'EOF'
a <- commandArgs(trailingOnly = TRUE); lib <- a[1]; cran <- a[2]
options(timeout = 120)
for (f in a[-(1:2)]) {
  pkg <- sub("_.*", "", f)
  ok <- FALSE
  for (u in c(file.path(cran, "src/contrib", f), file.path(cran, "src/contrib/Archive", pkg, f))) {
    r <- tryCatch({ install.packages(u, lib = lib, repos = NULL, type = "source", quiet = TRUE); TRUE },
                  error = function(e) FALSE, warning = function(w) FALSE)
    if (r && requireNamespace(pkg, lib.loc = lib, quietly = TRUE)) { ok <- TRUE; break }
  }
  if (!ok) { message("cannot install ", f, " from ", cran); quit(status = 1) }
}
EOF
    then
      rm -rf "$tmp"
      die "cannot build the $stack stack: ${from_cran[*]} are not in $R_PACKAGES (set METAHARNESS_R_PACKAGES to a folder with them and its SHA256SUMS), and CRAN ($CRAN) could not give them ($(tail -1 "$tmp.log"))"
    fi
  fi
  # check what R now finds, then stamp and put the library in place
  local got
  got=$(R_LIBS="$tmp" R_LIBS_USER="$NO_LIB" Rscript --no-init-file -e 'cat(sapply(c("metafor","robumeta","clubSandwich"), function(p) paste0(p, "=", as.character(utils::packageDescription(p, lib.loc = Sys.getenv("R_LIBS"))$Version))))')
  [ "$got" = "${want% }" ] || die "the $stack library holds $got, not ${want% }"
  echo "$stamp_want" > "$tmp/.metaharness-stack"
  rm -rf "$lib"; mv "$tmp" "$lib"; rm -f "$tmp.log"
  say "$stack ready: ${want% } in ${lib#"$ROOT"/}"
}

# -------------------------------------------------------------------------------------------
# debian13: a Debian 13 root filesystem, entered with chroot in a private mount namespace

D13=$STACKS_DIR/debian13
D13_ROOT=$D13/root

host_mirror() {
  [ -n "${METAHARNESS_DEBIAN_MIRROR:-}" ] && { echo "$METAHARNESS_DEBIAN_MIRROR"; return; }
  local codename m=""
  codename=$(. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}")
  if [ -n "$codename" ]; then
    # deb822 .sources: the paragraph whose Suites holds this release (not -security, not -updates)
    m=$(awk -v c="$codename" 'BEGIN { RS = "" } {
          u = ""; s = 0; n = split($0, L, "\n")
          for (i = 1; i <= n; i++) {
            if (L[i] ~ /^URIs:/) { split(L[i], a, /[ \t]+/); u = a[2] }
            if (L[i] ~ /^Suites:/ && (L[i] " ") ~ ("[ \t]" c "[ \t]")) s = 1
          }
          if (s && u != "") { print u; exit } }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    [ -n "$m" ] || m=$(awk -v c="$codename" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { if ($(i+1) == c) { print $i; exit } break } }' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

mounts_under() {  # mount points at or below a folder, in this mount namespace
  awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo
}

safe_rm_rootfs() {  # remove a root filesystem, never through a mount (a bind mount would be emptied too)
  local d=$1 m
  [ -e "$d" ] || return 0
  m=$(mounts_under "$d")
  [ -z "$m" ] || die "refusing to remove $d: something is mounted in it ($(echo $m)); unmount it first (umount -R $d)"
  rm -rf --one-file-system "$d"
}

d13_stamp_want() { echo "suite=$D13_SUITE mirror=$(host_mirror) debs=$D13_DEBS recipe=$D13_RECIPE"; }

# Run a command in the root filesystem ROOTFS: a private mount namespace (so that no mount outlives
# the command, whatever ends it), /proc, a /dev/shm, the checkout and the shared folder mounted at
# their own paths, then chroot with a clean environment; the mounts are also undone by a trap on
# exit, error or Ctrl-C. Extra environment as NAME=VALUE before `--`: d13_enter ROOTFS [ENV...] -- CMD...
D13_ENTER=$(cat <<'EOF'
set -euo pipefail
rootfs=$1 root=$2 shared=$3 cwd=$4 shared_seen=$5; shift 5
mounted=()
undo() { local i; for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" 2>/dev/null || true; done; mounted=(); }
trap undo EXIT
trap 'undo; exit 130' INT
trap 'undo; exit 143' TERM
mnt() { mount "$@"; mounted+=("${@: -1}"); }
mnt -t proc proc "$rootfs/proc"
mnt -t tmpfs -o mode=1777,size=2g tmpfs "$rootfs/dev/shm"   # chromium's shared memory
mnt -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$rootfs/dev/pts"   # apt's log wants a terminal
mkdir -p "$rootfs$root"; mnt --bind "$root" "$rootfs$root"
for at in $(printf '%s\n' "$shared" "$shared_seen" | sort -u); do   # its real path, and the path beside the checkout
  mkdir -p "$rootfs$at"; mnt --bind "$shared" "$rootfs$at"; mount -o remount,bind,ro "$rootfs$at"
done
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
envs=(PATH=/opt/metaharness/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
      DEBIAN_FRONTEND=noninteractive PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1)
for v in TERM COLUMNS CI NO_COLOR PIP_DEFAULT_TIMEOUT; do if [ -n "${!v:-}" ]; then envs+=("$v=${!v}"); fi; done
while IFS= read -r v; do envs+=("$v=${!v}"); done < <(compgen -e | grep '^METAHARNESS_' || true)
while [ "$1" != "--" ]; do envs+=("$1"); shift; done; shift
status=0
chroot "$rootfs" /usr/bin/env -i "${envs[@]}" /bin/sh -c 'cd "$0" 2>/dev/null || cd /; exec "$@"' "$cwd" "$@" || status=$?
exit $status
EOF
)

d13_enter() {
  local rootfs=$1; shift
  local shared="" shared_seen="" cwd=$ROOT
  if [ -d "$SHARED" ]; then
    shared=$(cd "$SHARED" && pwd -P)
    shared_seen=$(cd "$(dirname "$SHARED")" && pwd -P)/$(basename "$SHARED")
  fi
  # the caller's folder, when the chroot sees it (inside the checkout or the shared folder)
  case "$CALLER_PWD/" in "$ROOT"/*|"${shared:-/nonexistent}"/*) cwd=$CALLER_PWD ;; esac
  unshare --mount --propagation private -- bash -c "$D13_ENTER" d13-enter "$rootfs" "$ROOT" "$shared" "$cwd" "$shared_seen" "$@"
}

install_debian13() {
  need_root debian13 "debootstrap, mount and chroot"
  command -v unshare >/dev/null 2>&1 || die "the debian13 stack needs unshare (Debian's util-linux)"
  local want; want=$(d13_stamp_want)
  if ! { [ -f "$D13/stamp" ] && [ "$(cat "$D13/stamp")" = "$want" ] && [ -x "$D13_ROOT/usr/bin/Rscript" ]; }; then
    apt_install "the debian13 stack" debootstrap
    local mirror tmp=$STACKS_DIR/debian13.partial
    mirror=$(host_mirror)
    safe_rm_rootfs "$tmp"; mkdir -p "$tmp"
    say "building a Debian 13 ($D13_SUITE) root filesystem in ${D13#"$ROOT"/} from $mirror (debootstrap, then apt-get)"
    timeout 1800 debootstrap --variant=minbase "$D13_SUITE" "$tmp/root" "$mirror" > "$tmp/debootstrap.log" 2>&1 \
      || { tail -20 "$tmp/debootstrap.log" >&2; die "debootstrap $D13_SUITE from $mirror failed (log: ${tmp#"$ROOT"/}/debootstrap.log)"; }
    # its own ca-certificates first, then the host's bundle over it: the registries are reached
    # through certificates this machine trusts (without them pip fails with CERTIFICATE_VERIFY_FAILED)
    d13_enter "$tmp/root" -- sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends ca-certificates >/dev/null' \
      || die "apt-get in the Debian 13 root filesystem failed (ca-certificates)"
    cp /etc/ssl/certs/ca-certificates.crt "$tmp/root/etc/ssl/certs/ca-certificates.crt"
    d13_enter "$tmp/root" -- sh -c "timeout 1800 apt-get install -y -qq --no-install-recommends $D13_DEBS >/dev/null && apt-get clean" \
      || die "apt-get install in the Debian 13 root filesystem failed ($D13_DEBS)"
    mkdir -p "$tmp/root/opt/metaharness"
    echo "$want" > "$tmp/stamp"
    safe_rm_rootfs "$D13"; mv "$tmp" "$D13"
  fi
  # the venv: rpy2 >= 3.6.7 (R 4.5) and the project with its test extras, from the checkout itself
  local vwant="python=$(chroot "$D13_ROOT" python3 -c 'import sys; print(sys.version.split()[0])') rpy2=$D13_RPY2 pyproject=$(sha1sum pyproject.toml | cut -c1-12) root=$ROOT"
  local vstamp=$D13_ROOT$D13_VENV/.metaharness-setup
  if [ -f "$vstamp" ] && [ "$(cat "$vstamp")" = "$vwant" ]; then return 0; fi
  say "creating the Debian 13 virtual environment ($D13_RPY2, numpy, scipy, metaharness[test] from $ROOT)"
  rm -f "$vstamp"
  d13_enter "$D13_ROOT" -- sh -c "set -e
    [ -x $D13_VENV/bin/python ] || python3 -m venv $D13_VENV
    $D13_VENV/bin/python -m pip install -q --upgrade pip
    $D13_VENV/bin/python -m pip install -q '$D13_RPY2'
    $D13_VENV/bin/python -m pip install -q -e '$ROOT[test]'
    $D13_VENV/bin/python -c 'import rpy2.robjects'" || die "the Debian 13 virtual environment could not be built (pip, in the chroot)"
  echo "$vwant" > "$vstamp"
  say "debian13 ready: $(d13_enter "$D13_ROOT" -- sh -c 'Rscript -e "cat(R.version.string)"; echo; python --version')"
}

# -------------------------------------------------------------------------------------------

install() {
  local s
  for s in "$@"; do
    known "$s"
    case "$s" in
      debian12) host_venv ;;
      cran-*) host_venv; install_cran "$s" ;;
      debian13) install_debian13 ;;
    esac
  done
}

run() {
  local stack=$1; shift
  known "$stack"
  [ $# -gt 0 ] || die "run $stack: no command given"
  install "$stack" >&2
  case "$stack" in
    debian12) cd "$CALLER_PWD"; exec env -u R_LIBS R_LIBS_USER="$NO_LIB" PATH="$ROOT/.venv/bin:$PATH" "$@" ;;
    cran-*) cd "$CALLER_PWD"; exec env R_LIBS="$R_LIBS_DIR/$stack" R_LIBS_USER="$NO_LIB" PATH="$ROOT/.venv/bin:$PATH" "$@" ;;
    debian13) d13_enter "$D13_ROOT" -- "$@" ;;
  esac
}

# The R-backed tests a stack runs. The CRAN stacks are Debian 12's R 4.2.2 and rpy2 with other R
# packages: the tests marked r_bridge (tests/conftest.py: worker faults, clusters, the browser, the
# plugin's machinery; they need R but no particular package release) already ran on that R in
# debian12's whole suite, so they leave those out; debian13 (its own R and rpy2) runs them all.
r_selection() {
  case "$1" in
    cran-*) echo "r and not r_bridge" ;;
    *) echo "r" ;;
  esac
}

# The stack's part of `make test`: it must find exactly its versions (else the run ends), run every
# R-backed test, and verify every bundled fixture with 0 differ, 0 missing, 0 engine errors.
check() {
  local stack=$1; shift
  known "$stack"
  install "$stack"
  local status=0 sel
  sel=$(r_selection "$stack")
  say "$stack: every R-backed test (pytest -m \"$sel\" --expect-r $(expect "$stack"))"
  ( CALLER_PWD=$ROOT; run "$stack" python -m pytest --require-r --no-skip -m "$sel" --expect-r "$(expect "$stack")" --deselect "$VERIFY_TEST" --deselect "$WHEEL_TESTS" -p no:cacheprovider "$@" ) || status=1
  say "$stack: metaharness verify of every bundled fixture"
  verify_only "$stack" || status=1
  return $status
}

test_all() {
  local stacks=${STACKS-$DEFAULT_STACKS} s rc t0 failed=0 lines=() others=""
  local t_all=$SECONDS out=$ROOT/out/stacks
  for s in $stacks; do known "$s"; [ "$s" = debian12 ] || others+=" $s"; done
  stage() {  # stage NAME CMD...: run, time, record
    local name=$1; shift
    t0=$SECONDS; rc=0
    say "=== $name"
    ( "$@" ) || rc=$?
    record "$name" $rc $((SECONDS - t0))
  }
  record() { lines+=("$(printf '%-36s %-6s %5d s' "$1" "$([ "$2" = 0 ] && echo ok || echo FAILED)" "$3")"); [ "$2" = 0 ] || failed=1; }
  stage "set-up (.venv, R, chromium)" host_venv
  [ $rc = 0 ] && HOST_READY=1
  CALLER_PWD=$ROOT
  # The other stacks are built (where missing) in the background while debian12 is tested: the
  # builds wait on the network and on one core, the tests mostly use the other.
  mkdir -p "$out"; rm -f "$out"/build-*.done
  BUILDER=""
  if [ -n "$others" ]; then
    ( for s in $others; do
        t0=$SECONDS; rc=0
        ( install "$s" ) > "$out/build-$s.log" 2>&1 || rc=$?
        echo "$rc $((SECONDS - t0))" > "$out/build-$s.done"
      done ) &
    BUILDER=$!
    trap 'if [ -n "${BUILDER:-}" ]; then kill "$BUILDER" 2>/dev/null || true; wait 2>/dev/null || true; fi' EXIT
  fi
  stage "debian12: whole suite" run debian12 python -m pytest --require-r --expect-r "$(expect debian12)" --deselect "$VERIFY_TEST" "$@"
  stage "debian12: verify" verify_only debian12
  for s in $others; do
    while [ ! -f "$out/build-$s.done" ] && kill -0 "$BUILDER" 2>/dev/null; do sleep 2; done
    say "=== $s: build (in the background; its log: ${out#"$ROOT"/}/build-$s.log)"
    grep '^metaharness ' "$out/build-$s.log" >&2 || true
    if [ -f "$out/build-$s.done" ]; then
      read -r rc t0 < "$out/build-$s.done"
    else
      rc=1 t0=0; say "the build of $s did not finish"
    fi
    [ "$rc" = 0 ] || tail -20 "$out/build-$s.log" >&2
    record "$s: build (if missing)" "$rc" "$t0"
    if [ "$rc" = 0 ]; then stage "$s: R-backed tests + verify" check "$s" "$@"
    else record "$s: R-backed tests + verify" 1 0
    fi
  done
  printf '\nmetaharness make test: stages and times (stacks: debian12%s; builds overlap the debian12 stages)\n' "$others"
  printf '  %s\n' "${lines[@]}"
  printf '  %-36s %-6s %5d s\n' "total (wall clock)" "$([ $failed = 0 ] && echo ok || echo FAILED)" $((SECONDS - t_all))
  return $failed
}

verify_only() {
  local stack=$1 out=$ROOT/out/stacks
  mkdir -p "$out"; rm -f "$out/verify-$stack.json"
  local status=0
  ( CALLER_PWD=$ROOT; run "$stack" metaharness verify --no-progress --json "$out/verify-$stack.json" > "$out/verify-$stack.txt" 2>&1 ) || status=1
  tail -3 "$out/verify-$stack.txt"
  ( CALLER_PWD=$ROOT; run "$stack" python scripts/stack_verified.py "$out/verify-$stack.json" "$stack" "$(expect "$stack")" ) || status=1
  return $status
}

clean() {
  rm -rf "$R_LIBS_DIR"
  safe_rm_rootfs "$STACKS_DIR/debian13.partial"
  safe_rm_rootfs "$D13"
  rmdir "$STACKS_DIR" 2>/dev/null || true
}

list() {
  local s
  for s in $STACK_NAMES; do printf '%-10s %s\n' "$s" "$(expect "$s" | tr ',' ' ')"; done
}

main() {
  local cmd=${1:-}; [ $# -gt 0 ] && shift
  case "$cmd" in
    list) list ;;
    install) if [ $# -gt 0 ]; then install "$@"; else install debian12 ${STACKS-$DEFAULT_STACKS}; fi ;;
    clean) clean ;;
    run) [ $# -gt 1 ] || usage; run "$@" ;;
    check) [ $# -gt 0 ] || usage; check "$@" ;;
    verify) [ $# = 1 ] || usage; install "$1"; verify_only "$1" ;;
    test) test_all "$@" ;;
    *) usage ;;
  esac
}

# on one line: bash has read all of it before it runs, so editing this file under a run is safe
main "$@"; exit $?
