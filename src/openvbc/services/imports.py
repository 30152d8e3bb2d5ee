"""Import a plan data package (CSV/Parquet) or FHIR input into the store.

Atomicity: a package is all-or-nothing. Every file is read and validated before anything is
written; any issue in any file aborts the whole import with every issue listed, because the
files refer to each other (fills name members, claim lines name claims) and a half-loaded
package would leave dangling references. Loading runs in one write transaction; a reference
to an unknown member or claim found then rolls everything back as well.

Idempotency: each file is recorded in ``load_ledger`` by kind and SHA-256; the same content
again is reported "already loaded" and not read. Rows are upserted by natural key, so a new
file repeating old rows changes nothing and a corrected row is updated in place.

``check_only`` runs the very same steps in a transaction that is rolled back, so the report
(inserted / updated / unchanged, unknown references) is exactly what an import would do.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, Engine

from openvbc.domain.errors import InputIssue, InvalidInput, UserError
from openvbc.interop.package_reader import (
    check_package_names,
    find_package_files,
    hash_file,
    read_package_file,
    spec_for_file_name,
    table_from_rows,
)
from openvbc.interop.package_validation import (
    LINE_COLUMN,
    SOURCE_COLUMN,
    ValidatedTable,
    validate_package_table,
)
from openvbc.interop.plan_package import PACKAGE_FILES, PACKAGE_FILES_BY_NAME, PackageFile
from openvbc.store.loader import (
    KeyMaps,
    LoadCounts,
    begin_bulk_write,
    end_bulk_write,
    find_loaded_file,
    find_overlong_values,
    load_rows,
    read_birth_table,
    record_loaded_file,
)

FHIR_SUFFIXES = (".json", ".ndjson")
ProgressCallback = Callable[[str, int, int], None]  # (file label, files done, files in all)


@dataclass
class FileReport:
    file: str
    kind: str
    rows: int
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    unverified_ndcs: int = 0
    status: str = "loaded"  # loaded | checked | already loaded


@dataclass
class ImportReport:
    path: str
    check_only: bool
    files: list[FileReport] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "path": self.path,
            "check_only": self.check_only,
            "files": [asdict(item) for item in self.files],
        }


@dataclass
class _Source:
    """One unit of import: a package file, or one kind of rows mapped from FHIR input."""

    spec: PackageFile
    label: str
    sha256: str
    read: Callable[[], tuple[pa.Table | None, list[InputIssue]]]


def import_path(
    engine: Engine,
    path: Path,
    *,
    check_only: bool,
    today: date,
    on_progress: ProgressCallback | None = None,
) -> ImportReport:
    """Validate and load a package directory, one package file, or FHIR JSON/NDJSON input."""
    sources = find_sources(path)
    report = ImportReport(str(path), check_only)
    with engine.connect() as connection:
        begin_bulk_write(connection)
        try:
            _import_sources(connection, sources, report, today, on_progress)
            if check_only:
                connection.rollback()
            else:
                connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            # A pooled connection must not keep the import's settings (foreign keys off on SQLite).
            end_bulk_write(connection)
    return report


def find_sources(path: Path) -> list[_Source]:
    """What ``path`` holds, in load order; unusable paths are a UserError."""
    if not path.exists():
        raise UserError(f"{path} does not exist")
    if path.is_dir():
        package = find_package_files(path)
        if package:
            issues = check_package_names(path)
            if issues:
                raise InvalidInput(issues)
            return [_package_source(spec, file) for spec, file in package]
        if any(p.suffix.lower() in FHIR_SUFFIXES for p in path.rglob("*") if p.is_file()):
            return _fhir_sources(path)
        expected = ", ".join(spec.csv_name for spec in PACKAGE_FILES)
        raise UserError(f"{path} holds no package files ({expected}) and no FHIR .json/.ndjson files")
    spec = spec_for_file_name(path.name)
    if spec is not None:
        return [_package_source(spec, path)]
    if path.suffix.lower() in FHIR_SUFFIXES:
        return _fhir_sources(path)
    raise UserError(
        f"{path.name}: the kind of a single file comes from its name (e.g. fills.csv, members.parquet) "
        "or a FHIR .json/.ndjson suffix"
    )


def _package_source(spec: PackageFile, path: Path) -> _Source:
    def read() -> tuple[pa.Table | None, list[InputIssue]]:
        raw = read_package_file(spec, path)
        return raw.table, raw.issues

    return _Source(spec, path.name, hash_file(path), read)


def _fhir_sources(path: Path) -> list[_Source]:
    """One source per package kind found in the FHIR input (mapped by openvbc.interop.fhir)."""
    fhir = importlib.import_module("openvbc.interop.fhir")
    files = sorted(
        p for p in ([path] if path.is_file() else path.rglob("*")) if p.suffix.lower() in FHIR_SUFFIXES
    )
    digest = hashlib.sha256()
    for file in files:
        digest.update(hash_file(file).encode())
    extract: Any = fhir.read_fhir_path(path)
    # read_fhir_path returns a FhirExtract (rows per kind plus issues); a plain mapping of
    # rows per kind is accepted too.
    rows_by_kind: Mapping[str, list[tuple[str, int, dict[str, str | None]]]] = getattr(
        extract, "rows", extract
    )
    issues: list[InputIssue] = list(getattr(extract, "issues", []))
    if issues:
        raise InvalidInput(issues)
    sources = []
    for spec in PACKAGE_FILES:
        rows = rows_by_kind.get(spec.name)
        if not rows:
            continue

        def read(
            spec: PackageFile = spec, rows: list[tuple[str, int, dict[str, str | None]]] = rows
        ) -> tuple[pa.Table | None, list[InputIssue]]:
            columns = tuple(dict.fromkeys(name for _, _, row in rows[:1] for name in row)) or spec.columns
            table = table_from_rows(columns, [row for _, _, row in rows])
            table = table.append_column(LINE_COLUMN, pa.array([line for _, line, _ in rows], pa.int64()))
            table = table.append_column(SOURCE_COLUMN, pa.array([label for label, _, _ in rows], pa.string()))
            return table, []

        sources.append(_Source(spec, f"{path.name} ({spec.name})", digest.hexdigest(), read))
    return sources


def _import_sources(
    connection: Connection,
    sources: list[_Source],
    report: ImportReport,
    today: date,
    on_progress: ProgressCallback | None,
) -> None:
    """Check every source and load them in order, all in the caller's transaction.

    Reading and checking file N+1 runs on a worker thread while file N is written (Arrow and
    the database drivers release the GIL), so the two cores share the work and only two files
    are held in memory at a time. The first problem stops the writing, not the checking: every
    remaining file is still checked so that all problems are reported together, and the caller
    rolls the transaction back, so nothing of a package with a problem is ever committed.
    """
    issues: list[InputIssue] = []
    todo: list[_Source] = []
    for source in sources:
        loaded_rows = find_loaded_file(connection, source.spec.name, source.sha256)
        if loaded_rows is None:
            todo.append(source)
        else:
            report.files.append(
                FileReport(source.label, source.spec.name, loaded_rows, status="already loaded")
            )
    births = read_birth_table(connection) if any(s.spec.name != "members" for s in todo) else None
    key_maps = KeyMaps()
    total = len(todo) * 2
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-check") as pool:
        checking = pool.submit(_check_source, todo[0], today, births) if todo else None
        for done, source in enumerate(todo):
            _notify(on_progress, f"checking {source.label}", done, total)
            assert checking is not None
            validated, found = checking.result()
            issues.extend(found)
            if validated is not None and source.spec.name == "members" and births is not None:
                # The package's own members come first: index_in takes a key's first birth date.
                births = pa.concat_tables([_birth_table(validated), births])
            checking = (
                pool.submit(_check_source, todo[done + 1], today, births) if done + 1 < len(todo) else None
            )
            if issues or validated is None:
                continue
            _notify(on_progress, f"loading {source.label}", len(todo) + done, total)
            _load_source(connection, source, validated, report, issues, key_maps)
    _notify(on_progress, "done", total, total)
    if issues:
        raise InvalidInput(issues)
    order = {spec.name: index for index, spec in enumerate(PACKAGE_FILES)}
    report.files.sort(key=lambda item: order.get(item.kind, len(order)))


def _check_source(
    source: _Source, today: date, births: pa.Table | None
) -> tuple[ValidatedTable | None, list[InputIssue]]:
    """Read and validate one source (pure: runs on the checking thread, no database access)."""
    table, issues = source.read()
    if table is None:
        return None, issues
    validated = validate_package_table(
        source.spec, table, file_label=source.label, today=today, birth_dates=births
    )
    return validated, [*issues, *validated.issues, *_width_issues(validated)]


def _load_source(
    connection: Connection,
    source: _Source,
    validated: ValidatedTable,
    report: ImportReport,
    issues: list[InputIssue],
    key_maps: KeyMaps,
) -> None:
    counts = _load(connection, validated, issues, key_maps)
    rows = validated.data.num_rows
    record_loaded_file(
        connection,
        file_name=source.label,
        sha256=source.sha256,
        kind=source.spec.name,
        rows_total=rows,
        counts=counts,
        loaded_at=datetime.now(),
    )
    report.files.append(
        FileReport(
            source.label,
            source.spec.name,
            rows,
            counts.inserted,
            counts.updated,
            counts.unchanged,
            validated.unverified_ndcs,
            "checked" if report.check_only else "loaded",
        )
    )


def _load(
    connection: Connection, validated: ValidatedTable, issues: list[InputIssue], key_maps: KeyMaps
) -> LoadCounts:
    # Reference columns the store does not keep are dropped by the loader after resolution.
    result = load_rows(connection, validated.spec.table, validated.data, key_maps)
    for unknown in result.unknown:
        what = {"member": "member", "medical_claim": "claim", "encounter": "encounter"}.get(
            unknown.table, unknown.table
        )
        issues.append(
            InputIssue(
                validated.label_of(unknown.row),
                validated.line_of(unknown.row),
                unknown.column,
                f"{unknown.value!r} names no {what} in this package or the store",
            )
        )
    return result.counts


def _birth_table(validated: ValidatedTable) -> pa.Table:
    data = validated.data
    return pa.table({"member_key": data.column("member_key"), "birth_date": data.column("birth_date")})


def _width_issues(validated: ValidatedTable) -> list[InputIssue]:
    return [
        InputIssue(
            validated.label_of(row), validated.line_of(row), column, f"is longer than {width} characters"
        )
        for row, column, width in find_overlong_values(validated.spec.table, validated.data)
    ]


def _notify(callback: ProgressCallback | None, label: str, done: int, total: int) -> None:
    if callback is not None:
        callback(label, done, total)


def kind_names() -> list[str]:
    """The package kinds, in load order (for help texts)."""
    return list(PACKAGE_FILES_BY_NAME)
