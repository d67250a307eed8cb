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
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from datasources.db.types import UTCDateTime
from domain.consults import PaymentState, RefundState, ServiceState, StateField
from domain.enums import (
    AppreciationKind,
    AppreciationStatus,
    ArticleCategory,
    ArticleStatus,
    BannerDesign,
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
    VisitStep,
)
from domain.identity import Gender
from domain.rankings import RankingBoard

# Stable constraint names, so migrations can refer to them on both databases.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Objects the migrations make per database, outside the model: SQLite's FTS5 index of articles (a
# virtual table with its shadow tables) and PostgreSQL's trigram index. Model checks skip them.
UNMODELLED_TABLE_PREFIX = "articles_fts"
UNMODELLED_INDEXES = frozenset({"ix_articles_search_trgm"})


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's `include_name` hook: leave the per-database search objects out of comparisons."""
    if type_ == "table" and name is not None and name.startswith(UNMODELLED_TABLE_PREFIX):
        return False
    return not (type_ == "index" and name in UNMODELLED_INDEXES)


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
        # Every column the staff statistics read, so that they come from the index alone.
        Index("ix_consults_staff_stats", "staff_id", "created_at", "first_response_at", "paid_at", "rating"),
        Index("ix_consults_department_completed", "department_id", "completed_at"),
        Index("ix_consults_team_completed", "team_id", "completed_at"),
        # The ranking boards read time ranges: paid (popularity, growth, teams) and completed (gold).
        Index("ix_consults_paid_at", "paid_at"),
        Index("ix_consults_completed_at", "completed_at"),
        Index("ix_consults_team_paid", "team_id", "paid_at"),
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
    # The mini-program account that ordered it (demo consults have none): what lets a patient
    # thank the staff member or team for a consult of theirs.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("patient_accounts.id"), index=True)


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
    __table_args__ = (UniqueConstraint("variant", "department_id", name="uq_featured_departments_variant_department"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    variant: Mapped[LayoutVariant] = mapped_column(_enum(LayoutVariant), server_default=LayoutVariant.STANDARD.value)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    position: Mapped[int] = mapped_column(SmallInteger)
    image_url: Mapped[str] = mapped_column(String(512))
    blurb: Mapped[str] = mapped_column(String(256))
    # Empty means "the department's own registration page". link_kind goes with link_target (an
    # override needs its own kind: a web address opens in a web-view); NULL keeps the department's.
    link_target: Mapped[str | None] = mapped_column(String(512))
    link_kind: Mapped[LinkKind | None] = mapped_column(_enum(LinkKind))


class HomepageEntry(Base):
    __tablename__ = "homepage_entries"
    __table_args__ = (UniqueConstraint("variant", "kind", name="uq_homepage_entries_variant_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    variant: Mapped[LayoutVariant] = mapped_column(_enum(LayoutVariant), server_default=LayoutVariant.STANDARD.value)
    kind: Mapped[EntryKind] = mapped_column(_enum(EntryKind))
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
    published_at: Mapped[datetime | None]  # PUBLISHED with a later time: scheduled, not yet shown
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None]
    pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    view_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Title, summary and the body's plain text, written with every change of them: full-text
    # search looks here (SQLite: the FTS5 table articles_fts; PostgreSQL: a pg_trgm index).
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")


class ArticleTag(Base):
    __tablename__ = "article_tags"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(16), primary_key=True, index=True)


class ArticleDailyViews(Base):
    """Views of an article per local (Asia/Shanghai) day, for the most-read articles of a period."""

    __tablename__ = "article_daily_views"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    views: Mapped[int] = mapped_column(Integer, default=0)


class Appreciation(Base):
    """An e-banner (电子锦旗) or thank-you letter (感谢信) from a patient for the staff member or team of
    a completed consult: at most one of each per consult, shown once a CONTENT_EDITOR approves it."""

    __tablename__ = "appreciations"
    __table_args__ = (
        UniqueConstraint("consult_id", "kind", name="uq_appreciations_consult_kind"),
        CheckConstraint("(staff_id IS NULL) <> (team_id IS NULL)", name="one_recipient"),
        CheckConstraint("(kind = 'BANNER') = (design IS NOT NULL)", name="banner_has_design"),
        Index("ix_appreciations_staff_published", "staff_id", "status", "published_at"),
        Index("ix_appreciations_team_published", "team_id", "status", "published_at"),
        Index("ix_appreciations_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AppreciationKind] = mapped_column(_enum(AppreciationKind))
    consult_id: Mapped[int] = mapped_column(ForeignKey("consults.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("patient_accounts.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    design: Mapped[BannerDesign | None] = mapped_column(_enum(BannerDesign))
    text: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(64))  # as shown: masked (王**) unless the patient chose otherwise
    status: Mapped[AppreciationStatus] = mapped_column(_enum(AppreciationStatus))
    reject_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    moderated_at: Mapped[datetime | None]
    moderated_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    published_at: Mapped[datetime | None]


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


class RankingSnapshot(Base):
    """One computed ranking board for one period, with the rules it was computed with.

    The gold boards are keyed by month (YYYY-MM); the TOP3 boards by the local day (YYYY-MM-DD) and
    recomputed during that day, so the last computation of a day stays as that day's board.
    """

    __tablename__ = "ranking_snapshots"
    __table_args__ = (UniqueConstraint("board", "period_key", name="uq_ranking_snapshots_board_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    board: Mapped[RankingBoard] = mapped_column(_enum(RankingBoard))
    period_key: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    compare_starts_at: Mapped[datetime | None]  # 最快成长: the stretch of last month it compares with
    compare_ends_at: Mapped[datetime | None]
    computed_at: Mapped[datetime]
    rules: Mapped[dict[str, Any]] = mapped_column()  # RankingRules.to_json() at computation time


class RankingEntry(Base):
    """One place on a board: the subject (a department, staff member or team, by the board's kind),
    its score, and the counts behind the score."""

    __tablename__ = "ranking_entries"

    snapshot_id: Mapped[int] = mapped_column(ForeignKey("ranking_snapshots.id", ondelete="CASCADE"), primary_key=True)
    rank: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    subject_id: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    inputs: Mapped[dict[str, Any]] = mapped_column()


class ConsultOrder(Base):
    """One order of one of the five consult services, with its payment, service and refund states.

    Its consult (`consult_id`) is the row the staff statistics and rankings count; it is kept in
    step with the order by every transition. The patient's name, gender and birth date are copied
    when ordering, so the medical record stays whole if the profile is removed later. Complaint and
    history are health data: stored encrypted.
    """

    __tablename__ = "consult_orders"
    __table_args__ = (
        UniqueConstraint("account_id", "idempotency_key", name="uq_consult_orders_account_key"),
        CheckConstraint("price_cents > 0", name="price_positive"),
        CheckConstraint("refund_cents IS NULL OR (refund_cents > 0 AND refund_cents <= price_cents)", name="refund"),
        Index("ix_consult_orders_account", "account_id", "id"),
        Index("ix_consult_orders_queue", "service", "service_state", "paid_at"),
        Index("ix_consult_orders_unpaid", "payment_state", "pay_deadline"),
        Index("ix_consult_orders_waiting", "service_state", "response_deadline"),
        Index("ix_consult_orders_staff", "staff_id", "id"),
        Index("ix_consult_orders_refund", "refund_state", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(32), unique=True)  # WeChat Pay's out_trade_no
    account_id: Mapped[int] = mapped_column(ForeignKey("patient_accounts.id"))
    profile_id: Mapped[int | None] = mapped_column(ForeignKey("patient_profiles.id", ondelete="SET NULL"))
    consult_id: Mapped[int] = mapped_column(ForeignKey("consults.id"), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    request_digest: Mapped[str] = mapped_column(String(64))
    service: Mapped[ConsultService] = mapped_column(_enum(ConsultService))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    mdt_department_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    patient_name: Mapped[str] = mapped_column(String(64))
    patient_gender: Mapped[Gender] = mapped_column(_enum(Gender))
    patient_birth_date: Mapped[date] = mapped_column(Date)
    his_patient_id: Mapped[str | None] = mapped_column(String(64))
    price_cents: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(127))
    payment_state: Mapped[PaymentState] = mapped_column(_enum(PaymentState))
    service_state: Mapped[ServiceState] = mapped_column(_enum(ServiceState))
    refund_state: Mapped[RefundState] = mapped_column(_enum(RefundState))
    prepay_id: Mapped[str | None] = mapped_column(String(64))
    transaction_id: Mapped[str | None] = mapped_column(String(64))
    pay_deadline: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    response_deadline: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    complaint_cipher: Mapped[str | None] = mapped_column(Text)
    history_cipher: Mapped[str | None] = mapped_column(Text)
    report_ids: Mapped[list[str]] = mapped_column(default=list)
    preferred_times: Mapped[list[str]] = mapped_column(default=list)  # ISO 8601 instants
    consent_version: Mapped[str | None] = mapped_column(String(32))
    consent_accepted_at: Mapped[datetime | None]
    video_room: Mapped[str | None] = mapped_column(String(64), unique=True)
    meeting_at: Mapped[datetime | None]
    coordinator_account_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    refund_no: Mapped[str | None] = mapped_column(String(64), unique=True)  # WeChat Pay's out_refund_no
    refund_cents: Mapped[int | None] = mapped_column(Integer)
    refund_reason: Mapped[str | None] = mapped_column(String(80))
    refund_id: Mapped[str | None] = mapped_column(String(64))
    refunded_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ConsultOrderTransition(Base):
    """Every change of an order's state: who, when, from, to, why. Append-only (database triggers)."""

    __tablename__ = "consult_order_transitions"
    __table_args__ = (Index("ix_consult_order_transitions_order", "order_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("consult_orders.id"))
    field: Mapped[StateField] = mapped_column(_enum(StateField))
    from_state: Mapped[str | None] = mapped_column(String(32))  # None: the order was created
    to_state: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    actor_kind: Mapped[str] = mapped_column(String(16))  # PATIENT, STAFF, SYSTEM, PAYMENT (WeChat Pay)
    actor_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(200))
    reference: Mapped[str | None] = mapped_column(String(64))  # e.g. WeChat Pay's notification id
    request_id: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime]


class ConsultOrderExpert(Base):
    """The experts a coordinator assigned to a team or MDT order."""

    __tablename__ = "consult_order_experts"

    order_id: Mapped[int] = mapped_column(ForeignKey("consult_orders.id"), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(SmallInteger, default=0)


class ConsultOpinion(Base):
    """The combined opinion (团队/MDT 意见书) of a team or MDT order; health data, stored encrypted."""

    __tablename__ = "consult_opinions"

    order_id: Mapped[int] = mapped_column(ForeignKey("consult_orders.id"), primary_key=True)
    body_cipher: Mapped[str] = mapped_column(Text)
    author_staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    published_at: Mapped[datetime | None]


class ConsultConsentDocument(Base):
    """A versioned informed-consent text a consult service needs accepted per order (视频问诊)."""

    __tablename__ = "consult_consent_documents"
    __table_args__ = (UniqueConstraint("service", "version", name="uq_consult_consent_documents_service_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service: Mapped[ConsultService] = mapped_column(_enum(ConsultService))
    version: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    effective_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))


class RapidDuty(Base):
    """Whether a doctor of the 极速咨询 GP team is on duty (taking queued orders) now."""

    __tablename__ = "rapid_duty"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    on_duty: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime]


class AppMeta(Base):
    """Small facts about this database, such as which demo data set it holds."""

    __tablename__ = "app_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column()


class VisitGuideStep(Base):
    """The visit companion's (电子伴诊) guide for one step of a visit, edited by content editors."""

    __tablename__ = "visit_guide_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    step: Mapped[VisitStep] = mapped_column(_enum(VisitStep), unique=True)
    position: Mapped[int] = mapped_column(SmallInteger)
    title: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text)  # what to do, in plain language
    large_print_text: Mapped[str] = mapped_column(String(64))  # a few words for the large-print view
    read_aloud_text: Mapped[str] = mapped_column(Text)  # written to be heard (text-to-speech)
    tips: Mapped[list[str]] = mapped_column(default=list)
    updated_at: Mapped[datetime]
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
