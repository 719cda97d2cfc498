"""Shrinking a disagreeing dataset to the fewest studies that still disagree.

Delta debugging (Zeller & Hildebrandt 2002, *ddmin*) over studies: split the
studies into n chunks and try every dataset with one chunk removed; keep the
first that still shows the same disagreement and go on, else refine (2n
chunks) until single studies are tried. The result is 1-minimal: removing
any one remaining study makes the disagreement go away (or changes it into
another kind). All candidates of one round are evaluated together, so R
sees one batched call per round.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .generate import FuzzDataset


def _chunks(n_items, n):
    edges = np.linspace(0, n_items, n + 1).round().astype(int)
    return [list(range(edges[i], edges[i + 1])) for i in range(n) if edges[i + 1] > edges[i]]


def shrink(ds: FuzzDataset, still_fails: Callable[[Sequence[FuzzDataset]], list[bool]], min_studies: int = 1, max_rounds: int = 200) -> FuzzDataset:
    """Smallest subset of ``ds``'s studies for which ``still_fails`` holds.

    ``still_fails`` receives a list of candidate datasets and returns one
    bool per candidate (evaluate them as one batch).
    """
    groups = ds.groups()
    keep = list(range(len(groups)))  # indices into groups
    n = 2
    for _ in range(max_rounds):
        if len(keep) <= min_studies:
            break
        n = min(n, len(keep))
        parts = _chunks(len(keep), n)
        cands, kept_lists = [], []
        for part in parts:
            rest = [g for i, g in enumerate(keep) if i not in set(part)]
            if len(rest) < min_studies:
                continue
            kept_lists.append(rest)
            cands.append(ds.subset(np.concatenate([groups[g] for g in rest])))
        ok = still_fails(cands) if cands else []
        hit = next((i for i, f in enumerate(ok) if f), None)
        if hit is not None:
            keep = kept_lists[hit]
            n = max(n - 1, 2)
        elif n < len(keep):
            n = min(2 * n, len(keep))
        else:
            break
    return ds.subset(np.concatenate([groups[g] for g in keep]))
