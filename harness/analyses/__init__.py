"""Registry of analysis kinds (spec ``kind = ...``)."""
from __future__ import annotations

from .base import AnalysisKind, Key, Outcome
from .rma import KIND as _rma

#: kind name -> kind; add new kinds here
KINDS: dict[str, AnalysisKind] = {
    _rma.name: _rma,
}

__all__ = ["KINDS", "AnalysisKind", "Key", "Outcome"]
