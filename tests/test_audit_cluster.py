"""Many files audited on Dask distributed (`metaharness audit DIR/ --workers N`), on loopback:
the same results in the same order whatever the layout, R started once per worker, a worker
killed mid-file, an interrupted run keeping what finished, a file failing for good as an error row.

Reference for every comparison: the same files audited in this process (the single-process
path), R run for real on both sides of every analysis; the files are the hand-made ones of
tests/data/cochrane (generate.py) and RevMan's own samples (../shared/reference/revman-samples).
One LocalCluster of 2 workers serves the module (a cluster and its R cost tens of seconds).
"""
from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import signal
import time
from pathlib import Path

import pytest

from harness.audit import batch
from harness.audit.batch import AuditOptions, FileError, audit_files, expand
from harness.audit.report import render_set
from harness.cli import main
from harness.distributed import r_engines, worker_pids

pytestmark = [pytest.mark.r, pytest.mark.r_bridge]  # the cluster machinery: once per R (tests/conftest.py)

DATA = Path(__file__).resolve().parent / "data" / "cochrane"
ROOT = Path(__file__).resolve().parent.parent
SAMPLES = next((p for p in (ROOT.parent / "shared" / "reference" / "revman-samples", Path("/work/shared/reference/revman-samples")) if p.is_dir()), None)


def the_files():
    return expand([DATA] + ([SAMPLES] if SAMPLES is not None else []))


def text(aset) -> list[str]:
    """Every file's result as JSON text (NaN spelled out, so that equal NaNs compare equal) and the set's summary."""
    return [json.dumps(r.to_dict(), sort_keys=True) for r in aset.results] + [json.dumps(aset.to_dict(), sort_keys=True)]


def same(a, b):
    """Every record and every verdict of set ``a`` equal to those of ``b``, file by file in the same order
    (same machine and R: bit for bit), and the same terminal report."""
    assert [batch._path_of(r) for r in a.results] == [batch._path_of(r) for r in b.results]
    assert text(a) == text(b)
    assert [r.render(True) for r in a.results] == [r.render(True) for r in b.results]
    assert render_set(a) == render_set(b) and a.headline() == b.headline()


@pytest.fixture(scope="module")
def reference(r_engine):
    paths = the_files()
    aset = audit_files(paths, AuditOptions(), workers=1)
    assert len(aset.results) == len(paths) >= 5 and not aset.interrupted
    # tests/test_cochrane_batch.py establishes these per file: precision_CR.csv 1.2 differs, truncated_CR.csv is cut
    assert aset.counts()["inconsistent"] == 1 and aset.counts()["error"] >= 1
    return paths, aset


def test_two_local_workers_give_the_same_results_in_order(reference, local2):
    paths, ref = reference
    finished = []
    got = audit_files(paths, AuditOptions(), cluster=local2, progress=lambda done, total, p: finished.append(p))
    assert local2.describe() == "LocalCluster, 2 workers"
    assert sorted(finished) == sorted(paths) and len(finished) == len(paths)  # each file reported once, as it finished
    same(ref, got)
    assert got.ok == ref.ok and got.bad_input == ref.bad_input


def test_r_starts_once_per_worker_over_a_folder(reference, local2, tmp_path, capsys):
    """The command on an existing scheduler (this module's cluster), over a folder of more files than
    workers: each worker's R (its process id and start count) is the one that was there before."""
    from distributed import get_task_stream

    folder = tmp_path / "reviews"
    for i in range(3):
        for name in ("handmade_CR.csv", "totals.rm5", "precision_CR.csv"):
            (folder / f"copy{i}").mkdir(parents=True, exist_ok=True)
            shutil.copy(DATA / name, folder / f"copy{i}" / name)
    n = len(expand([folder]))
    assert n == 9
    before = r_engines(local2)
    assert len(before) == 2 and all(e["r_starts"] == 1 and e["r_pid"] for e in before.values())  # started with the worker
    address = local2.client.scheduler.address
    with get_task_stream(client=local2.client) as ts:
        rc = main(["audit", str(folder), "--scheduler", address, "--json", str(tmp_path / "c.json")])
    cap = capsys.readouterr()
    after = r_engines(local2)
    assert after == before  # same worker processes, same R processes, no R started for any file
    ran = [t["worker"] for t in ts.data if str(t["key"]).startswith("audit-")]
    assert len(ran) == n and set(ran) == set(before)  # both workers audited files: 9 files, 2 R start-ups in all
    assert f"running on scheduler {address}, 2 workers" in cap.err
    # the same report as in this process (the paths are absolute in both)
    assert main(["audit", str(folder), "--workers", "1", "--json", str(tmp_path / "p.json")]) == rc == 1
    assert capsys.readouterr().out == cap.out
    assert json.loads((tmp_path / "c.json").read_text()) == json.loads((tmp_path / "p.json").read_text())


def test_an_interrupt_keeps_what_finished(reference, local2):
    paths, ref = reference

    def interrupt(done, total, path):
        raise KeyboardInterrupt

    got = audit_files(paths, AuditOptions(), cluster=local2, progress=interrupt)
    assert got.interrupted and not got.ok
    assert len(got.results) == 1 and len(got.not_audited) == len(paths) - 1  # the first file that finished, and the rest
    i = paths.index(Path(batch._path_of(got.results[0])))
    assert got.not_audited == paths[:i] + paths[i + 1:]
    assert json.dumps(got.results[0].to_dict(), sort_keys=True) == json.dumps(ref.results[i].to_dict(), sort_keys=True)
    assert got.headline().endswith(f"; interrupted: {len(paths) - 1} file(s) not audited")
    doc = got.to_dict()
    assert doc["interrupted"] is True and doc["not_audited"] == [str(p) for p in paths if p != paths[i]]
    # nothing left running on the cluster
    deadline = time.monotonic() + 30
    while any(local2.client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(local2.client.processing().values())


def test_a_task_failing_for_good_comes_back_as_an_error(local2):
    """On the workers: a task that raises every time (retried twice) comes back with its error, never lost."""
    res = sorted(local2.map(int, ["1", "x", "3"], name="fail"), key=lambda r: r.index)
    assert [r.value for r in res] == [1, None, 3]
    assert res[1].error.startswith("ValueError: invalid literal for int()")


# last of the cluster tests: the nanny restarting the killed worker (and its R) costs tens of seconds
def test_a_killed_worker_has_its_file_rerun(reference, local2):
    """SIGKILL a worker process while it audits a file: the scheduler re-runs the file on a worker."""
    paths, ref = reference
    killed = []

    def kill_busy_worker(done, total, path):
        if killed:
            return
        busy = {w: ks for w, ks in local2.client.processing().items() if ks}
        if not busy:
            return
        addr = sorted(busy)[0]
        pid = worker_pids(local2)[addr]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    got = audit_files(paths, AuditOptions(), cluster=local2, progress=kill_busy_worker)
    assert killed, "no worker was busy when the first file finished"
    assert not any(isinstance(r, FileError) and not r.bad_input for r in got.results)  # nothing failed
    same(ref, got)
    assert killed[0] not in worker_pids(local2).values()


# --------------------------------------------------------------------------- in this process (no cluster)


def test_a_file_failing_for_good_is_an_error_row(r_engine, monkeypatch, tmp_path, capsys):
    """The command's loop: a file whose audit raises is that file's error (exit 1), the others are reported."""
    real = batch.audit_path_or_error

    def flaky(path, options):
        if Path(path).name == "totals.rm5":
            raise RuntimeError("the worker ran out of memory")
        return real(path, options)

    monkeypatch.setattr(batch, "audit_path_or_error", flaky)
    files = [str(DATA / "handmade_CR.csv"), str(DATA / "totals.rm5")]
    rc = main(["audit", *files, "--workers", "1", "--json", str(tmp_path / "a.json"), "--junit", str(tmp_path / "a.xml")])
    out = capsys.readouterr().out
    assert rc == 1  # an error, not bad input (2)
    assert "error: the audit failed: RuntimeError: the worker ran out of memory" in out
    # handmade_CR.csv: 3 consistent (tests/test_cochrane_batch.py); totals.rm5: the error
    assert out.strip().splitlines()[-1] == "2 file(s): 3 consistent, 0 inconsistent, 0 cannot check, 1 error"
    doc = json.loads((tmp_path / "a.json").read_text())
    assert [f["kind"] for f in doc["files"]] == ["cochrane-review", "failed"]
    assert "RuntimeError" in (tmp_path / "a.xml").read_text()
    err = FileError(files[1], "x", bad_input=False)
    assert pickle.loads(pickle.dumps(err)) == err


def test_ctrl_c_in_this_process_reports_what_finished(r_engine, monkeypatch, tmp_path, capsys):
    real = batch.audit_path_or_error

    def interrupted_at_the_second(path, options):
        if Path(path).name == "totals.rm5":
            raise KeyboardInterrupt
        return real(path, options)

    monkeypatch.setattr(batch, "audit_path_or_error", interrupted_at_the_second)
    files = [str(DATA / "handmade_CR.csv"), str(DATA / "totals.rm5"), str(DATA / "precision_CR.csv")]
    rc = main(["audit", *files, "--json", str(tmp_path / "a.json"), "--html", str(tmp_path / "a.html")])
    cap = capsys.readouterr()
    assert rc == 130
    last = cap.out.strip().splitlines()[-1]
    assert last == "1 file(s): 3 consistent, 0 inconsistent, 0 cannot check, 0 errors; interrupted: 2 file(s) not audited"
    assert "interrupted after 1 of 3 files; the report covers those" in cap.err and "totals.rm5" in cap.err
    doc = json.loads((tmp_path / "a.json").read_text())
    assert doc["interrupted"] is True and doc["not_audited"] == files[1:] and doc["headline"] == last
    html = (tmp_path / "a.html").read_text(encoding="utf-8")
    assert 'class="banner bad"' in html and "interrupted: 2 file(s) not audited" in html


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_on_a_terminal_only(r_engine, monkeypatch, capsys):
    files = [str(DATA / "handmade_CR.csv"), str(DATA / "precision_CR.csv")]
    monkeypatch.delenv("CI", raising=False)
    tty = Tty()
    monkeypatch.setattr("sys.stderr", tty)
    main(["audit", *files])
    shown = tty.getvalue()
    assert "1/2 files" in shown and "2/2 files" in shown and "precision_CR.csv" in shown and shown.endswith("\r\033[K")
    for env, extra in (({"CI": "1"}, []), ({}, ["--no-progress"])):
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        tty = Tty()
        monkeypatch.setattr("sys.stderr", tty)
        main(["audit", *files, *extra])
        assert tty.getvalue() == ""
    capsys.readouterr()


def test_worker_options(tmp_path, capsys):
    from harness.cli import build_parser

    p = build_parser()
    a = p.parse_args(["audit", "x.rm5", "--jobs", "3"])
    f = p.parse_args(["fuzz", "--jobs", "3"])
    assert a.workers == f.workers == 3  # one spelling, --jobs its alias, in both commands
    assert p.parse_args(["audit", "x.rm5"]).workers == 1 and p.parse_args(["fuzz"]).workers == 2
    assert main(["audit", str(DATA / "totals.rm5"), str(DATA / "handmade_CR.csv"), "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
