"""program year: attribution snapshots and outreach attempts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attribution_snapshot",
        sa.Column(
            "attribution_snapshot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("program_year", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("provider_kind", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("provider_npi", sa.String(length=10), nullable=True),
        sa.Column("share", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rule_version", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.member_id"], name=op.f("fk_attribution_snapshot_member_id_member")
        ),
        sa.PrimaryKeyConstraint("attribution_snapshot_id", name=op.f("pk_attribution_snapshot")),
        sa.UniqueConstraint(
            "program_id",
            "program_year",
            "as_of",
            "member_id",
            "provider_kind",
            "method",
            name="uq_attribution_snapshot_member",
        ),
    )
    op.create_index(
        op.f("ix_attribution_snapshot_member_id"), "attribution_snapshot", ["member_id"], unique=False
    )
    op.create_table(
        "outreach_attempt",
        sa.Column("outreach_attempt_id", sa.Integer(), nullable=False),
        sa.Column("attempt_key", sa.String(length=96), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("pharmacy_npi", sa.String(length=10), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=True),
        sa.Column("attempted_at", sa.DateTime(), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("gap", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "channel in ('phone','sms','mail','in_person','portal')", name=op.f("ck_outreach_attempt_channel")
        ),
        sa.CheckConstraint(
            "outcome in ('reached','scheduled','left_message','no_answer','declined','wrong_number')",
            name=op.f("ck_outreach_attempt_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.member_id"], name=op.f("fk_outreach_attempt_member_id_member")
        ),
        sa.PrimaryKeyConstraint("outreach_attempt_id", name=op.f("pk_outreach_attempt")),
        sa.UniqueConstraint("attempt_key", name=op.f("uq_outreach_attempt_attempt_key")),
    )
    op.create_index(op.f("ix_outreach_attempt_member_id"), "outreach_attempt", ["member_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_outreach_attempt_member_id"), table_name="outreach_attempt")
    op.drop_table("outreach_attempt")
    op.drop_index(op.f("ix_attribution_snapshot_member_id"), table_name="attribution_snapshot")
    op.drop_table("attribution_snapshot")
