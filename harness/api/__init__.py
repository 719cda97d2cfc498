"""The public Python API of metaharness, in one place.

Every public function and result class is importable from here (and, the
same objects, from :mod:`harness` itself)::

    from harness.api import escalc, rma, robu, sensitivity, cr2

Functions
---------
escalc       per-study effect sizes (metafor ``escalc``)
rma          univariate (meta-regression) models (metafor ``rma.uni``)
robu         robust variance estimation (robumeta ``robu``)
sensitivity  robu over a grid of rho (robumeta ``sensitivity``)
cr2          CR2 cluster-robust inference for rma models (clubSandwich)
rma_mh       Mantel-Haenszel pooling of 2x2 tables (metafor ``rma.mh``)
rma_peto     Peto's method for 2x2 tables (metafor ``rma.peto``)

Results
-------
EscalcResult, RmaResult, RobuResult, SensitivityResult, Cr2Result,
ConfidenceInterval

The modules behind it: :mod:`.univariate` (escalc, rma), :mod:`.rve` (robu,
sensitivity, cr2) and :mod:`.results` (the result classes of escalc and rma).
Numerics live in :mod:`harness.core` (pure functions on arrays); nothing here
imports rpy2 or starts R.
"""
from .results import ConfidenceInterval, EscalcResult, RmaResult
from .rve import Cr2Result, RobuResult, RobuWarning, SensitivityResult, cr2, robu, sensitivity
from .univariate import escalc, rma
from .binary import RmaMhResult, RmaPetoResult, rma_mh, rma_peto

__all__ = [
    "escalc", "rma", "robu", "sensitivity", "cr2",
    "EscalcResult", "RmaResult", "RobuResult", "SensitivityResult", "Cr2Result", "ConfidenceInterval",
    "RobuWarning",
    "rma_mh", "rma_peto", "RmaMhResult", "RmaPetoResult",
]
