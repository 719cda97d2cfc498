"""The explained-differences registry: format, matching, and each entry still holding.

Every entry of harness/compare/explained.toml needs a test here (or, for
RevMan's numerical quirks, in tests/test_cochrane_quirks.py) showing that the
difference it explains exists on real data and stays within its bound.
"""
import math

import numpy as np
import pytest

from harness.analyses import KINDS
from harness.analyses.base import follow_engine
from harness.compare import explained
from harness.compare.compare import Record, compare_outcomes
from harness.compare.tolerance import CLOSED
from harness.core import revman
from harness.spec import load_fixture

ROLES = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")


def test_registry_loads_and_is_well_formed():
    entries = explained.load()
    ids = [e.id for e in entries]
    assert "smd-revman-vs-metafor" in ids
    assert len(ids) == len(set(ids))
    for e in entries:
        assert e.cause and e.reference and e.quantities


def test_matching_needs_every_condition():
    m = {"metafor": "5.0-1"}
    e = explained.find("estimate", {"measure": "SMD", "conventions": ["metafor", "revman"], **m})
    assert e is not None and e.id == "smd-revman-vs-metafor"
    assert explained.find("estimate", {"measure": "MD", "conventions": ["revman", "metafor"], **m}) is None  # MD: conventions coincide
    assert explained.find("estimate", {"measure": "SMD", "conventions": ["revman", "revman"], **m}) is None  # same convention: must agree
    assert explained.find("df", {"measure": "SMD", "conventions": ["revman", "metafor"], **m}) is None  # df is not covered
    assert explained.find("yi[Edinburgh]", {"measure": "SMD", "conventions": ["revman", "metafor"], **m}) is not None  # glob
    # conditioned on the metafor releases it was checked with: an unknown or later release is not explained
    assert explained.find("estimate", {"measure": "SMD", "conventions": ["metafor", "revman"]}) is None
    assert explained.find("estimate", {"measure": "SMD", "conventions": ["metafor", "revman"], "metafor": "5.1-0"}) is None
    for release in ("3.8-1", "4.8-0", "5.0-1"):
        assert explained.find("estimate", {"measure": "SMD", "conventions": ["metafor", "revman"], "metafor": release}) is not None


def test_size_bound_is_part_of_the_explanation():
    ctx = {"measure": "SMD", "conventions": ["revman", "metafor"], "metafor": "3.8-1"}
    assert explained.find("se", ctx, abs_diff=0.01, rel_diff=0.02) is not None
    assert explained.find("se", ctx, abs_diff=0.2, rel_diff=0.2) is None  # 20%: not this cause
    rec = Record("se", 0.30, 0.20, 0.10, 0.5, CLOSED, "differ")
    assert explained.explain(ctx, rec) is None
    rec = Record("se", 0.2582766, 0.2592186, 9.4e-4, 3.6e-3, CLOSED, "differ")
    why = explained.explain(ctx, rec)
    assert why.startswith("smd-revman-vs-metafor:") and "0.0036 relative" in why


@pytest.mark.parametrize("fixture", ["normand1999", "gibson2002"])
def test_smd_revman_vs_metafor_still_holds(r_engine, fixtures_dir, fixture):
    """On real data: RevMan's SMD and metafor's (run in R) differ -- not by rounding --
    and every covered quantity stays within the entry's bound."""
    entry = next(e for e in explained.load() if e.id == "smd-revman-vs-metafor")
    from harness.data import read_csv

    ds = read_csv(fixtures_dir / fixture / "data.csv")
    x = {r: ds.numeric(r) for r in ROLES}
    st = revman.study_effects("SMD", *(x[r] for r in ROLES))
    biggest = 0.0
    for method, model in (("FE", "fixed"), ("DL", "random")):
        call = r_engine.call("mh_rma", data=x, mods={}, measure="SMD", vtype="LS", method=method, test="z", level=95.0,
                             intercept=True, threshold=1e-12, maxiter=1000)
        assert call.error is None
        v = call.value
        p = revman.pool(st.yi, st.sei, model)
        pairs = {"yi": (st.yi, v["yi"]), "sei": (st.sei, np.sqrt(v["vi"])), "estimate": (p.estimate, v["beta"]), "se": (p.se, v["se"]),
                 "ci_lb": (p.ci_lb, v["ci_lb"]), "ci_ub": (p.ci_ub, v["ci_ub"]), "z": (p.z, v["zval"]), "chi2": (p.chi2, v["QE"]), "tau2": (p.tau2, v["tau2"])}
        for name, (a, b) in pairs.items():
            a, b = np.atleast_1d(np.asarray(a, float)), np.atleast_1d(np.asarray(b, float))
            for ai, bi in zip(a, b):
                ad = abs(ai - bi)
                rd = ad / abs(bi) if bi != 0 else (0.0 if ad == 0 else math.inf)
                if ad == 0:
                    continue
                assert entry.within(ad, rd), f"{fixture} {method} {name}: {ai} vs {bi} exceeds the entry's bound"
                if name == "sei":
                    biggest = max(biggest, rd)
    assert biggest > 1e-4  # the difference is real (SEs differ by far more than rounding)


def test_verify_reports_revman_vs_metafor_smd_as_explained(r_engine, fixtures_dir):
    fx = load_fixture(fixtures_dir / "published" / "verify" / "normand1999.spec.toml")
    spec = next(a for a in fx.analyses if a.id == "normand1999-revman-vs-metafor-SMD-random")
    kind = KINDS[spec.kind]
    spec = follow_engine(spec, r_engine.versions())  # as verify does: the run's releases reach the registry
    cmp = compare_outcomes(kind, spec, kind.run_python(spec), kind.run_r(spec, r_engine))
    verdicts = {r.name: r.verdict for r in cmp.records}
    assert verdicts["estimate"] == "explained" and verdicts["se"] == "explained"
    assert verdicts["k"] == "agree" and verdicts["df"] == "agree"
    assert "differ" not in verdicts.values()
    est = next(r for r in cmp.records if r.name == "estimate")
    # stats-reference.md 1.2 [verified]: RevMan SMD DL -0.5293, metafor SMD DL -0.5307
    assert round(est.python, 4) == -0.5293 and round(est.r, 4) == -0.5307
    assert "smd-revman-vs-metafor" in est.explanation


def test_reads_names_the_entries_measures():
    """``reads``: whether an entry covering a quantity conditions on (or bounds by) a context key."""
    from harness.compare.explained import Explanation, reads

    e = Explanation("x", ("R2", "beta*"), {"kind": "rma", "tau2_re_over_threshold": "<= 1"}, 1.0, 0.0, "c", "r", "2 * eps * vi_ratio^2")
    assert e.measures() == {"kind", "tau2_re_over_threshold", "vi_ratio"}
    assert reads("R2", "tau2_re_over_threshold", [e]) and reads("beta[x1]", "vi_ratio", [e])
    assert not reads("QE", "tau2_re_over_threshold", [e]) and not reads("R2", "explicit_p_scale", [e])
    assert reads("R2", "tau2_re_over_threshold") and not reads("QE", "tau2_re_over_threshold")  # the registry's entries
