"""identity accounts profiles consents

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 19:53:58.387770
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HEALTH_DATA_CONSENT_V1 = (
    "为了为您（或您代为管理的就诊人）提供在线复诊、检验检查报告查询、健康档案等服务，"
    "本院需要处理就诊人的健康医疗信息，这属于《个人信息保护法》规定的敏感个人信息。"
    "我们仅为上述目的、在必要范围内处理这些信息，采取加密存储、访问控制和操作审计等措施保护信息安全，"
    "不会向无关第三方提供。您可以随时在“就诊人管理”中撤回同意，撤回后我们将停止处理相关健康信息，"
    "但不影响撤回前基于同意已进行的处理。就诊人不满十四周岁的，应由其父母或其他监护人同意。"
)


def upgrade() -> None:

    op.create_table(
        "consent_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("HEALTH_DATA", name="consentkind", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=128), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_documents")),
        sa.UniqueConstraint("kind", "version", name="uq_consent_documents_kind_version"),
    )
    op.create_table(
        "patient_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("unionid", sa.String(length=64), nullable=True),
        sa.Column("default_profile_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_accounts")),
        sa.UniqueConstraint("openid", name=op.f("uq_patient_accounts_openid")),
    )
    op.create_table(
        "patient_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column(
            "gender",
            sa.Enum("MALE", "FEMALE", name="gender", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column(
            "relation",
            sa.Enum(
                "SELF",
                "PARENT",
                "CHILD",
                "SPOUSE",
                "OTHER",
                name="profilerelation",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("id_number_cipher", sa.Text(), nullable=False),
        sa.Column("id_number_digest", sa.String(length=64), nullable=False),
        sa.Column("id_number_masked", sa.String(length=32), nullable=False),
        sa.Column("mobile_cipher", sa.Text(), nullable=False),
        sa.Column("mobile_masked", sa.String(length=16), nullable=False),
        sa.Column("his_patient_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["patient_accounts.id"],
            name=op.f("fk_patient_profiles_account_id_patient_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_profiles")),
        sa.UniqueConstraint("account_id", "id_number_digest", name="uq_patient_profiles_account_person"),
    )
    with op.batch_alter_table("patient_profiles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patient_profiles_account_id"), ["account_id"], unique=False)

    op.create_table(
        "profile_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("HEALTH_DATA", name="consentkind", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column(
            "given_by",
            sa.Enum("SELF", "GUARDIAN", name="consentgiver", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("guardian_name", sa.String(length=64), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["patient_profiles.id"],
            name=op.f("fk_profile_consents_profile_id_patient_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_consents")),
    )
    with op.batch_alter_table("profile_consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_profile_consents_profile_id"), ["profile_id"], unique=False)

    op.create_table(
        "staff_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("totp_secret_cipher", sa.Text(), nullable=False),
        sa.Column("last_totp_step", sa.Integer(), nullable=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_staff_accounts_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_accounts")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_accounts_username")),
    )

    # The first health-data consent text: every profile must accept a version before its health
    # data is processed. Later versions are added by staff; patients then accept again.
    documents = sa.table(
        "consent_documents",
        sa.column("kind", sa.String),
        sa.column("version", sa.String),
        sa.column("title", sa.String),
        sa.column("body", sa.Text),
        sa.column("effective_at", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(
        documents,
        [
            {
                "kind": "HEALTH_DATA",
                "version": "1.0",
                "title": "个人健康信息处理同意书",
                "body": HEALTH_DATA_CONSENT_V1,
                "effective_at": datetime(2026, 11, 1, tzinfo=UTC),
            }
        ],
    )


def downgrade() -> None:

    op.drop_table("staff_accounts")
    with op.batch_alter_table("profile_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_profile_consents_profile_id"))

    op.drop_table("profile_consents")
    with op.batch_alter_table("patient_profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_profiles_account_id"))

    op.drop_table("patient_profiles")
    op.drop_table("patient_accounts")
    op.drop_table("consent_documents")
