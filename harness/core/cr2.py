"""Cluster-robust CR2 variance, Satterthwaite t tests and HTZ Wald tests (clubSandwich).

A numpy port of clubSandwich 0.5.8 ``vcovCR(type = "CR2")``, ``coef_test(test =
"Satterthwaite")``, ``conf_int`` and ``Wald_test(test = "HTZ")`` for a
weighted linear model with diagonal working variance, which is what
clubSandwich does for ``metafor::rma.uni`` fits (Bell & McCaffrey 2002;
Tipton 2015, *Psychol Methods* 20:375-393; Tipton & Pustejovsky 2015,
*J Educ Behav Stat* 40:604-634; Pustejovsky & Tipton 2018, *J Bus Econ Stat*
36:672-683). Source: ``cs058 R/CR-adjustments.R:22-43``, ``R/get_arrays.R``,
``R/coef_test.R``, ``R/Wald_test.R``, ``R/rma-uni.R`` (stats-reference.md section 5).

For an ``rma.uni`` fit: weights ``w = 1/(v + tau^2)`` (or the user's weights),
working variance ``Phi = diag(v + tau^2)``, ``M = (X'WX)^-1``. For cluster j
(``H_jj = X_j M X_j' W_j``, ``C = sum X'W Phi W X``)::

    G_j = Phi_j^1/2 (Phi_j - H_jj Phi_j - Phi_j H_jj' + X_j M C M X_j') Phi_j^1/2
    A_j = Phi_j^1/2 G_j^-1/2 Phi_j^1/2          (eigenvalues <= 1e-12 -> 0)
    V^CR2 = M (sum_j X_j'W_j A_j e_j e_j' A_j W_j X_j) M

(with inverse-variance weights ``G_j`` reduces to
``Phi^1/2 (Phi - X_j M X_j') Phi^1/2``; clubSandwich's threshold then applies to
the weights rescaled by their mean, reproduced here). Satterthwaite df per
coefficient: ``(tr P)^2 / sum(P^2)`` with the cluster-by-cluster matrix ``P``
of :func:`harness.core.rve.satterthwaite_omega`. HTZ: Hotelling's T^2
approximation with ``nu = q(q+1)/sum(Var)`` (``Wald_testing``,
``total_variance_mat``), ``F = delta Q/q``, ``delta = (nu - q + 1)/nu``,
``df = (q, nu - q + 1)``.
"""
from __future__ import annotations

import numpy as np

from . import distributions as stats  # scipy.stats' functions, without importing scipy.stats

from .rve import StudyBlocks, checked_inv, pad_design, pad_rows

#: clubSandwich matrix_power(tol = -12): eigenvalues <= 1e-12 are set to 0
CS_EIG_TOL = 1e-12


def _inv_sqrt_cs(S, tol):
    """clubSandwich ``matrix_power(x, -1/2)``: eigenvalues > tol kept, the rest -> 0."""
    S = 0.5 * (S + np.swapaxes(S, -1, -2))
    lam, U = np.linalg.eigh(S)
    tol = np.asarray(tol)[..., None] if np.ndim(tol) else tol
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(lam > tol, 1.0 / np.sqrt(np.where(lam > 0, lam, 1.0)), 0.0)
    return np.einsum("...ij,...j,...kj->...ik", U, f, U)


def pair_arrays(U, X, Phi, W, Mb):
    """``P[s, t, a, b] = g_as' Phi g_bt`` for the columns s, t of ``U_a`` (K x q)
    (clubSandwich ``get_P_array(all_terms = TRUE)``); shape (..., q, q, N, N).
    The diagonal ``s = t`` gives the Satterthwaite matrices of single coefficients."""
    D = np.einsum("...nk,...nks,...nkt->...stn", Phi, U, U)
    Z = np.einsum("...nkp,...nks->...snp", X, U)
    Y = np.einsum("...nkp,...nk,...nks->...snp", X, W * Phi, U)
    C = np.einsum("...nkp,...nk,...nkq->...pq", X, W * W * Phi, X)
    MCM = Mb @ C @ Mb
    ZMCMZ = np.einsum("...sap,...pq,...tbq->...stab", Z, MCM, Z)
    YMZ = np.einsum("...sap,...pq,...tbq->...stab", Y, Mb, Z)
    ZMY = np.einsum("...sap,...pq,...tbq->...stab", Z, Mb, Y)
    P = ZMCMZ - YMZ - ZMY
    n = P.shape[-1]
    P[..., np.arange(n), np.arange(n)] += D
    return P


def cr2_fit(y, v, X, cluster, *, tau2=0.0, weights=None, level=95.0, constraints=None):
    """CR2 + Satterthwaite (+ HTZ) for a weighted meta-regression with clusters.

    Parameters
    ----------
    y, v : (k,) effect sizes and sampling variances; X : (k, p) design
    cluster : (k,) cluster identifiers
    tau2 : the model's tau^2 (``rma.uni``'s estimate; 0 for a fixed-effect fit)
    weights : user weights (metafor ``weights``); None = inverse variance
    constraints : (q, p) matrix for the HTZ Wald test (None: no test)

    Returns a dict: ``beta``, ``vcov``, ``SE``, ``tstat``, ``df_Satt``,
    ``p_Satt``, ``CI_L``, ``CI_U`` and, with constraints, ``Fstat``, ``delta``,
    ``df_num``, ``df_denom``, ``p_val``, ``Q``.
    """
    B = StudyBlocks.from_ids(cluster)
    if B.N < 2:
        raise ValueError("Cluster-robust variance estimation will not work when the data only includes a single cluster.")
    mask = B.mask
    Phi = np.where(mask, pad_rows(B, np.asarray(v, float) + tau2), 0.0)
    inverse_var = weights is None
    w_rows = 1.0 / (np.asarray(v, float) + tau2) if inverse_var else np.asarray(weights, float)
    W = np.where(mask, pad_rows(B, w_rows), 0.0)
    w_scale = float(np.mean(w_rows))
    Xb = pad_design(B, X)
    yb = np.where(mask, pad_rows(B, y), 0.0)
    Mb = checked_inv(np.einsum("nkp,nk,nkq->pq", Xb, W, Xb), "X'WX")
    beta = Mb @ np.einsum("nkp,nk,nk->p", Xb, W, yb)
    e = np.where(mask, yb - Xb @ beta, 0.0)
    K = mask.shape[-1]
    XMX = np.einsum("nap,pq,nbq->nab", Xb, Mb, Xb)
    C = np.einsum("nkp,nk,nkq->pq", Xb, W * W * Phi, Xb)
    XMCMX = np.einsum("nap,pq,nbq->nab", Xb, Mb @ C @ Mb, Xb)
    HPhi = XMX * (W * Phi)[:, None, :]
    inner = np.einsum("na,ab->nab", Phi, np.eye(K)) - HPhi - np.swapaxes(HPhi, -1, -2) + XMCMX
    sq = np.sqrt(np.where(mask, Phi, 1.0))
    inner = np.where(mask[:, :, None] & mask[:, None, :], inner, np.eye(K))
    G = sq[:, :, None] * inner * sq[:, None, :]
    # clubSandwich forms G from the weights rescaled by their mean when they are
    # inverse-variance (target = W^-1): its eigenvalues are then w_scale^2 times ours
    tol = CS_EIG_TOL / w_scale**2 if inverse_var else CS_EIG_TOL
    A = sq[:, :, None] * _inv_sqrt_cs(G, tol) * sq[:, None, :]
    A = np.where(mask[:, :, None] & mask[:, None, :], A, 0.0)
    u = np.einsum("nkp,nk,nk->np", Xb, W, np.einsum("nab,nb->na", A, e))
    V = Mb @ (u.T @ u) @ Mb
    SE = np.sqrt(np.diag(V))
    t = beta / SE
    U = np.einsum("nab,nb,nbp,pq->naq", A, W, Xb, Mb)
    P = pair_arrays(U, Xb, Phi, W, Mb)
    p = len(beta)
    Pd = P[np.arange(p), np.arange(p)]  # (p, N, N)
    df = np.trace(Pd, axis1=-2, axis2=-1) ** 2 / np.einsum("cij,cij->c", Pd, Pd)
    crit = stats.t.isf((1 - level / 100) / 2, df)
    out = dict(beta=beta, vcov=V, SE=SE, tstat=t, df_Satt=df, p_Satt=2 * stats.t.sf(np.abs(t), df), CI_L=beta - SE * crit, CI_U=beta + SE * crit, N=B.N)
    if constraints is not None:
        out.update(htz_test(np.atleast_2d(np.asarray(constraints, float)), beta, V, U, Xb, Phi, W, Mb))
    return out


def htz_test(Cm, beta, V, U, Xb, Phi, W, Mb):
    """clubSandwich ``Wald_test(test = "HTZ")`` of ``C beta = 0``."""
    q = Cm.shape[0]
    Uc = U @ Cm.T  # columns of U_a M C' ... U already carries M: u_a = A W X M; C-projected
    P = pair_arrays(Uc, Xb, Phi, W, Mb)  # (q, q, N, N)
    return _htz_from_pairs(Cm, q, P, beta, V)


# ---------------------------------------------------------------------------------
# rma.mv with a random effect per cluster (clubSandwich vcovCR.rma.mv)
# ---------------------------------------------------------------------------------
def _pair_arrays_full(U, X, Phi, W, Mb):
    """:func:`pair_arrays` for full (non-diagonal) per-cluster ``Phi_j`` and ``W_j``."""
    D = np.einsum("nks,nkl,nlt->stn", U, Phi, U)
    Z = np.einsum("nkp,nks->snp", X, U)
    WPhi = W @ Phi
    Y = np.einsum("nkp,nkl,nls->snp", X, WPhi, U)
    C = np.einsum("nkp,nkl,nlq->pq", X, WPhi @ W, X)
    MCM = Mb @ C @ Mb
    P = np.einsum("sap,pq,tbq->stab", Z, MCM, Z) - np.einsum("sap,pq,tbq->stab", Y, Mb, Z) - np.einsum("sap,pq,tbq->stab", Z, Mb, Y)
    n = P.shape[-1]
    P[..., np.arange(n), np.arange(n)] += D
    return P


def reml_sigma2(y, v, X, cluster):
    """REML estimate of the between-cluster variance sigma^2 in the model
    ``y = X beta + u_j + e_ij``, ``u_j ~ N(0, sigma^2)``, ``e_ij ~ N(0, v_ij)``
    (metafor ``rma.mv(yi, vi, random = ~ 1 | cluster, method = "REML")``).

    The REML score, with ``M_j = diag(v_j) + sigma^2 J``, ``W = M^-1``,
    ``Q = (X'WX)^-1`` and ``P = W - WXQX'W``, is
    ``d(-2 l_R)/d sigma^2 = tr(P J) - r'WJWr
    = sum_j [1'W_j 1 - (1'W_j X_j) Q (X_j'W_j 1)] - sum_j (1'W_j r_j)^2``;
    its root is found with Brent's method to machine precision (the objective
    itself is too flat to locate sigma^2 better than ~1e-6 relative, which is
    also about what metafor's nlminb achieves); 0 when the score is positive
    at 0 (boundary)."""
    from scipy.optimize import brentq

    B = StudyBlocks.from_ids(cluster)
    mask = B.mask
    yb = np.where(mask, pad_rows(B, y), 0.0)
    vb = pad_rows(B, v, fill=1.0)
    Xb = pad_design(B, X)
    one = mask.astype(float)
    both = one[:, :, None] * one[:, None, :]
    eye = np.eye(mask.shape[1])

    def score(s2):
        Wj = np.linalg.inv(vb[:, :, None] * eye + s2 * both) * both
        XWX = np.einsum("nkp,nkl,nlq->pq", Xb, Wj, Xb)
        Q = np.linalg.inv(XWX)
        beta = Q @ np.einsum("nkp,nkl,nl->p", Xb, Wj, yb)
        r = yb - Xb @ beta
        w1 = Wj.sum(-1)  # W_j 1
        s = np.einsum("nk,nkp->np", w1, Xb)  # X_j'W_j 1
        trPJ = w1.sum() - np.einsum("np,pq,nq->", s, Q, s)
        return trPJ - (np.einsum("nk,nk->n", w1, r) ** 2).sum()

    if score(0.0) >= 0:
        return 0.0
    hi = 10 * float(np.var(y) + np.max(v))
    while score(hi) < 0:
        hi *= 10
    return float(brentq(score, 0.0, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500))


def cr2_fit_mv(y, v, X, cluster, *, sigma2, level=95.0, constraints=None):
    """CR2 + Satterthwaite (+ HTZ) for ``rma.mv(yi, vi, random = ~ 1 | cluster)`` with
    the given sigma^2: ``Phi_j = M_j = diag(v_j) + sigma^2 J``, ``W_j = M_j^-1``
    (clubSandwich: inverse_var, target = W^-1, ``R_j = chol(Phi_j)``,
    ``G_j = R_j (I - X_j M X_j' W_j) Phi_j R_j'``, ``A_j = R_j' G_j^-1/2 R_j``)."""
    B = StudyBlocks.from_ids(cluster)
    if B.N < 2:
        raise ValueError("Cluster-robust variance estimation will not work when the data only includes a single cluster.")
    mask = B.mask
    K = mask.shape[1]
    eye = np.eye(K)
    one = mask.astype(float)
    both = one[:, :, None] * one[:, None, :]
    yb = np.where(mask, pad_rows(B, y), 0.0)
    Xb = pad_design(B, X)
    Phi = pad_rows(B, v, fill=1.0)[:, :, None] * eye + sigma2 * both  # padded: identity
    W = np.linalg.inv(Phi) * both
    Mb = checked_inv(np.einsum("nkp,nkl,nlq->pq", Xb, W, Xb), "X'WX")
    beta = Mb @ np.einsum("nkp,nkl,nl->p", Xb, W, yb)
    e = np.where(mask, yb - Xb @ beta, 0.0)
    R = np.swapaxes(np.linalg.cholesky(Phi), -1, -2)  # upper: R'R = Phi
    IH = eye - np.einsum("nap,pq,nbq->nab", Xb, Mb, Xb) @ W
    G = R @ IH @ Phi @ np.swapaxes(R, -1, -2)
    A = np.swapaxes(R, -1, -2) @ _inv_sqrt_cs(G, CS_EIG_TOL) @ R
    A = A * both
    u = np.einsum("nkp,nkl,nl->np", Xb, W @ A, e)
    V = Mb @ (u.T @ u) @ Mb
    SE = np.sqrt(np.diag(V))
    t = beta / SE
    U = A @ W @ Xb @ Mb
    P = _pair_arrays_full(U, Xb, Phi * both, W, Mb)
    p = len(beta)
    Pd = P[np.arange(p), np.arange(p)]
    df = np.trace(Pd, axis1=-2, axis2=-1) ** 2 / np.einsum("cij,cij->c", Pd, Pd)
    crit = stats.t.isf((1 - level / 100) / 2, df)
    out = dict(beta=beta, vcov=V, SE=SE, tstat=t, df_Satt=df, p_Satt=2 * stats.t.sf(np.abs(t), df), CI_L=beta - SE * crit, CI_U=beta + SE * crit, N=B.N, sigma2=sigma2)
    if constraints is not None:
        Cm = np.atleast_2d(np.asarray(constraints, float))
        q = Cm.shape[0]
        Pc = _pair_arrays_full(U @ Cm.T, Xb, Phi * both, W, Mb)
        out.update(_htz_from_pairs(Cm, q, Pc, beta, V))
    return out


def _htz_from_pairs(Cm, q, P, beta, V):
    Om = np.trace(P, axis1=-2, axis2=-1)
    Ons = _inv_sqrt_cs(Om, CS_EIG_TOL)
    Bm = np.einsum("sx,xyab,yt->stab", Ons, P, Ons)
    var = np.einsum("stab,tsab->st", Bm, Bm) + np.einsum("ssab,ttab->st", Bm, Bm)
    nu = q * (q + 1) / var.sum()
    cb = Cm @ beta
    Q = float(cb @ np.linalg.solve(Cm @ V @ Cm.T, cb))
    delta = max((nu - q + 1) / nu, 0.0)
    df2 = nu - q + 1
    F = delta * Q / q
    pval = float(stats.f.sf(F, q, df2)) if df2 > 0 else float("nan")
    return dict(Fstat=F, delta=delta, df_num=float(q), df_denom=df2, p_val=pval, Q=Q)
