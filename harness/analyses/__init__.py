"""Registry of analysis kinds (spec ``kind = ...``)."""
from __future__ import annotations

from .base import AnalysisKind, Key, Outcome
from .rma import KIND as _rma
from .revman import KIND as _revman, SUBGROUP_KIND as _revman_sub
from .robu import KIND as _robu
from .cr2 import KIND as _cr2
from .mh import MH_KIND as _mh, PETO_KIND as _peto
from .revman_dich import KIND as _revman_dich

#: kind name -> kind; add new kinds here
KINDS: dict[str, AnalysisKind] = {
    _rma.name: _rma,
    _revman.name: _revman,
    _revman_sub.name: _revman_sub,
    _robu.name: _robu,
    _cr2.name: _cr2,
    _mh.name: _mh,
    _peto.name: _peto,
    _revman_dich.name: _revman_dich,
}

__all__ = ["KINDS", "AnalysisKind", "Key", "Outcome"]
