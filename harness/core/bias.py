"""Small-study effects: Egger-type regression test and trim and fill
(metafor ``regtest`` and ``trimfill.rma.uni``, 3.8-1).

References
----------
.. [1] Egger M, Davey Smith G, Schneider M, Minder C (1997). Bias in
       meta-analysis detected by a simple, graphical test. BMJ 315:629-634.
.. [2] Sterne JAC, Egger M (2005). Regression methods to detect publication
       and other bias in meta-analysis. In: Publication bias in meta-analysis.
.. [3] Duval S, Tweedie R (2000). Trim and fill: a simple funnel-plot-based
       method of testing and adjusting for publication bias in meta-analysis.
       Biometrics 56:455-463. Duval S, Tweedie R (2000). A nonparametric
       "trim and fill" method ... JASA 95:89-98.
"""
from __future__ import annotations

import numpy as np

from . import distributions as stats  # scipy.stats' functions, without importing scipy.stats

from .rma import rma_arrays


def regtest_arrays(yi, vi, X=None, method="REML", test="z", level=95, control=None, weights=None, tau2=None):
    """metafor's default ``regtest(fit)``: ``model="rma"``, ``predictor="sei"``.

    The model is refitted with :math:`\\sqrt{v_i}` added as the last column of
    X (same method, test, level, control, weights); the test statistic and
    p-value are those of that coefficient (z, or t with k - p - 1 df under the
    t-based tests). For intercept-only models the intercept of the refit is the
    "limit estimate" (the effect as :math:`SE \\to 0`) with its CI.

    Returns ``zval, pval, ddf, est, ci_lb, ci_ub`` (est/CI NaN with moderators).
    """
    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    k = yi.shape[-1]
    X = np.ones((k, 1)) if X is None else np.asarray(X, float)
    Xs = np.column_stack([X, np.sqrt(vi)])
    r = rma_arrays(yi, vi, Xs, method=method, test=test, level=level, control=control, weights=weights, tau2=tau2, r2=False)
    if not bool(r["converged"]):
        raise ArithmeticError(f"regtest: the refit ({method}) did not converge")
    int_only = X.shape[1] == 1 and np.all(X[:, 0] == 1)
    nan = float("nan")
    return {
        "zval": float(r["zval"][-1]),
        "pval": float(r["pval"][-1]),
        "ddf": float(r["ddf"]),
        "est": float(r["beta"][0]) if int_only else nan,
        "ci_lb": float(r["ci_lb"][0]) if int_only else nan,
        "ci_ub": float(r["ci_ub"][0]) if int_only else nan,
    }


def _rank_first(x):
    """R's ``rank(x, ties.method = "first")``."""
    return stats.rankdata(x, method="ordinal").astype(float)


def _fit_beta(y, v, w, method, control):
    r = rma_arrays(y, v, None, method=method, control=control, weights=w, r2=False)
    if not bool(r["converged"]):
        raise ArithmeticError(f"trimfill: a fit ({method}) did not converge")
    return r


def trimfill_arrays(yi, vi, method="REML", estimator="L0", side=None, control=None, weights=None, maxiter=100, final_default_control=True):
    """Trim and fill for an intercept-only model [3]_, as metafor does it (R/trimfill.rma.uni.r).

    * Side (unless given): fit ``yi ~ sqrt(vi)`` with the same method; a
      negative slope means the missing studies are on the right, else left.
      For ``"right"`` the outcomes are negated; then they are sorted (stably).
    * Iterate until k0 stops changing (at most ``maxiter`` times): fit the
      k - k0 smallest values, centre all at that :math:`\\hat\\beta`, rank the
      absolute centred values (ties by position, R's ``ties.method="first"``)
      and sign the ranks. L0: :math:`k_0 = (4S_r - k(k+1))/(2k-1)` with
      :math:`S_r` the sum of positive signed ranks; R0: :math:`k_0 = k - r^* - 1`
      with :math:`r^*` the largest rank of a negative value;
      :math:`k_0 \\leftarrow \\max(0, \\mathrm{round}(k_0))` (half to even, as R).
    * SE of k0: L0 :math:`4\\sqrt{\\operatorname{Var}(S_r)}/(2k-1)` with
      :math:`\\operatorname{Var}(S_r) = [k(k+1)(2k+1) + 10k_0^3 + 27k_0^2 + 17k_0 - 18kk_0^2 - 18kk_0 + 6k^2k_0]/24`;
      R0 :math:`\\sqrt{2\\max(0,k_0) + 2}`. R0 also gives
      :math:`p(k_0) = 1 - \\sum_{m=-1}^{k_0-1} 0.5^{m+2}`.
    * Fill: the k0 largest centred values mirrored about :math:`\\hat\\beta`,
      with the same vi, appended to the data; refit with the same method and
      ``test="z"``, level 95 (metafor 3.8-1 passes neither test nor level to
      the final fit). With k0 = 0 the original model is returned (by the caller).

    ``control`` is used by the side fit and every fit of the iteration
    (metafor >= 4.8-0 refits with the model's own control; for 3.8-1 the R twin
    passes it through ``trimfill(..., control=)``, else 3.8-1 would use its
    defaults there). The final fit of the filled data uses ``control`` too when
    ``final_default_control=False`` (3.8-1 with ``control`` passed through
    ``...``); with ``True`` (metafor >= 4.8-0, where the final refit gets only
    ``...``, and ``control`` cannot be passed there without clashing with the
    model's) it uses rma.uni's default control (threshold 1e-5, maxiter 100).

    Returns a dict: ``k0, se_k0, side, p_k0, yi_fill, vi_fill, weights_fill``
    (the filled data, original studies first) and ``fit`` (rma_arrays of the
    filled data, or None when k0 = 0).
    """
    yi0, vi0 = np.asarray(yi, float), np.asarray(vi, float)
    k = yi0.shape[-1]
    w0 = None if weights is None else np.asarray(weights, float)
    if k == 1:
        raise ValueError("trimfill: stopped because k = 1")
    if side is None:
        r = rma_arrays(yi0, vi0, np.column_stack([np.ones(k), np.sqrt(vi0)]), method=method, control=control, weights=w0, r2=False)
        if not bool(r["converged"]):
            raise ArithmeticError(f"trimfill: the side fit ({method}) did not converge")
        side = "right" if r["beta"][1] < 0 else "left"
    y = -yi0 if side == "right" else yi0.copy()
    ix = np.argsort(y, kind="stable")
    y, v = y[ix], vi0[ix]
    w = None if w0 is None else w0[ix]
    k0_sav, k0, it = -1, 0, 0
    se_k0 = np.nan
    while abs(k0 - k0_sav) > 0:
        k0_sav = k0
        it += 1
        if it > maxiter:
            raise ArithmeticError("Trim and fill algorithm did not converge.")
        n = k - k0
        beta = float(_fit_beta(y[:n], v[:n], None if w is None else w[:n], method, control)["beta"][0])
        yc = y - beta
        srank = np.sign(yc) * _rank_first(np.abs(yc))
        if estimator == "R0":
            neg = srank[srank < 0]
            if neg.size == 0:
                raise ArithmeticError("trimfill R0: no study below the estimate")
            k0f = (k - np.max(-neg)) - 1
            se = np.sqrt(2 * max(0.0, k0f) + 2)
        elif estimator == "L0":
            Sr = srank[srank > 0].sum()
            k0f = (4 * Sr - k * (k + 1)) / (2 * k - 1)
            var_sr = (k * (k + 1) * (2 * k + 1) + 10 * k0f**3 + 27 * k0f**2 + 17 * k0f - 18 * k * k0f**2 - 18 * k * k0f + 6 * k**2 * k0f) / 24
            se = 4 * np.sqrt(var_sr) / (2 * k - 1)
        else:
            raise ValueError(f"`estimator` must be 'L0' or 'R0', not {estimator!r}")
        k0 = int(max(0, np.round(k0f)))
        se_k0 = max(0.0, float(se))
    p_k0 = np.nan
    if estimator == "R0":
        m = np.arange(-1, k0)
        p_k0 = 1 - np.sum(0.5 ** (m + 2))  # choose(m+1, m+1) = 1
    out = {"k0": k0, "se_k0": se_k0, "side": side, "p_k0": float(p_k0), "fit": None, "yi_fill": yi0, "vi_fill": vi0, "weights_fill": w0}
    if k0 > 0:
        yc = -(yc - beta) if side == "right" else yc - beta
        yfill = np.concatenate([yi0, -yc[k - k0:]])
        vfill = np.concatenate([vi0, v[k - k0:]])
        wfill = None if w0 is None else np.concatenate([w0, w[k - k0:]])
        fit = rma_arrays(yfill, vfill, None, method=method, test="z", level=95, control=None if final_default_control else control, weights=wfill, r2=False)
        if not bool(fit["converged"]):
            raise ArithmeticError(f"trimfill: the final fit ({method}) did not converge")
        out.update(fit=fit, yi_fill=yfill, vi_fill=vfill, weights_fill=wfill)
    return out
