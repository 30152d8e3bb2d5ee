"""Read the files of a plan data package into Arrow tables of strings.

Every cell comes back as a string (null when empty, surrounding blanks trimmed) so that one
validator (``package_validation``) decides what each value means, whatever the file format.
The header is checked before any row is read: a file whose columns are missing, renamed,
reordered, duplicated or separated by ``;`` is rejected with one issue that lists the
expected and the received columns, because no row of such a file can be trusted.

Line numbers: the header is line 1 and row ``i`` (0-based) is line ``i + 2``. Cells may not
contain line breaks (the package convention), which keeps that mapping exact; a row with the
wrong number of cells is reported with its line instead of being skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from openvbc.domain.errors import InputIssue
from openvbc.interop.plan_package import PACKAGE_FILES, PACKAGE_FILES_BY_NAME, PackageFile

PACKAGE_SUFFIXES = (".csv", ".parquet")
_BOM = b"\xef\xbb\xbf"


@dataclass
class RawTable:
    """The cells of one package file as strings, or the issues that stopped it being read."""

    spec: PackageFile
    path: Path
    table: pa.Table | None
    sha256: str
    issues: list[InputIssue] = field(default_factory=list)
    first_line: int = 2

    @property
    def label(self) -> str:
        return self.path.name


def find_package_files(directory: Path) -> list[tuple[PackageFile, Path]]:
    """The package files present in ``directory``, in load order (parents first).

    A kind present as both CSV and Parquet is ambiguous and reported by ``check_package_names``.
    """
    found: list[tuple[PackageFile, Path]] = []
    for spec in PACKAGE_FILES:
        for suffix in PACKAGE_SUFFIXES:
            candidate = directory / f"{spec.name}{suffix}"
            if candidate.is_file():
                found.append((spec, candidate))
    return found


def check_package_names(directory: Path) -> list[InputIssue]:
    """Issues for CSV/Parquet files in a package directory that are not package files or are doubled."""
    issues: list[InputIssue] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.iterdir()):
        # Only data files can be mistaken for package files; READMEs and the like are ignored.
        if not path.is_file() or path.name.startswith(".") or path.suffix.lower() not in PACKAGE_SUFFIXES:
            continue
        spec = spec_for_file_name(path.name)
        if spec is None:
            expected = ", ".join(s.csv_name for s in PACKAGE_FILES)
            issues.append(
                InputIssue(
                    path.name, None, None, f"not a plan data package file (expected one of {expected})"
                )
            )
        elif spec.name in seen:
            issues.append(
                InputIssue(
                    path.name, None, None, f"{seen[spec.name]} holds the same kind; keep only one of them"
                )
            )
        else:
            seen[spec.name] = path.name
    return issues


def spec_for_file_name(name: str) -> PackageFile | None:
    """The package kind a file name stands for (``fills.csv`` -> FILLS), or None."""
    stem, dot, suffix = name.rpartition(".")
    if not dot or f".{suffix.lower()}" not in PACKAGE_SUFFIXES:
        return None
    return PACKAGE_FILES_BY_NAME.get(stem)


def hash_file(path: Path) -> str:
    """SHA-256 of the file's bytes (the load ledger's identity of a file)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_package_file(spec: PackageFile, path: Path) -> RawTable:
    """Read one CSV or Parquet package file into a table of trimmed strings (nulls for empty)."""
    sha = hash_file(path)
    if path.suffix.lower() == ".parquet":
        return _read_parquet(spec, path, sha)
    return _read_csv(spec, path, sha)


def check_header(spec: PackageFile, header: list[str], file_label: str) -> list[InputIssue]:
    """One issue describing every way ``header`` differs from the package header, or none."""
    expected = list(spec.columns)
    if header == expected:
        return []
    problems: list[str] = []
    if len(header) == 1 and ";" in header[0]:
        problems.append(
            "the columns are separated by ';' — the package uses ',' (save as 'CSV UTF-8, comma')"
        )
        header = header[0].split(";")
    duplicated = sorted({name for name in header if header.count(name) > 1})
    missing = [name for name in expected if name not in header]
    unexpected = [name for name in header if name not in expected]
    if duplicated:
        problems.append(f"duplicated column(s): {', '.join(duplicated)}")
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected column(s) (renamed?): {', '.join(unexpected)}")
    if not problems:
        problems.append("the columns are in a different order")
    message = f"{'; '.join(problems)}. Expected header: {','.join(expected)} — got: {','.join(header)}"
    return [InputIssue(file_label, 1, None, message)]


def _read_csv(spec: PackageFile, path: Path, sha: str) -> RawTable:
    label = path.name
    header_issue = _check_csv_header(spec, path, label)
    if header_issue:
        return RawTable(spec, path, None, sha, header_issue)
    row_issues: list[InputIssue] = []
    width = len(spec.columns)

    def report_bad_row(row: pacsv.InvalidRow) -> str:
        row_issues.append(
            InputIssue(label, row.number, None, f"has {row.actual_columns} cells, the header has {width}")
        )
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            # Single-threaded so the reader can tell us the line of a malformed row.
            read_options=pacsv.ReadOptions(use_threads=False, block_size=16 << 20),
            parse_options=pacsv.ParseOptions(invalid_row_handler=report_bad_row),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(spec.columns, pa.string()),
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        return RawTable(spec, path, None, sha, [InputIssue(label, None, None, _explain_arrow_error(error))])
    if row_issues:
        return RawTable(spec, path, None, sha, row_issues)
    return RawTable(spec, path, trim_cells(table), sha)


def _check_csv_header(spec: PackageFile, path: Path, label: str) -> list[InputIssue]:
    with path.open("rb") as handle:
        first = handle.readline()
    if not first.strip():
        return [
            InputIssue(label, 1, None, f"the file is empty; expected the header {','.join(spec.columns)}")
        ]
    if first.startswith(_BOM):
        first = first[len(_BOM) :]
    try:
        text = first.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        return [InputIssue(label, 1, None, "the header is not UTF-8 text (save the file as 'CSV UTF-8')")]
    header = next(iter(_split_header(text)))
    return check_header(spec, header, label)


def _split_header(text: str) -> Iterable[list[str]]:
    import csv

    return csv.reader([text])


def _read_parquet(spec: PackageFile, path: Path, sha: str) -> RawTable:
    label = path.name
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as error:
        return RawTable(
            spec, path, None, sha, [InputIssue(label, None, None, f"not a readable Parquet file: {error}")]
        )
    issues = check_header(spec, table.column_names, label)
    if issues:
        return RawTable(spec, path, None, sha, issues)
    # Parquet keeps its own types; render them as the strings a CSV would hold so that one
    # validator applies (dates print as ISO, numbers as plain decimals).
    columns = [_as_string(table.column(name)) for name in spec.columns]
    return RawTable(spec, path, trim_cells(pa.table(dict(zip(spec.columns, columns, strict=True)))), sha)


def _as_string(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_timestamp(column.type):
        return pc.strftime(column, format="%Y-%m-%dT%H:%M:%S")
    if pa.types.is_boolean(column.type):
        return pc.if_else(column, "true", "false")
    return column.cast(pa.string())


def trim_cells(table: pa.Table) -> pa.Table:
    """Strip surrounding blanks from every cell and turn blank cells into nulls."""
    columns = []
    for column in table.columns:
        trimmed = pc.utf8_trim_whitespace(column.cast(pa.string()))
        columns.append(pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed))
    return pa.table(dict(zip(table.column_names, columns, strict=True)))


def table_from_rows(columns: tuple[str, ...], rows: list[dict[str, str | None]]) -> pa.Table:
    """A string table from row dictionaries (FHIR rows); absent keys are nulls."""
    data = {name: pa.array([row.get(name) for row in rows], pa.string()) for name in columns}
    return trim_cells(pa.table(data))


def _explain_arrow_error(error: Exception) -> str:
    text = str(error)
    if "UTF8" in text or "utf-8" in text.lower():
        return "the file is not UTF-8 text (save it as 'CSV UTF-8'): " + text
    return f"could not be read as CSV: {text}"
