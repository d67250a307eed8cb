"""Types shared by every domain: connections (Relay-style pages), links, money."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import strawberry

from datasources.db.queries.pages import Page
from domain.enums import LinkKind
from schema.errors import BadInput

NodeT = TypeVar("NodeT")
RowT = TypeVar("RowT")

strawberry.enum(
    LinkKind,
    description="Where a link leads: MINI_PROGRAM_PAGE is a page path inside the mini-program "
    "(navigate with wx.navigateTo); WEB_PAGE is an https address opened in a web-view.",
)


@strawberry.type(description="Where the mini-program navigates when an entry is tapped.")
class Link:
    kind: LinkKind = strawberry.field(description="Whether the target is a mini-program page or a web page.")
    target: str = strawberry.field(description="Page path (with query) or https address.")


@strawberry.type(description="The registration (挂号) page of a department or staff member.")
class RegistrationLink:
    kind: LinkKind = strawberry.field(description="Whether the target is a mini-program page or a web page.")
    target: str = strawberry.field(description="Page path (with query) or https address to navigate to.")
    department_id: strawberry.ID = strawberry.field(description="The department the link registers with.")
    staff_id: strawberry.ID | None = strawberry.field(
        description="The staff member the link books, when it books a named doctor, nurse or pharmacist."
    )


@strawberry.type(description="An amount of money in Chinese yuan.")
class Money:
    cents: int = strawberry.field(description="The amount in fen (1/100 yuan), exact.")

    @strawberry.field(description='The amount for display, e.g. "¥20.00".')
    def text(self) -> str:
        return f"¥{self.cents // 100}.{self.cents % 100:02d}"


@strawberry.type(description="Where a page sits in the whole list (Relay cursor connections; forward only).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="True when more items follow `endCursor`.")
    has_previous_page: bool = strawberry.field(
        description="True when this page was asked for with `after`, i.e. it does not start the list. "
        "Lists page forward only (`first` / `after`)."
    )
    start_cursor: str | None = strawberry.field(
        description="Cursor of the first item of this page; null when the page is empty."
    )
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last item of this page; pass as `after` to fetch the next page. Null when "
        "the page is empty."
    )


@strawberry.type(description="One item of a page, with the cursor that points at it.")
class Edge(Generic[NodeT]):
    cursor: str = strawberry.field(description="Opaque position of this item; pass as `after`.")
    node: NodeT = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list (Relay-style connection) with the size of the whole list.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]] = strawberry.field(description="The items of this page, in order.")
    page_info: PageInfo = strawberry.field(description="Whether more pages follow, and from where.")
    total_count: int = strawberry.field(description="Number of items in the whole list, over all pages.")

    @strawberry.field(description="The items of this page without their cursors.")
    def nodes(self) -> list[NodeT]:
        return [edge.node for edge in self.edges]


# Ids are INTEGER columns: larger numbers would overflow PostgreSQL's int4 instead of finding nothing.
MAX_ID = 2**31 - 1
# Canonical decimal only, as the API writes ids: ASCII digits, no sign, spaces, underscores or
# leading zeros (Python's int() would accept all of those, and other scripts' digits too).
_CANONICAL_ID = re.compile(r"[1-9][0-9]{0,9}")


def _id_number(text: str) -> int | None:
    """The id written canonically in `text`, or None when it is not one."""
    if _CANONICAL_ID.fullmatch(text) is None:
        return None
    number = int(text)
    return number if number <= MAX_ID else None


def encode_cursor(kind: str, key: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode()


def decode_cursor(kind: str, cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        prefix, _, key = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii").partition(":")
    except (binascii.Error, UnicodeError, ValueError):
        prefix, key = "", ""
    number = _id_number(key) if prefix == kind else None
    # Only cursors exactly as we issue them: base64 decoding alone would skip stray characters.
    if number is None or encode_cursor(kind, number) != cursor:
        raise BadInput("`after` is not a cursor of this list; pass an `endCursor` you received.", argument="after")
    return number


def check_first(first: int, maximum: int) -> int:
    if not 1 <= first <= maximum:
        raise BadInput(f"`first` must be between 1 and {maximum}.", argument="first")
    return first


def parse_id(value: strawberry.ID, argument: str = "id") -> int:
    """An id argument as a number: canonical decimal between 1 and 2^31 − 1, else BAD_USER_INPUT."""
    number = _id_number(str(value))
    if number is None:
        raise BadInput(f"`{argument}` is not a valid id.", argument=argument)
    return number


def to_connection(
    page: Page[RowT], *, kind: str, key: Callable[[RowT], int], convert: Callable[[RowT], NodeT]
) -> Connection[NodeT]:
    rows: Sequence[RowT] = page.rows
    edges = [Edge(cursor=encode_cursor(kind, key(row)), node=convert(row)) for row in rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=page.total,
    )
