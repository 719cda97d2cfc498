"""Write the hand-made RevMan test file handmade_dichotomous.rm5 (run: python generate_dichotomous.py).

Plain arithmetic only (math and statistics from the standard library; nothing
from metaharness), following RevMan 5's published algorithms (Deeks & Higgins
2010, "Statistical algorithms in Review Manager 5") for the methods the real
Cochrane files at hand do not show: Mantel-Haenszel OR and RD (fixed), MH RR
random with subgroups, inverse-variance OR and RR, Peto OR, generic inverse
variance (ratio and difference measures), O − E and variance, zero cells,
double zeros, subgroups with fixed- and random-effects tests.

Storage conventions, as in real RevMan 5 files (CD000023, Fleiss1993): ratio
measures stored on the ratio scale (EFFECT_SIZE, CI_START, CI_END) with their
log10 in LOG_*; study SE and VAR on the ln scale; |Z|; non-estimable studies
written as zeros with ESTIMABLE="NO"; totals of events and participants over
every study. Unlike real files, the p-values here are exact (RevMan's
approximation errors are not emulated). Two conventions are assumptions not
seen in a real file: generic-IV study rows carry the entered estimate on the
log scale in EFFECT_SIZE (the reader's input), and the fixed-effect subgroup
test of MH analyses is the partition Q - sum Q_j of the MH-centred statistic.

The file is committed; tests/test_revman_binary.py reads it through the
project's .rm5 reader and recomputes every stored value with the RevMan engine.
"""
from __future__ import annotations

import math
from pathlib import Path
from statistics import NormalDist

HERE = Path(__file__).resolve().parent
ND = NormalDist()


def z_of(level):
    return ND.inv_cdf(1 - (1 - level / 100) / 2)


def chi2_sf(q, df):
    """Upper tail of chi-squared with integer df (closed forms)."""
    if q <= 0:
        return 1.0
    if df % 2 == 0:
        term, s = 1.0, 1.0
        for i in range(1, df // 2):
            term *= (q / 2) / i
            s += term
        return math.exp(-q / 2) * s
    s, term = 0.0, math.sqrt(2 * q / math.pi) * math.exp(-q / 2)
    for i in range((df - 1) // 2):
        s += term
        term *= q / (2 * i + 3)
    return math.erfc(math.sqrt(q / 2)) + s


def norm_p(z):
    return math.erfc(abs(z) / math.sqrt(2))


# ---- study effects --------------------------------------------------------------------------------


def study(measure, method, e1, n1, e2, n2):
    """RevMan's study effect: (estimable, yi on the ln scale for ratios, se, cells used by MH)."""
    a, b, c, d = e1, n1 - e1, e2, n2 - e2
    if method == "PETO":
        N = n1 + n2
        oe = a - n1 * (a + c) / N
        v = n1 * n2 * (a + c) * (b + d) / (N * N * (N - 1))
        return (v > 0, oe / v if v > 0 else 0.0, 1 / math.sqrt(v) if v > 0 else 0.0, None)
    zero = 0 in (a, b, c, d)
    A, B, C, D = (x + 0.5 if zero else x for x in (a, b, c, d))
    if measure == "OR":
        est = not ((a == 0 and c == 0) or (b == 0 and d == 0))
        y, v = (math.log(A * D / (B * C)), 1 / A + 1 / B + 1 / C + 1 / D) if est else (0.0, 0.0)
    elif measure == "RR":
        est = not (a == 0 and c == 0)
        y, v = (math.log((A / (A + B)) / (C / (C + D))), 1 / A + 1 / C - 1 / (A + B) - 1 / (C + D)) if est else (0.0, 0.0)
    else:
        est = True
        y, v = a / n1 - c / n2, A * B / (A + B) ** 3 + C * D / (C + D) ** 3
    return (est, y, math.sqrt(v), (A, B, C, D, n1, n2))


def mh(measure, effects):
    """Mantel-Haenszel estimate (ln scale for OR/RR), SE and weights of the estimable studies."""
    cells = [s[3] for s in effects if s[0]]
    if measure == "OR":
        R = [A * D / (A + B + C + D) for A, B, C, D, _, _ in cells]
        S = [B * C / (A + B + C + D) for A, B, C, D, _, _ in cells]
        P = [(A + D) / (A + B + C + D) for A, B, C, D, _, _ in cells]
        Q = [(B + C) / (A + B + C + D) for A, B, C, D, _, _ in cells]
        sR, sS = sum(R), sum(S)
        v = 0.5 * (sum(p * r for p, r in zip(P, R)) / sR**2 + sum(p * s + q * r for p, q, r, s in zip(P, Q, R, S)) / (sR * sS) + sum(q * s for q, s in zip(Q, S)) / sS**2)
        return math.log(sR / sS), math.sqrt(v), S
    if measure == "RR":
        R = [A * (C + D) / (A + B + C + D) for A, B, C, D, _, _ in cells]
        S = [C * (A + B) / (A + B + C + D) for A, B, C, D, _, _ in cells]
        P = [((A + B) * (C + D) * (A + C) - A * C * (A + B + C + D)) / (A + B + C + D) ** 2 for A, B, C, D, _, _ in cells]
        return math.log(sum(R) / sum(S)), math.sqrt(sum(P) / (sum(R) * sum(S))), S
    W = [n1 * n2 / (n1 + n2) for _, _, _, _, n1, n2 in cells]
    y = [s[1] for s in effects if s[0]]
    J = [(A * B * (C + D) ** 3 + C * D * (A + B) ** 3) / ((A + B) * (C + D) * (A + B + C + D) ** 2) for A, B, C, D, _, _ in cells]
    return sum(w * yi for w, yi in zip(W, y)) / sum(W), math.sqrt(sum(J) / sum(W) ** 2), W


def pool(measure, method, random, effects, level=95):
    """RevMan's pooled result from study effects [(estimable, y, se, cells)], weights for every study."""
    est = [s for s in effects if s[0]]
    y = [s[1] for s in est]
    w = [1 / s[2] ** 2 for s in est]
    k = len(est)
    df = k - 1
    fe_iv = sum(wi * yi for wi, yi in zip(w, y)) / sum(w)
    if method == "MH":
        theta_mh, se_mh, wmh = mh(measure, effects)
        q = sum(wi * (yi - theta_mh) ** 2 for wi, yi in zip(w, y))
    else:
        q = sum(wi * (yi - fe_iv) ** 2 for wi, yi in zip(w, y))
    t2 = max(0.0, (q - df) / (sum(w) - sum(x * x for x in w) / sum(w))) if (random and df > 0) else 0.0
    if method == "MH" and not random:
        theta, se, wts = theta_mh, se_mh, wmh
    else:
        wts = [1 / (s[2] ** 2 + t2) for s in est]
        theta, se = sum(wi * yi for wi, yi in zip(wts, y)) / sum(wts), 1 / math.sqrt(sum(wts))
    it = iter([100 * x / sum(wts) for x in wts])
    weights = [next(it) if s[0] else 0.0 for s in effects]
    z = z_of(level)
    return dict(theta=theta, se=se, lb=theta - z * se, ub=theta + z * se, Z=abs(theta / se), P_Z=norm_p(theta / se), CHI2=q, DF=df,
                P_CHI2=chi2_sf(q, df) if df > 0 else 1.0, I2=(max(0.0, (q - df) / q) * 100 if q > 0 else 0.0) if df > 0 else 0.0, TAU2=t2, weights=weights)  # df = 0: RevMan writes P = 1, I2 = 0 (CD000023 CMP-002.03.01)


# ---- XML ------------------------------------------------------------------------------------------


def r(x):
    return repr(float(x))


def attrs(d):
    return " ".join(f'{k}="{v}"' for k, v in sorted(d.items()))


def shown(x, ratio):
    return math.exp(x) if ratio else x


def logs(x, ratio):
    return x / math.log(10) if ratio else x


def pooled_attrs(p, ratio, weight):
    out = {"EFFECT_SIZE": r(shown(p["theta"], ratio)), "CI_START": r(shown(p["lb"], ratio)), "CI_END": r(shown(p["ub"], ratio)),
           "Z": r(p["Z"]), "P_Z": r(p["P_Z"]), "CHI2": r(p["CHI2"]), "DF": str(p["DF"]), "P_CHI2": r(p["P_CHI2"]), "I2": r(p["I2"]),
           "TAU2": r(p["TAU2"]), "WEIGHT": r(weight), "ESTIMABLE": "YES"}
    if ratio:
        out.update(LOG_EFFECT_SIZE=r(logs(p["theta"], True)), LOG_CI_START=r(logs(p["lb"], True)), LOG_CI_END=r(logs(p["ub"], True)))
    return out


def dich_row(sid, counts, eff, weight, ratio, order, level=95):
    e1, n1, e2, n2 = counts
    est, y, se, _ = eff
    base = {"STUDY_ID": sid, "EVENTS_1": str(e1), "TOTAL_1": str(n1), "EVENTS_2": str(e2), "TOTAL_2": str(n2), "ORDER": str(order), "O_E": "0.0"}
    if not est:
        return "<DICH_DATA " + attrs({**base, "EFFECT_SIZE": "0.0", "SE": "0.0", "VAR": "0.0", "CI_START": "0.0", "CI_END": "0.0", "WEIGHT": "0.0", "ESTIMABLE": "NO",
                                      "LOG_EFFECT_SIZE": "0.0", "LOG_CI_START": "0.0", "LOG_CI_END": "0.0"}) + "/>"
    z = z_of(level)
    lb, ub = y - z * se, y + z * se
    d = {**base, "EFFECT_SIZE": r(shown(y, ratio)), "SE": r(se), "VAR": r(se * se), "CI_START": r(shown(lb, ratio)), "CI_END": r(shown(ub, ratio)),
         "WEIGHT": r(weight), "ESTIMABLE": "YES"}
    if ratio:
        d.update(LOG_EFFECT_SIZE=r(logs(y, True)), LOG_CI_START=r(logs(lb, True)), LOG_CI_END=r(logs(ub, True)))
    return "<DICH_DATA " + attrs(d) + "/>"


STUDIES = {}  # id -> (name, year)


def sid(name, year):
    key = "STD-" + name.replace(" ", "-")
    STUDIES[key] = (name, year)
    return key


def dich_outcome(no, name, measure, method, random, groups, subgroup_test=True):
    """groups: [(subgroup name or None, [(study, year, (e1, n1, e2, n2)), ...]), ...]"""
    ratio = measure != "RD"
    em = "PETO_OR" if method == "PETO" else measure
    flat = [s for _, sts in groups for s in sts]
    effects = [study(measure, method, *s[2]) for s in flat]
    p = pool(measure, method, random, effects)
    tot = [sum(s[2][i] for s in flat) for i in range(4)]
    a = {**pooled_attrs(p, ratio, 100.0), "CI_STUDY": "95", "CI_TOTAL": "95", "EFFECT_MEASURE": em, "ID": f"CMP-001.{no:02d}", "METHOD": method,
         "NO": str(no), "RANDOM": "YES" if random else "NO", "SORT_BY": "STUDY", "STUDIES": str(len(flat)), "SWAP_EVENTS": "NO", "TOTALS": "YES",
         "EVENTS_1": str(tot[0]), "TOTAL_1": str(tot[1]), "EVENTS_2": str(tot[2]), "TOTAL_2": str(tot[3]),
         "SUBGROUPS": "YES" if groups[0][0] is not None else "NO", "SUBGROUP_TEST": "YES", "Q": "0.0", "P_Q": "0.0", "I2_Q": "0.0"}
    body, order, i0 = [], 1, 0
    if groups[0][0] is None:
        for (nm, yr, counts), eff, w in zip(flat, effects, p["weights"]):
            body.append(dich_row(sid(nm, yr), counts, eff, w, ratio, order))
            order += 1
    else:
        subs = []
        for j, (gname, sts) in enumerate(groups, start=1):
            eff = effects[i0:i0 + len(sts)]
            ws = p["weights"][i0:i0 + len(sts)]
            sp = pool(measure, method, random, eff)
            subs.append(sp)
            rows = []
            for (nm, yr, counts), e, w in zip(sts, eff, ws):
                rows.append(dich_row(sid(nm, yr), counts, e, w, ratio, order))
                order += 1
            st = [sum(s[2][i] for s in sts) for i in range(4)]
            sat = {**pooled_attrs(sp, ratio, sum(ws)), "ID": f"CMP-001.{no:02d}.{j:02d}", "NO": str(j), "STUDIES": str(len(sts)),
                   "EVENTS_1": str(st[0]), "TOTAL_1": str(st[1]), "EVENTS_2": str(st[2]), "TOTAL_2": str(st[3])}
            body.append(f"<DICH_SUBGROUP {attrs(sat)}>\n<NAME>{gname}</NAME>\n" + "\n".join(rows) + "\n</DICH_SUBGROUP>")
            i0 += len(sts)
        J = len(subs)
        if random:  # Cochran's Q on the subgroup estimates and SEs
            wb = [1 / s["se"] ** 2 for s in subs]
            bbar = sum(w * s["theta"] for w, s in zip(wb, subs)) / sum(wb)
            qint = sum(w * (s["theta"] - bbar) ** 2 for w, s in zip(wb, subs))
        else:  # partition of the method's heterogeneity statistic
            qint = p["CHI2"] - sum(s["CHI2"] for s in subs)
        a.update(Q=r(qint), P_Q=r(chi2_sf(qint, J - 1)), I2_Q=r(max(0.0, (qint - (J - 1)) / qint) * 100 if qint > 0 else 0.0))
    return (f"<DICH_OUTCOME {attrs(a)}>\n<NAME>{name}</NAME>\n<GROUP_LABEL_1>Treatment</GROUP_LABEL_1>\n<GROUP_LABEL_2>Control</GROUP_LABEL_2>\n"
            + "\n".join(body) + "\n</DICH_OUTCOME>")


def iv_outcome(no, name, measure, random, rows):
    """Generic inverse variance: rows [(study, year, estimate (ln scale for ratios), se)]."""
    ratio = measure != "MD"
    effects = [(se > 0, y, se, None) for _, _, y, se in rows]
    p = pool(measure, "IV", random, effects)
    z = z_of(95)
    body = []
    for i, ((nm, yr, y, se), w) in enumerate(zip(rows, p["weights"]), start=1):
        d = {"STUDY_ID": sid(nm, yr), "EFFECT_SIZE": r(y), "SE": r(se), "CI_START": r(shown(y - z * se, ratio)), "CI_END": r(shown(y + z * se, ratio)),
             "WEIGHT": r(w), "ESTIMABLE": "YES", "ORDER": str(i)}
        body.append("<IV_DATA " + attrs(d) + "/>")
    a = {**pooled_attrs(p, ratio, 100.0), "CI_STUDY": "95", "CI_TOTAL": "95", "EFFECT_MEASURE": measure, "ID": f"CMP-001.{no:02d}", "NO": str(no),
         "RANDOM": "YES" if random else "NO", "STUDIES": str(len(rows)), "SUBGROUPS": "NO", "TOTALS": "YES", "METHOD": "IV"}
    return f"<IV_OUTCOME {attrs(a)}>\n<NAME>{name}</NAME>\n" + "\n".join(body) + "\n</IV_OUTCOME>"


def ipd_outcome(no, name, random, rows):
    """O − E and variance: rows [(study, year, O-E, V)]; Peto log OR (O-E)/V, SE 1/sqrt(V)."""
    effects = [(v > 0, oe / v, 1 / math.sqrt(v), None) for _, _, oe, v in rows]
    p = pool("OR", "PETO", random, effects)
    z = z_of(95)
    body = []
    for i, ((nm, yr, oe, v), (_, y, se, _), w) in enumerate(zip(rows, effects, p["weights"]), start=1):
        d = {"STUDY_ID": sid(nm, yr), "O_E": r(oe), "VAR": r(v), "EFFECT_SIZE": r(math.exp(y)), "SE": r(se), "CI_START": r(math.exp(y - z * se)),
             "CI_END": r(math.exp(y + z * se)), "WEIGHT": r(w), "ESTIMABLE": "YES", "ORDER": str(i)}
        body.append("<IPD_DATA " + attrs(d) + "/>")
    a = {**pooled_attrs(p, True, 100.0), "CI_STUDY": "95", "CI_TOTAL": "95", "EFFECT_MEASURE": "PETO_OR", "ID": f"CMP-001.{no:02d}", "NO": str(no),
         "RANDOM": "YES" if random else "NO", "STUDIES": str(len(rows)), "SUBGROUPS": "NO", "TOTALS": "YES", "METHOD": "PETO"}
    return f"<IPD_OUTCOME {attrs(a)}>\n<NAME>{name}</NAME>\n" + "\n".join(body) + "\n</IPD_OUTCOME>"


# ---- the analyses -----------------------------------------------------------------------------------

PLAIN = [("Abel", "2001", (12, 100, 20, 98)), ("Bauer", "2004", (30, 150, 41, 152)), ("Costa", "2009", (8, 60, 15, 62))]
SPARSE = [("Dahl", "2002", (0, 40, 5, 41)), ("Eriksen", "2005", (0, 35, 0, 30)), ("Fonseca", "2008", (3, 80, 9, 79)), ("Gallo", "2011", (22, 120, 35, 118))]
LATE = [("Hansen", "2014", (7, 90, 14, 88)), ("Ibrahim", "2016", (2, 45, 0, 44)), ("Jensen", "2019", (40, 200, 44, 203))]


def analyses():
    return [
        dich_outcome(1, "Death (MH odds ratio, fixed)", "OR", "MH", False, [(None, PLAIN)]),
        dich_outcome(2, "Relapse (MH risk ratio, random, subgroups; zero cells and a double zero)", "RR", "MH", True,
                     [("Before 2012", SPARSE), ("From 2012", LATE)]),
        dich_outcome(3, "Adverse events (MH risk difference, fixed, subgroups; double zero included)", "RD", "MH", False,
                     [("Before 2012", SPARSE), ("From 2012", LATE)]),
        dich_outcome(4, "Death (inverse-variance odds ratio, random; zero cells)", "OR", "IV", True, [(None, PLAIN + SPARSE)]),
        dich_outcome(5, "Death (inverse-variance risk ratio, fixed)", "RR", "IV", False, [(None, PLAIN + LATE)]),
        dich_outcome(6, "Death (Peto odds ratio, fixed; a double zero is not estimable)", "OR", "PETO", False, [(None, SPARSE + LATE)]),
        dich_outcome(7, "Death (MH risk difference, random)", "RD", "MH", True, [(None, PLAIN + LATE)]),
        iv_outcome(8, "Hospitalisation (generic inverse variance, log hazard ratios, fixed)", "HR", False,
                   [("Kowalski", "2010", math.log(0.8), 0.15), ("Lopez", "2012", math.log(0.95), 0.11), ("Moreau", "2015", math.log(0.7), 0.21)]),
        iv_outcome(9, "Quality of life (generic inverse variance, mean differences, random)", "MD", True,
                   [("Kowalski", "2010", 2.5, 1.1), ("Lopez", "2012", -0.4, 0.9), ("Moreau", "2015", 4.0, 1.6), ("Nakamura", "2018", 1.2, 0.7)]),
        ipd_outcome(10, "Time to relapse (O − E and variance, Peto, fixed)", False, [("Kowalski", "2010", -4.2, 18.5), ("Lopez", "2012", -1.1, 9.3), ("Moreau", "2015", 0.8, 6.1)]),
        ipd_outcome(11, "Time to relapse (O − E and variance, random)", True, [("Kowalski", "2010", -4.2, 18.5), ("Lopez", "2012", -1.1, 9.3), ("Moreau", "2015", 3.8, 6.1)]),
        dich_outcome(12, "Relapse (MH odds ratio, random, subgroups; zero cells and a double zero)", "OR", "MH", True,
                     [("Before 2012", SPARSE), ("From 2012", LATE)]),
        dich_outcome(13, "Death (Peto odds ratio, random, subgroups; a double zero is not estimable)", "OR", "PETO", True,
                     [("Before 2012", SPARSE), ("From 2012", LATE)]),
        dich_outcome(14, "Adverse events (inverse-variance risk difference, fixed; zero cells, a double zero included)", "RD", "IV", False,
                     [(None, SPARSE + LATE)]),
        dich_outcome(15, "Death (MH odds ratio, fixed, subgroups; one study in a subgroup)", "OR", "MH", False,
                     [("Before 2012", PLAIN), ("From 2012", LATE[:1])]),
    ]


def rm5_text():
    STUDIES.clear()
    body = "\n".join(analyses())
    st = "\n".join(f'<STUDY DATA_SOURCE="PUB" ID="{k}" NAME="{n} {y}" YEAR="{y}">\n</STUDY>' for k, (n, y) in sorted(STUDIES.items()))
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!-- Hand-made for metaharness tests (tests/data/cochrane/generate_dichotomous.py); not a real review. -->
<COCHRANE_REVIEW DESCRIPTION="" ID="0000000000000000002" REVMAN_SUB_VERSION="5.4.1" REVMAN_VERSION="5" STAGE="R" STATUS="A" TYPE="INTERVENTION" VERSION_NO="0.1">
<COVER_SHEET>
<TITLE>Hand-made dichotomous, generic inverse-variance and O − E analyses (test review)</TITLE>
</COVER_SHEET>
<STUDIES_AND_REFERENCES>
<STUDIES>
<INCLUDED_STUDIES>
{st}
</INCLUDED_STUDIES>
</STUDIES>
</STUDIES_AND_REFERENCES>
<ANALYSES_AND_DATA CALCULATED_DATA="YES">
<COMPARISON ID="CMP-001" NO="1">
<NAME>Treatment versus control</NAME>
{body}
</COMPARISON>
</ANALYSES_AND_DATA>
</COCHRANE_REVIEW>
"""


if __name__ == "__main__":
    (HERE / "handmade_dichotomous.rm5").write_bytes(rm5_text().encode("utf-8"))
    print("wrote", HERE / "handmade_dichotomous.rm5")
