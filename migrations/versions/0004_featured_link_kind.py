"""featured department link kind

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 09:00:00

A featured department's link override (link_target) gets its own kind: an https address
overriding a mini-program page must open in a web-view. Existing overrides get the kind their
target shows; rows without an override keep NULL (the department's own link and kind).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    with op.batch_alter_table("featured_departments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "link_kind",
                sa.Enum(
                    "MINI_PROGRAM_PAGE",
                    "WEB_PAGE",
                    name="linkkind",
                    native_enum=False,
                    create_constraint=True,
                    length=32,
                ),
                nullable=True,
            )
        )
    op.execute(
        "UPDATE featured_departments SET link_kind = CASE "
        "WHEN substr(link_target, 1, 8) = 'https://' OR substr(link_target, 1, 7) = 'http://' THEN 'WEB_PAGE' "
        "ELSE 'MINI_PROGRAM_PAGE' END "
        "WHERE link_target IS NOT NULL AND link_target <> ''"
    )


def downgrade() -> None:

    with op.batch_alter_table("featured_departments", schema=None) as batch_op:
        # SQLite's batch mode copies the table with its CHECK constraints: this one must go first.
        batch_op.drop_constraint(op.f("ck_featured_departments_linkkind"), type_="check")
        batch_op.drop_column("link_kind")
