"""Internal consistency of reported numbers, with interval arithmetic.

Every rounded number is the interval of values that print as it
(:mod:`harness.audit.numbers`), and every derived quantity is computed as an
interval from those (all the maps used are monotone in each argument on the
relevant domain, so evaluating them at the interval ends is exact). A check
is ``inconsistent`` only when *no* combination of values compatible with the
printout passes it.

Relations used (Wald intervals with the normal quantile, as RevMan 5 and
metafor's default z test compute them; D&H 2010, stats-reference §1.3-1.6):

* CI = estimate ± z₀.₉₇₅·SE: the estimate is the CI midpoint; SE = (U − L)/(2·z₀.₉₇₅);
* Z = |estimate|/SE, two-sided P = 2·(1 − Φ(|Z|));
* heterogeneity: I² = max(0, (Q − df)/Q)·100 and P_het = P(χ²_df > Q);
* claimed direction: with effects defined as intervention minus control
  (RevMan's "experimental − control"), "increase" needs the CI above 0,
  "decrease" below 0, "none" a CI containing 0.
"""
from __future__ import annotations

import math

from ..core import distributions as stats  # scipy.stats' functions, without importing scipy.stats

from .findings import Finding, fmt, fmt_iv
from .numbers import Reported

Z975 = stats.norm.isf(0.025)
#: RevMan 5 prints P values below this as "P < 0.00001"
REVMAN_P_FLOOR = 1e-5


def _p_of_z(z):
    return float(2 * stats.norm.sf(abs(z)))


def implied(block):
    """Intervals implied by a reported CI (and estimate): SE, Z and P.

    Returns a dict with ``mid`` (CI midpoint), ``se``, ``est`` (estimate
    interval intersected with the midpoint interval when they overlap), ``z``
    and ``p``, each a ``(lo, hi)`` pair, or ``None`` without a CI.
    """
    if block.ci is None:
        return None
    L, U = block.ci
    mid = ((L.lo + U.lo) / 2, (L.hi + U.hi) / 2)
    se = (max((U.lo - L.hi) / (2 * Z975), 0.0), (U.hi - L.lo) / (2 * Z975))
    est = mid
    e = block.get("estimate")
    if e is not None and e.overlaps(*mid):
        est = (max(e.lo, mid[0]), min(e.hi, mid[1]))
    abs_lo = 0.0 if est[0] <= 0 <= est[1] else min(abs(est[0]), abs(est[1]))
    abs_hi = max(abs(est[0]), abs(est[1]))
    z = (abs_lo / se[1] if se[1] > 0 else math.inf, abs_hi / se[0] if se[0] > 0 else math.inf)
    p = (_p_of_z(z[1]), _p_of_z(z[0]))
    return {"mid": mid, "se": se, "est": est, "z": z, "p": p}


def check_block(block, oid, what="") -> list[Finding]:
    """Checks of one reported pooled result (an outcome or a subgroup)."""
    out: list[Finding] = []
    pre = f"{what}: " if what else ""
    F = lambda check, verdict, reason: out.append(Finding(oid, "reported", check, verdict, pre + reason))  # noqa: E731
    e = block.get("estimate")
    if block.ci is None:
        se = block.get("se")
        if se is None or e is None:
            F("CI", "cannot check", "neither a CI nor an SE reported: Z and P cannot be derived")
            out.extend(check_heterogeneity(block, oid, pre))
            return out
        # estimate and SE reported (no CI): Z = |estimate|/SE and P from them
        abs_lo = 0.0 if e.lo <= 0 <= e.hi else min(abs(e.lo), abs(e.hi))
        z = (abs_lo / se.hi if se.hi > 0 else math.inf, max(abs(e.lo), abs(e.hi)) / se.lo if se.lo > 0 else math.inf)
        p = (_p_of_z(z[1]), _p_of_z(z[0]))
        F("CI", "cannot check", f"no CI reported; from estimate {e} and SE {se}: Z in {fmt_iv(*z, 3)}, P in {fmt_iv(*p, 3)}")
        rep_z = block.get("z")
        if rep_z is not None:
            ok = rep_z.overlaps(*z) or Reported(rep_z.text, -rep_z.hi, -rep_z.lo, rep_z.bound, rep_z.decimals).overlaps(*z)
            F("Z from estimate/SE", "consistent" if ok else "inconsistent", f"|estimate|/SE = Z in {fmt_iv(*z, 3)}; reported Z = {rep_z}")
        if block.get("p") is not None:
            f = check_p(block.get("p"), p, z, oid, pre)
            out.append(Finding(f.outcome, f.section, "P from estimate/SE", f.verdict, f.reason.replace("CI implies", "estimate/SE imply")))
        out.extend(check_heterogeneity(block, oid, pre))
        return out
    L, U = block.ci
    imp = implied(block)
    mid = imp["mid"]
    if e is not None:
        if e.overlaps(*mid):
            F("estimate = CI midpoint", "consistent", f"midpoint of [{L}, {U}] is in {fmt_iv(*mid)}; {e} stands for {fmt_iv(e.lo, e.hi)}")
        else:
            F("estimate = CI midpoint", "inconsistent", f"midpoint of [{L}, {U}] is in {fmt_iv(*mid)}, but {e} stands for {fmt_iv(e.lo, e.hi)} (asymmetric CI: other scale, or a typo)")
    se = imp["se"]
    rep_se = block.get("se")
    if rep_se is not None:
        ok = rep_se.overlaps(*se)
        F("SE from CI", "consistent" if ok else "inconsistent", f"CI width implies SE in {fmt_iv(*se)}; reported SE {rep_se}")
    else:
        F("SE from CI", "consistent", f"(U − L)/(2·1.95996) = SE in {fmt_iv(*se)} (derived; not reported)")
    z = imp["z"]
    rep_z = block.get("z")
    if rep_z is not None:
        # RevMan prints |Z|; accept either sign
        ok = rep_z.overlaps(*z) or Reported(rep_z.text, -rep_z.hi, -rep_z.lo, rep_z.bound, rep_z.decimals).overlaps(*z)
        F("Z from CI", "consistent" if ok else "inconsistent", f"|estimate|/SE = Z in {fmt_iv(*z, 3)}; reported Z = {rep_z}")
    p = imp["p"]
    rep_p = block.get("p")
    if rep_p is None:
        F("P from CI", "cannot check", f"no P reported (implied Z in {fmt_iv(*z, 3)}, P in {fmt_iv(*p, 3)})")
    else:
        out.append(check_p(rep_p, p, z, oid, pre))
    out.extend(check_heterogeneity(block, oid, pre))
    return out


def check_p(rep_p: Reported, p, z, oid, pre="") -> Finding:
    """Reported P (exact or bound) against the interval implied by the CI."""
    zs = f"Z in {fmt_iv(*z, 3)}, P in {fmt_iv(*p, 3)}"
    if not rep_p.overlaps(*p):
        return Finding(oid, "reported", "P from CI", "inconsistent", f"{pre}CI implies {zs}; reported {rep_p} is outside")
    note = ""
    if rep_p.is_bound and rep_p.bound.startswith("<") and rep_p.hi > REVMAN_P_FLOOR and p[1] < REVMAN_P_FLOOR:
        note = "; true but weaker than what RevMan 5 prints for this Z (P < 0.00001)"
    elif rep_p.is_bound and rep_p.bound.startswith("<") and p[1] > rep_p.hi:
        note = "; holds for part of the rounding interval only"
    return Finding(oid, "reported", "P from CI", "consistent", f"{pre}CI implies {zs}; reported {rep_p} is compatible{note}")


def check_heterogeneity(block, oid, pre="") -> list[Finding]:
    out = []
    q, i2, ph, df = block.get("chi2"), block.get("i2"), block.get("p_het"), block.df
    if q is None:
        if i2 is not None or ph is not None:
            out.append(Finding(oid, "reported", "I² = (Q − df)/Q", "cannot check", f"{pre}Chi² (Q) not reported"))
        return out
    if df is None:
        if block.k is not None:
            df = block.k - 1
        else:
            out.append(Finding(oid, "reported", "I² = (Q − df)/Q", "cannot check", f"{pre}neither df nor k reported"))
            return out
    elif block.k is not None and df != block.k - 1:
        out.append(Finding(oid, "reported", "df = k − 1", "inconsistent", f"{pre}df = {df} but k = {block.k} studies"))
    if i2 is not None:
        qlo, qhi = max(q.lo, 0.0), q.hi
        f = lambda Q: 0.0 if Q <= 0 else max(0.0, (Q - df) / Q) * 100  # noqa: E731 (increasing in Q)
        lo, hi = f(qlo), f(qhi)
        ok = i2.overlaps(lo, hi)
        out.append(Finding(oid, "reported", "I² = (Q − df)/Q", "consistent" if ok else "inconsistent", f"{pre}Chi² = {q}, df = {df} give I² in {fmt_iv(lo, hi, 3)}%; reported {i2}%"))
    if ph is not None and df > 0:
        lo, hi = float(stats.chi2.sf(q.hi, df)), float(stats.chi2.sf(max(q.lo, 0.0), df))
        ok = ph.overlaps(lo, hi)
        out.append(Finding(oid, "reported", "P(Chi²)", "consistent" if ok else "inconsistent", f"{pre}Chi² = {q}, df = {df} give P in {fmt_iv(lo, hi, 2)}; reported {ph}"))
    return out


def direction_of_ci(lo, hi, tol=0.0) -> str:
    """'increase' (CI above 0), 'decrease' (below 0) or 'none' (contains 0)."""
    if lo > tol:
        return "increase"
    if hi < -tol:
        return "decrease"
    return "none"


def reported_interval(block):
    """The printed 95% CI, or estimate ± 1.96·SE when only those are printed; None otherwise."""
    if block.ci is not None:
        return block.ci[0].value, block.ci[1].value, f"[{block.ci[0]}, {block.ci[1]}]"
    e, se = block.get("estimate"), block.get("se")
    if e is not None and se is not None:
        lo, hi = e.value - Z975 * se.value, e.value + Z975 * se.value
        return lo, hi, f"(estimate ± 1.96·SE: [{fmt(lo, 4)}, {fmt(hi, 4)}])"
    return None


def check_claim(outcome) -> list[Finding]:
    b = outcome.reported
    if outcome.claim is None:
        return [Finding(outcome.id, "reported", "claimed direction", "cannot check", "no claimed direction recorded")]
    iv = reported_interval(b)
    if iv is None:
        return [Finding(outcome.id, "reported", "claimed direction", "cannot check", f"no CI or SE reported: the direction cannot be judged from {b.get('estimate')} alone")]
    lo, hi, shown_ci = iv
    # the direction the printed CI shows (its ends are rounded: use the printed values)
    shown = direction_of_ci(lo, hi)
    claim = outcome.claim_text or outcome.claim
    e = b.get("estimate")
    if shown == outcome.claim:
        return [Finding(outcome.id, "reported", "claimed direction", "consistent", f"{e} {shown_ci} (intervention − control) shows '{shown}'; claim: {claim}")]
    if outcome.claim == "none":
        why = f"{e} {shown_ci} excludes 0 ('{shown}'), but the claim is no difference: {claim}"
    elif shown == "none":
        why = f"{e} {shown_ci} contains 0, but the claim is a significant '{outcome.claim}': {claim}"
    else:
        why = (f"{e} {shown_ci} is a '{shown}' (intervention − control), but the claim is '{outcome.claim}': {claim} "
               f"(only right if the scale or the arms were reversed, which the report does not say)")
    return [Finding(outcome.id, "reported", "claimed direction", "inconsistent", why)]


def check_counts(pub) -> list[Finding]:
    """k and N: outcomes within the review, subgroups adding up to their outcome."""
    out = []
    if (pub.k is not None or pub.n is not None) and all(o.reported.k is None and o.reported.n is None for o in pub.outcomes):
        tot = ", ".join(x for x in (f"k = {pub.k} studies" if pub.k else "", f"N = {pub.n} participants" if pub.n else "") if x)
        for o in pub.outcomes:
            out.append(Finding(o.id, "reported", "k and N add up", "cannot check", f"the review reports {tot}, but no outcome or subgroup reports its own k or N"))
    for o in pub.outcomes:
        b = o.reported
        for key, total in (("k", pub.k), ("n", pub.n)):
            val = getattr(b, key)
            name = "k (studies)" if key == "k" else "N (participants)"
            if val is None:
                continue
            if total is None:
                continue  # nothing to check against
            if val > total:
                out.append(Finding(o.id, "reported", f"{name} within review", "inconsistent", f"{name} = {val} exceeds the review's {total}"))
            else:
                out.append(Finding(o.id, "reported", f"{name} within review", "consistent", f"{name} = {val} ≤ the review's {total}"))
        for s in o.subgroups:
            if not s.groups:
                continue
            sid = f"{o.id}/{s.id}"
            J = len(s.groups)
            if s.df is not None:
                ok = s.df == J - 1
                out.append(Finding(sid, "reported", "subgroup df = J − 1", "consistent" if ok else "inconsistent", f"{J} subgroups, reported df = {s.df}"))
            for key in ("k", "n"):
                vals = [getattr(g, key) for g in s.groups]
                name = "k" if key == "k" else "N"
                total = getattr(b, key)
                if any(v is None for v in vals) or total is None:
                    if any(v is not None for v in vals) or total is not None:
                        out.append(Finding(sid, "reported", f"subgroup {name} add up", "cannot check", f"{name} not reported for every subgroup and the outcome"))
                    continue
                if not s.partition:
                    ok = all(v <= total for v in vals)
                    out.append(Finding(sid, "reported", f"subgroup {name} within outcome", "consistent" if ok else "inconsistent", f"subgroup {name} {vals} vs outcome {total} (not a partition)"))
                    continue
                ok = sum(vals) == total
                out.append(Finding(sid, "reported", f"subgroup {name} add up", "consistent" if ok else "inconsistent", f"{' + '.join(map(str, vals))} = {sum(vals)}; outcome {name} = {total}"))
    return out


def check_subgroup_test(s, oid) -> list[Finding]:
    out = []
    q = s.test.get("chi2")
    if q is None:
        return out
    df = s.df if s.df is not None else (len(s.groups) - 1 if s.groups else None)
    if df is None or df < 1:
        return [Finding(oid, "reported", "subgroup test", "cannot check", "df (or the subgroups) not reported")]
    i2, p = s.test.get("i2"), s.test.get("p")
    if i2 is not None:
        f = lambda Q: 0.0 if Q <= 0 else max(0.0, (Q - df) / Q) * 100  # noqa: E731
        lo, hi = f(max(q.lo, 0)), f(q.hi)
        out.append(Finding(oid, "reported", "subgroup I² = (Chi² − df)/Chi²", "consistent" if i2.overlaps(lo, hi) else "inconsistent", f"Chi² = {q}, df = {df} give I² in {fmt_iv(lo, hi, 3)}%; reported {i2}%"))
    if p is not None:
        lo, hi = float(stats.chi2.sf(q.hi, df)), float(stats.chi2.sf(max(q.lo, 0), df))
        out.append(Finding(oid, "reported", "subgroup P(Chi²)", "consistent" if p.overlaps(lo, hi) else "inconsistent", f"Chi² = {q}, df = {df} give P in {fmt_iv(lo, hi, 2)}; reported {p}"))
    return out


def internal(pub) -> dict[str, list[Finding]]:
    """All internal-consistency findings, by outcome id."""
    res: dict[str, list[Finding]] = {}
    counts = check_counts(pub)
    for o in pub.outcomes:
        fs = check_block(o.reported, o.id)
        fs += check_claim(o)
        fs += [f for f in counts if f.outcome == o.id]
        for s in o.subgroups:
            sid = f"{o.id}/{s.id}"
            if not s.groups and not s.test:
                fs.append(Finding(sid, "reported", "subgroup results", "cannot check", f"no subgroup numbers reported{' (claim: ' + s.claim_text + ')' if s.claim_text else ''}"))
                continue
            fs += check_subgroup_test(s, sid)
            fs += [f for f in counts if f.outcome == sid]
            for g in s.groups:
                fs += check_block(g, f"{sid}={g.label}")
        res[o.id] = fs
    return res
