"""JUnit XML report: one test case per analysis, so CI systems show results natively.

Like the HTML report it reads the JSON document of a run (``to_dict()``):

* documents with ``analyses`` (``verify``; ``audit`` when its result has
  that shape): one ``<testcase>`` per analysis, ``classname`` =
  ``metaharness.<kind>.<fixture folder>``, ``name`` = the analysis id, ``time``
  = both engines' seconds. Verdict ``agree``/``explained``/``consistent``
  passes (explanations go to ``<system-out>``); ``engine-error`` is an
  ``<error>``; ``cannot check`` is ``<skipped>``; anything else (``differ``,
  ``missing``, ``warning``, ``inconsistent``) is a ``<failure>``. Failures and
  errors carry the discrepancy table (every quantity that does not agree:
  both values, differences, tolerance, verdict, reason) as text.
* audit documents with ``files`` (``audit``): one ``<testcase>`` per audited
  outcome, failing when a finding is ``inconsistent`` (the text is the table
  of that outcome's findings), skipped when nothing could be checked; for a
  re-verified Cochrane review, one per analysis (``differ``/``missing`` a
  failure, a truncated or malformed analysis or an unreadable file an error,
  "not re-verified" skipped);
* campaign documents with ``per_model`` (``fuzz``): one ``<testcase>`` per
  model, failing with the table of its disagreements.

Testsuites group test cases by fixture; the engines' versions are written as
``<properties>`` of each suite. Schema: the common JUnit XML that GitHub
Actions reporters, GitLab (``artifacts:reports:junit``) and Jenkins read.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from tabulate import tabulate

from .terminal import fmt

PASS = ("agree", "explained", "consistent", "pass", "ok")
SKIP = ("cannot check", "cannot-check", "skipped")
ERROR = ("engine-error", "error")

_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(s) -> str:
    """Text that XML 1.0 can hold (control characters dropped)."""
    return _BAD_XML.sub("", str(s))


def discrepancy_table(a: dict) -> str:
    """Text table of every quantity of analysis ``a`` (a JSON dict) that does not agree."""
    rows = []
    for q in a.get("quantities") or []:
        if q.get("verdict") == "agree":
            continue
        tol = q.get("tolerance") or {}
        t = f"{fmt(tol.get('rtol'), 2)}/{fmt(tol.get('atol'), 2)}" if tol else "—"
        rows.append((q.get("name"), fmt(q.get("python")), fmt(q.get("r")), fmt(q.get("abs_diff"), 2), fmt(q.get("rel_diff"), 2), t, q.get("verdict"), q.get("explanation") or ""))
    if not rows:
        return ""
    return tabulate(rows, headers=["quantity", "Python", "R", "abs diff", "rel diff", "rtol/atol", "verdict", "reason"], disable_numparse=True)


def _message(a: dict) -> str:
    qs = a.get("quantities") or []
    bad = [q for q in qs if q.get("verdict") not in PASS]
    parts = [str(a.get("verdict"))]
    if qs:
        parts.append(f"{len(bad)} of {len(qs)} quantities not agreeing")
    for side, key in (("Python", "python_error"), ("R", "r_error")):
        if a.get(key):
            parts.append(f"{side} error: {a[key]}")
    return "; ".join(parts)


def _case_for_analysis(a: dict) -> ET.Element:
    fixture = str(a.get("fixture") or "")
    folder = (Path(fixture).parent.name or Path(fixture).resolve().parent.name) if fixture else "fixtures"
    secs = sum(v for v in (a.get("seconds") or {}).values() if isinstance(v, (int, float)))
    tc = ET.Element("testcase", classname=_x(f"metaharness.{a.get('kind', 'analysis')}.{folder}"), name=_x(a.get("id")), time=f"{secs:.6f}")
    v = str(a.get("verdict"))
    body = discrepancy_table(a)
    warn = [f"Python warning: {w}" for w in a.get("python_warnings") or []] + [f"R warning: {w}" for w in a.get("r_warnings") or []]
    text = "\n".join(x for x in [body, *warn] if x)
    if v in PASS:
        expl = [f"{q.get('name')}: {q.get('explanation')}" for q in a.get("quantities") or [] if q.get("verdict") == "explained"]
        if expl:
            ET.SubElement(tc, "system-out").text = _x("explained differences:\n" + "\n".join(expl))
    elif v in SKIP:
        ET.SubElement(tc, "skipped", message=_x(_message(a)))
    else:
        el = ET.SubElement(tc, "error" if v in ERROR else "failure", message=_x(_message(a)), type=_x(v))
        el.text = _x(text or _message(a))
    return tc


def _cases_for_campaign(doc: dict) -> list[tuple[str, ET.Element]]:
    out = []
    dis = doc.get("disagreements") or []
    for model, m in (doc.get("per_model") or {}).items():
        tc = ET.Element("testcase", classname="metaharness.fuzz", name=_x(model), time="0")
        mine = [d for d in dis if d.get("model") == model]
        n_bad = m.get("disagreements", len(mine)) if isinstance(m, dict) else len(mine)
        if n_bad:
            rows = [(d.get("dataset"), d.get("category"), d.get("k"), d.get("reproducer") or "", _x(d.get("message", ""))[:200]) for d in mine]
            el = ET.SubElement(tc, "failure", message=_x(f"{n_bad} disagreements in {m.get('analyses', '?')} analyses"), type="differ")
            el.text = _x(tabulate(rows, headers=["dataset", "category", "k", "reproducer", "message"], disable_numparse=True))
        out.append(("fuzz", tc))
    return out


def _cases_for_review(f: dict) -> list[tuple[str, ET.Element]]:
    """A re-verified Cochrane review (``kind`` ``cochrane-review``): one test case per analysis;
    an unreadable file (``kind`` ``unreadable``) or one whose audit failed (``failed``): one erroring test case."""
    fname = str(f.get("path") or "review")
    cls = _x(f"metaharness.audit.{Path(fname).stem}")
    if f.get("kind") in ("unreadable", "failed"):
        tc = ET.Element("testcase", classname=cls, name="(file)", time="0")
        ET.SubElement(tc, "error", message=_x(f.get("error") or "cannot be read"), type="error").text = _x(f.get("error") or "")
        return [(fname, tc)]
    out = []
    for e in f.get("errors") or []:  # file-level errors (a file cut between analyses ...)
        tc = ET.Element("testcase", classname=cls, name="(file)", time="0")
        ET.SubElement(tc, "error", message=_x(e), type="error").text = _x(e)
        out.append((fname, tc))
    for a in f.get("analyses") or []:
        tc = ET.Element("testcase", classname=cls, name=_x(f"{a.get('id')} {a.get('name') or ''}".strip()), time="0")
        v = str(a.get("verdict"))
        qs = a.get("quantities") or []
        rows = [(q.get("name"), fmt(q.get("revman")), fmt(q.get("python")), fmt(q.get("r")), fmt(q.get("rel_diff"), 2), q.get("verdict"), q.get("explanation") or "")
                for q in qs if q.get("verdict") != "agree"]
        table = tabulate(rows, headers=["quantity", "RevMan", "Python", "R", "rel diff", "verdict", "reason"], disable_numparse=True) if rows else ""
        if v in PASS:
            if table:
                ET.SubElement(tc, "system-out").text = _x("explained differences:\n" + table)
        elif v == "not re-verified":
            ET.SubElement(tc, "skipped", message=_x(a.get("reason") or v))
        else:
            msg = a.get("reason") or f"{sum(1 for q in qs if q.get('verdict') not in PASS)} of {len(qs)} quantities not agreeing"
            el = ET.SubElement(tc, "error" if v in ERROR else "failure", message=_x(msg), type=_x(v))
            el.text = _x("\n".join([table, *(a.get("problems") or [])]).strip() or msg)
        out.append((fname, tc))
    return out


def _cases_for_audit(doc: dict) -> list[tuple[str, ET.Element]]:
    """Audit documents (``files``): one test case per audited outcome (``findings``), per analysis of a review."""
    out = []
    for f in doc.get("files") or []:
        if f.get("kind") in ("cochrane-review", "unreadable", "failed"):
            out.extend(_cases_for_review(f))
            continue
        fname = str(f.get("file") or f.get("citation") or "audit")
        by_outcome: dict[str, list] = {}
        for x in f.get("findings") or []:
            by_outcome.setdefault(str(x.get("outcome", "(file)")), []).append(x)
        for outcome, finds in by_outcome.items():
            tc = ET.Element("testcase", classname=_x(f"metaharness.audit.{Path(fname).stem}"), name=_x(outcome), time="0")
            verdicts = [str(x.get("verdict")) for x in finds]
            rows = [(x.get("section", ""), x.get("check", ""), x.get("verdict", ""), x.get("reason", "")) for x in finds]
            table = tabulate(rows, headers=["section", "check", "verdict", "reason"], disable_numparse=True)
            n_bad = sum(1 for v in verdicts if v == "inconsistent")
            if n_bad:
                el = ET.SubElement(tc, "failure", message=_x(f"{n_bad} of {len(finds)} findings inconsistent"), type="inconsistent")
                el.text = _x(table)
            elif all(v in SKIP for v in verdicts):
                ET.SubElement(tc, "skipped", message="nothing could be checked")
            else:
                ET.SubElement(tc, "system-out").text = _x(table)
            out.append((fname, tc))
    return out


def to_xml(doc: dict, name: str = "metaharness") -> ET.ElementTree:
    """The JUnit XML tree of a run's JSON document."""
    suites: dict[str, list[ET.Element]] = {}
    if "analyses" in doc and isinstance(doc["analyses"], list):
        for a in doc["analyses"]:
            suites.setdefault(str(a.get("fixture") or name), []).append(_case_for_analysis(a))
    elif isinstance(doc.get("files"), list):
        for suite, tc in _cases_for_audit(doc):
            suites.setdefault(suite, []).append(tc)
    elif isinstance(doc.get("per_model"), dict):
        for suite, tc in _cases_for_campaign(doc):
            suites.setdefault(suite, []).append(tc)
    root = ET.Element("testsuites", name=_x(name))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for sname, cases in suites.items():
        counts = {
            "tests": len(cases),
            "failures": sum(1 for c in cases if c.find("failure") is not None),
            "errors": sum(1 for c in cases if c.find("error") is not None),
            "skipped": sum(1 for c in cases if c.find("skipped") is not None),
        }
        t = sum(float(c.get("time", 0)) for c in cases)
        suite = ET.SubElement(root, "testsuite", name=_x(sname), time=f"{t:.6f}", **{k: str(v) for k, v in counts.items()})
        props = ET.SubElement(suite, "properties")
        for side, comps in (doc.get("engines") or {}).items():
            if isinstance(comps, dict):
                for k, v in comps.items():
                    ET.SubElement(props, "property", name=_x(f"{side}.{k}"), value=_x(v))
        if (doc.get("conventions") or {}).get("metafor"):  # the metafor release the Python side followed
            ET.SubElement(props, "property", name="python.follows_metafor", value=_x(doc["conventions"]["metafor"]))
        if doc.get("r_unavailable"):
            ET.SubElement(props, "property", name="r_unavailable", value=_x(doc["r_unavailable"]))
        suite.extend(cases)
        for k in totals:
            totals[k] += counts[k]
        total_time += t
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", f"{total_time:.6f}")
    return ET.ElementTree(root)


def write(run_or_doc, path, name: str = "metaharness") -> None:
    doc = run_or_doc if isinstance(run_or_doc, dict) else run_or_doc.to_dict()
    tree = to_xml(doc, name=name)
    ET.indent(tree, space=" ")
    Path(path).write_bytes(ET.tostring(tree.getroot(), encoding="utf-8", xml_declaration=True) + b"\n")
