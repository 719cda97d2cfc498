"""The R engine: metafor, robumeta and clubSandwich through rpy2.

This is the only module that imports rpy2. :func:`get_engine` runs R in a
restartable worker process (:mod:`harness.engines.worker`); inside it, R
starts once (one embedded R per process), the scripts in ``r_scripts/`` are sourced once into
a private environment, and every call goes through ``mh_call`` (engine.R):

* Python sends the *name* of an ``mh_*`` function and plain data (numbers,
  strings, booleans, named lists of those); no R code is ever built from user
  strings.
* R's warnings are collected per call and returned, R's errors come back as
  R's own message (:class:`RCall.error`), and nothing is printed on the
  user's terminal (console output is captured, see :attr:`REngine.console`).
* Results are converted to plain Python values: no rpy2 object leaves here.
"""
from __future__ import annotations

import contextlib
import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.versions import SUPPORTED_METAFOR
from ..errors import EngineUnavailable

#: R packages the engine needs, and the Debian packages that provide them.
R_PACKAGES = {"metafor": "r-cran-metafor", "robumeta": "r-cran-robumeta", "clubSandwich": "r-cran-clubsandwich"}
#: the releases of each package this release of metaharness is tested with (the
#: supported R stacks: Debian 12, current CRAN, Debian 13); others run, and
#: ``doctor`` says they are untested. metafor's are harness.core.versions.SUPPORTED_METAFOR.
SUPPORTED_VERSIONS = {"metafor": SUPPORTED_METAFOR, "robumeta": ("2.0", "2.1"), "clubSandwich": ("0.5.8", "0.5.11", "0.6.0")}
_FNAME = re.compile(r"^mh_[A-Za-z0-9_]+$")
INSTALL_HINT = "run `make setup` (it installs R and " + " ".join(R_PACKAGES.values()) + " from Debian's packages)"


def scripts_dir() -> Path:
    """The R scripts: ``$METAHARNESS_R_SCRIPTS``, else the bundled ones (:func:`harness.resources.r_scripts`)."""
    from ..errors import HarnessError
    from ..resources import r_scripts

    try:
        folder = r_scripts()
    except HarnessError as e:
        raise EngineUnavailable(f"cannot find the R scripts: {e}; set METAHARNESS_R_SCRIPTS to a folder of them") from None
    if not folder.is_dir() or not any(folder.glob("*.R")):
        how = "$METAHARNESS_R_SCRIPTS" if os.environ.get("METAHARNESS_R_SCRIPTS") else "the bundled folder"
        raise EngineUnavailable(f"no R scripts in {folder} ({how}); set METAHARNESS_R_SCRIPTS to the metaharness r_scripts folder")
    return folder


@dataclass
class RCall:
    """Outcome of one R call: ``value`` (plain Python) or ``error`` (R's message)."""

    value: Any = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    #: set when the engine itself failed rather than R's code: "crash" (the R
    #: worker died), "timeout" (the call ran past the limit) or "unavailable"
    fault: str | None = None


def _capture_console(sink: list[str]):
    """Temporarily route R's console output into ``sink`` instead of the terminal."""
    from rpy2.rinterface_lib import callbacks

    @contextlib.contextmanager
    def cm():
        saved = callbacks.consolewrite_print, callbacks.consolewrite_warnerror
        callbacks.consolewrite_print = sink.append
        callbacks.consolewrite_warnerror = sink.append
        try:
            yield
        finally:
            callbacks.consolewrite_print, callbacks.consolewrite_warnerror = saved

    return cm()


class REngine:
    """One embedded R with the metaharness scripts loaded (lazy, per process)."""

    def __init__(self, scripts: Path | None = None, extra_scripts=()):
        self._scripts = scripts
        self._extra_scripts = [Path(p) for p in extra_scripts]
        self._env = None
        self._mh_call = None
        self.console: list[str] = []
        self._versions: dict[str, str] | None = None

    # -- start-up -----------------------------------------------------------------
    def start(self):
        if self._env is not None:
            return self
        try:
            import rpy2.rinterface_lib.callbacks  # noqa: F401
        except ImportError as e:
            raise EngineUnavailable(f"rpy2 is not installed ({e}); {INSTALL_HINT}") from None
        with _capture_console(self.console):
            try:
                import rpy2.robjects as ro
            except Exception as e:  # a missing libR, or an rpy2/R version mismatch
                msg = str(e)
                if "R_getVar" in msg:
                    msg += " -- this rpy2 needs R >= 4.5; with an older R use rpy2==3.5.17 (scripts/setup.sh picks it)"
                raise EngineUnavailable(f"R cannot be started through rpy2: {msg}; {INSTALL_HINT}") from None
            missing = [p for p in R_PACKAGES if not ro.r["requireNamespace"](p, quietly=True)[0]]
            if missing:
                debs = " ".join(R_PACKAGES[p] for p in missing)
                err = EngineUnavailable(f"R package(s) missing: {', '.join(missing)}; install them with `apt-get install {debs}` (or run `make setup`)")
                err.probe = self.probe()
                raise err
            env = ro.r["new.env"]()
            folder = self._scripts or scripts_dir()
            files = sorted(folder.glob("*.R"))
            # engine.R first: it defines mh_call and the helpers the others use
            files.sort(key=lambda p: p.name != "engine.R")
            for extra in self._extra_scripts:  # test-only folders, sourced last
                files.extend(sorted(Path(extra).glob("*.R")))
            for f in files:
                if f.name.startswith("generate_") or f.name.startswith("export_"):
                    continue  # command-line scripts, not engine functions
                try:
                    ro.r["sys.source"](str(f), envir=env)
                except Exception as e:  # rpy2's RRuntimeError: a script that does not parse or run
                    raise EngineUnavailable(f"the R script {f} failed to load: {str(e).strip()}") from None
            ro.r["assign"]("mh_env", env, envir=env)
            self._env = env
            self._mh_call = env["mh_call"]
        return self

    def probe(self) -> dict:
        """R's version and each package's version (None when missing), without the scripts.

        Used to say precisely what is missing when the engine cannot start.
        """
        import rpy2.robjects as ro

        out = {"R": None, "R_string": None, "lib_paths": []}
        with _capture_console(self.console):
            ver = ro.r["R.version"]
            out["R_string"] = str(ver.rx2("version.string")[0])
            out["R"] = f"{ver.rx2('major')[0]}.{ver.rx2('minor')[0]}"
            out["lib_paths"] = [str(x) for x in ro.r[".libPaths"]()]
            for pkg in (*R_PACKAGES, "metadat"):
                found = ro.r["requireNamespace"](pkg, quietly=True)[0]
                out[pkg] = str(ro.r["packageDescription"](pkg).rx2("Version")[0]) if found else None
        return out

    # -- calls ------------------------------------------------------------------------
    def call(self, fname: str, **kwargs) -> RCall:
        """Call the R function ``fname`` (an ``mh_*`` name) with plain-data arguments."""
        if not _FNAME.match(fname):
            raise ValueError(f"not an engine function name: {fname!r}")
        self.start()
        import rpy2.robjects as ro

        args = _to_r(dict(kwargs))
        with _capture_console(self.console):
            res = self._mh_call(fname, args)
        out = _to_py(res)
        warnings = out.get("warnings") or []
        if not out["ok"][0]:
            return RCall(None, list(warnings), str(out["error"][0]).strip())
        return RCall(out["value"], list(warnings), None)

    def versions(self) -> dict[str, str]:
        if self._versions is None:
            r = self.call("mh_versions")
            if r.error:
                raise EngineUnavailable(r.error)
            self._versions = {k: (v[0] if v else None) for k, v in r.value.items()}
        return dict(self._versions)


class _RAPI:
    """R's C API as rpy2 exposes it (``openrlib.rlib``, cffi), for the two conversions below.

    A chunk's crossing converts some 10^4 small R vectors each way. Through rpy2's
    ``rinterface`` objects every one costs a wrapper object, a preserve/release pair
    and, for a list's names, a call of R's ``names()``: 0.5-1 ms per fit, more than
    the crossing's pickling. Calling the same C functions R's own code calls
    (``VECTOR_ELT``, ``REAL``, ``Rf_allocVector``, ``Rf_mkCharCE``, ...) directly makes
    the same R objects and the same Python values at a fraction of that cost.
    """

    def __init__(self):
        import rpy2.rinterface as ri
        from rpy2.rinterface_lib import conversion, openrlib

        self.ri, self.ffi, self.lib, self.lock = ri, openrlib.ffi, openrlib.rlib, openrlib.lock
        self.decode = _charsxp_decoder(conversion, self.ffi, self.lib)
        self.wrap = conversion._cdata_to_rinterface  # a SEXP as an rpy2 object (which preserves it)
        # a symbol is never garbage-collected: its SEXP can be kept
        self.names_sym = ri.SexpSymbol("names").__sexp__._cdata


def _charsxp_decoder(conversion, ffi, lib):
    """A CHARSXP (not NA) -> str, decoded as the installed rpy2 decodes a character vector's
    elements: rpy2 >= 3.6 through R's ``Rf_translateCharUTF8`` (``conversion._rchar_to_str``),
    rpy2 3.5 from the bytes with the codec of the string's encoding mark (``_R_ENC_PY``)."""
    if hasattr(conversion, "_rchar_to_str"):
        enc = conversion._ENC_PY
        return lambda e: conversion._rchar_to_str(e, enc)
    codecs = conversion._R_ENC_PY  # filled when R starts, before any conversion
    return lambda e: ffi.string(lib.R_CHAR(e)).decode(codecs[lib.Rf_getCharCE(e)])


@functools.lru_cache(maxsize=1)
def _rapi() -> _RAPI:
    return _RAPI()


def _to_r(x):
    """Plain Python data -> R objects (explicit vector types; never R code).

    None -> NULL; dict -> named list; bool -> logical; int/float -> double; str ->
    character (UTF-8); arrays of numbers -> double, of bools -> logical, of str ->
    character. Built with R's C API (:class:`_RAPI`); each new vector is protected
    from R's garbage collector until it hangs in its (protected) parent.
    """
    api = _rapi()
    lib = api.lib
    with api.lock:
        nprot = [0]
        try:
            sexp = _build_r(x, api, lib, nprot)
            lib.Rf_protect(sexp)
            nprot[0] += 1
            return api.wrap(sexp)
        finally:
            if nprot[0]:
                lib.Rf_unprotect(nprot[0])


def _build_r(x, api, lib, nprot):
    """One value of :func:`_to_r` as an unprotected SEXP (the caller attaches or protects it
    before R allocates again). ``nprot[0]`` counts what is still protected if this raises."""
    if x is None:
        return lib.R_NilValue
    if isinstance(x, dict):
        n = len(x)
        out = lib.Rf_protect(lib.Rf_allocVector(lib.VECSXP, n))
        nprot[0] += 1
        for i, v in enumerate(x.values()):
            lib.SET_VECTOR_ELT(out, i, _build_r(v, api, lib, nprot))
        if n:
            nm = lib.Rf_protect(lib.Rf_allocVector(lib.STRSXP, n))
            nprot[0] += 1
            for i, k in enumerate(x):
                lib.SET_STRING_ELT(nm, i, lib.Rf_mkCharCE(str(k).encode("utf-8"), lib.CE_UTF8))
            lib.Rf_setAttrib(out, api.names_sym, nm)
            lib.Rf_unprotect(1)
            nprot[0] -= 1
        lib.Rf_unprotect(1)
        nprot[0] -= 1
        return out
    if isinstance(x, bool) or isinstance(x, np.bool_):
        return lib.Rf_ScalarLogical(int(bool(x)))
    if isinstance(x, (int, float, np.integer, np.floating)):
        return lib.Rf_ScalarReal(float(x))
    if isinstance(x, str):
        return _str_vector(lib, [x], nprot)
    arr = np.asarray(x)
    if arr.dtype.kind in "iuf":
        a = np.ascontiguousarray(arr, dtype=float).ravel()
        out = lib.Rf_allocVector(lib.REALSXP, a.size)
        if a.size:
            api.ffi.memmove(lib.REAL(out), a, 8 * a.size)
        return out
    if arr.dtype.kind == "b":
        vals = arr.ravel().tolist()
        out = lib.Rf_allocVector(lib.LGLSXP, len(vals))
        if vals:
            api.ffi.memmove(lib.LOGICAL(out), np.array(vals, dtype=np.intc), api.ffi.sizeof("int") * len(vals))
        return out
    if arr.dtype.kind in "UO":
        vals = list(arr.ravel())
        if all(isinstance(v, str) for v in vals):
            return _str_vector(lib, vals, nprot)
    raise TypeError(f"cannot pass {type(x).__name__} to R")


def _str_vector(lib, vals, nprot):
    """A character vector of Python strings, as rpy2 makes one (``Rf_mkCharCE(..., CE_UTF8)``)."""
    out = lib.Rf_protect(lib.Rf_allocVector(lib.STRSXP, len(vals)))
    nprot[0] += 1
    for i, v in enumerate(vals):
        lib.SET_STRING_ELT(out, i, lib.Rf_mkCharCE(v.encode("utf-8"), lib.CE_UTF8))
    lib.Rf_unprotect(1)
    nprot[0] -= 1
    return out


def _to_py(obj):
    """R objects -> plain Python: dicts, lists of float/int/str/bool, None.

    A list whose elements all have names (none "" or NA) -> dict, else a list;
    double -> floats; integer -> ints (NA: nan); logical -> bools (NA: None);
    character -> str (NA: None); NULL -> None; other attributes are ignored.
    Read with R's C API (:class:`_RAPI`): a double vector as one copy of R's buffer.
    Not ``FloatSexpVector.memoryview()``: in rpy2 3.5 each call drops a reference to
    Python's ``None`` (after some 10^5 calls the interpreter aborts, "none_dealloc").
    """
    t = getattr(obj, "typeof", None)
    if obj is None or t is None:
        if t is None and obj is not None:
            raise TypeError(f"R returned an object of type {type(obj)} that the engine does not convert")
        return None
    api = _rapi()
    with api.lock:  # obj (preserved by rpy2) keeps everything reached from it alive: nothing here allocates
        return _read_r(obj.__sexp__._cdata, api, api.lib, {})


def _read_r(x, api, lib, text):
    """``x`` as Python (see :func:`_to_py`). ``text``: the strings read so far in this
    conversion, by CHARSXP (R keeps one CHARSXP per distinct string: a chunk's results
    repeat the same few dozen names thousands of times, decoded once each here)."""
    t = x.sxpinfo.type
    if t == lib.NILSXP:
        return None
    if t == lib.VECSXP:
        vals = [_read_r(lib.VECTOR_ELT(x, i), api, lib, text) for i in range(lib.Rf_xlength(x))]
        nm = lib.Rf_getAttrib(x, api.names_sym)  # what names(x) returns for a list
        if nm.sxpinfo.type == lib.STRSXP:
            names = _read_strings(nm, api, lib, text)
            if names and all(n not in ("", None) for n in names):
                return dict(zip(names, vals))
        return vals
    if t == lib.REALSXP:  # the doubles as R stores them (bit for bit: NA's payload, -0)
        return api.ffi.unpack(lib.REAL(x), lib.Rf_xlength(x))
    if t == lib.INTSXP:
        na = lib.R_NaInt
        return [float("nan") if v == na else v for v in api.ffi.unpack(lib.INTEGER(x), lib.Rf_xlength(x))]
    if t == lib.LGLSXP:
        na = lib.R_NaInt  # NA_LOGICAL is NA_INTEGER
        return [None if v == na else bool(v) for v in api.ffi.unpack(lib.LOGICAL(x), lib.Rf_xlength(x))]
    if t == lib.STRSXP:
        return _read_strings(x, api, lib, text)
    raise TypeError(f"R returned an object of type {api.ri.RTYPES(t)} that the engine does not convert")


def _read_strings(x, api, lib, text):
    out = []
    for i in range(lib.Rf_xlength(x)):
        e = lib.STRING_ELT(x, i)
        s = text.get(e)
        if s is None and e not in text:
            s = text[e] = None if e == lib.R_NaString else api.decode(e)
        out.append(s)
    return out


_ENGINE = None


def get_engine():
    """The process-wide R engine: a :class:`~harness.engines.worker.WorkerEngine`.

    R runs in a worker process (started here, once; restarted after a crash or
    a timeout), so a segfault or a hang in R costs one analysis, not the run.
    Raises :class:`EngineUnavailable` (with the reason and the fix) when R
    cannot start. :class:`REngine` is what runs inside the worker; it can be
    used in-process directly where a crash need not be survived.
    """
    global _ENGINE
    if _ENGINE is None:
        from .worker import WorkerEngine

        _ENGINE = WorkerEngine()
    return _ENGINE.start()
