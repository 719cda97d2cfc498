"""Options and terminal lines shared by the commands that run on Dask (``fuzz``, ``audit``).

Both commands map picklable per-item work over :class:`harness.distributed.Cluster`
and spell its options the same way:

``--workers N`` (alias ``--jobs N``)
    worker processes of the local Dask cluster, each with its own R started
    once and reused; ``1`` runs in the command's own process without Dask.
``--scheduler tcp://HOST:PORT``
    an existing Dask cluster instead of a local one.
``--no-progress``
    no progress line; there is none anyway off a terminal or with ``CI`` set
    (:func:`progress_line`).
"""
from __future__ import annotations

import sys


def add_cluster_arguments(p, default: int, default_text: str, scheduler_text: str = "") -> None:
    """``--workers``/``--jobs``, ``--scheduler`` and ``--no-progress`` on a command's parser."""
    p.add_argument("--workers", "--jobs", type=int, dest="workers", default=default, metavar="N",
                   help=f"worker processes of the local Dask cluster, each with its own R started once ({default_text}; "
                        "1 runs in this process without Dask; results do not depend on it)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help=f"run on an existing Dask cluster (its workers need R and the R packages{scheduler_text})")
    from ..reports.options import add_report_arguments

    add_report_arguments(p, only=("progress",))  # --no-progress


def progress_line(args, unit: str):
    """The terminal progress line of a command (:class:`~harness.reports.terminal.Progress`; ``.show(done,
    total, label)``, ``.close()``): silent off a terminal, with ``CI`` set, or with ``--no-progress``."""
    from ..reports.terminal import Progress

    return Progress(unit=unit, enabled=False if getattr(args, "no_progress", False) else None)


def announce_cluster(command: str, layout: bool = True):
    """An ``on_cluster(cluster)`` callback: on stderr, where the work runs (``layout``) and the Dask
    dashboard's address, when there is a cluster."""

    def on_cluster(cl):
        if cl.in_process:
            return
        if layout:
            print(f"metaharness {command}: running on {cl.describe()}", file=sys.stderr, flush=True)
        if cl.dashboard:
            print(f"metaharness {command}: Dask dashboard at {cl.dashboard}", file=sys.stderr, flush=True)

    return on_cluster
