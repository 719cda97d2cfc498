"""Terminal report of a fuzz campaign (tabulate)."""
from __future__ import annotations

from collections import defaultdict

from tabulate import tabulate

from ..reports.terminal import fmt


def render(res, worst: int = 10, detail: bool = False) -> str:
    out = []
    b = res.batch
    n_an = sum(res.analyses.values())
    rate = (res.n - res.resumed) / res.seconds if res.seconds else float("nan")
    out.append(f"fuzz campaign: seed {res.seed}, {res.n} datasets, {len(res.models)} models ({', '.join(res.models)}); ran on {res.layout}")
    resumed = f"; {res.resumed} datasets were already in the store" if res.resumed else ""
    out.append(f"{n_an} analyses, {res.n_compared} quantities compared; {res.n - res.resumed} datasets run in {res.seconds:.1f} s ({rate:.1f} datasets/s){resumed}")
    if res.store:
        out.append(f"store: {res.store} (Parquet: one row per dataset x model x quantity)")
    out.append(f"R: {b.r_calls} fits in {b.crossings} bridge crossings; R computing {b.r_seconds:.1f} s, crossings incl. conversion "
               f"{b.bridge_seconds:.1f} s; Python core {b.python_seconds:.1f} s")
    tb = res.time_budget()
    if tb is not None:
        out.append(f"harness time outside R's computing: {tb['outside_r_percent']:.1f} % of R's time ({tb['workers']} x wall "
                   f"{res.seconds:.1f} s = R {tb['r_seconds']:.1f} s + Python core {tb['python_core_seconds']:.1f} s + bridge "
                   f"{tb['bridge_seconds']:.1f} s + rest in tasks {tb['rest_in_tasks_seconds']:.1f} s + outside tasks "
                   f"{tb['outside_tasks_seconds']:.1f} s)")
    out.append("")
    rows = []
    for m in res.models:
        q, st = res.largest_rel(m)
        nd = sum(1 for d in res.disagreements if d.model == m)
        nq = sum(s.n for s in res.quantities[m].values())
        rows.append((m, res.analyses[m], res.agree[m], res.explained[m], res.nonconverged[m], res.refused[m], res.skipped[m], nd, nq,
                     fmt(max((s.max_abs for s in res.quantities[m].values()), default=None), 2), fmt(st.max_rel if st else None, 2), q or "—"))
    out.append(tabulate(rows, headers=["model", "analyses", "agree", "explained", "both n/conv", "both refused", "skipped", "disagree", "quantities",
                                       "max abs diff", "max rel diff", "in"], disable_numparse=True))
    out.append("")
    # per quantity, over all models
    agg = defaultdict(lambda: [0, 0.0, 0.0, None])
    for m in res.models:
        for qn, s in res.quantities[m].items():
            a = agg[qn]
            a[0] += s.n
            a[1] = max(a[1], s.max_abs)
            if a[3] is None or s.max_rel > a[2]:
                a[2], a[3] = s.max_rel, (m, s.worst[0] if s.worst else None)
    rows = [(qn, a[0], fmt(a[1], 2), fmt(a[2], 2), f"{a[3][0]} #{a[3][1]}") for qn, a in sorted(agg.items())]
    out.append(tabulate(rows, headers=["quantity", "compared", "max abs diff", "max rel diff", "worst (model #dataset)"], disable_numparse=True))
    if detail:
        out.append("")
        rows = []
        for m in res.models:
            for qn, s in sorted(res.quantities[m].items()):
                rows.append((m, qn, s.n, fmt(s.max_abs, 2), fmt(s.max_rel, 2), s.worst[0] if s.worst else "—",
                             fmt(s.worst[1]) if s.worst else "—", fmt(s.worst[2]) if s.worst else "—"))
        out.append(tabulate(rows, headers=["model", "quantity", "compared", "max abs", "max rel", "worst #", "Python", "R"], disable_numparse=True))
    # worst cases overall
    cases = []
    for m in res.models:
        for qn, s in res.quantities[m].items():
            if s.worst is not None:
                cases.append((s.max_rel, m, qn, s))
    cases.sort(key=lambda c: -c[0])
    if cases and worst:
        out.append("")
        out.append(f"worst cases (largest relative difference of a quantity, per model and quantity; top {worst}):")
        out.append(tabulate([(m, qn, f"#{s.worst[0]}", fmt(s.worst[1], 17), fmt(s.worst[2], 17), fmt(s.max_abs, 2), fmt(rel, 2))
                             for rel, m, qn, s in cases[:worst]],
                            headers=["model", "quantity", "dataset", "Python", "R", "max abs", "rel diff"], disable_numparse=True))
    refused = [(m, v) for m, v in res.refused_examples.items() if v]
    if refused:
        out.append("")
        out.append("both engines refused (an error on each side; not counted as agreement):")
        for m, v in refused:
            i, a, b_ = v[0]
            out.append(f"  {m}: {res.refused[m]} datasets, e.g. #{i}: Python: {a[:100]} | R: {b_[:100]}")
    skipped = [(m, v) for m, v in res.skipped_examples.items() if v]
    if skipped:
        out.append("")
        out.append("not run (the dataset is no valid input for the model):")
    for m, v in skipped:
        out.append(f"  {m}: {res.skipped[m]} datasets, e.g. #{v[0][0]}: {v[0][1][:150]}")
    if res.explained_classes:
        out.append("")
        out.append("explained (a registered, measured reason; not counted as agreement):")
        for (m, e), (c, first) in sorted(res.explained_classes.items()):
            out.append(f"  {m}: {c} analyses by {e} (first #{first})")
    if res.failed:
        out.append("")
        out.append(f"{len(res.failed)} chunks failed after every retry (not in the store; `--resume` runs them again):")
        for s0, err in res.failed[:10]:
            out.append(f"  datasets from #{s0}: {err[:200]}")
    out.append("")
    classes = res.classes()
    if not classes:
        out.append(f"no disagreements: {n_an} analyses, {res.n_compared} quantities")
    else:
        out.append(f"{len(res.disagreements)} disagreements in {len(classes)} classes:")
        for (m, cat, det), ds in classes.items():
            out.append(f"- {m} / {cat} / {det}: {len(ds)} datasets (first #{ds[0].index}, k={ds[0].k})")
            out.append(f"    {ds[0].message[:240]}")
            for d in ds:
                if d.reproducer:
                    out.append(f"    reproducer ({d.shrunk_k} of {d.k} studies): {d.reproducer}")
    return "\n".join(out)
