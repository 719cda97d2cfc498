"""The committed golden snapshots of the bundled fixtures (``metaharness snapshot``).

Not Python code: this file makes the folder the package ``harness.snapshots`` (package data,
mapped onto this folder by pyproject.toml), so a wheel carries them for
``metaharness verify --python-only`` and the pytest plugin's ``agreement.snapshot``
(:func:`harness.resources.snapshots`).
"""
