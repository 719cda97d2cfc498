"""pytest plugin (entry point ``pytest11``): R-backed fixtures for any stats core.

* ``--require-r``: tests that need R *fail* when R cannot start (CI uses it);
  without the flag they are skipped with the reason in the summary.
* ``r_engine`` (session): the embedded R with metafor/robumeta loaded.

Imports of rpy2 happen only when a test asks for ``r_engine``.
"""
from __future__ import annotations

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("metaharness")
    group.addoption("--require-r", action="store_true", default=False, help="fail (instead of skip) tests that need R when R cannot run")


def pytest_configure(config):
    config.addinivalue_line("markers", "r: the test runs R (metafor/robumeta) for real")


@pytest.fixture(scope="session")
def r_engine(request):
    """The process-wide :class:`harness.engines.r.REngine`, started once."""
    from harness.errors import EngineUnavailable

    try:
        from harness.engines.r import get_engine

        return get_engine()
    except EngineUnavailable as e:
        if request.config.getoption("--require-r"):
            pytest.fail(f"R engine required (--require-r) but unavailable: {e}", pytrace=False)
        pytest.skip(f"R engine unavailable: {e}")
