"""Package layout: every sub-package is in the wheel, package data is found through importlib.resources,
METAHARNESS_R_SCRIPTS overrides the bundled R scripts. (tests/test_wheel.py installs a real wheel.)"""
import tomllib
from pathlib import Path

import pytest

from harness import resources
from harness.engines.r import scripts_dir
from harness.errors import EngineUnavailable

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_subpackage_is_listed_in_pyproject():
    """pyproject.toml lists the packages explicitly (package data needs the mapping): a new
    harness/<x>/__init__.py must be added there, or the wheel would lack it."""
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "harness").rglob("__init__.py")}
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert found - listed == set(), f"add to [tool.setuptools] packages in pyproject.toml: {sorted(found - listed)}"
    for pkg, folder in PYPROJECT["tool"]["setuptools"]["package-dir"].items():
        assert pkg in listed and (ROOT / folder / "__init__.py").is_file(), (pkg, folder)


def test_version_is_written_once():
    import harness

    assert "version" not in PYPROJECT["project"] and "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "harness.__version__"}
    assert harness.__version__.count(".") >= 2


def test_package_data_is_found_with_importlib_resources():
    assert (resources.r_scripts() / "engine.R").is_file()
    assert (resources.fixtures() / "normand1999" / "spec.toml").is_file()
    assert (resources.fixtures() / "published" / "henmi2010.toml").is_file()
    assert (resources.snapshots() / "normand1999.json").is_file()
    from harness.compare import explained

    assert explained.load()  # explained.toml, package data of harness.compare


def test_r_scripts_override(monkeypatch, tmp_path):
    monkeypatch.setenv("METAHARNESS_R_SCRIPTS", str(ROOT / "r_scripts"))
    assert scripts_dir() == ROOT / "r_scripts"
    monkeypatch.setenv("METAHARNESS_R_SCRIPTS", str(tmp_path))  # a folder without scripts: a clear reason
    with pytest.raises(EngineUnavailable, match=r"no R scripts in .*METAHARNESS_R_SCRIPTS"):
        scripts_dir()
    monkeypatch.delenv("METAHARNESS_R_SCRIPTS")
    assert scripts_dir() == resources.r_scripts()


def test_resources_command(capsys):
    assert resources.main(["fixtures"]) == 0
    assert capsys.readouterr().out.strip() == str(resources.fixtures())
    assert resources.main(["nothing"]) == 2
