"""Fuzz campaigns on Dask distributed, on loopback: the same records whatever the layout,
a worker killed mid-task, an interrupted campaign resumed from its store.

Reference for every comparison: the same campaign run in this process (the
single-process path), with R run for real on both sides of every analysis.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.distributed import worker_pids
from harness.fuzz import resolve
from harness.fuzz.campaign import run_campaign
from harness.fuzz.store import Store, StoreMismatch

pytestmark = [pytest.mark.r, pytest.mark.r_bridge]  # the cluster machinery: once per R (tests/conftest.py)

N, SEED, CHUNK = 12, 3, 3
MODELS = ["DL", "REML-mods", "SMD-DL", "robu-CORR"]
ORDER = [("dataset", "ascending"), ("model", "ascending"), ("quantity", "ascending")]
AORDER = [("dataset", "ascending"), ("model", "ascending")]


def records(store):
    return Store(store).records().sort_by(ORDER)


def analyses(store):
    return Store(store).analyses().sort_by(AORDER)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, r_engine):
    path = tmp_path_factory.mktemp("ref") / "store"
    res = run_campaign(N, SEED, resolve(MODELS), engine=r_engine, chunk=CHUNK, workers=1, store=path)
    assert res.layout == "1 process (no cluster)"
    return path, res


def same(a, b):
    """Every record and every verdict of store ``a`` equal to those of store ``b`` (same machine: bit for bit)."""
    ra, rb = records(a), records(b)
    assert ra.num_rows == rb.num_rows > 0
    assert ra.equals(rb)
    assert analyses(a).equals(analyses(b))


def test_two_local_workers_give_the_same_records(reference, local2, tmp_path):
    ref, ref_res = reference
    res = run_campaign(N, SEED, resolve(MODELS), chunk=CHUNK, cluster=local2, store=tmp_path / "s")
    assert res.layout == "LocalCluster, 2 workers"
    same(ref, tmp_path / "s")
    assert res.to_dict()["per_model"] == ref_res.to_dict()["per_model"]
    assert [(d.model, d.index, d.category, d.detail) for d in res.disagreements] == \
           [(d.model, d.index, d.category, d.detail) for d in ref_res.disagreements]


def test_a_killed_worker_has_its_task_rerun(reference, local2, tmp_path):
    """SIGKILL a worker process while it runs a chunk: the scheduler re-runs the chunk elsewhere."""
    ref, _ = reference
    killed = []

    def kill_busy_worker(done, total, bad, secs):
        if killed:
            return
        busy = {w: ks for w, ks in local2.client.processing().items() if ks}
        if not busy:
            return
        addr = sorted(busy)[0]
        pid = worker_pids(local2)[addr]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    res = run_campaign(N, SEED, resolve(MODELS), chunk=CHUNK, cluster=local2, store=tmp_path / "s", progress=kill_busy_worker)
    assert killed, "no worker was busy when the first chunk finished"
    assert not res.failed
    same(ref, tmp_path / "s")
    # the nanny restarted the killed worker
    deadline = time.monotonic() + 120
    while len(worker_pids(local2)) < 2 and time.monotonic() < deadline:
        time.sleep(1)
    assert killed[0] not in worker_pids(local2).values()


def test_interrupted_campaign_resumes_from_its_store(reference, local2, tmp_path):
    ref, _ = reference
    store = tmp_path / "s"

    def interrupt(done, total, bad, secs):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_campaign(N, SEED, resolve(MODELS), chunk=CHUNK, cluster=local2, store=store, progress=interrupt)
    kept = Store(store).done()
    assert 1 <= len(kept) < N // CHUNK  # what finished is kept, the rest is not
    with pytest.raises(StoreMismatch):  # never silently overwritten
        run_campaign(N, SEED, resolve(MODELS), chunk=CHUNK, cluster=local2, store=store)
    with pytest.raises(StoreMismatch):  # nor resumed by another campaign
        run_campaign(N, SEED + 1, resolve(MODELS), chunk=CHUNK, cluster=local2, store=store, resume=True)
    mtimes = {p: p.stat().st_mtime_ns for p in (store / "records").glob("*.parquet")}
    res = run_campaign(N, SEED, resolve(MODELS), chunk=CHUNK, cluster=local2, store=store, resume=True)
    assert res.resumed == len(kept) * CHUNK
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items())  # finished chunks were not recomputed
    same(ref, store)


def _dask(*args, log):
    exe = Path(sys.executable).with_name("dask")
    return subprocess.Popen([str(exe), *args], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def test_external_scheduler_gives_the_same_records(reference, tmp_path):
    """`dask scheduler` and `dask worker` processes on 127.0.0.1, as a user would start them."""
    ref, _ = reference
    sched_file = tmp_path / "scheduler.json"
    log = open(tmp_path / "dask.log", "wb")
    procs = [_dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(sched_file), log=log)]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sched_file.exists(), (tmp_path / "dask.log").read_text()
        import json

        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        procs.append(_dask("worker", "--scheduler-file", str(sched_file), "--nworkers", "2", "--nthreads", "1",
                           "--no-dashboard", "--host", "127.0.0.1", log=log))
        from distributed import Client

        with Client(address, timeout="30s") as c:
            c.wait_for_workers(2, timeout=120)
        res = run_campaign(N, SEED, resolve(MODELS), chunk=CHUNK, scheduler=address, store=tmp_path / "s")
        assert res.layout == f"scheduler {address}, 2 workers"
        same(ref, tmp_path / "s")
    finally:
        for p in reversed(procs):
            os.killpg(p.pid, signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        log.close()


def test_command_line_store_resume_and_refusal(tmp_path):
    """`metaharness fuzz` end to end in one process: the store, a resume that runs nothing, no overwrite."""
    import json

    store = tmp_path / "store"
    base = [sys.executable, "-m", "harness", "fuzz", "--n", "4", "--chunk", "2", "--seed", "2", "--models", "DL", "SMD-DL",
            "--workers", "1", "--store", str(store), "--no-shrink"]
    env = {**os.environ, "CI": "1"}
    first = subprocess.run(base + ["--json", str(tmp_path / "a.json")], capture_output=True, text=True, env=env, timeout=900)
    assert first.returncode in (0, 1), first.stderr
    assert f"store: {store}" in first.stdout and "ran on 1 process (no cluster)" in first.stdout
    assert first.stderr.strip() == ""  # no progress line in CI
    a = json.loads((tmp_path / "a.json").read_text())
    assert a["per_model"]["DL"]["analyses"] == 4 and a["store"] == str(store)
    again = subprocess.run(base + ["--resume", "--json", str(tmp_path / "b.json")], capture_output=True, text=True, env=env, timeout=900)
    assert "4 datasets were already in the store" in again.stdout
    b = json.loads((tmp_path / "b.json").read_text())
    assert b["per_model"] == a["per_model"] and b["disagreements"] == a["disagreements"]
    refused = subprocess.run(base, capture_output=True, text=True, env=env, timeout=900)
    assert refused.returncode == 2 and "--resume" in refused.stderr
