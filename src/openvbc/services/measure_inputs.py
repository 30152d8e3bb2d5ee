"""FHIR R4 patient Bundles -> typed canonical Arrow tables for the measure engine.

One FHIR path (DESIGN.md decision 2): each Bundle is mapped by the importer's mapper,
``openvbc.interop.fhir.map_bundle`` (docs/fhir-import.md), to plan-package rows. This module
only does what an import's loader would do next, in memory: give members and facts dense
integer ids (decision 8), resolve ``member_key``/``encounter_key`` to them, and type the text
cells into the columns of ``openvbc.store.tables`` that the measures read.

Each Bundle is mapped on its own, as one patient's record (``patient_compartment=True``):
eCQM test decks reuse resource ids across test cases, so keys are resolved within their
bundle only. Problems never stop the run: the mapper leaves out what it cannot map and
reports it, reports incomplete readings it keeps (a quantity without a unit, a BP panel
missing a component), and names the patient of every resource with an issue
(``FhirExtract.issue_member_keys``) -- so bad input is counted per member here.

Typing note (for the lead / import engineer): the import's validator
(``openvbc.interop.package_validation.validate_package_table``) is not used yet, because as it
stands it would turn good measure input into bad input: it refuses ``line_of_business``
``unknown``/``other``, which the FHIR mapper gives every Patient without a Coverage (133 of the
136 eCQM test patients), and it empties ``value`` when the unit is missing or unexpected, which
turns an HbA1c "9.5 (no unit)" -- neither controlled nor poor control in the CQL -- into "no
result", i.e. CMS122 poor control. ``type_package_rows`` below types the rows instead; once the
validator has a lenient "measure" mode that keeps those cells (and its unit conversions, kPa
and mmol/mol, become shared), this module should call it instead.

Engine vocabulary note: the engine's AdvancedIllnessandFrailty "Frailty Device" test reads
procedure kind ``device-order``; the canonical kinds (store, validator, FHIR mapper) are
``performed | ordered | not-done``, and a DeviceRequest maps to ``ordered``. Until the engine
reads ``ordered`` there, ``engine_procedure_kind`` translates DeviceRequest orders back.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from openvbc.domain.errors import InputIssue
from openvbc.interop.fhir import FhirExtract, FhirRow, map_bundle

_SCHEMAS: dict[str, pa.Schema] = {
    "member": pa.schema(
        [
            ("member_id", pa.int64()),
            ("member_key", pa.string()),
            ("birth_date", pa.date32()),
            ("sex", pa.string()),
            ("line_of_business", pa.string()),
            ("pcp_npi", pa.string()),
            ("death_date", pa.date32()),
        ]
    ),
    "encounter": pa.schema(
        [
            ("encounter_id", pa.int64()),
            ("encounter_key", pa.string()),
            ("member_id", pa.int64()),
            ("setting", pa.string()),
            ("code_system", pa.string()),
            ("code", pa.string()),
            ("additional_codes", pa.string()),
            ("status", pa.string()),
            ("start_at", pa.timestamp("us")),
            ("end_at", pa.timestamp("us")),
            ("discharge_disposition", pa.string()),
        ]
    ),
    "condition": pa.schema(
        [
            ("condition_id", pa.int64()),
            ("condition_key", pa.string()),
            ("member_id", pa.int64()),
            ("code_system", pa.string()),
            ("code", pa.string()),
            ("additional_codes", pa.string()),
            ("category", pa.string()),
            ("clinical_status", pa.string()),
            ("verification_status", pa.string()),
            ("onset_date", pa.date32()),
            ("abatement_date", pa.date32()),
            ("recorded_date", pa.date32()),
        ]
    ),
    "observation": pa.schema(
        [
            ("observation_id", pa.int64()),
            ("observation_key", pa.string()),
            ("member_id", pa.int64()),
            ("code_system", pa.string()),
            ("code", pa.string()),
            ("additional_codes", pa.string()),
            ("category", pa.string()),
            ("status", pa.string()),
            ("value_num", pa.float64()),
            ("unit", pa.string()),
            ("value_code_system", pa.string()),
            ("value_code", pa.string()),
            ("effective_at", pa.timestamp("us")),
            ("effective_end", pa.timestamp("us")),
            ("panel_key", pa.string()),
            ("encounter_id", pa.int64()),
            ("setting", pa.string()),
        ]
    ),
    "procedure": pa.schema(
        [
            ("procedure_id", pa.int64()),
            ("procedure_key", pa.string()),
            ("member_id", pa.int64()),
            ("code_system", pa.string()),
            ("code", pa.string()),
            ("additional_codes", pa.string()),
            ("kind", pa.string()),
            ("status", pa.string()),
            ("performed_start", pa.timestamp("us")),
            ("performed_end", pa.timestamp("us")),
        ]
    ),
    "medication_order": pa.schema(
        [
            ("medication_order_id", pa.int64()),
            ("order_key", pa.string()),
            ("member_id", pa.int64()),
            ("code_system", pa.string()),
            ("code", pa.string()),
            ("additional_codes", pa.string()),
            ("status", pa.string()),
            ("intent", pa.string()),
            ("authored_at", pa.timestamp("us")),
            ("start_date", pa.date32()),
            ("end_date", pa.date32()),
        ]
    ),
}
MEASURE_INPUT_TABLES: tuple[str, ...] = tuple(_SCHEMAS)

# plan-package file -> canonical table, in load order (members first: facts refer to them,
# encounters before observations: readings refer to their encounter)
_PACKAGE_TABLES: dict[str, str] = {
    "members": "member",
    "encounters": "encounter",
    "conditions": "condition",
    "observations": "observation",
    "procedures": "procedure",
    "medication_orders": "medication_order",
}
# package column -> canonical column, where the names differ
_RENAMED = {"value": "value_num"}
# key references kept for the caller to resolve to dense ids (as the store loader does)
_REFERENCES = ("member_key", "encounter_key")


@dataclass
class MeasureInputs:
    """Canonical Arrow tables plus what could not be used, per patient."""

    tables: dict[str, pa.Table]
    patient_ids: dict[int, str]  # member_id -> FHIR Patient.id
    issues: list[InputIssue] = field(default_factory=list)
    issues_by_member: dict[int, int] = field(default_factory=dict)


def empty_measure_tables() -> dict[str, pa.Table]:
    """The input tables with no rows (the shape every backend receives)."""
    return {name: schema.empty_table() for name, schema in _SCHEMAS.items()}


def read_bundles(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every ``*.json`` Bundle (recursively) under a folder, with its file label, in name order.

    Numbers are read as decimals, as ``openvbc.interop.fhir.read_fhir_path`` does, so a result
    keeps the digits it was sent with.
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"FHIR folder not found: {folder}")
    out: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(folder.rglob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
        if isinstance(data, dict) and data.get("resourceType") == "Bundle":
            out.append((str(path), data))
    return out


def build_measure_inputs(bundles: Iterable[tuple[str, Mapping[str, Any]]]) -> MeasureInputs:
    """Map patient Bundles through the FHIR importer and give the rows canonical ids and types."""
    builder = _TableBuilder()
    for label, bundle in bundles:
        builder.add_extract(label, map_bundle(dict(bundle), source_label=label, patient_compartment=True))
    return builder.finish()


# --------------------------------------------------------------------------- typing


def _read_date(text: str) -> date:
    return date.fromisoformat(text[:10])


def _read_float(text: str) -> float:
    return float(text)


_READERS: dict[pa.DataType, Callable[[str], Any]] = {
    pa.date32(): _read_date,
    pa.timestamp("us"): datetime.fromisoformat,
    pa.float64(): _read_float,
}


def type_package_rows(table: str, rows: list[FhirRow]) -> tuple[list[dict[str, Any]], list[InputIssue]]:
    """Plan-package text rows -> Python values for the canonical table's columns.

    Ids are left to the caller; ``member_key``/``encounter_key`` are kept for it to resolve.
    The FHIR mapper writes dates, date-times and decimals in the package's formats, so a cell
    that does not parse is a mapper defect; it is still reported (file, line, column) and left
    empty rather than stopping the run.
    """
    schema = _SCHEMAS[table]
    typed_rows: list[dict[str, Any]] = []
    issues: list[InputIssue] = []
    for label, line, row in rows:
        typed: dict[str, Any] = {key: row[key] for key in _REFERENCES if key in row}
        for package_column, text in row.items():
            column = _RENAMED.get(package_column, package_column)
            if column not in schema.names:
                continue
            reader = _READERS.get(schema.field(column).type)
            if text is None or reader is None:
                typed[column] = text
                continue
            try:
                typed[column] = reader(text)
            except ValueError as error:
                issues.append(InputIssue(label, line, package_column, f"{text!r} cannot be read: {error}"))
                typed[column] = None
        typed_rows.append(typed)
    return typed_rows, issues


def engine_procedure_kind(procedure_key: str | None, kind: str | None) -> str | None:
    """The kind the engine's "Frailty Device" test reads for a DeviceRequest order (see module note)."""
    if kind == "ordered" and (procedure_key or "").startswith("DeviceRequest/"):
        return "device-order"
    return kind


# --------------------------------------------------------------------------- ids


class _TableBuilder:
    """Accumulates typed rows over bundles, numbering members and facts densely from 1."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {name: [] for name in _SCHEMAS}
        self.patient_ids: dict[int, str] = {}
        self.issues: list[InputIssue] = []
        self.issues_by_member: dict[int, int] = {}

    def _count(self, member_id: int | None) -> None:
        if member_id is not None:
            self.issues_by_member[member_id] = self.issues_by_member.get(member_id, 0) + 1

    def _new_member(self, member_key: str, **values: Any) -> int:
        member_id = len(self.patient_ids) + 1
        self.patient_ids[member_id] = member_key
        row = {"member_id": member_id, "member_key": member_key, "sex": "U", "line_of_business": "unknown"}
        self.rows["member"].append(row | values)
        return member_id

    def add_extract(self, label: str, extract: FhirExtract) -> None:
        """Add one bundle's rows; keys resolve within the bundle only."""
        members: dict[str, int] = {}
        encounters: dict[str, tuple[int, str | None]] = {}
        for kind, table in _PACKAGE_TABLES.items():
            typed_rows, issues = type_package_rows(table, extract.rows.get(kind, []))
            self.issues += issues
            unread = Counter(issue.file for issue in issues)  # cells that did not type, per resource
            for row, (row_label, _line, _cells) in zip(typed_rows, extract.rows.get(kind, []), strict=True):
                member_key = row.pop("member_key")
                if kind == "members":
                    members[member_key] = self._new_member(member_key, **row)
                    continue
                if member_key not in members:
                    # facts of a patient whose Patient resource is missing or unusable: keep the
                    # patient visible (no birth date, so in no population) with the issue counted
                    members[member_key] = self._new_member(member_key)
                    if member_key not in extract.issue_member_keys.values():
                        self._unknown_patient(row_label, member_key, members[member_key])
                self._add_fact(table, row, members[member_key], encounters)
                for _ in range(unread.pop(row_label, 0)):
                    self._count(members[member_key])
        for issue in extract.issues:
            member_key = extract.issue_member_keys.get(issue.file or "")
            if member_key is not None and member_key not in members:
                members[member_key] = self._new_member(member_key)
            self._count(members.get(member_key) if member_key is not None else None)
        self.issues += extract.issues

    def _unknown_patient(self, label: str, member_key: str, member_id: int) -> None:
        self.issues.append(
            InputIssue(
                label, None, "subject", f"Patient/{member_key} is not in this bundle; in no population"
            )
        )
        self._count(member_id)

    def _add_fact(
        self, table: str, row: dict[str, Any], member_id: int, encounters: dict[str, tuple[int, str | None]]
    ) -> None:
        rows = self.rows[table]
        row[f"{table}_id"] = len(rows) + 1
        row["member_id"] = member_id
        if table == "encounter":
            encounters[row["encounter_key"]] = (row["encounter_id"], row.get("setting"))
        elif table == "observation":
            encounter_id, setting = encounters.get(row.pop("encounter_key", None) or "", (None, None))
            row["encounter_id"] = encounter_id
            row["setting"] = row.get("setting") or setting
        elif table == "procedure":
            row["kind"] = engine_procedure_kind(row.get("procedure_key"), row.get("kind"))
        rows.append(row)

    def finish(self) -> MeasureInputs:
        tables = {
            name: pa.Table.from_pylist(rows, schema=schema) if rows else schema.empty_table()
            for name, schema in _SCHEMAS.items()
            for rows in [self.rows[name]]
        }
        return MeasureInputs(tables, self.patient_ids, self.issues, self.issues_by_member)
