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
    p.add_argument("--jobs", type=int, default=2, help="processes, each with its own R (default 2; results do not depend on it)")
    p.add_argument("--max-reproducers", type=int, default=40, help="at most this many reproducers in all (default 40)")
    p.add_argument("--chunk", type=int, default=100, help="datasets per batched R call (default 100)")
    p.add_argument("--out", default="fuzz-reproducers", metavar="DIR", help="where minimal reproducers are written (default ./fuzz-reproducers)")
    p.add_argument("--max-per-class", type=int, default=1, help="reproducers written per class of disagreement (default 1, the smallest dataset; the rest are counted)")
    p.add_argument("--no-shrink", action="store_true", help="write reproducers without shrinking them")
    p.add_argument("--worst", type=int, default=10, help="how many worst cases to list (default 10)")
    p.add_argument("--detail", action="store_true", help="print the per-model, per-quantity table")
    p.add_argument("--json", metavar="FILE", help="write the campaign's figures and disagreements as JSON")
    from ..reports.options import add_report_arguments

    add_report_arguments(p, only=("html", "junit", "plots"))  # --html, --junit (this command prints and writes --json itself)


def _progress_bar():
    if not sys.stderr.isatty():  # a log: one line per tenth of the campaign
        last = [-1]

        def line(done, total, bad, secs):
            tenth = 10 * done // total if total else 10
            if tenth > last[0]:
                last[0] = tenth
                print(f"fuzz: {done}/{total} datasets in {secs:.0f} s, {bad} disagreements", file=sys.stderr, flush=True)

        return line

    def show(done, total, bad, secs):
        w = 30
        fill = int(w * done / total) if total else w
        rate = done / secs if secs > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else 0.0
        sys.stderr.write(f"\r[{'#' * fill}{'.' * (w - fill)}] {done}/{total} datasets  {rate:.1f}/s  ETA {eta:4.0f}s  {bad} disagreements ")
        sys.stderr.flush()
        if done >= total:
            sys.stderr.write("\n")

    return show


def run(args) -> int:
    import json

    from ..errors import InputError
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
    if args.n < 1 or args.chunk < 1 or args.jobs < 1:
        raise InputError("--n, --chunk and --jobs must be at least 1")
    models = fm.resolve(args.models)
    if not models:
        raise InputError("no models to run")
    from ..errors import EngineUnavailable

    try:
        from ..engines.r import get_engine

        engine = get_engine()
    except EngineUnavailable as e:
        print(f"metaharness fuzz: R engine unavailable: {e}", file=sys.stderr)
        return 1
    res = run_campaign(args.n, args.seed, models, engine=engine, chunk=args.chunk, jobs=args.jobs, max_reproducers=args.max_reproducers, out_dir=args.out, max_per_class=args.max_per_class,
                       do_shrink=not args.no_shrink, progress=_progress_bar())
    print(render(res, worst=args.worst, detail=args.detail))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(res.to_dict(), f, indent=1)
            f.write("\n")
    from ..reports.options import write_reports

    write_reports(res, args, title="metaharness fuzz", json=False)  # --html, --junit
    return 0 if res.ok else 1
