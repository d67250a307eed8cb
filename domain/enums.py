"""The vocabularies of the hospital, shared by the database, the rules and the schema."""

from __future__ import annotations

from enum import StrEnum


class StaffRole(StrEnum):
    DOCTOR = "DOCTOR"  # 医
    NURSE = "NURSE"  # 护
    PHARMACIST = "PHARMACIST"  # 药


class ConsultService(StrEnum):
    FOLLOW_UP = "FOLLOW_UP"  # 复诊续方
    VIDEO = "VIDEO"  # 视频问诊
    RAPID = "RAPID"  # 极速咨询
    TEAM = "TEAM"  # 团队咨询
    MDT = "MDT"  # 多学科诊疗


class ConsultStatus(StrEnum):
    CREATED = "CREATED"
    PAID = "PAID"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"


class ArticleCategory(StrEnum):
    SCIENCE = "SCIENCE"  # 科普
    NEWS = "NEWS"  # 资讯
    HOSPITAL_NEWS = "HOSPITAL_NEWS"  # 医院动态


class ArticleStatus(StrEnum):
    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    ARCHIVED = "ARCHIVED"


class EntryKind(StrEnum):
    POINTS_MALL = "POINTS_MALL"  # 积分商城
    BUSINESS_EXPANSION = "BUSINESS_EXPANSION"  # 业务拓展
    MY_BENEFITS = "MY_BENEFITS"  # 我的权益


class HomepageModule(StrEnum):
    CONSULT_ZONE = "CONSULT_ZONE"
    FEATURED_DEPARTMENTS = "FEATURED_DEPARTMENTS"
    RANKINGS = "RANKINGS"
    PATIENT_SERVICES = "PATIENT_SERVICES"
    ENTRIES = "ENTRIES"
    ARTICLES = "ARTICLES"


class LayoutVariant(StrEnum):
    STANDARD = "STANDARD"
    ELDER = "ELDER"  # 长辈版


class LinkKind(StrEnum):
    MINI_PROGRAM_PAGE = "MINI_PROGRAM_PAGE"  # a page path inside the mini-program
    WEB_PAGE = "WEB_PAGE"  # an https page opened in a web-view


class AdminRole(StrEnum):
    """What a staff account may do on the admin side."""

    SUPER_ADMIN = "SUPER_ADMIN"  # accounts, audit log, everything
    CONTENT_EDITOR = "CONTENT_EDITOR"  # articles, homepage configuration, moderation
    COORDINATOR = "COORDINATOR"  # arranges team consults and MDT
    DOCTOR = "DOCTOR"  # accepts consults, writes opinions
    OPERATIONS = "OPERATIONS"  # dashboards, ranking refresh


class ProfileRelation(StrEnum):
    """How a patient profile (就诊人) relates to the account holder."""

    SELF = "SELF"  # 本人
    PARENT = "PARENT"  # 父母
    CHILD = "CHILD"  # 子女
    SPOUSE = "SPOUSE"  # 配偶
    OTHER = "OTHER"  # 其他


class ConsentKind(StrEnum):
    HEALTH_DATA = "HEALTH_DATA"  # processing of sensitive health data (PIPL art. 29)


class ConsentGiver(StrEnum):
    SELF = "SELF"  # the profile's person
    GUARDIAN = "GUARDIAN"  # a parent or guardian, required under 14 (PIPL art. 31)


class VisitStep(StrEnum):
    """The steps of a hospital visit, in order, as the visit companion (电子伴诊) guides them."""

    BOOK = "BOOK"  # 预约挂号
    CHECK_IN = "CHECK_IN"  # 签到
    WAIT = "WAIT"  # 候诊
    CONSULT = "CONSULT"  # 就诊
    PAY = "PAY"  # 缴费
    TESTS = "TESTS"  # 检查/检验
    PHARMACY = "PHARMACY"  # 取药
    REPORTS = "REPORTS"  # 查报告


class AppreciationKind(StrEnum):
    BANNER = "BANNER"  # 电子锦旗
    LETTER = "LETTER"  # 感谢信


class AppreciationStatus(StrEnum):
    PENDING = "PENDING"  # passed the word filter, waiting for a CONTENT_EDITOR
    PUBLISHED = "PUBLISHED"  # approved: shown on the staff member's or team's page
    REJECTED = "REJECTED"  # refused (or taken down) by a CONTENT_EDITOR


class BannerDesign(StrEnum):
    """The e-banner (电子锦旗) designs a patient chooses from. Free of charge, all of them."""

    CLASSIC_RED = "CLASSIC_RED"  # 红底金字
    GOLDEN = "GOLDEN"  # 金底红字
    JADE = "JADE"  # 青玉
    PEONY = "PEONY"  # 牡丹


class SeriesInterval(StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"  # Monday to Sunday


class ConsultGrouping(StrEnum):
    SERVICE = "SERVICE"
    DEPARTMENT = "DEPARTMENT"
    ROLE = "ROLE"
