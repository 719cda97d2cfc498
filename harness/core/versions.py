"""Which metafor release the Python core reproduces, and what each release does.

metafor changes behaviour between releases (defaults, variance formulas,
warnings). The Python side follows one release at a time: in a side-by-side
run the release is the one the R engine loaded; in the Python API and in specs
it can be named (``metafor="4.8-0"``); otherwise it is :data:`DEFAULT_METAFOR`
(:func:`follow`; a spec naming a release the R engine does not have is a
:class:`VersionMismatch`).

:data:`CHANGES` is the only place where a release decides a behaviour; the
numerics take behaviours as plain arguments and :func:`conventions` gives them
for a release (:class:`Conventions`).

Version strings are R's package versions ("3.8-1", "5.0-1"): numbers separated
by "." or "-", compared component by component, as R's ``package_version``
compares them.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from functools import lru_cache, total_ordering
from typing import Any

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
            self.text, self.parts = text.text, text.parts
            return
        self.text, self.parts = _parse_version(text) if isinstance(text, str) else _not_a_version(text)

    def _key(self, other) -> tuple[int, ...]:
        return other.parts if isinstance(other, Version) else Version(other).parts

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


@lru_cache(maxsize=256)
def _parse_version(text) -> tuple[str, tuple[int, ...]]:
    """``(text, parts)`` of a version string (cached: every spec and fit compares the same few
    release strings, and a str is immutable)."""
    if not _VERSION_RE.match(text.strip()):
        _not_a_version(text)
    text = text.strip()
    return text, tuple(int(p) for p in re.split(r"[.-]", text))


def _not_a_version(text):
    raise ValueError(f"not an R package version: {text!r} (expected e.g. \"5.0-1\")")


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


def supported_metafor(value: str | Version | None, what: str = "metafor") -> Version:
    """A metafor release that may be *named* (API, spec): one of :data:`SUPPORTED_METAFOR`.

    ``None`` gives :data:`DEFAULT_METAFOR`. A release that is not supported is
    an error (``ValueError`` naming the argument ``what``): its behaviour is not
    known to be reproduced. (An R engine may still load another release: then
    :func:`conventions` follows it by the dates in :data:`CHANGES` and
    :attr:`Conventions.supported` says it is untested.)
    """
    if value is None:
        return Version(DEFAULT_METAFOR)
    try:
        v = Version(value)
    except ValueError as e:
        raise ValueError(f"`{what}`: {e}") from None
    for s in SUPPORTED_METAFOR:
        if Version(s) == v:
            return Version(s)
    raise ValueError(f"`{what}`: metafor {v} is not a supported release; supported: {', '.join(SUPPORTED_METAFOR)}")


# ---------------------------------------------------------------------------------------
# What changed between the releases, and what the Python side does about it.
#
# This table is the only place where a metafor version decides a behaviour: the
# numerics in harness.core take the behaviour as plain arguments (``correct=True``,
# ``legacy_variances=False``, ...) and the API, the analysis kinds and the reports
# ask :func:`conventions` for them.


@dataclass(frozen=True)
class Change:
    """One behaviour of metafor that changed in release ``since``."""

    #: the :class:`Conventions` field it sets
    field: str
    #: the first release with the new behaviour (R package version)
    since: str
    #: the value before ``since`` and from ``since`` on
    before: Any
    after: Any
    #: what changed, in one sentence
    what: str
    #: where it is documented: metafor's NEWS entry, or the source file when NEWS is silent
    source: str
    #: a short name for reports and ``doctor`` (one line)
    label: str = ""
    #: the change only adds what may be asked (an argument, a vtype, a name): whatever ran on
    #: the older release runs the same on the newer
    offers: bool = False


#: the ``vtype`` options of the 2x2-table measures, as ``(measure, options)`` pairs; ``None``:
#: the release accepts any vtype and ignores it (the variance is always "LS")
_BINARY_VTYPES_381 = (("OR", None), ("RR", None), ("RD", ("UB", "LS", "AV")), ("PETO", None))
_BINARY_VTYPES_480 = (("OR", ("LS", "AV", "H0")), ("RR", ("LS", "AV", "H0")), ("RD", ("UB", "LS", "AV", "H0")), ("PETO", None))

#: every behaviour change the Python core reproduces, oldest first. For changes
#: that metafor's NEWS does not date, ``since`` is the first *tested* release with
#: the new behaviour (the source says which), not necessarily the first release.
CHANGES: tuple[Change, ...] = (
    Change("counted_na_warning", "4.2-0", False, True,
           "the warning on studies left out for NAs says how many (\"2 studies with NAs omitted from model fitting.\"); "
           "before: \"Studies with NAs omitted ...\" (rma.uni) and \"Tables with NAs omitted ...\" (rma.mh, rma.peto)",
           "metafor NEWS 4.2-0 (\"functions that issue a warning when omitting studies due to NAs now indicate how many were omitted\"); "
           "R/rma.uni.r, R/rma.mh.r, R/rma.peto.r",
           label="NA-omission warning counts the studies (\"2 studies with NAs omitted ...\")"),
    Change("smdh_legacy_variances", "4.6-0", True, False,
           "escalc SMDH sampling variances: LS no longer multiplied by J^2; LS2 with sd^4 (not sd^2) in the yi^2 term; LS3 added",
           "metafor NEWS 4.6-0 (\"calculation of the sampling variances for measures SMDH ... slightly adjusted for consistency\"); R/escalc.r, measure SMDH",
           label="SMDH variances of 4.6-0 (LS without J^2; LS2 with sd^4)"),
    Change("smdh_vtypes", "4.6-0", ("LS", "LS2"), ("LS", "LS2", "LS3"),
           "escalc SMDH: vtype LS3 (LS2 with n - 1 in the yi^2 term)",
           "metafor NEWS 4.6-0; R/escalc.r, measure SMDH",
           label="SMDH vtype LS3", offers=True),
    Change("escalc_correct", "4.8-0", False, True,
           "escalc has a `correct` argument (FALSE: no small-sample correction, J = 1, for SMD and SMDH)",
           "metafor NEWS 4.8-0 (\"escalc() gains a correct argument\")",
           label="escalc(correct=): FALSE gives J = 1 (SMD, SMDH)", offers=True),
    Change("smd_vtypes", "4.8-0", ("LS", "UB", "LS2", "AV"), ("LS", "UB", "LS2", "AV", "H0"),
           "escalc SMD: vtype H0 (variance under H0: J^2 (1/n1 + 1/n2) m/(m - 2))",
           "R/escalc.r 4.8-0, measure SMD (not in NEWS; absent in 3.8-1)",
           label="SMD vtype H0", offers=True),
    Change("escalc_pi", "4.8-0", False, True,
           "escalc SMD takes two-sided p-values `pi` of the t-tests (the sign of pi is the sign of the effect)",
           "R/escalc.r 4.8-0 (`.convp2t`); absent in 3.8-1",
           label="SMD from t-test p-values (escalc pi=)", offers=True),
    Change("binary_vtypes", "4.8-0", _BINARY_VTYPES_381, _BINARY_VTYPES_480,
           "escalc OR and RR take vtype \"LS\", \"AV\" (n-weighted mean proportions of all studies) and \"H0\" (the table's pooled "
           "proportion), and refuse any other; RD gains \"H0\". 3.8-1 computes OR and RR with the LS variance whatever vtype says",
           "R/escalc.r 4.8-0, measures OR, RR, RD (not in NEWS; 3.8-1's escalc has no vtype branch for OR and RR)",
           label="escalc OR/RR vtype AV and H0; RD vtype H0"),
    Change("print_wording_480", "4.8-0", False, True,
           "print methods: a fixed tau^2 is \"specified\" (not \"estimated\"), an infinite H^2 is not printed, regtest's "
           "z and b are padded with a space when their signs differ, leave1out's rows are labelled \"-<study>\"",
           "R/print.rma.uni.r (`!is.infinite(x$H2)`), R/print.regtest.r (`flag=`), R/leave1out.rma.uni.r (`paste0(\"-\", ...)`) of 4.8-0; not in NEWS",
           label="print layout of 4.8-0 (\"specified\" tau^2, \"-<study>\" leave1out rows)"),
    Change("test_hksj", "4.8-0", False, True,
           "rma.uni accepts test = \"hksj\", another name of \"knha\"",
           "R/rma.uni.r 4.8-0 (absent in 3.8-1)",
           label="test = \"hksj\" (another name of \"knha\")", offers=True),
    Change("trimfill_final_default_control", "4.8-0", False, True,
           "trimfill refits the iterations with the model's control; its final fit of the filled data gets only `...` "
           "(a `control` there would clash with the model's), so it uses rma.uni's default control (threshold 1e-5, maxiter 100); "
           "3.8-1 takes `control` through `...` for every refit (the harness passes the model's)",
           "R/trimfill.rma.uni.r 4.8-0 (`control = x$control` in the iteration's refits, not in the final one; not in NEWS)",
           label="trimfill's final refit with rma.uni's default control"),
    Change("kh_fe_warning", "4.8-0",
           "Knapp & Hartung method is not meant to be used in the context of {method} models.",
           "Knapp and Hartung method is not meant to be used in the context of {method} models.",
           "rma.uni's warning when test = \"knha\"/\"adhoc\" is asked for an FE/EE/CE model: '&' became 'and'",
           "R/rma.uni.r 4.8-0 (not in NEWS)",
           label="Knapp-Hartung-for-FE warning: \"Knapp and Hartung\""),
    Change("kh_fe_warning", "5.0-1",
           "Knapp and Hartung method is not meant to be used in the context of {method} models.",
           "Knapp and Hartung method is not meant to be used in the context of '{method}' models.",
           "the same warning quotes the method name",
           "R/rma.uni.r 5.0-1 (not in NEWS)",
           label="Knapp-Hartung-for-FE warning quotes the method ('FE')"),
    Change("rom_bias_correction", "5.0-1", False, True,
           "escalc ROM: the second-order bias correction yi + (sd1^2/(n1 m1^2) - sd2^2/(n2 m2^2))/2 is applied by default (correct = TRUE)",
           "metafor NEWS 5.0-1 (\"for measures ROM, ROMC, CVR, and CVRC, the bias corrections ... are now applied by default\")",
           label="ROM bias-corrected by default (correct = TRUE)"),
    Change("rom_vtypes", "5.0-1", ("LS", "HO", "AV", "AVHO"), ("LS", "HO", "AV", "AVHO", "LS2"),
           "escalc ROM: vtype LS2 (second-order variance: LS + sd1^4/(2 n1^2 m1^4) + sd2^4/(2 n2^2 m2^4))",
           "R/escalc.r 5.0-1, measure ROM (not in NEWS)",
           label="ROM vtype LS2", offers=True),
    Change("r2_when_nested", "5.0-1", False, True,
           "rma.uni computes R^2 whenever the intercept-only model is nested in the fitted one (also without an explicit intercept, e.g. all levels of a factor)",
           "metafor NEWS 5.0-1 (\"rma() now calculates R^2 as long as a standard random-effects model is nested within the fitted mixed-effects model\")",
           label="R^2 whenever the intercept-only model is nested"),
    Change("he_aliases", "5.0-1", (), ("CO", "VC"),
           "rma.uni: tau^2 estimators \"CO\" (Cochran) and \"VC\" (variance component), other names of the Hedges (HE) estimator",
           "R/rma.uni.r 5.0-1 (method list; computed in the HE branch)",
           label="tau^2 estimators CO and VC (= HE)", offers=True),
)


@dataclass(frozen=True)
class Conventions:
    """The behaviour of one metafor release, as the Python core reproduces it.

    Built by :func:`conventions`; every field but ``version`` and ``supported``
    is set by :data:`CHANGES`.
    """

    version: Version
    #: ``version`` is one of :data:`SUPPORTED_METAFOR` (tested); otherwise the
    #: fields follow the dates in :data:`CHANGES`, untested
    supported: bool
    counted_na_warning: bool
    smdh_legacy_variances: bool
    smdh_vtypes: tuple
    escalc_correct: bool
    smd_vtypes: tuple
    escalc_pi: bool
    binary_vtypes: tuple
    print_wording_480: bool
    test_hksj: bool
    kh_fe_warning: str
    trimfill_final_default_control: bool
    rom_bias_correction: bool
    rom_vtypes: tuple
    r2_when_nested: bool
    he_aliases: tuple

    def knha_fe_warning(self, method: str) -> str:
        """rma.uni's warning for Knapp-Hartung asked for an FE/EE/CE model."""
        return self.kh_fe_warning.format(method=method)

    def na_omitted(self, n: int, what: str = "studies") -> str:
        """The warning when ``n`` studies (rma.uni) or tables (rma.mh, rma.peto) are left out for NAs.

        ``what``: ``"studies"`` or ``"tables"``; before 4.2-0 the text does not
        count ("Studies ..." in rma.uni, "Tables ..." in rma.mh/rma.peto).
        """
        if self.counted_na_warning:
            return f"{n} {'studies' if n > 1 else 'study'} with NAs omitted from model fitting."
        return ("Tables" if what == "tables" else "Studies") + " with NAs omitted from model fitting."

    def binary_vtype_options(self, measure: str) -> tuple | None:
        """The ``vtype`` values escalc takes for 2x2-table ``measure`` (``None``: any, ignored)."""
        return dict(self.binary_vtypes)[measure]

    def escalc_kwargs(self, measure: str, vtype: str, correct: bool | None) -> dict:
        """The behaviour arguments of :mod:`harness.core.effect_sizes`' function for ``measure``.

        Checks what this release's ``escalc`` offers (its ``vtype`` options,
        whether it has ``correct``) and raises ``ValueError`` naming the
        argument otherwise. ``correct=None`` is the release's default.
        """
        v = self.version
        if correct is not None and not self.escalc_correct:
            raise ValueError(f"`correct`: metafor {v}'s escalc has no `correct` argument (it came with metafor 4.8-0)")
        vtypes = {"SMD": self.smd_vtypes, "SMDH": self.smdh_vtypes, "ROM": self.rom_vtypes, "MD": ("LS", "UB", "HO")}.get(measure)
        if vtypes is not None and vtype not in vtypes:
            raise ValueError(f"`vtype`: {vtype!r} is not a vtype of measure {measure} in metafor {v}; it has {', '.join(vtypes)}")
        kwargs: dict[str, Any] = {"vtype": vtype}
        if measure in ("SMD", "SMDH"):
            kwargs["correct"] = True if correct is None else bool(correct)
        if measure == "SMDH":
            kwargs["legacy_variances"] = self.smdh_legacy_variances
        if measure == "ROM":
            # 4.8-0's `correct` does not reach ROM (no correction there); 5.0-1 corrects by default
            kwargs["correct"] = self.rom_bias_correction and (True if correct is None else bool(correct))
        return kwargs

    def rma_method(self, method: str, test: str) -> tuple[str, str]:
        """``(method, test)`` as the Python core takes them, checked against this release.

        ``"CO"``/``"VC"`` (>= 5.0-1) are the core's names of the HE estimator
        and are kept; ``test="hksj"`` (>= 4.8-0) becomes ``"knha"``. Raises
        ``ValueError`` naming the argument where this release has neither.
        """
        v = self.version
        if method in ("CO", "VC") and method not in self.he_aliases:
            raise ValueError(f"`method`: {method!r} is not a tau^2 estimator of metafor {v} (\"CO\" and \"VC\" came with metafor 5.0-1)")
        if test == "hksj":
            if not self.test_hksj:
                raise ValueError(f"`test`: \"hksj\" is not a test of metafor {v} (it came with metafor 4.8-0; use \"knha\")")
            test = "knha"
        return method, test

    def changes(self) -> list[tuple[Change, bool]]:
        """Each change with whether this release has the new behaviour (for reports)."""
        return [(c, self.version >= c.since) for c in CHANGES]

    def summary(self) -> list[dict]:
        """Each release-dependent behaviour and whether this release has it (JSON-ready)."""
        return [{"behaviour": c.label, "field": c.field, "since": c.since, "applies": new} for c, new in self.changes()]


@lru_cache(maxsize=16)
def _conventions(text: str) -> Conventions:
    v = Version(text)
    values: dict[str, Any] = {}
    for c in CHANGES:  # oldest first: a later change of the same field wins
        values.setdefault(c.field, c.before)
        if v >= c.since:
            values[c.field] = c.after
    supported = any(Version(s) == v for s in SUPPORTED_METAFOR)
    return Conventions(version=v, supported=supported, **values)


#: behaviours swapped in by :func:`swapped` (release text -> field values), for this context only
_SWAPPED: ContextVar[tuple] = ContextVar("metafor_swapped_behaviours", default=())


def conventions(version: str | Version | None = None) -> Conventions:
    """The behaviour of metafor ``version`` (default :data:`DEFAULT_METAFOR`).

    Any R package version is accepted (an R engine may load an untested
    release); :attr:`Conventions.supported` says whether it is one of the
    tested ones.

    >>> conventions("3.8-1").rom_bias_correction, conventions("5.0-1").rom_bias_correction
    (False, True)
    """
    conv = _conventions(metafor_version(version).text)
    for text, fields in _SWAPPED.get():
        if conv.version == text:
            conv = replace(conv, **fields)
    return conv


def changed_fields(old: str | Version, new: str | Version) -> list[str]:
    """The :class:`Conventions` fields whose value differs between releases ``old`` and ``new``,
    in the order of :data:`CHANGES`."""
    a, b = _conventions(Version(old).text), _conventions(Version(new).text)
    return list(dict.fromkeys(c.field for c in CHANGES if getattr(a, c.field) != getattr(b, c.field)))


def changes_of(field: str, old: str | Version, new: str | Version) -> list[Change]:
    """The entries of :data:`CHANGES` that set ``field`` in a release after ``old``, up to ``new``."""
    lo, hi = sorted((Version(old), Version(new)))
    return [c for c in CHANGES if c.field == field and lo < c.since <= hi]


@contextmanager
def swapped(version: str | Version, **fields):
    """Within the block, :func:`conventions` of ``version`` has ``fields`` set as given: one
    release's behaviour with some behaviours of another. Not a release anyone runs: it is how
    a number that moved between two releases is traced to the change that moved it (the
    snapshot check, :func:`harness.snapshot.attribute`)."""
    unknown = set(fields) - set(Conventions.__dataclass_fields__)
    if unknown:
        raise ValueError(f"not behaviours of the conventions: {sorted(unknown)}")
    token = _SWAPPED.set(_SWAPPED.get() + ((Version(version).text, dict(fields)),))
    try:
        yield
    finally:
        _SWAPPED.reset(token)


class VersionMismatch(ValueError):
    """A spec (or a caller) names a metafor release and the R engine has another."""


def follow(named: str | Version | None, engine: str | None) -> tuple[Version, str]:
    """The release the Python side follows, and why: ``(version, source)``.

    * the R engine's release when there is an engine (``source`` "R engine");
    * else the named one (``"spec"``), else :data:`DEFAULT_METAFOR` (``"default"``).

    A release named *and* an engine with another release is a
    :class:`VersionMismatch`: comparing Python-at-one-release with
    R-at-another would report the version differences as disagreements (or,
    worse, hide them), so nothing is compared.
    """
    if engine is not None:
        ev = Version(engine)
        if named is not None and Version(named) != ev:
            raise VersionMismatch(f"the spec asks for metafor {Version(named)}'s behaviour but the R engine has metafor {ev}; "
                                  f"run with an R library that has metafor {Version(named)} (e.g. R_LIBS=...), or remove `metafor` from the spec "
                                  "to follow the R engine")
        return ev, "R engine"
    if named is not None:
        return Version(named), "spec"
    return Version(DEFAULT_METAFOR), "default"
