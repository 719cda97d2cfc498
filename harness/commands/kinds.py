"""``metaharness kinds``: every analysis kind with its spec keys (type, default, allowed values).

Printed from the kinds' own :class:`~harness.analyses.base.Key` declarations,
so the list is always the one ``verify`` checks a spec against. ``kinds rma``
lists one kind; ``--json`` writes them all as JSON.
"""
from __future__ import annotations

NAME = "kinds"
HELP = "list the analysis kinds and their spec keys (types, defaults, allowed values)"


def add_arguments(p):
    p.add_argument("kind", nargs="*", help="kinds to describe (default: all)")
    p.add_argument("--json", metavar="FILE", help="write the kinds and their keys as JSON ('-' for standard output)")


def _type(t) -> str:
    return {str: "string", float: "number", int: "integer", bool: "true/false", list: "list of strings", dict: "table"}.get(t, getattr(t, "__name__", str(t)))


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{}" if not v else str(v)
    return "" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def describe(kinds) -> dict:
    """``{kind: {"doc": first docstring line, "keys": {key: {"type", "default", "choices", "required", "expand", "help", "requires"}}}}``."""
    import sys

    out = {}
    for name, k in kinds.items():
        mod = sys.modules.get(type(k).__module__)
        text = (type(k).__doc__ or (mod.__doc__ if mod else "") or "").strip()
        doc = [" ".join(text.split("\n\n")[0].split())]  # the first paragraph, one line
        keys = {}
        for key, spec in k.keys.items():
            keys[key] = {"type": _type(spec.type), "default": spec.default, "choices": list(spec.choices) if spec.choices else None,
                         "required": spec.required, "expand": spec.expand, "help": spec.help,
                         "requires": {o: list(v) for o, v in (spec.requires or {}).items()} or None}
        out[name] = {"doc": doc[0] if doc else "", "keys": keys}
    return out


def render(desc: dict, width: int) -> str:
    from tabulate import tabulate

    from ..spec import DATASET_HELP, DATASET_KEYS

    out = []
    for name, d in desc.items():
        doc = d["doc"].split(": ", 1)[-1] if d["doc"].startswith("Analysis kind") else d["doc"]
        out.append(_fill(f"== kind = \"{name}\"" + (f": {doc}" if doc else ""), width))
        rows = []
        for key, k in d["keys"].items():
            allowed = ", ".join(map(_value, k["choices"])) if k["choices"] else ""
            notes = []
            if k["expand"]:
                notes.append("a list gives one analysis per value")
            if k["requires"]:
                notes.append("only with " + "; ".join(f"{o} = {' or '.join(map(_value, v))}" for o, v in k["requires"].items()))
            text = "; ".join([k["help"]] * bool(k["help"]) + notes)
            rows.append([key, k["type"], "(required)" if k["required"] else _value(k["default"]), allowed, text])
        # tabulate: two spaces between the five columns; the meaning column takes what is left
        room = max(30, width - max(len(r[0]) for r in rows + [["key"]]) - max(len(r[1]) for r in rows) - 8)
        w_default = min(12, max(len(r[2]) for r in rows), room // 4)
        w_allowed = min(22, max([len(r[3]) for r in rows] + [len("allowed values")]), room // 3)
        w_help = max(16, room - max(w_default, len("default")) - w_allowed)
        while True:  # a word longer than its column widens it: the meaning column gives the room back
            filled = [[r[0], r[1], _fill(r[2], w_default), _fill(r[3], w_allowed), _fill(r[4], w_help)] for r in rows]
            table = tabulate(filled, headers=["key", "type", "default", "allowed values", "meaning"], disable_numparse=True)
            excess = max(len(line) for line in table.splitlines()) - width
            if excess <= 0 or w_help <= 16:
                break
            w_help = max(16, w_help - excess)
        out.append(table)
        out.append("")
    out.append("== [dataset] (every spec) and [defaults] (keys shared by the analyses below it)")
    rows = [[k, _type(t), _fill(DATASET_HELP.get(k, ""), max(20, width - 24))] for k, t in DATASET_KEYS.items()]
    out.append(tabulate(rows, headers=["key", "type", "meaning"], disable_numparse=True))
    out.append(_fill("Every [[analysis]] has an `id` and a `kind` (default \"rma\"), and may have an [analysis.tolerance] table.", width))
    return "\n".join(out)


def _fill(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(str(text), width, break_on_hyphens=False)) if text else ""


def run(args) -> int:
    import json
    import sys

    from ..analyses import KINDS
    from ..errors import InputError
    from ..reports.terminal import terminal_width

    unknown = [k for k in args.kind if k not in KINDS]
    if unknown:
        from difflib import get_close_matches

        near = get_close_matches(unknown[0], list(KINDS), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise InputError(f"unknown kind {unknown[0]!r}{hint}; the kinds are {', '.join(KINDS)}")
    desc = describe({k: KINDS[k] for k in (args.kind or KINDS)})
    if args.json:
        text = json.dumps(desc, indent=1)
        if args.json == "-":
            print(text)
        else:
            from pathlib import Path

            Path(args.json).write_text(text + "\n", encoding="utf-8")
        return 0
    print(render(desc, terminal_width(sys.stdout)))
    return 0
