"""The R side of metaharness (``mh_*`` functions sourced by :mod:`harness.engines.r`).

Not Python code: this file makes the folder the package ``harness.r_scripts`` (package data,
mapped onto this folder by pyproject.toml), so a wheel carries the scripts and
:func:`harness.resources.r_scripts` finds them with importlib.resources.
"""
