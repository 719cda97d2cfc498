"""Typed, immutable results of the Python stats core.

Field names follow metafor's output with dots turned into underscores
(``ci.lb`` -> ``ci_lb``, ``se.tau2`` -> ``se_tau2``); I2 is a percentage as in
metafor. Every result has :meth:`summary_frame` (a pandas DataFrame); model
results also have :meth:`quantities` (the flat ``name -> float`` mapping the
comparison layer reads).

``print(result)`` shows what R prints for the same analysis (metafor's
``print.rma.uni``, ``print.confint.rma``, ``print.regtest``, ...; layout and
rounding in :mod:`harness.api.printing`), never the dataclass fields; in a
notebook, ``_repr_html_`` shows the same as a small HTML table.

Defaults: the post-fitting functions use metafor's own defaults (``confint``:
``tol = .Machine$double.eps^0.25``, ``maxiter = 1000``), so that a printed result is
what a user sees in R. The comparison layer (``metaharness verify``) passes its
own, tighter settings to the core functions instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from . import printing

#: metafor's ``confint`` defaults (R/confint.rma.uni.r: ``tol = .Machine$double.eps^0.25``, ``maxiter = 1000``)
CONFINT_TOL = np.finfo(float).eps ** 0.25
CONFINT_MAXITER = 1000


class ConfidenceInterval(NamedTuple):
    low: float
    high: float


class Interval(NamedTuple):
    """An estimate with its confidence bounds (a row of metafor's ``confint`` table)."""

    estimate: float
    ci_lb: float
    ci_ub: float


class _Printed:
    """``str``/``repr`` as R prints the result, ``_repr_html_`` for notebooks."""

    def _lines(self) -> list[str]:  # pragma: no cover - each result defines it
        raise NotImplementedError

    def format(self, **kw) -> str:
        """The printed result (R's layout) as one string; keywords as each ``_lines``."""
        return "\n".join(self._lines(**kw))

    def __str__(self):
        return self.format()

    def __repr__(self):
        return self.format()

    def _repr_html_(self):
        lines = self._lines()
        return "<pre class=\"metaharness-result\">" + printing.html.escape("\n".join(lines).strip("\n")) + "</pre>"


def _f(x):
    return float(x) if x is not None else float("nan")


@dataclass(frozen=True, repr=False)
class EscalcResult(_Printed):
    """Per-study effect sizes, as ``metafor::escalc`` returns them."""

    measure: str
    yi: np.ndarray
    vi: np.ndarray
    slab: tuple[str, ...]
    vtype: str = "LS"
    convention: str = "metafor"
    #: per-study CI bounds as another engine reported them (None: computed here)
    ci_bounds: tuple | None = None
    #: labels of the studies left out (missing values, or an effect size that cannot be computed)
    omitted: tuple[str, ...] = ()
    #: positions of the kept studies in the input (so that ``rma(es, mods=..., data=df)`` aligns)
    rows: tuple[int, ...] | None = None

    @property
    def sei(self):
        return np.sqrt(self.vi)

    @property
    def k(self):
        return len(self.yi)

    def ci(self, level=95):
        """Per-study normal CI, as ``summary(escalc(...))`` gives (ci.lb, ci.ub)."""
        from ..core import distributions as stats  # scipy.stats' functions, without importing scipy.stats

        from ..core.rma import level_to_alpha

        if self.ci_bounds is not None and level == 95:
            return self.ci_bounds
        crit = stats.norm.isf(level_to_alpha(level) / 2)
        return self.yi - crit * self.sei, self.yi + crit * self.sei

    def _lines(self, digits=printing.DIGITS):
        return printing.escalc_lines(self, digits)

    def summary_frame(self, level=95) -> pd.DataFrame:
        lb, ub = self.ci(level)
        return pd.DataFrame({"yi": self.yi, "vi": self.vi, "sei": self.sei, "ci_lb": lb, "ci_ub": ub}, index=pd.Index(self.slab, name="study"))

    def quantities(self) -> dict[str, float]:
        out = {}
        lb, ub = self.ci()
        for name, arr in (("yi", self.yi), ("vi", self.vi), ("yi_ci_lb", lb), ("yi_ci_ub", ub)):
            for lab, x in zip(self.slab, np.asarray(arr, dtype=float).tolist()):  # (tolist: the same floats, at once)
                out[f"{name}[{lab}]"] = x
        return out


@dataclass(frozen=True, repr=False)
class RmaResult(_Printed):
    """Result of :func:`harness.rma` (metafor ``rma.uni``).

    ``print(fit)`` prints as metafor's ``print.rma.uni``. For an intercept-only
    model, :attr:`estimate` is the pooled estimate as a float
    (``f"{fit.estimate:.2f}"``); :meth:`coef` gives every coefficient as a labelled
    pandas Series (metafor's ``coef(fit)``); ``beta``, ``se``, ... stay arrays
    (one entry per coefficient, as metafor's ``fit$beta``).
    """

    beta: np.ndarray
    se: np.ndarray
    zval: np.ndarray
    pval: np.ndarray
    ci_lb: np.ndarray
    ci_ub: np.ndarray
    vb: np.ndarray
    coef_names: tuple[str, ...]
    tau2: float
    se_tau2: float
    QE: float
    QEp: float
    I2: float
    H2: float
    vt: float
    QM: float
    QMp: float
    QMdf: tuple[float, float]
    k: int
    p: int
    ddf: float
    method: str
    test: str
    level: float
    weights: np.ndarray
    slab: tuple[str, ...]
    yi: np.ndarray
    vi: np.ndarray
    converged: bool
    iterations: int
    R2: float = float("nan")  # meta-regressions with an intercept (metafor R2, percent)
    X: np.ndarray | None = None  # model matrix (needed by predict/leave1out/...)
    user_weights: np.ndarray | None = None
    control: dict | None = None
    tau2_fixed: bool = False
    #: metafor's ll0check set tau^2 to 0 (ML/REML stuck at a local maximum; metafor warns)
    ll0_reset: bool = False
    #: 0-based indices of the coefficients tested by QM (None: metafor's default btt)
    btt: tuple[int, ...] | None = None
    #: labels of the studies left out (``na_action="omit"``), as metafor's ``na.omit`` leaves them out
    omitted: tuple[str, ...] = ()
    #: warnings issued while fitting (metafor's warnings, same text)
    warnings: tuple[str, ...] = ()
    #: the metafor release whose behaviour the fit reproduces (``harness.core.versions``)
    metafor: str | None = None

    # ---- printing and scalar access -------------------------------------------------------
    def _lines(self, digits=printing.DIGITS, signif_stars=True, metafor=None):
        return printing.rma_lines(self, digits, signif_stars, metafor)

    def tested_coefficients(self) -> tuple[int, ...]:
        """0-based indices of the coefficients in the omnibus test QM (metafor's ``btt``)."""
        if self.btt is not None:
            return tuple(int(b) for b in self.btt)
        from ..core.rma import default_btt

        return tuple(int(b) for b in default_btt(self.p, "intrcpt" in self.coef_names))

    @property
    def estimate(self) -> float:
        """The pooled estimate of an intercept-only model, as a float.

        The name is the column metafor prints it under ("estimate"). A model with
        moderators has no single estimate: use :meth:`coef` or ``beta``."""
        if not self.intercept_only:
            raise AttributeError(f"`estimate` is the pooled estimate of an intercept-only model; this model has coefficients {', '.join(self.coef_names)}: use fit.coef() or fit.beta")
        return float(self.beta[0])

    def coef(self) -> pd.Series:
        """The coefficients as a pandas Series indexed by their names (metafor ``coef(fit)``)."""
        return pd.Series(np.asarray(self.beta, float), index=pd.Index(self.coef_names), name="estimate")

    @property
    def intercept_only(self):
        return self.p == 1 and self.coef_names == ("intrcpt",)

    def confidence_interval(self) -> ConfidenceInterval:
        """CI of the first coefficient (the pooled effect in intercept-only models)."""
        return ConfidenceInterval(float(self.ci_lb[0]), float(self.ci_ub[0]))

    def summary_frame(self) -> pd.DataFrame:
        """Coefficient rows (beta, se, zval, pval, ci_lb, ci_ub)."""
        stat = "zval" if self.test == "z" else "tval"
        return pd.DataFrame(
            {"beta": self.beta, "se": self.se, stat: self.zval, "pval": self.pval, "ci_lb": self.ci_lb, "ci_ub": self.ci_ub},
            index=pd.Index(self.coef_names, name="coef"),
        )

    def quantities(self) -> dict[str, float]:
        """Flat ``name -> float`` mapping compared against R.

        Coefficient quantities are ``beta``, ``se`` ... for an intercept-only
        model and ``beta[name]`` ... otherwise; per-study weights are
        ``weights[label]`` (percent).
        """
        out: dict[str, float] = {}
        single = self.intercept_only
        for name in ("beta", "se", "zval", "pval", "ci_lb", "ci_ub"):
            arr = getattr(self, name)
            for cname, x in zip(self.coef_names, arr):
                out[name if single else f"{name}[{cname}]"] = float(x)
        for name in ("tau2", "se_tau2", "QE", "QEp", "I2", "H2"):
            out[name] = _f(getattr(self, name))
        for j, a in enumerate(self.coef_names):
            for l, b in enumerate(self.coef_names):
                if l >= j:
                    out["vb" if single else f"vb[{a},{b}]"] = float(self.vb[j, l])
        out["p"] = float(self.p)
        if not single:
            out["QM"] = _f(self.QM)
            out["QMp"] = _f(self.QMp)
            if self.p > 1 and "intrcpt" in self.coef_names:
                out["R2"] = _f(self.R2)
        out["k"] = float(self.k)
        for lab, x in zip(self.slab, self.weights):
            out[f"weights[{lab}]"] = float(x)
        return out

    # ---- post-fitting functions (metafor predict / confint / leave1out / regtest / trimfill) ----
    def _alpha(self):
        from ..core.rma import level_to_alpha

        return level_to_alpha(self.level)

    def _require_X(self):
        if self.X is None:
            raise ValueError("this result carries no model matrix (it was not fitted by harness.rma)")
        return self.X

    def predict(self, newmods=None, newvi=0.0) -> pd.DataFrame:
        """metafor ``predict``: pred, se, CI and prediction interval (not for FE models).

        ``newmods``: rows of moderator values (intercept excluded); default: the
        pooled estimate (intercept-only) or the fitted value of every study."""
        from ..core.predict import predict_arrays

        X = self._require_X()
        has_int = "intrcpt" in self.coef_names
        if newmods is not None:
            rows = np.atleast_2d(np.asarray(newmods, float))
            if rows.shape[0] == 1 and rows.shape[1] != self.p - has_int:
                rows = rows.T
            Xn = np.column_stack([np.ones(len(rows)), rows]) if has_int else rows
            index = [f"new{i + 1}" for i in range(len(rows))]
        elif self.intercept_only:
            Xn, index = np.ones((1, 1)), ["pooled"]
        else:
            Xn, index = X, list(self.slab)
        p = predict_arrays(self.beta, self.vb, self.tau2, Xn, test=self.test, alpha=self._alpha(), ddf=self.k - self.p, newvi=newvi)
        if self.method in ("FE", "EE", "CE"):
            del p["pi_lb"], p["pi_ub"]
        return pd.DataFrame(p, index=pd.Index(index, name="row"))

    def forest(self, *, measure: str = "", log_scale: bool = False, favours=None, title=None, digits: int = 2):
        """The forest plot in RevMan's layout, a matplotlib Figure (the HTML report's code:
        :func:`harness.reports.fitplots.rma_forest`): the studies, the pooled diamond with its
        prediction interval (random effects), the heterogeneity and overall-effect lines.
        ``log_scale=True`` for log ratios (drawn exponentiated on a log axis); ``favours`` the two
        labels under the axis; ``fit.forest().savefig("forest.png", dpi=150)``."""
        from ..reports.fitplots import rma_forest

        return rma_forest(self, measure=measure, log_scale=log_scale, favours=favours, title=title, digits=digits)

    def confint(self, level=None, fixed=False, tol=CONFINT_TOL, maxiter=CONFINT_MAXITER) -> "ConfintResult":
        """metafor ``confint``: CI of tau^2 (and tau, I^2, H^2) by the Q-profile method
        (Viechtbauer 2007), or, for a ``method="GENQ"`` model, by the generalised Q
        statistic's distribution (Jackson, Turner, Rhodes & Viechtbauer 2014), as metafor
        chooses by default. ``fixed=True`` adds the coefficients' CIs (as metafor's
        ``confint(fit, fixed = TRUE)``).

        Defaults are metafor's (``tol = eps^0.25``, ``maxiter = 1000``), so the bounds
        printed are those R prints; ``tol`` can be tightened."""
        from ..core.confint import confint_tau2, confint_tau2_genq
        from ..core.rma import FE_METHODS, level_to_alpha

        if self.k == 1:
            raise ValueError("Stopped because k = 1.")
        if self.method in FE_METHODS:
            raise ValueError("Model does not contain a random-effects component.")
        if self.tau2_fixed:
            raise ValueError("Model does not contain an estimated random-effects component.")
        if not np.all(self.vi > 0) and self.method not in ("GENQ", "GENQM"):
            raise ValueError("Cannot compute CI for tau^2 when there are non-positive sampling variances in the data.")
        lev = self.level if level is None else level
        alpha = level_to_alpha(lev)
        ctrl = self.control or {}
        kw = dict(alpha=alpha, tol=tol, maxiter=maxiter, tau2_min=ctrl.get("tau2_min"), tau2_max=ctrl.get("tau2_max"))
        if self.method in ("GENQ", "GENQM"):
            c, kind = confint_tau2_genq(self.yi, self.vi, self._require_X(), self.user_weights, self.tau2, self.vt, **kw), "GENQ"
        else:
            c, kind = confint_tau2(self.yi, self.vi, self._require_X(), self.tau2, self.vt, **kw), "QP"
        lb, ub = (float(x) for x in c["tau2"])
        tau = lambda t: float(np.sqrt(t)) if t >= 0 else float("nan")  # noqa: E731
        fx = None
        if fixed:
            from ..core.predict import critical_value

            crit = float(critical_value(self.test, alpha, self.k - self.p))
            fx = pd.DataFrame({"estimate": self.beta, "ci_lb": self.beta - crit * self.se, "ci_ub": self.beta + crit * self.se}, index=pd.Index(self.coef_names))
        return ConfintResult(
            tau2=Interval(self.tau2, lb, ub), tau=Interval(tau(self.tau2), tau(lb), tau(ub)),
            I2=Interval(self.I2, float(c["I2"][0]), float(c["I2"][1])), H2=Interval(self.H2, float(c["H2"][0]), float(c["H2"][1])),
            lb_sign=c["lb_sign"], ub_sign=c["ub_sign"], ci_null=bool(c["ci_null"]), type=kind, level=lev, fixed=fx,
        )

    def leave1out(self) -> "Leave1outResult":
        """metafor ``leave1out`` (intercept-only models): one refit per left-out study."""
        from ..core.influence import leave1out_arrays

        if not self.intercept_only:
            raise ValueError("leave1out is available for models without moderators only (as in metafor)")
        out = leave1out_arrays(self.yi, self.vi, method=self.method, test=self.test, level=self.level, control=self.control, weights=self.user_weights)
        nan = np.full(self.k, np.nan)
        return Leave1outResult(slab=self.slab, test=self.test, tau2=out.get("tau2", nan), **{n: out[n] for n in ("estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "Q", "Qp", "I2", "H2")},
                               has_tau2="tau2" in out)

    def regtest(self) -> "RegtestResult":
        """metafor ``regtest`` (model "rma", predictor "sei"): the test of funnel-plot
        asymmetry and, for intercept-only models, the limit estimate as sei -> 0."""
        from ..core.bias import regtest_arrays

        r = regtest_arrays(self.yi, self.vi, self._require_X(), method=self.method, test=self.test, level=self.level, control=self.control, weights=self.user_weights)
        return RegtestResult(zval=r["zval"], pval=r["pval"], ddf=r["ddf"] if self.test != "z" else float("nan"), est=r["est"], ci_lb=r["ci_lb"], ci_ub=r["ci_ub"], method=self.method, predictor="sei", model="rma")

    def trimfill(self, estimator="L0", side=None) -> "TrimfillResult":
        """metafor ``trimfill`` (intercept-only models): the estimated number of missing
        studies and the model refitted on the filled data (an :class:`RmaResult`; the
        original model when no study is filled, as metafor returns it)."""
        from ..core.bias import trimfill_arrays

        if not self.intercept_only:
            raise ValueError("trim and fill is available for models without moderators only (as in metafor)")
        from ..core.versions import conventions

        conv = conventions(self.metafor)
        t = trimfill_arrays(self.yi, self.vi, method=self.method, estimator=estimator, side=side, control=self.control, weights=self.user_weights,
                            final_default_control=conv.trimfill_final_default_control)
        k0 = int(t["k0"])
        if k0 == 0:
            refit = self
            fill = np.zeros(self.k, bool)
        else:
            from .univariate import rma as _rma

            labels = tuple(self.slab) + tuple(f"Filled {j + 1}" for j in range(k0))
            # metafor refits with the model's method and its own defaults for test and level (z, 95)
            # (metafor >= 4.8-0 refits with rma.uni's default control, whatever the model's)
            control = None if conv.trimfill_final_default_control else self.control
            refit = _rma(t["yi_fill"], t["vi_fill"], method=self.method, control=control, weights=t["weights_fill"], slab=labels,
                         metafor=conv.version.text)
            fill = np.r_[np.zeros(self.k, bool), np.ones(k0, bool)]
        return TrimfillResult(k0=k0, se_k0=float(t["se_k0"]), side=t["side"], p_k0=float(t["p_k0"]), estimator=estimator, fit=refit, fill=fill)


@dataclass(frozen=True, repr=False)
class ConfintResult(_Printed):
    """metafor ``confint`` of an rma model: ``tau2``, ``tau``, ``I2``, ``H2`` (each an
    :class:`Interval`: estimate, ci_lb, ci_ub), metafor's ``lb.sign``/``ub.sign``
    ("<" or ">" where a bound is the search interval's end), ``ci.null``, the CI
    ``type`` ("QP" or "GENQ"), and the coefficients' CIs when asked (``fixed``)."""

    ROWS = ("tau^2", "tau", "I^2(%)", "H^2")

    tau2: Interval
    tau: Interval
    I2: Interval
    H2: Interval
    lb_sign: str
    ub_sign: str
    ci_null: bool
    type: str
    level: float
    fixed: pd.DataFrame | None = None

    def _lines(self, digits=printing.DIGITS):
        return printing.confint_lines(self, digits)

    def summary_frame(self) -> pd.DataFrame:
        """metafor's ``random`` table: rows tau^2, tau, I^2(%), H^2; columns estimate, ci_lb, ci_ub."""
        return pd.DataFrame([self.tau2, self.tau, self.I2, self.H2], index=pd.Index(self.ROWS), columns=["estimate", "ci_lb", "ci_ub"])


@dataclass(frozen=True, repr=False)
class RegtestResult(_Printed):
    """metafor ``regtest``: the funnel-plot asymmetry test (``zval``, or t with ``ddf``
    df, and ``pval``) and the limit estimate ``est`` with its CI (intercept-only models)."""

    zval: float
    pval: float
    ddf: float
    est: float
    ci_lb: float
    ci_ub: float
    method: str
    predictor: str = "sei"
    model: str = "rma"

    def _lines(self, digits=printing.DIGITS, metafor=None):
        return printing.regtest_lines(self, digits, metafor)

    def summary_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"zval": self.zval, "pval": self.pval, "ddf": self.ddf, "est": self.est, "ci_lb": self.ci_lb, "ci_ub": self.ci_ub}], index=pd.Index(["regtest"]))


@dataclass(frozen=True, repr=False)
class TrimfillResult(_Printed):
    """metafor ``trimfill``: ``k0`` (estimated number of missing studies) with ``se_k0``, the
    ``side`` they are missing on, ``p_k0`` (R0's test), and ``fit``, the :class:`RmaResult`
    of the filled data (``fit.slab`` names the filled studies "Filled 1", ...; ``fill``
    marks them), which is the original model when k0 = 0."""

    k0: int
    se_k0: float
    side: str
    p_k0: float
    estimator: str
    fit: RmaResult
    fill: np.ndarray

    def _lines(self, digits=printing.DIGITS, signif_stars=True, metafor=None):
        return printing.trimfill_lines(self, digits, signif_stars, metafor)

    def summary_frame(self) -> pd.DataFrame:
        """The filled data: yi, vi and ``fill`` (True for an imputed study), one row per study."""
        return pd.DataFrame({"yi": self.fit.yi, "vi": self.fit.vi, "fill": self.fill}, index=pd.Index(self.fit.slab, name="study"))


@dataclass(frozen=True, repr=False)
class Leave1outResult(_Printed):
    """metafor ``leave1out``: one row per study left out (``slab``), with the refit's
    estimate, se, zval (tval under t-based tests), pval, ci_lb, ci_ub, Q, Qp, tau2
    (not for FE models), I2 and H2."""

    slab: tuple[str, ...]
    test: str
    estimate: np.ndarray
    se: np.ndarray
    zval: np.ndarray
    pval: np.ndarray
    ci_lb: np.ndarray
    ci_ub: np.ndarray
    Q: np.ndarray
    Qp: np.ndarray
    tau2: np.ndarray
    I2: np.ndarray
    H2: np.ndarray
    has_tau2: bool = True

    def _lines(self, digits=printing.DIGITS, metafor=None):
        return printing.leave1out_lines(self, digits, metafor)

    def summary_frame(self) -> pd.DataFrame:
        stat = "zval" if self.test == "z" else "tval"
        cols = {"estimate": self.estimate, "se": self.se, stat: self.zval, "pval": self.pval, "ci_lb": self.ci_lb, "ci_ub": self.ci_ub, "Q": self.Q, "Qp": self.Qp}
        if self.has_tau2:
            cols["tau2"] = self.tau2
        cols.update(I2=self.I2, H2=self.H2)
        return pd.DataFrame(cols, index=pd.Index(self.slab, name="left out"))
