"""The shared RevMan-layout forest plot (harness.reports.forest): numbers as RevMan prints
them, every element of the layout in the SVG text and in the matplotlib figure, two series."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

from harness.reports import forest as F


# ---- RevMan's printed number formats --------------------------------------------------------
@pytest.mark.parametrize("p, text", [
    # RevMan 5 prints P with two decimals, one significant digit below 0.01, and "P < 0.00001"
    (0.26, "P = 0.26"), (0.0114, "P = 0.01"), (0.05, "P = 0.05"), (1.0, "P = 1.00"), (0.999, "P = 1.00"),
    (0.0037617, "P = 0.004"), (0.00062, "P = 0.0006"), (0.000041, "P = 0.00004"),
    (0.0000099, "P < 0.00001"), (4.98e-7, "P < 0.00001"), (0.0, "P < 0.00001"),
    (0.0096, "P = 0.01"), (0.00096, "P = 0.001"),  # rounds up to the next power of ten: fewer decimals
])
def test_p_values_as_revman_prints_them(p, text):
    assert F.p_text(p) == text


def test_heterogeneity_overall_and_subgroup_lines_of_a_cochrane_review():
    """Inputs: RevMan 5.2's stored results of Cochrane review CD000023.pub4 (antibiotics for sore
    throat), analysis 1.2 (RR, M-H random effects, two subgroups) -- attributes TAU2, CHI2, DF,
    P_CHI2, I2, Z, P_Z of its DICH_OUTCOME and DICH_SUBGROUP, and Q, P_Q, I2_Q of the subgroup test.
    Expected: the lines as RevMan prints them under that forest plot (its conventions written out)."""
    total = F.heterogeneity_text(0.059731301081404224, 85.89349711132378, 14, 2.2503110486127298e-12, 83.70074514272594)
    assert total == "Heterogeneity: Tau² = 0.06; Chi² = 85.89, df = 14 (P < 0.00001); I² = 84%"
    assert F.overall_text(5.026986218157962, 4.982481461166904e-7) == "Test for overall effect: Z = 5.03 (P < 0.00001)"
    sub2 = F.heterogeneity_text(0.048244528589001676, 11.165746963243418, 2, 0.0037617472230083715, 82.08807698594809)
    assert sub2 == "Heterogeneity: Tau² = 0.05; Chi² = 11.17, df = 2 (P = 0.004); I² = 82%"
    assert F.overall_text(1.6203512572130154, 0.10515684405323374) == "Test for overall effect: Z = 1.62 (P = 0.11)"
    test = F.subgroup_test_text(1.3050116683610775, 1, 0.2532999343178899, 23.37233265846059)
    assert test == "Test for subgroup differences: Chi² = 1.31, df = 1 (P = 0.25), I² = 23.4%"
    # analysis 1.1 of the same review: no subgroups, the subgroup test's I² is 0
    assert F.subgroup_test_text(0.0, 1, 1.0, 0.0) == "Test for subgroup differences: Chi² = 0.00, df = 1 (P = 1.00), I² = 0%"


def test_fixed_effect_one_study_negative_z_and_t_tests():
    # fixed effect: RevMan prints no Tau²
    assert F.heterogeneity_text(None, 5.31, 4, 0.2570, 24.67) == "Heterogeneity: Chi² = 5.31, df = 4 (P = 0.26); I² = 25%"
    # I² = 0 when Q < df, printed as a whole number
    assert F.heterogeneity_text(0.0, 2.1, 4, 0.717, 0.0) == "Heterogeneity: Tau² = 0.00; Chi² = 2.10, df = 4 (P = 0.72); I² = 0%"
    # one study: no heterogeneity test
    assert F.heterogeneity_text(None, None, 0, None, None) == "Heterogeneity: Not applicable"
    assert F.heterogeneity_text(None, 0.0, 0, None, None) == "Heterogeneity: Not applicable"
    # RevMan prints |Z|
    assert F.overall_text(-2.53, 0.0114) == "Test for overall effect: Z = 2.53 (P = 0.01)"
    assert F.overall_text(None, None) == "Test for overall effect: Not applicable"
    # a t test (Knapp-Hartung, RVE) names its statistic and df
    assert F.overall_text(2.1, 0.0647, stat="t", df=9.3137) == "Test for overall effect: t = 2.10, df = 9.31 (P = 0.06)"
    assert F.measure_name("MD") == "Mean Difference" and F.measure_name("Std. Mean Difference") == "Std. Mean Difference"


# ---- a hand-made subgroup plot ---------------------------------------------------------------------
def _iv_pool(yi, sei):
    """Inverse-variance fixed effect (Deeks & Higgins 2010): w = 1/se², θ = Σwθ/Σw, se = 1/√Σw, Q = Σw(θi-θ)²."""
    w = 1 / np.asarray(sei) ** 2
    est = float(np.sum(w * yi) / np.sum(w))
    se = 1 / math.sqrt(np.sum(w))
    q = float(np.sum(w * (np.asarray(yi) - est) ** 2))
    return est, se, q, w


GROUPS = {"Adults": [("Arnold 1999", 0.40, 0.20), ("Baker 2003", 0.15, 0.25), ("Chen 2010", 0.55, 0.30)],
          "Children": [("Dahl 2001", -0.10, 0.22), ("Evans 2005", 0.05, 0.18), ("Fox 2012", -0.30, 0.35)]}


def subgroup_plot(series=None, shift=0.0):
    all_y = [y + shift for g in GROUPS.values() for _, y, _ in g]
    all_s = [s for g in GROUPS.values() for _, _, s in g]
    tot_est, tot_se, tot_q, w_all = _iv_pool(all_y, all_s)
    groups, qs = [], []
    for i, (title, rows) in enumerate(GROUPS.items()):
        y = np.array([r[1] for r in rows]) + shift
        s = np.array([r[2] for r in rows])
        est, se, q, w = _iv_pool(y, s)
        qs.append(q)
        studies = [F.ForestStudy(lab, yy, yy - 1.96 * ss, yy + 1.96 * ss, weight=100 * ww / w_all.sum(), columns=(f"{20 + j}", f"{21 + j}"))
                   for j, ((lab, _, _), yy, ss, ww) in enumerate(zip(rows, y, s, w))]
        sub = F.ForestPooled("Subtotal (95% CI)", est, est - 1.96 * se, est + 1.96 * se, weight=100 * w.sum() / w_all.sum(),
                             heterogeneity=F.heterogeneity_text(None, q, 2, 0.5, max(0, (q - 2) / q) * 100 if q else 0),
                             overall=F.overall_text(est / se, 0.05))
        groups.append(F.ForestGroup(f"1.1.{i + 1} {title}", studies, sub))
    q_between = tot_q - sum(qs)
    total = F.ForestPooled("Total (95% CI)", tot_est, tot_est - 1.96 * tot_se, tot_est + 1.96 * tot_se, weight=100.0,
                           heterogeneity=F.heterogeneity_text(None, tot_q, 5, 0.3, 10.0), overall=F.overall_text(tot_est / tot_se, 0.02))
    return F.ForestPlot(groups, total, F.subgroup_test_text(q_between, 1, 0.04, 76.4), measure="MD", model="IV, Fixed",
                        favours=("Favours exercise", "Favours usual care"), column_headers=("Exercise\nTotal", "Usual care\nTotal"),
                        title="Analysis 1.1 Pain", series=series)


def svg_texts(svg: str) -> list[str]:
    import html

    return [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def axis_ticks(svg: str) -> list[str]:
    """The tick labels: the numbers centred on one line (the axis)."""
    rows: dict = {}
    for y, t in re.findall(r'<text x="[^"]*" y="([^"]*)" text-anchor="middle">(-?[\d.]+)</text>', svg):
        rows.setdefault(y, []).append(t)
    return max(rows.values(), key=len)


def test_subgroup_plot_has_every_revman_element_in_its_svg():
    plot = subgroup_plot()
    svg = F.to_svg(plot)
    texts = svg_texts(svg)
    joined = "\n".join(texts)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    for t in ("Study or Subgroup", "Weight", "Mean Difference", "IV, Fixed, 95% CI", "Exercise", "Usual care",
              "1.1.1 Adults", "1.1.2 Children", "Arnold 1999", "Fox 2012", "Total (95% CI)",
              "Favours exercise", "Favours usual care", "Analysis 1.1 Pain", "100.0%"):
        assert t in texts, t
    assert texts.count("Subtotal (95% CI)") == 2
    assert sum(t.startswith("Heterogeneity: Chi² = ") for t in texts) == 3  # two subtotals and the total
    assert sum(t.startswith("Test for overall effect: Z = ") for t in texts) == 3
    assert sum(t.startswith("Test for subgroup differences: Chi² = ") and t.endswith("I² = 76.4%") for t in texts) == 1
    # order of the rows as RevMan prints them
    order = [joined.index(s) for s in ("1.1.1 Adults", "Arnold 1999", "Subtotal (95% CI)", "1.1.2 Children", "Fox 2012", "Total (95% CI)", "Test for subgroup differences")]
    assert order == sorted(order)
    # the estimate column: "0.40 [0.01, 0.79]" for Arnold 1999 (0.40 ± 1.96 × 0.20)
    assert "0.40 [0.01, 0.79]" in texts
    # six squares (one path of rectangles), three diamonds, a linear axis symmetric about 0
    squares = re.findall(r'<path d="([^"]*)" fill="#1f4e99"/>', svg)
    assert len(squares) == 1 and squares[0].count("z") == 6
    assert len(re.findall(r'<path d="M[^"]*L[^"]*L[^"]*L[^"]*Z" fill="#000000"/>', svg)) == 3
    # Chen 2010's upper limit 0.55 + 1.96 x 0.30 = 1.14 is beyond 1: the next symmetric scale, 2
    assert axis_ticks(svg) == ["-2", "-1", "0", "1", "2"]
    # compact: no fonts embedded, coordinates with at most one decimal
    assert "@font-face" not in svg and "<defs" not in svg
    assert not re.search(r'="[^"]*\d\.\d\d', svg)


def test_the_matplotlib_figure_draws_the_same_elements():
    from matplotlib.figure import Figure

    plot = subgroup_plot()
    fig = F.draw(plot)
    assert isinstance(fig, Figure)
    fig_texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert fig_texts == sorted(t for t in svg_texts(F.to_svg(plot)) if t)
    w, h = fig.get_size_inches()
    assert 6 < w < 14 and 4 < h < 12
    # a matplotlib figure as compact SVG too
    svg = F.to_svg(fig)
    assert svg.startswith("<svg") and "Subtotal (95% CI)" in svg and "<!--" not in svg


def test_log_scale_for_ratio_measures_and_clipped_cis():
    st = [F.ForestStudy("A", 0.5, 0.3, 0.9, 40.0), F.ForestStudy("B", 1.4, 0.9, 2.1, 45.0),
          F.ForestStudy("C", 0.8, 0.001, 600.0, 15.0), F.ForestStudy("D", None, None, None, columns=("0/20", "0/22"))]
    plot = F.ForestPlot([F.ForestGroup(None, st)], F.ForestPooled("Total (95% CI)", 0.85, 0.62, 1.15, 100.0), measure="RR", log_scale=True)
    svg = F.to_svg(plot)
    texts = svg_texts(svg)
    # symmetric about 1 on a log axis. The estimates reach |log10 0.5| = 0.30; a CI is allowed three
    # times that (0.90) before it is clipped, so C's 0.001 to 600 is clipped and the scale is 0.1 to 10
    assert axis_ticks(svg) == ["0.1", "0.2", "0.5", "1", "2", "5", "10"]
    assert "Risk Ratio" in texts and "Not estimable" in texts and "0/20" in texts
    # study C's CI leaves the axis on both sides: an arrow at each end (triangles in the CI's colour)
    assert len(re.findall(r'<path d="M[^"]*L[^"]*L[^"]*Z" fill="#000000"/>', svg)) == 1 + 2  # the diamond and two arrows


def test_total_events_row_under_a_dichotomous_pooled_row():
    """RevMan prints, under each dichotomous subtotal and total, a "Total events" row with the events per group in
    the events columns (the pooled row itself carries the totals of participants)."""
    st = [F.ForestStudy("A", 0.5, 0.3, 0.9, 40.0, columns=("12", "100", "20", "98")),
          F.ForestStudy("B", 0.8, 0.5, 1.2, 60.0, columns=("30", "150", "41", "152"))]
    total = F.ForestPooled("Total (95% CI)", 0.7, 0.5, 0.95, 100.0, columns=("", "250", "", "250"), events=("42", "", "61", ""))
    plot = F.ForestPlot([F.ForestGroup(None, st)], total, measure="RR", log_scale=True,
                        column_headers=("Treatment\nEvents", "\nTotal", "Control\nEvents", "\nTotal"))
    texts = svg_texts(F.to_svg(plot))
    assert texts.count("Total events") == 1 and "42" in texts and "61" in texts and "250" in texts
    assert texts.index("Total (95% CI)") < texts.index("Total events")
    assert F.from_dict(F.to_dict(plot)) == plot
    assert "Total events" not in svg_texts(F.to_svg(F.ForestPlot([F.ForestGroup(None, st)], F.ForestPooled("Total (95% CI)", 0.7, 0.5, 0.95))))


def test_two_series_side_by_side_with_a_legend_naming_them():
    a = subgroup_plot(series="RevMan")
    b = subgroup_plot(series="recomputed")
    svg = F.to_svg(a, b)
    texts = svg_texts(svg)
    assert "RevMan" in texts and "recomputed" in texts  # the legend names exactly the two series drawn
    assert "Weight" in texts and texts.count("Weight") == 2  # a weight column per series
    assert len(re.findall(r"<circle ", svg)) == 6 + 1  # six studies of the second series, one legend marker
    assert not any(t.startswith("≠") for t in texts)  # identical numbers: nothing marked
    assert sum(t.startswith("Heterogeneity:") for t in texts) == 3  # same text for both: printed once
    # a shifted second series: every row differs, and the lines are printed for each series, named
    c = subgroup_plot(shift=0.01)
    texts = svg_texts(F.to_svg(a, c, labels=("Python", "metafor")))
    assert "Python" in texts and "metafor" in texts
    assert sum(t.startswith("≠ ") and not t.startswith("≠ :") for t in texts) == 6 + 3  # six studies, two subtotals, the total
    assert any(t.startswith("≠ : the two series differ") for t in texts)
    assert sum(t.startswith("metafor: Test for overall effect") for t in texts) == 3
    with pytest.raises(ValueError, match="same groups and studies"):
        F.draw(a, F.ForestPlot([F.ForestGroup(None, a.studies[:2])]))


def test_plain_dict_round_trip():
    plot = subgroup_plot()
    d = F.to_dict(plot)
    import json

    assert F.from_dict(json.loads(json.dumps(d))) == plot


def test_rows_marked_by_the_callers_own_comparison():
    """``differs`` on a row decides its "≠" over ``differ_rtol``: a caller that compared the two series
    with each number's own tolerance (the audit: RevMan's stored precision) marks exactly those rows."""
    a = subgroup_plot(series="RevMan")
    b = subgroup_plot(series="recomputed", shift=0.01)  # every row differs by 0.01 (relative > 1e-6)
    from dataclasses import replace

    def flag(plot, which):  # which study rows the caller's comparison found different
        groups = [replace(g, studies=tuple(replace(s, differs=s.label in which) for s in g.studies), subtotal=replace(g.subtotal, differs=False))
                  for g in plot.groups]
        return replace(plot, groups=tuple(groups), overall=replace(plot.overall, differs=False))

    texts = svg_texts(F.to_svg(flag(a, {"Baker 2003"}), flag(b, {"Baker 2003"}), differ_rtol=None))
    assert [t for t in texts if t.startswith("≠ ") and not t.startswith("≠ :")] == ["≠ Baker 2003"]
    assert not any(t.startswith("≠ :") for t in texts)  # with differ_rtol=None the caller's notes say what ≠ means
    # identical numbers, one row flagged by the caller: marked all the same
    texts = svg_texts(F.to_svg(flag(a, {"Fox 2012"}), subgroup_plot(series="recomputed"), differ_rtol=None))
    assert [t for t in texts if t.startswith("≠ ") and not t.startswith("≠ :")] == ["≠ Fox 2012"]
    # unflagged rows (None) keep the relative threshold
    texts = svg_texts(F.to_svg(a, b))
    assert sum(t.startswith("≠ ") and not t.startswith("≠ :") for t in texts) == 6 + 3


def test_a_long_title_widens_the_plot_rather_than_being_cut_off():
    """RevMan's caption of a real review (CD000023, analysis 1.2) is wider than its plot."""
    title = ("Analysis 1.2. Comparison 1 Antibiotics versus placebo for the treatment of sore throats: symptom of sore throat, "
             "Outcome 2 Symptom of sore throat on Day 3 stratified by blinding")
    short = F.to_svg(subgroup_plot())
    long = F.to_svg(F.ForestPlot(**{**{f: getattr(subgroup_plot(), f) for f in ("groups", "overall", "subgroup_test", "measure", "favours")}, "title": title}))
    width = lambda svg: float(re.search(r'viewBox="0 0 ([\d.]+) ', svg).group(1))  # noqa: E731
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    # the title's advance in bold DejaVu Sans at 10 pt, from matplotlib's font metrics, fits inside the SVG
    title_pt = TextToPath().get_text_width_height_descent(title, FontProperties(family="DejaVu Sans", weight="bold", size=10), ismath=False)[0]
    assert width(long) > width(short) and width(long) >= 0.08 * 72 + title_pt


# ---- fit.forest() from the Python API -----------------------------------------------------------
YI = [0.10, 0.30, 0.35, 0.65, 0.45, 0.15]
VI = [0.03, 0.02, 0.05, 0.01, 0.04, 0.025]


def _texts(fig):
    return [t.get_text() for t in fig.axes[0].texts]


@pytest.mark.r
def test_fit_forest_draws_the_fit_as_metafor_computes_it(r_engine):
    """fit.forest(): a matplotlib Figure through the shared forest module; the pooled row and the
    lines under it carry R's numbers (metafor rma.uni, REML, run here), printed as RevMan prints them."""
    import harness
    from matplotlib.figure import Figure

    fit = harness.rma(YI, VI, method="REML", slab=list("ABCDEF"))
    fig = fit.forest(measure="SMD", favours=("Favours A", "Favours B"))
    assert isinstance(fig, Figure)
    texts = _texts(fig)
    r = r_engine.call("mh_rma", data={"yi": YI, "vi": VI}, measure="GEN", method="REML").value
    b, lb, ub = (float(np.asarray(r[k]).ravel()[0]) for k in ("beta", "ci_lb", "ci_ub"))
    assert f"{b:.2f} [{lb:.2f}, {ub:.2f}]" in texts and "Total (95% CI)" in texts
    tau2, qe, qep, i2 = (float(np.asarray(r[k]).ravel()[0]) for k in ("tau2", "QE", "QEp", "I2"))
    assert F.heterogeneity_text(tau2, qe, 5, qep, i2) in texts
    z, p = (float(np.asarray(r[k]).ravel()[0]) for k in ("zval", "pval"))
    assert F.overall_text(z, p) in texts
    assert {"A", "F", "Favours A", "Favours B", "prediction interval", "Std. Mean Difference"} <= set(texts)
    # a fixed-effect model: no Tau², no prediction interval; a Knapp-Hartung test prints t with df = k - 1
    fe = _texts(harness.rma(YI, VI, method="FE").forest())
    assert any(t.startswith("Heterogeneity: Chi² = ") for t in fe) and "prediction interval" not in fe
    kh = _texts(harness.rma(YI, VI, method="REML", test="knha").forest())
    assert any(t.startswith("Test for overall effect: t = ") and ", df = 5 (" in t for t in kh)
    # log ratios: drawn exponentiated on a log axis
    lg = _texts(harness.rma(YI, VI, method="REML").forest(log_scale=True, measure="RR"))
    assert f"{math.exp(b):.2f} [{math.exp(lb):.2f}, {math.exp(ub):.2f}]" in lg and "Risk Ratio" in lg


def test_robu_forest_draws_the_pooled_estimate_or_the_coefficients():
    import warnings

    import harness

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = harness.robu(YI, VI, [1, 1, 2, 3, 3, 4])
        reg = harness.robu(YI, VI, [1, 1, 2, 3, 3, 4], mods=np.array([1.0, 2, 1, 3, 2, 1]), coef_names=["dose"])
    texts = _texts(fit.forest(YI, VI, slab=list("abcdef")))
    assert "Total (95% CI)" in texts and "a" in texts
    assert any(t.startswith("Test for overall effect: t = ") for t in texts) and any(t.startswith("Heterogeneity: Tau² = ") for t in texts)
    coef = _texts(reg.forest())
    assert "Coefficient" in coef and "dose" in coef
