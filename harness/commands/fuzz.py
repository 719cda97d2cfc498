"""``metaharness fuzz``: random datasets through every model in both engines (differential testing)."""
from __future__ import annotations

import argparse
import sys

NAME = "fuzz"
HELP = "random-dataset campaign: run models on generated data in both engines and report every difference"


def add_arguments(p):
    p.add_argument("--n", type=int, default=1000, help="number of datasets (default 1000)")
    p.add_argument("--seed", type=int, default=1, help="campaign seed; the same seed gives the same datasets (default 1)")
    p.add_argument("--models", nargs="+", metavar="MODEL", help="models to run (default: the default set; `all` for every model); see --list-models")
    p.add_argument("--list-models", action="store_true", help="list the models and exit")
    p.add_argument("--workers", type=int, default=2, help="worker processes of the local Dask cluster, each with its own R (default 2; "
                   "1 runs in this process without Dask; results do not depend on it)")
    p.add_argument("--jobs", type=int, dest="workers", help=argparse.SUPPRESS)  # the option's old name
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on an existing Dask cluster (its workers need R and the R packages)")
    p.add_argument("--store", metavar="DIR", help="campaign store (Parquet; default fuzz-runs/seed-SEED)")
    p.add_argument("--resume", action="store_true", help="continue the campaign in --store, running only the chunks not in it")
    p.add_argument("--max-reproducers", type=int, default=40, help="at most this many reproducers in all (default 40)")
    p.add_argument("--chunk", type=int, default=100, help="datasets per task and batched R call (default 100)")
    p.add_argument("--out", metavar="DIR", help="where minimal reproducers are written (default STORE/reproducers, git-ignored)")
    p.add_argument("--max-per-class", type=int, default=1, help="reproducers written per class of disagreement (default 1, the smallest dataset; the rest are counted)")
    p.add_argument("--no-shrink", action="store_true", help="write reproducers without shrinking them")
    p.add_argument("--worst", type=int, default=10, help="how many worst cases to list (default 10)")
    p.add_argument("--detail", action="store_true", help="print the per-model, per-quantity table")
    p.add_argument("--json", metavar="FILE", help="write the campaign's figures and disagreements as JSON")
    from ..reports.options import add_report_arguments

    add_report_arguments(p, only=("html", "junit", "plots"))  # --html, --junit (this command prints and writes --json itself)


class _Progress:
    """``done/total datasets, rate, time left, disagreements`` on a terminal line; nothing in a log or CI."""

    def __init__(self):
        from ..reports.terminal import Progress

        self.bar = Progress(unit="datasets")

    def __call__(self, done, total, bad, secs):
        if not self.bar.enabled:
            return
        self.bar.stream.write("\r\033[K" + self.bar.line(done, total, label=f"{bad} disagreements"))
        self.bar.stream.flush()
        self.bar.shown = True

    def close(self):
        self.bar.close()


def run(args) -> int:
    import json

    from ..errors import EngineUnavailable, InputError
    from ..fuzz import models as fm
    from ..fuzz.campaign import run_campaign
    from ..fuzz.report import render

    if args.list_models:
        default = set(fm.DEFAULT)
        for name, m in fm.available_models().items():
            opts = ", ".join(f"{k}={v}" for k, v in m.options.items())
            print(f"{name:14s} {'*' if name in default else ' '} kind {m.kind_name:6s} family {m.family:9s} {opts}")
        print("(* = in the default set)")
        for k in fm.unfuzzed_kinds():
            print(f"kind {k!r}: no dataset recipe yet (not fuzzed)")
        return 0
    if args.n < 1 or args.chunk < 1 or args.workers < 1:
        raise InputError("--n, --chunk and --workers must be at least 1")
    models = fm.resolve(args.models)
    if not models:
        raise InputError("no models to run")
    from pathlib import Path

    from ..fuzz.store import StoreMismatch

    store = Path(args.store) if args.store else Path("fuzz-runs") / f"seed-{args.seed}"
    out = Path(args.out) if args.out else store / "reproducers"
    bar = _Progress()

    def on_cluster(cl):
        if cl.dashboard:
            print(f"metaharness fuzz: Dask dashboard at {cl.dashboard}", file=sys.stderr, flush=True)

    try:
        res = run_campaign(args.n, args.seed, models, chunk=args.chunk, workers=args.workers, scheduler=args.scheduler, store=store,
                           resume=args.resume, max_reproducers=args.max_reproducers, out_dir=out, max_per_class=args.max_per_class,
                           do_shrink=not args.no_shrink, progress=bar, on_cluster=on_cluster)
    except StoreMismatch as e:
        raise InputError(f"--store: {e}") from None
    except KeyboardInterrupt:
        bar.close()
        print(f"metaharness fuzz: interrupted; the chunks that finished are in {store}: "
              f"`metaharness fuzz --resume --store {store}` (same options) continues", file=sys.stderr)
        return 130
    except EngineUnavailable as e:
        bar.close()
        print(f"metaharness fuzz: R engine unavailable: {e}", file=sys.stderr)
        return 1
    bar.close()
    print(render(res, worst=args.worst, detail=args.detail))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(res.to_dict(), f, indent=1)
            f.write("\n")
    from ..reports.options import write_reports

    write_reports(res, args, title="metaharness fuzz", json=False)  # --html, --junit
    return 0 if res.ok else 1
