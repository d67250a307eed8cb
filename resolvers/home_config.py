"""Homepage configuration mutations (CONTENT_EDITOR): every module the homepage shows, per variant.

Each replaces one module's configuration as a whole, in one audited transaction, and answers with
the homepage of that variant, read after the change: what the next homepage query shows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from datasources.content import homepage as store
from domain.audit import AuditResult
from domain.enums import ConsultService, EntryKind, HomepageModule, LayoutVariant, LinkKind
from resolvers.auditing import write_audit
from schema.cache_control import HOMEPAGE, invalidate_cache
from schema.common import parse_id
from schema.context import Info
from schema.home import Homepage
from schema.identity import NotFound, ProblemReason, ValidationFailed, not_found

VARIANT = strawberry.argument(description="Which homepage: STANDARD, or ELDER (长辈版).")


@strawberry.input(description="Where tapping leads: a mini-program page path, or an https page.")
class LinkInput:
    kind: LinkKind = strawberry.field(description="MINI_PROGRAM_PAGE (a path such as /pages/x/index?id=1) or WEB_PAGE.")
    target: str = strawberry.field(description="The page path, or the https address.")

    def to_data(self) -> store.LinkData:
        return store.LinkData(self.kind, self.target)


@strawberry.input(description="A featured department card (融和优势学科).")
class FeaturedDepartmentInput:
    department_id: strawberry.ID = strawberry.field(description="The department shown.")
    image_url: str = strawberry.field(description="Card image, an https address.")
    blurb: str = strawberry.field(description="One line on what makes it strong, 1 to 64 characters.")
    link: LinkInput | None = strawberry.field(
        default=None, description="Where the card leads instead of the department's registration page; null for that."
    )


@strawberry.input(description="A homepage entry (积分商城, 业务拓展, 我的权益).")
class HomepageEntryInput:
    kind: EntryKind = strawberry.field(description="Which entry.")
    title: str = strawberry.field(description="Label under the icon, 1 to 8 characters.")
    link: LinkInput = strawberry.field(description="Where tapping the entry leads.")
    icon_url: str = strawberry.field(default="", description="Icon, an https address, or empty.")
    visible: bool = strawberry.field(default=True, description="False keeps it configured but hidden.")


@strawberry.input(description="A colour token of the theme.")
class ColorTokenInput:
    name: str = strawberry.field(description="Token name in camelCase, e.g. primary, text, textSecondary.")
    value: str = strawberry.field(description="Colour as #RRGGBB.")
    description: str | None = strawberry.field(
        default=None, description="Where it is used, at most 128 characters; null keeps the current one."
    )


@strawberry.input(description="How a homepage variant is laid out.")
class LayoutInput:
    compact: bool = strawberry.field(description="Compact mode: denser cards.")
    font_scale: float = strawberry.field(
        description=f"Type scale, {store.FONT_SCALE_RANGE[0]} to {store.FONT_SCALE_RANGE[1]}; ELDER at least "
        f"{store.ELDER_MIN_FONT_SCALE}."
    )
    modules: list[HomepageModule] = strawberry.field(
        description="The modules to show, top to bottom; the others are hidden."
    )


@strawberry.input(description="One service of the online consultation zone as shown on the homepage.")
class ConsultServiceInput:
    service: ConsultService = strawberry.field(description="Which service.")
    title: str = strawberry.field(description="Name, 1 to 16 characters.")
    subtitle: str = strawberry.field(description="One line under the name, 1 to 64 characters.")
    entry_text: str = strawberry.field(description="What it does and how, in plain language, 1 to 500 characters.")
    requirements: list[str] = strawberry.field(description="What the patient needs, 1 to 8 items of 1 to 32.")
    icon_url: str = strawberry.field(default="", description="Icon, an https address, or empty.")


@strawberry.type(description="The configuration was changed.")
class HomepageConfigSuccess:
    homepage: Homepage = strawberry.field(description="The homepage of the variant changed, as patients see it now.")


def _union(name: str) -> object:
    return strawberry.union(name, description="The homepage as changed, or why nothing was changed.")


SetFeaturedDepartmentsResult = Annotated[
    HomepageConfigSuccess | NotFound | ValidationFailed, _union("SetFeaturedDepartmentsResult")
]
SetHomepageEntriesResult = Annotated[HomepageConfigSuccess | ValidationFailed, _union("SetHomepageEntriesResult")]
SetThemeResult = Annotated[HomepageConfigSuccess | ValidationFailed, _union("SetThemeResult")]
SetLayoutResult = Annotated[HomepageConfigSuccess | ValidationFailed, _union("SetLayoutResult")]
SetConsultZoneResult = Annotated[HomepageConfigSuccess | ValidationFailed, _union("SetConsultZoneResult")]


def _invalid(error: store.InvalidConfig) -> ValidationFailed:
    return ValidationFailed(
        message=str(error), field=error.field, reason=ProblemReason(error.reason), detail=error.detail
    )


async def _configure(
    info: Info,
    action: str,
    variant: LayoutVariant,
    validate: Callable[[], Any],
    change: Callable[[AsyncSession, Any], Awaitable[Any]],
) -> HomepageConfigSuccess | NotFound | ValidationFailed:
    try:
        valid = validate()
        async with info.context.db() as db, db.begin():
            await change(db, valid)
            await write_audit(
                info, db, action=action, result=AuditResult.OK, target_type="Homepage", target_id=variant.value
            )
    except store.InvalidConfig as error:
        return _invalid(error)
    except store.UnknownDepartment as error:
        return not_found("Department", error.department_id, "科室")
    await invalidate_cache(info, {HOMEPAGE})
    # Resolved after the commit, through this request's fresh loaders: the homepage as it is now.
    return HomepageConfigSuccess(homepage=Homepage(variant=variant))


async def set_featured_departments(
    info: Info,
    variant: Annotated[LayoutVariant, VARIANT],
    items: Annotated[
        list[FeaturedDepartmentInput],
        strawberry.argument(
            description=f"Every card of the variant, in order (at most {store.MAX_FEATURED}): add, remove, reorder, "
            "replace images and blurbs, re-link, all at once."
        ),
    ],
) -> SetFeaturedDepartmentsResult:
    data = [
        store.FeaturedData(
            department_id=parse_id(item.department_id, f"items.{i}.departmentId"),
            image_url=item.image_url,
            blurb=item.blurb,
            link=None if item.link is None else item.link.to_data(),
        )
        for i, item in enumerate(items)
    ]
    return await _configure(
        info,
        "homepage.featured.set",
        variant,
        lambda: store.validate_featured(data),
        lambda db, valid: store.set_featured(db, variant=variant, items=valid),
    )


async def set_homepage_entries(
    info: Info,
    variant: Annotated[LayoutVariant, VARIANT],
    items: Annotated[
        list[HomepageEntryInput],
        strawberry.argument(description="Every entry of the variant, in order; kinds left out are removed."),
    ],
) -> SetHomepageEntriesResult:
    data = [
        store.EntryData(
            kind=item.kind, title=item.title, icon_url=item.icon_url, link=item.link.to_data(), visible=item.visible
        )
        for item in items
    ]
    result = await _configure(
        info,
        "homepage.entries.set",
        variant,
        lambda: store.validate_entries(data),
        lambda db, valid: store.set_entries(db, variant=variant, items=valid),
    )
    assert not isinstance(result, NotFound)
    return result


async def set_theme(
    info: Info,
    variant: Annotated[LayoutVariant, VARIANT],
    tokens: Annotated[
        list[ColorTokenInput],
        strawberry.argument(
            description="Tokens to change or add; the others stay. Refused (LOW_CONTRAST) when a text colour and "
            "its background would have a contrast below 4.5:1: text, textSecondary on background and surface; "
            "onPrimary on primary; primary and accent on surface."
        ),
    ],
) -> SetThemeResult:
    data = [store.TokenData(t.name, t.value, t.description) for t in tokens]
    result = await _configure(
        info,
        "homepage.theme.set",
        variant,
        lambda: store.validate_tokens(data),
        lambda db, valid: store.set_theme(db, variant=variant, tokens=valid),
    )
    assert not isinstance(result, NotFound)
    return result


async def set_layout(
    info: Info,
    variant: Annotated[LayoutVariant, VARIANT],
    layout: Annotated[LayoutInput, strawberry.argument(description="Compact mode, type scale and modules.")],
) -> SetLayoutResult:
    data = store.LayoutData(compact=layout.compact, font_scale=layout.font_scale, modules=list(layout.modules))
    result = await _configure(
        info,
        "homepage.layout.set",
        variant,
        lambda: store.validate_layout(variant, data),
        lambda db, valid: store.set_layout(db, variant=variant, layout=valid),
    )
    assert not isinstance(result, NotFound)
    return result


async def set_consult_zone(
    info: Info,
    services: Annotated[
        list[ConsultServiceInput],
        strawberry.argument(
            description="The services to offer on the homepage, in order, with their texts; the others are hidden. "
            "The consult zone is the same on both variants."
        ),
    ],
) -> SetConsultZoneResult:
    data = [
        store.ServiceEntryData(
            service=s.service,
            title=s.title,
            subtitle=s.subtitle,
            entry_text=s.entry_text,
            requirements=list(s.requirements),
            icon_url=s.icon_url,
        )
        for s in services
    ]
    result = await _configure(
        info,
        "homepage.consult_zone.set",
        LayoutVariant.STANDARD,
        lambda: store.validate_services(data),
        lambda db, valid: store.set_consult_zone(db, items=valid),
    )
    assert not isinstance(result, NotFound)
    return result
