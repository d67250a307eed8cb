"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 19:41:01.279845
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "app_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_app_meta")),
    )
    op.create_table(
        "consult_service_entries",
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
        sa.Column("title", sa.String(length=32), nullable=False),
        sa.Column("subtitle", sa.String(length=128), nullable=False),
        sa.Column("entry_text", sa.Text(), nullable=False),
        sa.Column("requirements", sa.JSON(), nullable=False),
        sa.Column("icon_url", sa.String(length=512), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("service", name=op.f("pk_consult_service_entries")),
    )
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("location", sa.String(length=128), nullable=False),
        sa.Column(
            "registration_kind",
            sa.Enum(
                "MINI_PROGRAM_PAGE",
                "WEB_PAGE",
                name="linkkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("registration_target", sa.String(length=512), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("code", name=op.f("uq_departments_code")),
    )
    op.create_table(
        "homepage_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "POINTS_MALL",
                "BUSINESS_EXPANSION",
                "MY_BENEFITS",
                name="entrykind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=32), nullable=False),
        sa.Column("icon_url", sa.String(length=512), nullable=False),
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
            nullable=False,
        ),
        sa.Column("target", sa.String(length=512), nullable=False),
        sa.Column("visible", sa.Boolean(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_homepage_entries")),
        sa.UniqueConstraint("kind", name=op.f("uq_homepage_entries_kind")),
    )
    op.create_table(
        "layout_modules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "variant",
            sa.Enum(
                "STANDARD",
                "ELDER",
                name="layoutvariant",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "module",
            sa.Enum(
                "CONSULT_ZONE",
                "FEATURED_DEPARTMENTS",
                "RANKINGS",
                "PATIENT_SERVICES",
                "ENTRIES",
                "ARTICLES",
                name="homepagemodule",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("visible", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_layout_modules")),
        sa.UniqueConstraint("variant", "module", name="uq_layout_modules_variant_module"),
    )
    op.create_table(
        "layout_settings",
        sa.Column(
            "variant",
            sa.Enum(
                "STANDARD",
                "ELDER",
                name="layoutvariant",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("compact", sa.Boolean(), nullable=False),
        sa.Column("font_scale", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("variant", name=op.f("pk_layout_settings")),
    )
    op.create_table(
        "theme_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "variant",
            sa.Enum(
                "STANDARD",
                "ELDER",
                name="layoutvariant",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_theme_tokens")),
        sa.UniqueConstraint("variant", "name", name="uq_theme_tokens_variant_name"),
    )
    op.create_table(
        "articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "SCIENCE",
                "NEWS",
                "HOSPITAL_NEWS",
                name="articlecategory",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=128), nullable=False),
        sa.Column("summary", sa.String(length=512), nullable=False),
        sa.Column("cover_url", sa.String(length=512), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "DRAFT",
                "PUBLISHED",
                "ARCHIVED",
                name="articlestatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"], name=op.f("fk_articles_department_id_departments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_articles")),
    )
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.create_index("ix_articles_category_published", ["category", "status", "published_at"], unique=False)

    op.create_table(
        "featured_departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("image_url", sa.String(length=512), nullable=False),
        sa.Column("blurb", sa.String(length=256), nullable=False),
        sa.Column("link_target", sa.String(length=512), nullable=True),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_featured_departments_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_featured_departments")),
        sa.UniqueConstraint("department_id", name=op.f("uq_featured_departments_department_id")),
    )
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "DOCTOR",
                "NURSE",
                "PHARMACIST",
                name="staffrole",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=64), nullable=False),
        sa.Column("specialties", sa.JSON(), nullable=False),
        sa.Column("photo_url", sa.String(length=512), nullable=False),
        sa.Column("introduction", sa.Text(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "registration_kind",
            sa.Enum(
                "MINI_PROGRAM_PAGE",
                "WEB_PAGE",
                name="linkkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("registration_target", sa.String(length=512), nullable=False),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"], name=op.f("fk_staff_department_id_departments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
        sa.UniqueConstraint("code", name=op.f("uq_staff_code")),
    )
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_department_id"), ["department_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_staff_role"), ["role"], unique=False)

    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("leader_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"], name=op.f("fk_teams_department_id_departments")),
        sa.ForeignKeyConstraint(["leader_id"], ["staff.id"], name=op.f("fk_teams_leader_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("name", name=op.f("uq_teams_name")),
    )
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_teams_department_id"), ["department_id"], unique=False)

    op.create_table(
        "consults",
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
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "CREATED",
                "PAID",
                "IN_PROGRESS",
                "COMPLETED",
                "CANCELLED",
                "REFUNDED",
                name="consultstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("review", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("rating IS NULL OR (rating BETWEEN 1 AND 5)", name=op.f("ck_consults_rating_range")),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"], name=op.f("fk_consults_department_id_departments")
        ),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_consults_staff_id_staff")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_consults_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consults")),
    )
    with op.batch_alter_table("consults", schema=None) as batch_op:
        batch_op.create_index("ix_consults_department_completed", ["department_id", "completed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_consults_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index("ix_consults_staff_response", ["staff_id", "first_response_at"], unique=False)
        batch_op.create_index("ix_consults_team_completed", ["team_id", "completed_at"], unique=False)

    op.create_table(
        "service_offerings",
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
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("(staff_id IS NULL) <> (team_id IS NULL)", name=op.f("ck_service_offerings_one_provider")),
        sa.CheckConstraint("price_cents >= 0", name=op.f("ck_service_offerings_price_not_negative")),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_service_offerings_staff_id_staff")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_service_offerings_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_offerings")),
        sa.UniqueConstraint("service", "staff_id", "team_id", name="uq_service_offerings_provider"),
    )
    with op.batch_alter_table("service_offerings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_service_offerings_service"), ["service"], unique=False)
        batch_op.create_index(batch_op.f("ix_service_offerings_staff_id"), ["staff_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_service_offerings_team_id"), ["team_id"], unique=False)

    op.create_table(
        "team_members",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_team_members_staff_id_staff")),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_members_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("team_id", "staff_id", name=op.f("pk_team_members")),
    )
    with op.batch_alter_table("team_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_team_members_staff_id"), ["staff_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("team_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_members_staff_id"))

    op.drop_table("team_members")
    with op.batch_alter_table("service_offerings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_offerings_team_id"))
        batch_op.drop_index(batch_op.f("ix_service_offerings_staff_id"))
        batch_op.drop_index(batch_op.f("ix_service_offerings_service"))

    op.drop_table("service_offerings")
    with op.batch_alter_table("consults", schema=None) as batch_op:
        batch_op.drop_index("ix_consults_team_completed")
        batch_op.drop_index("ix_consults_staff_response")
        batch_op.drop_index(batch_op.f("ix_consults_patient_id"))
        batch_op.drop_index("ix_consults_department_completed")

    op.drop_table("consults")
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_teams_department_id"))

    op.drop_table("teams")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_role"))
        batch_op.drop_index(batch_op.f("ix_staff_department_id"))

    op.drop_table("staff")
    op.drop_table("featured_departments")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index("ix_articles_category_published")

    op.drop_table("articles")
    op.drop_table("theme_tokens")
    op.drop_table("layout_settings")
    op.drop_table("layout_modules")
    op.drop_table("homepage_entries")
    op.drop_table("departments")
    op.drop_table("consult_service_entries")
    op.drop_table("app_meta")
