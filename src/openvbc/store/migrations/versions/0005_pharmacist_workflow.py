"""pharmacist workflow: MTM documentation, care plans, med sync

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24

MTM documentation detail (reconciled medications, drug therapy problems with SNOMED CT code and
free text, goals, interventions, outcomes) hangs off ``mtm_encounter``; ``care_plan`` keeps each
Pharmacist eCare Plan authored here or imported (C-CDA / FHIR PhCP) as the model's JSON.
Tables match ``openvbc.store.tables`` (documented in docs/data-model.md).
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_DETAIL_TABLES = ("mtm_outcome", "mtm_intervention", "mtm_goal", "mtm_problem", "mtm_medication")


def _encounter_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["mtm_encounter_id"],
        ["mtm_encounter.mtm_encounter_id"],
        name=op.f(f"fk_{table}_mtm_encounter_id_mtm_encounter"),
    )


def upgrade() -> None:
    op.create_table(
        "mtm_medication",
        sa.Column("mtm_medication_id", sa.Integer(), nullable=False),
        sa.Column("mtm_encounter_id", sa.Integer(), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("code_system", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sig", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.CheckConstraint(
            "status in ('continued','new','changed','stopped')", name=op.f("ck_mtm_medication_status")
        ),
        _encounter_fk("mtm_medication"),
        sa.PrimaryKeyConstraint("mtm_medication_id", name=op.f("pk_mtm_medication")),
        sa.UniqueConstraint("mtm_encounter_id", "line_number", name="uq_mtm_medication_line"),
    )
    op.create_table(
        "mtm_problem",
        sa.Column("mtm_problem_id", sa.Integer(), nullable=False),
        sa.Column("mtm_encounter_id", sa.Integer(), nullable=False),
        sa.Column("problem_key", sa.String(length=64), nullable=False),
        sa.Column("code_system", sa.String(length=16), nullable=True),
        sa.Column("code", sa.String(length=20), nullable=True),
        sa.Column("free_text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("medication_line", sa.Integer(), nullable=True),
        sa.CheckConstraint("status in ('active','resolved')", name=op.f("ck_mtm_problem_status")),
        _encounter_fk("mtm_problem"),
        sa.PrimaryKeyConstraint("mtm_problem_id", name=op.f("pk_mtm_problem")),
        sa.UniqueConstraint("mtm_encounter_id", "problem_key", name="uq_mtm_problem_key"),
    )
    op.create_table(
        "mtm_goal",
        sa.Column("mtm_goal_id", sa.Integer(), nullable=False),
        sa.Column("mtm_encounter_id", sa.Integer(), nullable=False),
        sa.Column("goal_key", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("code_system", sa.String(length=16), nullable=True),
        sa.Column("code", sa.String(length=20), nullable=True),
        sa.Column("target_date", sa.Date(), nullable=True),
        sa.Column("problem_key", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.CheckConstraint("status in ('active','achieved','cancelled')", name=op.f("ck_mtm_goal_status")),
        _encounter_fk("mtm_goal"),
        sa.PrimaryKeyConstraint("mtm_goal_id", name=op.f("pk_mtm_goal")),
        sa.UniqueConstraint("mtm_encounter_id", "goal_key", name="uq_mtm_goal_key"),
    )
    op.create_table(
        "mtm_intervention",
        sa.Column("mtm_intervention_id", sa.Integer(), nullable=False),
        sa.Column("mtm_encounter_id", sa.Integer(), nullable=False),
        sa.Column("intervention_key", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("code_system", sa.String(length=16), nullable=True),
        sa.Column("code", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("performed_on", sa.Date(), nullable=True),
        sa.Column("problem_key", sa.String(length=64), nullable=True),
        sa.CheckConstraint("status in ('completed','planned')", name=op.f("ck_mtm_intervention_status")),
        _encounter_fk("mtm_intervention"),
        sa.PrimaryKeyConstraint("mtm_intervention_id", name=op.f("pk_mtm_intervention")),
        sa.UniqueConstraint("mtm_encounter_id", "intervention_key", name="uq_mtm_intervention_key"),
    )
    op.create_table(
        "mtm_outcome",
        sa.Column("mtm_outcome_id", sa.Integer(), nullable=False),
        sa.Column("mtm_encounter_id", sa.Integer(), nullable=False),
        sa.Column("outcome_key", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("value_text", sa.String(length=200), nullable=True),
        sa.Column("observed_on", sa.Date(), nullable=True),
        sa.Column("goal_key", sa.String(length=64), nullable=True),
        _encounter_fk("mtm_outcome"),
        sa.PrimaryKeyConstraint("mtm_outcome_id", name=op.f("pk_mtm_outcome")),
        sa.UniqueConstraint("mtm_encounter_id", "outcome_key", name="uq_mtm_outcome_key"),
    )
    for table in _DETAIL_TABLES:
        op.create_index(op.f(f"ix_{table}_mtm_encounter_id"), table, ["mtm_encounter_id"], unique=False)
    op.create_table(
        "care_plan",
        sa.Column("care_plan_id", sa.Integer(), nullable=False),
        sa.Column("care_plan_key", sa.String(length=96), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("mtm_encounter_id", sa.Integer(), nullable=True),
        sa.Column("origin", sa.String(length=8), nullable=False),
        sa.Column("pharmacy_npi", sa.String(length=10), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("stored_at", sa.DateTime(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.CheckConstraint("origin in ('authored','cda','fhir')", name=op.f("ck_care_plan_origin")),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.member_id"], name=op.f("fk_care_plan_member_id_member")
        ),
        _encounter_fk("care_plan"),
        sa.PrimaryKeyConstraint("care_plan_id", name=op.f("pk_care_plan")),
        sa.UniqueConstraint("care_plan_key", name=op.f("uq_care_plan_care_plan_key")),
    )
    op.create_index(op.f("ix_care_plan_member_id"), "care_plan", ["member_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_care_plan_member_id"), table_name="care_plan")
    op.drop_table("care_plan")
    for table in _DETAIL_TABLES:
        op.drop_index(op.f(f"ix_{table}_mtm_encounter_id"), table_name=table)
        op.drop_table(table)
