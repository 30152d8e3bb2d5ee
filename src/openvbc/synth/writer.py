"""Streaming writer of the plan data package (CSV or Parquet), one file per kind.

Column order and names come from :mod:`openvbc.interop.plan_package`; column *types* are
fixed here so every chunk has the same Arrow schema (dates as date32, times as timestamps,
counts as integers, money and measurements as float64). CSV cells follow the package
conventions: ``YYYY-MM-DD`` dates, ``YYYY-MM-DDTHH:MM:SS`` times, empty = null, no quoting (the
generator never writes a comma inside a value, and Arrow refuses to write one unquoted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from openvbc.interop.plan_package import PACKAGE_FILES, PACKAGE_FILES_BY_NAME, PackageFile
from openvbc.synth.arrays import iso_datetimes

_DATE_COLUMNS = {
    "birth_date",
    "death_date",
    "start_date",
    "end_date",
    "fill_date",
    "from_date",
    "to_date",
    "service_date",
    "onset_date",
    "abatement_date",
    "recorded_date",
}
_TIME_COLUMNS = {
    "start_at",
    "end_at",
    "effective_at",
    "effective_end",
    "performed_start",
    "performed_end",
    "authored_at",
    "event_at",
    "admit_at",
    "discharge_at",
}
_INT_COLUMNS = {"days_supply", "line_number", "minutes"}
_FLOAT_COLUMNS = {"quantity", "allowed_amount", "paid_amount", "units", "value"}
_BOOL_COLUMNS = {"rx_benefit"}


def column_type(spec: PackageFile, column: str) -> pa.DataType:
    """The Arrow type the generator uses for a package column."""
    if column in _DATE_COLUMNS:
        return pa.date32()
    if column in _TIME_COLUMNS:
        return pa.timestamp("s")
    if column in _INT_COLUMNS:
        return pa.int32()
    if column in _FLOAT_COLUMNS:
        return pa.float64()
    if column in _BOOL_COLUMNS:
        return pa.bool_()
    return pa.string()


def package_schema(spec: PackageFile) -> pa.Schema:
    return pa.schema([pa.field(column, column_type(spec, column)) for column in spec.columns])


def build_table(name: str, columns: dict[str, Any]) -> pa.Table:
    """A table in the package's column order; missing columns are null, scalars are broadcast."""
    spec = PACKAGE_FILES_BY_NAME[name]
    unknown = set(columns) - set(spec.columns)
    if unknown:
        raise KeyError(f"{name}: columns {sorted(unknown)} are not in the plan package")
    length = next(
        (len(v) for v in columns.values() if isinstance(v, (pa.Array, pa.ChunkedArray, np.ndarray))), 0
    )
    arrays = []
    for field in package_schema(spec):
        value = columns.get(field.name)
        if value is None:
            arrays.append(pa.nulls(length, field.type))
        elif isinstance(value, (str, int, float)):
            arrays.append(pc.fill_null(pa.nulls(length, field.type), pa.scalar(value).cast(field.type)))
        else:
            array = value if isinstance(value, (pa.Array, pa.ChunkedArray)) else pa.array(value)
            if len(array) != length:
                raise ValueError(f"{name}.{field.name}: {len(array)} values, expected {length}")
            arrays.append(array.cast(field.type))
    return pa.Table.from_arrays(arrays, schema=package_schema(spec))


class PackageWriter:
    """Opens one streaming writer per file kind and appends chunk tables to it."""

    def __init__(self, out_dir: Path, fmt: str) -> None:
        if fmt not in ("csv", "parquet"):
            raise ValueError(f"format {fmt!r} is not csv or parquet")
        self.out_dir = out_dir
        self.fmt = fmt
        self.rows: dict[str, int] = {spec.name: 0 for spec in PACKAGE_FILES}
        self._csv: dict[str, tuple[BinaryIO, pacsv.CSVWriter]] = {}
        self._parquet: dict[str, pq.ParquetWriter] = {}

    def path_of(self, name: str) -> Path:
        return self.out_dir / f"{name}.{self.fmt}"

    def open_all(self) -> None:
        """Create every file (with its header) so empty kinds still exist."""
        for spec in PACKAGE_FILES:
            self._open(spec.name)

    def _open(self, name: str) -> None:
        spec = PACKAGE_FILES_BY_NAME[name]
        schema = package_schema(spec)
        if self.fmt == "parquet":
            self._parquet[name] = pq.ParquetWriter(self.path_of(name), schema, compression="zstd")
            return
        handle = self.path_of(name).open("wb")
        # The header is written by hand: Arrow would quote the names.
        handle.write((",".join(spec.columns) + "\n").encode())
        csv_schema = pa.schema(
            [pa.field(f.name, pa.string() if f.name in _TIME_COLUMNS else f.type) for f in schema]
        )
        options = pacsv.WriteOptions(include_header=False, quoting_style="none")
        self._csv[name] = (handle, pacsv.CSVWriter(handle, csv_schema, write_options=options))

    def write(self, name: str, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self.rows[name] += table.num_rows
        if self.fmt == "parquet":
            self._parquet[name].write_table(table)
            return
        _, writer = self._csv[name]
        writer.write_table(_times_as_text(table))

    def close(self) -> None:
        for writer in self._parquet.values():
            writer.close()
        for handle, csv_writer in self._csv.values():
            csv_writer.close()
            handle.close()
        self._parquet.clear()
        self._csv.clear()


def _times_as_text(table: pa.Table) -> pa.Table:
    """Render timestamps as ``YYYY-MM-DDTHH:MM:SS`` (Arrow's CSV writer would use a space)."""
    for index, field in enumerate(table.schema):
        if field.name in _TIME_COLUMNS:
            column = table.column(index).combine_chunks()
            values = column.cast(pa.int64()).fill_null(0).to_numpy()
            text = iso_datetimes(values)
            if column.null_count:
                text = pc.if_else(pc.is_null(column), pa.scalar(None, pa.string()), text)
            table = table.set_column(index, pa.field(field.name, pa.string()), text)
    return table
