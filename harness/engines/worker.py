"""The R engine in a separate worker process that the harness can time out and restart.

Why a worker: R runs native code (metafor's, Matrix's, BLAS) that can crash the
process (a segfault) or hang. Embedded in the harness's own process, either
would take the whole run down and lose every result computed so far. Here R
lives in a child process (``python -m harness.engines.worker``) that embeds R
once through :class:`harness.engines.r.REngine` and answers calls until told
to stop; the harness keeps only plain Python data.

* :class:`WorkerEngine` has the interface of :class:`~harness.engines.r.REngine`
  (``call("mh_x", **kwargs) -> RCall``, ``versions()``), so analysis kinds
  need no change. R starts once per worker, not per call.
* A call that takes longer than ``timeout`` seconds stops the worker (SIGKILL)
  and returns an :class:`~harness.engines.r.RCall` whose ``error`` says so and
  whose ``fault`` is ``"timeout"``. A worker that dies during a call (killed,
  a segfault, R exiting) gives ``fault = "crash"`` with the signal or exit
  status and the last lines R wrote to stderr. Either way the next call starts
  a fresh worker: the run continues and results already computed are kept.
* The protocol is pickled tuples over two private pipes (not stdin/stdout:
  the worker points its stdout at its stderr, so stray console output from
  native code can never corrupt the protocol). Only plain data crosses.

Settings (environment, for the command line): ``METAHARNESS_R_TIMEOUT``
(seconds per call, default 300) and ``METAHARNESS_R_START_TIMEOUT`` (seconds
to start R and load the packages, default 120). ``METAHARNESS_R_EXTRA_SCRIPTS``
(``os.pathsep``-separated folders of extra ``mh_*`` R scripts, sourced after
``r_scripts/``) exists for the fault-injection tests; as with ``R_PROFILE_USER``,
whoever sets the environment already controls what runs.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from multiprocessing.connection import Connection
from pathlib import Path

from ..errors import EngineUnavailable

DEFAULT_TIMEOUT = 300.0
DEFAULT_START_TIMEOUT = 120.0
_POLL = 0.25  # seconds between liveness checks while waiting for an answer


def _env_float(name, default):
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        val = float(raw)
    except ValueError:
        raise EngineUnavailable(f"${name} = {raw!r} is not a number of seconds") from None
    if not val > 0:
        raise EngineUnavailable(f"${name} = {raw!r} must be a positive number of seconds")
    return val


#: how the worker starts: ``harness`` as a bare package (its __init__ imports
#: scipy and pandas, which the worker does not need), then this module's main()
_BOOT = (
    "import sys, types, os\n"
    "root = sys.argv.pop(1)\n"
    "pkg = types.ModuleType('harness'); pkg.__path__ = [os.path.join(root, 'harness')]\n"
    "sys.modules['harness'] = pkg\n"
    "from harness.engines.worker import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _signal_name(returncode):
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with status {returncode}"


class WorkerEngine:
    """R in a restartable child process; same interface as :class:`~harness.engines.r.REngine`.

    ``scripts``: the r_scripts folder (default: the bundled one);
    ``extra_scripts``: more folders of ``mh_*`` scripts sourced after it;
    ``env``: environment overrides for the worker (e.g. ``R_LIBS_SITE``);
    ``timeout``/``start_timeout``: seconds per call / to start R.
    """

    def __init__(self, scripts=None, extra_scripts=(), env=None, timeout=None, start_timeout=None):
        from .r import scripts_dir

        self.scripts = Path(scripts) if scripts else None
        if extra_scripts == () and os.environ.get("METAHARNESS_R_EXTRA_SCRIPTS"):
            extra_scripts = [p for p in os.environ["METAHARNESS_R_EXTRA_SCRIPTS"].split(os.pathsep) if p]
        self.extra_scripts = [Path(p) for p in extra_scripts]
        self._scripts_resolved = self.scripts or scripts_dir()
        self.env = dict(env or {})
        self.timeout = float(timeout) if timeout else _env_float("METAHARNESS_R_TIMEOUT", DEFAULT_TIMEOUT)
        self.start_timeout = float(start_timeout) if start_timeout else _env_float("METAHARNESS_R_START_TIMEOUT", DEFAULT_START_TIMEOUT)
        self._proc: subprocess.Popen | None = None
        self._send: Connection | None = None
        self._recv: Connection | None = None
        self._stderr = None
        self._versions: dict | None = None
        self._lock = threading.Lock()
        #: how many workers were started (1 + restarts), and what happened to the others
        self.starts = 0
        self.faults: list[str] = []
        self._finalizer = None

    # -- life cycle --------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """Process id of the running worker (None when none runs)."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def start(self):
        """Start the worker (if none runs) and wait until R and the packages are loaded.

        Raises :class:`EngineUnavailable` with the worker's reason when R cannot run.
        """
        with self._lock:
            self._ensure_started()
        return self

    def _ensure_started(self):
        if self._proc is not None and self._proc.poll() is None:
            return
        self._cleanup()
        root = str(Path(__file__).resolve().parent.parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.update(self.env)
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        self._stderr = tempfile.TemporaryFile(prefix="metaharness-r-worker-")
        cmd = [sys.executable, "-c", _BOOT, root, "--in-fd", str(to_child_r), "--out-fd", str(from_child_w),
               "--scripts", str(self._scripts_resolved)]
        for d in self.extra_scripts:
            cmd += ["--extra-scripts", str(d)]
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._stderr, stderr=self._stderr,
                                          pass_fds=(to_child_r, from_child_w), env=env, close_fds=True)
        except OSError as e:
            for fd in (to_child_r, to_child_w, from_child_r, from_child_w):
                os.close(fd)
            raise EngineUnavailable(f"cannot start the R worker process ({e})") from None
        finally:
            pass
        os.close(to_child_r)
        os.close(from_child_w)
        self._send = Connection(to_child_w, readable=False)
        self._recv = Connection(from_child_r, writable=False)
        self.starts += 1
        proc, send = self._proc, self._send
        if self._finalizer is not None:
            self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _shutdown, proc, send)
        status, payload = self._wait(self.start_timeout, "start-up")
        if status == "ok" and payload[0] == "ready":
            self._versions = payload[1]
            return
        if status == "ok" and payload[0] == "unavailable":
            self._kill()
            err = EngineUnavailable(payload[1])
            err.probe = payload[2] if len(payload) > 2 else None
            raise err
        self._kill()
        from .r import INSTALL_HINT

        rhome = os.environ.get("R_HOME") if "R_HOME" not in self.env else self.env["R_HOME"]
        hint = f"; R_HOME is set to {rhome!r}: unset it or point it at R's home (`R RHOME`)" if rhome else ""
        raise EngineUnavailable(f"R cannot start: {payload}; {INSTALL_HINT}{hint}")

    def _wait(self, timeout, what):
        """Wait for one message: ("ok", msg) | ("timeout", text) | ("crash", text)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout", f"no answer from R within {timeout:g} s ({what})"
            try:
                if self._recv.poll(min(_POLL, left)):
                    return "ok", self._recv.recv()
            except (EOFError, OSError):
                return "crash", self._crash_text(what)
            if self._proc.poll() is not None:
                # it may have answered just before dying
                try:
                    if self._recv.poll(0):
                        return "ok", self._recv.recv()
                except (EOFError, OSError):
                    pass
                return "crash", self._crash_text(what)

    def _crash_text(self, what):
        try:
            rc = self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            rc = None
        tail = self._stderr_tail()
        return f"the R worker process died during {what} ({_signal_name(rc)})" + (f"; its last output: {tail}" if tail else "")

    def _stderr_tail(self, n=6):
        try:
            self._stderr.flush()
            self._stderr.seek(0)
            text = self._stderr.read().decode("utf-8", "replace")
        except (OSError, ValueError, AttributeError):
            return ""
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        return " | ".join(lines[-n:])

    def _kill(self):
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - a zombie we cannot reap
                pass
        self._cleanup()

    def _cleanup(self):
        for c in (self._send, self._recv):
            if c is not None:
                try:
                    c.close()
                except OSError:
                    pass
        self._send = self._recv = None
        if self._stderr is not None:
            try:
                self._stderr.close()
            except OSError:
                pass
            self._stderr = None
        self._proc = None

    def close(self):
        """Stop the worker (it is also stopped when the engine is garbage-collected or at exit)."""
        with self._lock:
            if self._finalizer is not None:
                self._finalizer()
                self._finalizer = None
            self._cleanup()

    # -- calls ----------------------------------------------------------------------------
    def call(self, fname: str, **kwargs):
        """Call ``fname`` (an ``mh_*`` R function) in the worker; never raises for R faults.

        A crash or a timeout comes back as ``RCall(error=..., fault="crash"|"timeout")``
        and the next call runs in a fresh worker. ``ValueError``/``TypeError`` are
        raised, as by :class:`REngine`, for a bad function name or arguments that
        cannot be passed to R.
        """
        from .r import _FNAME, RCall

        if not _FNAME.match(fname):
            raise ValueError(f"not an engine function name: {fname!r}")
        with self._lock:
            try:
                self._ensure_started()
            except EngineUnavailable as e:
                return RCall(None, [], f"R engine unavailable: {e}", fault="unavailable")
            try:
                self._send.send(("call", fname, kwargs))
            except (BrokenPipeError, ConnectionResetError, EOFError, OSError):
                # died while idle (not this call's doing): restart once and resend
                self._kill()
                try:
                    self._ensure_started()
                    self._send.send(("call", fname, kwargs))
                except (EngineUnavailable, OSError) as e:
                    return RCall(None, [], f"R engine unavailable: {e}", fault="unavailable")
            status, msg = self._wait(self.timeout, f"the call {fname}")
            if status == "timeout":
                self._kill()
                text = f"R call {fname} timed out after {self.timeout:g} s; the R worker was stopped and is restarted for the next call"
                self.faults.append(text)
                return RCall(None, [], text, fault="timeout")
            if status == "crash":
                self._kill()
                text = f"R crashed: {msg}; the R worker is restarted for the next call"
                self.faults.append(text)
                return RCall(None, [], text, fault="crash")
        tag = msg[0]
        if tag == "ok":
            value, warnings, error = msg[1]
            return RCall(value, list(warnings), error)
        if tag == "raise":
            exc = {"ValueError": ValueError, "TypeError": TypeError}.get(msg[1], RuntimeError)
            raise exc(msg[2])
        raise RuntimeError(f"unexpected answer from the R worker: {tag!r}")  # pragma: no cover

    def versions(self) -> dict[str, str]:
        if self._versions is None:
            self.start()
        return dict(self._versions)


def _shutdown(proc, send):
    """Ask the worker to exit; kill it if it does not within a few seconds."""
    if proc.poll() is not None:
        return
    try:
        send.send(("exit",))
    except (OSError, ValueError):
        pass
    try:
        proc.wait(timeout=3)
    except subprocess.TimeoutExpired:
        proc.kill()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass


# ---------------------------------------------------------------------------------------
# the worker side: python -m harness.engines.worker --in-fd N --out-fd M --scripts DIR


def _die_with_parent():
    """Linux: SIGKILL this worker when the harness dies (so a hung R is never orphaned)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: the EOF on the pipe still ends an idle worker
        pass


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="harness.engines.worker")
    ap.add_argument("--in-fd", type=int, required=True)
    ap.add_argument("--out-fd", type=int, required=True)
    ap.add_argument("--scripts", required=True)
    ap.add_argument("--extra-scripts", action="append", default=[])
    a = ap.parse_args(argv)
    _die_with_parent()
    inbox = Connection(a.in_fd, writable=False)
    outbox = Connection(a.out_fd, readable=False)
    os.dup2(2, 1)  # stray stdout (native code, R's C-level printing) goes to stderr, never into the protocol

    from .r import REngine

    engine = REngine(Path(a.scripts), extra_scripts=[Path(p) for p in a.extra_scripts])
    try:
        engine.start()
        outbox.send(("ready", engine.versions()))
    except EngineUnavailable as e:
        outbox.send(("unavailable", str(e), getattr(e, "probe", None)))
        return 0
    except Exception as e:  # an R script that fails to source, etc.
        outbox.send(("unavailable", f"{type(e).__name__}: {e}"))
        return 0
    while True:
        try:
            msg = inbox.recv()
        except (EOFError, OSError):
            return 0  # the harness has gone
        if msg[0] == "exit":
            return 0
        if msg[0] != "call":
            outbox.send(("raise", "RuntimeError", f"unknown request {msg[0]!r}"))
            continue
        _, fname, kwargs = msg
        try:
            r = engine.call(fname, **kwargs)
            answer = ("ok", (r.value, r.warnings, r.error))
        except (ValueError, TypeError) as e:
            answer = ("raise", type(e).__name__, str(e))
        except Exception as e:  # rpy2 conversion trouble: report, stay alive
            answer = ("raise", "RuntimeError", f"{type(e).__name__}: {e}")
        engine.console.clear()
        outbox.send(answer)


if __name__ == "__main__":
    sys.exit(main())
