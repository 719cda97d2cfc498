"""A fast start: which modules a command imports (not how long it takes: timings live in bench/).

``metaharness --help``, ``--version`` and an argument error need argparse and the harness's own
light modules only; numpy, scipy, pandas, matplotlib and rpy2 are imported where they are used.
``verify --python-only`` starts no R (no rpy2) and, without --html, draws nothing (no matplotlib).
Each command runs in a fresh interpreter under ``python -X importtime``, which lists every module
imported.
"""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.verify import FIXTURES

HEAVY = ("numpy", "scipy", "pandas", "matplotlib", "rpy2")


def imported(*args):
    """Top-level names of every module the console script imports for ``metaharness ARGS``; its exit status."""
    script = shutil.which("metaharness", path=str(Path(sys.executable).parent))
    assert script, "the metaharness console script is not installed beside this Python"
    p = subprocess.run([sys.executable, "-X", "importtime", script, *args], capture_output=True, text=True, timeout=600)
    names = set()
    for line in p.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            mod = line.rsplit("|", 1)[1].strip()
            if mod != "imported package":
                names.add(mod.split(".")[0])
    assert "harness" in names, p.stderr[-2000:]  # the listing worked
    return names, p.returncode, p.stdout


@pytest.mark.parametrize("args, status", [(["--help"], 0), (["--version"], 0), (["verify", "--no-such-option"], 2),
                                          (["verify", "--help"], 0), (["audit", "--help"], 0)])
def test_cli_start_imports_nothing_heavy(args, status):
    names, rc, _ = imported(*args)
    assert rc == status
    assert not names & set(HEAVY), f"metaharness {' '.join(args)} imports {sorted(names & set(HEAVY))}"


def test_version_is_the_package_version():
    import harness

    _, rc, out = imported("--version")
    assert rc == 0 and out.strip() == f"metaharness {harness.__version__}"


def test_import_harness_is_light_and_the_api_loads_on_use():
    code = ("import sys, harness; heavy = [m for m in sys.modules if m.split('.')[0] in %r]; "
            "assert not heavy, heavy; fit = harness.rma([0.1, 0.3, 0.2], [0.01, 0.02, 0.015], method='DL'); "
            "assert 'numpy' in sys.modules and callable(harness.escalc); from harness import *; print(rma is harness.rma)") % (HEAVY,)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0 and p.stdout.strip() == "True", p.stderr


def test_python_only_verify_starts_no_r_and_draws_nothing():
    """No rpy2, no matplotlib, and no scipy.stats (the core calls scipy.special directly:
    harness.core.distributions)."""
    script = shutil.which("metaharness", path=str(Path(sys.executable).parent))
    p = subprocess.run([sys.executable, "-X", "importtime", script, "verify", "--python-only", "--no-progress",
                        str(FIXTURES / "normand1999" / "spec.toml")], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr[-3000:]
    assert "R was not run (--python-only)" in p.stdout
    modules = {line.rsplit("|", 1)[1].strip() for line in p.stderr.splitlines() if line.startswith("import time:") and "|" in line}
    for mod in ("rpy2", "matplotlib", "scipy.stats"):
        assert mod not in modules, f"verify --python-only imports {mod}"
