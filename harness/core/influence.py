"""Leave-one-out diagnostics (metafor ``leave1out.rma.uni``).

Each study is left out in turn and the model refitted with the same method,
test, level, control and user weights (metafor 3.8-1 R/leave1out.rma.uni.r).
The k refits are one *batched* call of :func:`harness.core.rma.rma_arrays`
on a (k, k-1) stack, so leave-one-out costs one vectorised fit. A refit that
fails (non-convergence) gives NaN for that study, as metafor's NA.
Intercept-only models only, as in metafor.
"""
from __future__ import annotations

import numpy as np

from .rma import FE_METHODS, rma_arrays

#: metafor's leave1out columns (``zval`` is called ``tval`` by metafor under t tests)
COLUMNS = ("estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "Q", "Qp", "tau2", "I2", "H2")


def leave1out_arrays(yi, vi, method="REML", test="z", level=95, control=None, weights=None, tau2=None):
    """Leave-one-out fits of an intercept-only model; returns ``{column: (k,) array}``.

    ``tau2`` (fixed) is dropped for FE models, as metafor does."""
    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    k = yi.shape[-1]
    keep = ~np.eye(k, dtype=bool)
    Y = np.stack([yi[keep[i]] for i in range(k)])
    V = np.stack([vi[keep[i]] for i in range(k)])
    W = None if weights is None else np.stack([np.asarray(weights, float)[keep[i]] for i in range(k)])
    r = rma_arrays(Y, V, np.ones((k - 1, 1)), method=method, test=test, level=level, control=control, tau2=tau2, weights=W, r2=False)
    ok = np.asarray(r["converged"], bool)
    out = {
        "estimate": r["beta"][:, 0],
        "se": r["se"][:, 0],
        "zval": r["zval"][:, 0],
        "pval": r["pval"][:, 0],
        "ci_lb": r["ci_lb"][:, 0],
        "ci_ub": r["ci_ub"][:, 0],
        "Q": r["QE"],
        "Qp": r["QEp"],
        "tau2": r["tau2"],
        "I2": r["I2"],
        "H2": r["H2"],
    }
    out = {n: np.where(ok, np.asarray(a, float), np.nan) for n, a in out.items()}
    if method in FE_METHODS:
        del out["tau2"]
    return out
