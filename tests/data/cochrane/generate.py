"""Write the hand-made RevMan test files (run: python generate.py).

Plain arithmetic only (math + statistics from the standard library; nothing
from metaharness), following RevMan 5's published algorithms (Deeks &
Higgins 2010) and RevMan's storage conventions as observed in RevMan's own
files (Fleiss1993.rm5 / Fleiss1993_CR.csv, RevMan 5.0; the Cochrane review
antibiotics-for-sore-throat.rm5, RevMan 5.2):

* |Z| stored without its sign;
* chi-squared p-values carry RevMan's approximation error: here emulated as
  a relative perturbation of +6e-7 (Fleiss1993.rm5 shows +5.8e-7);
* a one-study subgroup gets CHI2 = 0, DF = 0, P_CHI2 = 1, I2 = 99.99999999999999;
* the CSV export prints 8 decimals with trailing zeros dropped ("-0.5", "100").

Files:

``handmade.rm5``, ``handmade_CR.csv``
    MD fixed, SMD random with subgroups and a 99% total, a dichotomous (RR
    Mantel-Haenszel fixed), a generic IV (MD) and an O − E analysis (one study
    each for the last two; written by generate_dichotomous.py's functions), and
    analyses that are not re-verified (not computed) or malformed.
``totals.rm5`` (:func:`totals_rm5_text`)
    the same two-subgroup MD random-effects data under TOTALS = YES, SUB (with
    and without the subgroup test) and NO, as RevMan stores them: under SUB
    study weights are percent of their subgroup and each subgroup's weight is
    100; under SUB and NO the undisplayed totals are written as RevMan writes
    hidden results (zeros, WEIGHT 0.0, TAU2 NaN). Then a subgroup test with
    one non-empty subgroup (the other subgroup's studies are not estimable:
    Q = 0, P_Q = 1, I2_Q = 0), a P(Z) that underflows (|Z| = 18.7 stored with
    P_Z = 0.0), and p-values at RevMan's precision (P_Z off by 1.1e-7 relative,
    P_CHI2 off by 2.5e-7 absolute, as RevMan's approximations are).
``precision_CR.csv`` (:func:`precision_csv_text`)
    an export whose values lose their trailing zeros ("-2", "-0.5", "100",
    "0"): analysis 1.1 is right; 1.2 is the same analysis with one weight
    written as "23.1" for the true 23.07692308 (fewer digits and wrong).
``truncated_CR.csv``
    handmade_CR.csv cut inside the line of analysis 1.2 (no final line break).

The files are committed; the tests recompute the key stored values by
written-out arithmetic and re-verify the files end to end.
"""
from __future__ import annotations

import math
from pathlib import Path
from statistics import NormalDist

HERE = Path(__file__).resolve().parent


def _dichotomous_writer():
    """generate_dichotomous.py beside this file (its RevMan arithmetic for 2x2, generic IV and O − E data)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("generate_dichotomous", HERE / "generate_dichotomous.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


GD = _dichotomous_writer()
#: analysis 1.3 (RR, Mantel-Haenszel, fixed effect): (study, year, (events 1, total 1, events 2, total 2))
ADVERSE = [("Adams", "2001", (8, 20, 10, 25)), ("Brown", "2005", (12, 30, 15, 30))]
Z975 = NormalDist().inv_cdf(0.975)
P_APPROX = 1 + 6e-7


def chi2_sf(q, df):
    """Upper tail of chi-squared(df) for integer df >= 1 (closed forms, Abramowitz & Stegun 26.4.4-26.4.5).

    Even df: exp(-q/2) * sum_{k=0}^{df/2-1} (q/2)^k / k!.
    Odd df:  erfc(sqrt(q/2)) + sqrt(2q/pi) exp(-q/2) * sum_{r=1}^{(df-1)/2} q^(r-1) / (1*3*...*(2r-1)).
    """
    if df < 1 or df != int(df):
        raise ValueError(df)
    if df % 2 == 0:
        return math.exp(-q / 2) * sum((q / 2) ** k / math.factorial(k) for k in range(df // 2))
    total, term = 0.0, 1.0
    for r in range(1, (df - 1) // 2 + 1):
        term = 1.0 if r == 1 else term * q / (2 * r - 1)
        total += term
    return math.erfc(math.sqrt(q / 2)) + math.sqrt(2 * q / math.pi) * math.exp(-q / 2) * total


def norm_p(z):
    return math.erfc(abs(z) / math.sqrt(2))


def md(s):
    m1, sd1, n1, m2, sd2, n2 = s
    return m1 - m2, math.sqrt(sd1**2 / n1 + sd2**2 / n2)


def smd(s):
    m1, sd1, n1, m2, sd2, n2 = s
    N = n1 + n2
    sp = math.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / (N - 2))
    g = (m1 - m2) / sp * (1 - 3 / (4 * N - 9))
    return g, math.sqrt(N / (n1 * n2) + g**2 / (2 * (N - 3.94)))


def pool(ys, ses, random, level=95):
    z = NormalDist().inv_cdf(1 - (1 - level / 100) / 2)
    w = [1 / s**2 for s in ses]
    fe = sum(wi * y for wi, y in zip(w, ys)) / sum(w)
    q = sum(wi * (y - fe) ** 2 for wi, y in zip(w, ys))
    df = len(ys) - 1
    t2 = 0.0
    if random and df > 0:
        t2 = max(0.0, (q - df) / (sum(w) - sum(wi**2 for wi in w) / sum(w)))
    ws = [1 / (s**2 + t2) for s in ses]
    est = sum(wi * y for wi, y in zip(ws, ys)) / sum(ws)
    se = 1 / math.sqrt(sum(ws))
    i2 = 99.99999999999999 if df == 0 else (max(0.0, (q - df) / q) * 100 if q > 0 else 0.0)
    p_chi2 = 1.0 if df == 0 else chi2_sf(q, df) * P_APPROX  # RevMan writes P = 1 for df = 0
    return dict(EFFECT_SIZE=est, SE=se, CI_START=est - z * se, CI_END=est + z * se, Z=abs(est / se), P_Z=norm_p(est / se),
                CHI2=q, DF=df, P_CHI2=p_chi2, I2=i2, TAU2=t2, weights=[100 * wi / sum(ws) for wi in ws])


# name, study id, year, (m1, sd1, n1, m2, sd2, n2)
MD_STUDIES = [
    ("Adams 2001", "STD-Adams", "2001", (10.0, 4.0, 20, 12.0, 5.0, 25)),
    ("Brown 2005", "STD-Brown", "2005", (8.5, 3.0, 30, 9.0, 3.0, 30)),
    ("Chen 2010", "STD-Chen", "2010", (7.0, 2.0, 40, 8.0, 2.0, 40)),
]
SMD_SUBGROUPS = [
    ("Short programmes", [
        ("Diaz 2003", "STD-Diaz", "2003", (20.0, 6.0, 15, 24.0, 7.0, 15)),
        ("Evans 2008", "STD-Evans", "2008", (18.0, 5.0, 22, 19.0, 6.0, 20)),
        ("Fischer 2012", "STD-Fischer", "2012", (30.0, 8.0, 35, 36.0, 9.0, 33)),
    ]),
    ("Long programmes", [
        ("Garcia 2015", "STD-Garcia", "2015", (12.0, 4.0, 50, 11.0, 4.5, 48)),
    ]),
]
SMD_LEVEL_TOTAL = 99


def attrs(d):
    return " ".join(f'{k}="{v}"' for k, v in d.items())


def r(x):
    return repr(float(x))


def pooled_attrs(p, weight):
    return {"CHI2": r(p["CHI2"]), "CI_END": r(p["CI_END"]), "CI_START": r(p["CI_START"]), "DF": str(p["DF"]), "EFFECT_SIZE": r(p["EFFECT_SIZE"]),
            "I2": r(p["I2"]), "P_CHI2": r(p["P_CHI2"]), "P_Z": r(p["P_Z"]), "TAU2": r(p["TAU2"]), "WEIGHT": r(weight), "Z": r(p["Z"])}


def study_row(sid, s, y, se, w, order, level=95):
    z = NormalDist().inv_cdf(1 - (1 - level / 100) / 2)
    m1, sd1, n1, m2, sd2, n2 = s
    return ("<CONT_DATA " + attrs({"CI_END": r(y + z * se), "CI_START": r(y - z * se), "EFFECT_SIZE": r(y), "ESTIMABLE": "YES", "MEAN_1": r(m1), "MEAN_2": r(m2),
                                   "ORDER": str(order), "SD_1": r(sd1), "SD_2": r(sd2), "SE": r(se), "STUDY_ID": sid, "TOTAL_1": str(n1), "TOTAL_2": str(n2), "WEIGHT": r(w)}) + "/>")


def build(level_total=SMD_LEVEL_TOTAL):
    # --- analysis 1: MD, fixed effect, no subgroups
    md_eff = [md(s[3]) for s in MD_STUDIES]
    p1 = pool([e[0] for e in md_eff], [e[1] for e in md_eff], random=False)
    a1 = {**pooled_attrs(p1, 100.0), "CI_STUDY": "95", "CI_TOTAL": "95", "EFFECT_MEASURE": "MD", "ESTIMABLE": "YES", "I2_Q": "0.0", "ID": "CMP-001.01",
          "METHOD": "IV", "NO": "1", "P_Q": "0.0", "Q": "0.0", "RANDOM": "NO", "SCALE": "10.0", "SORT_BY": "STUDY", "STUDIES": "3", "SUBGROUPS": "NO",
          "SUBGROUP_TEST": "YES", "TOTALS": "YES", "TOTAL_1": "90", "TOTAL_2": "95", "UNITS": "points"}
    rows1 = [study_row(sid, s, y, se, w, i + 1) for i, ((_, sid, _, s), (y, se), w) in enumerate(zip(MD_STUDIES, md_eff, p1["weights"]))]
    # --- analysis 2: SMD, random effects (DL), two subgroups (one with a single study), 99% CI for totals
    all_s = [st for _, sts in SMD_SUBGROUPS for st in sts]
    eff = [smd(st[3]) for st in all_s]
    p_all = pool([e[0] for e in eff], [e[1] for e in eff], random=True, level=level_total)
    subs, i0 = [], 0
    for name, sts in SMD_SUBGROUPS:
        e = eff[i0:i0 + len(sts)]
        p = pool([x[0] for x in e], [x[1] for x in e], random=True, level=level_total)
        subs.append((name, sts, e, p, p_all["weights"][i0:i0 + len(sts)]))
        i0 += len(sts)
    b = [s[3]["EFFECT_SIZE"] for s in subs]
    sb = [s[3]["SE"] for s in subs]
    wb = [1 / x**2 for x in sb]
    bbar = sum(w * x for w, x in zip(wb, b)) / sum(wb)
    qint = sum(w * (x - bbar) ** 2 for w, x in zip(wb, b))
    a2 = {**pooled_attrs(p_all, 100.0), "CI_STUDY": "95", "CI_TOTAL": str(level_total), "EFFECT_MEASURE": "SMD", "ESTIMABLE": "YES",
          "I2_Q": r(max(0.0, (qint - 1) / qint) * 100 if qint > 0 else 0.0), "ID": "CMP-001.02", "METHOD": "IV", "NO": "2",
          "P_Q": r(chi2_sf(qint, 1) * P_APPROX), "Q": r(qint), "RANDOM": "YES", "SCALE": "5.0", "SORT_BY": "STUDY", "STUDIES": "4",
          "SUBGROUPS": "YES", "SUBGROUP_TEST": "YES", "TOTALS": "YES", "TOTAL_1": "122", "TOTAL_2": "116", "UNITS": ""}
    sub_xml, order = [], 1
    for j, (name, sts, e, p, ws) in enumerate(subs, start=1):
        rows = []
        for (sname, sid, _, s), (y, se), w in zip(sts, e, ws):
            rows.append(study_row(sid, s, y, se, w, order))
            order += 1
        sat = {**pooled_attrs(p, sum(ws)), "ID": f"CMP-001.02.{j:02d}", "NO": str(j), "STUDIES": str(len(sts))}
        sub_xml.append(f"<CONT_SUBGROUP {attrs(sat)}>\n<NAME>{name}</NAME>\n" + "\n".join(rows) + "\n</CONT_SUBGROUP>")
    return p1, md_eff, a1, rows1, p_all, subs, qint, a2, sub_xml


def review_xml(review_id, title, comment, st_xml, comparison, outcomes):
    """A RevMan 5 review file around one comparison's outcomes (as RevMan 5.4 writes the elements read here)."""
    return f"""<?xml version="1.0" encoding="ISO-8859-1" standalone="no"?>
<!-- Hand-made for metaharness tests (tests/data/cochrane/generate.py); {comment}. -->
<COCHRANE_REVIEW DESCRIPTION="" ID="{review_id}" REVMAN_SUB_VERSION="5.4.1" REVMAN_VERSION="5" STAGE="R" STATUS="A" TYPE="INTERVENTION" VERSION_NO="0.1">
<COVER_SHEET>
<TITLE>{title}</TITLE>
</COVER_SHEET>
<STUDIES_AND_REFERENCES>
<STUDIES>
<INCLUDED_STUDIES>
{st_xml}
</INCLUDED_STUDIES>
</STUDIES>
</STUDIES_AND_REFERENCES>
<ANALYSES_AND_DATA CALCULATED_DATA="YES">
<COMPARISON ID="CMP-001" NO="1">
<NAME>{comparison}</NAME>
{outcomes}</COMPARISON>
</ANALYSES_AND_DATA>
</COCHRANE_REVIEW>
"""


def rm5_text():
    p1, md_eff, a1, rows1, p_all, subs, qint, a2, sub_xml = build()
    studies = MD_STUDIES + [st for _, sts in SMD_SUBGROUPS for st in sts] + [("Hall 2018", "STD-Hall", "2018", None), ("Ito 2019", "STD-Ito", "2019", None)]
    st_xml = "\n".join(f'<STUDY DATA_SOURCE="PUB" ID="{sid}" NAME="{name}" YEAR="{year}">\n<REFERENCE PRIMARY="NO" TYPE="JOURNAL_ARTICLE"/>\n</STUDY>' for name, sid, year, _ in studies)
    labels = "<GROUP_LABEL_1>Exercise</GROUP_LABEL_1>\n<GROUP_LABEL_2>Usual care</GROUP_LABEL_2>\n<GRAPH_LABEL_1>Favours exercise</GRAPH_LABEL_1>\n<GRAPH_LABEL_2>Favours usual care</GRAPH_LABEL_2>"
    empty = {k: "" for k in ("CHI2", "CI_END", "CI_START", "EFFECT_SIZE", "I2", "I2_Q", "P_CHI2", "P_Q", "P_Z", "Q", "TAU2", "Z")}
    body = f"""<CONT_OUTCOME {attrs(a1)}>
<NAME>Pain (0-100 scale)</NAME>
{labels}
{chr(10).join(rows1)}
</CONT_OUTCOME>
<CONT_OUTCOME {attrs(a2)}>
<NAME>Function (any scale)</NAME>
{labels}
{chr(10).join(sub_xml)}
</CONT_OUTCOME>
{GD.dich_outcome(3, "Adverse events", "RR", "MH", False, [(None, ADVERSE)])}
{GD.iv_outcome(4, "Pain at 1 year (adjusted)", "MD", False, [("Hall", "2018", -0.2, 0.15)])}
{GD.ipd_outcome(5, "Time to return to work", False, [("Ito", "2019", -1.5, 12.0)])}
<CONT_OUTCOME {attrs({**empty, "CI_STUDY": "95", "CI_TOTAL": "95", "DF": "1", "EFFECT_MEASURE": "SMD", "ESTIMABLE": "YES", "ID": "CMP-001.06", "NO": "6", "RANDOM": "NO", "STUDIES": "2", "SUBGROUPS": "NO", "TOTALS": "YES", "WEIGHT": "99.99999999999999"})}>
<NAME>Quality of life (not computed by RevMan)</NAME>
<CONT_DATA CI_END="" CI_START="" EFFECT_SIZE="" ESTIMABLE="YES" MEAN_1="50.0" MEAN_2="45.0" ORDER="1" SD_1="10.0" SD_2="11.0" SE="" STUDY_ID="STD-Adams" TOTAL_1="20" TOTAL_2="25" WEIGHT=""/>
<CONT_DATA CI_END="" CI_START="" EFFECT_SIZE="" ESTIMABLE="YES" MEAN_1="52.0" MEAN_2="49.0" ORDER="2" SD_1="9.0" SD_2="9.5" SE="" STUDY_ID="STD-Brown" TOTAL_1="30" TOTAL_2="30" WEIGHT=""/>
</CONT_OUTCOME>
<CONT_OUTCOME CHI2="0.1" CI_END="1.0" CI_START="-1.0" CI_STUDY="95" CI_TOTAL="95" DF="1" EFFECT_MEASURE="MD" EFFECT_SIZE="0.0" ESTIMABLE="YES" I2="0.0" ID="CMP-001.07" NO="7" P_CHI2="0.75" P_Z="1.0" RANDOM="NO" STUDIES="2" SUBGROUPS="NO" TAU2="0.0" TOTALS="YES" WEIGHT="100.0" Z="0.0">
<NAME>Sleep (malformed: a study lacks MEAN_2)</NAME>
<CONT_DATA CI_END="2.0" CI_START="-2.0" EFFECT_SIZE="0.0" ESTIMABLE="YES" MEAN_1="5.0" ORDER="1" SD_1="1.0" SD_2="1.0" SE="1.0" STUDY_ID="STD-Adams" TOTAL_1="20" TOTAL_2="25" WEIGHT="50.0"/>
<CONT_DATA CI_END="2.0" CI_START="-2.0" EFFECT_SIZE="0.0" ESTIMABLE="YES" MEAN_1="5.0" MEAN_2="5.0" ORDER="2" SD_1="1.0" SD_2="1.0" SE="1.0" STUDY_ID="STD-Brown" TOTAL_1="30" TOTAL_2="30" WEIGHT="50.0"/>
</CONT_OUTCOME>
"""
    return review_xml("0000000000000000001", "Exercise for chronic back pain (hand-made test review; café)", "not a real review", st_xml,
                      "Exercise versus usual care", body)


HEADER = ["Comparison Number", "Outcome Number", "Subgroup Number", "Name", "Data Type", "Statistical Method", "Effect Measure", "Analysis Model",
          "Events 1", "Mean 1", "SD 1", "Total 1", "Events 2", "Mean 2", "SD 2", "Total 2", "Effect Estimate", "SE", "CI Start", "CI End", "Weight",
          "Q", "P(Q)", "I²(Q)", "Tau²", "Z", "P(Z)", "Qint", "P(Qint)", "I²(Qint)", "df", "Group Label 1", "Group Label 2", "Left Graph Label",
          "Right Graph Label", "Year of study", "User defined order"]


def f8(x):
    """RevMan's export format: 8 decimals, trailing zeros dropped."""
    s = f"{x:.8f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def csv_text():
    """The CSV export of analyses 1 and 2 (printed as RevMan does) and of a dichotomous one (1.3)."""
    p1, md_eff, a1, rows1, p_all, subs, qint, a2, sub_xml = build(level_total=95)  # exports carry no CI level: 95%
    lines = [",".join(HEADER)]

    def line(d):
        return ",".join(d.get(h, "") for h in HEADER)

    def pooled(p, weight, extra):
        return {"Effect Estimate": f8(p["EFFECT_SIZE"]), "CI Start": f8(p["CI_START"]), "CI End": f8(p["CI_END"]), "Weight": f8(weight),
                "Q": f8(p["CHI2"]), "P(Q)": f8(p["P_CHI2"]), "I²(Q)": f8(p["I2"]), "Tau²": f8(p["TAU2"]), "Z": f8(p["Z"]), "P(Z)": f8(p["P_Z"]),
                "df": str(p["DF"]), **extra}

    def study(name, year, s, y, se, w, order):
        m1, sd1, n1, m2, sd2, n2 = s
        return {"Name": name, "Events 1": "0", "Mean 1": f8(m1), "SD 1": f8(sd1), "Total 1": str(n1), "Events 2": "0", "Mean 2": f8(m2), "SD 2": f8(sd2),
                "Total 2": str(n2), "Effect Estimate": f8(y), "SE": f8(se), "CI Start": f8(y - Z975 * se), "CI End": f8(y + Z975 * se), "Weight": f8(w),
                "Year of study": year, "User defined order": str(order)}

    labels = {"Group Label 1": "Exercise", "Group Label 2": "Usual care", "Left Graph Label": "Favours exercise", "Right Graph Label": "Favours usual care"}
    lines.append(line({"Comparison Number": "1", "Outcome Number": "0", "Subgroup Number": "0", "Name": "Exercise versus usual care"}))
    lines.append(line({"Comparison Number": "1", "Outcome Number": "1", "Subgroup Number": "0", "Name": "Pain (0-100 scale)", "Data Type": "CON",
                       "Statistical Method": "IV", "Effect Measure": "MD", "Analysis Model": "Fixed", "Events 1": "0", "Total 1": "90", "Events 2": "0",
                       "Total 2": "95", **pooled(p1, 100.0, {"Qint": "0", "P(Qint)": "0", "I²(Qint)": "0"}), **labels}))
    for i, ((name, _, year, s), (y, se), w) in enumerate(zip(MD_STUDIES, md_eff, p1["weights"]), start=1):
        lines.append(line({"Comparison Number": "1", "Outcome Number": "1", "Subgroup Number": "0", **study(name, year, s, y, se, w, i)}))
    i2q = max(0.0, (qint - 1) / qint) * 100 if qint > 0 else 0.0
    lines.append(line({"Comparison Number": "1", "Outcome Number": "2", "Subgroup Number": "0", "Name": "Function (any scale)", "Data Type": "CON",
                       "Statistical Method": "IV", "Effect Measure": "SMD", "Analysis Model": "Random", "Events 1": "0", "Total 1": "122", "Events 2": "0",
                       "Total 2": "116", **pooled(p_all, 100.0, {"Qint": f8(qint), "P(Qint)": f8(chi2_sf(qint, 1) * P_APPROX), "I²(Qint)": f8(i2q)}), **labels}))
    order = 1
    for j, (name, sts, e, p, ws) in enumerate(subs, start=1):
        lines.append(line({"Comparison Number": "1", "Outcome Number": "2", "Subgroup Number": str(j), "Name": name, **pooled(p, sum(ws), {})}))
        for (sname, _, year, s), (y, se), w in zip(sts, e, ws):
            lines.append(line({"Comparison Number": "1", "Outcome Number": "2", "Subgroup Number": str(j), **study(sname, year, s, y, se, w, order)}))
            order += 1
    eff = [GD.study("RR", "MH", *c) for _, _, c in ADVERSE]
    p3 = GD.pool("RR", "MH", False, eff)
    tot = [sum(c[i] for _, _, c in ADVERSE) for i in range(4)]
    lines.append(line({"Comparison Number": "1", "Outcome Number": "3", "Subgroup Number": "0", "Name": "Adverse events", "Data Type": "DIC",
                       "Statistical Method": "MH", "Effect Measure": "RR", "Analysis Model": "Fixed", "Events 1": str(tot[0]), "Total 1": str(tot[1]),
                       "Events 2": str(tot[2]), "Total 2": str(tot[3]),
                       **pooled({"EFFECT_SIZE": math.exp(p3["theta"]), "CI_START": math.exp(p3["lb"]), "CI_END": math.exp(p3["ub"]), **p3}, 100.0,
                                {"Qint": "0", "P(Qint)": "0", "I²(Qint)": "0"}), **labels}))
    for i, ((name, year, (e1, n1, e2, n2)), (_, y, se, _), w) in enumerate(zip(ADVERSE, eff, p3["weights"]), start=1):
        lines.append(line({"Comparison Number": "1", "Outcome Number": "3", "Subgroup Number": "0", "Name": f"{name} {year}", "Events 1": str(e1),
                           "Total 1": str(n1), "Events 2": str(e2), "Total 2": str(n2), "Effect Estimate": f8(math.exp(y)), "SE": f8(se),
                           "CI Start": f8(math.exp(y - Z975 * se)), "CI End": f8(math.exp(y + Z975 * se)), "Weight": f8(w), "Year of study": year,
                           "User defined order": str(i)}))
    return "\r\n".join(lines) + "\r\n"


# --------------------------------------------------------------------------- totals.rm5

# two subgroups of MD studies, random effects: (name, id, year, (m1, sd1, n1, m2, sd2, n2))
TOTALS_SUBGROUPS = [
    ("Adults", [
        ("Kim 2004", "STD-Kim", "2004", (30.0, 8.0, 40, 34.0, 9.0, 42)),
        ("Lopez 2007", "STD-Lopez", "2007", (28.0, 7.0, 25, 29.0, 7.5, 24)),
        ("Moore 2011", "STD-Moore", "2011", (31.0, 9.0, 60, 37.0, 10.0, 58)),
    ]),
    ("Children", [
        ("Nakamura 2009", "STD-Nakamura", "2009", (20.0, 5.0, 30, 21.5, 5.5, 31)),
        ("Owens 2014", "STD-Owens", "2014", (22.0, 6.0, 45, 22.5, 6.0, 44)),
    ]),
]
# studies that are not estimable (SD 0): RevMan writes zeros for them and for their subgroup
NOT_ESTIMABLE = [
    ("Park 2016", "STD-Park", "2016", (25.0, 0.0, 20, 26.0, 0.0, 20)),
    ("Quinn 2018", "STD-Quinn", "2018", (24.0, 0.0, 15, 27.0, 0.0, 15)),
]
# one huge, precise effect: MD -1.87 with pooled SE 0.1 (|Z| = 18.7, P = 5e-78)
UNDERFLOW_STUDIES = [
    ("Reed 2001", "STD-Reed", "2001", (10.0, 1.0, 100, 11.87, 1.0, 100)),
    ("Shah 2003", "STD-Shah", "2003", (12.0, 1.0, 100, 13.87, 1.0, 100)),
]
# p-values at RevMan's precision: P(Z) approximated to ~1e-7 relative, chi-squared p to ~3e-7 absolute
P_PRECISION_STUDIES = [
    ("Tan 2005", "STD-Tan", "2005", (50.0, 12.0, 30, 53.0, 12.0, 30)),
    ("Usman 2010", "STD-Usman", "2010", (48.0, 10.0, 40, 47.0, 11.0, 40)),
    ("Vega 2015", "STD-Vega", "2015", (52.0, 11.0, 35, 55.5, 12.0, 36)),
]
P_Z_REL_ERROR = 1.1e-7  # antibiotics-for-sore-throat.rm5 CMP-002.03: 1.15e-7 relative at Z = 1.25
P_CHI2_ABS_ERROR = 2.5e-7  # the same file: up to 2.7e-7 absolute
HIDDEN = {"CHI2": "0.0", "CI_END": "0.0", "CI_START": "0.0", "DF": "0", "EFFECT_SIZE": "0.0", "I2": "0.0", "P_CHI2": "0.0", "P_Z": "0.0",
          "TAU2": "NaN", "WEIGHT": "0.0", "Z": "0.0"}  # what RevMan writes for a result it does not display


def zero_row(sid, s, order):
    """A not-estimable study as RevMan writes it: zeros for every result."""
    m1, sd1, n1, m2, sd2, n2 = s
    return ("<CONT_DATA " + attrs({"CI_END": "0.0", "CI_START": "0.0", "EFFECT_SIZE": "0.0", "ESTIMABLE": "NO", "MEAN_1": r(m1), "MEAN_2": r(m2), "ORDER": str(order),
                                   "SD_1": r(sd1), "SD_2": r(sd2), "SE": "0.0", "STUDY_ID": sid, "TOTAL_1": str(n1), "TOTAL_2": str(n2), "WEIGHT": "0.0"}) + "/>")


def subgroup_test(subs):
    """Q on the subgroup estimates (each subgroup with its own tau2), df = J - 1, P and I2 (RevMan's random-effects test)."""
    if len(subs) < 2:
        return 0.0, 0, 1.0, 0.0  # one non-empty subgroup: RevMan writes Q = 0, P = 1, I2 = 0
    b = [p["EFFECT_SIZE"] for p in subs]
    w = [1 / p["SE"] ** 2 for p in subs]
    bbar = sum(wi * x for wi, x in zip(w, b)) / sum(w)
    q = sum(wi * (x - bbar) ** 2 for wi, x in zip(w, b))
    df = len(subs) - 1
    return q, df, chi2_sf(q, df) * P_APPROX, max(0.0, (q - df) / q) * 100 if q > 0 else 0.0


def md_outcome(aid, no, name, groups, random, totals="YES", subgroup_test_on="YES", empty_groups=(), p_precision=False):
    """A CONT_OUTCOME (MD) with subgroups ``groups`` [(name, studies)] as RevMan stores it under ``totals``.

    ``empty_groups``: subgroups whose studies are all not estimable (zeros).
    ``p_precision``: P_Z and P_CHI2 carry RevMan's approximation errors.
    """
    all_s = [st for _, sts in groups for st in sts]
    eff = [md(st[3]) for st in all_s]
    p_all = pool([e[0] for e in eff], [e[1] for e in eff], random=random)
    subs, i0 = [], 0
    for gname, sts in groups:
        e = eff[i0:i0 + len(sts)]
        p = pool([x[0] for x in e], [x[1] for x in e], random=random)
        # displayed study weights: percent of the analysis (YES), of the subgroup (SUB)
        ws = p["weights"] if totals == "SUB" else p_all["weights"][i0:i0 + len(sts)]
        subs.append((gname, sts, e, p, ws))
        i0 += len(sts)
    q, df, pq, i2q = subgroup_test([x[3] for x in subs])
    if p_precision:
        p_all["P_Z"] *= 1 + P_Z_REL_ERROR
        p_all["P_CHI2"] += P_CHI2_ABS_ERROR
    overall = pooled_attrs(p_all, 100.0) if totals == "YES" else dict(HIDDEN)
    test = {"Q": r(q), "P_Q": r(pq), "I2_Q": r(i2q)} if totals != "NO" else {"Q": "0.0", "P_Q": "0.0", "I2_Q": "0.0"}
    out = {**overall, "CI_STUDY": "95", "CI_TOTAL": "95", "EFFECT_MEASURE": "MD", "ESTIMABLE": "YES", **test, "ID": aid, "METHOD": "IV", "NO": str(no),
           "RANDOM": "YES" if random else "NO", "SCALE": "10.0", "SORT_BY": "STUDY", "STUDIES": str(len(all_s) + sum(len(x) for _, x in empty_groups)),
           "SUBGROUPS": "YES" if len(groups) + len(empty_groups) > 1 or empty_groups else "NO", "SUBGROUP_TEST": subgroup_test_on, "TOTALS": totals,
           "TOTAL_1": str(sum(st[3][2] for st in all_s)), "TOTAL_2": str(sum(st[3][5] for st in all_s)), "UNITS": "points"}
    xml, order = [], 1
    for j, (gname, sts, e, p, ws) in enumerate(subs, start=1):
        rows = []
        for (_, sid, _, st), (y, se), w in zip(sts, e, ws):
            row = study_row(sid, st, y, se, w, order)
            if totals == "NO":
                row = row.replace(f'WEIGHT="{r(w)}"', 'WEIGHT="0.0"')  # no totals: no weight is displayed
            rows.append(row)
            order += 1
        sat = pooled_attrs(p, sum(ws)) if totals != "NO" else dict(HIDDEN)
        sat.update({"ID": f"{aid}.{j:02d}", "NO": str(j), "STUDIES": str(len(sts))})
        xml.append(f"<CONT_SUBGROUP {attrs(sat)}>\n<NAME>{gname}</NAME>\n" + "\n".join(rows) + "\n</CONT_SUBGROUP>")
    for j, (gname, sts) in enumerate(empty_groups, start=len(subs) + 1):
        rows = []
        for (_, sid, _, st) in sts:
            rows.append(zero_row(sid, st, order))
            order += 1
        sat = {**HIDDEN, "TAU2": "0.0", "ID": f"{aid}.{j:02d}", "NO": str(j), "STUDIES": str(len(sts))}
        xml.append(f"<CONT_SUBGROUP {attrs(sat)}>\n<NAME>{gname}</NAME>\n" + "\n".join(rows) + "\n</CONT_SUBGROUP>")
    labels = "<GROUP_LABEL_1>Treatment</GROUP_LABEL_1>\n<GROUP_LABEL_2>Control</GROUP_LABEL_2>\n<GRAPH_LABEL_1>Favours treatment</GRAPH_LABEL_1>\n<GRAPH_LABEL_2>Favours control</GRAPH_LABEL_2>"
    return f"<CONT_OUTCOME {attrs(out)}>\n<NAME>{name}</NAME>\n{labels}\n" + "\n".join(xml) + "\n</CONT_OUTCOME>"


def md_outcome_plain(aid, no, name, studies, random, p_precision=False, p_z=None):
    """A CONT_OUTCOME (MD) without subgroups; ``p_z`` overrides the stored P_Z (e.g. RevMan's underflow, "0.0")."""
    eff = [md(st[3]) for st in studies]
    p = pool([e[0] for e in eff], [e[1] for e in eff], random=random)
    if p_precision:
        p["P_Z"] *= 1 + P_Z_REL_ERROR
        p["P_CHI2"] += P_CHI2_ABS_ERROR
    out = {**pooled_attrs(p, 100.0), "CI_STUDY": "95", "CI_TOTAL": "95", "EFFECT_MEASURE": "MD", "ESTIMABLE": "YES", "I2_Q": "0.0", "ID": aid, "METHOD": "IV",
           "NO": str(no), "P_Q": "0.0", "Q": "0.0", "RANDOM": "YES" if random else "NO", "SCALE": "10.0", "SORT_BY": "STUDY", "STUDIES": str(len(studies)),
           "SUBGROUPS": "NO", "SUBGROUP_TEST": "YES", "TOTALS": "YES", "TOTAL_1": str(sum(st[3][2] for st in studies)), "TOTAL_2": str(sum(st[3][5] for st in studies)), "UNITS": ""}
    if p_z is not None:
        out["P_Z"] = p_z
    rows = [study_row(sid, st, y, se, w, i + 1) for i, ((_, sid, _, st), (y, se), w) in enumerate(zip(studies, eff, p["weights"]))]
    return f"<CONT_OUTCOME {attrs(out)}>\n<NAME>{name}</NAME>\n" + "\n".join(rows) + "\n</CONT_OUTCOME>", p


def totals_rm5_text():
    g = TOTALS_SUBGROUPS
    underflow, p_uf = md_outcome_plain("CMP-001.07", 7, "Underflow: |Z| = 18.7, RevMan writes P(Z) = 0", UNDERFLOW_STUDIES, random=False, p_z="0.0")
    assert abs(p_uf["Z"] - 18.7) < 1e-9, p_uf["Z"]
    precise, _ = md_outcome_plain("CMP-001.08", 8, "P-values at RevMan's precision", P_PRECISION_STUDIES, random=True, p_precision=True)
    outcomes = [
        md_outcome("CMP-001.01", 1, "TOTALS = YES (totals and subtotals)", g, random=True, totals="YES"),
        md_outcome("CMP-001.02", 2, "TOTALS = SUB (subtotals only), subgroup test on", g, random=True, totals="SUB", subgroup_test_on="YES"),
        md_outcome("CMP-001.03", 3, "TOTALS = SUB (subtotals only), subgroup test off", g, random=True, totals="SUB", subgroup_test_on="NO"),
        md_outcome("CMP-001.04", 4, "TOTALS = NO (no totals)", g, random=True, totals="NO"),
        md_outcome("CMP-001.05", 5, "One non-empty subgroup (random effects)", g[:1], random=True, empty_groups=[("Not estimable", NOT_ESTIMABLE)]),
        md_outcome("CMP-001.06", 6, "One non-empty subgroup (fixed effect)", g[:1], random=False, empty_groups=[("Not estimable", NOT_ESTIMABLE)]),
        underflow,
        precise,
    ]
    studies = [st for _, sts in g for st in sts] + NOT_ESTIMABLE + UNDERFLOW_STUDIES + P_PRECISION_STUDIES
    st_xml = "\n".join(f'<STUDY DATA_SOURCE="PUB" ID="{sid}" NAME="{name}" YEAR="{year}">\n</STUDY>' for name, sid, year, _ in studies)
    return review_xml("0000000000000000002", "Totals, subgroups and p-values (hand-made test review)", "RevMan's TOTALS settings and its p-value conventions",
                      st_xml, "Treatment versus control", chr(10).join(outcomes) + "\n")


# --------------------------------------------------------------------------- precision_CR.csv and truncated_CR.csv

#: the weight of Brown 2005 in analysis 1.1 (300/13 %), and how analysis 1.2 writes it wrongly
TRUE_WEIGHT, WRONG_WEIGHT = 300 / 13, "23.1"


def precision_csv_text():
    """Analysis 1.1 of handmade_CR.csv (MD, fixed: values "-2", "-0.5", "-1", "0", "100"), twice: 1.2 with one weight wrong."""
    p1, md_eff, *_ = build(level_total=95)
    lines = [",".join(HEADER)]

    def line(d):
        return ",".join(d.get(h, "") for h in HEADER)

    lines.append(line({"Comparison Number": "1", "Outcome Number": "0", "Subgroup Number": "0", "Name": "Printed digits"}))
    for o, title in ((1, "All values right (trailing zeros dropped)"), (2, "One weight written with fewer digits and wrong")):
        lines.append(line({"Comparison Number": "1", "Outcome Number": str(o), "Subgroup Number": "0", "Name": title, "Data Type": "CON",
                           "Statistical Method": "IV", "Effect Measure": "MD", "Analysis Model": "Fixed", "Total 1": "90", "Total 2": "95",
                           "Effect Estimate": f8(p1["EFFECT_SIZE"]), "CI Start": f8(p1["CI_START"]), "CI End": f8(p1["CI_END"]), "Weight": f8(100.0),
                           "Q": f8(p1["CHI2"]), "P(Q)": f8(p1["P_CHI2"]), "I²(Q)": f8(p1["I2"]), "Tau²": f8(p1["TAU2"]), "Z": f8(p1["Z"]),
                           "P(Z)": f8(p1["P_Z"]), "Qint": "0", "P(Qint)": "0", "I²(Qint)": "0", "df": str(p1["DF"]),
                           "Left Graph Label": "Favours exercise", "Right Graph Label": "Favours usual care"}))
        for i, ((name, _, year, st), (y, se), w) in enumerate(zip(MD_STUDIES, md_eff, p1["weights"]), start=1):
            m1, sd1, n1, m2, sd2, n2 = st
            weight = WRONG_WEIGHT if (o == 2 and name == "Brown 2005") else f8(w)
            lines.append(line({"Comparison Number": "1", "Outcome Number": str(o), "Subgroup Number": "0", "Name": name, "Mean 1": f8(m1), "SD 1": f8(sd1),
                               "Total 1": str(n1), "Mean 2": f8(m2), "SD 2": f8(sd2), "Total 2": str(n2), "Effect Estimate": f8(y), "SE": f8(se),
                               "CI Start": f8(y - Z975 * se), "CI End": f8(y + Z975 * se), "Weight": weight, "Year of study": year, "User defined order": str(i)}))
    return "\r\n".join(lines) + "\r\n"


def truncated_csv_text():
    """handmade_CR.csv cut inside the analysis line of 1.2, after its effect estimate (no final line break)."""
    text = csv_text()
    start = text.index("1,2,0,Function")
    cut = text.index(",", text.index("SMD,Random", start) + 30)  # a few fields into the pooled results
    return text[:cut]


if __name__ == "__main__":
    (HERE / "handmade.rm5").write_bytes(rm5_text().encode("iso-8859-1"))
    (HERE / "handmade_CR.csv").write_bytes(csv_text().encode("utf-8"))
    (HERE / "totals.rm5").write_bytes(totals_rm5_text().encode("iso-8859-1"))
    (HERE / "precision_CR.csv").write_bytes(precision_csv_text().encode("utf-8"))
    (HERE / "truncated_CR.csv").write_bytes(truncated_csv_text().encode("utf-8"))
    print("wrote", *(HERE / f for f in ("handmade.rm5", "handmade_CR.csv", "totals.rm5", "precision_CR.csv", "truncated_CR.csv")))
