"""The package works as users install it: a wheel in a fresh virtual environment, outside the repository.

The sdist is built from the repository and the wheel from the sdist (``python -m build``: what an
index gets), the wheel is installed into a new venv in a temporary folder (pip's cache is reused;
rpy2 pinned by the R found, as scripts/setup.sh pins it), and from another temporary folder the
installed ``metaharness`` runs ``doctor``, ``verify`` of a copied fixture against R, ``verify
--python-only`` against the bundled snapshots, an audit of a bundled published-results file, and
the pytest plugin on a small test file. Nothing here is skipped: a build or an install that cannot
run fails the test (a user would be just as stuck).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import harness

ROOT = Path(__file__).resolve().parent.parent
TINY_TEST = '''
import harness

# five made-up studies (log odds ratios and their variances)
YI = [-0.30, 0.12, -0.45, 0.05, -0.20]
VI = [0.040, 0.025, 0.060, 0.030, 0.045]


def test_dl_agrees_with_metafor(agreement):
    fit = harness.rma(YI, VI, method="DL")
    ref = agreement.r("mh_rma", data={"yi": YI, "vi": VI}, measure="GEN", method="DL")
    agreement.check({n: getattr(fit, n) for n in ("beta", "se", "tau2", "QE", "I2")}, ref)


def test_bundled_snapshot_without_directory(agreement):
    ref = agreement.snapshot("normand1999-MD-FE")  # the snapshots bundled with the package
    assert ref["k"] == 9 and ref["beta"] < 0  # Normand (1999): 9 studies, length of stay shorter with specialist care
'''


def rpy2_requirement(r_version: str) -> str:
    """The rpy2 for an R version, as scripts/setup.sh and the README choose it."""
    major, minor = (int(x) for x in r_version.split(".")[:2])
    if (major, minor) < (4, 0):
        raise AssertionError(f"R {r_version} is too old: metaharness needs R >= 4.0")
    return "rpy2>=3.6.7" if (major, minor) >= (4, 5) else "rpy2==3.5.17"


def test_rpy2_rule_is_setup_sh_rule():
    text = (ROOT / "scripts" / "setup.sh").read_text()
    assert 'RPY2_SPEC="rpy2>=3.6.7"' in text and 'RPY2_SPEC="rpy2==3.5.17"' in text
    assert rpy2_requirement("4.2.2") == "rpy2==3.5.17" and rpy2_requirement("4.5.0") == "rpy2>=3.6.7"


def run(cmd, *, ok=(0,), timeout=1800, **kw):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kw)
    assert p.returncode in ok, f"{' '.join(map(str, cmd))} exited {p.returncode}\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}"
    return p


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """sdist and wheel built from the repository (the wheel from the sdist, as an index gets it)."""
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", out, ROOT])
    (sdist,), (wheel,) = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
    return sdist, wheel


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory):
    """A fresh venv outside the repository with the wheel, rpy2 for the R found, and pytest."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    run([sys.executable, "-m", "venv", venv])
    py = venv / "bin" / "python"
    r_version = run(["Rscript", "--vanilla", "-e", 'cat(R.version$major, R.version$minor, sep=".")']).stdout.strip()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "METAHARNESS_R_SCRIPTS", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    run([py, "-m", "pip", "install", "-q", rpy2_requirement(r_version)], env=env)  # first: pip must not pick another rpy2
    run([py, "-m", "pip", "install", "-q", dist[1], "pytest"], env=env)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    work = tmp_path_factory.mktemp("work")
    return {"python": py, "bin": venv / "bin", "env": env, "work": work}


def test_wheel_and_sdist_carry_the_package_data(dist):
    sdist, wheel = dist
    scripts = sorted(p.name for p in (ROOT / "r_scripts").glob("*.R"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"harness/r_scripts/{s}" for s in scripts} <= names
    assert "harness/compare/explained.toml" in names
    assert {"harness/fixtures/normand1999/spec.toml", "harness/fixtures/normand1999/data.csv",
            "harness/fixtures/published/henmi2010.toml", "harness/fixtures/published/data/lee2004_logor.csv"} <= names
    assert {f"harness/snapshots/{p.name}" for p in (ROOT / "snapshots").glob("*.json")} <= names
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert f"Version: {harness.__version__}" in meta
    assert "Classifier: Programming Language :: R" in meta and "Project-URL: Source" in meta
    assert "License-Expression: MIT" in meta and "# metaharness" in meta  # the README is the long description
    top = sdist.name.removesuffix(".tar.gz")
    members = set(tarfile.open(sdist).getnames())
    assert {f"{top}/{f}" for f in ("pyproject.toml", "README.md", "LICENSE", "r_scripts/engine.R", "fixtures/normand1999/spec.toml",
                                    "snapshots/normand1999.json", "harness/compare/explained.toml")} <= members


def test_installed_package_is_the_wheel(installed):
    p = run([installed["python"], "-c", "import harness, harness.resources as r; print(harness.__file__); print(r.r_scripts())"],
            cwd=installed["work"], env=installed["env"])
    files = [Path(x) for x in p.stdout.split()]
    assert all("site-packages" in f.parts and ROOT not in f.parents for f in files), files
    p = run([installed["bin"] / "metaharness", "--version"], cwd=installed["work"], env=installed["env"])
    assert p.stdout.strip() == f"metaharness {harness.__version__}"


@pytest.mark.r
def test_doctor_from_the_wheel(installed):
    p = run([installed["bin"] / "metaharness", "doctor"], cwd=installed["work"], env=installed["env"])
    assert re.search(r"engine\s+ok \(metafor", p.stdout), p.stdout


@pytest.mark.r
def test_verify_a_copied_fixture_against_r(installed):
    work = installed["work"]
    shutil.copytree(ROOT / "fixtures" / "normand1999", work / "normand1999", dirs_exist_ok=True)
    run([installed["bin"] / "metaharness", "verify", "normand1999/spec.toml", "--json", "run.json", "--no-progress"],
        cwd=work, env=installed["env"])
    doc = json.loads((work / "run.json").read_text())
    s = doc["summary"]
    assert doc["r_unavailable"] is None and s["analyses"] > 100 and s["agree"] > 10_000
    assert s["differ"] == s["missing"] == s["engine-error"] == s["warning"] == 0, s
    assert doc["engines"]["r"]["metafor"]
    # the same fixture with no R: Python against the R values in the bundled snapshots
    p = run([installed["bin"] / "metaharness", "verify", "--python-only", "normand1999/spec.toml", "--no-progress"],
            cwd=work, env=installed["env"])
    assert "R was not run (--python-only)" in p.stdout and "site-packages" in p.stdout and " 0 changes" in p.stdout


@pytest.mark.r
def test_audit_a_bundled_published_results_file(installed):
    fixtures = run([installed["python"], "-m", "harness.resources", "fixtures"], cwd=installed["work"], env=installed["env"]).stdout.strip()
    run([installed["bin"] / "metaharness", "audit", Path(fixtures) / "published" / "henmi2010.toml", "--json", "audit.json"],
        cwd=installed["work"], env=installed["env"])
    findings = json.loads((installed["work"] / "audit.json").read_text())["files"][0]["findings"]
    by_check = {f["check"]: f["verdict"] for f in findings}
    assert by_check["metafor conventions, DL (R metafor)"] == "consistent", by_check  # recomputed by R, from the bundled CSV
    assert "inconsistent" not in by_check.values()


@pytest.mark.r
def test_pytest_plugin_from_the_wheel(installed):
    d = installed["work"] / "plugin"
    d.mkdir(exist_ok=True)
    (d / "test_tiny.py").write_text(TINY_TEST)
    p = run([installed["python"], "-m", "pytest", "-q", "--require-r", "-p", "no:cacheprovider", "test_tiny.py"], cwd=d, env=installed["env"])
    assert "2 passed" in p.stdout
