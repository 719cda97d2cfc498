"""Auditing published meta-analysis results (``metaharness audit``).

* :mod:`.numbers`: reported numbers as intervals (rounding, bounds);
* :mod:`.published`: the published-results TOML file;
* :mod:`.consistency`: internal consistency of what was reported;
* :mod:`.recompute`: recomputation from study-level data, robustness re-runs;
* :mod:`.findings`: verdicts ``consistent`` / ``inconsistent`` / ``cannot check``;
* :func:`audit_file`: all of it for one file.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .findings import VERDICTS, Finding
from .published import Publication, load_published


@dataclass
class AuditResult:
    publication: Publication
    findings: list[Finding] = field(default_factory=list)
    engine_note: str | None = None

    def counts(self):
        c = dict.fromkeys(VERDICTS, 0)
        for f in self.findings:
            c[f.verdict] += 1
        return c

    @property
    def ok(self) -> bool:
        return not any(f.verdict == "inconsistent" for f in self.findings)

    def to_dict(self):
        p = self.publication
        return {"file": str(p.path), "citation": p.citation, "software": p.software, "summary": self.counts(),
                "engine_note": self.engine_note, "findings": [f.to_dict() for f in self.findings]}


def audit_publication(pub: Publication, engine=None, engine_error=None) -> AuditResult:
    from .consistency import internal
    from .recompute import recompute

    res = AuditResult(pub, engine_note=engine_error)
    inner = internal(pub)
    for o in pub.outcomes:
        res.findings += inner[o.id]
        res.findings += recompute(o, engine, engine_error)
    return res


def audit_file(path, engine_factory=None) -> AuditResult:
    """Load, check and recompute one published-results file.

    R is started only when an outcome has study-level data; when it cannot
    start, the R findings are ``cannot check`` with the reason.
    """
    from ..errors import EngineUnavailable

    pub = load_published(path)
    engine, err = None, None
    if any(o.data is not None for o in pub.outcomes):
        if engine_factory is None:
            from ..engines.r import get_engine as engine_factory
        try:
            engine = engine_factory()
        except EngineUnavailable as e:
            err = str(e)
    return audit_publication(pub, engine, err)


__all__ = ["AuditResult", "Finding", "audit_file", "audit_publication", "load_published"]
