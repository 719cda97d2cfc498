"""Weighted least squares pieces shared by every univariate estimator.

All functions work on stacked problems: ``y``, ``w`` have shape ``(..., k)``
and ``X`` has shape ``(..., k, p)``; the leading axes index independent
meta-analyses. Nothing here forms a k x k matrix: the traces of the projection

.. math:: P = W - W X (X'WX)^{-1} X'W

that metafor builds explicitly are computed from the QR decomposition of
:math:`W^{1/2}X` as sums of non-negative terms (:func:`projection`: tr P in
O(k p^2), tr P^2 in O(k^2 p) as the sum of squares of P's entries, in row
blocks), and :math:`y'Py = \\sum w r^2`,
:math:`y'P^2y = \\sum w^2 r^2` for the WLS residuals :math:`r = y - X\\hat\\beta`.
Because P is symmetric, :math:`\\sum_{ij} P_{ij}^2 = \\operatorname{tr} P^2`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def xtwx(X, w):
    """:math:`X'WX` for stacked problems, shape ``(..., p, p)``."""
    return np.einsum("...ki,...k,...kj->...ij", X, w, X)


def xtwy(X, w, y):
    """:math:`X'Wy` for stacked problems, shape ``(..., p)``."""
    return np.einsum("...ki,...k,...k->...i", X, w, y)


@dataclass(frozen=True)
class WLSFit:
    beta: np.ndarray  # (..., p)
    vb: np.ndarray  # (..., p, p) = (X'WX)^-1
    resid: np.ndarray  # (..., k)


def _qr_parts(X, w):
    """Q and R^-1 of the (batched) QR decomposition of :math:`W^{1/2}X`."""
    A = np.sqrt(w)[..., None] * X
    Q, R = np.linalg.qr(A)
    Rinv = np.linalg.inv(R)
    return Q, Rinv


def inv_xtwx(X, w):
    """:math:`(X'WX)^{-1}` from the QR decomposition of :math:`W^{1/2}X`, as
    metafor's ``.invcalc`` computes it (``qr.solve(sqrt(W) X)``): the condition
    number is that of :math:`W^{1/2}X`, not its square, so ill-conditioned
    designs (e.g. a moderator "year" next to the intercept) agree with R."""
    _, Rinv = _qr_parts(X, w)
    return Rinv @ np.swapaxes(Rinv, -1, -2)


def wls(y, w, X) -> WLSFit:
    """Weighted least squares :math:`\\hat\\beta = (X'WX)^{-1} X'Wy` (via QR of :math:`W^{1/2}X`)."""
    Q, Rinv = _qr_parts(X, w)
    M = Rinv @ np.swapaxes(Rinv, -1, -2)
    qty = np.einsum("...ki,...k->...i", Q, np.sqrt(w) * y)
    beta = np.einsum("...ij,...j->...i", Rinv, qty)
    resid = y - np.einsum("...kp,...p->...k", X, beta)
    return WLSFit(beta, M, resid)


@dataclass(frozen=True)
class Projection:
    """Quadratic forms and traces of P(w) needed by the tau^2 estimators."""

    yPy: np.ndarray  # y'Py = sum w r^2
    yPPy: np.ndarray  # y'PPy = sum w^2 r^2
    trP: np.ndarray
    trPP: np.ndarray  # = sum of squared elements of P
    Q: np.ndarray  # Q of the QR decomposition of W^(1/2) X (for further traces)
    vb: np.ndarray  # (X'WX)^-1
    resid: np.ndarray | None = None  # r = y - X beta (P y = w r)


def projection(y, w, X) -> Projection:
    """Traces and quadratic forms of :math:`P = W - WX(X'WX)^{-1}X'W` in O(k p^2).

    With :math:`W^{1/2}X = QR` and leverages :math:`h_i = \\lVert q_i\\rVert^2`,
    :math:`P_{ij} = \\sqrt{w_iw_j}(\\delta_{ij} - q_i'q_j)`, so
    :math:`\\operatorname{tr}P = \\sum w(1-h)` and

    .. math:: \\operatorname{tr}P^2 = \\sum_i w_i^2(1-h_i)^2 + \\sum_i w_i\\, q_i' S_{-i} q_i,
              \\qquad S_{-i} = \\sum_{j \\ne i} w_j q_j q_j'

    (the diagonal and the off-diagonal :math:`\\sum_{i \\ne j} w_iw_j(q_i'q_j)^2`, both
    sums of non-negative terms, each :math:`q_i'q_j` a dot product accurate to a few
    ulps of :math:`\\lVert q_i\\rVert\\lVert q_j\\rVert`). The expanded
    :math:`\\sum w^2 - 2\\sum w^2h + \\lVert Q'WQ\\rVert_F^2` cancels by
    :math:`(w_{max}/w_{min})^2\\varepsilon` (2e-8 relative in tr P^2 with weights
    2.5e4 apart, k = 4, p = 3; this form: 1e-14), and so does the quadratic form
    :math:`q_i'(Q'WQ - w_iq_iq_i')q_i` even from exclusive sums. The off-diagonal
    sum takes O(k^2 p) time, in row blocks (never a k x k matrix at once).
    """
    Q, Rinv = _qr_parts(X, w)
    M = Rinv @ np.swapaxes(Rinv, -1, -2)
    beta = np.einsum("...ij,...j->...i", Rinv, np.einsum("...ki,...k->...i", Q, np.sqrt(w) * y))
    r = y - np.einsum("...kp,...p->...k", X, beta)
    h = (Q**2).sum(-1)
    # the four sums over the studies as rows of one buffer, reduced by one call (each row is
    # summed as ``x.sum(-1)`` sums it alone; w^2 and 1 - h are formed once, the same values)
    omh, w2, r2 = 1 - h, w**2, r**2
    terms = np.empty((4,) + w.shape)
    np.multiply(w, omh, out=terms[0])
    np.multiply(w2, omh**2, out=terms[1])
    np.multiply(w, r2, out=terms[2])
    np.multiply(w2, r2, out=terms[3])
    trP, trPP_diag, yPy, yPPy = _sum_last(terms)
    trPP = trPP_diag + _offdiag_pp(w, Q)
    return Projection(yPy=yPy, yPPy=yPPy, trP=trP, trPP=trPP, Q=Q, vb=M, resid=r)


#: elements (rows x k x p x stacked problems) of the q_i'q_j products :func:`_offdiag_pp` forms at once
_BLOCK_ELEMENTS = 1 << 21


def _offdiag_pp(w, Q):
    """:math:`\\sum_{i \\ne j} w_i w_j (q_i'q_j)^2`, the off-diagonal part of tr P^2, as a sum of squares.

    Each row's sum over j is formed whole and the rows are summed at the end, so the bits do not
    depend on the block size (nor on how many problems are stacked)."""
    k, p = Q.shape[-2], Q.shape[-1]
    batch = math.prod(Q.shape[:-2])
    step = max(1, _BLOCK_ELEMENTS // max(1, k * p * batch))
    if step >= k:  # one block (the loop below, once; without the buffer of row sums)
        G = _sum_last(Q[..., :, None, :] * Q[..., None, :, :])
        G2 = w[..., None, :] * G * G
        G2.reshape(G2.shape[:-2] + (-1,))[..., :: k + 1] = 0.0
        return _sum_last(w * _sum_last(G2))
    rows = np.empty(Q.shape[:-1])
    for a in range(0, k, step):
        b = min(k, a + step)
        G = (Q[..., a:b, None, :] * Q[..., None, :, :]).sum(-1)  # (..., b - a, k): q_i'q_j
        G2 = w[..., None, :] * G * G
        # the diagonal (i, i) is counted apart, through 1 - h: in the flattened rows of the
        # block it is every (k + 1)-th element from a
        G2.reshape(G2.shape[:-2] + (-1,))[..., a :: k + 1] = 0.0
        rows[..., a:b] = w[..., a:b] * G2.sum(-1)
    return rows.sum(-1)


def tr_PA(w, Q, a):
    """:math:`\\operatorname{tr}(P A) = \\sum w a (1 - h)` for diagonal ``A = diag(a)``
    (``Q`` from :func:`projection` or :func:`qr_q` with the same ``w``)."""
    return (w * a * (1 - (Q**2).sum(-1))).sum(-1)


def tr_PAPB(w, Q, a, b):
    """:math:`\\operatorname{tr}(P A P B) = \\sum_{ij} P_{ij}^2 a_j b_i` for diagonal A, B.

    With :math:`P_{ij} = \\sqrt{w_iw_j}(\\delta_{ij} - q_i'q_j)`:
    :math:`\\sum w^2ab(1 - 2h) + \\operatorname{tr}(Q'D_bQ\\,Q'D_aQ)`,
    :math:`D_a = \\operatorname{diag}(wa)`. metafor's ``sum(PV * t(PV))`` is
    ``tr_PAPB(a=v, b=v)``, ``sum(PV * P)`` is ``tr_PAPB(a=v, b=1)`` and
    ``sum(P * P)`` is ``tr_PAPB(a=1, b=1)``.
    """
    h = (Q**2).sum(-1)
    Sa = np.einsum("...ki,...k,...kj->...ij", Q, w * a, Q)
    Sb = np.einsum("...ki,...k,...kj->...ij", Q, w * b, Q)
    return (w**2 * a * b * (1 - 2 * h)).sum(-1) + np.trace(Sb @ Sa, axis1=-2, axis2=-1)


def qr_q(X, w):
    """Q of the QR decomposition of :math:`W^{1/2}X`."""
    return _qr_parts(X, w)[0]


# --- intercept-only models: closed forms in O(k), no matrices -------------------
def rowdot(a, b):
    """:math:`\\sum_k a_k b_k` over the last axis.

    ``(a * b).sum(-1)``, not BLAS ``dot``/``einsum``: numpy sums each row of a
    (B, k) array exactly as it sums a single (k,) row (pairwise, same order), so
    a batched fit gives the bits of the one-by-one fits."""
    return (a * b).sum(-1)


def is_ones_column(X):
    """True when the (shared or stacked) design is a single column of ones."""
    return X.shape[-1] == 1 and bool(np.all(X == 1.0))


def intercept_projection(y, w):
    """:class:`Projection`-like pieces of :math:`P(w)` for :math:`X = 1` in O(k).

    With :math:`W = \\sum w`, :math:`\\hat\\beta = \\sum wy/W`, and the sums
    over the *other* studies :math:`W_{-i} = \\sum_{j \\ne i} w_j`,
    :math:`S_{2,-i} = \\sum_{j \\ne i} w_j^2` (prefix + suffix sums, never
    :math:`W - w_i`): :math:`P_{ii} = w_i W_{-i}/W`, :math:`P_{ij} = -w_i w_j/W`, so

    .. math:: \\operatorname{tr}P = \\sum_i w_i W_{-i}/W, \\qquad
              \\operatorname{tr}P^2 = \\sum_i w_i^2 (W_{-i}^2 + S_{2,-i})/W^2,

    sums of positive terms, accurate to a few ulps however far apart the weights
    are. (The textbook :math:`W - S_2/W` and :math:`S_2 - 2S_3/W + (S_2/W)^2`
    cancel catastrophically when one weight dominates: 4e-5 relative in
    tr P^2 with weights 1e6 apart.) Returns ``(W, S2, beta, r, yPy, yPPy, trP, trPP)``.
    """
    # Every sum over the studies is a row of a stacked buffer reduced by one call (per-call
    # overhead, not arithmetic, is the cost of a small problem); numpy sums each row of a
    # stacked array exactly as ``x.sum(-1)`` sums it alone, and the exclusive sums of w and
    # w^2 come from one cumsum call (:func:`_others_stacked`), so the bits are those of the
    # term-by-term form.
    return _intercept_pieces(y, w, False)


def _intercept_pieces(y, w, zpz):
    """:func:`intercept_projection`'s tuple; with ``zpz`` also
    :math:`y'PPPy = z'Wz - (\\sum wz)^2/W` for :math:`z = Py = wr` (the Fisher-scoring
    step's contraction, :func:`harness.core.tau2._contraction_amp`), from the same pass."""
    first = np.empty((3,) + w.shape)
    first[0] = w
    np.multiply(w, w, out=first[1])
    np.multiply(w, y, out=first[2])
    W, S2, Swy = _sum_last(first)
    others = _others_stacked(first[:2])  # W_{-i}, S_{2,-i}
    beta = Swy / W
    r = y - (beta if w.ndim == 1 else beta[..., None])
    wr = w * r
    second = np.empty(((6,) if zpz else (4,)) + w.shape)
    np.multiply(wr, r, out=second[0])
    np.multiply(wr, wr, out=second[1])
    np.multiply(w, others[0], out=second[2])
    np.multiply(first[1], others[0] * others[0] + others[1], out=second[3])
    if zpz:
        np.multiply(w, wr, out=second[5])  # w z
        np.multiply(second[5], wr, out=second[4])  # (w z) z
    sums = _sum_last(second)
    yPy, yPPy, sP, sPP = sums[:4]
    out = (W, S2, beta, r, yPy, yPPy, sP / W, sPP / (W * W))
    if zpz:
        return out + (sums[4] - sums[5] ** 2 / W,)
    return out


def _others_stacked(a):
    """:func:`sum_of_others` along the last axis of each of the stacked arrays ``a`` at once:
    the prefix sums and the suffix sums of all of them from one ``cumsum`` (each the same
    sequential sum as its own ``cumsum`` call), added as in :func:`sum_of_others`."""
    ps = np.zeros((2,) + a.shape)  # [prefix, reversed suffix]
    ps[0, ..., 1:] = a[..., :-1]
    ps[1, ..., 1:] = a[..., :0:-1]
    tail = ps[..., 1:]
    tail.cumsum(axis=-1, out=tail)
    return ps[0] + ps[1, ..., ::-1]


def sum_of_others(a, axis=-1):
    """:math:`\\sum_{j \\ne i} a_j` for each i along ``axis``: prefix + suffix sums (exclusive:
    :math:`a_i` itself is never added then taken away, so terms of one sign stay accurate)."""
    if axis != -1 and axis != np.ndim(a) - 1:
        return np.moveaxis(sum_of_others(np.moveaxis(a, axis, -1)), -1, axis)
    a = np.asarray(a)
    pre = np.zeros_like(a)
    np.cumsum(a[..., :-1], axis=-1, out=pre[..., 1:])
    suf = np.zeros_like(a)
    np.cumsum(a[..., :0:-1], axis=-1, out=suf[..., -2::-1])
    return pre + suf


def _sum_last(a):
    return np.add.reduce(a, axis=-1)


def explicit_p_qe_scale(y, v, X, qe):
    """Error scale of QE evaluated as metafor does, through an explicit P (relative, in units of eps).

    metafor computes QE = y_c' P y_c with y_c = y - mean(y), W = diag(1/v) and
    P = W - W X S X' W, S = (X'WX)^-1 formed from the QR factors of W^(1/2) X
    (``.invcalc``: ``qr.solve(sWX, diag(k))`` then ``tcrossprod``). QE is then the
    difference of y_c'W y_c and y_c'W X S X'W y_c, two terms of size y_c'W y_c; S as
    the product of two triangular inverses carries a relative error up to about
    eps * kappa(W^(1/2) X)^2 (Higham 2002, sec. 14.1 and 20.4: the inverse of the
    normal matrix), and the k-term sums add a factor k. The relative error of QE is
    therefore bounded by about

        k * kappa(W^(1/2) X)^2 * (y_c' W y_c) / QE   (times eps),

    which this returns (at the exact QE, approximated by ``qe`` computed without the
    cancellation, from QR residuals). kappa is the 2-norm condition number (SVD).
    NaN (no bound: nothing is explained by it) when ``qe`` is not positive or the
    weighted design is singular.
    """
    y, v, X = (np.asarray(a, dtype=float) for a in (y, v, X))
    w = 1.0 / v
    yc = y - y.mean()
    s = np.linalg.svd(X * np.sqrt(w)[:, None], compute_uv=False)
    if not qe > 0 or not s[-1] > 0:
        return float("nan")
    return float(len(y) * (s[0] / s[-1]) ** 2 * np.dot(yc, w * yc) / qe)
