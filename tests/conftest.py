from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests (tests/test_properties.py) are deterministic: the same examples
# on every run and machine, no example database (CI starts from a clean clone).
settings.register_profile("metaharness", derandomize=True, database=None, print_blob=True, max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("metaharness")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir():
    return FIXTURES


def pytest_configure(config):
    # scripts/stacks.sh: the CRAN stacks (the same R 4.2.2 and rpy2 as debian12, other R packages)
    # run `-m "r and not r_bridge"`; debian12 and debian13 run them all
    config.addinivalue_line("markers", "r_bridge: needs R and the rpy2 bridge but no particular metafor/robumeta/clubSandwich "
                                       "release (worker faults, clusters, the browser, the plugin's machinery): run once per R and rpy2")


@pytest.fixture(scope="module")
def fault_engine(r_engine):  # r_engine: R must be available (fails under --require-r otherwise)
    """An R worker (harness.engines.worker.WorkerEngine) that also loads the test-only R functions
    of tests/r_faults/ (faults to inject, conversions to judge), one per test module: the tests
    of a module may kill or time it out."""
    from harness.engines.worker import WorkerEngine

    eng = WorkerEngine(extra_scripts=[ROOT / "tests" / "r_faults"], timeout=60)
    eng.start()
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def local2():
    """A 2-worker Dask LocalCluster (harness.distributed.Cluster), one per test module."""
    from harness.distributed import Cluster

    with Cluster(workers=2) as cl:
        yield cl
