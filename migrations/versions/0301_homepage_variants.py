"""featured departments and entries per homepage variant

Revision ID: 0301
Revises: 0300
Create Date: 2026-12-01 10:00:00

Featured departments and homepage entries get a variant (STANDARD or ELDER, 长辈版) like the theme
and the layout, so the elder homepage can show fewer, larger cards. Existing rows become STANDARD
and are copied to ELDER, so the elder homepage shows what it showed before until an editor changes it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0301"
down_revision: str | None = "0300"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _variant() -> sa.Column[str]:
    return sa.Column(
        "variant",
        sa.Enum("STANDARD", "ELDER", name="layoutvariant", native_enum=False, create_constraint=True, length=32),
        server_default="STANDARD",
        nullable=False,
    )


def upgrade() -> None:
    with op.batch_alter_table("featured_departments", schema=None) as batch_op:
        batch_op.add_column(_variant())
        batch_op.drop_constraint("uq_featured_departments_department_id", type_="unique")
        batch_op.create_unique_constraint("uq_featured_departments_variant_department", ["variant", "department_id"])
    with op.batch_alter_table("homepage_entries", schema=None) as batch_op:
        batch_op.add_column(_variant())
        batch_op.drop_constraint("uq_homepage_entries_kind", type_="unique")
        batch_op.create_unique_constraint("uq_homepage_entries_variant_kind", ["variant", "kind"])
    op.execute(
        "INSERT INTO featured_departments (variant, department_id, position, image_url, blurb, link_target, "
        "link_kind) SELECT 'ELDER', department_id, position, image_url, blurb, link_target, link_kind "
        "FROM featured_departments WHERE variant = 'STANDARD'"
    )
    op.execute(
        "INSERT INTO homepage_entries (variant, kind, title, icon_url, link_kind, target, visible, position) "
        "SELECT 'ELDER', kind, title, icon_url, link_kind, target, visible, position "
        "FROM homepage_entries WHERE variant = 'STANDARD'"
    )


def downgrade() -> None:
    op.execute("DELETE FROM featured_departments WHERE variant <> 'STANDARD'")
    op.execute("DELETE FROM homepage_entries WHERE variant <> 'STANDARD'")
    with op.batch_alter_table("homepage_entries", schema=None) as batch_op:
        batch_op.drop_constraint("uq_homepage_entries_variant_kind", type_="unique")
        batch_op.drop_constraint(op.f("ck_homepage_entries_layoutvariant"), type_="check")
        batch_op.drop_column("variant")
        batch_op.create_unique_constraint("uq_homepage_entries_kind", ["kind"])
    with op.batch_alter_table("featured_departments", schema=None) as batch_op:
        batch_op.drop_constraint("uq_featured_departments_variant_department", type_="unique")
        batch_op.drop_constraint(op.f("ck_featured_departments_layoutvariant"), type_="check")
        batch_op.drop_column("variant")
        batch_op.create_unique_constraint("uq_featured_departments_department_id", ["department_id"])
