"""Batched use of the core: B independent meta-analyses in one call on (B, k)
arrays give the numbers of B one-by-one fits (to 1e-12), for every estimator
and test, with and without moderators. The reference is the same core called
B times, so this checks the batching, not the statistics (those are checked
against metafor elsewhere)."""
import numpy as np
import pytest

from harness.core.rma import rma_arrays
from harness.core.tau2 import ESTIMATORS

METHODS = [m for m in ESTIMATORS if m not in ("EE", "CE", "MP")]
KEYS = ("beta", "se", "zval", "pval", "ci_lb", "ci_ub", "vb", "tau2", "se_tau2", "QE", "QEp", "I2", "H2", "QM", "QMp", "R2", "weights")


def _data(B=10, k=12, seed=0):
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.01, 0.3, (B, k))
    x = rng.uniform(0, 5, (B, k))
    tau = rng.uniform(0, 0.5, (B, 1))
    y = 0.2 + 0.05 * x + rng.normal(0, 1, (B, k)) * np.sqrt(v + tau**2)
    w = rng.uniform(1, 10, (B, k))
    return y, v, x, w


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("test", ["z", "knha"])
@pytest.mark.parametrize("mods", [False, True], ids=["intercept", "metareg"])
def test_batched_equals_one_by_one(method, test, mods):
    y, v, x, w = _data()
    B, k = y.shape
    X = np.stack([np.column_stack([np.ones(k), x[b]]) for b in range(B)]) if mods else None
    wts = w if method == "GENQ" else None
    ctrl = {"threshold": 1e-12, "maxiter": 1000, "tol": 1e-12}
    batch = rma_arrays(y, v, X, method=method, test=test, control=ctrl, weights=wts)
    for b in range(B):
        one = rma_arrays(y[b], v[b], None if X is None else X[b], method=method, test=test, control=ctrl, weights=None if wts is None else wts[b])
        assert bool(batch["converged"][b]) == bool(one["converged"])
        for key in KEYS:
            np.testing.assert_allclose(batch[key][b], one[key], rtol=1e-12, atol=1e-14, err_msg=f"{key} of problem {b}")


def test_shared_design_broadcasts():
    """A (k, p) design shared by all problems gives the same as a stacked copy."""
    y, v, x, _ = _data(B=6)
    k = y.shape[1]
    X = np.column_stack([np.ones(k), x[0]])
    a = rma_arrays(y, v, X, method="REML", control={"threshold": 1e-12})
    b = rma_arrays(y, v, np.broadcast_to(X, (6, k, 2)).copy(), method="REML", control={"threshold": 1e-12})
    for key in KEYS:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-13, atol=1e-15)


def test_nonconvergence_stays_per_problem():
    """One problem that cannot converge in 2 iterations does not disturb the others' numbers."""
    y, v, _, _ = _data(B=8)
    ctrl = {"threshold": 1e-12, "maxiter": 2}
    batch = rma_arrays(y, v, method="REML", control=ctrl)
    for b in range(8):
        one = rma_arrays(y[b], v[b], method="REML", control=ctrl)
        assert bool(batch["converged"][b]) == bool(one["converged"])
        if one["converged"]:
            assert batch["tau2"][b] == pytest.approx(float(one["tau2"]), rel=1e-12)
        else:
            assert np.isnan(batch["tau2"][b]) and np.isnan(batch["beta"][b]).all()
