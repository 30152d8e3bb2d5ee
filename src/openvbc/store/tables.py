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
    # commercial | medicare | medicaid | exchange | unknown (clinical sources without coverage)
    Column("line_of_business", String(16), nullable=False),
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
    Column("ingredient", String(200)),  # combination products list every ingredient
    Column("drug_class", String(200)),
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

# --- program year: attribution snapshots and outreach (revision 0003) ----------------------

attribution_snapshot = Table(
    "attribution_snapshot",
    metadata,
    Column("attribution_snapshot_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("program_id", String(64), nullable=False),  # rules/programs/<program_id>/<year>.yaml
    Column("program_year", Integer, nullable=False),
    Column("as_of", Date, nullable=False),  # snapshot date: a month end, or the period end
    Column("member_id", Integer, ForeignKey("member.member_id"), nullable=False, index=True),
    Column("provider_kind", String(16), nullable=False),  # pharmacy | practice
    Column("method", String(32), nullable=False),  # plurality_fills | pqa_days_supply | mssp_allowed_charges
    Column("provider_id", Integer),  # attributed provider's dense key; null when not attributed
    Column("provider_npi", String(10)),
    Column("share", Float),  # the winner's share of fills / days supply / allowed charges
    Column("reason", Text, nullable=False),  # one sentence: why this member is (not) attributed
    Column("rule_version", String(32), nullable=False),
    UniqueConstraint(
        "program_id",
        "program_year",
        "as_of",
        "member_id",
        "provider_kind",
        "method",
        name="uq_attribution_snapshot_member",
    ),
)

outreach_attempt = Table(
    "outreach_attempt",
    metadata,
    Column("outreach_attempt_id", Integer, primary_key=True),
    Column("attempt_key", String(96), nullable=False, unique=True),  # caller's id: re-recording is a no-op
    Column("member_id", Integer, ForeignKey("member.member_id"), nullable=False, index=True),
    Column("pharmacy_npi", String(10), nullable=False),
    Column("program_id", String(64)),
    Column("attempted_at", DateTime, nullable=False),
    Column("channel", String(12), nullable=False),  # phone | sms | mail | in_person | portal
    Column(
        "outcome", String(16), nullable=False
    ),  # reached | scheduled | left_message | no_answer | declined | wrong_number
    Column("gap", String(32)),  # the worklist gap that prompted the attempt
    Column("note", Text),
    Column("recorded_by", String(64)),
    CheckConstraint("channel in ('phone','sms','mail','in_person','portal')", name="channel"),
    CheckConstraint(
        "outcome in ('reached','scheduled','left_message','no_answer','declined','wrong_number')",
        name="outcome",
    ),
)

# --- care coordination: transitions of care, TCM, CCM (revision 0004) ----------------------

tcm_case = Table(
    "tcm_case",
    metadata,
    Column("tcm_case_id", Integer, primary_key=True),
    Column("encounter_key", String(96), nullable=False, unique=True),  # the discharge that opened it
    Column("member_id", Integer, ForeignKey("member.member_id"), nullable=False, index=True),
    Column("practice_npi", String(10)),  # attributed practice that owns the follow-up
    Column("from_setting", String(24), nullable=False),  # inpatient | observation | snf | ...
    Column("to_setting", String(24), nullable=False),  # home | assisted_living | ... (community)
    Column("discharge_date", Date, nullable=False),
    Column("contact_due", Date, nullable=False),  # 2 business days, holidays excluded
    Column("visit_due_by_code", String(64), nullable=False),  # '99496=2025-07-10;99495=2025-07-17'
    Column("service_period_end", Date, nullable=False),  # discharge day + 29
    Column("contact_at", DateTime),
    Column("contact_by", String(64)),
    Column("contact_method", String(12)),  # phone | video | in_person | portal
    Column("visit_date", Date),
    Column("visit_mdm", String(16)),  # straightforward | low | moderate | high
    Column("visit_npi", String(10)),  # practitioner who saw the patient face to face
    Column("medication_reconciled_on", Date),
    Column("status", String(12), nullable=False, default="open"),  # open | coded | not_billable
    Column("code", String(5)),  # 99495 | 99496 once coded
    Column("reasons", Text),  # why no code applies, '; ' separated
    Column("rule_version", String(32), nullable=False),
    Column("opened_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    CheckConstraint("status in ('open','coded','not_billable')", name="status"),
)

transition_item = Table(
    "transition_item",
    metadata,
    Column("transition_item_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    # worklist date | audience kind | audience NPI | encounter key | task: rebuilding adds nothing twice
    Column("item_key", String(200), nullable=False, unique=True),
    Column("worklist_date", Date, nullable=False),
    Column("audience_kind", String(8), nullable=False),  # practice | pharmacy
    Column("audience_npi", String(10), nullable=False),
    Column("attribution_source", String(48), nullable=False),  # snapshot method or fallback rule
    Column("member_id", Integer, ForeignKey("member.member_id"), nullable=False, index=True),
    Column("encounter_key", String(96), nullable=False),
    Column("event_kind", String(12), nullable=False),  # ed_visit | discharge
    Column("event_at", DateTime, nullable=False),
    Column("setting", String(16), nullable=False),
    Column("facility_npi", String(10)),
    Column("ed_visits_60d", Integer, nullable=False),
    Column("high_utilizer", Boolean, nullable=False),  # three or more ED visits in 60 days
    Column("readmission_30d", Boolean, nullable=False),  # within 30 days of an earlier discharge
    # ed_follow_up | tcm_contact | discharge_follow_up (practice); medication_reconciliation (pharmacy)
    Column("task", String(32), nullable=False),
    Column("due_date", Date),
    Column("tcm_case_id", Integer, ForeignKey("tcm_case.tcm_case_id")),
    Column("note", Text),  # e.g. why the discharge opened no TCM case
    Column("status", String(8), nullable=False, default="open"),  # open | done
    Column("done_at", DateTime),
    Column("created_at", DateTime, nullable=False),
    CheckConstraint("audience_kind in ('practice','pharmacy')", name="audience_kind"),
    CheckConstraint("event_kind in ('ed_visit','discharge')", name="event_kind"),
    CheckConstraint("status in ('open','done')", name="status"),
)

ccm_enrollment = Table(
    "ccm_enrollment",
    metadata,
    Column("ccm_enrollment_id", Integer, primary_key=True),
    Column("member_id", Integer, ForeignKey("member.member_id"), nullable=False, index=True),
    Column("program", String(4), nullable=False),  # ccm | pcm
    Column("billing_npi", String(10), nullable=False),  # the one practitioner who bills the month
    Column("practice_npi", String(10), nullable=False),  # billing provider on the 837P (2010AA)
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),  # open while null
    Column("conditions", Text, nullable=False),  # chronic conditions found at enrolment, '|' separated
    Column("enrolled_by", String(64)),
    Column("enrolled_at", DateTime, nullable=False),
    CheckConstraint("program in ('ccm','pcm')", name="program"),
    CheckConstraint("end_date is null or end_date >= start_date", name="span"),
    UniqueConstraint("member_id", "start_date", name="uq_ccm_enrollment_member_start"),
)

ccm_consent = Table(
    "ccm_consent",
    metadata,
    Column("ccm_consent_id", Integer, primary_key=True),
    Column("member_id", Integer, ForeignKey("member.member_id"), nullable=False, index=True),
    Column("billing_npi", String(10), nullable=False),
    Column("consented_on", Date, nullable=False),
    Column("method", String(8), nullable=False),  # verbal | written
    Column("revoked_on", Date),
    Column("recorded_by", String(64)),
    Column("recorded_at", DateTime, nullable=False),
    CheckConstraint("method in ('verbal','written')", name="method"),
    UniqueConstraint("member_id", "billing_npi", "consented_on", name="uq_ccm_consent_member_day"),
)

ccm_care_plan = Table(
    "ccm_care_plan",
    metadata,
    Column("ccm_care_plan_id", Integer, primary_key=True),
    Column("member_id", Integer, ForeignKey("member.member_id"), nullable=False, index=True),
    Column("recorded_on", Date, nullable=False),
    Column("action", String(12), nullable=False),  # established | revised | reviewed
    Column("complex_mdm", Boolean, nullable=False, default=False),  # moderate/high MDM (complex CCM)
    Column("document_ref", String(200)),  # where the plan lives (EHR id, eCare plan id)
    Column("recorded_by", String(64)),
    Column("recorded_at", DateTime, nullable=False),
    CheckConstraint("action in ('established','revised','reviewed')", name="action"),
)

ccm_time_entry = Table(
    "ccm_time_entry",
    metadata,
    Column("ccm_time_entry_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("member_id", Integer, ForeignKey("member.member_id"), nullable=False, index=True),
    Column("staff_id", String(64), nullable=False),  # the person whose time it is
    Column("role", String(16), nullable=False),  # clinical_staff | practitioner
    Column("service", String(4), nullable=False, default="ccm"),  # ccm | tcm (never counted for CCM)
    Column("source", String(6), nullable=False),  # timer | manual
    Column("start_at", DateTime, nullable=False),
    Column("end_at", DateTime),  # null while a timer runs
    Column("activity", Text),
    Column("recorded_at", DateTime, nullable=False),
    CheckConstraint("role in ('clinical_staff','practitioner')", name="role"),
    CheckConstraint("service in ('ccm','tcm')", name="service"),
    CheckConstraint("source in ('timer','manual')", name="source"),
    CheckConstraint("end_at is null or end_at > start_at", name="span"),
    # One person cannot start two pieces of work at the same instant; wider overlaps are refused
    # by the service inside one serialised write transaction (services/ccm_time.py).
    UniqueConstraint("staff_id", "start_at", name="uq_ccm_time_entry_staff_start"),
)

ccm_month_bill = Table(
    "ccm_month_bill",
    metadata,
    Column("ccm_month_bill_id", Integer, primary_key=True),
    Column("member_id", Integer, ForeignKey("member.member_id"), nullable=False, index=True),
    Column("month", String(7), nullable=False),  # YYYY-MM
    Column("billing_npi", String(10), nullable=False),
    Column("practice_npi", String(10), nullable=False),
    Column("program", String(4), nullable=False),  # ccm | pcm (the enrolment billed under)
    Column("minutes_clinical_staff", Integer, nullable=False),
    Column("minutes_practitioner", Integer, nullable=False),
    Column("minutes_excluded", Integer, nullable=False),  # already counted for TCM or MTM
    Column("family", String(32)),  # ccm_staff | ccm_practitioner | ccm_complex | pcm_* ; null = no bill
    Column("lines", String(64)),  # '99490x1;99439x2'
    Column("value", Float, nullable=False),  # indicative RVU x CF used to rank families
    Column("reasons", Text),  # why the month does not bill, '; ' separated
    Column("rule_version", String(32), nullable=False),
    Column("computed_at", DateTime, nullable=False),
    # One billing practitioner per patient-month (CMS MLN909188): the key is the patient-month.
    UniqueConstraint("member_id", "month", name="uq_ccm_month_bill_member_month"),
)

Index("ix_transition_item_audience", transition_item.c.worklist_date, transition_item.c.audience_npi)

# --- identities, sessions, machine clients, audit chain, API idempotency (revision 0006) ----

app_user = Table(
    "app_user",
    metadata,
    Column("app_user_id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    # plan_admin | plan_analyst | pharmacy_staff | care_manager | billing_practitioner |
    # registry_user | auditor
    Column("role", String(24), nullable=False),
    Column("org_kind", String(16), nullable=False),  # plan | pharmacy | practice
    Column("org_npi", String(10)),  # the pharmacy or practice the user works for; null for plan staff
    Column("password_hash", String(200), nullable=False),  # pbkdf2_sha256$<iterations>$<salt>$<hash>
    Column("totp_secret", String(64)),  # base32 RFC 6238 secret; required for administrators
    Column("totp_last_step", BigInteger),  # last accepted time step: a code is accepted once
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", DateTime),  # set after repeated failures
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    CheckConstraint("org_kind in ('plan','pharmacy','practice')", name="org_kind"),
)

app_session = Table(
    "app_session",
    metadata,
    Column("app_session_id", Integer, primary_key=True),
    Column("token_sha256", String(64), nullable=False, unique=True),  # the cookie value is never stored
    Column("app_user_id", Integer, ForeignKey("app_user.app_user_id"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("mfa_passed", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),  # idle time-out is measured from here
    Column("ended_at", DateTime),  # sign-out or time-out
)

api_client = Table(
    "api_client",
    metadata,
    Column("api_client_id", Integer, primary_key=True),
    Column("client_id", String(64), nullable=False, unique=True),
    Column("auth_kind", String(8), nullable=False),  # api_key | smart
    Column("name", String(200), nullable=False),
    Column("role", String(24), nullable=False),  # same roles as people; scoping follows org
    Column("org_kind", String(16), nullable=False),
    Column("org_npi", String(10)),
    Column("key_sha256", String(64), unique=True),  # API keys: SHA-256 of the secret
    Column("public_key_pem", Text),  # SMART backend services: key that signs client assertions
    Column("scopes", Text, nullable=False),  # space separated, e.g. 'system/Patient.rs system/Group.rs'
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime, nullable=False),
    CheckConstraint("auth_kind in ('api_key','smart')", name="auth_kind"),
    CheckConstraint("org_kind in ('plan','pharmacy','practice')", name="org_kind"),
)

access_token = Table(
    "access_token",
    metadata,
    Column("access_token_id", Integer, primary_key=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("api_client_id", Integer, ForeignKey("api_client.api_client_id"), nullable=False, index=True),
    Column("scopes", Text, nullable=False),  # granted: requested ∩ registered
    Column("issued_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
)

client_assertion = Table(
    "client_assertion",
    metadata,
    Column("client_assertion_id", Integer, primary_key=True),
    Column("api_client_id", Integer, ForeignKey("api_client.api_client_id"), nullable=False),
    Column("jti", String(200), nullable=False),
    Column("expires_at", DateTime, nullable=False),
    # A signed assertion is single use (SMART backend services): a replayed jti hits this key.
    UniqueConstraint("api_client_id", "jti", name="uq_client_assertion_client_jti"),
)

audit_event = Table(
    "audit_event",
    metadata,
    Column("audit_event_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("recorded_at", DateTime, nullable=False),  # UTC
    Column("actor_kind", String(8), nullable=False),  # user | client | anonymous | system
    Column("actor_id", String(64), nullable=False),  # username or client_id as typed for failed logins
    Column("role", String(24)),
    Column("org_npi", String(10)),
    # read | search | create | update | delete | export | login | logout | privilege | audit
    Column("action", String(12), nullable=False),
    Column("resource_type", String(40), nullable=False),  # Patient, Observation, member, app_user, ...
    Column("resource_id", String(200)),
    Column("member_keys", Text),  # which members were touched, ' ' separated
    Column("outcome", String(8), nullable=False),  # success | failure | denied
    Column("detail", Text),
    Column("request_id", String(64)),
    Column("source_ip", String(64)),
    Column("prev_sha256", String(64), nullable=False),  # chain: the previous record's sha256
    Column("sha256", String(64), nullable=False),  # SHA-256 over prev_sha256 and this record's fields
    CheckConstraint("outcome in ('success','failure','denied')", name="outcome"),
)

audit_head = Table(
    "audit_head",
    metadata,
    # One row. Appenders lock it first, so the chain is written in one order; it also
    # remembers the tail, so a deleted last record is detected.
    Column("audit_head_id", Integer, primary_key=True),
    Column("last_event_id", BigInteger, nullable=False),
    Column("last_sha256", String(64), nullable=False),
)

api_idempotency = Table(
    "api_idempotency",
    metadata,
    Column("api_idempotency_id", Integer, primary_key=True),
    Column("actor_id", String(64), nullable=False),  # keys are per caller
    Column("idempotency_key", String(200), nullable=False),
    Column("request_sha256", String(64), nullable=False),  # same key + different body → 422
    Column("resource_type", String(40), nullable=False),
    Column("resource_id", String(200), nullable=False),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("actor_id", "idempotency_key", name="uq_api_idempotency_actor_key"),
)

bulk_export_job = Table(
    "bulk_export_job",
    metadata,
    Column("bulk_export_job_id", String(36), primary_key=True),  # random UUID: the status URL
    Column("actor_id", String(64), nullable=False),  # only the requester may poll and download
    Column("role", String(24), nullable=False),
    Column("org_npi", String(10)),
    Column("group_id", String(64), nullable=False),
    Column("resource_types", String(200), nullable=False),
    Column("since", DateTime),
    Column("status", String(12), nullable=False),  # accepted | in-progress | completed | failed
    Column("requested_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("manifest", Text),  # JSON output list with per-file SHA-256
    Column("error", Text),
    CheckConstraint("status in ('accepted','in-progress','completed','failed')", name="status"),
)

# Pharmacy and practice home pages list "members attributed to me": look up by provider.
Index(
    "ix_attribution_snapshot_provider",
    attribution_snapshot.c.provider_npi,
    attribution_snapshot.c.provider_kind,
)
Index("ix_audit_event_recorded_at", audit_event.c.recorded_at)
# Organisation scoping (services/access.py) looks members up by dispensing pharmacy and PCP.
Index("ix_fill_pharmacy_npi", fill.c.pharmacy_npi)
Index("ix_member_pcp_npi", member.c.pcp_npi)

# --- pharmacist workflow: MTM documentation detail and care plans (revision 0005) ----------

mtm_medication = Table(
    "mtm_medication",
    metadata,
    Column("mtm_medication_id", Integer, primary_key=True),
    Column(
        "mtm_encounter_id", Integer, ForeignKey("mtm_encounter.mtm_encounter_id"), nullable=False, index=True
    ),
    Column("line_number", Integer, nullable=False),  # 1-based position in the reconciled list
    Column("code_system", String(16), nullable=False),  # rxnorm | ndc
    Column("code", String(20), nullable=False),
    Column("name", String(200), nullable=False),
    Column("sig", Text),  # directions as the patient takes them
    Column("status", String(12), nullable=False),  # continued | new | changed | stopped
    UniqueConstraint("mtm_encounter_id", "line_number", name="uq_mtm_medication_line"),
    CheckConstraint("status in ('continued','new','changed','stopped')", name="status"),
)

mtm_problem = Table(
    "mtm_problem",
    metadata,
    Column("mtm_problem_id", Integer, primary_key=True),
    Column(
        "mtm_encounter_id", Integer, ForeignKey("mtm_encounter.mtm_encounter_id"), nullable=False, index=True
    ),
    Column("problem_key", String(64), nullable=False),  # stable id: goals and interventions name it
    Column("code_system", String(16)),  # snomed; null for a problem with no code in the value set
    Column("code", String(20)),
    Column("free_text", Text, nullable=False),  # the pharmacist's words, always kept beside the code
    Column("status", String(12), nullable=False),  # active | resolved
    Column("medication_line", Integer),  # the reconciled medication the problem concerns
    UniqueConstraint("mtm_encounter_id", "problem_key", name="uq_mtm_problem_key"),
    CheckConstraint("status in ('active','resolved')", name="status"),
)

mtm_goal = Table(
    "mtm_goal",
    metadata,
    Column("mtm_goal_id", Integer, primary_key=True),
    Column(
        "mtm_encounter_id", Integer, ForeignKey("mtm_encounter.mtm_encounter_id"), nullable=False, index=True
    ),
    Column("goal_key", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("code_system", String(16)),  # loinc | snomed (optional)
    Column("code", String(20)),
    Column("target_date", Date),
    Column("problem_key", String(64)),  # the problem the goal addresses
    Column("status", String(12), nullable=False),  # active | achieved | cancelled
    UniqueConstraint("mtm_encounter_id", "goal_key", name="uq_mtm_goal_key"),
    CheckConstraint("status in ('active','achieved','cancelled')", name="status"),
)

mtm_intervention = Table(
    "mtm_intervention",
    metadata,
    Column("mtm_intervention_id", Integer, primary_key=True),
    Column(
        "mtm_encounter_id", Integer, ForeignKey("mtm_encounter.mtm_encounter_id"), nullable=False, index=True
    ),
    Column("intervention_key", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("code_system", String(16)),  # snomed (optional)
    Column("code", String(20)),
    Column("status", String(12), nullable=False),  # completed | planned
    Column("performed_on", Date),  # done on, or planned for
    Column("problem_key", String(64)),
    UniqueConstraint("mtm_encounter_id", "intervention_key", name="uq_mtm_intervention_key"),
    CheckConstraint("status in ('completed','planned')", name="status"),
)

mtm_outcome = Table(
    "mtm_outcome",
    metadata,
    Column("mtm_outcome_id", Integer, primary_key=True),
    Column(
        "mtm_encounter_id", Integer, ForeignKey("mtm_encounter.mtm_encounter_id"), nullable=False, index=True
    ),
    Column("outcome_key", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("value_text", String(200)),  # e.g. "6 of 7 days", "132/84 mmHg"
    Column("observed_on", Date),
    Column("goal_key", String(64)),  # the goal the outcome evaluates
    UniqueConstraint("mtm_encounter_id", "outcome_key", name="uq_mtm_outcome_key"),
)

care_plan = Table(
    "care_plan",
    metadata,
    Column("care_plan_id", Integer, primary_key=True),
    Column("care_plan_key", String(96), nullable=False, unique=True),  # the plan's (document's) id
    Column("member_id", Integer, ForeignKey("member.member_id"), nullable=False, index=True),
    # The MTM encounter the plan was written at, when authored here.
    Column("mtm_encounter_id", Integer, ForeignKey("mtm_encounter.mtm_encounter_id")),
    Column("origin", String(8), nullable=False),  # authored | cda | fhir
    Column("pharmacy_npi", String(10)),
    Column("created_at", DateTime, nullable=False),  # the document's own date (UTC)
    Column("stored_at", DateTime, nullable=False),
    Column("document", Text, nullable=False),  # the care plan model as canonical JSON
    CheckConstraint("origin in ('authored','cda','fhir')", name="origin"),
)

# --- longitudinal registry: PROM responses and spine episodes (revision 0007) -------------------

prom_response = Table(
    "prom_response",
    metadata,
    Column("prom_response_id", Integer, primary_key=True),
    Column("member_id", Integer, ForeignKey("member.member_id"), nullable=False, index=True),
    Column("instrument", String(16), nullable=False),  # ODI | NPRS (rules/registry/proms/*.yaml)
    Column("instrument_version", String(16), nullable=False),
    Column("administered_on", Date, nullable=False),
    Column("answers", Text, nullable=False),  # item id -> answer (null = unanswered), JSON
    Column("score", Float),  # null when too many items were left unanswered
    Column("answered_items", Integer, nullable=False),
    Column("problem", Text),  # why there is no score
    Column("source", String(16), nullable=False),  # patient | clinician | import
    Column("clinician_npi", String(10)),  # who administered it, when known
    Column("recorded_at", DateTime, nullable=False),
    # One administration of an instrument per member and day; a correction is a new day or a delete.
    UniqueConstraint("member_id", "instrument", "administered_on", name="uq_prom_response_member_day"),
)

spine_episode = Table(
    "spine_episode",
    metadata,
    Column("spine_episode_id", Integer, primary_key=True),
    Column("member_id", Integer, ForeignKey("member.member_id"), nullable=False, index=True),
    Column("start_date", Date, nullable=False),  # first low back pain diagnosis after a clean period
    Column("end_date", Date, nullable=False),  # last low back pain diagnosis of the episode
    Column("index_code", String(8), nullable=False),  # ICD-10-CM without the dot
    Column("diagnoses", Integer, nullable=False),  # low back pain diagnoses inside the episode
    Column("outcome_status", String(16), nullable=False),  # met | not_met | awaiting | no_baseline
    Column("outcome_detail", Text),  # the PROM change sentence(s)
    Column("rule_version", String(64), nullable=False),
    Column("computed_at", DateTime, nullable=False),
    # Episodes are derived from diagnoses and recomputed whole per member; the start identifies one.
    UniqueConstraint("member_id", "start_date", name="uq_spine_episode_member_start"),
)
