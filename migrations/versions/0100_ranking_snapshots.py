"""ranking snapshots, and indexes on the consults' paid and completed times for the boards

Revision ID: 0100
Revises: 0004
Create Date: 2026-11-27 20:10:58.843415
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0100"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BOARDS = ("GOLD_DEPARTMENTS", "GOLD_STAFF", "DOCTOR_POPULARITY", "FASTEST_GROWTH", "BEST_TEAM", "DEPARTMENT_POPULARITY")


def upgrade() -> None:
    op.create_table(
        "ranking_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "board",
            sa.Enum(*BOARDS, name="rankingboard", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("period_key", sa.String(length=16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("compare_starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("compare_ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ranking_snapshots")),
        sa.UniqueConstraint("board", "period_key", name="uq_ranking_snapshots_board_period"),
    )
    op.create_table(
        "ranking_entries",
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.SmallInteger(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["ranking_snapshots.id"],
            name=op.f("fk_ranking_entries_snapshot_id_ranking_snapshots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("snapshot_id", "rank", name=op.f("pk_ranking_entries")),
    )
    with op.batch_alter_table("consults", schema=None) as batch_op:
        batch_op.create_index("ix_consults_paid_at", ["paid_at"], unique=False)
        batch_op.create_index("ix_consults_completed_at", ["completed_at"], unique=False)
        batch_op.create_index("ix_consults_team_paid", ["team_id", "paid_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("consults", schema=None) as batch_op:
        batch_op.drop_index("ix_consults_team_paid")
        batch_op.drop_index("ix_consults_completed_at")
        batch_op.drop_index("ix_consults_paid_at")
    op.drop_table("ranking_entries")
    op.drop_table("ranking_snapshots")
