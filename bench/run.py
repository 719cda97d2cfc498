"""Benchmarks: the Python core against metafor and robumeta, in the same run.

    make bench                 # or: .venv/bin/python bench/run.py [--quick]

Every row times Python and R on the same generated data and reports medians
and their ratio. R times its own computing (``system.time`` inside R,
r_scripts/bench.R), so the bridge is not charged to R. The table is printed
and written to bench/results.md (the README carries the latest one).

There are no timing assertions in the test suite; tests check that the
batched paths give the same numbers as one-by-one fits.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import harness  # noqa: E402
from harness.core.rma import rma_arrays  # noqa: E402


def median_time(fn, reps, rounds=7):
    """Median over ``rounds`` of the mean time of ``reps`` calls."""
    fn()  # warm-up
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        out.append((time.perf_counter() - t0) / reps)
    return statistics.median(out)


def data(k, seed, tau2=0.1):
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.2, k)
    yi = rng.normal(0.3, np.sqrt(vi + tau2))
    return yi, vi


def bench_single(engine, k, method, reps_py, reps_r, target):
    yi, vi = data(k, seed=k)
    t_py = median_time(lambda: harness.rma(yi, vi, method=method), reps_py)
    r = engine.call("mh_bench_rma", yi=yi, vi=vi, method=method, reps=reps_r, rounds=5)
    if r.error:
        raise RuntimeError(r.error)
    t_r = r.value["seconds"][0]
    fit = harness.rma(yi, vi, method=method)
    assert abs(fit.tau2 - r.value["tau2"][0]) <= 1e-4 * max(1.0, abs(fit.tau2)), (fit.tau2, r.value["tau2"])
    return {"case": f"rma {method}, k = {k}, single fit", "python": t_py, "r": t_r, "target": target}


def bench_batch(engine, B, k, target_seconds):
    rng = np.random.default_rng(2)
    vi = rng.uniform(0.01, 0.2, (B, k))
    yi = rng.normal(0.3, np.sqrt(vi + 0.1))
    t0 = time.perf_counter()
    res = rma_arrays(yi, vi, method="REML")
    t_py = time.perf_counter() - t0
    # identical to one-by-one fits (a sample of them)
    worst = 0.0
    for i in rng.choice(B, 50, replace=False):
        one = rma_arrays(yi[i], vi[i], method="REML")
        for key in ("beta", "se", "tau2"):
            a, b = np.ravel(res[key][i]), np.ravel(one[key])
            ok = np.isnan(a) == np.isnan(b)
            assert ok.all()
            worst = max(worst, float(np.nanmax(np.abs(a - b), initial=0.0)))
    r = engine.call("mh_bench_rma", yi=yi[0], vi=vi[0], method="REML", reps=200, rounds=5)
    t_r = r.value["seconds"][0] * B
    return {
        "case": f"rma REML, {B:,} analyses of k = {k}, one call",
        "python": t_py,
        "r": t_r,
        "target": f"< {target_seconds:g} s",
        "note": f"R time extrapolated from {200} fits; batched = one-by-one within {worst:.1e}",
    }


def bench_memory(B, k):
    code = (
        "import numpy as np, resource, sys; sys.path.insert(0, %r);"
        "from harness.core.rma import rma_arrays;"
        "rng = np.random.default_rng(3); vi = rng.uniform(0.01, 0.2, (%d, %d)); yi = rng.normal(0, np.sqrt(vi + 0.1));"
        "r = rma_arrays(yi, vi, method='REML');"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    ) % (str(ROOT), B, k)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024 / 1024  # GiB (ru_maxrss is in KiB on Linux)


def bench_robu(engine, target):
    robu = getattr(harness, "robu", None)
    if robu is None:
        return {"case": "robu CORR small=TRUE, 60 effects in 20 studies", "python": None, "r": None, "target": target, "note": "harness.robu not available"}
    study, yi, vi = _robu_data(np.random.default_rng(4))
    t_py = median_time(lambda: robu(yi, vi, studynum=study, modelweights="CORR", rho=0.8, small=True), 200)
    r = engine.call("mh_bench_robu", yi=yi, vi=vi, study=study, reps=50, rounds=5)
    if r.error:
        raise RuntimeError(r.error)
    return {"case": "robu CORR small=TRUE, 60 effects in 20 studies", "python": t_py, "r": r.value["seconds"][0], "target": target}


def _robu_data(rng, B=None):
    """60 effects in 20 studies of 3 (``B`` datasets of that layout when given)."""
    shape = () if B is None else (B,)
    study = np.repeat(np.arange(20), 3).astype(float)
    vi = rng.uniform(0.01, 0.1, shape + (60,))
    yi = rng.normal(0.2, 0.3, shape + (20,))[..., study.astype(int)] + rng.normal(0, np.sqrt(vi))
    return study, yi, vi


def bench_robu_batch(engine, B, target):
    """B datasets of the same layout in one call of the RVE core (robu_blocks
    batched over a leading axis); R: B times robumeta's time per fit."""
    from harness.core import rve

    rng = np.random.default_rng(5)
    study, yi, vi = _robu_data(rng, B)
    blocks = rve.StudyBlocks.from_ids(study)
    X = np.ones((60, 1))
    Xp = rve.pad_design(blocks, X)
    Xb = np.broadcast_to(Xp, (B,) + Xp.shape)

    def run():
        return rve.robu_blocks(rve.pad_rows(blocks, yi), rve.pad_rows(blocks, vi), Xb, blocks.mask, modelweights="CORR", rho=0.8, small=True)

    t_py = median_time(run, 1, rounds=5)
    res = run()
    worst = 0.0
    for i in rng.choice(B, min(B, 30), replace=False):
        one = rve.robu_blocks(rve.pad_rows(blocks, yi[i]), rve.pad_rows(blocks, vi[i]), Xp, blocks.mask, modelweights="CORR", rho=0.8, small=True)
        for key in ("b_r", "SE", "dfs", "tau_sq", "prob"):
            a, b = np.ravel(res[key][i]), np.ravel(one[key])
            worst = max(worst, float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b)))))
    r = engine.call("mh_bench_robu", yi=yi[0], vi=vi[0], study=study, reps=50, rounds=5)
    if r.error:
        raise RuntimeError(r.error)
    return {
        "case": f"robu CORR small=TRUE, {B:,} datasets (60 effects/20 studies), one call",
        "python": t_py,
        "r": r.value["seconds"][0] * B,
        "target": target,
        "note": f"{t_py / B * 1e6:.1f} µs per fit; R time extrapolated from 50 fits; batched = one-by-one within {worst:.1e}",
    }


def _campaign(n, workers, engine=None, chunk=100):
    """A default-model campaign of ``n`` datasets (seed 1) on ``workers``; the cluster is
    started before the clock starts (its start-up is reported apart)."""
    import tempfile

    from harness.distributed import Cluster
    from harness.fuzz.campaign import run_campaign
    from harness.fuzz.models import resolve

    t0 = time.perf_counter()
    with Cluster(workers=workers) as cl:
        if not cl.in_process:  # R started on every worker (the plugin) before timing
            list(cl.map(_warm, range(workers), name="warm"))
        startup = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            res = run_campaign(n, 1, resolve(None), engine=engine, cluster=cl, store=Path(tmp) / "s", out_dir=None, do_shrink=False,
                               chunk=chunk)
    return res, startup


def _warm(_):
    from harness.distributed import r_engine

    return r_engine().versions()["R"]


def bench_overhead(engine, n, workers, target, chunk=100):
    """Harness time outside R's own computing, over R's time, in a campaign on ``workers``.

    R times itself per batch (BatchStats.r_seconds, summed over the workers);
    the workers' capacity is workers x wall time; everything else -- the Python
    core, the bridge, comparison, the store, idle time -- is the harness's.
    """
    res, startup = _campaign(n, workers, engine if workers == 1 else None, chunk)
    tb = res.time_budget()
    wall = res.seconds
    return {
        "case": (f"fuzz campaign, n = {n:,} datasets (chunks of {chunk}), {workers} {'process' if workers == 1 else 'local workers'}: "
                 "harness time outside R's computing"),
        "python": None,
        "r": None,
        "ratio": f"{tb['outside_r_percent']:.1f} % of R",
        "target": target,
        "note": (f"{workers} x wall {wall:.1f} s = R computing {tb['r_seconds']:.1f} s + Python core {tb['python_core_seconds']:.1f} s + bridge "
                 f"{tb['bridge_seconds']:.1f} s + rest in tasks {tb['rest_in_tasks_seconds']:.1f} s "
                 f"+ outside tasks (scheduling, store, idle) {tb['outside_tasks_seconds']:.1f} s; cluster start-up {startup:.1f} s not counted"),
        "wall": wall,
    }


def bench_scaling(engine, n, one, two, target):
    """Datasets per second with 2 local workers over twice that of 1 process (same campaign)."""
    eff = one["wall"] / (2 * two["wall"])
    return {
        "case": f"fuzz campaign, n = {n:,}: scaling efficiency 1 -> 2 workers",
        "python": None,
        "r": None,
        "ratio": f"{100 * eff:.0f} %",
        "target": target,
        "note": f"1 process {one['wall']:.1f} s, 2 local workers {two['wall']:.1f} s (wall, cluster start-up not counted); on a {os.cpu_count()}-core machine",
    }


def _wall(cmd, rounds):
    """Median wall time of ``rounds`` fresh processes running ``cmd`` (one warm-up run first: disk cache)."""
    subprocess.run(cmd, capture_output=True, cwd=ROOT)
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, cwd=ROOT)
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def bench_startup(rounds, target):
    """Start-up of the command line against ``python -c "import numpy"``, measured in the same run."""
    cli = [sys.executable, "-m", "harness"]
    t_numpy = _wall([sys.executable, "-c", "import numpy"], rounds)
    t = {what: _wall(cli + args, rounds) for what, args in
         (("--help", ["--help"]), ("--version", ["--version"]), ("argument error", ["verify", "--no-such-option"]))}
    worst = max(t, key=t.get)
    return {
        "case": "start-up: metaharness --help, --version, an argument error (worst of the three)",
        "python": t[worst], "r": None,
        "ratio": f"{t[worst] / t_numpy:.2f} × import numpy",
        "target": target,
        "note": f"import numpy {fmt_t(t_numpy)}; " + ", ".join(f"{k} {fmt_t(v)}" for k, v in t.items()) + f"; median of {rounds} fresh processes",
    }


def bench_python_only(rounds, target):
    """``verify --python-only`` of one small fixture: what a fresh process costs beyond the same
    command run again in a warm process (every module imported, the data read once): start-up,
    imports, no R."""
    import contextlib
    import io

    from harness.cli import main

    argv = ["verify", "--python-only", "--no-progress", str(ROOT / "fixtures" / "normand1999" / "spec.toml")]

    def warm():
        with contextlib.redirect_stdout(io.StringIO()):
            main(argv)

    t_warm = median_time(warm, 1, rounds=rounds)
    t_cold = _wall([sys.executable, "-m", "harness", *argv], rounds)
    return {
        "case": "verify --python-only normand1999 (165 analyses): a fresh process beyond the same run in a warm one",
        "python": t_cold - t_warm, "r": None, "ratio": "—", "target": target,
        "note": f"fresh process {fmt_t(t_cold)}, warm {fmt_t(t_warm)} (the Python core, the comparison with the stored R values, "
                f"the snapshot check, printing); median of {rounds}",
    }


def bench_audit(copies):
    """``metaharness audit`` of a folder of RevMan files: 2 local workers against this process.

    The files are tests/data/cochrane's, ``copies`` times over. The cluster's
    start-up (Dask workers, each starting its R) is timed apart from the audits,
    so the row shows both what a run pays once and the per-file rate.
    """
    import shutil
    import tempfile

    from harness.audit.batch import audit_files, expand
    from harness.distributed import Cluster

    with tempfile.TemporaryDirectory() as tmp:
        for i in range(copies):
            d = Path(tmp) / f"c{i}"
            d.mkdir()
            for f in expand([ROOT / "tests" / "data" / "cochrane"]):
                shutil.copy(f, d / f.name)
        paths = expand([tmp])
        audit_files(paths[:1], workers=1)  # this process's R started before timing
        t0 = time.perf_counter()
        audit_files(paths, workers=1)
        one = time.perf_counter() - t0
        t0 = time.perf_counter()
        with Cluster(workers=2) as cl:
            list(cl.map(_warm, range(2), name="warm"))
            startup = time.perf_counter() - t0
            t1 = time.perf_counter()
            audit_files(paths, cluster=cl)
            two = time.perf_counter() - t1
    saved = one / len(paths) - two / len(paths)
    even = f"break-even at about {startup / saved:.0f} files of this size" if saved > 0 else "no gain per file at this size"
    return {
        "case": f"audit of {len(paths)} RevMan files: 1 process -> 2 local workers",
        "python": None,
        "r": None,
        "ratio": f"speed-up {one / two:.2f}×",
        "target": "—",
        "note": (f"1 process {one:.1f} s, 2 local workers {two:.1f} s after a cluster start-up of {startup:.1f} s "
                 f"(Dask workers and their R); {even}"),
    }


def fmt_t(t):
    if t is None:
        return "—"
    if t >= 1:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.2f} ms"
    return f"{t * 1e6:.1f} µs"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (for a smoke run)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results.md"))
    ap.add_argument("--fuzz-n", type=int, default=None, help="datasets of the overhead and scaling campaigns (default 400; 50 with --quick; "
                    "0 skips them). The target is stated for 10,000 (about an hour on 2 workers of a 2-core machine, twice that for the 1-process row): "
                    "--fuzz-n 10000; the row says which n ran")
    ap.add_argument("--audit-copies", type=int, default=4, help="copies of tests/data/cochrane in the audit row (default 4; 0 skips it)")
    args = ap.parse_args(argv)
    from tabulate import tabulate

    from harness.engines.r import get_engine

    engine = get_engine()
    q = args.quick
    rows = [
        bench_single(engine, 20, "DL", 200 if q else 2000, 50 if q else 300, "≥ 30×"),
        bench_single(engine, 20, "REML", 200 if q else 2000, 50 if q else 300, "≥ 30×"),
        bench_single(engine, 1000, "REML", 5 if q else 50, 1, "≥ 500×"),
        bench_batch(engine, 10_000 if q else 100_000, 20, 2.0),
        bench_robu(engine, "≥ 30×"),
        bench_robu_batch(engine, 1_000 if q else 10_000, "≥ 30×"),
    ]
    fuzz_n = args.fuzz_n if args.fuzz_n is not None else (50 if q else 400)
    if fuzz_n:
        # chunks of 50 below 10,000 datasets: a short campaign of 100-dataset chunks has too few
        # tasks for 2 workers to share evenly (a chunk's R time ranges over 20-70 s), and the
        # scaling row would measure that imbalance rather than the harness
        chunk = 100 if fuzz_n >= 10_000 else 50
        one = bench_overhead(engine, fuzz_n, 1, "≤ 5 % of R", chunk)
        two = bench_overhead(engine, fuzz_n, 2, "≤ 5 % of R", chunk)
        rows += [one, two, bench_scaling(engine, fuzz_n, one, two, "≥ 85 %")]
    rows.append(bench_startup(5 if q else 15, "≤ 3× import numpy"))
    rows.append(bench_python_only(3 if q else 9, "well under 1 s"))
    if args.audit_copies:
        rows.append(bench_audit(args.audit_copies))
    mem = bench_memory(10_000 if q else 100_000, 20)
    table = []
    for r in rows:
        ratio = (r["r"] / r["python"]) if r["python"] and r["r"] else None
        shown = r.get("ratio") or (f"{ratio:,.0f}×" if ratio else "—")
        table.append([r["case"], fmt_t(r["python"]), fmt_t(r["r"]), shown, r["target"], r.get("note", "")])
    table.append([f"peak memory, {'10,000' if q else '100,000'} REML analyses of k = 20", f"{mem:.2f} GiB", "—", "—", "≤ 2 GiB", "max RSS of a fresh process"])
    vers = engine.versions()
    head = (
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}; "
        f"R {vers['R']}, metafor {vers['metafor']}, robumeta {vers['robumeta']}; {time.strftime('%Y-%m-%d')}"
    )
    md = tabulate(table, headers=["case", "Python", "R", "R / Python", "target", "note"], tablefmt="github")
    print(head)
    print(md)
    Path(args.out).write_text(f"{head}\n\n{md}\n", encoding="utf-8")


if __name__ == "__main__":
    main()
