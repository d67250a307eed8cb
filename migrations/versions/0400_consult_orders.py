"""consult orders, their transition log, experts, opinions, informed consents, rapid-consult duty

Revision ID: 0400
Revises: 0302
Create Date: 2026-11-28 10:00:00

The transition log is append-only, guarded by triggers as the audit log is. The first informed
consent of 视频问诊 (version 1.0) is part of the schema; staff publish later versions.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0400"
down_revision: str | None = "0302"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIDEO_CONSENT_V1 = (
    "视频问诊由本院医生通过第三方视频服务为您提供，仅适用于在本院就诊过的复诊患者的常见病、慢性病随访，"
    "不适用于急危重症：如出现胸痛、呼吸困难、意识不清、大出血等情况，请立即拨打120或前往急诊。"
    "医生将根据视频中了解到的情况给出诊疗建议；由于无法进行体格检查，必要时医生会建议您到院就诊。"
    "视频过程中请您确保网络通畅、环境安静，并由就诊人本人或其监护人参加。"
    "为保障医疗质量与安全，问诊记录将按规定保存；视频服务商仅获得进入诊室所需的临时凭证，不获得您的身份信息。"
    "支付后医生未接诊、或因医生原因未能完成问诊的，费用将全额原路退回。"
)

SQLITE_TRIGGERS = [
    """CREATE TRIGGER consult_order_transitions_no_update BEFORE UPDATE ON consult_order_transitions
    BEGIN SELECT RAISE(ABORT, 'consult_order_transitions is append-only'); END""",
    """CREATE TRIGGER consult_order_transitions_no_delete BEFORE DELETE ON consult_order_transitions
    BEGIN SELECT RAISE(ABORT, 'consult_order_transitions is append-only'); END""",
]
POSTGRES_STATEMENTS = [
    """CREATE FUNCTION consult_order_transitions_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'consult_order_transitions is append-only';
    END $$""",
    """CREATE TRIGGER consult_order_transitions_guard BEFORE UPDATE OR DELETE ON consult_order_transitions
    FOR EACH ROW EXECUTE FUNCTION consult_order_transitions_guard()""",
    """CREATE TRIGGER consult_order_transitions_no_truncate BEFORE TRUNCATE ON consult_order_transitions
    FOR EACH STATEMENT EXECUTE FUNCTION consult_order_transitions_guard()""",
]


def upgrade() -> None:
    op.create_table(
        "rapid_duty",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("on_duty", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_rapid_duty_staff_id_staff")),
        sa.PrimaryKeyConstraint("staff_id", name=op.f("pk_rapid_duty")),
    )
    op.create_table(
        "consult_consent_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "service",
            sa.Enum(
                "FOLLOW_UP",
                "VIDEO",
                "RAPID",
                "TEAM",
                "MDT",
                name="consultservice",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=128), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff_accounts.id"], name=op.f("fk_consult_consent_documents_created_by_staff_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consult_consent_documents")),
        sa.UniqueConstraint("service", "version", name="uq_consult_consent_documents_service_version"),
    )
    op.create_table(
        "consult_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_no", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=True),
        sa.Column("consult_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("request_digest", sa.String(length=64), nullable=False),
        sa.Column(
            "service",
            sa.Enum(
                "FOLLOW_UP",
                "VIDEO",
                "RAPID",
                "TEAM",
                "MDT",
                name="consultservice",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("mdt_department_ids", sa.JSON(), nullable=False),
        sa.Column("patient_name", sa.String(length=64), nullable=False),
        sa.Column(
            "patient_gender",
            sa.Enum("MALE", "FEMALE", name="gender", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("patient_birth_date", sa.Date(), nullable=False),
        sa.Column("his_patient_id", sa.String(length=64), nullable=True),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=127), nullable=False),
        sa.Column(
            "payment_state",
            sa.Enum(
                "UNPAID",
                "PAID",
                "REFUNDING",
                "REFUNDED",
                "PARTIALLY_REFUNDED",
                "CLOSED",
                name="paymentstate",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "service_state",
            sa.Enum(
                "AWAITING_PAYMENT",
                "WAITING",
                "QUEUED",
                "SUBMITTED",
                "IN_CONSULTATION",
                "ACCEPTED",
                "CONTACTED",
                "EXPERTS_ASSIGNED",
                "SCHEDULED",
                "HELD",
                "COMPLETED",
                "CANCELLED",
                "DECLINED",
                "REJECTED",
                "EXPIRED",
                name="servicestate",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "refund_state",
            sa.Enum(
                "NONE",
                "REQUESTED",
                "PROCESSING",
                "SUCCEEDED",
                "FAILED",
                name="refundstate",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("prepay_id", sa.String(length=64), nullable=True),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.Column("pay_deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("complaint_cipher", sa.Text(), nullable=True),
        sa.Column("history_cipher", sa.Text(), nullable=True),
        sa.Column("report_ids", sa.JSON(), nullable=False),
        sa.Column("preferred_times", sa.JSON(), nullable=False),
        sa.Column("consent_version", sa.String(length=32), nullable=True),
        sa.Column("consent_accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("video_room", sa.String(length=64), nullable=True),
        sa.Column("meeting_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("coordinator_account_id", sa.Integer(), nullable=True),
        sa.Column("refund_no", sa.String(length=64), nullable=True),
        sa.Column("refund_cents", sa.Integer(), nullable=True),
        sa.Column("refund_reason", sa.String(length=80), nullable=True),
        sa.Column("refund_id", sa.String(length=64), nullable=True),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("price_cents > 0", name=op.f("ck_consult_orders_price_positive")),
        sa.CheckConstraint(
            "refund_cents IS NULL OR (refund_cents > 0 AND refund_cents <= price_cents)",
            name=op.f("ck_consult_orders_refund"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["patient_accounts.id"], name=op.f("fk_consult_orders_account_id_patient_accounts")
        ),
        sa.ForeignKeyConstraint(["consult_id"], ["consults.id"], name=op.f("fk_consult_orders_consult_id_consults")),
        sa.ForeignKeyConstraint(
            ["coordinator_account_id"],
            ["staff_accounts.id"],
            name=op.f("fk_consult_orders_coordinator_account_id_staff_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"], name=op.f("fk_consult_orders_department_id_departments")
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["patient_profiles.id"],
            name=op.f("fk_consult_orders_profile_id_patient_profiles"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_consult_orders_staff_id_staff")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_consult_orders_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consult_orders")),
        sa.UniqueConstraint("account_id", "idempotency_key", name="uq_consult_orders_account_key"),
        sa.UniqueConstraint("consult_id", name=op.f("uq_consult_orders_consult_id")),
        sa.UniqueConstraint("order_no", name=op.f("uq_consult_orders_order_no")),
        sa.UniqueConstraint("refund_no", name=op.f("uq_consult_orders_refund_no")),
        sa.UniqueConstraint("video_room", name=op.f("uq_consult_orders_video_room")),
    )
    with op.batch_alter_table("consult_orders", schema=None) as batch_op:
        batch_op.create_index("ix_consult_orders_account", ["account_id", "id"], unique=False)
        batch_op.create_index("ix_consult_orders_queue", ["service", "service_state", "paid_at"], unique=False)
        batch_op.create_index("ix_consult_orders_refund", ["refund_state", "updated_at"], unique=False)
        batch_op.create_index("ix_consult_orders_staff", ["staff_id", "id"], unique=False)
        batch_op.create_index("ix_consult_orders_unpaid", ["payment_state", "pay_deadline"], unique=False)
        batch_op.create_index("ix_consult_orders_waiting", ["service_state", "response_deadline"], unique=False)

    op.create_table(
        "consult_opinions",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("body_cipher", sa.Text(), nullable=False),
        sa.Column("author_staff_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_staff_id"], ["staff.id"], name=op.f("fk_consult_opinions_author_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["consult_orders.id"], name=op.f("fk_consult_opinions_order_id_consult_orders")
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_consult_opinions")),
    )
    op.create_table(
        "consult_order_experts",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["consult_orders.id"], name=op.f("fk_consult_order_experts_order_id_consult_orders")
        ),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_consult_order_experts_staff_id_staff")),
        sa.PrimaryKeyConstraint("order_id", "staff_id", name=op.f("pk_consult_order_experts")),
    )
    with op.batch_alter_table("consult_order_experts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consult_order_experts_staff_id"), ["staff_id"], unique=False)

    op.create_table(
        "consult_order_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column(
            "field",
            sa.Enum(
                "PAYMENT", "SERVICE", "REFUND", name="statefield", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column("from_state", sa.String(length=32), nullable=True),
        sa.Column("to_state", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["consult_orders.id"], name=op.f("fk_consult_order_transitions_order_id_consult_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consult_order_transitions")),
    )
    with op.batch_alter_table("consult_order_transitions", schema=None) as batch_op:
        batch_op.create_index("ix_consult_order_transitions_order", ["order_id", "id"], unique=False)

    statements = SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else POSTGRES_STATEMENTS
    for statement in statements:
        op.execute(statement)

    documents = sa.table(
        "consult_consent_documents",
        sa.column("service", sa.String),
        sa.column("version", sa.String),
        sa.column("title", sa.String),
        sa.column("body", sa.Text),
        sa.column("effective_at", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(
        documents,
        [
            {
                "service": "VIDEO",
                "version": "1.0",
                "title": "视频问诊知情同意书",
                "body": VIDEO_CONSENT_V1,
                "effective_at": datetime(2026, 11, 1, tzinfo=UTC),
            }
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("consult_order_transitions", schema=None) as batch_op:
        batch_op.drop_index("ix_consult_order_transitions_order")

    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE consult_order_transitions")
        op.execute("DROP FUNCTION consult_order_transitions_guard()")
    else:
        op.drop_table("consult_order_transitions")
    with op.batch_alter_table("consult_order_experts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consult_order_experts_staff_id"))

    op.drop_table("consult_order_experts")
    op.drop_table("consult_opinions")
    with op.batch_alter_table("consult_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_consult_orders_waiting")
        batch_op.drop_index("ix_consult_orders_unpaid")
        batch_op.drop_index("ix_consult_orders_staff")
        batch_op.drop_index("ix_consult_orders_refund")
        batch_op.drop_index("ix_consult_orders_queue")
        batch_op.drop_index("ix_consult_orders_account")

    op.drop_table("consult_orders")
    op.drop_table("consult_consent_documents")
    op.drop_table("rapid_duty")
