"""The public Python API of metaharness, in one place.

Every public function and result class is importable from here (and, the
same objects, from :mod:`harness` itself)::

    from harness.api import escalc, rma, robu, sensitivity, cr2, revman

Functions
---------
escalc       per-study effect sizes (metafor ``escalc``)
rma          univariate (meta-regression) models (metafor ``rma.uni``)
robu         robust variance estimation (robumeta ``robu``)
sensitivity  robu over a grid of rho (robumeta ``sensitivity``)
cr2          CR2 cluster-robust inference for rma models (clubSandwich)
revman       RevMan 5's inverse-variance pooling, subgroups and their test
rma_mh       Mantel-Haenszel pooling of 2x2 tables (metafor ``rma.mh``)
rma_peto     Peto's method for 2x2 tables (metafor ``rma.peto``)

Results
-------
EscalcResult, RmaResult, RobuResult, SensitivityResult, Cr2Result, RevManResult,
ConfintResult, RegtestResult, TrimfillResult, Leave1outResult (what fit.confint(),
fit.regtest(), fit.trimfill(), fit.leave1out() return), ConfidenceInterval, Interval

Warnings: RmaWarning (metafor's warnings), RobuWarning, StudiesOmittedWarning.

Every function takes arrays or, with ``data=`` a pandas DataFrame, column names
(metafor's ``data=``); ``print(result)`` shows what R prints. Defaults are
metafor's, robumeta's and clubSandwich's own, so that a printed result is what a
user of R sees (``metaharness verify`` runs both engines with tighter settings).

The modules behind it: :mod:`.univariate` (escalc, rma), :mod:`.rve` (robu,
sensitivity, cr2), :mod:`.revman` (revman), :mod:`.results` (the result classes of
escalc and rma), :mod:`.printing` (R's layouts) and :mod:`._inputs` (data frames,
checks, missing values).
Numerics live in :mod:`harness.core` (pure functions on arrays); nothing here
imports rpy2 or starts R.
"""
from ._inputs import RmaWarning, StudiesOmittedWarning
from .results import ConfidenceInterval, ConfintResult, EscalcResult, Interval, Leave1outResult, RegtestResult, RmaResult, TrimfillResult
from .revman import RevManResult, revman
from .rve import Cr2Result, RobuResult, RobuWarning, SensitivityResult, cr2, robu, sensitivity
from .univariate import escalc, rma
from .binary import RmaMhResult, RmaPetoResult, rma_mh, rma_peto

__all__ = [
    "escalc", "rma", "robu", "sensitivity", "cr2", "revman",
    "EscalcResult", "RmaResult", "RobuResult", "SensitivityResult", "Cr2Result", "RevManResult",
    "ConfintResult", "RegtestResult", "TrimfillResult", "Leave1outResult", "ConfidenceInterval", "Interval",
    "RmaWarning", "RobuWarning", "StudiesOmittedWarning",
    "rma_mh", "rma_peto", "RmaMhResult", "RmaPetoResult",
]
