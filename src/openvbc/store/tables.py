"""The canonical plan data model (SQLAlchemy 2 Core metadata).

Every population table has a dense integer surrogate key (``<table>_id``) assigned at load
time, because the population engine groups and sorts on integers (DESIGN.md decision 8), and
keeps the natural key from the source (``*_key`` or the NPI) unique, so re-importing the
same data is a no-op. Column meanings are documented in docs/data-model.md; keep the two in
step (tests/store/test_data_model_doc.py checks it).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

# Money is stored as exact decimals; payments must reconcile to the cent.
Money = Numeric(14, 2)

provider = Table(
    "provider",
    metadata,
    Column("provider_id", Integer, primary_key=True),
    Column("npi", String(10), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # pharmacy | practice | clinician | hospital | plan
    Column("name", String(200), nullable=False),
    Column("taxonomy", String(10)),
    Column("parent_npi", String(10)),  # parent organisation (pharmacy chain, medical group)
    Column("tin", String(9)),
    Column("address", String(200)),
    Column("city", String(100)),
    Column("state", String(2)),
    Column("zip", String(10)),
    CheckConstraint("kind in ('pharmacy','practice','clinician','hospital','plan')", name="kind"),
)

member = Table(
    "member",
    metadata,
    Column("member_id", Integer, primary_key=True),
    Column("member_key", String(64), nullable=False, unique=True),  # the plan's member id
    Column("first_name", String(100)),
    Column("last_name", String(100)),
    Column("birth_date", Date, nullable=False),
    Column("sex", String(1), nullable=False),  # F | M | U
    Column("race", String(40)),
    Column("ethnicity", String(40)),
    Column("address", String(200)),
    Column("city", String(100)),
    Column("state", String(2)),
    Column("zip", String(10)),
    Column("line_of_business", String(16), nullable=False),  # commercial | medicare | medicaid | exchange
    Column("pcp_npi", String(10)),  # primary care clinician of record
    Column("death_date", Date),
    CheckConstraint("sex in ('F','M','U')", name="sex"),
)

coverage = Table(
    "coverage",
    metadata,
    Column("coverage_id", Integer, primary_key=True),
    Column("coverage_key", String(96), nullable=False, unique=True),
    Column("member_id", Integer, ForeignKey("member.member_id"), nullable=False, index=True),
    Column("line_of_business", String(16), nullable=False),
    Column("plan_code", String(32)),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),  # open-ended when null
    Column("rx_benefit", Boolean, nullable=False, default=True),
    CheckConstraint("end_date is null or end_date >= start_date", name="span"),
)

fill = Table(
    "fill",
    metadata,
    Column("fill_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("fill_key", String(64), nullable=False, unique=True),  # pharmacy claim id
    Column("member_id", Integer, ForeignKey("member.member_id"), nullable=False, index=True),
    Column("ndc11", String(11), nullable=False),
    Column("ingredient", String(80)),
    Column("drug_class", String(40)),
    Column("fill_date", Date, nullable=False),
    Column("days_supply", Integer, nullable=False),
    Column("quantity", Float, nullable=False),
    Column("pharmacy_npi", String(10), nullable=False),
    Column("prescriber_npi", String(10)),
    Column("allowed_amount", Money),
    Column("paid_amount", Money),
    Column("pharmacy_id", Integer),  # dense key of the dispensing pharmacy (provider_id)
    CheckConstraint("days_supply > 0", name="days_supply"),
)

medical_claim = Table(
    "medical_claim",
    metadata,
    Column("claim_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("claim_key", String(64), nullable=False, unique=True),
    Column("member_id", Integer, ForeignKey("member.member_id"), nullable=False, index=True),
    Column("claim_type", String(16), nullable=False),  # professional | institutional
    Column("billing_npi", String(10), nullable=False),
    Column("from_date", Date, nullable=False),
    Column("to_date", Date, nullable=False),
    Column("place_of_service", String(2)),
    Column("bill_type", String(4)),
    Column("discharge_status", String(2)),
    Column("diagnosis_codes", Text),  # ICD-10-CM codes, '|' separated, principal first
    Column("allowed_amount", Money),
    Column("paid_amount", Money),
    CheckConstraint("to_date >= from_date", name="dates"),
)

claim_line = Table(
    "claim_line",
    metadata,
    Column("claim_line_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("claim_id", BigInteger, ForeignKey("medical_claim.claim_id"), nullable=False),
    Column("line_number", Integer, nullable=False),
    Column("member_id", Integer, nullable=False, index=True),
    Column("procedure_code", String(5), nullable=False),  # CPT or HCPCS Level II
    Column("modifiers", String(11)),  # up to four, '|' separated
    Column("service_date", Date, nullable=False),
    Column("units", Float, nullable=False, default=1),
    Column("rendering_npi", String(10)),
    Column("place_of_service", String(2)),
    Column("allowed_amount", Money),
    UniqueConstraint("claim_id", "line_number", name="uq_claim_line_claim_line"),
)

claim_diagnosis = Table(
    "claim_diagnosis",
    metadata,
    Column("claim_id", BigInteger, ForeignKey("medical_claim.claim_id"), primary_key=True),
    Column("sequence", Integer, primary_key=True),
    Column("member_id", Integer, nullable=False, index=True),
    Column("code", String(8), nullable=False),  # ICD-10-CM without the dot
)

condition = Table(
    "condition",
    metadata,
    Column("condition_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("condition_key", String(96), nullable=False, unique=True),
    Column("member_id", Integer, ForeignKey("member.member_id"), nullable=False, index=True),
    Column("code_system", String(16), nullable=False),  # icd10cm | snomed
    Column("code", String(20), nullable=False),
    Column("additional_codes", Text),  # further codings 'system|code' ';' separated
    Column("category", String(32)),  # problem-list-item | encounter-diagnosis | health-concern
    Column("clinical_status", String(16)),  # active | recurrence | relapse | inactive | remission | resolved
    Column("verification_status", String(20)),
    Column("onset_date", Date),
    Column("abatement_date", Date),
    Column("recorded_date", Date),
    Column("source", String(16), nullable=False),  # claim | ehr | pharmacist | patient | device
)

encounter = Table(
    "encounter",
    metadata,
    Column("encounter_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("encounter_key", String(96), nullable=False, unique=True),
    Column("member_id", Integer, ForeignKey("member.member_id"), nullable=False, index=True),
    Column("setting", String(16), nullable=False),  # ambulatory|ed|inpatient|observation|snf|home|virtual
    Column("code_system", String(16)),  # cpt | hcpcs | snomed | ...
    Column("code", String(20)),
    Column("additional_codes", Text),
    Column("status", String(16), nullable=False, default="finished"),
    Column("start_at", DateTime, nullable=False),
    Column("end_at", DateTime),
    Column("discharge_disposition", String(40)),  # code of the disposition (e.g. SNOMED, NUBC)
    Column("provider_npi", String(10)),
    Column("facility_npi", String(10)),
    Column("source", String(16), nullable=False, default="ehr"),
)

observation = Table(
    "observation",
    metadata,
    Column("observation_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("observation_key", String(96), nullable=False, unique=True),
    Column("member_id", Integer, ForeignKey("member.member_id"), nullable=False, index=True),
    Column("code_system", String(16), nullable=False),  # loinc | snomed | cpt-ii
    Column("code", String(20), nullable=False),
    Column("additional_codes", Text),
    Column("category", String(32)),  # vital-signs | laboratory | social-history | survey
    Column("status", String(16), nullable=False, default="final"),
    Column("value_num", Float),  # canonical unit (mmHg, %)
    Column("unit", String(16)),  # canonical unit
    Column("original_value", String(40)),  # as received, before unit conversion
    Column("original_unit", String(16)),
    Column("value_code_system", String(16)),
    Column("value_code", String(32)),  # coded answers (e.g. SNOMED smoking status)
    Column("effective_at", DateTime, nullable=False),
    Column("effective_end", DateTime),  # for ranges such as the GMI sensor window
    Column("panel_key", String(96)),  # readings that arrived as one BP panel share it
    Column("encounter_id", BigInteger),
    Column("setting", String(16)),  # where it was taken: ambulatory | ed | inpatient | home | ...
    Column("source", String(16), nullable=False),  # claim | ehr | pharmacist | patient | device
)

procedure = Table(
    "procedure",
    metadata,
    Column("procedure_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("procedure_key", String(96), nullable=False, unique=True),
    Column("member_id", Integer, ForeignKey("member.member_id"), nullable=False, index=True),
    Column("code_system", String(16), nullable=False),
    Column("code", String(20), nullable=False),
    Column("additional_codes", Text),
    # performed (Procedure) | ordered (ServiceRequest) | not-done
    Column("kind", String(16), nullable=False, default="performed"),
    Column("status", String(16), nullable=False, default="completed"),
    Column("performed_start", DateTime, nullable=False),
    Column("performed_end", DateTime),
    Column("encounter_id", BigInteger),
    Column("source", String(16), nullable=False, default="ehr"),
)

medication_order = Table(
    "medication_order",
    metadata,
    Column("medication_order_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("order_key", String(96), nullable=False, unique=True),
    Column("member_id", Integer, ForeignKey("member.member_id"), nullable=False, index=True),
    Column("code_system", String(16), nullable=False),  # rxnorm
    Column("code", String(20), nullable=False),
    Column("additional_codes", Text),
    Column("status", String(16), nullable=False),
    Column("intent", String(16), nullable=False, default="order"),
    Column("authored_at", DateTime, nullable=False),
    Column("start_date", Date),
    Column("end_date", Date),
    Column("prescriber_npi", String(10)),
    Column("source", String(16), nullable=False, default="ehr"),
)

mtm_encounter = Table(
    "mtm_encounter",
    metadata,
    Column("mtm_encounter_id", Integer, primary_key=True),
    Column("mtm_key", String(96), nullable=False, unique=True),
    Column("member_id", Integer, ForeignKey("member.member_id"), nullable=False, index=True),
    Column("pharmacist_npi", String(10), nullable=False),
    Column("pharmacy_npi", String(10), nullable=False),
    Column("service_date", Date, nullable=False),
    Column("kind", String(8), nullable=False),  # CMR | TMR | FOLLOWUP
    Column("minutes", Integer, nullable=False),
    Column("patient_status", String(12), nullable=False),  # new | established
    Column("start_at", DateTime),
    Column("end_at", DateTime),
    CheckConstraint("minutes > 0 and minutes <= 1440", name="minutes"),
    CheckConstraint("kind in ('CMR','TMR','FOLLOWUP')", name="kind"),
)

adt_event = Table(
    "adt_event",
    metadata,
    Column("adt_event_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    # (MSH-3 sending application, MSH-4 sending facility, MSH-10 control id)
    Column("event_key", String(200), nullable=False, unique=True),
    Column("member_id", Integer, ForeignKey("member.member_id"), index=True),
    Column("member_key", String(64)),  # identifier as received, kept when unmatched
    Column("trigger", String(3), nullable=False),  # A01 A02 A03 A04 A08 A11 A13 A40
    Column("patient_class", String(1)),  # PV1-2 (HL7 table 0004)
    Column("event_at", DateTime, nullable=False),  # EVN-2
    Column("admit_at", DateTime),  # PV1-44
    Column("discharge_at", DateTime),  # PV1-45
    Column("facility_npi", String(10)),
    Column("visit_number", String(40)),  # PV1-19
    Column("discharge_disposition", String(4)),  # PV1-36
)

load_ledger = Table(
    "load_ledger",
    metadata,
    Column("load_id", Integer, primary_key=True),
    Column("file_name", String(500), nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("rows_total", Integer, nullable=False),
    Column("rows_inserted", Integer, nullable=False),
    Column("rows_unchanged", Integer, nullable=False),
    Column("loaded_at", DateTime, nullable=False),
    UniqueConstraint("kind", "file_sha256", name="uq_load_ledger_kind_sha"),
)

Index("ix_fill_member_date", fill.c.member_id, fill.c.fill_date)
Index("ix_observation_member_code", observation.c.member_id, observation.c.code)

# Tables in load order (parents first); importers and the demo summary walk this list.
POPULATION_TABLES: tuple[Table, ...] = (
    provider,
    member,
    coverage,
    fill,
    medical_claim,
    claim_line,
    claim_diagnosis,
    condition,
    encounter,
    observation,
    procedure,
    medication_order,
    mtm_encounter,
    adt_event,
)

# --- workflow state (revision 0002) -------------------------------------------------------

hl7_message = Table(
    "hl7_message",
    metadata,
    Column("hl7_message_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    # Duplicate detection key (reliability-plan §1): MSH-3, MSH-4, MSH-10.
    Column("sending_application", String(180), nullable=False),
    Column("sending_facility", String(180), nullable=False),
    Column("control_id", String(199), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("raw", Text, nullable=False),  # decoded text exactly as received (segments separated by \r)
    Column("encoding", String(32), nullable=False),
    Column("message_type", String(16)),  # e.g. ADT^A01
    Column("received_at", DateTime, nullable=False),
    Column("status", String(12), nullable=False, default="received"),  # received | processed | error
    Column("processed_at", DateTime),
    Column("error", Text),
    Column("duplicates", Integer, nullable=False, default=0),
    UniqueConstraint("sending_application", "sending_facility", "control_id", name="uq_hl7_message_msh"),
)

hl7_conflict = Table(
    "hl7_conflict",
    metadata,
    Column("hl7_conflict_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("hl7_message_id", BigInteger, ForeignKey("hl7_message.hl7_message_id"), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("raw", Text, nullable=False),
    Column("received_at", DateTime, nullable=False),
    UniqueConstraint("hl7_message_id", "sha256", name="uq_hl7_conflict_body"),
)

x12_counter = Table(
    "x12_counter",
    metadata,
    Column("name", String(32), primary_key=True),  # ISA13 | GS06 | ST02 per sender
    Column("value", BigInteger, nullable=False),
)

claim_submission = Table(
    "claim_submission",
    metadata,
    Column("claim_submission_id", Integer, primary_key=True),
    Column("source_kind", String(8), nullable=False),  # mtm | ccm | tcm
    Column("source_key", String(96), nullable=False),  # the encounter / patient-month billed
    Column("claim_control_number", String(38), nullable=False, unique=True),  # CLM01
    Column("interchange_control_number", String(9), nullable=False),  # ISA13
    Column("group_control_number", String(9), nullable=False),  # GS06
    Column("transaction_control_number", String(9), nullable=False),  # ST02
    Column("total_charge", Money, nullable=False),
    Column("file_name", String(500)),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("source_kind", "source_key", name="uq_claim_submission_source"),
)
