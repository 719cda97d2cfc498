"""Random-dataset campaigns: deterministic generators that reach the corners, batched R, shrinking."""
import numpy as np

from harness.analyses.base import Outcome
from harness.analyses.rma import RmaKind
from harness.fuzz import dataset, resolve, run_campaign
from harness.fuzz.batch import BatchStats, make_spec, run_r_batched
from harness.fuzz.campaign import Disagreement, Runner, classify, write_reproducer
from harness.fuzz.generate import FuzzDataset
from harness.fuzz.models import FuzzModel
from harness.spec import load_fixture


def test_datasets_are_deterministic_per_seed_and_index():
    a, b = dataset(1, 7, "uni"), dataset(1, 7, "uni")
    assert all(np.array_equal(a.columns[c], b.columns[c]) for c in a.columns)
    assert not np.array_equal(dataset(2, 7, "uni").columns["yi"][:1], a.columns["yi"][:1])


def test_generators_reach_the_corners():
    uni = [dataset(1, i, "uni") for i in range(1500)]
    ks = [d.k for d in uni]
    assert min(ks) == 1 and max(ks) > 150
    ratio = [d.columns["vi"].max() / d.columns["vi"].min() for d in uni]
    assert min(ratio) == 1 and max(ratio) > 1e8  # one scale ... nine orders of magnitude
    meta = [d.meta for d in uni]
    assert {m["tau2"] for m in meta} == {"zero", "small", "large", "huge"}
    assert any(m["identical"] for m in meta) and any(np.ptp(d.columns["yi"]) == 0 and d.k > 2 for d in uni)
    assert any(m["dominant"] for m in meta)
    assert {m["x2"] for m in meta} == {"independent", "collinear", "constant", "binary"}
    assert any((d.columns["n1i"] == 2).any() for d in uni)  # tiny arms
    assert any((d.columns["n2i"] / d.columns["n1i"]).max() > 10 for d in uni)  # unbalanced arms
    cl = [dataset(1, i, "clustered") for i in range(400)]
    sizes = [np.unique(d.columns["study"], return_counts=True)[1] for d in cl]
    assert any((s == 1).all() for s in sizes) and any(s.max() >= 10 for s in sizes) and any((s == 1).any() and s.max() > 1 for s in sizes)


def test_default_models_exist_and_cover_rve():
    names = [m.name for m in resolve(None)]
    assert {"DL", "REML", "REML-mods", "SMD-DL"} <= set(names)
    assert any(m.kind_name == "robu" for m in resolve(None))


def test_every_default_model_builds_its_spec_on_generated_datasets():
    """make_spec validates each model's spec on the campaign's ArrayDataset (no R): its numeric/text
    take the keywords Dataset's take (a mismatch failed every chunk of a default campaign)."""
    for i in range(12):
        for m in resolve(None):
            spec = make_spec(dataset(1, i, m.family), m, f"s{i}")
            assert spec.kind == m.kind_name


def test_array_dataset_errors_are_the_text_paths():
    import pandas as pd
    import pytest

    from harness.data import Dataset
    from harness.errors import InputError
    from harness.fuzz.batch import ArrayDataset, cell

    frame = pd.DataFrame({"n": [10.0, 1.0, 12.0], "x": [1.0, np.nan, 0.0]})
    arr = ArrayDataset("d", "<d>", frame)
    txt = Dataset("d", "<d>", pd.DataFrame({c: [cell(v) for v in frame[c]] for c in frame}, dtype=object))
    for call in (lambda d: d.numeric("n", lower=2, what="a sample size", why="two observations per arm"),
                 lambda d: d.text("x", what="a moderator value"), lambda d: d.numeric("x")):
        with pytest.raises(InputError) as a:
            call(arr)
        with pytest.raises(InputError) as b:
            call(txt)
        assert str(a.value) == str(b.value)
    assert arr.text("n") == txt.text("n") and list(arr.numeric("x", allow_empty=True)[[0, 2]]) == [1.0, 0.0]


def test_one_sided_engine_error_is_a_disagreement(fixtures_dir):
    kind = RmaKind()
    ds = dataset(1, 3, "uni")
    spec = make_spec(ds, FuzzModel("FE", "rma", "uni", {"measure": "GEN", "yi": "yi", "vi": "vi", "method": "FE"}), "t")
    from harness.compare.compare import compare_outcomes

    py, r = Outcome(values={"beta": 1.0}), Outcome(error="boom")
    assert classify(compare_outcomes(kind, spec, py, r), py, r)[:2] == ("disagree", "r-error")
    assert classify(compare_outcomes(kind, spec, r, py), r, py)[:2] == ("disagree", "python-error")
    both = Outcome(error="no")
    assert classify(compare_outcomes(kind, spec, both, both), both, both)[0] == "refused"


def test_r_work_is_batched_into_one_crossing(r_engine):
    model = FuzzModel("DL", "rma", "uni", {"measure": "GEN", "yi": "yi", "vi": "vi", "method": "DL"})
    kind = model.kind_obj()
    jobs = [(kind, make_spec(dataset(1, i, "uni"), model, f"b{i}")) for i in range(6)]
    stats = BatchStats()
    batched = run_r_batched(jobs, r_engine, stats)
    assert stats.crossings == 1 and stats.r_calls == 6
    for (k, spec), out in zip(jobs, batched):
        direct = k.run_r(spec, r_engine)
        assert out.error == direct.error and out.values == direct.values


def test_small_campaign_reports_every_quantity(r_engine):
    models = resolve(["DL", "robu-CORR"])
    res = run_campaign(6, 1, models, engine=r_engine, chunk=4)
    assert res.analyses == {"DL": 6, "robu-CORR": 6}
    assert res.batch.crossings == 2  # one per chunk of 4 datasets, both models in it
    for m in ("DL", "robu-CORR"):
        assert res.quantities[m] and all(s.n > 0 for s in res.quantities[m].values())
    again = run_campaign(6, 1, models, engine=r_engine, chunk=3)
    assert {m: {q: (s.n, s.max_abs) for q, s in qs.items()} for m, qs in res.quantities.items()} == \
           {m: {q: (s.n, s.max_abs) for q, s in qs.items()} for m, qs in again.quantities.items()}
    from harness.fuzz.report import render

    out = render(res)
    assert "quantities compared" in out and "max rel diff" in out
    tb = res.time_budget()
    assert tb["workers"] == 1 and "harness time outside R's computing" in out
    parts = sum(tb[f"{p}_seconds"] for p in ("python_core", "bridge", "rest_in_tasks", "outside_tasks"))
    assert abs(parts - tb["outside_r_seconds"]) < 1e-9 and tb["r_seconds"] == res.batch.r_seconds


def test_time_budget_splits_the_workers_capacity():
    """2 workers x 100 s wall = 200 s of capacity: R 150 s (timed inside R), crossings 160 s
    (so the bridge beyond R is 10 s), Python core 12 s, tasks 190 s (so 190 - 160 - 12 = 18 s
    of the rest in tasks) and 200 - 190 = 10 s outside the tasks; 50 s outside R = 33.3 % of R."""
    from harness.fuzz.campaign import CampaignResult

    res = CampaignResult(1, 10, ["DL"], seconds=100.0, batch=BatchStats(1, 10, 150.0, 160.0, 12.0), task_seconds=190.0, workers=2)
    tb = res.time_budget()
    assert tb["capacity_seconds"] == 200.0 and tb["outside_r_seconds"] == 50.0
    assert (tb["python_core_seconds"], tb["bridge_seconds"], tb["rest_in_tasks_seconds"], tb["outside_tasks_seconds"]) == (12.0, 10.0, 18.0, 10.0)
    assert abs(tb["outside_r_percent"] - 100 * 50 / 150) < 1e-12 and abs(tb["bridge_percent"] - 100 * 10 / 150) < 1e-12
    assert CampaignResult(1, 10, ["DL"]).time_budget() is None  # nothing computed in R (e.g. all resumed)


class PlantedKind(RmaKind):
    """rma with a planted bug: the Python side is off whenever a study has yi > 100."""

    name = "rma"  # so the reproducer is a plain rma fixture that verify can load

    def run_python(self, spec):
        out = super().run_python(spec)
        if out.error is None and (self.inputs(spec)["yi"] > 100).any():
            out.values["beta"] += 1e-3
        return out


def test_shrinking_finds_the_one_study_that_disagrees(tmp_path, r_engine):
    rng = np.random.default_rng(5)
    k = 23
    yi = rng.normal(0, 1, k)
    yi[13] = 500.0
    ds = FuzzDataset(0, "uni", {"yi": yi, "vi": rng.uniform(0.01, 0.1, k), "x1": rng.normal(0, 1, k)})
    model = FuzzModel("planted", PlantedKind(), "uni", {"measure": "GEN", "yi": "yi", "vi": "vi", "method": "FE"})
    runner = Runner(r_engine, 99, BatchStats())
    (spec, py, r, cmp, _), = runner.run([(ds, model)])
    status, cat, detail, msg, _ = classify(cmp, py, r)
    assert (status, cat, detail) == ("disagree", "differ", "beta")
    d = Disagreement("planted", 0, cat, detail, k, msg)
    path = write_reproducer(runner, d, ds, model, tmp_path)
    assert d.shrunk_k == 1 and runner.stats.crossings < 20
    lines = (path.parent / "data.csv").read_text().splitlines()
    assert lines[0] == "yi,vi,x1" and len(lines) == 2 and lines[1].startswith("500,")
    fx = load_fixture(path)  # a fixture verify can run
    assert fx.analyses[0].kind == "rma" and fx.analyses[0]["method"] == "FE"
    assert "shrunk to 1 studies" in fx.source


def test_a_hanging_python_analysis_is_stopped_off_the_main_thread(monkeypatch):
    """A Dask worker runs tasks in a thread (no SIGALRM there): the hang still becomes an error outcome."""
    import threading

    from harness.fuzz import batch

    class Hangs:
        def run_python(self, spec):
            while True:
                pass

    class Fine:
        def run_python(self, spec):
            return Outcome(values={"x": 1.0})

    monkeypatch.setattr(batch, "PYTHON_SECONDS", 0.5)
    out = []
    t = threading.Thread(target=lambda: out.extend(batch.run_python_all([(Hangs(), None), (Fine(), None)])))
    t.start()
    t.join(30)
    assert not t.is_alive()
    assert "PythonTimeout" in out[0].error and out[1].values == {"x": 1.0}


def test_binary_family_reaches_the_sparse_corners():
    """2x2 tables: zero cells, double zeros, no non-events, one-participant and unbalanced arms; the
    other families' datasets do not move when a family is added (fixed stream ids)."""
    bins = [dataset(1, i, "binary") for i in range(600)]
    a, b, c, d = (np.concatenate([x.columns[k] for x in bins]) for k in ("ai", "bi", "ci", "di"))
    assert np.all(np.concatenate([a, b, c, d]) >= 0) and np.all(a + b >= 1) and np.all(c + d >= 1)
    assert np.mean((a == 0) | (c == 0)) > 0.05  # zero cells are common
    assert any(((x.columns["ai"] == 0) & (x.columns["ci"] == 0)).any() and x.k > 1 for x in bins)  # double zeros
    assert any(((x.columns["bi"] == 0) & (x.columns["di"] == 0)).any() for x in bins)  # all events in both groups
    assert any(((x.columns["ai"] + x.columns["bi"]) == 1).any() for x in bins)  # one-participant arms
    assert {m.meta["risk"] for m in bins} == {"rare", "moderate", "common", "near-certain"}
    one = dataset(1, 7, "binary")
    assert all(np.array_equal(one.columns[k], dataset(1, 7, "binary").columns[k]) for k in one.columns)
    from harness.fuzz.generate import FAMILY_IDS, generate_uni

    assert FAMILY_IDS["uni"] == 1 and FAMILY_IDS["clustered"] == 0  # the streams the existing campaigns use
    ref = generate_uni(np.random.default_rng([1, 7, 1]), 7)
    assert np.array_equal(ref.columns["yi"], dataset(1, 7, "uni").columns["yi"])


def test_binary_models_cover_every_dichotomous_kind():
    from harness.fuzz.models import available_models

    models = available_models()
    kinds = {m.kind_name for m in models.values() if m.family == "binary"}
    assert kinds == {"rma", "rma.mh", "rma.peto", "revman-dich"}
    for name in ("OR-REML", "PETO-FE", "OR-DL-none", "OR-REML-drop00", "MH-OR", "MH-RD", "peto", "revman-MH-RR-random"):
        assert name in models
    spec = make_spec(dataset(1, 3, "binary"), models["MH-OR"], "x")
    assert spec["measure"] == "OR" and spec["drop00"] is True


def test_small_binary_campaign_agrees(r_engine):
    """A few sparse datasets through MH, Peto and RevMan models: no disagreement."""
    res = run_campaign(seed=3, n=12, models=resolve(["MH-OR", "MH-RD", "peto", "OR-REML-drop00", "revman-MH-RR-random"]), jobs=1, out_dir=None, engine=r_engine)
    assert res.n_compared > 0
    assert not res.disagreements, [(d.model, d.category, d.detail) for d in res.disagreements]


def test_chunk_shortcuts_are_the_long_ways():
    """n_studies counts the groups without forming them; to_dataset's column arrays are what the
    frame would give back (the same doubles)."""
    from harness.fuzz.batch import to_dataset

    for fam in ("uni", "clustered", "binary"):
        for i in range(6):
            ds = dataset(1, i, fam)
            assert ds.n_studies == len(ds.groups())
            d = to_dataset(ds, "t")
            for c in d.frame.columns:
                assert d._arrays[c].tobytes() == d.frame[c].to_numpy(dtype=float).tobytes()
                assert d._arrays[c] is not ds.columns[c]
