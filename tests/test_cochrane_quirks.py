"""RevMan's quirks as explained differences, convention presets, input lint and the audit command (issue 10)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness.cli import main
from harness.cochrane import quirks, read_review
from harness.cochrane.lint import grim_consistent, lint_analysis
from harness.cochrane.presets import PRESETS, get_preset
from harness.cochrane.reverify import RM5_TOL, reverify_review
from harness.cochrane.rm5 import Analysis, Row, Subgroup
from harness.compare import explained
from harness.errors import InputError

DATA = Path(__file__).resolve().parent / "data" / "cochrane"


# --------------------------------------------------------------------------- quirks


def test_every_quirk_is_registered_in_the_explained_registry():
    reg = {e.id: e for e in explained.load()}
    for q in quirks.QUIRKS:
        assert q.id in reg, q.id
        assert reg[q.id].when.get("source") == "revman5"


def test_abs_z_explains_only_the_sign():
    ctx = {"df": 2, "fmt": "rm5", "tol": RM5_TOL}
    assert quirks.explain("overall.Z", 2.5840569706085095, -2.5840569706085095, ctx).startswith("revman-abs-z")
    assert quirks.explain("overall.Z", 2.6, -2.5840569706085095, ctx) is None  # wrong size: not a quirk
    assert quirks.explain("overall.Z", 2.58, 2.50, ctx) is None  # positive Z: nothing to explain


def test_chi2_p_approximation_is_bounded():
    ctx = {"df": 6, "fmt": "rm5", "tol": RM5_TOL}
    # Fleiss1993.rm5 CMP-001.01: CHI2 9.946055983220074, df 6; RevMan P_CHI2 0.1269422521561745;
    # exact: R pchisq(9.946055983220074, 6, lower.tail=FALSE) = 0.12694217790629495 (5.8e-7 relative)
    exact = 0.12694217790629495
    assert quirks.explain("overall.P_CHI2", 0.1269422521561745, exact, ctx).startswith("revman-chi2-p-approximation")
    assert quirks.explain("overall.P_CHI2", exact * 1.001, exact, ctx) is None  # 1e-3 relative: a real difference
    assert quirks.explain("overall.P_Z", 0.1269422521561745, exact, ctx) is None  # normal p-values are exact in RevMan
    # tiny p: RevMan's value may be 0 or negative when the exact p is < 1e-10
    assert quirks.explain("overall.P_CHI2", -1e-13, 3e-15, ctx).startswith("revman-chi2-p-tiny")


def test_one_study_quirks_need_df_zero():
    assert quirks.explain("subgroup[2: B].I2", 99.99999999999999, math.nan, {"df": 0, "fmt": "rm5", "tol": RM5_TOL}).startswith("revman-one-study-i2")
    assert quirks.explain("subgroup[2: B].I2", 99.99999999999999, 40.0, {"df": 3, "fmt": "rm5", "tol": RM5_TOL}) is None


# --------------------------------------------------------------------------- presets


def test_presets_and_unknown_name():
    assert set(PRESETS) == {"revman5", "revman-web-2025", "metafor"}
    web = get_preset("RevMan-Web")
    assert (web.random_method, web.test, web.prediction, web.i2_from) == ("REML", "knha", True, "tau2")
    with pytest.raises(InputError, match="unknown preset"):
        get_preset("stata")


@pytest.mark.r
@pytest.mark.parametrize("preset", ["revman-web-2025", "metafor"])
def test_rerun_under_another_preset_engines_agree(r_engine, preset):
    audit = reverify_review(read_review(DATA / "handmade.rm5"), r_engine, preset)
    a = next(x for x in audit.analyses if x.id == "CMP-001.02")  # SMD, random effects
    assert a.status == "re-verified" and a.ok, [(c.name, c.python, c.r) for c in a.checks if c.verdict != "agree"]
    byname = {c.name: c for c in a.checks}
    # REML tau2 is not RevMan's DL tau2 (stored 0.16440521876644615): the preset changes the result
    assert byname["overall.TAU2"].revman == pytest.approx(0.16440521876644615)
    assert abs(byname["overall.TAU2"].python - byname["overall.TAU2"].revman) > 1e-4
    assert {"overall.PI_START", "overall.PI_END"} <= set(byname)
    assert byname["overall.PI_START"].python < byname["overall.CI_START"].python
    md = next(x for x in audit.analyses if x.id == "CMP-001.01")  # fixed effect
    names = {c.name for c in md.checks}
    if preset == "revman-web-2025":
        assert "overall.PI_START" not in names  # a fixed-effect analysis stays fixed: no prediction interval
        assert next(c for c in md.checks if c.name == "overall.EFFECT_SIZE").python == pytest.approx(-25 / 26, rel=1e-12)


# --------------------------------------------------------------------------- lint


def _row(name, m1, sd1, n1, m2, sd2, n2, line, raw=None):
    x = dict(MEAN_1=m1, SD_1=sd1, TOTAL_1=n1, MEAN_2=m2, SD_2=sd2, TOTAL_2=n2)
    return Row(f"STD-{name}", name, None, x, {}, raw or {k: str(v) for k, v in x.items()}, line)


def _analysis(rows, subgroups=()):
    return Analysis("CMP-009.01", "CONT", "c", "lint test", {"EFFECT_MEASURE": "MD"}, {}, {}, rows=list(rows), subgroups=list(subgroups))


def codes(findings):
    return sorted((f.study, f.code) for f in findings)


def test_lint_sd_like_se_zero_sd_small_n_and_duplicates():
    rows = [
        _row("A", 10, 5.0, 30, 11, 5.2, 30, 1),
        _row("B", 10, 4.8, 40, 11, 5.1, 40, 2),
        # SD 0.9 with n = 36: SD*sqrt(n) = 5.4, beside a median SD of about 5: a standard error
        _row("C", 10, 0.9, 36, 11, 5.0, 36, 3),
        _row("D", 10, 0.0, 1, 11, -1.0, 20, 4),
        _row("A", 12, 5.0, 30, 11, 5.2, 30, 5),  # same study id again
        _row("E", 10, 5.0, 30, 11, 5.2, 30, 6),  # inputs identical to A
    ]
    got = codes(lint_analysis(_analysis(rows)))
    assert ("C", "sd-looks-like-se") in got
    assert got.count(("D", "sd-not-positive")) == 2 and ("D", "n-below-2") in got
    assert ("A", "duplicate-study") in got and ("E", "duplicate-study") in got
    assert not any(s in ("B",) for s, _ in got)


def test_grim_only_when_declared_integer():
    # mean 3.45 with n = 10 at 2 decimals: totals 34 -> 3.40 and 35 -> 3.50; 3.45 is impossible
    assert not grim_consistent(3.45, 10, 2)
    assert grim_consistent(3.40, 10, 2)
    # 17 participants: 58/17 = 3.41176... rounds to 3.41 (possible)
    assert grim_consistent(3.41, 17, 2)
    rows = [_row("A", 3.45, 1.0, 10, 3.4, 1.0, 10, 1, raw={"MEAN_1": "3.45", "MEAN_2": "3.40"})]
    assert codes(lint_analysis(_analysis(rows), integer_scale=True)) == [("A", "grim")]
    assert lint_analysis(_analysis(rows)) == []
    # n >= 10^decimals: every mean is possible, no finding
    big = [_row("A", 3.45, 1.0, 120, 3.4, 1.0, 120, 1, raw={"MEAN_1": "3.45", "MEAN_2": "3.40"})]
    assert lint_analysis(_analysis(big), integer_scale=True) == []


def test_lint_duplicates_are_per_subgroup():
    sg1 = Subgroup("s1", "1", "one", {}, {}, rows=[_row("A", 1, 1, 10, 2, 1, 10, 1)])
    sg2 = Subgroup("s2", "2", "two", {}, {}, rows=[_row("A", 1, 1, 10, 2, 1, 10, 2)])
    assert lint_analysis(_analysis([], [sg1, sg2])) == []  # the same study in two subgroups is legitimate


# --------------------------------------------------------------------------- the command


@pytest.mark.r
def test_metaharness_audit_on_review_files(r_engine, tmp_path, capsys):
    out = tmp_path / "audit.json"
    rc = main(["audit", str(DATA / "handmade_CR.csv"), "--json", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "1.2" in text and "re-verified" in text and "not re-verified" in text
    doc = json.loads(out.read_text(encoding="utf-8"))
    f = doc["files"][0]
    assert f["kind"] == "cochrane-review" and f["summary"]["re_verified"] == 2 and f["summary"]["differing"] == 0
    # the .rm5 holds a malformed analysis: exit status 1, and the message names it
    rc = main(["audit", str(DATA / "handmade.rm5")])
    text = capsys.readouterr().out
    assert rc == 1 and "CMP-001.07" in text and "MEAN_2" in text
    rc = main(["audit", str(DATA / "handmade.rm5"), "--preset", "revman-web-2025"])
    text = capsys.readouterr().out
    assert "change under RevMan Web 2025" in text
