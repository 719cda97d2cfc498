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
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EngineUnavailable

#: R packages the engine needs, and the Debian packages that provide them.
R_PACKAGES = {"metafor": "r-cran-metafor", "robumeta": "r-cran-robumeta", "clubSandwich": "r-cran-clubsandwich"}
#: the versions this release was verified with (Debian 12); others run, with a note.
EXPECTED_VERSIONS = {"metafor": "3.8-1", "robumeta": "2.0", "clubSandwich": "0.5.8"}
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

        args = ro.ListVector({k: _to_r(v) for k, v in kwargs.items()}) if kwargs else ro.r["list"]()
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


def _to_r(x):
    """Plain Python data -> R objects (explicit vector types; never R code)."""
    import rpy2.robjects as ro

    if x is None:
        return ro.NULL
    if isinstance(x, dict):
        return ro.ListVector({str(k): _to_r(v) for k, v in x.items()}) if x else ro.r["list"]()
    if isinstance(x, bool) or isinstance(x, np.bool_):
        return ro.BoolVector([bool(x)])
    if isinstance(x, (int, float, np.integer, np.floating)):
        return ro.FloatVector([float(x)])
    if isinstance(x, str):
        return ro.StrVector([x])
    arr = np.asarray(x)
    if arr.dtype.kind in "iuf":
        return ro.FloatVector(arr.astype(float).ravel().tolist())
    if arr.dtype.kind == "b":
        return ro.BoolVector(arr.ravel().tolist())
    if arr.dtype.kind in "UO":
        vals = list(arr.ravel())
        if all(isinstance(v, str) for v in vals):
            return ro.StrVector(vals)
    raise TypeError(f"cannot pass {type(x).__name__} to R")


def _to_py(obj):
    """R objects -> plain Python: dicts, lists of float/int/str/bool, None."""
    from rpy2.rinterface import NULLType
    from rpy2.rinterface_lib import sexp
    import rpy2.robjects as ro

    if obj is None or isinstance(obj, NULLType) or obj is ro.NULL:
        return None
    if isinstance(obj, ro.vectors.ListVector) or (isinstance(obj, sexp.Sexp) and obj.typeof == sexp.RTYPES.VECSXP):
        obj = ro.vectors.ListVector(obj) if not isinstance(obj, ro.vectors.ListVector) else obj
        names = list(obj.names) if obj.names is not ro.NULL and obj.names is not None else None
        vals = [_to_py(v) for v in obj]
        if names and all(n not in ("", None) for n in names):
            return dict(zip(names, vals))
        return vals
    if isinstance(obj, ro.vectors.FloatVector) or getattr(obj, "typeof", None) == sexp.RTYPES.REALSXP:
        return [float(v) for v in obj]
    if isinstance(obj, ro.vectors.IntVector) or getattr(obj, "typeof", None) == sexp.RTYPES.INTSXP:
        return [float("nan") if v == ro.NA_Integer else int(v) for v in obj]
    if isinstance(obj, ro.vectors.BoolVector) or getattr(obj, "typeof", None) == sexp.RTYPES.LGLSXP:
        return [None if v is ro.NA_Logical else bool(v) for v in obj]
    if isinstance(obj, ro.vectors.StrVector) or getattr(obj, "typeof", None) == sexp.RTYPES.STRSXP:
        return [None if v is ro.NA_Character else str(v) for v in obj]
    if getattr(obj, "typeof", None) == sexp.RTYPES.NILSXP:
        return None
    raise TypeError(f"R returned an object of type {getattr(obj, 'typeof', type(obj))} that the engine does not convert")


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
