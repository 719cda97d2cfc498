"""Which metafor release the Python core reproduces.

metafor changes behaviour between releases (defaults, variance formulas,
warnings). The Python side follows one release at a time: in a side-by-side
run the release is the one the R engine loaded; in the Python API and in specs
it can be named (``metafor="4.8-0"``); otherwise it is :data:`DEFAULT_METAFOR`.

Version strings are R's package versions ("3.8-1", "5.0-1"): numbers separated
by "." or "-", compared component by component, as R's ``package_version``
compares them.
"""
from __future__ import annotations

import re
from functools import total_ordering

#: the metafor releases whose behaviour the Python core reproduces and that are tested
SUPPORTED_METAFOR = ("3.8-1", "4.8-0", "5.0-1")
#: the release followed when none is named and no R engine says otherwise: the current CRAN release
DEFAULT_METAFOR = "5.0-1"

_VERSION_RE = re.compile(r"^\d+([.-]\d+)*$")


@total_ordering
class Version:
    """An R package version, ordered as R's ``package_version`` orders them.

    >>> Version("4.8-0") >= "4.0-0"
    True
    >>> Version("3.8-1") < Version("3.10-0")
    True
    """

    __slots__ = ("text", "parts")

    def __init__(self, text: str | "Version"):
        if isinstance(text, Version):
            text = text.text
        if not isinstance(text, str) or not _VERSION_RE.match(text.strip()):
            raise ValueError(f"not an R package version: {text!r} (expected e.g. \"5.0-1\")")
        self.text = text.strip()
        self.parts = tuple(int(p) for p in re.split(r"[.-]", self.text))

    def _key(self, other) -> tuple[int, ...]:
        return (other if isinstance(other, Version) else Version(other)).parts

    def __eq__(self, other):
        try:
            return self.parts == self._key(other)
        except ValueError:
            return NotImplemented

    def __lt__(self, other):
        return self.parts < self._key(other)

    def __hash__(self):
        return hash(self.parts)

    def __repr__(self):
        return f"Version({self.text!r})"

    def __str__(self):
        return self.text


def metafor_version(value: str | Version | None = None) -> Version:
    """The metafor release to follow: ``value`` if given, else :data:`DEFAULT_METAFOR`.

    Raises ``ValueError`` naming the argument for a string that is not a version.
    """
    if value is None:
        return Version(DEFAULT_METAFOR)
    try:
        return Version(value)
    except ValueError as e:
        raise ValueError(f"`metafor`: {e}") from None
