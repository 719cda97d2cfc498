"""The on-disk store of a campaign: Parquet files written and scanned through pyarrow.

Layout of a store folder::

    campaign.json              what the campaign is (seed, models and their options,
                               chunk size, first dataset) and the engines' versions
    records/c000000000.parquet one file per finished chunk: one row per
                               dataset x model x quantity
    analyses/c000000000.parquet one row per dataset x model: its outcome

``records`` columns: ``seed`` (campaign seed), ``dataset`` (index in the
campaign), ``family`` -- together the dataset's seed: it is drawn from
``numpy.random.default_rng([seed, dataset, family id])``
(:func:`harness.fuzz.generate.dataset`) --, ``model``, ``quantity``,
``base`` (quantity without its ``[index]``), ``python``, ``r`` (null where an
engine did not report it), ``abs_diff``, ``rel_diff``, ``verdict``
(:mod:`harness.compare.compare`'s) and ``explanation``.

``analyses`` columns: ``seed``, ``dataset``, ``family``, ``model``, ``k``
(rows), ``n_studies``, ``status`` (``agree``, ``nonconverged``,
``refused``, ``skipped``, ``disagree``), ``category`` and ``detail`` (the
class of a disagreement), ``message``, ``python_error``, ``r_error``,
``r_warnings`` (list), and the worst quantity (``worst``, ``worst_python``,
``worst_r``, ``worst_rel``).

Why Parquet through pyarrow (not DuckDB): a chunk's results are one immutable
columnar file written once (to a temporary name, then renamed), so a chunk is
either wholly in the store or absent -- that is what ``--resume`` relies on,
with no database lock or single-writer rule between the campaign and anyone
reading the store meanwhile; files can be copied, merged or read by any
Arrow/Parquet tool (pandas, polars, DuckDB itself, R's ``arrow``); and pyarrow
reads one file (row group) at a time, so summaries fold over the store in
bounded memory. pyarrow is also what Dask itself uses for Parquet.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

FORMAT = 1

RECORD_SCHEMA = pa.schema([
    ("seed", pa.int64()), ("dataset", pa.int64()), ("family", pa.string()), ("model", pa.string()),
    ("quantity", pa.string()), ("base", pa.string()), ("python", pa.float64()), ("r", pa.float64()),
    ("abs_diff", pa.float64()), ("rel_diff", pa.float64()), ("verdict", pa.string()), ("explanation", pa.string()),
])
ANALYSIS_SCHEMA = pa.schema([
    ("seed", pa.int64()), ("dataset", pa.int64()), ("family", pa.string()), ("model", pa.string()),
    ("k", pa.int64()), ("n_studies", pa.int64()), ("status", pa.string()), ("category", pa.string()),
    ("detail", pa.string()), ("message", pa.string()), ("python_error", pa.string()), ("r_error", pa.string()),
    ("r_warnings", pa.list_(pa.string())), ("worst", pa.string()), ("worst_python", pa.float64()),
    ("worst_r", pa.float64()), ("worst_rel", pa.float64()),
])
#: columns stored dictionary-encoded (few distinct values, repeated on every row)
_DICT = ["family", "model", "base", "verdict", "explanation", "status", "category", "detail"]


class StoreMismatch(Exception):
    pass


class Store:
    """A campaign's folder of Parquet files (see the module docstring)."""

    def __init__(self, path):
        self.path = Path(path)
        self.records_dir = self.path / "records"
        self.analyses_dir = self.path / "analyses"

    # -- identity --------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.path / "campaign.json"

    def manifest(self) -> dict | None:
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def open(self, identity: dict, resume: bool) -> "Store":
        """Create the store for ``identity``, or (``resume``) continue the one there.

        Raises :class:`StoreMismatch` when resuming a store of another campaign,
        or when a store exists and ``resume`` is false (nothing is overwritten).
        """
        have = self.manifest()
        if have is not None:
            if not resume:
                raise StoreMismatch(f"{self.path} already holds a campaign (seed {have.get('identity', {}).get('seed')}); "
                                    "pass --resume to continue it, or another --store")
            stored = have.get("identity", {})
            diff = [k for k in identity if stored.get(k) != identity[k]]
            if diff:
                what = ", ".join(f"{k} {stored.get(k)!r} (store) vs {identity[k]!r}" for k in diff)
                raise StoreMismatch(f"{self.path} holds another campaign: {what}")
            return self
        if resume and self.path.exists() and any(self.path.iterdir()):
            raise StoreMismatch(f"{self.path} is not a campaign store (no campaign.json)")
        self.records_dir.mkdir(parents=True, exist_ok=True)
        self.analyses_dir.mkdir(parents=True, exist_ok=True)
        self._write_json(self.manifest_path, {"format": FORMAT, "identity": identity})
        return self

    def update_manifest(self, **fields):
        doc = self.manifest() or {"format": FORMAT}
        doc.update(fields)
        self._write_json(self.manifest_path, doc)

    @staticmethod
    def _write_json(path: Path, doc):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    # -- chunks ----------------------------------------------------------------------------
    @staticmethod
    def _name(start: int) -> str:
        return f"c{start:09d}.parquet"

    def done(self) -> set[int]:
        """First dataset index of every chunk wholly in the store."""
        def starts(folder):
            return {int(p.name[1:10]) for p in folder.glob("c*.parquet")} if folder.is_dir() else set()

        return starts(self.records_dir) & starts(self.analyses_dir)

    def write_chunk(self, start: int, records: pa.Table, analyses: pa.Table) -> None:
        """Both tables of one chunk; the analyses file last, so a chunk counts only when both are there."""
        for folder, table in ((self.records_dir, records), (self.analyses_dir, analyses)):
            final = folder / self._name(start)
            tmp = folder / (".tmp-" + self._name(start))
            pq.write_table(table, tmp, compression="zstd", use_dictionary=[c for c in _DICT if c in table.column_names])
            os.replace(tmp, final)

    def _files(self, folder: Path) -> list[Path]:
        return sorted(folder.glob("c*.parquet"))

    def iter_records(self, columns=None) -> Iterator[pa.Table]:
        """One table per chunk, in dataset order (bounded memory)."""
        for f in self._files(self.records_dir):
            yield pq.read_table(f, columns=columns)

    def iter_analyses(self, columns=None) -> Iterator[pa.Table]:
        for f in self._files(self.analyses_dir):
            yield pq.read_table(f, columns=columns)

    def records(self, columns=None) -> pa.Table:
        """Every record in one table (tests and small campaigns; large ones use :meth:`iter_records`)."""
        parts = list(self.iter_records(columns))
        return pa.concat_tables(parts) if parts else RECORD_SCHEMA.empty_table()

    def analyses(self, columns=None) -> pa.Table:
        parts = list(self.iter_analyses(columns))
        return pa.concat_tables(parts) if parts else ANALYSIS_SCHEMA.empty_table()


def table(columns: dict, schema: pa.Schema) -> pa.Table:
    """A table of ``schema`` from plain column lists."""
    return pa.Table.from_pydict({f.name: columns[f.name] for f in schema}, schema=schema)
