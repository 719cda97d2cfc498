"""Files that ship with the package: the R scripts, the bundled fixtures and their snapshots.

They are package data, found with :mod:`importlib.resources`, so the same code
works from a wheel, an sdist and the repository:

=====================  ==============================  ===========================
package                in a wheel (site-packages)      in the repository
=====================  ==============================  ===========================
``harness.r_scripts``  ``harness/r_scripts/*.R``       ``r_scripts/``
``harness.fixtures``   ``harness/fixtures/``           ``fixtures/``
``harness.snapshots``  ``harness/snapshots/*.json``    ``snapshots/``
=====================  ==============================  ===========================

The repository keeps its top-level folders; ``pyproject.toml`` maps the package
names onto them (``[tool.setuptools] package-dir``), which is also what an
editable install (``pip install -e .``) resolves. The registry of explained
differences, ``harness/compare/explained.toml``, is package data of
``harness.compare``.

``METAHARNESS_R_SCRIPTS`` (a folder of ``*.R`` files) overrides the bundled R
scripts. ``python -m harness.resources`` prints the folders, e.g. to find the
bundled published-results files of ``metaharness audit`` after ``pip install``::

    metaharness audit "$(python -m harness.resources fixtures)/published/normand1999.toml"
"""
from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path

from .errors import HarnessError

#: what ``python -m harness.resources NAME`` knows, and the package holding it
FOLDERS = {"r_scripts": "harness.r_scripts", "fixtures": "harness.fixtures", "snapshots": "harness.snapshots"}


def _folder(package: str) -> Path:
    """The folder of a data package as a path on disk (R and the CSV reader need real files)."""
    found = resources.files(package)
    if not isinstance(found, Path) or not found.is_dir():
        raise HarnessError(f"{package} is not a folder on disk ({found}); install metaharness as files "
                           "(pip install, not a zip archive)")
    return found


def r_scripts() -> Path:
    """The folder of the R side's ``*.R`` scripts: ``$METAHARNESS_R_SCRIPTS``, else the bundled ones."""
    env = os.environ.get("METAHARNESS_R_SCRIPTS")
    return Path(env) if env else _folder(FOLDERS["r_scripts"])


def fixtures() -> Path:
    """The bundled fixtures (``verify`` with no paths), including ``published/`` for ``audit``."""
    return _folder(FOLDERS["fixtures"])


def snapshots() -> Path:
    """The committed snapshots of the bundled fixtures (``verify --python-only``, ``agreement.snapshot``)."""
    return _folder(FOLDERS["snapshots"])


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    names = argv or list(FOLDERS)
    unknown = [n for n in names if n not in FOLDERS]
    if unknown:
        print(f"usage: python -m harness.resources [{' | '.join(FOLDERS)}]; unknown: {', '.join(unknown)}", file=sys.stderr)
        return 2
    getters = {"r_scripts": r_scripts, "fixtures": fixtures, "snapshots": snapshots}
    for n in names:
        print(getters[n]() if len(names) == 1 else f"{n:10s} {getters[n]()}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
