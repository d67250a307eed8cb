"""The homepage: every module of the compact mini-program homepage, fetched in one query."""

from __future__ import annotations

import strawberry

from datasources.db.tables import FeaturedDepartment as FeaturedRow
from domain.enums import ArticleCategory, ConsultService, EntryKind, HomepageModule, LayoutVariant, LinkKind
from loaders.home import EVERYTHING
from schema.common import Link, Money, RegistrationLink
from schema.content import Article
from schema.context import Info
from schema.departments import Department
from schema.enums import CATEGORY_LABELS


@strawberry.type(description="A named colour of the theme, e.g. primary = #0B6E4F.")
class ColorToken:
    name: str = strawberry.field(description="Token name the frontend styles refer to, e.g. primary, text.")
    value: str = strawberry.field(description="Colour as #RRGGBB.")
    description: str = strawberry.field(description="Where the colour is used.")


@strawberry.type(description="The colour scheme, served as configuration so it changes without a release.")
class Theme:
    tokens: list[ColorToken] = strawberry.field(description="Every colour token of this variant.")


@strawberry.type(description="How the homepage is laid out.")
class Layout:
    compact: bool = strawberry.field(description="Compact mode: denser cards, fewer line breaks.")
    font_scale: float = strawberry.field(description="Type scale relative to the standard size (长辈版 > 1).")
    modules: list[HomepageModule] = strawberry.field(description="The visible modules, top to bottom.")


@strawberry.type(description="A featured department (融和优势学科) card on the homepage.")
class FeaturedDepartment:
    position: int = strawberry.field(description="Order on the homepage, from 0.")
    image_url: str = strawberry.field(description="Card image address.")
    blurb: str = strawberry.field(description="One line on what makes the department strong.")
    department_id: strawberry.Private[int]
    link_target: strawberry.Private[str | None]
    link_kind: strawberry.Private[LinkKind | None]

    @strawberry.field(description="The department shown on the card.")
    async def department(self, info: Info) -> Department:
        row = await info.context.loaders.department_by_id.load(self.department_id)
        assert row is not None, "featured_departments.department_id is a foreign key"
        return Department.from_row(row)

    @strawberry.field(
        description="Where tapping the card leads: the department's registration page, or the page the "
        "card is configured to open instead."
    )
    async def registration_link(self, info: Info) -> RegistrationLink:
        link = (await self.department(info)).registration_link
        if self.link_target:
            # The override's own kind: a web address must not be opened as a mini-program page.
            link = RegistrationLink(
                kind=self.link_kind or link.kind,
                target=self.link_target,
                department_id=link.department_id,
                staff_id=None,
            )
        return link

    @classmethod
    def from_row(cls, row: FeaturedRow) -> FeaturedDepartment:
        return cls(
            position=row.position,
            image_url=row.image_url,
            blurb=row.blurb,
            department_id=row.department_id,
            link_target=row.link_target,
            link_kind=row.link_kind,
        )


@strawberry.type(description="One of the five services in the online consultation zone (在线问诊).")
class ConsultServiceEntry:
    service: ConsultService = strawberry.field(description="Which service this is.")
    title: str = strawberry.field(description="Name shown on the entry, e.g. 复诊续方.")
    subtitle: str = strawberry.field(description="One line under the name.")
    entry_text: str = strawberry.field(description="What the service does and how it works, in plain language.")
    requirements: list[str] = strawberry.field(
        description="What the patient needs, in order, e.g. 选择就诊人, 阅读并同意知情同意书, 在线支付."
    )
    icon_url: str = strawberry.field(description="Icon address.")
    from_price: Money | None = strawberry.field(
        description="The lowest price of the service among current providers; null when none offers it."
    )
    provider_count: int = strawberry.field(description="Staff members or teams currently offering it.")


@strawberry.type(description="The online consultation zone: the five services in display order.")
class ConsultZone:
    services: list[ConsultServiceEntry] = strawberry.field(description="The enabled services, in order.")


@strawberry.type(description="An entry on the homepage (积分商城, 业务拓展, 我的权益): a link only.")
class HomepageEntry:
    kind: EntryKind = strawberry.field(description="Which entry this is.")
    title: str = strawberry.field(description="Label shown under the icon.")
    icon_url: str = strawberry.field(description="Icon address.")
    link: Link = strawberry.field(description="Where tapping the entry leads.")


@strawberry.type(description="The latest published articles of one health encyclopedia category.")
class ArticleGroup:
    category: ArticleCategory = strawberry.field(description="The category.")
    label: str = strawberry.field(description="The category as shown: 科普, 资讯 or 医院动态.")
    articles: list[Article] = strawberry.field(description="Newest first.")


@strawberry.type(
    description="Every module of the mini-program homepage. Ask for the modules you render; each costs "
    "one database statement at most. Rankings (金牌榜单, TOP3 boards) will be added here as fields of their own."
)
class Homepage:
    variant: LayoutVariant = strawberry.field(description="STANDARD or ELDER (长辈版).")

    @strawberry.field(description="Colour tokens of this variant.")
    async def theme(self, info: Info) -> Theme:
        rows = await info.context.loaders.theme_by_variant.load(self.variant)
        return Theme(tokens=[ColorToken(name=r.name, value=r.value, description=r.description) for r in rows])

    @strawberry.field(description="Module order, compact mode and type scale of this variant.")
    async def layout(self, info: Info) -> Layout:
        setting, modules = await info.context.loaders.layout_by_variant.load(self.variant)
        return Layout(
            compact=setting.compact if setting else True,
            font_scale=setting.font_scale if setting else 1.0,
            modules=[m.module for m in modules],
        )

    @strawberry.field(description="The featured departments (融和优势学科), in order.")
    async def featured_departments(self, info: Info) -> list[FeaturedDepartment]:
        rows = await info.context.loaders.featured_departments.load(EVERYTHING)
        return [FeaturedDepartment.from_row(row) for row in rows]

    @strawberry.field(description="The online consultation zone with its five services.")
    async def consult_zone(self, info: Info) -> ConsultZone:
        rows = await info.context.loaders.consult_zone.load(EVERYTHING)
        return ConsultZone(
            services=[
                ConsultServiceEntry(
                    service=r.entry.service,
                    title=r.entry.title,
                    subtitle=r.entry.subtitle,
                    entry_text=r.entry.entry_text,
                    requirements=list(r.entry.requirements),
                    icon_url=r.entry.icon_url,
                    from_price=None if r.min_price_cents is None else Money(cents=r.min_price_cents),
                    provider_count=r.providers,
                )
                for r in rows
            ]
        )

    @strawberry.field(description="The visible entries (积分商城, 业务拓展, 我的权益), in order.")
    async def entries(self, info: Info) -> list[HomepageEntry]:
        rows = await info.context.loaders.homepage_entries.load(EVERYTHING)
        return [
            HomepageEntry(kind=r.kind, title=r.title, icon_url=r.icon_url, link=Link(kind=r.link_kind, target=r.target))
            for r in rows
        ]

    @strawberry.field(description="The latest published articles of each health encyclopedia category.")
    async def articles(self, info: Info) -> list[ArticleGroup]:
        grouped = await info.context.loaders.latest_articles_by_count.load(info.context.settings.articles_per_category)
        return [
            ArticleGroup(
                category=category,
                label=CATEGORY_LABELS[category],
                articles=[Article.from_row(row) for row in grouped[category]],
            )
            for category in ArticleCategory
        ]
