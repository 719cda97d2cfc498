"""Typed, immutable results of the Python stats core.

Field names follow metafor's output with dots turned into underscores
(``ci.lb`` -> ``ci_lb``, ``se.tau2`` -> ``se_tau2``); I2 is a percentage as in
metafor. Every result has :meth:`summary_frame` (a pandas DataFrame) and
:meth:`quantities` (the flat ``name -> float`` mapping the comparison layer
reads).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd


class ConfidenceInterval(NamedTuple):
    low: float
    high: float


def _f(x):
    return float(x) if x is not None else float("nan")


@dataclass(frozen=True)
class EscalcResult:
    """Per-study effect sizes, as ``metafor::escalc`` returns them."""

    measure: str
    yi: np.ndarray
    vi: np.ndarray
    slab: tuple[str, ...]
    vtype: str = "LS"
    convention: str = "metafor"
    #: per-study CI bounds as another engine reported them (None: computed here)
    ci_bounds: tuple | None = None

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

    def summary_frame(self, level=95) -> pd.DataFrame:
        lb, ub = self.ci(level)
        return pd.DataFrame({"yi": self.yi, "vi": self.vi, "sei": self.sei, "ci_lb": lb, "ci_ub": ub}, index=pd.Index(self.slab, name="study"))

    def quantities(self) -> dict[str, float]:
        out = {}
        lb, ub = self.ci()
        for name, arr in (("yi", self.yi), ("vi", self.vi), ("yi_ci_lb", lb), ("yi_ci_ub", ub)):
            for lab, x in zip(self.slab, arr):
                out[f"{name}[{lab}]"] = float(x)
        return out


@dataclass(frozen=True)
class RmaResult:
    """Result of :func:`harness.rma` (metafor ``rma.uni``)."""

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

    def confint(self, tol=1e-12):
        """Q-profile CI of tau^2 and the derived I^2, H^2 CIs (metafor ``confint``):
        ``{"tau2": (lb, ub), "I2": ..., "H2": ..., "lb_sign", "ub_sign", "ci_null"}``."""
        from ..core.confint import confint_tau2

        if self.method in ("FE", "EE", "CE") or self.tau2_fixed:
            raise ValueError("the model has no estimated random-effects component")
        return confint_tau2(self.yi, self.vi, self._require_X(), self.tau2, self.vt, alpha=self._alpha(), tol=tol)

    def leave1out(self) -> pd.DataFrame:
        """metafor ``leave1out`` (intercept-only models): one row per left-out study."""
        from ..core.influence import leave1out_arrays

        if not self.intercept_only:
            raise ValueError("leave1out is available for models without moderators only (as in metafor)")
        out = leave1out_arrays(self.yi, self.vi, method=self.method, test=self.test, level=self.level, control=self.control, weights=self.user_weights)
        return pd.DataFrame(out, index=pd.Index(self.slab, name="left out"))

    def regtest(self) -> dict:
        """metafor ``regtest`` (model "rma", predictor "sei"): zval, pval, ddf, est, ci_lb, ci_ub."""
        from ..core.bias import regtest_arrays

        return regtest_arrays(self.yi, self.vi, self._require_X(), method=self.method, test=self.test, level=self.level, control=self.control, weights=self.user_weights)

    def trimfill(self, estimator="L0", side=None) -> dict:
        """metafor ``trimfill`` (intercept-only): k0, se_k0, side, p_k0 and the refitted
        model on the filled data (``fit``: rma_arrays output; None when k0 = 0)."""
        from ..core.bias import trimfill_arrays

        if not self.intercept_only:
            raise ValueError("trim and fill is available for models without moderators only (as in metafor)")
        return trimfill_arrays(self.yi, self.vi, method=self.method, estimator=estimator, side=side, control=self.control, weights=self.user_weights)
