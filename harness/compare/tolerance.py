"""Default tolerances by kind of quantity, each with its reason.

A value ``py`` agrees with the R value ``r`` when
``|py - r| <= atol + rtol * |r|`` (R is the reference).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

#: machine epsilon of an IEEE double (numpy.finfo(float).eps), without importing numpy
EPS = 2.0**-52


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float

    def allows(self, a: float, b: float) -> bool:
        return abs(a - b) <= self.atol + self.rtol * abs(b)

#: Closed-form quantities (effect sizes, FE/DL fits, Q, moment estimators):
#: both engines evaluate the same formula in double precision, so only
#: rounding differs (observed ~1e-15 relative). 1e-10 leaves room for
#: ill-conditioned sums; atol covers values that are exactly 0 on one side.
CLOSED = Tolerance(rtol=1e-10, atol=1e-13)

#: Iterative quantities (anything depending on an ML/REML/EB/PM... tau^2):
#: both engines stop when |change in tau^2| <= threshold (1e-12 by default in
#: specs, passed to metafor's `control`), so tau^2 can differ by about the
#: threshold times the contraction factor; 1e-8 relative holds with margin.
#: atol 1e-10 covers a tau^2 at the boundary (metafor leaves ~1e-13 there).
ITERATIVE = Tolerance(rtol=1e-8, atol=1e-10)

#: A value stored as a full IEEE double by another program (RevMan 5's .rm5
#: attributes): it and the recomputation evaluate the same formulas in double
#: precision, summing in different orders (observed agreement ~1e-15
#: relative); 1e-9 leaves room for cancellation while staying far below the
#: smallest convention difference seen (1.96 against the exact normal
#: quantile, 2e-5 relative). atol covers values that are 0 on one side.
STORED_DOUBLE = Tolerance(rtol=1e-9, atol=1e-12)

#: The same for a p-value: no absolute floor, so that a p-value stored as 0
#: for a true 1e-78 (an underflow) is a difference to be explained, not
#: silently agreement; tiny p-values are computed to full relative precision.
STORED_DOUBLE_P = Tolerance(rtol=1e-9, atol=0.0)

#: Relative slack added to a printed value's half-unit: the recomputation's own
#: rounding (a value exactly on a rounding boundary must not flip the verdict).
_PRINT_SLACK = 1e-12


def printed(decimals: int | None = None, significant: int | None = None, value: float | None = None) -> Tolerance:
    """Tolerance of a value printed to a fixed precision: half a unit of its last digit.

    ``decimals``: the value was printed with that many decimals (a CSV export
    writing ``0.########``): ``atol = 0.5 * 10**-decimals``.
    ``significant``: printed with that many significant digits; the unit of
    the last digit depends on the magnitude of ``value`` (the printed value):
    ``atol = 0.5 * 10**(floor(log10|value|) - significant + 1)``.
    The precision must be that of the *format* (established over a whole
    file), not the digits one cell happens to show: a writer that drops
    trailing zeros prints 38.6125 as "38.6125" and 38.6 as "38.6".
    """
    if (decimals is None) == (significant is None):
        raise ValueError("give exactly one of `decimals` and `significant`")
    if decimals is not None:
        return Tolerance(rtol=_PRINT_SLACK, atol=0.5 * 10.0 ** -decimals * (1 + 1e-9))
    if value is None or value != value or math.isinf(value):
        raise ValueError("a significant-digits tolerance needs the printed (finite) value")
    if value == 0:
        return Tolerance(rtol=_PRINT_SLACK, atol=STORED_DOUBLE.atol)  # "0" is exact at any number of significant digits
    e = math.floor(math.log10(abs(value)))
    return Tolerance(rtol=_PRINT_SLACK, atol=0.5 * 10.0 ** (e - significant + 1) * (1 + 1e-9))


def rounding_bound(kappa: float) -> float:
    """Relative rounding error a design of condition number ``kappa`` can amplify: kappa^2 * eps.

    Quantities built from the normal equations, or from the inverse of X'WX however it is
    computed, carry a relative error of order kappa^2 eps (Higham, *Accuracy and Stability of
    Numerical Algorithms*, 2nd ed., 2002, sections 20.4-20.5), kappa being the condition number of
    W^1/2 X: metafor's P matrix (rma.uni), robumeta's and clubSandwich's solve(X'WX), and the
    covariance matrix (X'WX)^-1 of every model here.
    """
    return kappa * kappa * EPS


def conditioned(tol: Tolerance, kappa: float | None) -> Tolerance:
    """``tol`` widened to what rounding in a design of condition number ``kappa`` can move.

    rtol becomes ``max(tol.rtol, kappa^2 eps)``; a well-conditioned design (kappa ~ 10,
    kappa^2 eps ~ 2e-14) keeps ``tol`` as it is. No ``kappa`` (a model without a design
    matrix) or a non-finite one (a singular design: no number is meaningful) keeps ``tol``.
    """
    if kappa is None or not math.isfinite(kappa) or rounding_bound(kappa) <= tol.rtol:
        return tol
    return Tolerance(rounding_bound(kappa), tol.atol)
