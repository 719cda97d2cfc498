"""Many independent pieces of work on Dask distributed, each worker with its own R.

Campaigns (``metaharness fuzz``; the many-files ``metaharness audit DIR/``)
are a picklable function mapped over many small inputs. This module is the one
place that knows how that runs:

* ``workers == 1`` and no scheduler: in this process, in order, with this
  process's R engine -- the plain single-process path (no Dask at all).
* otherwise on **Dask distributed** (Rocklin 2015, *Dask: parallel
  computation with blocked algorithms and task scheduling*; the
  ``distributed`` scheduler): a :class:`~distributed.LocalCluster` of
  ``workers`` worker *processes* with one thread each (each process hosts its
  own R, and embedded R is one per process and not thread-safe), or an
  existing cluster given by its scheduler address (``tcp://HOST:PORT``).

Each worker process gets its R engine from :func:`harness.engines.r.get_engine`
(an R worker subprocess started once and reused, restarted after a crash or a
time-out: an R crash costs the calls it was making, never the Dask worker).
:class:`REnginePlugin` starts it when the worker starts (so its start-up is
not charged to the first task) and stops it when the worker closes.

Faults: a task that raises is retried ``retries`` times (Dask's ``retries=``);
a worker process that dies (killed, out of memory) has its tasks reassigned by
the scheduler to the other workers (Dask's ``allowed-failures``, 3 by
default); the nanny restarts the worker. A task that still fails comes back as
a :class:`Result` with ``error`` set -- never silently dropped. An interrupt
(Ctrl-C) cancels what is not finished; results already yielded are the
caller's to keep (campaigns stream them into their store as they arrive).

API
---
``Cluster(workers=2, scheduler=None, dashboard=True)``
    context manager; ``.client`` (None for the in-process path), ``.dashboard``
    (the dashboard's address, or None), ``.n_workers``, ``.describe()``.
``Cluster.map(fn, items, *, retries=2, name="task")``
    iterator of :class:`Result` ``(index, value, error, seconds)`` in the
    order tasks *complete*; ``index`` is the item's position in ``items``.
    ``fn(item)`` must be a module-level (picklable) function; inside it,
    :func:`r_engine` is the worker's R.
``map_unordered(fn, items, *, workers=1, scheduler=None, ...)``
    the same, opening and closing a :class:`Cluster` around it.
``r_engine()``
    the R engine of the current process (for use inside ``fn``).
``worker_pids(cluster)``
    process ids of the Dask worker processes (tests kill one of them).
``r_engines(cluster)``
    per worker: its process id, its R's process id and R start count.

Example (what ``audit DIR/ --workers N`` does, :func:`harness.audit.batch.audit_files`)::

    with Cluster(workers=n, scheduler=address) as cl:
        for res in cl.map(audit_task, [(p, options) for p in paths], name="audit"):
            results[res.index] = res.value if res.error is None else FileError(paths[res.index], res.error)
"""
from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

#: times a task that raises is re-run before it is reported as failed
RETRIES = 2


@dataclass(frozen=True)
class Result:
    """One finished task: ``value`` or ``error`` (text), and the task's wall seconds."""

    index: int
    value: Any = None
    error: str | None = None
    seconds: float = 0.0


def r_engine():
    """The R engine of this process (inside a task: the Dask worker's own R)."""
    from .engines.r import get_engine

    return get_engine()


try:  # the plugin base class exists only when distributed is installed (it is a dependency)
    from distributed.diagnostics.plugin import WorkerPlugin as _WorkerPlugin
except ImportError:  # pragma: no cover
    _WorkerPlugin = object


class REnginePlugin(_WorkerPlugin):
    """Start the worker process's R engine with the worker; stop it at teardown."""

    name = "metaharness-r-engine"
    #: a client connecting to a cluster that has the plugin already does not register it again
    #: (registering again tears it down and sets it up: every worker's R would restart per command)
    idempotent = True

    def setup(self, worker):
        if getattr(worker, "nanny", None):
            # Ctrl-C in a terminal reaches every process of its group: the client cancels the tasks and closes
            # the cluster, the nanny stops this process; its own KeyboardInterrupt would only print a traceback.
            # The R worker started below inherits the ignored signal.
            _ignore_sigint()
        try:
            r_engine()
        except Exception as e:  # the first task reports R being unavailable, with the reason
            logging.getLogger("metaharness").warning("R could not start on worker %s: %s", getattr(worker, "address", "?"), e)

    def teardown(self, worker):
        from .engines import r

        eng = r._ENGINE
        if eng is not None and hasattr(eng, "close"):
            eng.close()


def _ignore_sigint():
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _timed(fn, item):
    """Run ``fn(item)`` and time it (runs on the worker)."""
    t0 = time.perf_counter()
    value = fn(item)
    return value, time.perf_counter() - t0


class Cluster:
    """Where a campaign runs: this process, a LocalCluster, or an existing scheduler."""

    def __init__(self, workers: int = 2, scheduler: str | None = None, dashboard: bool = True, quiet: bool = True):
        if workers < 1:
            from .errors import InputError

            raise InputError("--workers must be at least 1")
        self.workers, self.scheduler, self.want_dashboard, self.quiet = workers, scheduler, dashboard, quiet
        self.client = None
        self._local = None

    @property
    def in_process(self) -> bool:
        return self.scheduler is None and self.workers == 1

    def __enter__(self) -> "Cluster":
        if self.in_process:
            return self
        from distributed import Client, LocalCluster

        # quiet: a failed task is reported by the caller (Result.error), not by worker log lines
        level = logging.CRITICAL if self.quiet else logging.WARNING
        if self.scheduler:
            self.client = Client(self.scheduler, timeout="30s")
        else:
            # loopback only: the local cluster is this machine's business
            dash = f"127.0.0.1:{_free_port()}" if self.want_dashboard and _has_bokeh() else None
            self._local = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=dash, silence_logs=level, worker_class=_nanny(),
                                       scheduler_kwargs=None if dash else {"dashboard": False})
            self.client = Client(self._local)
        self.client.register_plugin(REnginePlugin())
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        if self.client is not None:
            try:
                self.client.close()
            except Exception:
                pass
            self.client = None
        if self._local is not None:
            try:
                self._local.close()
            except Exception:
                pass
            self._local = None

    @property
    def n_workers(self) -> int:
        if self.client is None:
            return 1
        return len(self.client.scheduler_info(n_workers=-1).get("workers", {})) if _info_takes_n() else len(self.client.scheduler_info().get("workers", {}))

    @property
    def dashboard(self) -> str | None:
        if self.client is None or (self._local is not None and not _has_bokeh()):
            return None  # without bokeh a local scheduler serves no dashboard worth printing
        try:
            info = self.client.scheduler_info()
            if "dashboard" not in info.get("services", {}):
                return None
            return self.client.dashboard_link
        except Exception:
            return None

    def describe(self) -> str:
        if self.client is None:
            return "1 process (no cluster)"
        where = f"scheduler {self.scheduler}" if self.scheduler else "LocalCluster"
        return f"{where}, {self.n_workers} workers"

    def map(self, fn: Callable, items: Iterable, *, retries: int = RETRIES, name: str = "task") -> Iterator[Result]:
        """``fn(item)`` for every item, as :class:`Result` in the order they complete."""
        items = list(items)
        if self.client is None:
            for i, item in enumerate(items):
                t0 = time.perf_counter()
                try:
                    value = fn(item)
                except Exception as e:  # one failing item is reported, the others go on
                    yield Result(i, None, _error_text(e), time.perf_counter() - t0)
                    continue
                yield Result(i, value, None, time.perf_counter() - t0)
            return
        from distributed import as_completed

        tag = f"{name}-{time.time_ns():x}"
        futs = [self.client.submit(_timed, fn, item, key=f"{tag}-{i}", retries=retries, pure=False) for i, item in enumerate(items)]
        index = {f.key: i for i, f in enumerate(futs)}
        try:
            for fut in as_completed(futs):
                i = index[fut.key]
                if fut.status == "finished":
                    try:
                        value, secs = fut.result()
                    except Exception as e:  # lost between finishing and fetching
                        yield Result(i, None, _error_text(e))
                    else:
                        yield Result(i, value, None, secs)
                else:
                    yield Result(i, None, _error_text(fut.exception()))
                fut.release()
        finally:  # interrupted (Ctrl-C, an error in the caller): nothing unfinished keeps running
            pending = [f for f in futs if f.status == "pending"]
            if pending:
                try:
                    self.client.cancel(pending)
                except Exception:
                    pass


def map_unordered(fn: Callable, items: Iterable, *, workers: int = 1, scheduler: str | None = None, retries: int = RETRIES,
                  name: str = "task") -> Iterator[Result]:
    """:meth:`Cluster.map` on a cluster opened (and closed) for this call."""
    with Cluster(workers, scheduler) as cl:
        yield from cl.map(fn, items, retries=retries, name=name)


def worker_pids(cluster: Cluster) -> dict[str, int]:
    """Worker address -> process id (empty for the in-process path)."""
    if cluster.client is None:
        return {}
    import os

    return cluster.client.run(os.getpid)


def _engine_info():
    import os

    from .engines import r

    eng = r._ENGINE
    return {"pid": os.getpid(), "r_pid": getattr(eng, "pid", None), "r_starts": getattr(eng, "starts", 0)}


def r_engines(cluster: Cluster) -> dict[str, dict]:
    """Worker address (``"this process"`` for the in-process path) -> ``{pid, r_pid, r_starts}``: each
    worker's process id, its R worker's process id and how many times its R was started (tests count
    R start-ups with it)."""
    if cluster.client is None:
        return {"this process": _engine_info()}
    return cluster.client.run(_engine_info)


def _error_text(e) -> str:
    if e is None:
        return "task failed (no exception reported)"
    name = type(e).__name__
    if name == "KilledWorker":
        return f"the task's worker died each time it ran it ({e}); it was not retried further"
    tb = "".join(traceback.format_exception_only(type(e), e)).strip()
    return tb


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _has_bokeh() -> bool:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True


def _nanny():
    from distributed import Nanny

    return Nanny


def _info_takes_n() -> bool:
    import inspect

    from distributed import Client

    return "n_workers" in inspect.signature(Client.scheduler_info).parameters
