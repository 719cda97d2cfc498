"""Golden snapshots: the committed snapshots still hold, and a change is named with before/after values."""
import json
import math
import os
from pathlib import Path

import pytest

from harness import snapshot as snap
from harness.core.versions import CHANGES
from harness.verify import FIXTURES, verify

SNAPSHOTS = Path(__file__).resolve().parent.parent / "snapshots"


def _smallest_fixture_per_kind():
    """One committed snapshot per analysis kind (the smallest file): every kind is checked, quickly."""
    best = {}
    for p in sorted(SNAPSHOTS.glob("*.json"), key=lambda p: p.stat().st_size):
        doc = json.loads(p.read_text())
        for a in doc["analyses"].values():
            best.setdefault(a["kind"], doc["fixture"])
    return best


def test_every_kind_with_a_fixture_has_a_snapshot():
    kinds = _smallest_fixture_per_kind()
    with_fixtures = {a.kind for f in snap_discover() for a in f.analyses}
    assert with_fixtures <= set(kinds), f"kinds with fixtures but no snapshot: {with_fixtures - set(kinds)}; run `make snapshots`"


def snap_discover():
    from harness.spec import discover, load_fixture

    return [load_fixture(p) for p in discover([FIXTURES])]


@pytest.mark.r
def test_committed_snapshots_hold():
    """Both engines still give the snapshot's numbers (one fixture per kind). New analyses are
    allowed only as an explicit "not in snapshot" list."""
    fixtures = sorted(set(_smallest_fixture_per_kind().values()))
    run = verify([Path(__file__).resolve().parent.parent / f for f in fixtures])
    res = snap.check(run, SNAPSHOTS)
    print(snap.render(res))
    assert res.compared > 0
    # The committed snapshots are metafor 3.8-1's (Debian 12). On a stack with another release
    # every number that moved must be traced to a release change of harness.core.versions.CHANGES
    # (snapshot.attribute), and named; nothing else may move.
    assert res.ok, snap.render(res)
    before, now = res.versions_before["metafor"], res.versions_now["metafor"]
    if before != now:
        assert res.releases == (before, now)
        labels = {c.label for c in CHANGES}
        assert all(names and set(names) <= labels for _, names in res.release_changes)
        assert "traced to metafor's release changes" in snap.render(res)
    else:
        assert res.releases is None and not res.release_changes
    if res.not_in_snapshot:
        assert "not in snapshot" in snap.render(res)


@pytest.mark.r
def test_a_regression_fails_on_every_stack(tmp_path):
    """A Python value or an R value of the snapshot that no longer holds is a change on every
    stack, also where the metafor release moves the same number (SMDH's variances changed in
    4.6-0, so on 4.8-0 and 5.0-1 gibson2002's SMDH results move by design): the Python side
    following the snapshot's release must still give the snapshot's numbers."""
    doc = json.loads((SNAPSHOTS / "gibson2002.json").read_text())
    py = doc["analyses"]["gibson2002-SMDH-FE-z"]["python"]["values"]
    py["beta"] = py["beta"] * (1 + 1e-6)   # closed form: beyond 1e-10
    r = doc["analyses"]["gibson2002-SMDH-DL-z"]["r"]["values"]
    r["se"] = r["se"] * (1 + 1e-6)
    d = tmp_path / "snaps"
    d.mkdir()
    (d / "gibson2002.json").write_text(json.dumps(doc))
    run = verify([FIXTURES / "gibson2002" / "spec.toml"])
    res = snap.check(run, d)
    out = snap.render(res)
    assert not res.ok, out
    assert {(c.analysis, c.quantity) for c in res.changes} == {("gibson2002-SMDH-FE-z", "beta"), ("gibson2002-SMDH-DL-z", "se")}, out
    if res.releases:  # another release than the snapshot's: the undoctored SMDH numbers are traced, and named
        assert snap.release_counts(res.release_changes), out
        assert any("SMDH variances" in lab for _, names in res.release_changes for lab in names), out


#: OpenBLAS core types whose kernels this machine runs (numpy's OpenBLAS is built with
#: DYNAMIC_ARCH; Prescott runs its "Katmai" kernels). Each sums and fuses in its own order.
CORE_TYPES = ("Haswell", "Sandybridge", "Prescott")
#: the fixtures whose numbers move between kernels (ill-conditioned designs: hackshaw1998 with
#: year, kappa 9e5; konstantopoulos2011 with unscaled year; RVE sums in assink2016, corrdat),
#: plus one fixture of every kind
MOVING = ["fixtures/hackshaw1998/spec.toml", "fixtures/konstantopoulos2011/spec.toml", "fixtures/konstantopoulos2011/cr2.spec.toml",
          "fixtures/assink2016/spec.toml", "fixtures/assink2016/cr2.spec.toml", "fixtures/corrdat/spec.toml"]
_UNDER_CORE = """
import hashlib, json, sys
from harness import snapshot as snap
from harness.core.versions import CHANGES
from harness.verify import verify
run = verify(sys.argv[2:], r_side=snap.StoredR(sys.argv[1]))
res = snap.check(run, sys.argv[1])
values = json.dumps({a.id: [r.python for r in a.records] for a in run.analyses}, sort_keys=True)
print(json.dumps({"ok": res.ok and run.ok, "compared": res.compared, "changes": len(res.changes), "moved": len(res.moved),
                  "python_values": hashlib.sha256(values.encode()).hexdigest(), "report": snap.render(res)}))
"""


@pytest.fixture(scope="module")
def under_core_types():
    """The Python core on the moving fixtures under each OpenBLAS core type, each in its own process,
    checked against the committed snapshots (their R values and their Python values)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    fixtures = sorted(set(MOVING) | set(_smallest_fixture_per_kind().values()))
    out = {}
    for core in CORE_TYPES:
        env = {**os.environ, "OPENBLAS_CORETYPE": core, "OPENBLAS_VERBOSE": "2"}
        p = subprocess.run([sys.executable, "-c", _UNDER_CORE, str(SNAPSHOTS), *(str(root / f) for f in fixtures)],
                           capture_output=True, text=True, env=env, timeout=900)
        assert p.returncode == 0, p.stdout + p.stderr
        kernels = {line.split(":", 1)[1].strip() for line in p.stderr.splitlines() if line.startswith("Core:")}
        assert kernels and not any("not found" in line for line in p.stderr.splitlines()), f"OpenBLAS did not take {core}: {p.stderr}"
        out[core] = {**json.loads(p.stdout.splitlines()[-1]), "kernels": kernels}
    return out


@pytest.mark.parametrize("core", CORE_TYPES)
def test_snapshots_hold_under_openblas_core_type(under_core_types, core):
    """Snapshots written on another machine hold under this core type: last bits move (listed as
    information), no value moves beyond its tolerance."""
    r = under_core_types[core]
    assert r["compared"] > 10_000 and r["ok"] and r["changes"] == 0, r["report"]


def test_core_types_run_different_kernels(under_core_types):
    """The check above is not vacuous: the core types select different kernels, and the Python
    values they give are not all bit-identical."""
    kernels = [frozenset(r["kernels"]) for r in under_core_types.values()]
    assert len(set(kernels)) == len(CORE_TYPES), kernels
    assert len({r["python_values"] for r in under_core_types.values()}) > 1
    assert any(r["moved"] for r in under_core_types.values())


def _doctored(tmp_path, edits):
    """Copies of the committed snapshots of normand1999 and hackshaw1998 with Python values moved:
    ``edits`` maps (analysis, quantity) to a relative change."""
    d = tmp_path / "snaps"
    d.mkdir()
    for name in ("normand1999", "hackshaw1998"):
        doc = json.loads((SNAPSHOTS / f"{name}.json").read_text())
        for (aid, q), rel in edits.items():
            if aid in doc["analyses"]:
                vals = doc["analyses"][aid]["python"]["values"]
                vals[q] = vals[q] * (1 + rel)
        (d / f"{name}.json").write_text(json.dumps(doc))
    return d


def test_a_real_change_still_fails(tmp_path):
    """Tolerances follow the quantity's class and the design's conditioning; a change beyond them
    is a change. normand1999 (intercept-only, kappa = 1): closed-form 1e-10, iterated (REML tau2) 1e-8.
    hackshaw1998 design + year: kappa = 9e5, so kappa^2 eps = 1.8e-4 relative."""
    edits = {("normand1999-MD-FE", "beta"): 1e-8,        # closed form, well conditioned: a change
             ("normand1999-MD-DL", "beta"): 1e-12,       # rounding: moved only
             ("normand1999-MD-REML", "tau2"): 1e-6,      # iterated: beyond 1e-8, a change
             ("normand1999-MD-ML", "tau2"): 1e-9,        # iterated, within 1e-8: moved only
             ("hackshaw1998-design-z-FE", "QE"): 1e-6,   # kappa^2 eps = 1.8e-4: moved only
             ("hackshaw1998-design-z-FE", "beta[intrcpt]"): 1e-3}  # beyond kappa^2 eps: a change
    d = _doctored(tmp_path, edits)
    fixtures = [FIXTURES / "normand1999" / "spec.toml", FIXTURES / "hackshaw1998" / "spec.toml"]
    run = verify(fixtures, r_side=snap.StoredR(SNAPSHOTS))
    kappa = {a.id: a.condition for a in run.analyses}
    assert kappa["normand1999-MD-FE"] == pytest.approx(1.0) and 5e5 < kappa["hackshaw1998-design-z-FE"] < 2e6
    res = snap.check(run, d)
    changed = {(c.analysis, c.quantity) for c in res.changes}
    moved = {(c.analysis, c.quantity) for c in res.moved}
    assert changed == {("normand1999-MD-FE", "beta"), ("normand1999-MD-REML", "tau2"), ("hackshaw1998-design-z-FE", "beta[intrcpt]")}, snap.render(res)
    assert {("normand1999-MD-DL", "beta"), ("normand1999-MD-ML", "tau2"), ("hackshaw1998-design-z-FE", "QE")} <= moved
    assert not res.ok
    out = snap.render(res)
    assert "moved within tolerance (information, not a change" in out


def _fake_run(tmp_path, beta_py=1.5, beta_r=1.5, r_error=None, folder="demo"):
    """A VerifyRun built by hand (no engine): enough for the snapshot functions."""
    from harness.compare.compare import AnalysisComparison, Record
    from harness.compare.tolerance import CLOSED
    from harness.verify import VerifyRun

    spec = tmp_path / folder / "spec.toml"
    a = AnalysisComparison("demo-FE", "rma", str(spec))
    a.records = [Record("beta", beta_py, beta_r, abs(beta_py - beta_r), 0.0, CLOSED, "agree"),
                 Record("tau2", 0.0, 0.0, 0.0, 0.0, CLOSED, "agree"),
                 Record("I2", math.nan, math.nan, None, None, CLOSED, "agree")]
    a.r_error = r_error
    return VerifyRun([a], {"python": {"numpy": "2.0", "scipy": "1.0"}, "r": {"R": "4.2.2", "metafor": "3.8-1"}})


def test_snapshot_file_is_faithful_and_diffable(tmp_path):
    x = 0.1 + 0.2  # 0.30000000000000004: needs all 17 digits
    run = _fake_run(tmp_path, beta_py=x, beta_r=x)
    (p,) = snap.write(run, tmp_path / "snaps")
    text = p.read_text()
    assert '"beta": 0.30000000000000004' in text  # read back to the same double
    assert '"I2": "nan"' in text
    assert text.count("\n") > 10  # one value per line
    doc = json.loads(text)
    assert doc["versions"]["metafor"] == "3.8-1" and doc["versions"]["numpy"] == "2.0"
    assert float(doc["analyses"]["demo-FE"]["r"]["values"]["beta"]) == x
    # an unchanged run writes a byte-identical file
    (p2,) = snap.write(_fake_run(tmp_path, beta_py=x, beta_r=x), tmp_path / "snaps2")
    assert p2.read_text() == text


def test_a_change_is_named_with_before_and_after(tmp_path):
    snap.write(_fake_run(tmp_path), tmp_path / "snaps")
    assert snap.check(_fake_run(tmp_path), tmp_path / "snaps").ok
    res = snap.check(_fake_run(tmp_path, beta_r=1.5 + 1e-9), tmp_path / "snaps")
    assert [(c.analysis, c.engine, c.what, c.quantity, c.before, c.after) for c in res.changes] == [("demo-FE", "r", "value", "beta", 1.5, 1.5 + 1e-9)]
    out = snap.render(res)
    assert "demo-FE" in out and "beta" in out and "1.5" in out and "1.500000001" in out
    # an engine that now fails is a change too
    res = snap.check(_fake_run(tmp_path, r_error="Fisher scoring algorithm did not converge."), tmp_path / "snaps")
    assert ("r", "error") in {(c.engine, c.what) for c in res.changes}


def test_new_analyses_are_listed_not_failed(tmp_path):
    snap.write(_fake_run(tmp_path), tmp_path / "snaps")
    res = snap.check(_fake_run(tmp_path, folder="newer"), tmp_path / "snaps")
    # a fixture not snapshotted yet: listed as such, not a change
    assert res.ok and res.not_in_snapshot == ["demo-FE"]
    assert "not in snapshot (1 analyses" in snap.render(res)


def test_agreement_fixture_reads_snapshots(agreement):
    """`agreement.snapshot` gives stored R values; the Python core is checked against them (no R needed)."""
    import harness

    ids = {aid for doc in snap.load_dir(SNAPSHOTS).values() for aid in doc["analyses"]}
    assert "normand1999-MD-FE" in ids
    ref = agreement.snapshot("normand1999-MD-FE", directory=SNAPSHOTS)
    rows = [r.split(",") for r in (FIXTURES / "normand1999" / "data.csv").read_text().splitlines()[1:]]
    col = {n: [float(r[i]) for r in rows] for i, n in [(2, "n1i"), (3, "m1i"), (4, "sd1i"), (5, "n2i"), (6, "m2i"), (7, "sd2i")]}
    fit = harness.rma(harness.escalc("MD", **col), method="FE")
    agreement.check({n: getattr(fit, n) for n in ("beta", "se", "QE", "I2")}, ref, reference_name="R (snapshot)")


@pytest.mark.r_bridge  # the CLI on a snapshot retaken on this stack: the same on every release
def test_verify_against_snapshot_cli(tmp_path, r_engine):
    """`metaharness verify --against-snapshot` on a doctored snapshot names the change and exits 1."""
    import subprocess
    import sys

    # the smallest committed snapshot of an rma analysis, retaken on this stack (whatever its
    # R package releases), then one R value moved
    p0 = next(p for p in sorted(SNAPSHOTS.glob("*.json"), key=lambda p: p.stat().st_size)
              if any(a["kind"] == "rma" for a in json.loads(p.read_text())["analyses"].values()))
    fresh = snap.write(verify([Path(__file__).resolve().parent.parent / json.loads(p0.read_text())["fixture"]]), tmp_path / "fresh")
    p0 = fresh[0]
    doc = json.loads(p0.read_text())
    aid = next(a for a, v in doc["analyses"].items() if v["kind"] == "rma" and not v["r"]["error"] and "beta" in v["r"]["values"])
    before = doc["analyses"][aid]["r"]["values"]["beta"]
    doc["analyses"][aid]["r"]["values"]["beta"] = before + 0.5
    d = tmp_path / "snaps"
    d.mkdir()
    (d / p0.name).write_text(json.dumps(doc))
    fixture = Path(__file__).resolve().parent.parent / doc["fixture"]
    p = subprocess.run([sys.executable, "-m", "harness", "verify", str(fixture), "--against-snapshot", str(d)], capture_output=True, text=True)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "1 changes" in p.stdout
    line = next(l for l in p.stdout.splitlines() if aid in l and "beta" in l and "value" in l)
    assert repr(before + 0.5)[:8] in line and repr(before)[:8] in line
