"""Robust variance estimation for dependent effect sizes (robumeta ``robu``).

A pure numpy port of robumeta 2.0 ``robu()`` (Hedges, Tipton & Johnson 2010,
*Res Synth Methods* 1:39-65; small-sample corrections of Tipton 2015,
*Psychol Methods* 20:375-393; the package: Fisher & Tipton 2015) and of
``sensitivity()``. Every formula below follows robumeta's ``R/robu.R``
(line numbers of the 2.0/2.1 source, as in stats-reference.md section 4).

Layout
------
Effect sizes are grouped by study into padded blocks: ``y``, ``v`` of shape
``(..., N, K)`` and ``X`` of shape ``(..., N, K, P)`` with a boolean ``mask``
``(N, K)`` (``K`` = the largest study), so that nothing of size M x M is ever
formed: robumeta builds the M x M hat matrix, this module uses the study
blocks only. Leading axes ``...`` index independent meta-analyses that share
the study layout (batched use).

Model (robumeta notation; p+1 = number of columns of X, N studies, M rows)
------------------------------------------------------------------------
* working weights: CORR ``w_ij = 1/(k_j vbar_j)``, HIER ``w_ij = 1/v_ij``;
  first-stage fit ``b = (sum X'WX)^-1 sum X'Wy``, ``e = y - Xb``.
* CORR (``:329-361``): ``Qe = sum w e^2``; with ``Q = (sum X'WX)^-1``,
  ``denom = sum w - tr(Q sum X'WJWX)``, ``termA = tr(Q sum X'(W/k)X)``,
  ``termB = tr(Q sum (w_j/k_j)(X'JX - X'X))``; ``term1 = (Qe - N + termA)/denom``,
  ``term2 = termB/denom``; ``tau^2 = max(0, term1 + rho term2)``;
  ``I^2 = max(0, 100 (Qe - df)/Qe)`` with ``df = N - termA - rho termB``;
  final weights ``1/(k_j (vbar_j + tau^2))``.
* HIER (``:256-327``, the HTJ 2010 erratum): omega^2 and tau^2 by moments
  (coefficients A1, B1, C1, A2, B2, C2 below); final weights
  ``1/(v_ij + tau^2 + omega^2)``.
* user weights (``:365-372``): final weights as given.
* second stage: ``b_r = (sum X'W_rX)^-1 sum X'W_r y``.
  ``small=False``: ``V = Q (sum_j X_j'W_j e_j e_j'W_j X_j) Q``,
  ``SE = sqrt(diag V) sqrt(N/(N-p-1))`` (``VR_r`` itself has no factor),
  ``dfs = N - p - 1``.
  ``small=True``: CR2-type adjustment matrices ``A_j`` (CORR:
  ``(I-H)_jj^{-1/2}``; HIER: ``E^{1/2}[E^{1/2}(I-H)_jj E^{3/2}]^{-1/2}E^{1/2}``
  with ``E = diag(1/w_r)``; user weights: ``Vbar_j^{1/2}[(I-H)_j Vbar (I-H)_j']^{-1/2}``),
  inverse square roots by eigendecomposition with eigenvalues < 1e-10 set to 0
  (intercept-only CORR: in closed form, eigenvalue ``S_-j/S`` on 1, and the scores
  ``X_j'W_jA_je_j`` from differences of study means: both cancel when formed as robumeta does);
  ``V = Q (sum_j X_j'W_jA_j e_j e_j'A_jW_jX_j) Q``; Satterthwaite ``dfs`` per
  coefficient ``(tr B)^2/tr(B^2)`` (``:518-544``), computed here from the
  N x N matrix ``Omega[j,l] = g_j' Phi g_l`` (same traces), with
  ``Phi = diag(1/w_r)`` (CORR/HIER) and ``Phi = I`` for user weights.
* ``prob = 2 (1 - pt(|t|, dfs))`` (robumeta's form, not the upper tail);
  ``CI = b_r -+ qt(.975, dfs) SE`` (always 95%).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from .wls import sum_of_others

#: robumeta's pseudo-inverse threshold on eigenvalues (``:462, :472, :501``)
ROBU_EIG_TOL = 1e-10
#: robumeta's sensitivity() grid (``R/sensitivity.R:58``)
RHO_GRID = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
MODELWEIGHTS = ("CORR", "HIER", "USER")


class SingularDesignError(np.linalg.LinAlgError):
    """sum X'WX cannot be inverted (R's ``solve()`` stops: 'system is ... singular')."""


class UndefinedVarianceComponents(ArithmeticError):
    """HIER moments cannot separate tau^2 and omega^2 (every study has one effect size)."""


# ---------------------------------------------------------------------------------
# study blocks
# ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class StudyBlocks:
    """Row -> (study, position) layout, robumeta's order (rows sorted by study, stable).

    ``order[m]`` is the original row at sorted position ``m``; ``index`` (N, K)
    holds original row numbers (-1 where padded); ``study_ids`` are the sorted
    distinct study identifiers.
    """

    study_ids: tuple
    index: np.ndarray
    mask: np.ndarray
    k: np.ndarray
    order: np.ndarray

    @property
    def N(self):
        return len(self.study_ids)

    @property
    def M(self):
        return int(self.k.sum())

    @classmethod
    def from_ids(cls, study):
        """Group rows by study. Studies are ordered as R's ``as.factor`` orders
        numbers (numerically; strings by code point, R's C-locale order); rows
        keep their order within a study (R's ``order()`` is stable)."""
        arr = np.asarray(study)
        if arr.dtype.kind not in "iufUS":
            arr = np.asarray([str(s) for s in study])
        uniq, sid = np.unique(arr, return_inverse=True)
        sid = sid.ravel()
        order = np.argsort(sid, kind="stable")
        k = np.bincount(sid, minlength=len(uniq))
        start = np.concatenate(([0], np.cumsum(k)[:-1]))
        pos = np.arange(len(sid)) - start[sid[order]]
        index = -np.ones((len(uniq), int(k.max())), dtype=int)
        index[sid[order], pos] = order
        ids = tuple(uniq.tolist())  # Python scalars, as .item() gives
        return cls(ids, index, index >= 0, k, order)

    def rows(self, blocks):
        """(..., N, K) blocks -> (..., M) in original row order."""
        out = np.empty(blocks.shape[:-2] + (len(self.order),))
        out[..., self.index[self.mask]] = blocks[..., self.mask]
        return out


def pad_rows(blocks: StudyBlocks, x, fill=0.0):
    """(..., M) -> (..., N, K), padded with ``fill``."""
    x = np.asarray(x, float)
    idx = np.where(blocks.mask, blocks.index, 0)
    out = x[..., idx]
    return np.where(blocks.mask, out, fill)


def pad_design(blocks: StudyBlocks, X):
    """(..., M, P) -> (..., N, K, P), padded with zeros."""
    X = np.asarray(X, float)
    idx = np.where(blocks.mask, blocks.index, 0)
    out = X[..., idx, :]
    return np.where(blocks.mask[..., None], out, 0.0)


# ---------------------------------------------------------------------------------
# linear algebra helpers
# ---------------------------------------------------------------------------------
def _tr(A, B):
    """tr(A B) for stacked square matrices."""
    return np.einsum("...ij,...ji->...", A, B)


def checked_inv(A, what="sum X'WX"):
    """Inverse of stacked p x p matrices; singular -> :class:`SingularDesignError`.

    R's ``solve()`` stops when LAPACK meets an exact zero pivot or when the
    reciprocal condition number is below machine epsilon; the same test is
    made here with the exact 1-norm condition number.
    """
    A = np.asarray(A, float)
    if A.shape[-1] == 1:  # 1 x 1: LAPACK's inverse is 1/a; same rcond test below
        with np.errstate(all="ignore"):
            inv = 1.0 / A
            rcond = 1.0 / (np.abs(A) * np.abs(inv))[..., 0, 0]
        if np.any(A == 0):
            raise SingularDesignError(f"{what} is exactly singular (a moderator is a linear combination of the others, or constant)")
        return _check_rcond(rcond, inv, what)
    with np.errstate(all="ignore"):
        try:
            inv = np.linalg.inv(A)
        except np.linalg.LinAlgError:
            raise SingularDesignError(f"{what} is exactly singular (a moderator is a linear combination of the others, or constant)") from None
        n1 = np.abs(A).sum(-2).max(-1)
        ni = np.abs(inv).sum(-2).max(-1)
        rcond = 1.0 / (n1 * ni)
    return _check_rcond(rcond, inv, what)


def _check_rcond(rcond, inv, what):
    bad = ~(rcond >= np.finfo(float).eps)
    if np.any(bad):
        r = float(np.min(np.where(np.isnan(rcond), 0.0, rcond)))
        raise SingularDesignError(f"{what} is computationally singular (reciprocal condition number {r:.3g}): the design has collinear or constant moderators, or the weights are undefined")
    return inv


def inv_sqrt_sym(S, tol, scale=None):
    """Symmetric inverse square root by eigendecomposition, eigenvalues below
    ``tol`` (times ``scale`` if given) treated as 0 (a pseudo-inverse), as
    robumeta and clubSandwich's ``matrix_power(x, -1/2)`` do."""
    S = 0.5 * (S + np.swapaxes(S, -1, -2))
    lam, U = np.linalg.eigh(S)
    thr = tol if scale is None else tol * np.asarray(scale)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(lam < thr, 0.0, 1.0 / np.sqrt(np.where(lam > 0, lam, 1.0)))
    return np.einsum("...ij,...j,...kj->...ik", U, f, U)


def satterthwaite_omega(U, X, Phi, W, Q):
    """The N x N matrices ``Omega_c[j, l] = g_jc' Phi g_lc`` (one per coefficient c).

    ``g_jc = (I-H)_j' u_jc`` with ``u_jc`` the c-th column of ``U_j`` (K x P),
    ``H = X Q X' W``; expanded over study blocks (no M x M matrix):
    ``Omega = diag(u'Phi u) - Y'QZ - Z'QY + Z'Q C Q Z`` with ``Z_j = X_j'U_j``,
    ``Y_j = X_j' W_j Phi_j U_j`` and ``C = sum X'W Phi W X``.
    Returns shape (..., P, N, N).
    """
    d = np.einsum("...nk,...nkc,...nkc->...cn", Phi, U, U)
    Z = np.einsum("...nkp,...nkc->...cnp", X, U)
    Y = np.einsum("...nkp,...nk,...nkc->...cnp", X, W * Phi, U)
    C = np.einsum("...nkp,...nk,...nkq->...pq", X, W * W * Phi, X)
    QCQ = Q @ C @ Q
    Qe = Q[..., None, :, :]
    YQZ = Y @ Qe @ np.swapaxes(Z, -1, -2)
    ZQCQZ = Z @ QCQ[..., None, :, :] @ np.swapaxes(Z, -1, -2)
    Om = ZQCQZ - YQZ - np.swapaxes(YQZ, -1, -2)
    n = Om.shape[-1]
    diag = Om.reshape(Om.shape[:-2] + (n * n,))[..., :: n + 1]  # a view: Om is a fresh array
    diag += d
    return Om


def satterthwaite_df(Om):
    """``(tr Omega)^2 / sum(Omega^2)`` per coefficient (robumeta ``:538-544``,
    clubSandwich ``Satterthwaite``)."""
    tr = np.trace(Om, axis1=-2, axis2=-1)
    return tr**2 / np.einsum("...ij,...ij->...", Om, Om)


def robu_p_value(t, df):
    """robumeta's ``2 * (1 - pt(abs(t), df))`` (cancels to 0 below ~1e-16)."""
    return 2.0 * (1.0 - special.stdtr(df, np.abs(t)))


def t_quantile(p, df):
    """``qt(p, df)`` (scipy.special.stdtrit, what scipy.stats.t.ppf calls)."""
    return special.stdtrit(df, p)


# ---------------------------------------------------------------------------------
# robu
# ---------------------------------------------------------------------------------
def robu_blocks(y, v, X, mask, *, modelweights="CORR", rho=0.8, small=True, userweights=None, eig_tol=ROBU_EIG_TOL, tau_sq=None):
    """robumeta ``robu()`` on padded study blocks.

    Parameters
    ----------
    y, v : (..., N, K) effect sizes and sampling variances (any value where padded)
    X : (..., N, K, P) design (intercept column included when wanted)
    mask : (N, K) or (..., N, K) boolean, True for real rows
    modelweights : "CORR", "HIER" or "USER" (then ``userweights`` (..., N, K))
    rho : CORR's assumed within-study correlation (may be an array broadcasting
        against the leading axes)
    eig_tol : eigenvalue threshold of the pseudo-inverse square roots
        (robumeta 1e-10; ``None`` reproduces ``sensitivity()``, which has none)
    tau_sq : CORR only: the second stage at this tau^2 instead of the estimate (the
        explanations measure how the outputs move with tau^2; ``tau_sq`` in the result
        is then this value)

    Returns a dict of arrays named after robumeta's output (``b_r``, ``SE``,
    ``t``, ``dfs``, ``prob``, ``CI_L``, ``CI_U``, ``VR_r``, ``tau_sq``,
    ``omega_sq``, ``I_2``, ``QE``, ``term1``, ``term2``, ``r_weights``, ``e_r``).
    """
    if modelweights not in MODELWEIGHTS:
        raise ValueError(f"modelweights must be one of {MODELWEIGHTS}, not {modelweights!r}")
    mask = np.asarray(mask, bool)
    full = bool(mask.all())  # every study has K rows: nothing is padded, masking is a no-op

    def masked(x, fill):  # np.where(mask, x, fill) for x of the full (..., N, K) shape
        return x if full else np.where(mask, x, fill)

    y = masked(np.asarray(y, float), 0.0)
    v = masked(np.asarray(v, float), 1.0)
    X = np.asarray(X, float) if full else np.where(mask[..., None], np.asarray(X, float), 0.0)
    P = X.shape[-1]
    kf = mask.sum(-1).astype(float)  # (…, N)
    has = kf > 0
    N = has.sum(-1).astype(float)
    M = kf.sum(-1)
    ksafe = np.where(has, kf, 1.0)
    vbar = masked(v, 0.0).sum(-1) / ksafe  # (…, N)
    vbar_rows = np.where(mask, vbar[..., None], 1.0)
    k_rows = np.where(mask, ksafe[..., None], 1.0)

    if modelweights == "HIER":
        w = masked(1.0 / v, 0.0)
    else:  # CORR weights also start the USER fit (robumeta's default modelweights)
        w = masked(1.0 / (k_rows * vbar_rows), 0.0)

    XWX = np.einsum("...nkp,...nk,...nkq->...pq", X, w, X)
    Q0 = checked_inv(XWX, "sum X'WX")
    b = np.einsum("...pq,...q->...p", Q0, np.einsum("...nkp,...nk,...nk->...p", X, w, y))
    e = masked(y - np.einsum("...nkp,...p->...nk", X, b), 0.0)
    Qe = (w * e * e).sum((-2, -1))
    s = np.einsum("...nk,...nkp->...np", w, X)  # X_j'W_j 1
    t_ = X.sum(-2)  # X_j' 1
    XWJWX = np.einsum("...np,...nq->...pq", s, s)
    nan = np.full(np.shape(Qe), np.nan)
    out = {"QE": Qe, "tau_sq": nan, "omega_sq": nan, "I_2": nan, "term1": nan, "term2": nan}

    intercept_only = P == 1 and bool(np.all(np.where(mask[..., None], X, 1.0) == 1.0))
    if modelweights == "CORR":
        sumW = w.sum((-2, -1))
        WKXX = np.einsum("...nkp,...nk,...nkq->...pq", X, w / k_rows, X)
        w1 = w[..., 0] / ksafe  # (W/k)[1,1]
        # sum_j w1_j (t_j t_j' - X_j'X_j), each study's difference formed before the sum (as
        # robumeta's per-study matrices): the two sums apart cancel (a one-effect study adds
        # w1_j to both; 1e-9 relative off with study weights 4e6 apart)
        XJX_XX = np.einsum("...n,...npq->...pq", w1, t_[..., :, :, None] * t_[..., :, None, :] - np.einsum("...nkp,...nkq->...npq", X, X))
        if intercept_only:
            # intercept only: sumW - sum_j s_j^2 / sumW (s_j = sum of study j's weights) cancels by
            # (s_max/s_min) eps when one study dominates; sum_j s_j S_-j / sumW is a sum of
            # positive terms (S_-j = the other studies' sum, prefix + suffix sums)
            s1 = s[..., 0]
            denom = (s1 * sum_of_others(s1)).sum(-1) / sumW
        else:
            denom = sumW - _tr(Q0, XWJWX)
        termA = _tr(Q0, WKXX)
        termB = _tr(Q0, XJX_XX)
        term1 = (Qe - N + termA) / denom
        term2 = termB / denom
        tau1 = term1 + rho * term2
        tau = np.where(tau1 < 0, 0.0, tau1) if tau_sq is None else np.broadcast_to(np.asarray(tau_sq, float), np.shape(tau1))
        df_i = N - termA - rho * termB
        with np.errstate(divide="ignore", invalid="ignore"):
            I21 = (Qe - df_i) / Qe * 100
        out.update(tau_sq=tau, I_2=np.where(I21 < 0, 0.0, I21), term1=term1, term2=term2 + 0 * tau)
        wr = masked(1.0 / (k_rows * (vbar_rows + np.asarray(tau)[..., None, None])), 0.0)
    elif modelweights == "HIER":
        if np.any(np.all(np.where(has, kf, 1) == 1, axis=-1)):
            raise UndefinedVarianceComponents(
                "HIER weights need at least one study with several effect sizes: with one effect size per study "
                "omega^2 and tau^2 cannot be separated (the moment equations are singular, B1*A2 - B2*A1 = 0); "
                "robumeta then stops in solve() or returns a number driven by rounding")
        kk = ksafe
        sumV = np.where(mask, v, 0.0).sum((-2, -1))
        sumW = w.sum((-2, -1))
        Qa = (e.sum(-1) ** 2).sum(-1)  # sum_j (sum_i e_ij)^2
        XJX = np.einsum("...np,...nq->...pq", t_, t_)
        XWJJX = np.einsum("...n,...np,...nq->...pq", kk, s, t_)
        XJJWX = np.swapaxes(XWJJX, -1, -2)
        XWWX = np.einsum("...nkp,...nk,...nkq->...pq", X, w * w, X)
        XJWX = np.einsum("...np,...nq->...pq", t_, s)
        XWJX = np.swapaxes(XJWX, -1, -2)
        A1 = (kk**2 * has).sum(-1) - _tr(Q0, XJJWX) - _tr(Q0, XWJJX) + _tr(Q0 @ XJX @ Q0, XWJWX)
        B1 = M - _tr(Q0, XWJX) - _tr(Q0, XJWX) + _tr(Q0 @ XJX @ Q0, XWWX)
        C1 = sumV - _tr(Q0, XJX)
        A2 = sumW - _tr(Q0, XWJWX)
        B2 = sumW - _tr(Q0, XWWX)
        C2 = M - P
        with np.errstate(divide="ignore", invalid="ignore"):
            om1 = ((Qa - C1) * A2 - (Qe - C2) * A1) / (B1 * A2 - B2 * A1)
            om = np.where(om1 < 0, 0.0, om1)
            tau1 = (Qe - C2) / A2 - om * (B2 / A2)
        tau = np.where(tau1 < 0, 0.0, tau1)
        out.update(tau_sq=tau, omega_sq=om)
        wr = np.where(mask, 1.0 / (v + np.asarray(tau)[..., None, None] + np.asarray(om)[..., None, None]), 0.0)
    else:
        if userweights is None:
            raise ValueError("modelweights 'USER' needs userweights")
        wr = np.where(mask, np.asarray(userweights, float), 0.0)

    XWXr = np.einsum("...nkp,...nk,...nkq->...pq", X, wr, X)
    Q = checked_inv(XWXr, "sum X'W_rX")
    br = np.einsum("...pq,...q->...p", Q, np.einsum("...nkp,...nk,...nk->...p", X, wr, y))
    er = masked(y - np.einsum("...nkp,...p->...nk", X, br), 0.0)
    Nb = np.asarray(N)[..., None]

    if not small:
        u = np.einsum("...nkp,...nk,...nk->...np", X, wr, er)
        VR = Q @ np.einsum("...np,...nq->...pq", u, u) @ Q
        SE = np.sqrt(np.diagonal(VR, axis1=-2, axis2=-1)) * np.sqrt(Nb / (Nb - P))
        dfs = np.broadcast_to(Nb - P, SE.shape).astype(float)
    else:
        K = mask.shape[-1]
        eye = np.eye(K)
        XQX = np.einsum("...nap,...npq,...nbq->...nab", X, np.broadcast_to(_bq(Q), X.shape[:-2] + (P, P)), X)
        ImH = eye - XQX * wr[..., None, :]  # (I - H)_jj = I - X_j Q X_j' W_j
        if modelweights == "CORR" and intercept_only:
            A, lam_min = _corr_intercept_adjustment(wr, mask, eig_tol)
            Phi = masked(1.0 / masked(wr, 1.0), 0.0)
        elif modelweights == "CORR":
            A, lam_min = _inv_sqrt(ImH, eig_tol)
            Phi = masked(1.0 / masked(wr, 1.0), 0.0)
        elif modelweights == "HIER":
            E = np.where(mask, 1.0 / np.where(mask, wr, 1.0), 1.0)
            inside = np.sqrt(E)[..., :, None] * ImH * (E**1.5)[..., None, :]
            Ai, lam_min = _inv_sqrt(inside, eig_tol)
            A = np.sqrt(E)[..., :, None] * Ai * np.sqrt(E)[..., None, :]
            Phi = np.where(mask, E, 0.0)
        else:
            Vb = vbar_rows
            C = np.einsum("...nkp,...nk,...nkq->...pq", X, wr * wr * Vb, X)
            XQCQX = np.einsum("...nap,...npq,...nbq->...nab", X, np.broadcast_to(_bq(Q @ C @ Q), X.shape[:-2] + (P, P)), X)
            VWXQX = (Vb * wr)[..., :, None] * XQX
            inside = np.einsum("...na,ab->...nab", Vb, eye) - VWXQX - np.swapaxes(VWXQX, -1, -2) + XQCQX
            Ai, lam_min = _inv_sqrt(inside, eig_tol)
            A = np.sqrt(Vb)[..., :, None] * Ai
            Phi = np.where(mask, 1.0, 0.0)
        if modelweights == "CORR" and intercept_only:
            # X_j'W_jA_je_j = wr_j lam_j^{-1/2} E_j with E_j = sum_i e_ij = k_j (ybar_j - b_r); for a
            # dominant study b_r ~ ybar_j and the residuals' sum cancels (eps |y| / |E_j| relative):
            # E_j = k_j sum_l s_l (ybar_j - ybar_l) / S, a sum of differences of the data
            left = right = _corr_intercept_scores(y, wr, mask, A)
        else:
            Ae = np.einsum("...nab,...nb->...na", A, er)
            Ate = np.einsum("...nba,...nb->...na", A, er)
            left = np.einsum("...nkp,...nk,...nk->...np", X, wr, Ae)
            right = np.einsum("...nkp,...nk,...nk->...np", X, wr, Ate)
        VR = Q @ np.einsum("...np,...nq->...pq", left, right) @ Q
        SE = np.sqrt(np.diagonal(VR, axis1=-2, axis2=-1))
        # Satterthwaite: u_jc = (A_j W_j X_j Q)[:, c]
        U = np.einsum("...nab,...nb,...nbp,...pq->...naq", A, wr, X, Q)
        Om = satterthwaite_omega(U, X, Phi, wr, Q)
        dfs = satterthwaite_df(Om)
        # studies whose adjustment block is singular (pseudo-inverse used)
        out["singular_block"] = (lam_min < ROBU_EIG_TOL) & has
    tval = br / SE
    prob = robu_p_value(tval, dfs)
    crit = t_quantile(0.975, dfs)
    out.update(
        b_r=br, SE=SE, t=tval, dfs=dfs, prob=prob, CI_L=br - crit * SE, CI_U=br + crit * SE, VR_r=VR,
        r_weights=wr, e_r=er, N=N, M=M, k=kf,
    )
    return out


def _corr_intercept_adjustment(wr, mask, tol):
    """CORR adjustment ``A_j = (I - H)_jj^{-1/2}`` of an intercept-only model, in closed form.

    CORR weights are constant within a study (``wr_j`` on each of its ``k_j`` rows), so
    ``(I - H)_jj = I - (wr_j / S) J`` (``S = sum_j k_j wr_j``, ``J`` the k_j x k_j matrix of
    ones): eigenvalue 1 on the vectors orthogonal to 1, and ``lam_j = 1 - k_j wr_j / S =
    S_-j / S`` on 1 (``S_-j`` the other studies' sum). ``A_j = I - J/k_j + lam_j^{-1/2} J/k_j``,
    with robumeta's pseudo-inverse rule (``lam_j < tol`` -> 0, robumeta R/robu.R, CORR
    ``eigenval_InvSqrt``). ``lam_j`` is formed as ``S_-j / S``, a ratio of sums of positive
    terms: formed as ``1 - s_j/S`` (what the eigendecomposition of ``I - H`` amounts to) it
    loses ``eps * S / S_-j`` relative when one study's weight dominates.
    Returns (A, smallest eigenvalue per block).
    """
    k = mask.sum(-1).astype(float)
    s = np.where(mask, wr, 0.0).sum(-1)  # s_j = k_j wr_j
    S = s.sum(-1)[..., None]
    lam = sum_of_others(s) / S
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(lam < tol, 0.0, 1.0 / np.sqrt(np.where(lam > 0, lam, 1.0))) if tol is not None else 1.0 / np.sqrt(lam)
        ksafe = np.where(k > 0, k, 1.0)
    K = mask.shape[-1]
    J = (mask[..., :, None] & mask[..., None, :]).astype(float)
    A = np.eye(K) + ((f - 1.0) / ksafe)[..., None, None] * J  # padded rows: identity, as eigh of I - H gives
    return A, lam


def _corr_intercept_scores(y, wr, mask, A):
    """``X_j'W_jA_je_j`` (shape (..., N, 1)) of an intercept-only CORR model from the study
    means: ``wr_j f_j E_j``, ``f_j = 1'A_j1/k_j`` (lam_j^{-1/2}, or 0 for a pseudo-inverse) and
    ``E_j = k_j sum_l s_l (ybar_j - ybar_l) / S`` (``s_l = k_l wr_l``, ``S = sum s_l``), which is
    ``sum_i (y_ij - b_r)`` without the subtraction of two nearly equal numbers."""
    k = mask.sum(-1).astype(float)
    ksafe = np.where(k > 0, k, 1.0)
    s = np.where(mask, wr, 0.0).sum(-1)
    ybar = np.where(mask, y, 0.0).sum(-1) / ksafe
    E = k * np.einsum("...l,...jl->...j", s, ybar[..., :, None] - ybar[..., None, :]) / s.sum(-1)[..., None]
    f = np.einsum("...jab->...j", np.where(mask[..., :, None] & mask[..., None, :], A, 0.0)) / ksafe  # 1'A_j1 = k_j f_j
    return ((s / ksafe) * f * E)[..., None]


def _bq(Q):
    """(..., P, P) -> (..., 1, P, P) so it broadcasts over the study axis."""
    return Q[..., None, :, :]


def _inv_sqrt(S, tol):
    """(inverse square root, smallest eigenvalue per block)."""
    S = 0.5 * (S + np.swapaxes(S, -1, -2))
    lam, U = np.linalg.eigh(S)
    with np.errstate(divide="ignore", invalid="ignore"):
        if tol is None:  # sensitivity(): plain 1/sqrt, no threshold (R/sensitivity.R:119-126)
            f = 1.0 / np.sqrt(lam)
        else:
            f = np.where(lam < tol, 0.0, 1.0 / np.sqrt(np.where(lam > 0, lam, 1.0)))
    return (U * f[..., None, :]) @ np.swapaxes(U, -1, -2), lam.min(-1)


def sig_stars(prob):
    """robumeta's ``sig`` column: '***' p < .01, '**' .01 < p < .05, '*' .05 < p < .10;
    exactly .01, .05 (and .10) get ''."""
    out = []
    for p in np.atleast_1d(prob):
        if p < 0.01:
            out.append("***")
        elif 0.01 < p < 0.05:
            out.append("**")
        elif 0.05 < p < 0.1:
            out.append("*")
        else:
            out.append("")
    return tuple(out)
