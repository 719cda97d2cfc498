"""Default tolerances by kind of quantity, each with its reason.

A value ``py`` agrees with the R value ``r`` when
``|py - r| <= atol + rtol * |r|`` (R is the reference).
"""
from __future__ import annotations

from dataclasses import dataclass


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
