"""identity and audit: users, sessions, API clients, SMART tokens, hash-chained audit, idempotency

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

GENESIS_SHA256 = "0" * 64

# The audit log must not be changeable by the application (ONC 170.315(d)(2)): the store
# itself refuses UPDATE and DELETE on audit_event. An out-of-band edit (dropping the trigger
# first) is still caught by `openvbc audit verify` through the hash chain.
SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
)
POSTGRES_TRIGGERS = (
    "CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit_event is append-only'; END $$",
    "CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event "
    "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
    "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()",
)


def upgrade() -> None:
    op.create_table(
        "api_client",
        sa.Column("api_client_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("auth_kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("org_kind", sa.String(length=16), nullable=False),
        sa.Column("org_npi", sa.String(length=10), nullable=True),
        sa.Column("key_sha256", sa.String(length=64), nullable=True),
        sa.Column("public_key_pem", sa.Text(), nullable=True),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("auth_kind in ('api_key','smart')", name=op.f("ck_api_client_auth_kind")),
        sa.CheckConstraint("org_kind in ('plan','pharmacy','practice')", name=op.f("ck_api_client_org_kind")),
        sa.PrimaryKeyConstraint("api_client_id", name=op.f("pk_api_client")),
        sa.UniqueConstraint("client_id", name=op.f("uq_api_client_client_id")),
        sa.UniqueConstraint("key_sha256", name=op.f("uq_api_client_key_sha256")),
    )
    op.create_table(
        "api_idempotency",
        sa.Column("api_idempotency_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("resource_id", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("api_idempotency_id", name=op.f("pk_api_idempotency")),
        sa.UniqueConstraint("actor_id", "idempotency_key", name="uq_api_idempotency_actor_key"),
    )
    op.create_table(
        "app_user",
        sa.Column("app_user_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("org_kind", sa.String(length=16), nullable=False),
        sa.Column("org_npi", sa.String(length=10), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("org_kind in ('plan','pharmacy','practice')", name=op.f("ck_app_user_org_kind")),
        sa.PrimaryKeyConstraint("app_user_id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
    )
    op.create_table(
        "audit_event",
        sa.Column("audit_event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("actor_kind", sa.String(length=8), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=True),
        sa.Column("org_npi", sa.String(length=10), nullable=True),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("resource_id", sa.String(length=200), nullable=True),
        sa.Column("member_keys", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("source_ip", sa.String(length=64), nullable=True),
        sa.Column("prev_sha256", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.CheckConstraint("outcome in ('success','failure','denied')", name=op.f("ck_audit_event_outcome")),
        sa.PrimaryKeyConstraint("audit_event_id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_recorded_at", ["recorded_at"], unique=False)

    op.create_table(
        "audit_head",
        sa.Column("audit_head_id", sa.Integer(), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("last_sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("audit_head_id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "bulk_export_job",
        sa.Column("bulk_export_job_id", sa.String(length=36), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("org_npi", sa.String(length=10), nullable=True),
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("resource_types", sa.String(length=200), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("manifest", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status in ('accepted','in-progress','completed','failed')",
            name=op.f("ck_bulk_export_job_status"),
        ),
        sa.PrimaryKeyConstraint("bulk_export_job_id", name=op.f("pk_bulk_export_job")),
    )
    op.create_table(
        "access_token",
        sa.Column("access_token_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("api_client_id", sa.Integer(), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_client_id"],
            ["api_client.api_client_id"],
            name=op.f("fk_access_token_api_client_id_api_client"),
        ),
        sa.PrimaryKeyConstraint("access_token_id", name=op.f("pk_access_token")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_access_token_token_sha256")),
    )
    with op.batch_alter_table("access_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_token_api_client_id"), ["api_client_id"], unique=False)

    op.create_table(
        "app_session",
        sa.Column("app_session_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("app_user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("mfa_passed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_user_id"], ["app_user.app_user_id"], name=op.f("fk_app_session_app_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("app_session_id", name=op.f("pk_app_session")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_app_session_token_sha256")),
    )
    with op.batch_alter_table("app_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_app_session_app_user_id"), ["app_user_id"], unique=False)

    op.create_table(
        "client_assertion",
        sa.Column("client_assertion_id", sa.Integer(), nullable=False),
        sa.Column("api_client_id", sa.Integer(), nullable=False),
        sa.Column("jti", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_client_id"],
            ["api_client.api_client_id"],
            name=op.f("fk_client_assertion_api_client_id_api_client"),
        ),
        sa.PrimaryKeyConstraint("client_assertion_id", name=op.f("pk_client_assertion")),
        sa.UniqueConstraint("api_client_id", "jti", name="uq_client_assertion_client_jti"),
    )
    with op.batch_alter_table("attribution_snapshot", schema=None) as batch_op:
        batch_op.create_index(
            "ix_attribution_snapshot_provider", ["provider_npi", "provider_kind"], unique=False
        )

    op.create_index("ix_fill_pharmacy_npi", "fill", ["pharmacy_npi"])
    op.create_index("ix_member_pcp_npi", "member", ["pcp_npi"])

    audit_head = sa.table(
        "audit_head",
        sa.column("audit_head_id", sa.Integer),
        sa.column("last_event_id", sa.BigInteger),
        sa.column("last_sha256", sa.String),
    )
    op.bulk_insert(audit_head, [{"audit_head_id": 1, "last_event_id": 0, "last_sha256": GENESIS_SHA256}])
    dialect = op.get_bind().dialect.name
    for statement in (
        SQLITE_TRIGGERS if dialect == "sqlite" else POSTGRES_TRIGGERS if dialect == "postgresql" else ()
    ):
        op.execute(statement)


def downgrade() -> None:
    op.drop_index("ix_member_pcp_npi", table_name="member")
    op.drop_index("ix_fill_pharmacy_npi", table_name="fill")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_change ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
    with op.batch_alter_table("attribution_snapshot", schema=None) as batch_op:
        batch_op.drop_index("ix_attribution_snapshot_provider")

    op.drop_table("client_assertion")
    with op.batch_alter_table("app_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_session_app_user_id"))

    op.drop_table("app_session")
    with op.batch_alter_table("access_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_token_api_client_id"))

    op.drop_table("access_token")
    op.drop_table("bulk_export_job")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_recorded_at")

    op.drop_table("audit_event")
    op.drop_table("app_user")
    op.drop_table("api_idempotency")
    op.drop_table("api_client")
