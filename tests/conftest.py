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
