"""Weighted least squares pieces shared by every univariate estimator.

All functions work on stacked problems: ``y``, ``w`` have shape ``(..., k)``
and ``X`` has shape ``(..., k, p)``; the leading axes index independent
meta-analyses. Nothing here forms a k x k matrix: the traces of the projection

.. math:: P = W - W X (X'WX)^{-1} X'W

that metafor builds explicitly are computed in O(k p^2) from

.. math::
    \\operatorname{tr} P = \\sum w - \\operatorname{tr}(M X'W^2X),\\qquad
    \\operatorname{tr} P^2 = \\sum w^2 - 2\\operatorname{tr}(M X'W^3X)
        + \\operatorname{tr}(M X'W^2X M X'W^2X)

with :math:`M = (X'WX)^{-1}`, and :math:`y'Py = \\sum w r^2`,
:math:`y'P^2y = \\sum w^2 r^2` for the WLS residuals :math:`r = y - X\\hat\\beta`.
Because P is symmetric, :math:`\\sum_{ij} P_{ij}^2 = \\operatorname{tr} P^2`.
"""
from __future__ import annotations

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


def wls(y, w, X) -> WLSFit:
    """Weighted least squares :math:`\\hat\\beta = (X'WX)^{-1} X'Wy`."""
    M = np.linalg.inv(xtwx(X, w))
    beta = np.einsum("...ij,...j->...i", M, xtwy(X, w, y))
    resid = y - np.einsum("...kp,...p->...k", X, beta)
    return WLSFit(beta, M, resid)


@dataclass(frozen=True)
class Projection:
    """Quadratic forms and traces of P(w) needed by the tau^2 estimators."""

    yPy: np.ndarray  # y'Py = sum w r^2
    yPPy: np.ndarray  # y'PPy = sum w^2 r^2
    trP: np.ndarray
    trPP: np.ndarray  # = sum of squared elements of P


def projection(y, w, X) -> Projection:
    fit = wls(y, w, X)
    M = fit.vb
    A2 = xtwx(X, w**2)
    A3 = xtwx(X, w**3)
    MA2 = M @ A2
    trP = w.sum(-1) - np.trace(MA2, axis1=-2, axis2=-1)
    trPP = (w**2).sum(-1) - 2 * np.trace(M @ A3, axis1=-2, axis2=-1) + np.trace(MA2 @ MA2, axis1=-2, axis2=-1)
    r = fit.resid
    return Projection(yPy=(w * r**2).sum(-1), yPPy=(w**2 * r**2).sum(-1), trP=trP, trPP=trPP)


def tr_PA(w, X, M, a):
    """:math:`\\operatorname{tr}(P A)` for diagonal ``A = diag(a)`` and ``P = W - WXMX'W``.

    :math:`\\sum w a - \\operatorname{tr}(M X'\\operatorname{diag}(w^2 a)X)`, O(k p^2).
    """
    return (w * a).sum(-1) - np.trace(M @ xtwx(X, w**2 * a), axis1=-2, axis2=-1)


def tr_PAPB(w, X, M, a, b):
    """:math:`\\operatorname{tr}(P A P B) = \\sum_{ij} P_{ij}^2 a_j b_i` for diagonal A, B.

    With :math:`P_{ij} = w_i(\\delta_{ij} - x_i'Mx_j w_j)`:
    :math:`\\sum w^2ab - 2\\operatorname{tr}(M X'\\operatorname{diag}(w^3ab)X)
    + \\operatorname{tr}(M X'\\operatorname{diag}(w^2b)X\\, M X'\\operatorname{diag}(w^2a)X)`.
    metafor's ``sum(PV * t(PV))`` is ``tr_PAPB(a=v, b=v)``, ``sum(PV * P)`` is
    ``tr_PAPB(a=v, b=1)`` and ``sum(P * P)`` is ``tr_PAPB(a=1, b=1)``.
    """
    Sa = M @ xtwx(X, w**2 * a)
    Sb = M @ xtwx(X, w**2 * b)
    return (w**2 * a * b).sum(-1) - 2 * np.trace(M @ xtwx(X, w**3 * a * b), axis1=-2, axis2=-1) + np.trace(Sb @ Sa, axis1=-2, axis2=-1)
