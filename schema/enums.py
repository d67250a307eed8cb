"""Domain vocabularies exposed as GraphQL enums, each with what its values mean."""

from __future__ import annotations

import strawberry

from domain.enums import ArticleCategory, ConsultService, EntryKind, HomepageModule, LayoutVariant, StaffRole

strawberry.enum(StaffRole, description="Role of a staff member: DOCTOR 医, NURSE 护, PHARMACIST 药.")
strawberry.enum(
    ConsultService,
    description="The five online consult services: FOLLOW_UP 复诊续方 (follow-up and prescription renewal), "
    "VIDEO 视频问诊 (video consult through a third-party service), RAPID 极速咨询 (rapid general-practice "
    "consult), TEAM 团队咨询 (team consult), MDT 多学科诊疗 (multidisciplinary consult).",
)
strawberry.enum(
    ArticleCategory,
    description="Health encyclopedia (健康百科) categories: SCIENCE 科普, NEWS 资讯, HOSPITAL_NEWS 医院动态.",
)
strawberry.enum(
    EntryKind,
    description="Homepage entries: POINTS_MALL 积分商城, BUSINESS_EXPANSION 业务拓展, MY_BENEFITS 我的权益.",
)
strawberry.enum(
    HomepageModule,
    description="Homepage modules, rendered in the layout's order: CONSULT_ZONE 在线问诊, FEATURED_DEPARTMENTS "
    "融和优势学科, RANKINGS 金牌榜单与TOP3榜, PATIENT_SERVICES 患者服务, ENTRIES 入口, ARTICLES 健康百科.",
)
strawberry.enum(
    LayoutVariant,
    description="STANDARD is the compact homepage; ELDER (长辈版) has larger type and fewer modules.",
)

ROLE_LABELS = {StaffRole.DOCTOR: "医", StaffRole.NURSE: "护", StaffRole.PHARMACIST: "药"}
CATEGORY_LABELS = {
    ArticleCategory.SCIENCE: "科普",
    ArticleCategory.NEWS: "资讯",
    ArticleCategory.HOSPITAL_NEWS: "医院动态",
}
