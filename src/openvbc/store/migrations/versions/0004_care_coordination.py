"""care coordination: TCM cases, transitions worklist items, CCM enrolment, consent, care plans,
time entries and month bills

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ccm_care_plan",
        sa.Column("ccm_care_plan_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("recorded_on", sa.Date(), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("complex_mdm", sa.Boolean(), nullable=False),
        sa.Column("document_ref", sa.String(length=200), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "action in ('established','revised','reviewed')", name=op.f("ck_ccm_care_plan_action")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.member_id"], name=op.f("fk_ccm_care_plan_member_id_member")
        ),
        sa.PrimaryKeyConstraint("ccm_care_plan_id", name=op.f("pk_ccm_care_plan")),
    )
    op.create_index(op.f("ix_ccm_care_plan_member_id"), "ccm_care_plan", ["member_id"], unique=False)
    op.create_table(
        "ccm_consent",
        sa.Column("ccm_consent_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("billing_npi", sa.String(length=10), nullable=False),
        sa.Column("consented_on", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("revoked_on", sa.Date(), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("method in ('verbal','written')", name=op.f("ck_ccm_consent_method")),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.member_id"], name=op.f("fk_ccm_consent_member_id_member")
        ),
        sa.PrimaryKeyConstraint("ccm_consent_id", name=op.f("pk_ccm_consent")),
        sa.UniqueConstraint("member_id", "billing_npi", "consented_on", name="uq_ccm_consent_member_day"),
    )
    op.create_index(op.f("ix_ccm_consent_member_id"), "ccm_consent", ["member_id"], unique=False)
    op.create_table(
        "ccm_enrollment",
        sa.Column("ccm_enrollment_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("program", sa.String(length=4), nullable=False),
        sa.Column("billing_npi", sa.String(length=10), nullable=False),
        sa.Column("practice_npi", sa.String(length=10), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("conditions", sa.Text(), nullable=False),
        sa.Column("enrolled_by", sa.String(length=64), nullable=True),
        sa.Column("enrolled_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("program in ('ccm','pcm')", name=op.f("ck_ccm_enrollment_program")),
        sa.CheckConstraint("end_date is null or end_date >= start_date", name=op.f("ck_ccm_enrollment_span")),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.member_id"], name=op.f("fk_ccm_enrollment_member_id_member")
        ),
        sa.PrimaryKeyConstraint("ccm_enrollment_id", name=op.f("pk_ccm_enrollment")),
        sa.UniqueConstraint("member_id", "start_date", name="uq_ccm_enrollment_member_start"),
    )
    op.create_index(op.f("ix_ccm_enrollment_member_id"), "ccm_enrollment", ["member_id"], unique=False)
    op.create_table(
        "ccm_month_bill",
        sa.Column("ccm_month_bill_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("billing_npi", sa.String(length=10), nullable=False),
        sa.Column("practice_npi", sa.String(length=10), nullable=False),
        sa.Column("program", sa.String(length=4), nullable=False),
        sa.Column("minutes_clinical_staff", sa.Integer(), nullable=False),
        sa.Column("minutes_practitioner", sa.Integer(), nullable=False),
        sa.Column("minutes_excluded", sa.Integer(), nullable=False),
        sa.Column("family", sa.String(length=32), nullable=True),
        sa.Column("lines", sa.String(length=64), nullable=True),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=True),
        sa.Column("rule_version", sa.String(length=32), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.member_id"], name=op.f("fk_ccm_month_bill_member_id_member")
        ),
        sa.PrimaryKeyConstraint("ccm_month_bill_id", name=op.f("pk_ccm_month_bill")),
        sa.UniqueConstraint("member_id", "month", name="uq_ccm_month_bill_member_month"),
    )
    op.create_index(op.f("ix_ccm_month_bill_member_id"), "ccm_month_bill", ["member_id"], unique=False)
    op.create_table(
        "ccm_time_entry",
        sa.Column("ccm_time_entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("service", sa.String(length=4), nullable=False),
        sa.Column("source", sa.String(length=6), nullable=False),
        sa.Column("start_at", sa.DateTime(), nullable=False),
        sa.Column("end_at", sa.DateTime(), nullable=True),
        sa.Column("activity", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("role in ('clinical_staff','practitioner')", name=op.f("ck_ccm_time_entry_role")),
        sa.CheckConstraint("service in ('ccm','tcm')", name=op.f("ck_ccm_time_entry_service")),
        sa.CheckConstraint("source in ('timer','manual')", name=op.f("ck_ccm_time_entry_source")),
        sa.CheckConstraint("end_at is null or end_at > start_at", name=op.f("ck_ccm_time_entry_span")),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.member_id"], name=op.f("fk_ccm_time_entry_member_id_member")
        ),
        sa.PrimaryKeyConstraint("ccm_time_entry_id", name=op.f("pk_ccm_time_entry")),
        sa.UniqueConstraint("staff_id", "start_at", name="uq_ccm_time_entry_staff_start"),
    )
    op.create_index(op.f("ix_ccm_time_entry_member_id"), "ccm_time_entry", ["member_id"], unique=False)
    op.create_table(
        "tcm_case",
        sa.Column("tcm_case_id", sa.Integer(), nullable=False),
        sa.Column("encounter_key", sa.String(length=96), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("practice_npi", sa.String(length=10), nullable=True),
        sa.Column("from_setting", sa.String(length=24), nullable=False),
        sa.Column("to_setting", sa.String(length=24), nullable=False),
        sa.Column("discharge_date", sa.Date(), nullable=False),
        sa.Column("contact_due", sa.Date(), nullable=False),
        sa.Column("visit_due_by_code", sa.String(length=64), nullable=False),
        sa.Column("service_period_end", sa.Date(), nullable=False),
        sa.Column("contact_at", sa.DateTime(), nullable=True),
        sa.Column("contact_by", sa.String(length=64), nullable=True),
        sa.Column("contact_method", sa.String(length=12), nullable=True),
        sa.Column("visit_date", sa.Date(), nullable=True),
        sa.Column("visit_mdm", sa.String(length=16), nullable=True),
        sa.Column("visit_npi", sa.String(length=10), nullable=True),
        sa.Column("medication_reconciled_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("code", sa.String(length=5), nullable=True),
        sa.Column("reasons", sa.Text(), nullable=True),
        sa.Column("rule_version", sa.String(length=32), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("status in ('open','coded','not_billable')", name=op.f("ck_tcm_case_status")),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.member_id"], name=op.f("fk_tcm_case_member_id_member")
        ),
        sa.PrimaryKeyConstraint("tcm_case_id", name=op.f("pk_tcm_case")),
        sa.UniqueConstraint("encounter_key", name=op.f("uq_tcm_case_encounter_key")),
    )
    op.create_index(op.f("ix_tcm_case_member_id"), "tcm_case", ["member_id"], unique=False)
    op.create_table(
        "transition_item",
        sa.Column("transition_item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("item_key", sa.String(length=200), nullable=False),
        sa.Column("worklist_date", sa.Date(), nullable=False),
        sa.Column("audience_kind", sa.String(length=8), nullable=False),
        sa.Column("audience_npi", sa.String(length=10), nullable=False),
        sa.Column("attribution_source", sa.String(length=48), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("encounter_key", sa.String(length=96), nullable=False),
        sa.Column("event_kind", sa.String(length=12), nullable=False),
        sa.Column("event_at", sa.DateTime(), nullable=False),
        sa.Column("setting", sa.String(length=16), nullable=False),
        sa.Column("facility_npi", sa.String(length=10), nullable=True),
        sa.Column("ed_visits_60d", sa.Integer(), nullable=False),
        sa.Column("high_utilizer", sa.Boolean(), nullable=False),
        sa.Column("readmission_30d", sa.Boolean(), nullable=False),
        sa.Column("task", sa.String(length=32), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("tcm_case_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "audience_kind in ('practice','pharmacy')", name=op.f("ck_transition_item_audience_kind")
        ),
        sa.CheckConstraint(
            "event_kind in ('ed_visit','discharge')", name=op.f("ck_transition_item_event_kind")
        ),
        sa.CheckConstraint("status in ('open','done')", name=op.f("ck_transition_item_status")),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.member_id"], name=op.f("fk_transition_item_member_id_member")
        ),
        sa.ForeignKeyConstraint(
            ["tcm_case_id"], ["tcm_case.tcm_case_id"], name=op.f("fk_transition_item_tcm_case_id_tcm_case")
        ),
        sa.PrimaryKeyConstraint("transition_item_id", name=op.f("pk_transition_item")),
        sa.UniqueConstraint("item_key", name=op.f("uq_transition_item_item_key")),
    )
    op.create_index(
        "ix_transition_item_audience", "transition_item", ["worklist_date", "audience_npi"], unique=False
    )
    op.create_index(op.f("ix_transition_item_member_id"), "transition_item", ["member_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_transition_item_member_id"), table_name="transition_item")
    op.drop_index("ix_transition_item_audience", table_name="transition_item")
    op.drop_table("transition_item")
    op.drop_index(op.f("ix_tcm_case_member_id"), table_name="tcm_case")
    op.drop_table("tcm_case")
    op.drop_index(op.f("ix_ccm_time_entry_member_id"), table_name="ccm_time_entry")
    op.drop_table("ccm_time_entry")
    op.drop_index(op.f("ix_ccm_month_bill_member_id"), table_name="ccm_month_bill")
    op.drop_table("ccm_month_bill")
    op.drop_index(op.f("ix_ccm_enrollment_member_id"), table_name="ccm_enrollment")
    op.drop_table("ccm_enrollment")
    op.drop_index(op.f("ix_ccm_consent_member_id"), table_name="ccm_consent")
    op.drop_table("ccm_consent")
    op.drop_index(op.f("ix_ccm_care_plan_member_id"), table_name="ccm_care_plan")
    op.drop_table("ccm_care_plan")
