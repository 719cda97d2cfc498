"""The fast paths of issue 9 give the numbers of the general paths.

* rma_arrays' O(k) intercept-only path (closed forms, scipy.special p-values)
  against the general QR path of the same core (``FAST_INTERCEPT = False``),
  within 1e-12, for every estimator and test it covers;
* batched intercept-only fits against one-by-one fits, bit for bit (the same
  sums in the same order);
* the RVE core batched over datasets against one-by-one fits.

The references are the same core's general / one-by-one paths, so these check
the fast paths, not the statistics (those are checked against metafor and
robumeta in test_univariate_metafor.py and test_rve.py). No timing here: the
speed is measured by bench/run.py.
"""
import numpy as np
import pytest

from harness.core import rve
from harness.core import tau2 as tau2_mod
from harness.core.rma import rma_arrays

KEYS = ("beta", "se", "zval", "pval", "ci_lb", "ci_ub", "vb", "tau2", "se_tau2", "QE", "QEp", "I2", "H2", "vt", "QM", "QMp",
        "QMdf1", "QMdf2", "ddf", "s2w", "R2", "weights", "converged", "iterations")


def _data(B=12, k=15, seed=1):
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.01, 0.3, (B, k))
    tau = rng.uniform(0.1, 0.6, (B, 1))  # away from tau2 = 0, where rounding decides the boundary
    y = 0.2 + rng.normal(0, 1, (B, k)) * np.sqrt(v + tau**2)
    return y, v


def _general(monkeypatch, *args, **kw):
    with monkeypatch.context() as m:
        m.setattr(tau2_mod, "FAST_INTERCEPT", False)
        return rma_arrays(*args, **kw)


@pytest.mark.parametrize("method", ["FE", "DL", "ML", "REML", "EB"])
@pytest.mark.parametrize("test", ["z", "t", "knha", "adhoc"])
def test_intercept_fast_path_equals_general(method, test, monkeypatch):
    y, v = _data()
    for b in range(y.shape[0]):
        fast = rma_arrays(y[b], v[b], method=method, test=test)
        gen = _general(monkeypatch, y[b], v[b], method=method, test=test)
        for key in KEYS:
            np.testing.assert_allclose(np.asarray(fast[key], float), np.asarray(gen[key], float), rtol=1e-12, atol=1e-14, err_msg=f"{key} of problem {b}")
        assert fast["iterations"] == gen["iterations"]


@pytest.mark.parametrize("method", ["DL", "ML", "REML", "EB"])
def test_intercept_fast_path_fixed_tau2_level_control(method, monkeypatch):
    y, v = _data(B=3)
    kw = dict(method=method, level=90, control={"threshold": 1e-9, "tau2_min": 0.001})
    for b in range(3):
        fast = rma_arrays(y[b], v[b], **kw)
        gen = _general(monkeypatch, y[b], v[b], **kw)
        for key in KEYS:
            np.testing.assert_allclose(np.asarray(fast[key], float), np.asarray(gen[key], float), rtol=1e-12, atol=1e-14, err_msg=key)
    fast = rma_arrays(y[0], v[0], method="REML", tau2=0.05)
    gen = _general(monkeypatch, y[0], v[0], method="REML", tau2=0.05)
    for key in KEYS:
        np.testing.assert_allclose(np.asarray(fast[key], float), np.asarray(gen[key], float), rtol=1e-12, atol=1e-14, err_msg=key)


@pytest.mark.parametrize("method", ["FE", "DL", "ML", "REML", "EB"])
def test_intercept_batched_equals_one_by_one_bit_for_bit(method):
    y, v = _data(B=40, k=20, seed=3)
    batch = rma_arrays(y, v, method=method)
    for b in range(y.shape[0]):
        one = rma_arrays(y[b], v[b], method=method)
        for key in KEYS:
            assert np.array_equal(np.asarray(batch[key][b]), np.asarray(one[key]), equal_nan=True), (key, b)


def test_intercept_nonconvergence_and_maxiter_per_problem():
    y, v = _data(B=8)
    ctrl = {"threshold": 1e-12, "maxiter": 3}
    batch = rma_arrays(y, v, method="REML", control=ctrl)
    assert not batch["converged"].all()
    for b in range(8):
        one = rma_arrays(y[b], v[b], method="REML", control=ctrl)
        assert bool(one["converged"]) == bool(batch["converged"][b])
        assert np.array_equal(np.asarray(batch["tau2"][b]), np.asarray(one["tau2"]), equal_nan=True)


def test_fisher_scoring_minus_inf_step_ends():
    """k = p (three studies, intercept + two moderators): the REML step is -inf;
    the iteration ends as non-convergence instead of halving forever."""
    y = np.array([205.12730961, -11.81553799, -2.48779612])
    v = np.array([1.30359615e05, 1.10081479e02, 1.68535619e-02])
    X = np.column_stack([np.ones(3), [-0.65057835, -0.11090513, 1.01676916], [2.30067966, -0.07292678, 0.56765938]])
    with np.errstate(all="ignore"):
        try:
            fit = rma_arrays(y, v, X, method="REML", control={"maxiter": 50})
        except np.linalg.LinAlgError:  # the NaN step reaches a QR that reports singularity: it ended
            return
    assert not bool(fit["converged"]) and np.isnan(fit["tau2"])


def test_rve_batched_equals_one_by_one():
    rng = np.random.default_rng(7)
    B = 25
    study = np.repeat(np.arange(12), [1, 2, 3, 4, 2, 2, 3, 1, 5, 2, 2, 3])
    M = len(study)
    blocks = rve.StudyBlocks.from_ids(study)
    x = rng.uniform(0, 1, M)
    X = rve.pad_design(blocks, np.column_stack([np.ones(M), x]))
    vi = rng.uniform(0.01, 0.1, (B, M))
    yi = 0.2 + 0.3 * x + rng.normal(0, 0.3, (B, 12))[:, study] + rng.normal(0, 1, (B, M)) * np.sqrt(vi)
    for small in (True, False):
        batch = rve.robu_blocks(rve.pad_rows(blocks, yi), rve.pad_rows(blocks, vi), np.broadcast_to(X, (B,) + X.shape), blocks.mask, modelweights="CORR", rho=0.8, small=small)
        for b in range(B):
            one = rve.robu_blocks(rve.pad_rows(blocks, yi[b]), rve.pad_rows(blocks, vi[b]), X, blocks.mask, modelweights="CORR", rho=0.8, small=small)
            for key in ("b_r", "SE", "t", "dfs", "prob", "CI_L", "CI_U", "VR_r", "tau_sq", "I_2", "QE"):
                np.testing.assert_allclose(batch[key][b], one[key], rtol=1e-12, atol=1e-14, err_msg=f"{key} of dataset {b}, small={small}")


def test_rve_unpadded_layout_equals_padded_path():
    """Equal-sized studies skip the masking; the numbers are those of the masked path."""
    rng = np.random.default_rng(8)
    study = np.repeat(np.arange(10), 3)
    blocks = rve.StudyBlocks.from_ids(study)
    vi = rng.uniform(0.01, 0.1, 30)
    yi = rng.normal(0.2, 0.3, 30)
    X = rve.pad_design(blocks, np.ones((30, 1)))
    a = rve.robu_blocks(rve.pad_rows(blocks, yi), rve.pad_rows(blocks, vi), X, blocks.mask, small=True)
    # the same data with one padded (masked-out) column appended to every study
    pad = lambda z, fill: np.concatenate([z, np.full(z.shape[:-1] + (1,), fill)], axis=-1)
    mask = pad(blocks.mask, False)
    Xp = np.concatenate([X, np.zeros((10, 1, 1))], axis=1)
    b = rve.robu_blocks(pad(rve.pad_rows(blocks, yi), 0.0), pad(rve.pad_rows(blocks, vi), 1.0), Xp, mask, small=True)
    for key in ("b_r", "SE", "dfs", "tau_sq", "I_2"):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-12, atol=1e-14, err_msg=key)


def _sum_of_others_by_definition(a):
    """Prefix plus suffix sums, each a plain cumsum (the form :func:`harness.core.wls.sum_of_others` documents)."""
    pre = np.zeros_like(a)
    pre[..., 1:] = np.cumsum(a[..., :-1], axis=-1)
    suf = np.zeros_like(a)
    suf[..., :-1] = np.cumsum(a[..., ::-1][..., :-1], axis=-1)[..., ::-1]
    return pre + suf


def test_stacked_exclusive_sums_and_projection_pieces_bit_for_bit():
    """The intercept-only projection forms its sums stacked (one reduce, one cumsum): each piece
    has the bits of the same sum formed alone."""
    from harness.core import wls

    rng = np.random.default_rng(4)
    for shape in ((1,), (2,), (7,), (40,), (3, 9), (5, 130)):
        w = rng.uniform(0.1, 50, shape) ** 3
        y = rng.normal(0, 1, shape)
        np.testing.assert_array_equal(wls.sum_of_others(w), _sum_of_others_by_definition(w))
        both = wls._others_stacked(np.stack([w, w * w]))
        np.testing.assert_array_equal(both[0], _sum_of_others_by_definition(w))
        np.testing.assert_array_equal(both[1], _sum_of_others_by_definition(w * w))
        W, S2, beta, r, yPy, yPPy, trP, trPP, zPz = wls._intercept_pieces(y, w, True)
        wo, w2o = _sum_of_others_by_definition(w), _sum_of_others_by_definition(w * w)
        b = (w * y).sum(-1) / w.sum(-1)
        rr = y - (b if w.ndim == 1 else b[..., None])
        z = w * rr
        expect = (w.sum(-1), (w * w).sum(-1), b, rr, (z * rr).sum(-1), (z * z).sum(-1), (w * wo).sum(-1) / w.sum(-1),
                  ((w * w) * (wo * wo + w2o)).sum(-1) / (w.sum(-1) * w.sum(-1)), ((w * z) * z).sum(-1) - (w * z).sum(-1) ** 2 / w.sum(-1))
        for got, want in zip((W, S2, beta, r, yPy, yPPy, trP, trPP, zPz), expect):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("n", [1, 3, 40])
def test_step_halving_one_by_one_equals_batch(n):
    """Steps below tau2_min are halved on Python floats for a few problems and on the batch for
    many: the same halvings (down to -0 from tau2 = 0), the same bits either way."""
    rng = np.random.default_rng(n)
    ta = np.where(rng.uniform(size=n) < 0.5, 0.0, rng.uniform(0, 1, n))
    adj = -rng.uniform(0.1, 5, n) * np.where(rng.uniform(size=n) < 0.8, 1.0, 1e-300)
    adj[0] = np.nan
    ref = adj.copy()
    low = ta + ref < 0.0
    while low.any():
        ref = np.where(low, ref / 2, ref)
        low = ta + ref < 0.0
    got = tau2_mod._halve_to_min(ta, adj, 0.0)
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(ref))
