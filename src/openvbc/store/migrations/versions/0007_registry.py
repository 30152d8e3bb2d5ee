"""longitudinal registry: PROM responses and spine episodes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25

``prom_response`` keeps each patient-reported outcome administration (ODI, NPRS) with its answers
and the score computed from the instrument's rule file; ``spine_episode`` keeps the low back pain
episodes derived from diagnoses with their MCID outcome status. Tables match
``openvbc.store.tables`` (documented in docs/data-model.md).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _member_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["member_id"], ["member.member_id"], name=op.f(f"fk_{table}_member_id_member")
    )


def upgrade() -> None:
    op.create_table(
        "prom_response",
        sa.Column("prom_response_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("instrument", sa.String(length=16), nullable=False),
        sa.Column("instrument_version", sa.String(length=16), nullable=False),
        sa.Column("administered_on", sa.Date(), nullable=False),
        sa.Column("answers", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("answered_items", sa.Integer(), nullable=False),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("clinician_npi", sa.String(length=10), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        _member_fk("prom_response"),
        sa.PrimaryKeyConstraint("prom_response_id", name=op.f("pk_prom_response")),
        sa.UniqueConstraint("member_id", "instrument", "administered_on", name="uq_prom_response_member_day"),
    )
    op.create_index(op.f("ix_prom_response_member_id"), "prom_response", ["member_id"])
    op.create_table(
        "spine_episode",
        sa.Column("spine_episode_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("index_code", sa.String(length=8), nullable=False),
        sa.Column("diagnoses", sa.Integer(), nullable=False),
        sa.Column("outcome_status", sa.String(length=16), nullable=False),
        sa.Column("outcome_detail", sa.Text(), nullable=True),
        sa.Column("rule_version", sa.String(length=64), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        _member_fk("spine_episode"),
        sa.PrimaryKeyConstraint("spine_episode_id", name=op.f("pk_spine_episode")),
        sa.UniqueConstraint("member_id", "start_date", name="uq_spine_episode_member_start"),
    )
    op.create_index(op.f("ix_spine_episode_member_id"), "spine_episode", ["member_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_spine_episode_member_id"), table_name="spine_episode")
    op.drop_table("spine_episode")
    op.drop_index(op.f("ix_prom_response_member_id"), table_name="prom_response")
    op.drop_table("prom_response")
