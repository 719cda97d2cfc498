"""metaharness: a Python meta-analysis core verified number by number against R.

The public API is :mod:`harness.api`, re-exported here. Importing ``harness``
never starts R, and imports nothing heavy: the API (numpy, scipy, pandas) is
imported on first use of one of its names (``harness.rma``, ``from harness
import escalc``), so the command line starts fast (``metaharness --help``).
"""
from __future__ import annotations

#: the package's version, written here only (pyproject.toml reads it: ``dynamic = ["version"]``)
__version__ = "0.1.0"


def __getattr__(name):
    """The public API on first use (PEP 562): ``harness.rma`` is ``harness.api.rma``."""
    import importlib.util

    if name.startswith("__") and name != "__all__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if importlib.util.find_spec(f"{__name__}.{name}") is not None:  # a sub-module, e.g. harness.snapshot
        return importlib.import_module(f"{__name__}.{name}")
    api = importlib.import_module(f"{__name__}.api")
    if name == "__all__":
        return [*api.__all__, "__version__"]
    if name in api.__all__:
        value = getattr(api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__getattr__("__all__")})
