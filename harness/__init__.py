"""metaharness: a Python meta-analysis core verified number by number against R.

The public API is :mod:`harness.api`, re-exported here. Importing ``harness``
never starts R; the R engine starts on first use.
"""
from .api import *  # noqa: F401,F403  (the public API, listed in harness.api.__all__)
from .api import __all__ as _api_all

__version__ = "0.1.0"
__all__ = [*_api_all, "__version__"]
