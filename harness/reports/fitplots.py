"""Forest plots of fitted models from the Python API (``fit.forest()``), in RevMan's layout.

The functions turn a result of :func:`harness.rma` (:class:`~harness.api.results.RmaResult`)
or :func:`harness.robu` (:class:`~harness.api.rve.RobuResult`) into the plain
:class:`~harness.reports.forest.ForestPlot` the report draws too, and draw it
with :func:`harness.reports.forest.draw` (a matplotlib Figure): the same code
as the HTML report, so a notebook shows what the report shows.

* An intercept-only ``rma`` model: the studies (estimate, CI with the model's
  level and normal quantile, as metafor's ``forest.rma`` draws them; weight in
  percent), the pooled diamond "Total (95% CI)" with the prediction interval of
  a random-effects model as a dashed line (metafor's ``addpred``), and under it
  RevMan's heterogeneity line (Tau² for random-effects models only) and the
  test of the pooled estimate (Z, or t with its df for the Knapp-Hartung and t
  tests).
* A meta-regression: the studies, no diamond (no single pooled estimate);
  :func:`coefficient_forest` draws its coefficients.
* ``robu``: the coefficients with their CIs (robumeta's ``reg_table``), and the
  studies when their effect sizes are given (robumeta keeps no copy of them).

``log_scale=True`` for effects on a log scale (log RR, log OR, log ROM): the
estimates are exponentiated and drawn on a logarithmic axis, as metafor's
``forest(..., atransf=exp)`` and RevMan draw ratio measures.
"""
from __future__ import annotations

import math

from . import forest as F

FE = ("FE", "EE", "CE")


def _z(level) -> float:
    from scipy import stats

    lv = float(level)
    return float(stats.norm.isf((1 - (lv / 100 if lv > 1 else lv)) / 2))


def _pct(level) -> float:
    lv = float(level)
    return lv * 100 if lv <= 1 else lv


def rma_plot(fit, *, measure: str = "", log_scale: bool = False, favours=None, title=None, digits: int = 2) -> F.ForestPlot:
    """The :class:`~harness.reports.forest.ForestPlot` of an ``rma`` fit (see the module docstring)."""
    tr = (lambda v: None if v is None else math.exp(v)) if log_scale else (lambda v: v)  # noqa: E731
    z = _z(fit.level)
    lvl = _pct(fit.level)
    weights = list(getattr(fit, "weights", None) if getattr(fit, "weights", None) is not None else [None] * len(fit.yi))
    studies = []
    for lab, y, v, w in zip(fit.slab, fit.yi, fit.vi, weights):
        s = math.sqrt(v) if v is not None and v >= 0 else None
        studies.append(F.ForestStudy(str(lab), tr(float(y)), tr(y - z * s) if s is not None else None, tr(y + z * s) if s is not None else None,
                                     weight=None if w is None else float(w)))
    fixed = fit.method in FE
    model = "fixed effect" if fixed else f"random effects ({fit.method})"
    overall, notes = None, ()
    if fit.intercept_only:
        t_test = fit.test != "z"
        het = F.heterogeneity_text(None if fixed else fit.tau2, fit.QE, fit.k - fit.p, fit.QEp, fit.I2)
        test = F.overall_text(float(fit.zval[0]), float(fit.pval[0]), stat="t" if t_test else "Z", df=fit.k - fit.p if t_test else None)
        pi_lb = pi_ub = None
        if not fixed and getattr(fit, "X", None) is not None:
            pr = fit.predict()
            pi_lb, pi_ub = float(pr["pi_lb"].iloc[0]), float(pr["pi_ub"].iloc[0])
        overall = F.ForestPooled(f"Total ({lvl:g}% CI)", tr(float(fit.beta[0])), tr(float(fit.ci_lb[0])), tr(float(fit.ci_ub[0])),
                                 weight=100.0 if any(w is not None for w in weights) else None, heterogeneity=het, overall=test,
                                 pi_lb=tr(pi_lb), pi_ub=tr(pi_ub))
    else:
        notes = (f"A meta-regression on {', '.join(n for n in fit.coef_names if n != 'intrcpt')}: no single pooled estimate "
                 "(fit.coefficient_forest() draws the coefficients).",)
    return F.ForestPlot((F.ForestGroup(None, tuple(studies)),), overall=overall, measure=measure, log_scale=log_scale,
                        favours=tuple(favours) if favours else None, title=title, model=model, level=lvl, digits=digits, notes=notes)


def rma_forest(fit, **kw):
    """An ``rma`` fit's forest plot as a matplotlib Figure (:func:`rma_plot`'s keywords)."""
    return F.draw(rma_plot(fit, **kw))


def coefficient_plot(names, est, lb, ub, *, level=95.0, title=None, model="", digits=2) -> F.ForestPlot:
    """Coefficients with their CIs as a forest plot (one row each, the line of no effect at 0)."""
    rows = tuple(F.ForestStudy(str(n), float(e), float(a), float(b)) for n, e, a, b in zip(names, est, lb, ub))
    return F.ForestPlot((F.ForestGroup(None, rows),), measure="Coefficient", model=model, level=_pct(level), title=title, digits=digits,
                        label_header="Coefficient")


def rma_coefficients(fit, **kw):
    """A fit's coefficients (``beta`` with ``ci_lb``, ``ci_ub``) as a forest plot Figure."""
    model = "fixed effect" if fit.method in FE else f"random effects ({fit.method})"
    return F.draw(coefficient_plot(fit.coef_names, fit.beta, fit.ci_lb, fit.ci_ub, level=fit.level, model=model, **kw))


def robu_forest(fit, yi=None, vi=None, slab=None, *, measure: str = "", favours=None, title=None, digits: int = 2):
    """A ``robu`` fit as a forest plot Figure: an intercept-only model's pooled estimate (with its t test
    and Tau², I²) under the studies when ``yi``/``vi`` are given, else its coefficients."""
    model = f"RVE ({fit.modelweights})"
    intercept_only = len(fit.labels) == 1
    if yi is None or vi is None or not intercept_only:
        return F.draw(coefficient_plot(fit.labels, fit.b_r, fit.CI_L, fit.CI_U, title=title, model=model, digits=digits))
    z = _z(95)
    labels = list(slab) if slab is not None else [str(i + 1) for i in range(len(yi))]
    if len(labels) != len(yi) or len(vi) != len(yi):
        raise ValueError(f"yi, vi and slab must have one entry per effect size ({fit.M}); got {len(yi)}, {len(vi)}, {len(labels)}")
    studies = tuple(F.ForestStudy(str(lab), float(y), float(y) - z * math.sqrt(v), float(y) + z * math.sqrt(v)) for lab, y, v in zip(labels, yi, vi))
    het = F.heterogeneity_text(fit.tau_sq, None, None, None, fit.I_2)
    test = F.overall_text(float(fit.t[0]), float(fit.prob[0]), stat="t", df=float(fit.dfs[0]))
    total = F.ForestPooled("Total (95% CI)", float(fit.b_r[0]), float(fit.CI_L[0]), float(fit.CI_U[0]), heterogeneity=het, overall=test)
    notes = ("Study rows: the effect sizes given, with normal-quantile CIs; the diamond: robust variance estimation (t test, small-sample df).",)
    return F.draw(F.ForestPlot((F.ForestGroup(None, studies),), overall=total, measure=measure, favours=tuple(favours) if favours else None,
                               title=title, model=model, digits=digits, notes=notes))
