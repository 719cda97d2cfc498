"""metaharness: a Python meta-analysis core verified number by number against R.

Importing ``harness`` never starts R; the R engine starts on first use.
"""
from .api import escalc, rma
from .results import ConfidenceInterval, EscalcResult, RmaResult
from .rve_api import Cr2Result, RobuResult, SensitivityResult, cr2, robu, sensitivity  # RVE (issue 4)

__version__ = "0.1.0"
__all__ = ["escalc", "rma", "EscalcResult", "RmaResult", "ConfidenceInterval", "__version__"]
__all__ += ["robu", "sensitivity", "cr2", "RobuResult", "SensitivityResult", "Cr2Result"]  # RVE (issue 4)
