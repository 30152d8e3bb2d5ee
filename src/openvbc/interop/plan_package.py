"""The plan data package: one header-exact CSV (or Parquet) file per kind of record.

This module is the single definition of the package layout. The synthetic generator writes
it, the CSV importer validates it, and the FHIR importer maps resources into rows of the
same shape (values as the strings a CSV would hold), so all inputs go through one validator.
docs/plan-data-package.md documents every column; tests check that the two agree.

Conventions: dates ``YYYY-MM-DD``; date-times ``YYYY-MM-DDTHH:MM[:SS]`` (no zone = plan local
time); empty cell = null; multi-valued cells separated by ``|``; UTF-8 with or without BOM.
``additional_codes`` (last column of the clinical files) lists every further coding of the same
fact as ``system|code`` separated by ``;`` so value-set matching sees all codings a source sent.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PackageFile:
    """One file kind of the package."""

    name: str  # file stem: ``members`` -> members.csv / members.parquet
    table: str  # canonical table it loads into
    key: str  # natural key column (unique within the plan)
    columns: tuple[str, ...]  # exact header, in order
    required: tuple[str, ...]  # columns that may not be empty

    @property
    def csv_name(self) -> str:
        return f"{self.name}.csv"


PROVIDERS = PackageFile(
    name="providers",
    table="provider",
    key="npi",
    columns=("npi", "kind", "name", "taxonomy", "parent_npi", "tin", "address", "city", "state", "zip"),
    required=("npi", "kind", "name"),
)

MEMBERS = PackageFile(
    name="members",
    table="member",
    key="member_key",
    columns=(
        "member_key",
        "first_name",
        "last_name",
        "birth_date",
        "sex",
        "race",
        "ethnicity",
        "address",
        "city",
        "state",
        "zip",
        "line_of_business",
        "pcp_npi",
        "death_date",
    ),
    required=("member_key", "birth_date", "sex", "line_of_business"),
)

COVERAGE = PackageFile(
    name="coverage",
    table="coverage",
    key="coverage_key",
    columns=(
        "coverage_key",
        "member_key",
        "line_of_business",
        "plan_code",
        "start_date",
        "end_date",
        "rx_benefit",
    ),
    required=("coverage_key", "member_key", "line_of_business", "start_date"),
)

FILLS = PackageFile(
    name="fills",
    table="fill",
    key="fill_key",
    columns=(
        "fill_key",
        "member_key",
        "ndc",
        "ingredient",
        "drug_class",
        "fill_date",
        "days_supply",
        "quantity",
        "pharmacy_npi",
        "prescriber_npi",
        "allowed_amount",
        "paid_amount",
    ),
    required=("fill_key", "member_key", "ndc", "fill_date", "days_supply", "quantity", "pharmacy_npi"),
)

CLAIMS = PackageFile(
    name="claims",
    table="medical_claim",
    key="claim_key",
    columns=(
        "claim_key",
        "member_key",
        "claim_type",
        "billing_npi",
        "from_date",
        "to_date",
        "place_of_service",
        "bill_type",
        "discharge_status",
        "diagnosis_codes",
        "allowed_amount",
        "paid_amount",
    ),
    required=("claim_key", "member_key", "claim_type", "billing_npi", "from_date", "to_date"),
)

CLAIM_LINES = PackageFile(
    name="claim_lines",
    table="claim_line",
    key="claim_key+line_number",
    columns=(
        "claim_key",
        "line_number",
        "procedure_code",
        "modifiers",
        "service_date",
        "units",
        "rendering_npi",
        "place_of_service",
        "allowed_amount",
    ),
    required=("claim_key", "line_number", "procedure_code", "service_date"),
)

CONDITIONS = PackageFile(
    name="conditions",
    table="condition",
    key="condition_key",
    columns=(
        "condition_key",
        "member_key",
        "code_system",
        "code",
        "category",
        "clinical_status",
        "verification_status",
        "onset_date",
        "abatement_date",
        "recorded_date",
        "source",
        "additional_codes",
    ),
    required=("condition_key", "member_key", "code_system", "code", "source"),
)

ENCOUNTERS = PackageFile(
    name="encounters",
    table="encounter",
    key="encounter_key",
    columns=(
        "encounter_key",
        "member_key",
        "setting",
        "code_system",
        "code",
        "status",
        "start_at",
        "end_at",
        "discharge_disposition",
        "provider_npi",
        "facility_npi",
        "source",
        "additional_codes",
    ),
    required=("encounter_key", "member_key", "setting", "start_at"),
)

OBSERVATIONS = PackageFile(
    name="observations",
    table="observation",
    key="observation_key",
    columns=(
        "observation_key",
        "member_key",
        "code_system",
        "code",
        "category",
        "status",
        "value",
        "unit",
        "value_code_system",
        "value_code",
        "effective_at",
        "effective_end",
        "panel_key",
        "encounter_key",
        "setting",
        "source",
        "additional_codes",
    ),
    required=("observation_key", "member_key", "code_system", "code", "effective_at", "source"),
)

PROCEDURES = PackageFile(
    name="procedures",
    table="procedure",
    key="procedure_key",
    columns=(
        "procedure_key",
        "member_key",
        "code_system",
        "code",
        "kind",
        "status",
        "performed_start",
        "performed_end",
        "encounter_key",
        "source",
        "additional_codes",
    ),
    required=("procedure_key", "member_key", "code_system", "code", "performed_start"),
)

MEDICATION_ORDERS = PackageFile(
    name="medication_orders",
    table="medication_order",
    key="order_key",
    columns=(
        "order_key",
        "member_key",
        "code_system",
        "code",
        "status",
        "intent",
        "authored_at",
        "start_date",
        "end_date",
        "prescriber_npi",
        "source",
        "additional_codes",
    ),
    required=("order_key", "member_key", "code_system", "code", "status", "authored_at"),
)

MTM_ENCOUNTERS = PackageFile(
    name="mtm_encounters",
    table="mtm_encounter",
    key="mtm_key",
    columns=(
        "mtm_key",
        "member_key",
        "pharmacist_npi",
        "pharmacy_npi",
        "service_date",
        "kind",
        "minutes",
        "patient_status",
        "start_at",
        "end_at",
    ),
    required=(
        "mtm_key",
        "member_key",
        "pharmacist_npi",
        "pharmacy_npi",
        "service_date",
        "kind",
        "minutes",
        "patient_status",
    ),
)

ADT_EVENTS = PackageFile(
    name="adt_events",
    table="adt_event",
    key="event_key",
    columns=(
        "event_key",
        "member_key",
        "trigger",
        "patient_class",
        "event_at",
        "admit_at",
        "discharge_at",
        "facility_npi",
        "visit_number",
        "discharge_disposition",
    ),
    required=("event_key", "trigger", "event_at"),
)

# Load order: referenced records first (providers and members before everything that names them).
PACKAGE_FILES: tuple[PackageFile, ...] = (
    PROVIDERS,
    MEMBERS,
    COVERAGE,
    FILLS,
    CLAIMS,
    CLAIM_LINES,
    CONDITIONS,
    ENCOUNTERS,
    OBSERVATIONS,
    PROCEDURES,
    MEDICATION_ORDERS,
    MTM_ENCOUNTERS,
    ADT_EVENTS,
)

PACKAGE_FILES_BY_NAME: dict[str, PackageFile] = {spec.name: spec for spec in PACKAGE_FILES}
