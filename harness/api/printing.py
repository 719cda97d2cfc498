"""Printed results, laid out as R prints them.

``print(fit)`` shows what a meta-analyst sees in R: metafor's ``print.rma.uni``
(metafor R/print.rma.uni.r), ``print.confint.rma``, ``print.regtest``,
``print.list.rma`` (leave1out), robumeta's ``print.robu`` (robumeta R/robu.R), and
a RevMan-style summary. The numbers come from the Python result; the layout, the
rounding and the number formats follow R's own functions, re-implemented here:

* :func:`fcf` -- metafor's ``.fcf``/``fmtx``: ``formatC(x, format="f", digits)``;
* :func:`fmt_p` -- metafor's ``.pval``/``fmtp``: ``"<.0001"`` below the last digit;
* :func:`signif_stars` -- ``symnum`` with cut points 0, .001, .01, .05, .1, 1;
* :func:`format_real` -- R's ``formatReal`` (src/main/format.c), the common
  format ``format()``, ``print()`` and ``cat()`` give a numeric vector;
* :func:`print_frame` -- ``print.data.frame`` of a character table (row names
  left-justified, cells right-justified, ``print.gap`` spaces between columns).

Printing is at the edge: nothing here computes a statistic.
"""
from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np

#: the legend R prints under a coefficient table with significance stars (UTF-8 locale)
SIGNIF_LEGEND = "Signif. codes:  0 \u2018***\u2019 0.001 \u2018**\u2019 0.01 \u2018*\u2019 0.05 \u2018.\u2019 0.1 \u2018 \u2019 1"
#: metafor's default number of digits for every kind of number (``digits = 4``)
DIGITS = 4


def _isnan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or (isinstance(x, (np.floating,)) and np.isnan(x))


def fcf(x, digits: int) -> str:
    """metafor's ``.fcf(x, digits)``: ``trimws(formatC(x, format = "f", digits))``; NA -> "NA"."""
    if _isnan(x):
        return "NA"
    x = float(x)
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    return f"{x:.{int(digits)}f}"


def fcf_var(x, digits: int) -> str:
    """A variance component as metafor prints it: 0 digits when |x| <= 10 eps (``thresh``)."""
    if not _isnan(x) and abs(float(x)) <= np.finfo(float).eps * 10:
        return fcf(x, 0)
    return fcf(x, digits)


def fmt_p(p, digits: int = DIGITS, showeq: bool = False, sep: str = "") -> str:
    """metafor's ``.pval(p, digits, showeq, sep)``: ``"<.0001"`` below the cut-off, else the value."""
    digits = max(int(digits), 1)
    cutoff = "." + "0" * (digits - 1) + "1"
    eq = "=" if showeq else ""
    if _isnan(p):
        return f"{eq}{sep}NA"
    if float(p) >= float(cutoff):
        return f"{eq}{sep}{float(p):.{digits}f}"
    return f"<{sep}{cutoff}"


def signif_stars(p) -> str:
    """R's ``symnum(p, cutpoints = c(0, .001, .01, .05, .1, 1), symbols = c("***", "**", "*", ".", " "))``
    (intervals closed on the right, the lowest closed on both sides); NA -> ""."""
    if _isnan(p):
        return ""
    p = float(p)
    for cut, sym in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, "."), (1.0, " ")):
        if p <= cut:
            return sym
    return ""


def format_btt(btt: Sequence[int]) -> str:
    """metafor's ``.format.btt``: 1-based coefficient numbers with runs as ``a:b`` ("2:4", "2,5")."""
    b = sorted(int(x) for x in btt)
    if len(b) == 1:
        return str(b[0])
    parts, i = [], 0
    while i < len(b):
        j = i
        while j + 1 < len(b) and b[j + 1] == b[j] + 1:
            j += 1
        parts.append(f"{b[i]}:{b[j]}" if j > i else str(b[i]))
        i = j + 1
    return ",".join(parts)


# ---- R's formatReal ---------------------------------------------------------------------

def _scientific(x: float, digits: int):
    """R's ``scientific()`` (format.c): sign, decimal exponent, significant digits needed
    (at most ``digits``, trailing zeros dropped) and whether rounding widened the number."""
    alpha = abs(x)
    if alpha == 0:
        return False, 0, 1, False
    mant, exp = f"{alpha:.{digits - 1}e}".split("e")
    kpower = int(exp)
    sig = mant.replace(".", "").rstrip("0")
    nsig = max(1, len(sig))
    widens = 0 < kpower <= 22 and alpha < 10.0**kpower
    return x < 0, kpower, nsig, widens


def format_real(values, digits: int = 7, scientific: bool | None = None, nsmall: int = 0) -> list[str]:
    """R's ``format(x, digits = digits, trim = TRUE)`` of a numeric vector: one common format,
    fixed unless scientific notation is narrower (``scientific=False``: always fixed,
    ``True``: always scientific). NA/NaN -> "NA", +-Inf -> "Inf"/"-Inf"."""
    xs = [float(v) for v in np.ravel(np.asarray(values, dtype=float))]
    finite = [x for x in xs if math.isfinite(x)]
    if not finite:
        return ["NA" if math.isnan(x) else ("Inf" if x > 0 else "-Inf") for x in xs]
    neg = 0
    rgt = mxsl = mxns = -10**9
    mxe, mne = -10**9, 10**9
    for x in finite:
        sgn, kpower, nsig, widens = _scientific(x, digits)
        left = kpower + 1
        if widens:
            left -= 1
        sleft = int(sgn) + (1 if left <= 0 else left)
        right = nsig - left
        if sgn:
            neg = 1
        rgt = max(rgt, right)
        mxsl = max(mxsl, sleft)
        mxns = max(mxns, nsig)
        mxe, mne = max(mxe, kpower), min(mne, kpower)
    rgt = max(rgt, 0)
    w_fixed = neg + mxsl + rgt + (rgt != 0)
    e = 2 if (mxe >= 100 or mne <= -99) else 1
    d_sci = mxns - 1
    w_sci = neg + (d_sci > 0) + d_sci + 4 + e
    use_fixed = (w_fixed <= w_sci) if scientific is None else (not scientific)
    out = []
    for x in xs:
        if math.isnan(x):
            out.append("NA")
        elif math.isinf(x):
            out.append("Inf" if x > 0 else "-Inf")
        elif use_fixed:
            out.append(f"{x:.{max(rgt, nsmall)}f}")
        else:
            m, ex = f"{x:.{d_sci}e}".split("e")
            out.append(f"{m}e{ex[0]}{abs(int(ex)):0{e + 1}d}")
    return out


def r_num(x, digits: int = 7) -> str:
    """One number as ``cat()``/``print()`` show it (``digits`` significant digits)."""
    return format_real([x], digits)[0]


# ---- tables -------------------------------------------------------------------------------

def print_frame(rows: Sequence[Sequence[str]], colnames: Sequence[str], rownames: Sequence[str] | None = None, gap: int = 1, right: bool = True) -> list[str]:
    """R's ``print.data.frame(df, quote = FALSE, right = TRUE, print.gap = gap)`` of a character
    table: one line per row, the header first (no trailing spaces added)."""
    ncol = len(colnames)
    widths = [max([len(colnames[j])] + [len(r[j]) for r in rows]) for j in range(ncol)]
    just = (lambda s, w: s.rjust(w)) if right else (lambda s, w: s.ljust(w))
    sp = " " * gap
    if rownames is not None:
        rw = max([0] + [len(r) for r in rownames])
        head = " " * rw
        lines = [head + "".join(sp + just(c, w) for c, w in zip(colnames, widths))]
        for name, r in zip(rownames, rows):
            lines.append(name.ljust(rw) + "".join(sp + just(c, w) for c, w in zip(r, widths)))
        return lines
    lines = [sp.join(just(c, w) for c, w in zip(colnames, widths))]
    for r in rows:
        lines.append(sp.join(just(c, w) for c, w in zip(r, widths)))
    return lines


def print_vector(cells: Sequence[str], names: Sequence[str], gap: int = 2) -> list[str]:
    """metafor's ``.print.vector``: names over values, each right-justified to the wider of the two."""
    widths = [max(len(n), len(c)) for n, c in zip(names, cells)]
    sp = " " * gap
    return [sp.join(n.rjust(w) for n, w in zip(names, widths)), sp.join(c.rjust(w) for c, w in zip(cells, widths))]


def table_lines(lines: Sequence[str]) -> list[str]:
    """metafor's ``.print.table``: each line is written with ``cat(x, "\\n")``, i.e. followed by a space."""
    return [ln + " " for ln in lines]


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]], index: Sequence[str] | None = None) -> str:
    """A small HTML table (notebooks' ``_repr_html_``); cells are escaped."""
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in (([""] if index is not None else []) + list(header)))
    body = []
    for i, r in enumerate(rows):
        lead = f"<th>{e(index[i])}</th>" if index is not None else ""
        body.append("<tr>" + lead + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def html_block(title: str, lines: Sequence[str], table: str = "") -> str:
    """A titled block of text lines and a table, for ``_repr_html_``."""
    e = html.escape
    text = "<br>".join(e(ln) for ln in lines if ln.strip())
    return f"<div class=\"metaharness-result\"><strong>{e(title)}</strong><p>{text}</p>{table}</div>"


# ---- metafor ------------------------------------------------------------------------------

def _specified_wording(metafor) -> bool:
    """metafor's print layout of 4.8-0 on: a fixed tau^2 "specified" (not "estimated"), and the
    other wordings of ``print_wording_480`` in :data:`harness.core.versions.CHANGES`."""
    from ..core.versions import conventions

    return conventions(metafor).print_wording_480


def _rma_version(fit, metafor):
    return metafor or getattr(fit, "metafor", None)


def rma_lines(fit, digits: int = DIGITS, signif_stars: bool = True, metafor=None) -> list[str]:
    """The lines of metafor's ``print.rma.uni`` for an :class:`RmaResult` (``capture.output(print(fit))``)."""
    from ..core.rma import FE_METHODS

    metafor = _rma_version(fit, metafor)
    new = _specified_wording(metafor)
    d = digits
    fe = fit.method in FE_METHODS
    io = fit.intercept_only
    out = [""]
    if fe:
        head = {"FE": "Fixed-Effects Model", "EE": "Equal-Effects Model", "CE": "Common-Effects Model"}[fit.method] if io else "Fixed-Effects with Moderators Model"
        out.append(f"{head} (k = {fit.k})")
    else:
        how = "user-specified tau^2 value" if fit.tau2_fixed else f"tau^2 estimator: {fit.method}"
        out.append(f"{'Random-Effects Model' if io else 'Mixed-Effects Model'} (k = {fit.k}; {how})")
    out.append("")
    est = "specified" if (new and fit.tau2_fixed) else "estimated"
    se_part = "" if _isnan(fit.se_tau2) else f" (SE = {fcf(fit.se_tau2, d)})"
    tau = fcf_var(math.sqrt(fit.tau2), d) if not _isnan(fit.tau2) and fit.tau2 >= 0 else "NA"
    has_het = not (_isnan(fit.I2) and _isnan(fit.H2))
    show_h2 = not _isnan(fit.H2) and (not new or not math.isinf(fit.H2))
    if not fe:
        if io:
            out.append(f"tau^2 ({est} amount of total heterogeneity): {fcf_var(fit.tau2, d)}{se_part}")
            out.append(f"tau (square root of {est} tau^2 value):      {tau}")
        elif has_het or not new:
            out.append(f"tau^2 ({est} amount of residual heterogeneity):     {fcf_var(fit.tau2, d)}{se_part}")
            out.append(f"tau (square root of {est} tau^2 value):             {tau}")
        else:
            out.append(f"tau^2 ({est} amount of residual heterogeneity): {fcf_var(fit.tau2, d)}{se_part}")
            out.append(f"tau (square root of {est} tau^2 value):         {tau}")
    if io:
        if not _isnan(fit.I2):
            out.append(f"I^2 (total heterogeneity / total variability):   {fcf(fit.I2, 2)}%")
        if show_h2:
            out.append(f"H^2 (total variability / sampling variability):  {fcf(fit.H2, 2)}")
    else:
        if not _isnan(fit.I2):
            out.append(f"I^2 (residual heterogeneity / unaccounted variability): {fcf(fit.I2, 2)}%")
        if show_h2:
            out.append(f"H^2 (unaccounted variability / sampling variability):   {fcf(fit.H2, 2)}")
    has_r2 = (not io) and "intrcpt" in fit.coef_names and fit.p > 1
    if has_r2:
        lead = "R^2 (amount of heterogeneity accounted for):            " if (has_het or not new) else "R^2 (amount of heterogeneity accounted for):        "
        out.append(f"{lead}{fcf(fit.R2, 2)}%")
    if not fe or not _isnan(fit.I2) or not _isnan(fit.H2) or has_r2:
        out.append("")
    if not _isnan(fit.QE):
        df = fit.k - fit.p
        if io:
            out += ["Test for Heterogeneity:", f"Q(df = {df}) = {fcf(fit.QE, d)}, p-val {fmt_p(fit.QEp, d, True, ' ')}", ""]
        else:
            out += ["Test for Residual Heterogeneity:", f"QE(df = {df}) = {fcf(fit.QE, d)}, p-val {fmt_p(fit.QEp, d, True, ' ')}", ""]
    tdist = fit.test in ("knha", "adhoc", "t")
    if fit.p > 1 and not _isnan(fit.QM):
        btt = [b + 1 for b in fit.tested_coefficients()]
        out.append(f"Test of Moderators (coefficient{' ' if len(btt) == 1 else 's '}{format_btt(btt)}):")
        m, ddf2 = fit.QMdf
        if tdist:
            out.append(f"F(df1 = {int(m)}, df2 = {r_num(round(ddf2, 2))}) = {fcf(fit.QM, d)}, p-val {fmt_p(fit.QMp, d, True, ' ')}")
        else:
            out.append(f"QM(df = {int(m)}) = {fcf(fit.QM, d)}, p-val {fmt_p(fit.QMp, d, True, ' ')}")
        out.append("")
    names = ["estimate", "se", "tval" if tdist else "zval"] + (["df"] if tdist else []) + ["pval", "ci.lb", "ci.ub"]
    dfs = format_real([round(fit.ddf, 2)] * fit.p) if tdist else None
    rows = []
    for j in range(fit.p):
        r = [fcf(fit.beta[j], d), fcf(fit.se[j], d), fcf(fit.zval[j], d)]
        if tdist:
            r.append(dfs[j])
        r += [fmt_p(fit.pval[j], d), fcf(fit.ci_lb[j], d), fcf(fit.ci_ub[j], d)]
        if signif_stars:
            r.append(signif_stars_of(fit.pval[j]))
        rows.append(r)
    if signif_stars:
        names.append("")
    out += ["Model Results:", ""]
    if io:
        out += table_lines(print_vector(rows[0], names))
    else:
        out += table_lines(print_frame(rows, names, list(fit.coef_names), gap=2))
    if signif_stars:
        out += ["", "---", SIGNIF_LEGEND]
    out.append("")
    return out


def signif_stars_of(p) -> str:
    return signif_stars(p)


def confint_lines(ci, digits: int = DIGITS) -> list[str]:
    """metafor's ``print.confint.rma`` (random part, and the fixed part when present)."""
    out = [""]
    if ci.fixed is not None:
        rows = [[fcf(b, digits), fcf(lb, digits), fcf(ub, digits)] for b, lb, ub in zip(ci.fixed["estimate"], ci.fixed["ci_lb"], ci.fixed["ci_ub"])]
        out += table_lines(print_frame(rows, ["estimate", "ci.lb", "ci.ub"], list(ci.fixed.index), gap=1))
        out.append("")
    rows = []
    for name in ("tau2", "tau", "I2", "H2"):
        iv = getattr(ci, name)
        rows.append([fcf(iv.estimate, digits), ci.lb_sign + fcf(iv.ci_lb, digits), ci.ub_sign + fcf(iv.ci_ub, digits)])
    out += table_lines(print_frame(rows, ["estimate", "ci.lb", "ci.ub"], list(ci.ROWS), gap=1))
    out.append("")
    return out


def regtest_lines(rt, digits: int = DIGITS, metafor=None) -> list[str]:
    """metafor's ``print.regtest`` (model "rma", predictor "sei"). From metafor 4.8-0 on, a
    positive z (or b) gets a leading space when z and the limit estimate differ in sign
    (``fmtx(..., flag = " ")``), so that the two line up."""
    from ..core.rma import FE_METHODS

    kind = "fixed-effects" if rt.method in FE_METHODS else "mixed-effects"
    has_est = not _isnan(rt.est)
    flag = has_est and _specified_wording(metafor) and np.sign(rt.zval) != np.sign(rt.est)
    sp = lambda x, txt: (" " + txt) if (flag and float(x) >= 0) else txt  # noqa: E731  formatC(flag = " ")
    out = ["", "Regression Test for Funnel Plot Asymmetry", "", f"Model:     {kind} meta-regression model", "Predictor: standard error", ""]
    z = sp(rt.zval, fcf(rt.zval, digits))
    if _isnan(rt.ddf):
        out.append(f"Test for Funnel Plot Asymmetry: z = {z}, p {fmt_p(rt.pval, digits, True, ' ')}")
    else:
        out.append(f"Test for Funnel Plot Asymmetry: t = {z}, df = {r_num(round(rt.ddf, 2))}, p {fmt_p(rt.pval, digits, True, ' ')}")
    if has_est:
        out.append(f"Limit Estimate (as sei -> 0):   b = {sp(rt.est, fcf(rt.est, digits))} (CI: {fcf(rt.ci_lb, digits)}, {fcf(rt.ci_ub, digits)})")
    out.append("")
    return out


def trimfill_lines(tf, digits: int = DIGITS, signif_stars: bool = True, metafor=None) -> list[str]:
    """metafor's ``print.rma.uni`` of a ``trimfill`` result: the estimated number of missing
    studies (and, for R0, its test) above the refitted model."""
    out = ["", f"Estimated number of missing studies on the {tf.side} side: {tf.k0} (SE = {fcf(tf.se_k0, digits)})"]
    if tf.estimator == "R0":
        out.append(f"Test of H0: no missing studies on the {tf.side} side:     {' ' * len(str(tf.k0))}p-val {fmt_p(tf.p_k0, digits, True, ' ')}")
    return out + rma_lines(tf.fit, digits, signif_stars, metafor)


#: metafor's leave1out columns and the digits each is printed with (print.list.rma)
_L1O = {"estimate": "est", "se": "se", "zval": "test", "tval": "test", "pval": "pval", "ci_lb": "ci", "ci_ub": "ci", "Q": "test", "Qp": "pval", "tau2": "var", "I2": "het", "H2": "het"}


def leave1out_lines(l1, digits: int = DIGITS, metafor=None, width: int = 80) -> list[str]:
    """metafor's ``print.list.rma`` of ``leave1out``: one row per left-out study (labelled
    ``-label`` from metafor 4.8-0 on), wrapped at ``width`` columns as R wraps a data frame."""
    frame = l1.summary_frame()
    cols = [c for c in frame.columns]
    heads = [c.replace("_", ".") for c in cols]
    rows = [[fcf(frame[c].iloc[i], digits) for c in cols] for i in range(len(frame))]
    labels = [str(s) for s in frame.index]
    if _specified_wording(metafor):
        labels = ["-" + s for s in labels]
    return [""] + table_lines(wrap_frame(rows, heads, labels, gap=1, width=width)) + [""]


def wrap_frame(rows, colnames, rownames, gap=1, width=80) -> list[str]:
    """:func:`print_frame`, with the columns split into blocks that fit ``width`` characters
    (R's printMatrix: a column joins the block while the line stays shorter than ``width``)."""
    ncol = len(colnames)
    widths = [max([len(colnames[j])] + [len(r[j]) for r in rows]) for j in range(ncol)]
    rw = max([0] + [len(r) for r in rownames])
    out, j = [], 0
    while j < ncol:
        used, jmax = rw + widths[j] + gap, j + 1
        while jmax < ncol and used + widths[jmax] + gap < width:
            used += widths[jmax] + gap
            jmax += 1
        out += print_frame([r[j:jmax] for r in rows], colnames[j:jmax], rownames, gap=gap)
        j = jmax
    return out


def escalc_lines(es, digits: int = DIGITS) -> list[str]:
    """metafor's ``print.escalc`` of the computed columns (yi, vi), one row per study."""
    rows = [[a, b] for a, b in zip(format_real_fixed(es.yi, digits), format_real_fixed(es.vi, digits))]
    return [""] + print_frame(rows, ["yi", "vi"], list(es.slab), gap=1) + [""]


def format_real_fixed(values, digits):
    return [fcf(v, digits) for v in np.asarray(values, float)]


# ---- robumeta -----------------------------------------------------------------------------

def robu_lines(fit, digits: int = 3) -> list[str]:
    """robumeta's ``print.robu`` (robumeta R/print.robu.R): header, model formula, sample sizes,
    the variance components and the coefficient table formatted as ``format(reg_table,
    digits = 3, scientific = FALSE)`` formats it."""
    small = " with Small-Sample Corrections" if fit.small else ""
    label = {"CORR": "RVE: Correlated Effects Model", "HIER": "RVE: Hierarchical Effects Model", "USER": "RVE: User Specified Weights"}[fit.modelweights]
    out = [f"{label}{small} " if fit.small else f"{label}  ", "", f"Model: {fit.formula} ", ""]
    k = np.asarray(fit.k)
    sizes = f"Number of outcomes = {int(k.sum())} (min = {int(k.min())} , mean = {r_num(k.mean(), 3)} , median = {r_num(float(np.median(k)))} , max = {int(k.max())} )"
    if fit.modelweights == "HIER":
        out += [f"Number of clusters = {fit.N} ", sizes, f"Omega.sq = {r_num(fit.omega_sq)} ", f"Tau.sq = {r_num(fit.tau_sq)} ", ""]
    elif fit.modelweights == "CORR":
        out += [f"Number of studies = {fit.N} ", sizes, f"Rho = {r_num(fit.rho)} ", f"I.sq = {r_num(fit.I_2)} ", f"Tau.sq = {r_num(fit.tau_sq)} ", ""]
    else:
        out += [f"Number of studies = {fit.N} ", sizes]
    cols = [format_real(getattr(fit, n), digits, scientific=False) for n in ("b_r", "SE", "t", "dfs", "prob", "CI_L", "CI_U")]
    rows = [[lab] + [c[i] for c in cols] + [fit.sig[i]] for i, lab in enumerate(fit.labels)]
    heads = ["", "Estimate", "StdErr", "t-value", "dfs", "P(|t|>)", "95% CI.L", "95% CI.U", "Sig"]
    out += print_frame(rows, heads, [str(i + 1) for i in range(len(rows))], gap=1)
    out += ["---", "Signif. codes: < .01 *** < .05 ** < .10 *", "---"]
    if fit.small:  # robumeta's mod_notice, written without a final newline
        out.append("Note: If df < 4, do not trust the results")
    return out


def _p_add0(p, digits: int = DIGITS) -> str:
    """metafor's ``fmtp(p, digits, equal = TRUE, sep = TRUE, add0 = TRUE)``: ``"= 0.1234"`` or ``"< 0.0001"``."""
    s = fmt_p(p, digits, True, " ")
    return s.replace("< .", "< 0.") if s.startswith("<") else s


def tables_lines(fit, digits: int = DIGITS) -> list[str]:
    """The lines of metafor's ``print.rma.mh`` / ``print.rma.peto`` (metafor R/print.rma.mh.r,
    R/print.rma.peto.r; the same layout in 3.8-1, 4.8-0 and 5.0-1) for an
    :class:`~harness.api.binary.RmaMhResult` / ``RmaPetoResult``."""
    d = digits
    out = ["", f"Equal-Effects Model (k = {fit.k})", ""]
    if not _isnan(fit.I2):
        out.append(f"I^2 (total heterogeneity / total variability):  {fcf(fit.I2, 2)}%")
    if not _isnan(fit.H2):
        out.append(f"H^2 (total variability / sampling variability): {fcf(fit.H2, 2)}")
    if not _isnan(fit.QE):
        df = int(fit.k_pos - 1) if fit.method == "PETO" else max(int(fit.k_yi) - 1, 0)
        out += ["", "Test for Heterogeneity: ", f"Q(df = {df}) = {fcf(fit.QE, d)}, p-val {fmt_p(fit.QEp, d, True, ' ')}"]
    if not (_isnan(fit.I2) and _isnan(fit.H2) and _isnan(fit.QE)):
        out.append("")
    names = ["estimate", "se", "zval", "pval", "ci.lb", "ci.ub"]
    cells = [fcf(fit.beta, d), fcf(fit.se, d), fcf(fit.zval, d), fmt_p(fit.pval, d), fcf(fit.ci_lb, d), fcf(fit.ci_ub, d)]
    measure = "OR" if fit.method == "PETO" else fit.measure
    if measure in ("OR", "RR"):
        out += ["Model Results (log scale):", ""] + table_lines(print_vector(cells, names))
        out += ["", f"Model Results ({measure} scale):", ""]
        out += table_lines(print_vector([fcf(math.exp(fit.beta), d), fcf(math.exp(fit.ci_lb), d), fcf(math.exp(fit.ci_ub), d)], ["estimate", "ci.lb", "ci.ub"]))
        if fit.method == "MH" and measure == "OR":
            mh, ta = fcf(fit.MH, d), fcf(fit.TA, d)
            width = 1 if _isnan(fit.MH) and _isnan(fit.TA) else max(len(x) for x, v in ((mh, fit.MH), (ta, fit.TA)) if not _isnan(v))
            out.append("")
            pad = " " * (len(str(int(fit.k_pos))) - 1)
            out.append("Cochran-Mantel-Haenszel Test:    " + ("test value not computable for these data" if _isnan(fit.MH)
                       else f"CMH = {mh.rjust(width)}, df = 1,{pad} p-val {_p_add0(fit.MHp, d)}"))
            out.append("Tarone's Test for Heterogeneity: " + ("test value not computable for these data" if _isnan(fit.TA)
                       else f"X^2 = {ta.rjust(width)}, df = {int(fit.k_pos) - 1}, p-val {_p_add0(fit.TAp, d)}"))
    else:
        out += ["Model Results:", ""] + table_lines(print_vector(cells, names))
    out.append("")
    return out
