"""e-banners and thank-you letters, consults tied to patient accounts

Revision ID: 0302
Revises: 0301
Create Date: 2026-12-01 11:00:00

consults.account_id ties a consult to the mini-program account that ordered it (demo consults have
none). appreciations holds the e-banners (电子锦旗) and thank-you letters (感谢信) patients write for
the staff member or team of a completed consult of theirs, with their moderation state.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0302"
down_revision: str | None = "0301"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    with op.batch_alter_table("consults", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_consults_account_id"), ["account_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_consults_account_id_patient_accounts"), "patient_accounts", ["account_id"], ["id"]
        )

    op.create_table(
        "appreciations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("appreciationkind", "BANNER", "LETTER"), nullable=False),
        sa.Column("consult_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("design", _enum("bannerdesign", "CLASSIC_RED", "GOLDEN", "JADE", "PEONY"), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("status", _enum("appreciationstatus", "PENDING", "PUBLISHED", "REJECTED"), nullable=False),
        sa.Column("reject_reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("moderated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("moderated_by", sa.Integer(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("(staff_id IS NULL) <> (team_id IS NULL)", name=op.f("ck_appreciations_one_recipient")),
        sa.CheckConstraint("(kind = 'BANNER') = (design IS NOT NULL)", name=op.f("ck_appreciations_banner_has_design")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["patient_accounts.id"], name=op.f("fk_appreciations_account_id_patient_accounts")
        ),
        sa.ForeignKeyConstraint(["consult_id"], ["consults.id"], name=op.f("fk_appreciations_consult_id_consults")),
        sa.ForeignKeyConstraint(
            ["moderated_by"], ["staff_accounts.id"], name=op.f("fk_appreciations_moderated_by_staff_accounts")
        ),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_appreciations_staff_id_staff")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_appreciations_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appreciations")),
        sa.UniqueConstraint("consult_id", "kind", name="uq_appreciations_consult_kind"),
    )
    with op.batch_alter_table("appreciations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_appreciations_account_id"), ["account_id"], unique=False)
        batch_op.create_index("ix_appreciations_staff_published", ["staff_id", "status", "published_at"])
        batch_op.create_index("ix_appreciations_team_published", ["team_id", "status", "published_at"])
        batch_op.create_index("ix_appreciations_status_created", ["status", "created_at"])


def downgrade() -> None:
    op.drop_table("appreciations")
    with op.batch_alter_table("consults", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_consults_account_id_patient_accounts"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_consults_account_id"))
        batch_op.drop_column("account_id")
