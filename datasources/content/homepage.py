"""Homepage configuration written by content editors: featured departments, entries, theme,
layout and the consult zone, each per variant (STANDARD, ELDER 长辈版) where it has one.

Every function validates its whole input before the first write and raises InvalidConfig or
UnknownDepartment instead, so a refused change leaves the configuration as it was.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from datasources.db.tables import (
    ConsultServiceEntry,
    Department,
    FeaturedDepartment,
    HomepageEntry,
    LayoutModule,
    LayoutSetting,
    ThemeToken,
)
from domain.content import REQUIRED_TOKENS, contrast_problems, is_hex_colour
from domain.enums import ConsultService, EntryKind, HomepageModule, LayoutVariant, LinkKind

MAX_FEATURED = 12
FONT_SCALE_RANGE = (0.8, 2.0)
ELDER_MIN_FONT_SCALE = 1.2  # 长辈版: larger type than the standard homepage
_PAGE_PATH = re.compile(r"/[A-Za-z0-9_\-./]+(\?[A-Za-z0-9_\-.~%&=]*)?")
_TOKEN_NAME = re.compile(r"[a-z][A-Za-z0-9]{0,63}")


class InvalidConfig(ValueError):
    def __init__(self, message: str, *, field: str, reason: str = "INVALID", detail: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason
        self.detail = detail


class UnknownDepartment(Exception):
    def __init__(self, department_id: int) -> None:
        super().__init__(f"department {department_id}")
        self.department_id = department_id


@dataclass(frozen=True)
class LinkData:
    kind: LinkKind
    target: str


@dataclass(frozen=True)
class FeaturedData:
    department_id: int
    image_url: str
    blurb: str
    link: LinkData | None = None  # None: the department's own registration page


@dataclass(frozen=True)
class EntryData:
    kind: EntryKind
    title: str
    icon_url: str
    link: LinkData
    visible: bool = True


@dataclass(frozen=True)
class TokenData:
    name: str
    value: str
    description: str | None = None  # None keeps the current description


@dataclass(frozen=True)
class LayoutData:
    compact: bool
    font_scale: float
    modules: Sequence[HomepageModule]  # the visible ones, top to bottom


@dataclass(frozen=True)
class ServiceEntryData:
    service: ConsultService
    title: str
    subtitle: str
    entry_text: str
    requirements: Sequence[str]
    icon_url: str = ""


# ---- validation ---------------------------------------------------------------------------


def _text(value: str, *, field: str, label: str, high: int, low: int = 1) -> str:
    value = value.strip()
    if not low <= len(value) <= high:
        raise InvalidConfig(f"{label}须为{low}至{high}个字 ({field}: {low} to {high} characters)", field=field)
    return value


def _https(value: str, *, field: str, allow_empty: bool) -> str:
    value = value.strip()
    if not value and allow_empty:
        return ""
    if not value.startswith("https://") or len(value) > 512 or any(c.isspace() for c in value):
        raise InvalidConfig(f"须为https地址 ({field} must be an https address)", field=field)
    return value


def valid_link(link: LinkData, *, field: str) -> LinkData:
    """A mini-program page path (/pages/...?a=b) or an https address, matching its kind."""
    target = link.target.strip()
    if link.kind is LinkKind.WEB_PAGE:
        return LinkData(link.kind, _https(target, field=field, allow_empty=False))
    if len(target) > 512 or _PAGE_PATH.fullmatch(target) is None:
        raise InvalidConfig(
            f"小程序页面路径须以 / 开头 ({field}: a mini-program page path such as /pages/x/index?id=1)", field=field
        )
    return LinkData(link.kind, target)


def validate_featured(items: Sequence[FeaturedData]) -> list[FeaturedData]:
    if len(items) > MAX_FEATURED:
        raise InvalidConfig(f"最多{MAX_FEATURED}个特色科室 (at most {MAX_FEATURED})", field="items")
    seen: set[int] = set()
    valid = []
    for i, item in enumerate(items):
        if item.department_id in seen:
            raise InvalidConfig("科室重复 (a department is listed twice)", field=f"items.{i}.departmentId")
        seen.add(item.department_id)
        valid.append(
            FeaturedData(
                department_id=item.department_id,
                image_url=_https(item.image_url, field=f"items.{i}.imageUrl", allow_empty=False),
                blurb=_text(item.blurb, field=f"items.{i}.blurb", label="简介", high=64),
                link=None if item.link is None else valid_link(item.link, field=f"items.{i}.link.target"),
            )
        )
    return valid


def validate_entries(items: Sequence[EntryData]) -> list[EntryData]:
    seen: set[EntryKind] = set()
    valid = []
    for i, item in enumerate(items):
        if item.kind in seen:
            raise InvalidConfig("入口重复 (an entry kind is listed twice)", field=f"items.{i}.kind")
        seen.add(item.kind)
        valid.append(
            EntryData(
                kind=item.kind,
                title=_text(item.title, field=f"items.{i}.title", label="名称", high=8),
                icon_url=_https(item.icon_url, field=f"items.{i}.iconUrl", allow_empty=True),
                link=valid_link(item.link, field=f"items.{i}.link.target"),
                visible=item.visible,
            )
        )
    return valid


def validate_tokens(tokens: Sequence[TokenData]) -> list[TokenData]:
    if not tokens:
        raise InvalidConfig("至少修改一个颜色 (give at least one token)", field="tokens")
    seen: set[str] = set()
    valid = []
    for i, token in enumerate(tokens):
        if _TOKEN_NAME.fullmatch(token.name) is None:
            raise InvalidConfig(
                "颜色名称无效 (token names are camelCase, e.g. textSecondary)", field=f"tokens.{i}.name"
            )
        if token.name in seen:
            raise InvalidConfig("颜色重复 (a token is listed twice)", field=f"tokens.{i}.name")
        seen.add(token.name)
        if not is_hex_colour(token.value):
            raise InvalidConfig("颜色须为 #RRGGBB (value must be #RRGGBB)", field=f"tokens.{i}.value")
        description = None
        if token.description is not None:
            description = _text(token.description, field=f"tokens.{i}.description", label="说明", low=0, high=128)
        valid.append(TokenData(token.name, token.value.upper(), description))
    return valid


def validate_layout(variant: LayoutVariant, layout: LayoutData) -> LayoutData:
    low, high = FONT_SCALE_RANGE
    if variant is LayoutVariant.ELDER:
        low = ELDER_MIN_FONT_SCALE
    if not low <= layout.font_scale <= high:
        raise InvalidConfig(f"字号倍数须在{low}至{high}之间 (fontScale: {low} to {high})", field="fontScale")
    if not layout.modules:
        raise InvalidConfig("至少显示一个模块 (show at least one module)", field="modules")
    if len(set(layout.modules)) != len(layout.modules):
        raise InvalidConfig("模块重复 (a module is listed twice)", field="modules")
    return layout


def validate_services(items: Sequence[ServiceEntryData]) -> list[ServiceEntryData]:
    if not items:
        raise InvalidConfig("至少开放一项服务 (enable at least one service)", field="services")
    seen: set[ConsultService] = set()
    valid = []
    for i, item in enumerate(items):
        if item.service in seen:
            raise InvalidConfig("服务重复 (a service is listed twice)", field=f"services.{i}.service")
        seen.add(item.service)
        if not 1 <= len(item.requirements) <= 8:
            raise InvalidConfig("须列出1至8项要求 (1 to 8 requirements)", field=f"services.{i}.requirements")
        valid.append(
            ServiceEntryData(
                service=item.service,
                title=_text(item.title, field=f"services.{i}.title", label="名称", high=16),
                subtitle=_text(item.subtitle, field=f"services.{i}.subtitle", label="副标题", high=64),
                entry_text=_text(item.entry_text, field=f"services.{i}.entryText", label="说明", high=500),
                requirements=[
                    _text(r, field=f"services.{i}.requirements", label="要求", high=32) for r in item.requirements
                ],
                icon_url=_https(item.icon_url, field=f"services.{i}.iconUrl", allow_empty=True),
            )
        )
    return valid


# ---- writes ----------------------------------------------------------------------------------


async def set_featured(
    db: AsyncSession, *, variant: LayoutVariant, items: Sequence[FeaturedData]
) -> Sequence[FeaturedDepartment]:
    """Replace the variant's featured departments by `items`, in order. Raises UnknownDepartment."""
    wanted = [item.department_id for item in items]
    known = set(await db.scalars(select(Department.id).where(Department.id.in_(wanted)))) if wanted else set()
    for department_id in wanted:
        if department_id not in known:
            raise UnknownDepartment(department_id)
    await db.execute(delete(FeaturedDepartment).where(FeaturedDepartment.variant == variant))
    if items:
        await db.execute(
            insert(FeaturedDepartment),
            [
                {
                    "variant": variant,
                    "department_id": item.department_id,
                    "position": position,
                    "image_url": item.image_url,
                    "blurb": item.blurb,
                    "link_target": item.link.target if item.link else None,
                    "link_kind": item.link.kind if item.link else None,
                }
                for position, item in enumerate(items)
            ],
        )
    rows = await db.scalars(
        select(FeaturedDepartment).where(FeaturedDepartment.variant == variant).order_by(FeaturedDepartment.position)
    )
    return rows.all()


async def set_entries(
    db: AsyncSession, *, variant: LayoutVariant, items: Sequence[EntryData]
) -> Sequence[HomepageEntry]:
    """Replace the variant's entries by `items`, in order (kinds left out are removed)."""
    await db.execute(delete(HomepageEntry).where(HomepageEntry.variant == variant))
    if items:
        await db.execute(
            insert(HomepageEntry),
            [
                {
                    "variant": variant,
                    "kind": item.kind,
                    "title": item.title,
                    "icon_url": item.icon_url,
                    "link_kind": item.link.kind,
                    "target": item.link.target,
                    "visible": item.visible,
                    "position": position,
                }
                for position, item in enumerate(items)
            ],
        )
    rows = await db.scalars(
        select(HomepageEntry).where(HomepageEntry.variant == variant).order_by(HomepageEntry.position)
    )
    return rows.all()


async def set_theme(db: AsyncSession, *, variant: LayoutVariant, tokens: Sequence[TokenData]) -> Sequence[ThemeToken]:
    """Change or add the given colour tokens; the others stay. The resulting theme must keep every
    text colour readable on its background (contrast at least 4.5:1): raises InvalidConfig."""
    current = {row.name: row for row in await db.scalars(select(ThemeToken).where(ThemeToken.variant == variant))}
    merged = {name: row.value for name, row in current.items()} | {t.name: t.value for t in tokens}
    missing = sorted(REQUIRED_TOKENS - merged.keys())
    if missing:
        raise InvalidConfig(f"缺少颜色 (missing tokens): {', '.join(missing)}", field="tokens")
    problems = contrast_problems(merged)
    if problems:
        listed = "; ".join(p.describe() for p in problems)
        raise InvalidConfig(
            f"文字与背景对比度须至少4.5:1 (contrast below 4.5:1): {listed}",
            field="tokens",
            reason="LOW_CONTRAST",
            detail=listed,
        )
    for token in tokens:
        row = current.get(token.name)
        if row is None:
            db.add(ThemeToken(variant=variant, name=token.name, value=token.value, description=token.description or ""))
        else:
            row.value = token.value
            if token.description is not None:
                row.description = token.description
    await db.flush()
    rows = await db.scalars(select(ThemeToken).where(ThemeToken.variant == variant).order_by(ThemeToken.id))
    return rows.all()


async def set_layout(
    db: AsyncSession, *, variant: LayoutVariant, layout: LayoutData
) -> tuple[LayoutSetting, list[LayoutModule]]:
    """Compact mode, type scale and the visible modules in order; modules left out are hidden."""
    setting = await db.get(LayoutSetting, variant)
    if setting is None:
        setting = LayoutSetting(variant=variant)
        db.add(setting)
    setting.compact = layout.compact
    setting.font_scale = layout.font_scale
    existing = {
        row.module: row for row in await db.scalars(select(LayoutModule).where(LayoutModule.variant == variant))
    }
    hidden = [m for m in HomepageModule if m not in layout.modules]
    for position, module in enumerate([*layout.modules, *hidden]):
        row = existing.get(module)
        if row is None:
            row = LayoutModule(variant=variant, module=module)
            db.add(row)
        row.position = position
        row.visible = module in layout.modules
    await db.flush()
    modules = await db.scalars(
        select(LayoutModule)
        .where(LayoutModule.variant == variant, LayoutModule.visible.is_(True))
        .order_by(LayoutModule.position)
    )
    return setting, list(modules)


async def set_consult_zone(db: AsyncSession, *, items: Sequence[ServiceEntryData]) -> None:
    """The listed services, enabled and in order, with their texts; the others disabled."""
    existing = {row.service: row for row in await db.scalars(select(ConsultServiceEntry))}
    listed = {item.service for item in items}
    for position, item in enumerate(items):
        row = existing.get(item.service)
        if row is None:
            row = ConsultServiceEntry(service=item.service)
            db.add(row)
        row.title = item.title
        row.subtitle = item.subtitle
        row.entry_text = item.entry_text
        row.requirements = list(item.requirements)
        row.icon_url = item.icon_url
        row.position = position
        row.enabled = True
    for offset, row in enumerate(r for s, r in existing.items() if s not in listed):
        row.enabled = False
        row.position = len(items) + offset
    await db.flush()
