"""The relational model (SQLAlchemy 2 typed ORM). Every change here needs an Alembic migration."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from datasources.db.types import UTCDateTime
from domain.enums import (
    ArticleCategory,
    ArticleStatus,
    ConsentGiver,
    ConsentKind,
    ConsultService,
    ConsultStatus,
    EntryKind,
    HomepageModule,
    LayoutVariant,
    LinkKind,
    ProfileRelation,
    StaffRole,
)
from domain.identity import Gender

# Stable constraint names, so migrations can refer to them on both databases.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _enum(cls: type) -> Enum:
    # Stored as checked VARCHAR rather than native enum types: adding a value later is a
    # plain migration on both SQLite and PostgreSQL.
    return Enum(cls, native_enum=False, length=32, validate_strings=True, create_constraint=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(128), default="")
    registration_kind: Mapped[LinkKind] = mapped_column(_enum(LinkKind), default=LinkKind.MINI_PROGRAM_PAGE)
    registration_target: Mapped[str] = mapped_column(String(512))


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole), index=True)
    title: Mapped[str] = mapped_column(String(64))
    specialties: Mapped[list[str]] = mapped_column(default=list)
    photo_url: Mapped[str] = mapped_column(String(512), default="")
    introduction: Mapped[str] = mapped_column(Text, default="")
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    registration_kind: Mapped[LinkKind] = mapped_column(_enum(LinkKind), default=LinkKind.MINI_PROGRAM_PAGE)
    registration_target: Mapped[str] = mapped_column(String(512))


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class TeamMember(Base):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(SmallInteger, default=0)


class ServiceOffering(Base):
    """Which of the five consult services a staff member or a team offers, and its price."""

    __tablename__ = "service_offerings"
    __table_args__ = (
        CheckConstraint("(staff_id IS NULL) <> (team_id IS NULL)", name="one_provider"),
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
        UniqueConstraint("service", "staff_id", "team_id", name="uq_service_offerings_provider"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service: Mapped[ConsultService] = mapped_column(_enum(ConsultService), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    price_cents: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Consult(Base):
    """One internet consult, with the times that the staff statistics are computed from."""

    __tablename__ = "consults"
    __table_args__ = (
        CheckConstraint("rating IS NULL OR (rating BETWEEN 1 AND 5)", name="rating_range"),
        Index("ix_consults_staff_response", "staff_id", "first_response_at"),
        Index("ix_consults_department_completed", "department_id", "completed_at"),
        Index("ix_consults_team_completed", "team_id", "completed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service: Mapped[ConsultService] = mapped_column(_enum(ConsultService))
    patient_id: Mapped[int] = mapped_column(Integer, index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    status: Mapped[ConsultStatus] = mapped_column(_enum(ConsultStatus))
    price_cents: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    review: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None]


class ConsultServiceEntry(Base):
    """How each of the five services is presented in the homepage's consult zone."""

    __tablename__ = "consult_service_entries"

    service: Mapped[ConsultService] = mapped_column(_enum(ConsultService), primary_key=True)
    title: Mapped[str] = mapped_column(String(32))
    subtitle: Mapped[str] = mapped_column(String(128))
    entry_text: Mapped[str] = mapped_column(Text)
    requirements: Mapped[list[str]] = mapped_column(default=list)
    icon_url: Mapped[str] = mapped_column(String(512), default="")
    position: Mapped[int] = mapped_column(SmallInteger)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class FeaturedDepartment(Base):
    __tablename__ = "featured_departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), unique=True)
    position: Mapped[int] = mapped_column(SmallInteger)
    image_url: Mapped[str] = mapped_column(String(512))
    blurb: Mapped[str] = mapped_column(String(256))
    # Empty means "the department's own registration page". link_kind goes with link_target (an
    # override needs its own kind: a web address opens in a web-view); NULL keeps the department's.
    link_target: Mapped[str | None] = mapped_column(String(512))
    link_kind: Mapped[LinkKind | None] = mapped_column(_enum(LinkKind))


class HomepageEntry(Base):
    __tablename__ = "homepage_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[EntryKind] = mapped_column(_enum(EntryKind), unique=True)
    title: Mapped[str] = mapped_column(String(32))
    icon_url: Mapped[str] = mapped_column(String(512), default="")
    link_kind: Mapped[LinkKind] = mapped_column(_enum(LinkKind), default=LinkKind.MINI_PROGRAM_PAGE)
    target: Mapped[str] = mapped_column(String(512))
    visible: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(SmallInteger)


class ThemeToken(Base):
    __tablename__ = "theme_tokens"
    __table_args__ = (UniqueConstraint("variant", "name", name="uq_theme_tokens_variant_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    variant: Mapped[LayoutVariant] = mapped_column(_enum(LayoutVariant))
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(128), default="")


class LayoutModule(Base):
    __tablename__ = "layout_modules"
    __table_args__ = (UniqueConstraint("variant", "module", name="uq_layout_modules_variant_module"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    variant: Mapped[LayoutVariant] = mapped_column(_enum(LayoutVariant))
    module: Mapped[HomepageModule] = mapped_column(_enum(HomepageModule))
    position: Mapped[int] = mapped_column(SmallInteger)
    visible: Mapped[bool] = mapped_column(Boolean, default=True)


class LayoutSetting(Base):
    __tablename__ = "layout_settings"

    variant: Mapped[LayoutVariant] = mapped_column(_enum(LayoutVariant), primary_key=True)
    compact: Mapped[bool] = mapped_column(Boolean, default=True)
    font_scale: Mapped[float] = mapped_column(default=1.0)


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (Index("ix_articles_category_published", "category", "status", "published_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[ArticleCategory] = mapped_column(_enum(ArticleCategory))
    title: Mapped[str] = mapped_column(String(128))
    summary: Mapped[str] = mapped_column(String(512))
    cover_url: Mapped[str] = mapped_column(String(512), default="")
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[ArticleStatus] = mapped_column(_enum(ArticleStatus))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    author: Mapped[str] = mapped_column(String(64), default="")
    published_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class PatientAccount(Base):
    """A mini-program user (one WeChat openid), who manages one or more patient profiles."""

    __tablename__ = "patient_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    unionid: Mapped[str | None] = mapped_column(String(64))
    default_profile_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


class PatientProfile(Base):
    """A patient profile (就诊人). ID and mobile numbers are stored encrypted, with a masked copy."""

    __tablename__ = "patient_profiles"
    __table_args__ = (UniqueConstraint("account_id", "id_number_digest", name="uq_patient_profiles_account_person"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("patient_accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    gender: Mapped[Gender] = mapped_column(_enum(Gender))
    birth_date: Mapped[date] = mapped_column(Date)
    relation: Mapped[ProfileRelation] = mapped_column(_enum(ProfileRelation))
    id_number_cipher: Mapped[str] = mapped_column(Text)
    id_number_digest: Mapped[str] = mapped_column(String(64))
    id_number_masked: Mapped[str] = mapped_column(String(32))
    mobile_cipher: Mapped[str] = mapped_column(Text)
    mobile_masked: Mapped[str] = mapped_column(String(16))
    his_patient_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ConsentDocument(Base):
    """A versioned consent text patients accept (e.g. processing of health data)."""

    __tablename__ = "consent_documents"
    __table_args__ = (UniqueConstraint("kind", "version", name="uq_consent_documents_kind_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ConsentKind] = mapped_column(_enum(ConsentKind))
    version: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    effective_at: Mapped[datetime]


class ProfileConsent(Base):
    """One acceptance (and possibly later withdrawal) of a consent document for one profile."""

    __tablename__ = "profile_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("patient_profiles.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ConsentKind] = mapped_column(_enum(ConsentKind))
    version: Mapped[str] = mapped_column(String(32))
    given_by: Mapped[ConsentGiver] = mapped_column(_enum(ConsentGiver))
    guardian_name: Mapped[str | None] = mapped_column(String(64))
    accepted_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]


class StaffAccount(Base):
    """An admin-side login: argon2 password hash, TOTP second factor, roles, lock-out state."""

    __tablename__ = "staff_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    totp_secret_cipher: Mapped[str] = mapped_column(Text)
    last_totp_step: Mapped[int | None] = mapped_column(Integer)  # refuses a code used twice
    roles: Mapped[list[str]] = mapped_column(default=list)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


class AuditEntry(Base):
    """One row per admin mutation and per read of a patient's health data. Append-only: database
    triggers refuse UPDATE, and DELETE of rows younger than the legal minimum retention."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_occurred", "occurred_at"),
        Index("ix_audit_log_actor", "actor_kind", "actor_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime]
    actor_kind: Mapped[str] = mapped_column(String(16))  # ANONYMOUS, PATIENT, STAFF, SYSTEM
    actor_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str | None] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(16))  # OK, DENIED, FAILED
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(64))


class AppMeta(Base):
    """Small facts about this database, such as which demo data set it holds."""

    __tablename__ = "app_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column()
