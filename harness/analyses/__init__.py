"""Registry of analysis kinds (spec ``kind = ...``)."""
from __future__ import annotations

from .base import AnalysisKind, Key, Outcome
from .rma import KIND as _rma
from .robu import KIND as _robu

#: kind name -> kind; add new kinds here
KINDS: dict[str, AnalysisKind] = {
    _rma.name: _rma,
    _robu.name: _robu,
}

__all__ = ["KINDS", "AnalysisKind", "Key", "Outcome"]
