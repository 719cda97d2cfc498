"""``metaharness fuzz``: random datasets through every model in both engines (differential testing)."""
from __future__ import annotations

import sys

NAME = "fuzz"
HELP = "random-dataset campaign: run models on generated data in both engines and report every difference"


def add_arguments(p):
    p.add_argument("--n", type=int, default=1000, help="number of datasets (default 1000)")
    p.add_argument("--seed", type=int, default=1, help="campaign seed; the same seed gives the same datasets (default 1)")
    p.add_argument("--models", nargs="+", metavar="MODEL", help="models to run (default: the default set; `all` for every model); see --list-models")
    p.add_argument("--list-models", action="store_true", help="list the models and exit")
    from .common import add_cluster_arguments

    add_cluster_arguments(p, 2, "default 2")  # --workers (alias --jobs), --scheduler, --no-progress
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
    from .common import announce_cluster, progress_line

    bar = progress_line(args, "datasets")

    def progress(done, total, bad, secs):
        bar.show(done, total, f"{bad} disagreements")

    try:
        res = run_campaign(args.n, args.seed, models, chunk=args.chunk, workers=args.workers, scheduler=args.scheduler, store=store,
                           resume=args.resume, max_reproducers=args.max_reproducers, out_dir=out, max_per_class=args.max_per_class,
                           do_shrink=not args.no_shrink, progress=progress,
                           on_cluster=announce_cluster("fuzz", layout=False))  # its report says where it ran
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
